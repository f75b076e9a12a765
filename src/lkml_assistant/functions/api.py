# SPDX-License-Identifier: GPL-2.0-or-later
"""The REST API on Lambda, behind an API Gateway REST API (proxy integration).

The resolver and the store are made on the first invocation and kept for the life of the
execution environment, so a warm call only runs the route.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from lkml_assistant.api.app import cors_config, freeze_long_lived_objects
from lkml_assistant.api.routes import install
from lkml_assistant.config import load_settings
from lkml_assistant.repositories import open_store
from lkml_assistant.services.queries import QueryService

_app: APIGatewayRestResolver | None = None
_lock = threading.Lock()


def _resolver() -> APIGatewayRestResolver:
    global _app  # noqa: PLW0603 - one resolver per cold start is the point
    with _lock:
        if _app is None:
            settings = load_settings()
            app = APIGatewayRestResolver(cors=cors_config(settings), enable_validation=True)
            install(app, QueryService(open_store(settings)))
            freeze_long_lived_objects()
            _app = app
        return _app


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _resolver().resolve(event, context)
    return response

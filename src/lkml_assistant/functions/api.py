# SPDX-License-Identifier: GPL-2.0-or-later
"""The REST API on Lambda, behind an API Gateway REST API (proxy integration).

The resolver and the store are made on the first invocation and kept for the life of the
execution environment, so a warm call only runs the route.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lkml_assistant.api.app import freeze_long_lived_objects, new_resolver
from lkml_assistant.api.routes import install
from lkml_assistant.config import load_settings
from lkml_assistant.functions import emf
from lkml_assistant.functions.observability import add_job_dimensions, logger, metrics, tracer
from lkml_assistant.repositories import open_store
from lkml_assistant.services.queries.service import QueryService

_app: APIGatewayRestResolver | None = None
_lock = threading.Lock()


def _resolver() -> APIGatewayRestResolver:
    global _app  # noqa: PLW0603 - one resolver per cold start is the point
    with _lock:
        if _app is None:
            settings = load_settings()
            app = new_resolver(settings)
            install(app, QueryService(open_store(settings)), lore_url=settings.lore_url)
            freeze_long_lived_objects()
            _app = app
        return _app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    response: dict[str, Any] = _resolver().resolve(event, context)
    add_job_dimensions("api")
    metrics.add_metric(name=emf.API_CALLS, unit=MetricUnit.Count, value=1)
    elapsed = 1000 * (time.perf_counter() - started)
    metrics.add_metric(name=emf.API_LATENCY, unit=MetricUnit.Milliseconds, value=elapsed)
    if int(response.get("statusCode", 500)) >= 500:
        metrics.add_metric(name=emf.ERRORS, unit=MetricUnit.Count, value=1)
    return response

# SPDX-License-Identifier: GPL-2.0-or-later
"""The API as an ASGI application for the one-machine mode (``serve`` runs it in uvicorn)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import CORSConfig, HttpResolverLocal

from lkml_assistant.api.routes import install
from lkml_assistant.config import Settings
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.queries import QueryService


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS headers only for the configured origins; none configured, none sent."""
    if not settings.cors_origins:
        return None
    first, *others = settings.cors_origins
    return CORSConfig(allow_origin=first, extra_origins=others or None, max_age=600)


def create_local_app(store: Store, settings: Settings) -> HttpResolverLocal:
    """An ASGI app answering from ``store``; the caller keeps the store open while it runs."""
    app = HttpResolverLocal(cors=cors_config(settings), enable_validation=True)
    install(app, QueryService(store))
    return app

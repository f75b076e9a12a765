# SPDX-License-Identifier: GPL-2.0-or-later
"""Scheduled jobs as Lambda handlers (EventBridge scheduled events).

The event's ``detail`` may narrow a run: ``{"full": true}`` for the daily full refresh,
``{"projects": [...]}``, ``{"days": N}``. Settings come from the function's environment.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.config import load_settings
from lkml_assistant.repositories import open_store
from lkml_assistant.services.fetch_discussions import FetchDiscussions
from lkml_assistant.services.fetch_patches import FetchPatches
from lkml_assistant.services.refresh_discussions import RefreshDiscussions
from lkml_assistant.wiring import lore_client, patchwork_client


class JobRequest(BaseModel):
    """What a scheduled event may ask of a job; anything else in ``detail`` is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full: bool = False
    projects: list[str] = Field(default_factory=list)
    days: int = Field(14, ge=1, le=3650)


def _request(event: dict[str, Any]) -> JobRequest:
    detail = event.get("detail") or {}
    return JobRequest.model_validate(detail)


def fetch_patches(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    with open_store(settings) as store, patchwork_client(settings) as client:
        job = FetchPatches(store, client, server_tz=settings.patchwork_tz)
        summary = job.run(request.projects or settings.projects, full=request.full)
    return summary.as_dict()


def fetch_discussions(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    with open_store(settings) as store, lore_client(settings) as lore:
        summary = FetchDiscussions(store, lore).run(projects=request.projects or settings.projects)
    return summary.as_dict()


def refresh_discussions(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    with open_store(settings) as store, lore_client(settings) as lore:
        summary = RefreshDiscussions(store, lore).run(days=request.days, full=request.full)
    return summary.as_dict()

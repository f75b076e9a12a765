# SPDX-License-Identifier: GPL-2.0-or-later
"""The scheduled jobs as Lambda handlers: thin, over :class:`lkml_assistant.services.jobs.Jobs`.

* ``fetch_patches`` (EventBridge schedule): patches, series and states; then one SQS message
  per thread to fetch (``LKML_WORK_QUEUE_URL``), and the version chains and review status
  of the window (ReviewIntel, from the store). The daily run (``{"full": true}``) also queues
  a re-read of the recent threads. A crawl that runs short of time pauses at a page and says
  ``more``; the next invocation resumes it.
* ``fetch_discussions`` (the SQS consumer) is in :mod:`.consumer`, so that these scheduled
  functions do not load the batch utilities at every cold start, nor the consumer these.
* ``refresh_discussions`` (EventBridge schedule): the threads of recent patches that received
  mail, queued like the others.

The event's ``detail`` may narrow a run: ``{"full": true}``, ``{"projects": [...]}``,
``{"days": N}``. Anything else is refused. Settings come from the function's environment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.config import Settings, load_settings
from lkml_assistant.functions.observability import logger, metrics, record_job, tracer
from lkml_assistant.repositories import open_store
from lkml_assistant.services.fetch_discussions import TaskQueue
from lkml_assistant.services.jobs import Jobs


class JobRequest(BaseModel):
    """What a scheduled event may ask of a job; anything else in ``detail`` is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full: bool = False
    projects: list[str] = Field(default_factory=list)
    days: int | None = Field(None, ge=1, le=3650)


def _request(event: dict[str, Any]) -> JobRequest:
    detail = event.get("detail") or {}
    return JobRequest.model_validate(detail)


def _queue(settings: Settings) -> TaskQueue | None:
    if not settings.work_queue_url:
        return None
    from lkml_assistant.functions.work_queue import SqsTaskQueue

    return SqsTaskQueue(settings.work_queue_url)


def _time_left(context: object) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: float(remaining()) / 1000.0


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def fetch_patches(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    now = datetime.now(UTC)
    with open_store(settings) as store:
        jobs = Jobs(settings, store, queue=_queue(settings), time_left=_time_left(context))
        summary = jobs.fetch_patches(
            now, full=request.full, days=request.days, projects=request.projects
        )
        record_job(summary, source="patchwork")
        result = summary.as_dict()
        if jobs.queue is None:
            # No work queue configured: the threads are fetched in this invocation.
            result["discussions"] = jobs.fetch_discussions(now, days=request.days).as_dict()
        # Versions and review status from what the store holds: the threads queued an hour
        # ago have been read by now.
        result["review_intel"] = jobs.review_intel(now, days=request.days).as_dict()
        if request.full:
            refresh = jobs.refresh_discussions(now, days=settings.refresh_days, full=True)
            result["refresh"] = refresh.as_dict()
    logger.info(summary.line(), extra={"summary": result})
    return result


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def refresh_discussions(
    event: dict[str, Any], context: LambdaContext | None = None
) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    with open_store(settings) as store:
        jobs = Jobs(settings, store, queue=_queue(settings))
        summary = jobs.refresh_discussions(
            datetime.now(UTC), days=request.days or settings.backfill_days, full=request.full
        )
    record_job(summary, source="lore")
    logger.info(summary.line(), extra={"summary": summary.as_dict()})
    return summary.as_dict()

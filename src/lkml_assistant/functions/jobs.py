# SPDX-License-Identifier: GPL-2.0-or-later
"""The scheduled jobs as one Lambda handler, thin, over :class:`lkml_assistant.services.jobs.Jobs`.

EventBridge Scheduler invokes ``handler`` with ``{"detail": {"recipe": NAME}}``, one schedule
per scheduled recipe of :mod:`lkml_assistant.services.recipes` (hourly, daily, weekly); the
same recipes ``serve`` runs locally. The threads a recipe's discussion steps need are sent to
the work queue (``LKML_WORK_QUEUE_URL``), one message each, for the SQS consumer
``fetch_discussions`` (in :mod:`.consumer`, so that this function does not load the batch
utilities at every cold start, nor the consumer these). With a crawl queue
(``LKML_CRAWL_QUEUE_URL``) the recipe's project steps are fanned out instead of run here: one
message per project for the ``crawl`` consumer (:mod:`.consumer`), each project then crawled
in an invocation of its own, with its own deadline. Without it every project is crawled
here; a crawl that runs short of time pauses at a page and says ``more``; the next
invocation resumes it.

A step that could not do its work at all (Patchwork down for every project) makes the
invocation fail once its summary is recorded (:meth:`JobSummary.raise_if_failed`), so that
Lambda's ``Errors``, its async retries and the on-failure destination apply; a step that did
part of it returns normally and says so in the ``PartialRuns`` metric (docs/aws.md, "Which
failure reaches which alarm").

A manual invocation may narrow a run: ``{"recipe": "backfill", "projects": [...], "days": N}``.
Anything else in ``detail`` is refused. Settings come from the function's environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lkml_assistant.config import Settings, load_settings
from lkml_assistant.functions import clock
from lkml_assistant.functions.observability import logger, metrics, record_job, tracer
from lkml_assistant.repositories import open_store
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.fetch_discussions import TaskQueue
from lkml_assistant.services.jobs import Jobs, ProjectQueue
from lkml_assistant.services.recipes import RECIPES


class JobRequest(BaseModel):
    """What a scheduled event may ask of a job; anything else in ``detail`` is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipe: str
    projects: list[str] = Field(default_factory=list)
    days: int | None = Field(None, ge=1, le=3650)

    @field_validator("recipe")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; one of {', '.join(sorted(RECIPES))}")
        return name


def _request(event: dict[str, Any]) -> JobRequest:
    detail = event.get("detail") or {}
    return JobRequest.model_validate(detail)


def thread_queue(settings: Settings) -> TaskQueue | None:
    if not settings.work_queue_url:
        return None
    from lkml_assistant.functions.work_queue import SqsTaskQueue

    return SqsTaskQueue(settings.work_queue_url)


def projects_queue(settings: Settings) -> ProjectQueue | None:
    if not settings.crawl_queue_url:
        return None
    from lkml_assistant.functions.work_queue import SqsTaskQueue

    return SqsTaskQueue(settings.crawl_queue_url)


def queued_jobs(settings: Settings, store: Store, context: object) -> Jobs:
    """The jobs as a function of the stack runs them: with the queues its environment names
    and the invocation's deadline."""
    return Jobs(
        settings,
        store,
        queue=thread_queue(settings),
        projects_queue=projects_queue(settings),
        time_left=time_left(context),
    )


def time_left(context: object) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: float(remaining()) / 1000.0


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    request = _request(event)
    settings = load_settings()
    with open_store(settings) as store:
        jobs = queued_jobs(settings, store, context)
        summary = jobs.run_recipe(
            RECIPES[request.recipe], clock.now(), days=request.days, projects=request.projects
        )
    for part in summary.parts:
        record_job(part)
    result = summary.as_dict()
    if summary.failed_parts():
        logger.error(summary.line(), extra={"summary": result})
    else:
        logger.info(summary.line(), extra={"summary": result})
    # Recorded (run record, log, metrics) first; then a step that could not do its work
    # fails the invocation: Lambda counts an error, retries, then the on-failure destination.
    summary.raise_if_failed()
    return result

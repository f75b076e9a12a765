# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQS consumers: ``fetch_discussions`` (work queue, a thread each) and ``crawl`` (crawl
queue, a project each).

``crawl``: each record is a :class:`ProjectTask`, one project's share of a recipe (its
crawl, the threads it needs queued to the work queue, its review intelligence), run by
:meth:`Jobs.run_project_task` with this invocation's deadline. A unit the deadline cuts
short sends itself again and succeeds; a project that could not be crawled (Patchwork
failing it) fails its record, which SQS retries and, after the queue's maxReceiveCount,
moves to ``crawl-dlq``, while the other projects' records go on. A record delivered twice
changes nothing the second time (upserts, the cursor's conditional save, one full crawl per
request).

``fetch_discussions``: each record is one thread to fetch from lore.

A record that fails (lore unreachable, a malformed message) is reported in
``batchItemFailures`` so only it is retried; after the queue's maxReceiveCount it lands in the
dead-letter queue while the rest of its batch is kept. If every record of a batch fails, the
invocation fails and SQS retries the batch, as Powertools' batch processor does it. Once lore
has failed a few records in a row its circuit opens: the batch's remaining records are not
fetched but reported as failures too, so SQS hands them back later rather than losing them.

When the lore budget every invocation shares (``LKML_LORE_REQUESTS_PER_MINUTE``,
``sources/pacing.py``) is spent and the invocation has no time left to wait for the next
minute, a record is deferred, not failed: its task is sent to its queue again with a delay
until the next window and the record reported done. A failure would count a receive and
bring it nearer the dead-letter queue; a deferred message starts afresh.
"""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lkml_assistant.config import load_settings
from lkml_assistant.functions import clock
from lkml_assistant.functions.jobs import queued_jobs, time_left
from lkml_assistant.functions.observability import logger, metrics, record_job, tracer
from lkml_assistant.functions.work_queue import SqsTaskQueue
from lkml_assistant.models.records import ProjectTask, ThreadTask
from lkml_assistant.repositories import open_store
from lkml_assistant.services.discussions import DiscussionSummary
from lkml_assistant.services.fetch_discussions import DEFERRED
from lkml_assistant.services.jobs import Jobs
from lkml_assistant.sources.pacing import BudgetSpent


def _thread_task(record: SQSRecord) -> ThreadTask:
    return ThreadTask.model_validate_json(record.body)


class ProjectFailedError(RuntimeError):
    """A project's unit could not do its work: its record goes back to the queue."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def crawl(
    event: dict[str, Any], context: LambdaContext | None = None
) -> PartialItemFailureResponse:
    settings = load_settings()
    processor = BatchProcessor(event_type=EventType.SQS)
    with open_store(settings) as store:
        jobs = queued_jobs(settings, store, context)

        def handle(record: SQSRecord) -> None:
            logger.append_keys(sqs_message_id=record.message_id)
            task = ProjectTask.model_validate_json(record.body)
            logger.append_keys(project=task.project, recipe=task.recipe)
            unit = jobs.run_project_task(task, clock.now())
            for part in unit.parts:
                record_job(part)
                log = logger.error if part.status == "failed" else logger.info
                log(part.line(), extra={"summary": part.as_dict()})
            if unit.failed:
                reasons = "; ".join(m for p in unit.parts for m in p.error_messages[:3])
                raise ProjectFailedError(f"{task.project}: {reasons}")

        try:
            with processor(records=event.get("Records", []), handler=handle):
                processor.process()
        finally:
            logger.remove_keys(["sqs_message_id", "project", "recipe"])
    return processor.response()


class _Deferrals:
    """Sends deferred tasks back to the queue they came from, delayed to the next window.

    Once the budget was found spent the batch's later records are deferred without asking
    again: it will not have refilled before this invocation's deadline."""

    def __init__(self) -> None:
        self.spent: BudgetSpent | None = None
        self.count = 0
        self._queues: dict[str, SqsTaskQueue] = {}

    def defer(self, record: SQSRecord, task: ThreadTask) -> None:
        assert self.spent is not None
        arn = record.event_source_arn
        queue = self._queues.get(arn) or self._queues.setdefault(arn, SqsTaskQueue.from_arn(arn))
        # One more second, so the message arrives in the next window, not at its edge.
        queue.send([task], delay_seconds=math.ceil(self.spent.retry_after) + 1)
        self.count += 1


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def fetch_discussions(
    event: dict[str, Any], context: LambdaContext | None = None
) -> PartialItemFailureResponse:
    settings = load_settings()
    processor = BatchProcessor(event_type=EventType.SQS)
    with open_store(settings) as store:
        jobs = Jobs(settings, store, time_left=time_left(context))
        summary = DiscussionSummary(job="fetch-discussions")
        deferrals = _Deferrals()
        try:
            # The run record is finished, with its requests and seconds, when this block ends.
            with jobs.thread_fetcher(summary) as run:

                def handle(record: SQSRecord) -> None:
                    logger.append_keys(sqs_message_id=record.message_id)
                    try:
                        task = _thread_task(record)
                    except ValidationError as exc:
                        run.attempted += 1
                        run.failed(f"malformed task in message {record.message_id}")
                        logger.error("malformed task: %s", exc.errors(include_url=False))
                        raise
                    if deferrals.spent is None:
                        try:
                            run.fetch(task)
                            return
                        except BudgetSpent as exc:
                            deferrals.spent = exc
                            logger.info("%s: deferring the rest of the batch", exc)
                    else:
                        summary.skip(DEFERRED)
                    deferrals.defer(record, task)

                with processor(records=event.get("Records", []), handler=handle):
                    processor.process()
        finally:
            # Also when every record failed and the batch raises for SQS to retry it all.
            record_job(summary)
            logger.remove_keys(["sqs_message_id"])
            logger.info(
                summary.line(),
                extra={
                    "summary": summary.as_dict(),
                    "failed_records": len(processor.fail_messages),
                    "deferred_records": deferrals.count,
                },
            )
        # What this batch changed shows in the chains and review statuses at once.
        intel = jobs.then_review_intel(summary, clock.now(), patch_ids=run.settled)
        if intel is not None:
            record_job(intel)
            logger.info(intel.line(), extra={"summary": intel.as_dict()})
    return processor.response()

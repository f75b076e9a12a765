# SPDX-License-Identifier: GPL-2.0-or-later
"""IngestionConstruct: the job functions, their work queue and their schedules.

* ``jobs`` runs a recipe of :mod:`lkml_assistant.services.recipes`, the one definition of
  what runs when that ``serve`` uses too: one EventBridge schedule per scheduled recipe
  (hourly, daily at 03:00 UTC, Sundays at 04:00), each invoking it asynchronously with
  ``{"detail": {"recipe": NAME}}``. It runs the recipe's list steps (the refresh, which sends
  one message per thread to the work queue) and fans the project steps out: one message
  per project to the crawl queue.
* ``crawl`` consumes the crawl queue one project per invocation (its own deadline): the
  project's crawl, its threads sent to the work queue, its review intelligence. A unit cut
  short by the deadline sends itself again; a project that fails is retried by SQS, then
  goes to the crawl DLQ after ``CRAWL_MAX_RECEIVE_COUNT`` receives.
* ``fetch_discussions`` consumes that queue in batches and reports the messages it could not
  handle (partial batch failure), which go to the work DLQ after ``MAX_RECEIVE_COUNT`` tries.
* A schedule's retry policy and DLQ cover the delivery; the jobs function's own errors (it
  raises when a step could not do its work) are retried, then go to ``jobs-failures``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from lkml_assistant.services.recipes import SCHEDULED, Recipe

from lkml_infra.config import EnvConfig
from lkml_infra.lambdas import JOB_TIMEOUT, FunctionSpec, python_function
from lkml_infra.queues import failure_queue, queue
from lkml_infra.storage import StorageConstruct

MAX_RECEIVE_COUNT = 4
WORK_BATCH_SIZE = 10
WORK_MAX_CONCURRENCY = 2
"""At most this many fetch_discussions run at once, each reading one thread at a time with
its request interval (LKML_REQUEST_INTERVAL): lore is a shared service that asks robots for
a few connections at most, not a fleet. The event source's maximum concurrency and the
function's reserved concurrency are both this: reserved below it, SQS's pollers would be
throttled and messages would burn their receives toward the DLQ."""
CRAWL_MAX_RECEIVE_COUNT = 3
"""A project's unit is tried this often (its HTTP client retries each request too) before it
goes to crawl-dlq: one project failing costs Patchwork three tries of that project alone."""
CRAWL_BATCH_SIZE = 1
"""One project per invocation: each gets the function's whole deadline, and its failure is
its own record's."""
CRAWL_MAX_CONCURRENCY = 2
"""Two projects crawled at once at most (SQS's minimum for an event source's maximum
concurrency): Patchwork sees at most two sequential clients of ours."""
JOBS_CONCURRENCY = 1
"""One crawler at a time: a schedule that fires while a run is still going is throttled,
and Lambda retries it later (async invocations are retried on throttles for up to the
maximum event age). The cursor's conditional save covers a run started by hand."""
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)

HANDLERS = {
    "jobs": "lkml_assistant.functions.jobs.handler",
    "fetch_discussions": "lkml_assistant.functions.consumer.fetch_discussions",
    "crawl": "lkml_assistant.functions.consumer.crawl",
}
"""Our job functions by construct key, with their entry points."""
CONCURRENCY = {
    "jobs": JOBS_CONCURRENCY,
    "fetch_discussions": WORK_MAX_CONCURRENCY,
    "crawl": CRAWL_MAX_CONCURRENCY,
}
QUEUE_SENDERS = ("jobs", "crawl")
"""The functions that send tasks: thread tasks to the work queue, project tasks (a unit's
continuation, for crawl) to the crawl queue. Both get both URLs."""
ASYNC = ("jobs",)
"""The functions invoked asynchronously (by a schedule): only they have an on-failure
destination. The consumer is invoked synchronously by SQS; its failures go to work-dlq."""


@dataclass(frozen=True)
class Delivery:
    """How hard EventBridge Scheduler tries to deliver one recipe's invocation."""

    retry_attempts: int
    max_event_age: Duration


# A late hourly run is worth little once the next one is due; the daily and weekly ones are.
DELIVERY = {
    "hourly": Delivery(retry_attempts=3, max_event_age=Duration.hours(1)),
    "daily": Delivery(retry_attempts=5, max_event_age=Duration.hours(6)),
    "weekly": Delivery(retry_attempts=5, max_event_age=Duration.hours(12)),
}


def eventbridge_cron(recipe: Recipe) -> str:
    """The recipe's five-field cron as EventBridge Scheduler's ``cron(...)``, in UTC.

    EventBridge wants a year field and ``?`` in one of day-of-month and day-of-week. A slot
    another recipe covers is left out: at 03:00 the daily run does the hourly work, and the
    two must not crawl at once (the local scheduler runs only the covering one).
    """
    assert recipe.cron is not None, f"{recipe.name} is not scheduled"
    minute, hour, day, month, weekday = recipe.cron.split()
    covering = [r for r in SCHEDULED if recipe.name in r.covers]
    if covering:
        if hour != "*" or day != "*" or weekday != "*":
            raise ValueError(f"{recipe.name}: only an hourly recipe can be covered")
        taken = {int(r.cron.split()[1]) for r in covering if r.cron}
        hour = _hour_ranges(sorted(set(range(24)) - taken))
    if weekday == "*":
        weekday = "?"
    else:
        day = "?"
    return f"cron({minute} {hour} {day} {month} {weekday} *)"


def _hour_ranges(hours: list[int]) -> str:
    """``[0, 1, 2, 4, 5]`` -> ``0-2,4-5``."""
    ranges: list[list[int]] = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour - 1:
            ranges[-1][1] = hour
        else:
            ranges.append([hour, hour])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


class IngestionConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        code: lambda_.Code,
        storage: StorageConstruct,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.work_dlq = queue(self, "WorkDeadLetters", config=config, name="work-dlq")
        self.work_queue = queue(
            self,
            "WorkQueue",
            config=config,
            name="work",
            visibility_timeout=Duration.seconds(6 * JOB_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.work_dlq, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        self.crawl_dlq = queue(self, "CrawlDeadLetters", config=config, name="crawl-dlq")
        self.crawl_queue = queue(
            self,
            "CrawlQueue",
            config=config,
            name="crawl",
            visibility_timeout=Duration.seconds(6 * JOB_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.crawl_dlq, max_receive_count=CRAWL_MAX_RECEIVE_COUNT
            ),
        )
        self.schedule_dlq = failure_queue(
            self, "ScheduleDeadLetters", config=config, name="schedule-dlq"
        )

        self.functions: dict[str, lambda_.Function] = {}
        self.failure_queues: dict[str, sqs.Queue] = {}
        for key, handler in HANDLERS.items():
            name = key.replace("_", "-")
            function_environment = dict(environment)
            if key in QUEUE_SENDERS:
                function_environment["LKML_WORK_QUEUE_URL"] = self.work_queue.queue_url
                function_environment["LKML_CRAWL_QUEUE_URL"] = self.crawl_queue.queue_url
            construct_name = "".join(part.capitalize() for part in key.split("_"))
            function = python_function(
                self,
                construct_name,
                config=config,
                code=code,
                spec=FunctionSpec(
                    name=name,
                    handler=handler,
                    timeout=JOB_TIMEOUT,
                    memory_mb=config.memory_mb,
                    environment=function_environment,
                    reserved_concurrency=CONCURRENCY[key],
                ),
            )
            if key in ASYNC:
                failures = failure_queue(
                    self, f"{construct_name}Failures", config=config, name=f"{name}-failures"
                )
                function.configure_async_invoke(
                    on_failure=destinations.SqsDestination(failures),
                    retry_attempts=ASYNC_RETRY_ATTEMPTS,
                    max_event_age=ASYNC_MAX_EVENT_AGE,
                )
                self.failure_queues[key] = failures
            storage.grant(function, write=True)
            self.functions[key] = function

        for key in QUEUE_SENDERS:
            self.work_queue.grant_send_messages(self.functions[key])
            self.crawl_queue.grant_send_messages(self.functions[key])
        # The consumer sends back, delayed, the tasks the shared lore budget left no time for
        # (functions/consumer.py): deferred, not failed toward the DLQ.
        self.work_queue.grant_send_messages(self.functions["fetch_discussions"])
        self.functions["crawl"].add_event_source(
            event_sources.SqsEventSource(
                self.crawl_queue,
                batch_size=CRAWL_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=CRAWL_MAX_CONCURRENCY,
            )
        )
        self.functions["fetch_discussions"].add_event_source(
            event_sources.SqsEventSource(
                self.work_queue,
                batch_size=WORK_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=WORK_MAX_CONCURRENCY,
            )
        )

        stack = Stack.of(self)
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            role_name=config.resource_name("scheduler"),
            # Only this account's schedules of this environment may assume it (confused deputy).
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler",
                            resource="schedule",
                            resource_name=f"default/{config.resource_name('*')}",
                        )
                    },
                },
            ),
            description="EventBridge Scheduler: invoke the job functions, send to the DLQ",
        )
        self.schedules: dict[str, scheduler.Schedule] = {}
        for recipe in SCHEDULED:
            delivery = DELIVERY[recipe.name]
            self.schedules[recipe.name] = scheduler.Schedule(
                self,
                f"{recipe.name.capitalize()}Schedule",
                schedule_name=config.resource_name(recipe.name),
                description=recipe.description.capitalize(),
                schedule=scheduler.ScheduleExpression.expression(eventbridge_cron(recipe)),
                target=targets.LambdaInvoke(
                    self.functions["jobs"],
                    input=scheduler.ScheduleTargetInput.from_object(
                        {"detail": {"recipe": recipe.name}}
                    ),
                    retry_attempts=delivery.retry_attempts,
                    max_event_age=delivery.max_event_age,
                    dead_letter_queue=self.schedule_dlq,
                    role=self.scheduler_role,
                ),
            )

    def scheduled_functions(self) -> list[lambda_.Function]:
        """The functions a schedule invokes, each once."""
        return [self.functions["jobs"]]

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        """Every queue where failed work lands, by a short name (one depth alarm each)."""
        queues = {
            "work-dlq": self.work_dlq,
            "crawl-dlq": self.crawl_dlq,
            "schedule-dlq": self.schedule_dlq,
        }
        for handler, failures in self.failure_queues.items():
            queues[f"{handler.replace('_', '-')}-failures"] = failures
        return queues

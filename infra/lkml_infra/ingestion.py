# SPDX-License-Identifier: GPL-2.0-or-later
"""IngestionConstruct: the three job functions, their work queue and their schedules.

* ``fetch_patches`` (hourly, and a full refresh daily at 03:00 UTC) sends one message per thread
  to fetch to the work queue; ``fetch_discussions`` consumes it in batches and reports the
  messages it could not handle (partial batch failure), which go to the work DLQ after
  ``MAX_RECEIVE_COUNT`` tries.
* ``refresh_discussions`` re-reads the recent discussions on Sundays.
* EventBridge Scheduler invokes the functions asynchronously with ``{"detail": {...}}``, the
  shape ``lkml_assistant.functions.jobs`` reads. A schedule's retry policy and DLQ cover the
  delivery; a function's own errors go to its on-failure destination queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lkml_infra.config import EnvConfig
from lkml_infra.lambdas import JOB_TIMEOUT, FunctionSpec, python_function
from lkml_infra.queues import failure_queue, queue
from lkml_infra.storage import StorageConstruct

MAX_RECEIVE_COUNT = 4
WORK_BATCH_SIZE = 10
WORK_MAX_CONCURRENCY = 2
"""At most this many fetch_discussions run at once: lore is a shared, polite-use service."""
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    expression: str
    """EventBridge Scheduler cron, UTC."""
    function: str
    detail: dict[str, Any]
    retry_attempts: int
    max_event_age: Duration
    description: str


SCHEDULES = (
    # Every hour but 03:00, when the full refresh runs instead (as the local scheduler does).
    ScheduleSpec(
        "hourly",
        "cron(0 0-2,4-23 * * ? *)",
        "fetch_patches",
        {},
        retry_attempts=3,
        max_event_age=Duration.hours(1),
        description="New and changed patches of the followed projects",
    ),
    ScheduleSpec(
        "daily-full",
        "cron(0 3 * * ? *)",
        "fetch_patches",
        {"full": True},
        retry_attempts=5,
        max_event_age=Duration.hours(6),
        description="Full refresh of the followed projects' patches",
    ),
    ScheduleSpec(
        "weekly-refresh",
        "cron(0 4 ? * SUN *)",
        "refresh_discussions",
        {"days": 14},
        retry_attempts=5,
        max_event_age=Duration.hours(12),
        description="Re-read the discussions of the last 14 days",
    ),
)


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
        self.schedule_dlq = failure_queue(
            self, "ScheduleDeadLetters", config=config, name="schedule-dlq"
        )

        self.functions: dict[str, lambda_.Function] = {}
        self.failure_queues: dict[str, sqs.Queue] = {}
        for handler in ("fetch_patches", "fetch_discussions", "refresh_discussions"):
            name = handler.replace("_", "-")
            function_environment = dict(environment)
            if handler == "fetch_patches":
                function_environment["LKML_WORK_QUEUE_URL"] = self.work_queue.queue_url
            construct_name = "".join(part.capitalize() for part in handler.split("_"))
            function = python_function(
                self,
                construct_name,
                config=config,
                code=code,
                spec=FunctionSpec(
                    name=name,
                    handler=(
                        "lkml_assistant.functions.consumer.fetch_discussions"
                        if handler == "fetch_discussions"
                        else f"lkml_assistant.functions.jobs.{handler}"
                    ),
                    timeout=JOB_TIMEOUT,
                    memory_mb=config.memory_mb,
                    environment=function_environment,
                ),
            )
            failures = failure_queue(
                self, f"{construct_name}Failures", config=config, name=f"{name}-failures"
            )
            function.configure_async_invoke(
                on_failure=destinations.SqsDestination(failures),
                retry_attempts=ASYNC_RETRY_ATTEMPTS,
                max_event_age=ASYNC_MAX_EVENT_AGE,
            )
            for table in storage.tables.values():
                table.grant_read_write_data(function)
            self.functions[handler] = function
            self.failure_queues[handler] = failures

        self.work_queue.grant_send_messages(self.functions["fetch_patches"])
        self.functions["fetch_discussions"].add_event_source(
            event_sources.SqsEventSource(
                self.work_queue,
                batch_size=WORK_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=WORK_MAX_CONCURRENCY,
            )
        )

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            role_name=config.resource_name("scheduler"),
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the job functions, send to the DLQ",
        )
        self.schedules: dict[str, scheduler.Schedule] = {}
        for spec in SCHEDULES:
            self.schedules[spec.name] = scheduler.Schedule(
                self,
                "".join(part.capitalize() for part in spec.name.split("-")) + "Schedule",
                schedule_name=config.resource_name(spec.name),
                description=spec.description,
                schedule=scheduler.ScheduleExpression.expression(spec.expression),
                target=targets.LambdaInvoke(
                    self.functions[spec.function],
                    input=scheduler.ScheduleTargetInput.from_object({"detail": spec.detail}),
                    retry_attempts=spec.retry_attempts,
                    max_event_age=spec.max_event_age,
                    dead_letter_queue=self.schedule_dlq,
                    role=self.scheduler_role,
                ),
            )

    def scheduled_functions(self) -> list[lambda_.Function]:
        """The functions a schedule invokes, each once."""
        names = dict.fromkeys(spec.function for spec in SCHEDULES)
        return [self.functions[name] for name in names]

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        """Every queue where failed work lands, by a short name (one depth alarm each)."""
        queues = {"work-dlq": self.work_dlq, "schedule-dlq": self.schedule_dlq}
        for handler, failures in self.failure_queues.items():
            queues[f"{handler.replace('_', '-')}-failures"] = failures
        return queues

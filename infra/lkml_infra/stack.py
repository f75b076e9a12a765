# SPDX-License-Identifier: GPL-2.0-or-later
"""LkmlStack: storage, ingestion, API and monitoring of one environment, in one stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Stack, Tags, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lkml_infra.api import ApiConstruct
from lkml_infra.config import EnvConfig
from lkml_infra.ingestion import IngestionConstruct
from lkml_infra.lambdas import BUNDLE_PYTHON_VERSION, RUNTIME, base_environment
from lkml_infra.monitoring import MonitoringConstruct, Watched
from lkml_infra.storage import StorageConstruct


class LkmlStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        bundle_dir: Path,
        projects: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("project", "lkml-assistant")
        Tags.of(self).add("environment", config.name)

        code = lambda_.Code.from_asset(str(bundle_dir))
        self.storage = StorageConstruct(self, "Storage", config=config)
        environment = base_environment(config, projects=projects)
        environment["LKML_PATCHES_TABLE"] = self.storage.patches.table_name
        environment["LKML_DISCUSSIONS_TABLE"] = self.storage.discussions.table_name
        environment["LKML_LORE_REQUESTS_PER_MINUTE"] = str(config.lore_requests_per_minute)

        self.ingestion = IngestionConstruct(
            self,
            "Ingestion",
            config=config,
            code=code,
            storage=self.storage,
            environment=environment,
        )
        self.api = ApiConstruct(
            self, "Api", config=config, code=code, storage=self.storage, environment=environment
        )
        functions = {**self.ingestion.functions, "api": self.api.function}
        self.monitoring = MonitoringConstruct(
            self,
            "Monitoring",
            config=config,
            watched=Watched(
                functions=functions,
                failure_queues=self.ingestion.dead_letter_queues,
                work_queue=self.ingestion.work_queue,
                crawl_queue=self.ingestion.crawl_queue,
                stage=self.api.rest_api.deployment_stage,
                tables=self.storage.tables,
            ),
        )
        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="REST API base URL")
        CfnOutput(self, "PatchesTable", value=self.storage.patches.table_name)
        CfnOutput(self, "DiscussionsTable", value=self.storage.discussions.table_name)
        CfnOutput(self, "WorkQueueUrl", value=self.ingestion.work_queue.queue_url)
        CfnOutput(self, "CrawlQueueUrl", value=self.ingestion.crawl_queue.queue_url)
        CfnOutput(self, "AlarmTopic", value=self.monitoring.topic.topic_arn)
        self._acknowledge(functions)

    def _logical_id(self, construct: Construct) -> str:
        child = construct.node.default_child
        assert isinstance(child, CfnElement)
        return str(self.resolve(self.get_logical_id(child)))

    def _acknowledge(self, functions: dict[str, lambda_.Function]) -> None:
        """cdk-nag findings on what CDK itself generates, each with its reason."""
        index_reason = (
            "dynamodb:Query only (StorageConstruct.grant): the store queries the table's "
            "global secondary indexes (by project, submitter, series, state, Message-ID...), "
            "whose ARNs are the table ARN + /index/<name>; this covers this table's indexes."
        )
        for function in functions.values():
            role = function.role
            assert isinstance(role, iam.Role)
            acknowledgments = [
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    reason="AWSLambdaBasicExecutionRole only lets the function write its own "
                    "CloudWatch Logs; the function's data access is granted separately.",
                ),
                *(
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(table)}.Arn>/index/*]",
                        reason=index_reason,
                    )
                    for table in self.storage.tables.values()
                ),
            ]
            if self.config.tracing:
                acknowledgments.append(
                    Acknowledgment(
                        id="AwsSolutions-IAM5[Resource::*]",
                        reason="Added by Lambda active tracing: xray:PutTraceSegments and "
                        "xray:PutTelemetryRecords support no resource-level permissions.",
                    )
                )
            Validations.of(role).acknowledge(*acknowledgments)
            Validations.of(function).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-L1",
                    reason=f"Pinned to {RUNTIME.name}: the bundle's binary wheels "
                    f"(pydantic-core...) are built and import-tested for CPython "
                    f"{BUNDLE_PYTHON_VERSION}; a runtime change goes with a bundle change.",
                )
            )
        scheduler_role = self.ingestion.scheduler_role
        Validations.of(scheduler_role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(function)}.Arn>:*]",
                    reason="Granted by the scheduler's Lambda target (function.grant_invoke): "
                    "the function and its versions/aliases, nothing else.",
                )
                for function in self.ingestion.scheduled_functions()
            )
        )

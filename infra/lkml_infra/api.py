# SPDX-License-Identifier: GPL-2.0-or-later
"""ApiConstruct: the read-only REST API and pages, one Lambda function behind an API Gateway proxy.

The Powertools resolver in ``lkml_assistant.functions.api`` routes every path (the JSON API
under ``/api/``, the pages for people at the root, ``/health`` at both), so API Gateway only
proxies: the root and ``{proxy+}`` both reach the function. The stage throttles, logs every
request (JSON access log) and traces per environment; answers over 1 kB are gzip-compressed
for clients that accept it (a patch page with its thread is tens of kB of text).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Size, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from lkml_infra.config import EnvConfig
from lkml_infra.lambdas import API_TIMEOUT, FunctionSpec, python_function
from lkml_infra.storage import StorageConstruct

STAGE_NAME = "v1"
# Smaller answers (a JSON detail, /health) gain nothing from gzip but the CPU it costs.
MIN_COMPRESSION = Size.kibibytes(1)


class ApiConstruct(Construct):
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
        self.function = python_function(
            self,
            "Function",
            config=config,
            code=code,
            spec=FunctionSpec(
                name="api",
                handler="lkml_assistant.functions.api.handler",
                timeout=API_TIMEOUT,
                memory_mb=config.api_memory_mb,
                environment=environment,
            ),
            snap_start=config.api_snap_start,
        )
        # SnapStart applies to published versions: API Gateway calls the one ``live`` names,
        # and each deployment publishes a new version (a new snapshot) when the code changes.
        target: lambda_.IFunction = self.function
        if config.api_snap_start:
            target = lambda_.Alias(
                self, "Live", alias_name="live", version=self.function.current_version
            )
        for table in storage.tables.values():
            table.grant_read_data(self.function)

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{config.resource_name('api')}/access",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        self.rest_api = apigateway.LambdaRestApi(
            self,
            "RestApi",
            handler=target,
            proxy=True,
            rest_api_name=config.resource_name("api"),
            description=f"LKML Assistant read-only REST API (/api/) and pages ({config.name})",
            min_compression_size=MIN_COMPRESSION,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                tracing_enabled=config.tracing,
                metrics_enabled=True,
            ),
        )
        self._acknowledge()

    def _acknowledge(self) -> None:
        public = (
            "A public, read-only API over public mailing-list data (Patchwork and lore are "
            "themselves public without sign-in): there is nobody to authenticate; stage "
            "throttling bounds the cost."
        )
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=public),
            Acknowledgment(id="AwsSolutions-COG4", reason=public),
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="One proxy method: the Lambda resolver validates every path and query "
                "parameter (Powertools enable_validation) and answers 400, as JSON under /api/ "
                "and as a page elsewhere; an API Gateway request validator on a greedy proxy "
                "has no model to check.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF: GET-only public data, stage throttling (rate and burst) is the "
                "abuse control; a WebACL would cost more than the service it protects.",
            ),
        )

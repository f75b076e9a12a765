# SPDX-License-Identifier: GPL-2.0-or-later
"""ApiConstruct: the read-only REST API and pages, one Lambda function behind an API Gateway proxy.

The Powertools resolver in ``lkml_assistant.functions.api`` routes every path (the JSON API
under ``/api/``, the pages for people at the root, ``/health`` at both), so API Gateway only
proxies: the root and ``{proxy+}`` both reach the function. The stage throttles, logs every
request (JSON access log) and traces per environment; answers over 1 kB are gzip-compressed
for clients that accept it (a patch page with its thread is tens of kB of text).

Stage throttling bounds all clients together; a WAFv2 web ACL on the stage bounds each one:
a rate-based rule blocks an address that sent more than ``api_waf_rate_limit`` requests in
5 minutes, so one client's loop cannot take the stage's whole rate from everyone else.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Size, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
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
                reserved_concurrency=config.api_reserved_concurrency,
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
        storage.grant(self.function, write=False)

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
            # The account's CloudWatch role is lkml_infra.account's, made once, not per stack.
            cloud_watch_role=False,
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
        self.web_acl = self._web_acl(config) if config.api_waf_rate_limit else None
        self._acknowledge(waf=self.web_acl is not None)

    def _web_acl(self, config: EnvConfig) -> wafv2.CfnWebACL:
        """A REGIONAL web ACL on the stage: allow, except an address over the rate limit."""
        assert config.api_waf_rate_limit is not None

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=config.resource_name(name),
                sampled_requests_enabled=True,
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=config.resource_name("api"),
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("api-acl"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=config.api_waf_rate_limit,
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=visibility("api-rate-per-ip"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl

    def _acknowledge(self, *, waf: bool) -> None:
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
        )
        if not waf:
            Validations.of(self.rest_api).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG3",
                    reason="No WAF in dev: stage throttling (rate and burst) and the tables' "
                    "throughput caps bound a loop's cost; a web ACL ($5 + $1 a rule a month) "
                    "would cost more than the dev stack (staging and prod have one).",
                ),
            )

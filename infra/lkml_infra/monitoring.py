# SPDX-License-Identifier: GPL-2.0-or-later
"""MonitoringConstruct: the alarms, the topic that carries them to people, one dashboard.

* The topic is encrypted with a key of our own whose policy lets CloudWatch use it (the
  AWS-managed ``alias/aws/sns`` key cannot be shared with CloudWatch, so alarms on such a
  topic are never delivered), and its policy allows CloudWatch to publish, for this account's
  alarms of this environment only, next to the SSL-only Deny. Subscriptions come from the
  configuration (``EnvConfig.alarm_email``, ``alarm_webhook_url``).
* What each failure trips is in docs/aws.md ("Which failure reaches which alarm"); the
  application's own metrics are named in :mod:`lkml_assistant.functions.emf`, the module the
  handlers emit them with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from lkml_assistant.functions import emf

from lkml_infra.config import EnvConfig
from lkml_infra.lambdas import service_name

PERIOD = Duration.minutes(5)
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
"""What CloudFormation (the deploy role) and an operator do with the alarm key."""
NEAR_TIMEOUT = 0.9
"""A duration past this share of the function's timeout is close to being cut off (a crawl
pauses 45 s before its deadline, so a job that gets here did not)."""
WORK_MAX_AGE = Duration.hours(3)
"""Work older than this is stuck: two consumers drain a day's threads well within it."""
CRAWL_MAX_AGE = Duration.hours(2)
"""A project's unit older than this is stuck: the hourly fan-out is drained well within the
hour, so the next hour's tasks pile up behind it."""
API_5XX_PER_PERIOD = 5
API_P99_LATENCY = Duration.seconds(5)
LOGGED_ERRORS_PER_PERIOD = 5
LOGGED_ERRORS = "LoggedErrors"
"""Lines logged at ERROR by any function (a metric filter on their JSON logs)."""
DYNAMODB_OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
)
"""The operations the store makes (``storage.READ_ACTIONS`` + ``WRITE_ACTIONS``)."""
JOBS = tuple(job for job in emf.SOURCES if job != "api")


@dataclass(frozen=True)
class Watched:
    """What the alarms watch, as the other constructs made it."""

    functions: Mapping[str, lambda_.Function]
    failure_queues: Mapping[str, sqs.Queue]
    work_queue: sqs.Queue
    crawl_queue: sqs.Queue
    stage: apigateway.Stage
    tables: Mapping[str, dynamodb.Table]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def construct_id_to_name(construct_id: str) -> str:
    """``FetchPatchesErrors`` -> ``fetch-patches-errors`` (alarm names read like the rest)."""
    out: list[str] = []
    for char in construct_id:
        if char.isupper() and out:
            out.append("-")
        out.append(char.lower())
    return "".join(out)


class MonitoringConstruct(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvConfig, watched: Watched
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.watched = watched
        self.topic = self._topic()
        self._action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._function_alarms()
        self._queue_alarms()
        self._api_alarms()
        self._table_alarms()
        self._application_alarms()
        self.dashboard = self._dashboard()

    # -- the topic ---------------------------------------------------------------------------

    def _topic(self) -> sns.Topic:
        config = self.config
        stack = Stack.of(self)
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        account_root = iam.AccountRootPrincipal()
        self.key = kms.Key(
            self,
            "AlarmKey",
            # In place of CDK's default ("kms:*" for the account): the account's IAM may
            # manage the key and use it for SNS, by these actions and no others.
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="AccountManagesTheKey",
                        principals=[account_root],
                        actions=list(KEY_ADMIN_ACTIONS),
                        resources=["*"],  # in a key policy, "*" is this key
                    ),
                    iam.PolicyStatement(
                        sid="AccountUsesTheKeyThroughSns",
                        principals=[account_root],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}
                        },
                    ),
                ]
            ),
            alias=f"alias/{config.resource_name('alarms')}",
            description=f"LKML Assistant alarm topic ({config.name}): SNS and CloudWatch use it",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        # CloudWatch encrypts what it publishes with the topic's key: it must be allowed to.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseTheKey",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.resource_name("alarms"),
            display_name=f"LKML Assistant alarms ({config.name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl's topic policy holds only a Deny: without this nothing may publish.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=config.resource_name("*"),
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,  # ...:alarm:NAME
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        if config.alarm_webhook_url:
            topic.add_subscription(
                subscriptions.UrlSubscription(
                    config.alarm_webhook_url, protocol=sns.SubscriptionProtocol.HTTPS
                )
            )
        if not (config.alarm_email or config.alarm_webhook_url):
            Annotations.of(self).add_warning_v2(
                "lkml:alarms-unheard",
                "The alarm topic has no subscription: pass -c alarm_email=ADDRESS (the "
                "deploy workflow passes the GitHub environment's ALARM_EMAIL).",
            )
        return topic

    # -- alarms ------------------------------------------------------------------------------

    def alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        created = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=self.config.resource_name(construct_id_to_name(construct_id)),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(self._action)
        self.alarms[construct_id] = created
        return created

    def _function_alarms(self) -> None:
        for name, function in self.watched.functions.items():
            camel = _camel(name)
            self.alarm(
                f"{camel}Errors",
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"The {name} function failed (it raised: a job that could not do its work, "
                "a consumer batch that failed whole, an API crash). Read its log.",
            )
            self.alarm(
                f"{camel}Throttles",
                function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"The {name} function hit its reserved concurrency (for jobs: a run overlapped "
                "the one before; Lambda retries it).",
            )
            timeout = function.timeout
            assert timeout is not None
            self.alarm(
                f"{camel}NearTimeout",
                function.metric_duration(period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
                f"A {name} invocation ran past {NEAR_TIMEOUT:.0%} of its "
                f"{timeout.to_seconds()} s timeout: it is about to be cut off.",
                threshold=NEAR_TIMEOUT * timeout.to_milliseconds(),
            )

    def _queue_alarms(self) -> None:
        for name, queue in self.watched.failure_queues.items():
            self.alarm(
                f"{_camel(name)}Depth",
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"Failed work is waiting in {name}: read it, fix, redrive.",
            )
        self.alarm(
            "WorkOldestMessage",
            self.watched.work_queue.metric_approximate_age_of_oldest_message(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            f"The oldest thread task has waited {WORK_MAX_AGE.to_hours()} h: the consumer is "
            "not draining the work queue (lore down, the consumer failing or throttled).",
            threshold=WORK_MAX_AGE.to_seconds(),
        )
        self.alarm(
            "CrawlOldestMessage",
            self.watched.crawl_queue.metric_approximate_age_of_oldest_message(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            f"The oldest project task has waited {CRAWL_MAX_AGE.to_hours()} h: the crawl "
            "consumer is not draining the crawl queue (Patchwork slow or down, the consumer "
            "failing or throttled).",
            threshold=CRAWL_MAX_AGE.to_seconds(),
        )

    def _api_alarms(self) -> None:
        stage = self.watched.stage
        self.alarm(
            "Api5xx",
            stage.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            f"The REST API answered {API_5XX_PER_PERIOD} or more 5XX in five minutes.",
            threshold=API_5XX_PER_PERIOD,
        )
        self.alarm(
            "ApiLatency",
            stage.metric_latency(period=PERIOD, statistic=cloudwatch.Stats.percentile(99)),
            f"The REST API's p99 latency stayed above {API_P99_LATENCY.to_seconds()} s for "
            "15 minutes.",
            threshold=API_P99_LATENCY.to_milliseconds(),
            evaluation_periods=3,
        )

    def _table_alarms(self) -> None:
        for name, table in self.watched.tables.items():
            self.alarm(
                f"{_camel(name)}TableThrottles",
                _table_throttles(name, table),
                f"Requests to the {name} table were throttled (capacity, or a hot partition).",
            )

    def _application_alarms(self) -> None:
        self.alarm(
            "PartialRuns",
            self._job_sum(emf.PARTIAL_RUNS, emf.SCHEDULED_FETCHES),
            "A scheduled fetch did only part of its work (a project or a list failed, the "
            "others were read): the run returned normally; its run record says which.",
        )
        self.alarm(
            "FailedRuns",
            self._job_sum(emf.FAILED_RUNS, JOBS),
            "A job could not do its work at all (its upstream down): the function raised.",
        )
        for name, function in self.watched.functions.items():
            logs.MetricFilter(
                self,
                f"{_camel(name)}LoggedErrors",
                log_group=function.log_group,
                metric_namespace=emf.NAMESPACE,
                metric_name=LOGGED_ERRORS,
                filter_pattern=logs.FilterPattern.string_value("$.level", "=", "ERROR"),
                metric_value="1",
                default_value=0,
            )
        self.alarm(
            "ApplicationErrors",
            cloudwatch.Metric(
                namespace=emf.NAMESPACE,
                metric_name=LOGGED_ERRORS,
                period=PERIOD,
                statistic=cloudwatch.Stats.SUM,
            ),
            f"The functions logged {LOGGED_ERRORS_PER_PERIOD} or more errors in five minutes.",
            threshold=LOGGED_ERRORS_PER_PERIOD,
        )

    def job_metric(
        self, name: str, job: str, statistic: str = cloudwatch.Stats.SUM
    ) -> cloudwatch.Metric:
        """One job's EMF metric, with the dimensions the handlers give it."""
        return cloudwatch.Metric(
            namespace=emf.NAMESPACE,
            metric_name=name,
            dimensions_map={
                emf.SERVICE_DIMENSION: service_name(self.config),
                emf.JOB_DIMENSION: job,
                emf.SOURCE_DIMENSION: emf.source_of(job),
            },
            period=PERIOD,
            statistic=statistic,
            label=job,
        )

    def _job_sum(self, name: str, jobs: Sequence[str]) -> cloudwatch.MathExpression:
        prefix = name[0].lower() + name[1:]
        using = {f"{prefix}{n}": self.job_metric(name, job) for n, job in enumerate(jobs)}
        return cloudwatch.MathExpression(
            expression=f"SUM([{', '.join(using)}])", using_metrics=using, label=name, period=PERIOD
        )

    # -- the dashboard -----------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        watched = self.watched
        functions = list(watched.functions.values())
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self.config.resource_name("dashboard"),
            default_interval=Duration.days(1),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=24, height=4
            )
        )
        dashboard.add_widgets(
            _graph(
                "Invocations",
                [f.metric_invocations(period=PERIOD, label=f.node.id) for f in functions],
            ),
            _graph("Errors", [f.metric_errors(period=PERIOD, label=f.node.id) for f in functions]),
            _graph(
                "Duration max (timeout 300 s / 29 s)",
                [
                    f.metric_duration(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=f.node.id
                    )
                    for f in functions
                ],
            ),
            _graph(
                "Throttles", [f.metric_throttles(period=PERIOD, label=f.node.id) for f in functions]
            ),
        )
        queues = {
            "work": watched.work_queue,
            "crawl": watched.crawl_queue,
            **watched.failure_queues,
        }
        dashboard.add_widgets(
            _graph(
                "Queue depth",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, q in queues.items()
                ],
                width=12,
            ),
            _graph(
                "Oldest task (s)",
                [
                    q.metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, q in (("work", watched.work_queue), ("crawl", watched.crawl_queue))
                ],
                width=12,
            ),
        )
        stage = watched.stage
        dashboard.add_widgets(
            _graph(
                "API 5XX / 4XX",
                [
                    stage.metric_server_error(
                        period=PERIOD, statistic=cloudwatch.Stats.SUM, label="5XX"
                    ),
                    stage.metric_client_error(
                        period=PERIOD, statistic=cloudwatch.Stats.SUM, label="4XX"
                    ),
                ],
            ),
            _graph(
                "API latency p99 (ms)",
                [
                    stage.metric_latency(
                        period=PERIOD, statistic=cloudwatch.Stats.percentile(99), label="p99"
                    )
                ],
            ),
            _graph(
                "DynamoDB throttled requests",
                [_table_throttles(name, table) for name, table in watched.tables.items()],
            ),
            _graph(
                "Runs failed / partial, errors logged",
                [
                    self._job_sum(emf.FAILED_RUNS, JOBS),
                    self._job_sum(emf.PARTIAL_RUNS, emf.SCHEDULED_FETCHES),
                    cloudwatch.Metric(
                        namespace=emf.NAMESPACE,
                        metric_name=LOGGED_ERRORS,
                        period=PERIOD,
                        statistic=cloudwatch.Stats.SUM,
                        label=LOGGED_ERRORS,
                    ),
                ],
            ),
        )
        dashboard.add_widgets(
            *(
                _graph(
                    f"{emf.NAMESPACE} {name}",
                    [
                        self.job_metric(
                            name,
                            job,
                            cloudwatch.Stats.AVERAGE
                            if name == emf.API_LATENCY
                            else cloudwatch.Stats.SUM,
                        )
                        for job in emf.SOURCES
                    ],
                    width=6,
                )
                for name in (emf.API_CALLS, emf.API_LATENCY, emf.RECORDS_WRITTEN, emf.ERRORS)
            )
        )
        return dashboard


def _graph(
    title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 6
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width)


def _table_throttles(name: str, table: dynamodb.Table) -> cloudwatch.MathExpression:
    """``ThrottledRequests`` of every operation the store makes on ``table``, summed: a
    request counts when any of its table or index reads/writes was throttled."""
    using = {
        f"{name}{operation.lower()}": table.metric(
            "ThrottledRequests",
            dimensions_map={"TableName": table.table_name, "Operation": operation},
            period=PERIOD,
            statistic=cloudwatch.Stats.SUM,
        )
        for operation in DYNAMODB_OPERATIONS
    }
    return cloudwatch.MathExpression(
        expression=f"SUM([{', '.join(using)}])", using_metrics=using, label=name, period=PERIOD
    )

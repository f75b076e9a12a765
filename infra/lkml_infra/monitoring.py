# SPDX-License-Identifier: GPL-2.0-or-later
"""MonitoringConstruct: alarms to an SNS topic, and one dashboard.

An alarm fires when any failure queue holds a message, and on any function error or throttle.
The dashboard shows the functions, the queues and the application's own metrics
(``LkmlAssistant`` namespace, written by Powertools Metrics with the ``service`` dimension).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lkml_infra.config import EnvConfig
from lkml_infra.lambdas import METRICS_NAMESPACE

PERIOD = Duration.minutes(5)
CUSTOM_METRICS = ("ApiCalls", "ApiLatency", "RecordsWritten", "Errors")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


class MonitoringConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        functions: dict[str, lambda_.Function],
        dead_letter_queues: dict[str, sqs.Queue],
        work_queue: sqs.Queue,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.resource_name("alarms"),
            display_name=f"LKML Assistant alarms ({config.name})",
            master_key=kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(construct_id: str, metric: cloudwatch.IMetric, description: str) -> None:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=config.resource_name(construct_id_to_name(construct_id)),
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        for name, dlq in dead_letter_queues.items():
            alarm(
                f"{_camel(name)}Depth",
                dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"Failed work is waiting in {dlq.queue_name}: read it, fix, redrive.",
            )
        for name, function in functions.items():
            alarm(
                f"{_camel(name)}Errors",
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"The {name} function failed.",
            )
            alarm(
                f"{_camel(name)}Throttles",
                function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                f"The {name} function was throttled.",
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.resource_name("dashboard"),
            default_interval=Duration.days(1),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=title,
                    left=[getter(function) for function in functions.values()],
                    width=8,
                )
                for title, getter in (
                    ("Invocations", _invocations),
                    ("Errors", _errors),
                    ("Duration p95", _duration),
                )
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, q in {"work": work_queue, **dead_letter_queues}.items()
                ],
                width=24,
            )
        )
        service = f"lkml-{config.name}"
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{METRICS_NAMESPACE} {name}",
                    left=[
                        cloudwatch.MathExpression(
                            expression=(
                                f'SEARCH(\'Namespace="{METRICS_NAMESPACE}" '
                                f'MetricName="{name}" service="{service}"\', '
                                f"'{'Average' if name == 'ApiLatency' else 'Sum'}', 300)"
                            ),
                            label=name,
                            period=PERIOD,
                        )
                    ],
                    width=6,
                )
                for name in CUSTOM_METRICS
            )
        )


def construct_id_to_name(construct_id: str) -> str:
    """``FetchPatchesErrors`` -> ``fetch-patches-errors`` (alarm names read like the rest)."""
    out: list[str] = []
    for char in construct_id:
        if char.isupper() and out:
            out.append("-")
        out.append(char.lower())
    return "".join(out)


def _invocations(function: lambda_.Function) -> cloudwatch.IMetric:
    return function.metric_invocations(period=PERIOD, label=function.node.id)


def _errors(function: lambda_.Function) -> cloudwatch.IMetric:
    return function.metric_errors(period=PERIOD, label=function.node.id)


def _duration(function: lambda_.Function) -> cloudwatch.IMetric:
    return function.metric_duration(period=PERIOD, statistic="p95", label=function.node.id)

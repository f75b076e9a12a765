# SPDX-License-Identifier: GPL-2.0-or-later
"""What the synthesized CloudFormation of each environment creates (tables, functions, queues,
schedules, API, alarms), read from the template the way CloudFormation would receive it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from lkml_assistant.repositories.dynamodb.schema import (
    PARTITION_KEY,
    SORT_KEY,
    TABLES,
    TTL_ATTRIBUTE,
)

from lkml_infra.app import build_app
from lkml_infra.config import ENVIRONMENTS
from tests.conftest import Synth

JOBS = ("jobs", "fetch-discussions", "crawl")
FUNCTIONS = (*JOBS, "api")
MEMORY = {"dev": 512, "staging": 1024, "prod": 1024}
LOG_LEVEL = {"dev": "DEBUG", "staging": "INFO", "prod": "INFO"}


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """Our functions by short name (``fetch-patches``), from their ``lkml-<env>-`` names."""
    found = {}
    for resource in synth.resources("AWS::Lambda::Function").values():
        properties = resource["Properties"]
        name = properties["FunctionName"].removeprefix(f"lkml-{synth.env}-")
        found[name] = properties
    return found


def _logical_id_of(synth: Synth, kind: str, name_property: str, name: str) -> str:
    matches = [
        logical_id
        for logical_id, resource in synth.resources(kind).items()
        if resource["Properties"].get(name_property) == name
    ]
    assert len(matches) == 1, f"{kind} {name}: {matches}"
    return matches[0]


def _function_id(synth: Synth, short: str) -> str:
    return _logical_id_of(
        synth, "AWS::Lambda::Function", "FunctionName", f"lkml-{synth.env}-{short}"
    )


def _queue_id(synth: Synth, short: str) -> str:
    return _logical_id_of(synth, "AWS::SQS::Queue", "QueueName", f"lkml-{synth.env}-{short}")


def _table(synth: Synth, logical_name: str) -> tuple[str, dict[str, Any]]:
    table_id = _logical_id_of(
        synth, "AWS::DynamoDB::Table", "TableName", f"lkml-{synth.env}-{logical_name}"
    )
    return table_id, synth.raw["Resources"][table_id]


# -- storage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", TABLES, ids=lambda schema: schema.logical_name)
def test_tables_have_the_schema_keys_and_indexes(synth: Synth, schema: Any) -> None:
    _, table = _table(synth, schema.logical_name)
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        ({"AttributeName": name, "AttributeType": "S"} for name in schema.attributes()),
        key=lambda a: a["AttributeName"],
    )
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.name for index in schema.indexes}
    for index in schema.indexes:
        expected = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        if index.sort_key:
            expected.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
        assert indexes[index.name]["KeySchema"] == expected
        projection = {"ProjectionType": index.projection}
        if index.include:
            projection["NonKeyAttributes"] = list(index.include)
        assert indexes[index.name]["Projection"] == projection


def test_tables_expire_items_keep_backups_and_encrypt(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", len(TABLES))
    synth.template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_dev_and_staging_tables_are_on_demand_and_disposable(
    stacks: dict[str, Synth], env: str
) -> None:
    synth = stacks[env]
    for table in synth.resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert "ProvisionedThroughput" not in table["Properties"]
        assert not table["Properties"].get("DeletionProtectionEnabled", False)
        assert table["DeletionPolicy"] == "Delete"
    synth.template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


# The throughput caps per environment (docs/aws.md, "Prod capacity"): prod's read cap is
# above its measured peak (stage rate 50 req/s x <= 50 units a page + the daily run's
# ~300 units/s + the consumers' ~40), dev and staging far below prod's.
CAPS = {"dev": (200, 100), "staging": (400, 200), "prod": (3000, 500)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_table_and_index_has_its_environment_s_throughput_caps(
    stacks: dict[str, Synth], env: str
) -> None:
    reads, writes = CAPS[env]
    synth = stacks[env]
    for schema in TABLES:
        _table_id, table = _table(synth, schema.logical_name)
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        caps = {"MaxReadRequestUnits": reads, "MaxWriteRequestUnits": writes}
        assert properties["OnDemandThroughput"] == caps
        indexes = properties.get("GlobalSecondaryIndexes", [])
        assert len(indexes) == len(schema.indexes)
        for index in indexes:
            assert index["OnDemandThroughput"] == caps


def test_prod_tables_are_on_demand_capped_and_kept(stacks: dict[str, Synth]) -> None:
    synth = stacks["prod"]
    for schema in TABLES:
        _table_id, table = _table(synth, schema.logical_name)
        properties = table["Properties"]
        assert "ProvisionedThroughput" not in properties
        assert properties["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
    # Nothing to scale on demand: no autoscaling that would follow a peak minutes late.
    synth.template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


# -- functions ---------------------------------------------------------------------------------


def test_every_function_runs_a_recent_python_with_its_handler(synth: Synth) -> None:
    functions = _functions(synth)
    assert set(functions) == set(FUNCTIONS)
    handlers = {name: properties["Handler"] for name, properties in functions.items()}
    assert handlers == {
        "jobs": "lkml_assistant.functions.jobs.handler",
        "fetch-discussions": "lkml_assistant.functions.consumer.fetch_discussions",
        "crawl": "lkml_assistant.functions.consumer.crawl",
        "api": "lkml_assistant.functions.api.handler",
    }
    for properties in functions.values():
        major, minor = re.fullmatch(r"python(\d+)\.(\d+)", properties["Runtime"]).groups()  # type: ignore[union-attr]
        assert (int(major), int(minor)) >= (3, 12)
        assert properties["Architectures"] == ["x86_64"]


def test_memory_timeout_and_tracing_follow_the_environment(synth: Synth) -> None:
    functions = _functions(synth)
    for name in JOBS:
        assert functions[name]["MemorySize"] == MEMORY[synth.env]
        assert functions[name]["Timeout"] == 300
    assert functions["api"]["Timeout"] < 30
    for properties in functions.values():
        tracing = properties.get("TracingConfig", {}).get("Mode")
        assert tracing == ("Active" if synth.env == "prod" else None)


def test_environment_variables_point_at_this_environment(synth: Synth) -> None:
    functions = _functions(synth)
    patches_id, _ = _table(synth, "patches")
    discussions_id, _ = _table(synth, "discussions")
    for name, properties in functions.items():
        variables = properties["Environment"]["Variables"]
        assert variables["LKML_STORE"] == "dynamodb"
        assert variables["LKML_PATCHES_TABLE"] == {"Ref": patches_id}
        assert variables["LKML_DISCUSSIONS_TABLE"] == {"Ref": discussions_id}
        assert variables["LKML_LOG_LEVEL"] == LOG_LEVEL[synth.env]
        assert variables["POWERTOOLS_LOG_LEVEL"] == LOG_LEVEL[synth.env]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "LkmlAssistant"
        assert variables["POWERTOOLS_SERVICE_NAME"] == f"lkml-{synth.env}"
        assert variables["POWERTOOLS_TRACE_DISABLED"] == (
            "false" if synth.env == "prod" else "true"
        )
        assert variables["LKML_PROJECTS"]
        assert int(variables["LKML_RETENTION_DAYS"]) >= 0
        if name in ("jobs", "crawl"):
            assert variables["LKML_WORK_QUEUE_URL"] == {"Ref": _queue_id(synth, "work")}
            assert variables["LKML_CRAWL_QUEUE_URL"] == {"Ref": _queue_id(synth, "crawl")}
        else:
            assert "LKML_WORK_QUEUE_URL" not in variables
            assert "LKML_CRAWL_QUEUE_URL" not in variables


def test_log_groups_have_a_retention(synth: Synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup").values()
    names = {group["Properties"]["LogGroupName"] for group in groups}
    assert {f"/aws/lambda/lkml-{synth.env}-{name}" for name in FUNCTIONS} <= names
    for group in groups:
        assert group["Properties"]["RetentionInDays"] >= 7


def test_the_scheduled_function_sends_its_async_failures_to_a_queue(synth: Synth) -> None:
    """Only jobs is invoked asynchronously (by the schedules); the consumer is invoked by
    SQS, synchronously, so an on-failure destination of its own could never receive anything:
    its failures go to work-dlq. The retries are those the failure drill plays
    (tests/integration/test_aws_pipeline.py, ASYNC_RETRY_ATTEMPTS = 2)."""
    synth.template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": _function_id(synth, "jobs")},
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_queue_id(synth, "jobs-failures"), "Arn"]}
                }
            },
            "MaximumRetryAttempts": 2,
        },
    )
    queues = {q["Properties"]["QueueName"] for q in synth.resources("AWS::SQS::Queue").values()}
    assert f"lkml-{synth.env}-fetch-discussions-failures" not in queues


def test_one_crawler_a_bounded_consumer_pool_and_an_api_of_its_own(synth: Synth) -> None:
    functions = _functions(synth)
    reserved = {name: p.get("ReservedConcurrentExecutions") for name, p in functions.items()}
    api = {"dev": 5, "staging": 10, "prod": 20}[synth.env]
    assert reserved == {"jobs": 1, "fetch-discussions": 2, "crawl": 2, "api": api}
    mappings = synth.resources("AWS::Lambda::EventSourceMapping").values()
    # SQS's pollers never outnumber what the consumer may run (else throttled receives).
    assert [m["Properties"]["ScalingConfig"]["MaximumConcurrency"] for m in mappings] == [2, 2]


# -- queues and schedules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "consumer", "receives"), [("work", "fetch-discussions", 4), ("crawl", "crawl", 3)]
)
def test_each_queue_outlasts_its_consumer_and_has_a_dlq(
    synth: Synth, queue: str, consumer: str, receives: int
) -> None:
    functions = _functions(synth)
    work = synth.raw["Resources"][_queue_id(synth, queue)]["Properties"]
    assert work["VisibilityTimeout"] >= 6 * functions[consumer]["Timeout"]
    redrive = work["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {
        "Fn::GetAtt": [_queue_id(synth, f"{queue}-dlq"), "Arn"]
    }
    assert redrive["maxReceiveCount"] == receives


def test_crawl_consumes_the_crawl_queue_one_project_at_a_time(synth: Synth) -> None:
    """One project per invocation: each has the whole deadline, and fails on its own."""
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [_queue_id(synth, "crawl"), "Arn"]},
            "FunctionName": {"Ref": _function_id(synth, "crawl")},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_fetch_discussions_consumes_the_work_queue_reporting_item_failures(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [_queue_id(synth, "work"), "Arn"]},
            "FunctionName": {"Ref": _function_id(synth, "fetch-discussions")},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


@pytest.mark.parametrize(
    ("queue", "senders_expected"),
    [
        # The consumer sends back, delayed, what the shared lore budget deferred.
        ("work", ("jobs", "crawl", "fetch-discussions")),
        ("crawl", ("jobs", "crawl")),
    ],
)
def test_only_the_scheduled_jobs_the_crawl_and_the_deferring_consumer_may_send_tasks(
    synth: Synth, queue: str, senders_expected: tuple[str, ...]
) -> None:
    work_arn = {"Fn::GetAtt": [_queue_id(synth, queue), "Arn"]}
    senders: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if "sqs:SendMessage" in actions and statement["Resource"] == work_arn:
                senders.update(role["Ref"] for role in policy["Properties"]["Roles"])
    roles = {
        synth.raw["Resources"][_function_id(synth, name)]["Properties"]["Role"]["Fn::GetAtt"][0]
        for name in senders_expected
    }
    assert senders == roles


def test_queues_are_encrypted_and_ssl_only(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 6
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    secured: set[str] = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                secured.update(queue["Ref"] for queue in policy["Properties"]["Queues"])
    assert secured == set(queues)


@pytest.mark.parametrize(
    ("name", "expression"),
    [
        # Not at 03:00, when the daily recipe does the hourly work (as the local scheduler).
        ("hourly", "cron(0 0-2,4-23 * * ? *)"),
        ("daily", "cron(0 3 * * ? *)"),
        ("weekly", "cron(0 4 ? * SUN *)"),
    ],
)
def test_schedules_run_the_recipes_with_retries_and_a_dlq(
    synth: Synth, name: str, expression: str
) -> None:
    schedule_id = _logical_id_of(
        synth, "AWS::Scheduler::Schedule", "Name", f"lkml-{synth.env}-{name}"
    )
    properties = synth.raw["Resources"][schedule_id]["Properties"]
    assert properties["ScheduleExpression"] == expression
    assert properties["ScheduleExpressionTimezone"] in ("UTC", "Etc/UTC")
    assert properties["State"] == "ENABLED"
    target = properties["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [_function_id(synth, "jobs"), "Arn"]}
    assert json.loads(target["Input"]) == {"detail": {"recipe": name}}
    assert 1 <= target["RetryPolicy"]["MaximumRetryAttempts"] <= 10
    assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [_queue_id(synth, "schedule-dlq"), "Arn"]
    }


def test_only_this_environments_schedules_may_assume_the_scheduler_role(synth: Synth) -> None:
    role_id = _logical_id_of(synth, "AWS::IAM::Role", "RoleName", f"lkml-{synth.env}-scheduler")
    role = synth.raw["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    condition = statement["Condition"]
    assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    source = json.dumps(condition["ArnLike"]["aws:SourceArn"])
    assert f":schedule/default/lkml-{synth.env}-*" in source


def test_schedule_inputs_are_requests_the_jobs_accept(synth: Synth) -> None:
    """The handlers refuse unknown keys in ``detail``: every schedule must pass their model."""
    from lkml_assistant.functions.jobs import JobRequest

    for schedule in synth.resources("AWS::Scheduler::Schedule").values():
        event = json.loads(schedule["Properties"]["Target"]["Input"])
        JobRequest.model_validate(event["detail"])


def test_every_scheduled_recipe_has_its_schedule(synth: Synth) -> None:
    """What runs when is the recipes' to say: the stack adds and drops none."""
    from lkml_assistant.services.recipes import SCHEDULED

    names = {
        schedule["Properties"]["Name"].removeprefix(f"lkml-{synth.env}-")
        for schedule in synth.resources("AWS::Scheduler::Schedule").values()
    }
    assert names == {recipe.name for recipe in SCHEDULED}


# -- API ---------------------------------------------------------------------------------------


def _api_target(synth: Synth) -> dict[str, Any]:
    """What API Gateway invokes: prod's ``live`` alias (SnapStart), else the function."""
    aliases = synth.resources("AWS::Lambda::Alias")
    if synth.env != "prod":
        assert aliases == {}
        return {"Fn::GetAtt": [_function_id(synth, "api"), "Arn"]}
    ((alias_id, alias),) = aliases.items()
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": _function_id(synth, "api")}
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert synth.raw["Resources"][version_id]["Type"] == "AWS::Lambda::Version"
    return {"Ref": alias_id}


def test_only_prod_serves_the_api_from_a_snapstart_snapshot(synth: Synth) -> None:
    functions = _functions(synth)
    snap = {name: props.get("SnapStart") for name, props in functions.items()}
    expected = {"ApplyOn": "PublishedVersions"} if synth.env == "prod" else None
    assert snap == {**dict.fromkeys(JOBS), "api": expected}
    target = _api_target(synth)
    # API Gateway may invoke exactly what it is integrated with.
    permissions = synth.resources("AWS::Lambda::Permission").values()
    invoked = [
        p["Properties"]["FunctionName"]
        for p in permissions
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert invoked and all(name == target for name in invoked)


def test_api_proxies_to_the_function_with_throttling_and_access_logs(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"Name": f"lkml-{synth.env}-api", "MinimumCompressionSize": 1024},
    )
    # The pages at the root and the JSON under /api/: the root and every path reach the function.
    methods = synth.resources("AWS::ApiGateway::Method").values()
    proxied = [m for m in methods if m["Properties"]["Integration"]["Type"] == "AWS_PROXY"]
    assert len(proxied) == 2 and {m["Properties"]["HttpMethod"] for m in proxied} == {"ANY"}
    paths = {
        r["Properties"]["PathPart"] for r in synth.resources("AWS::ApiGateway::Resource").values()
    }
    assert paths == {"{proxy+}"}
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "ANY",
            "Integration": {
                "Type": "AWS_PROXY",
                "Uri": Match.object_like(
                    {"Fn::Join": Match.array_with([Match.array_with([_api_target(synth)])])}
                ),
            },
        },
    )
    stage = next(iter(synth.resources("AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage["TracingEnabled"] is (synth.env == "prod")
    settings = stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    assert stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][1] == "Arn"
    assert "$context.requestId" in stage["AccessLogSetting"]["Format"]


def _role_actions(synth: Synth, function: str) -> dict[str, set[str]]:
    """The DynamoDB actions a function's role may take, by resource (JSON of the ARN)."""
    role = synth.raw["Resources"][_function_id(synth, function)]["Properties"]["Role"]
    granted: dict[str, set[str]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role["Fn::GetAtt"][0]} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                granted.setdefault(json.dumps(resource), set()).update(
                    a for a in actions if a.startswith("dynamodb:")
                )
    return {resource: actions for resource, actions in granted.items() if actions}


READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


@pytest.mark.parametrize(
    ("function", "expected"), [("api", READS), *((job, READS | WRITES) for job in JOBS)]
)
def test_each_function_may_make_exactly_the_store_s_calls(
    synth: Synth, function: str, expected: set[str]
) -> None:
    """What repositories/dynamodb calls, nothing more: no Scan, no Streams, no
    ConditionCheckItem, no DescribeTable; only Query reaches the indexes."""
    granted = _role_actions(synth, function)
    for logical_name in ("patches", "discussions"):
        table_id, _ = _table(synth, logical_name)
        table = json.dumps({"Fn::GetAtt": [table_id, "Arn"]})
        assert granted.pop(table) == expected
        (index,) = [r for r in granted if table_id in r and "/index/*" in r]
        assert granted.pop(index) == {"dynamodb:Query"}
    assert granted == {}


# -- monitoring --------------------------------------------------------------------------------


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in synth.resources("AWS::CloudWatch::Alarm").values()]


def _alarm(synth: Synth, short: str) -> dict[str, Any]:
    (found,) = [a for a in _alarms(synth) if a["AlarmName"] == f"lkml-{synth.env}-{short}"]
    return found


def _math_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics a metric-math alarm sums."""
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


def _statements(document: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s.get("Principal") == {"Service": principal}]


def test_alarms_reach_a_topic_cloudwatch_may_publish_to_and_encrypt_for(synth: Synth) -> None:
    (topic_id,) = synth.resources("AWS::SNS::Topic")
    topic = synth.raw["Resources"][topic_id]["Properties"]
    # A key of our own, not alias/aws/sns (whose policy no one can extend to CloudWatch).
    (key_id,) = synth.resources("AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = synth.raw["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    (use,) = _statements(key["KeyPolicy"], "cloudwatch.amazonaws.com")
    assert use["Effect"] == "Allow"
    assert set(use["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()
    document = policy["Properties"]["PolicyDocument"]
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    (publish,) = _statements(document, "cloudwatch.amazonaws.com")
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in source and f":alarm:lkml-{synth.env}-*" in source
    # The SSL-only Deny is still there.
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in document["Statement"]
    )
    for alarm in _alarms(synth):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        # Every alarm's name is one the topic policy's SourceArn pattern admits.
        assert alarm["AlarmName"].startswith(f"lkml-{synth.env}-")


def test_without_a_subscription_the_synthesis_warns(stacks: dict[str, Synth]) -> None:
    for synth in stacks.values():
        synth.template.resource_count_is("AWS::SNS::Subscription", 0)
        assert any("alarms-unheard" in warning for warning in synth.warnings)


def test_subscriptions_come_from_the_configuration(fake_bundle: Path, tmp_path: Path) -> None:
    context = {
        "env": "staging",
        "alarm_email": "lkml-oncall@example.org",
        "alarm_webhook_url": "https://chat.example.org/hooks/lkml",
    }
    _app, stack = build_app({}, fake_bundle, context=context, outdir=str(tmp_path), nag=False)
    template = Template.from_stack(stack)
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    template.resource_count_is("AWS::SNS::Subscription", 2)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "lkml-oncall@example.org", "TopicArn": {"Ref": topic_id}},
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "https", "Endpoint": "https://chat.example.org/hooks/lkml"},
    )
    with pytest.raises(ValueError, match="https://"):
        build_app({}, fake_bundle, context={**context, "alarm_webhook_url": "http://x"}, nag=False)


def test_every_failure_queue_has_a_depth_alarm(synth: Synth) -> None:
    watched = {
        json.dumps(dimension["Value"])
        for alarm in _alarms(synth)
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Threshold"] == 1
        and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        for dimension in alarm["Dimensions"]
    }
    expected = {
        json.dumps({"Fn::GetAtt": [_queue_id(synth, queue), "QueueName"]})
        for queue in ("work-dlq", "crawl-dlq", "schedule-dlq", "jobs-failures")
    }
    assert watched == expected


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(synth: Synth, metric: str) -> None:
    watched = {
        dimension["Value"]["Ref"]
        for alarm in _alarms(synth)
        if alarm.get("MetricName") == metric and alarm["Namespace"] == "AWS/Lambda"
        for dimension in alarm["Dimensions"]
    }
    assert watched == {_function_id(synth, name) for name in FUNCTIONS}


def test_every_function_has_an_alarm_near_its_timeout(synth: Synth) -> None:
    functions = _functions(synth)
    for name in FUNCTIONS:
        alarm = _alarm(synth, f"{name}-near-timeout")
        assert alarm["MetricName"] == "Duration" and alarm["Statistic"] == "Maximum"
        assert alarm["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": _function_id(synth, name)}}
        ]
        assert alarm["Threshold"] == 0.9 * functions[name]["Timeout"] * 1000


@pytest.mark.parametrize("queue", ["work", "crawl"])
def test_the_oldest_task_of_each_queue_has_an_age_alarm(synth: Synth, queue: str) -> None:
    alarm = _alarm(synth, f"{queue}-oldest-message")
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [_queue_id(synth, queue), "QueueName"]}
    assert 3600 <= alarm["Threshold"] <= 6 * 3600


def test_the_api_has_5xx_and_latency_alarms(synth: Synth) -> None:
    (stage_id,) = synth.resources("AWS::ApiGateway::Stage")
    for short, metric in (("api5xx", "5XXError"), ("api-latency", "Latency")):
        alarm = _alarm(synth, short)
        assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["MetricName"] == metric
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"ApiName": f"lkml-{synth.env}-api", "Stage": {"Ref": stage_id}}
    assert _alarm(synth, "api-latency")["ExtendedStatistic"] == "p99"


def test_each_table_has_a_throttle_alarm_over_the_store_s_operations(synth: Synth) -> None:
    for logical_name in ("patches", "discussions"):
        table_id, _ = _table(synth, logical_name)
        alarm = _alarm(synth, f"{logical_name}-table-throttles")
        metrics = _math_metrics(alarm)
        assert {m["MetricName"] for m in metrics} == {"ThrottledRequests"}
        operations = set()
        for metric in metrics:
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dimensions["TableName"] == {"Ref": table_id}
            operations.add(dimensions["Operation"])
        assert {f"dynamodb:{op}" for op in operations} == READS | WRITES


MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]
"""(namespace, metric name, sorted dimensions)"""


def _emf_alarm_metrics(synth: Synth, short: str) -> set[MetricKey]:
    return {
        (
            metric["Namespace"],
            metric["MetricName"],
            tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"])),
        )
        for metric in _math_metrics(_alarm(synth, short))
    }


def _emitted(synth: Synth, metric: str, job: str) -> MetricKey:
    """The metric as the handlers emit it (lkml_assistant.functions.emf): the failure drill
    (tests/integration/test_aws_pipeline.py) checks their EMF documents carry exactly this."""
    from lkml_assistant.functions import emf

    dimensions = {
        emf.SERVICE_DIMENSION: f"lkml-{synth.env}",
        emf.JOB_DIMENSION: job,
        emf.SOURCE_DIMENSION: emf.source_of(job),
    }
    return emf.NAMESPACE, metric, tuple(sorted(dimensions.items()))


def test_partial_and_failed_runs_alarm_on_the_metrics_the_handlers_emit(synth: Synth) -> None:
    partial = _emf_alarm_metrics(synth, "partial-runs")
    assert partial == {
        _emitted(synth, "PartialRuns", job) for job in ("fetch-patches", "refresh-discussions")
    }
    failed = _emf_alarm_metrics(synth, "failed-runs")
    jobs = ("fetch-patches", "fetch-discussions", "refresh-discussions", "review-intel")
    assert failed == {_emitted(synth, "FailedRuns", job) for job in jobs}
    for short in ("partial-runs", "failed-runs"):
        alarm = _alarm(synth, short)
        (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
        assert expression["Expression"].startswith("SUM([") and alarm["Threshold"] == 1


def test_application_errors_count_every_function_s_error_lines(synth: Synth) -> None:
    filters = synth.resources("AWS::Logs::MetricFilter").values()
    groups = set()
    for metric_filter in filters:
        properties = metric_filter["Properties"]
        assert properties["FilterPattern"] == '{ $.level = "ERROR" }'
        (transformation,) = properties["MetricTransformations"]
        assert transformation["MetricNamespace"] == "LkmlAssistant"
        assert transformation["MetricName"] == "LoggedErrors"
        groups.add(properties["LogGroupName"]["Ref"])
    log_groups = synth.resources("AWS::Logs::LogGroup")
    function_groups = {
        group_id
        for group_id, group in log_groups.items()
        if group["Properties"]["LogGroupName"].startswith("/aws/lambda/")
    }
    assert groups == function_groups and len(groups) == len(FUNCTIONS)
    alarm = _alarm(synth, "application-errors")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("LkmlAssistant", "LoggedErrors")


def test_the_failure_drill_s_failures_each_reach_an_alarm(synth: Synth) -> None:
    """What tests/integration/test_aws_pipeline.py makes fail, and the alarm each trips."""
    jobs_id = _function_id(synth, "jobs")
    # Patchwork down: the hourly run raises (Lambda Errors), then lands in jobs-failures.
    errors = _alarm(synth, "jobs-errors")
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": jobs_id}}]
    # ... a poisoned message in work-dlq, a project Patchwork keeps failing in crawl-dlq
    # (tests/integration/test_aws_fanout.py)
    for queue in ("jobs-failures", "work-dlq", "crawl-dlq"):
        depth = _alarm(synth, f"{queue}-depth")
        assert depth["Dimensions"][0]["Value"] == {
            "Fn::GetAtt": [_queue_id(synth, queue), "QueueName"]
        }
    # Its FailedRuns; a partial crawl's PartialRuns.
    assert _emitted(synth, "FailedRuns", "fetch-patches") in _emf_alarm_metrics(
        synth, "failed-runs"
    )
    assert _emitted(synth, "PartialRuns", "fetch-patches") in _emf_alarm_metrics(
        synth, "partial-runs"
    )


def test_dashboard_shows_the_alarms_and_what_they_watch(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == f"lkml-{synth.env}-dashboard"
    for metric in (
        "Invocations",
        "Errors",
        "Duration",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "5XXError",
        "Latency",
        "ThrottledRequests",
        "ApiCalls",
        "ApiLatency",
        "RecordsWritten",
        "PartialRuns",
        "FailedRuns",
        "LoggedErrors",
    ):
        assert metric in body, metric
    assert "LkmlAssistant" in body
    # The alarm status widget lists every alarm.
    for alarm_id in synth.resources("AWS::CloudWatch::Alarm"):
        assert alarm_id in body, alarm_id


# -- the account's API Gateway role ------------------------------------------------------------


def test_no_environment_makes_the_account_s_api_gateway_role(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGateway::Account", 0)
    for role in synth.resources("AWS::IAM::Role").values():
        principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        assert "apigateway.amazonaws.com" not in principals


def test_the_account_role_is_made_once_and_retained(synth: Synth) -> None:
    account = synth.account_raw["Resources"]
    (setting_id,) = [k for k, v in account.items() if v["Type"] == "AWS::ApiGateway::Account"]
    (role_id,) = [k for k, v in account.items() if v["Type"] == "AWS::IAM::Role"]
    assert account[setting_id]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": [role_id, "Arn"]
    }
    for resource_id in (setting_id, role_id):
        assert account[resource_id]["DeletionPolicy"] == "Retain"
    trust = account[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # Not named after an environment: the same stack whichever environment deploys it.
    assert synth.account_stack_name == "lkml-apigateway-account"
    assert synth.account_stack_name in synth.dependencies


# -- across the stack --------------------------------------------------------------------------


def test_no_statement_allows_a_wildcard_action(synth: Synth) -> None:
    """Anywhere in the template: IAM policies, key policies, topic and queue policies. (The
    SSL-only Denies are on "sqs:*" / every action: a Deny may be broad.)"""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("Effect") == "Allow" and "Action" in node:
                actions = node["Action"] if isinstance(node["Action"], list) else [node["Action"]]
                found.extend(f"{path}: {a}" for a in actions if "*" in a)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(synth.raw["Resources"], "")
    walk(synth.account_raw["Resources"], "account")
    assert found == []


def test_no_policy_grants_everything(synth: Synth) -> None:
    """Only X-Ray (no resource-level permissions) may use Resource "*"; no Action "*" at all."""
    documents = [
        policy["Properties"]["PolicyDocument"]
        for policy in synth.resources("AWS::IAM::Policy").values()
    ] + [
        document["PolicyDocument"]
        for role in synth.resources("AWS::IAM::Role").values()
        for document in role["Properties"].get("Policies", [])
    ]
    assert documents
    for document in documents:
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert all(action != "*" and not action.endswith(":*") for action in actions)
            if statement["Resource"] == "*":
                assert all(action.startswith("xray:") for action in actions), statement
                assert synth.env == "prod"


def test_named_resources_carry_the_environment(synth: Synth) -> None:
    name_properties = {
        "AWS::DynamoDB::Table": "TableName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::Scheduler::Schedule": "Name",
        "AWS::SNS::Topic": "TopicName",
        "AWS::CloudWatch::Alarm": "AlarmName",
        "AWS::ApiGateway::RestApi": "Name",
    }
    for kind, name_property in name_properties.items():
        resources = synth.resources(kind)
        assert resources, kind
        for resource in resources.values():
            assert resource["Properties"][name_property].startswith(f"lkml-{synth.env}-")
    others = {env for env in ENVIRONMENTS if env != synth.env}
    text = json.dumps(synth.raw)
    assert not any(f"lkml-{other}-" in text for other in others)


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synth: Synth) -> None:
    assert synth.nag_findings == []


# -- API rate limits ---------------------------------------------------------------------------

THROTTLE = {"dev": (10, 20), "staging": (20, 40), "prod": (50, 100)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_stage_throttles_all_clients_together(stacks: dict[str, Synth], env: str) -> None:
    rate, burst = THROTTLE[env]
    stages = list(stacks[env].resources("AWS::ApiGateway::Stage").values())
    assert len(stages) == 1
    settings = stages[0]["Properties"]["MethodSettings"]
    assert {(m["ThrottlingRateLimit"], m["ThrottlingBurstLimit"]) for m in settings} == {
        (rate, burst)
    }


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_waf_rate_rule_limits_each_client_of_the_stage(
    stacks: dict[str, Synth], env: str
) -> None:
    synth = stacks[env]
    acls = list(synth.resources("AWS::WAFv2::WebACL").values())
    assert len(acls) == 1
    acl = acls[0]["Properties"]
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    (rule,) = acl["Rules"]
    assert rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": 1000, "EvaluationWindowSec": 300}
    assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    stage_id = next(iter(synth.resources("AWS::ApiGateway::Stage")))
    arn = json.dumps(association["Properties"]["ResourceArn"])
    assert stage_id in arn or "/stages/v1" in arn
    acl_id = next(iter(synth.resources("AWS::WAFv2::WebACL")))
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_dev_has_no_web_acl(stacks: dict[str, Synth]) -> None:
    stacks["dev"].template.resource_count_is("AWS::WAFv2::WebACL", 0)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_functions_share_a_lore_budget_per_minute(stacks: dict[str, Synth], env: str) -> None:
    for function in _functions(stacks[env]).values():
        variables = function["Environment"]["Variables"]
        assert variables["LKML_LORE_REQUESTS_PER_MINUTE"] == "60"

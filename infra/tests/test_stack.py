# SPDX-License-Identifier: GPL-2.0-or-later
"""What the synthesized CloudFormation of each environment creates (tables, functions, queues,
schedules, API, alarms), read from the template the way CloudFormation would receive it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match
from lkml_assistant.repositories.dynamodb.schema import (
    PARTITION_KEY,
    SORT_KEY,
    TABLES,
    TTL_ATTRIBUTE,
)

from lkml_infra.config import ENVIRONMENTS
from tests.conftest import Synth

JOBS = ("jobs", "fetch-discussions")
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
        assert indexes[index.name]["Projection"] == {"ProjectionType": "ALL"}


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


def test_prod_tables_are_provisioned_autoscaled_and_kept(stacks: dict[str, Synth]) -> None:
    synth = stacks["prod"]
    expected_targets = set()
    for schema in TABLES:
        table_id, table = _table(synth, schema.logical_name)
        properties = table["Properties"]
        assert properties.get("BillingMode", "PROVISIONED") == "PROVISIONED"
        assert properties["ProvisionedThroughput"]["ReadCapacityUnits"] >= 1
        for index in properties["GlobalSecondaryIndexes"]:
            assert index["ProvisionedThroughput"]["WriteCapacityUnits"] >= 1
        assert properties["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        for dimension in ("Read", "Write"):
            expected_targets.add((table_id, "table/{}", dimension))
            for index in schema.indexes:
                expected_targets.add((table_id, f"table/{{}}/index/{index.name}", dimension))

    found = set()
    for target in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values():
        properties = target["Properties"]
        assert properties["MaxCapacity"] > properties["MinCapacity"]
        resource = json.dumps(properties["ResourceId"])
        table_id = next(
            t for t, _ in (_table(synth, s.logical_name) for s in TABLES) if t in resource
        )
        suffix = re.search(r'"(/index/[^"]+)"', resource)
        path = "table/{}" + (suffix.group(1) if suffix else "")
        dimension = "Read" if "ReadCapacityUnits" in properties["ScalableDimension"] else "Write"
        found.add((table_id, path, dimension))
    assert found == expected_targets

    policies = synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    assert len(policies) == len(expected_targets)
    for policy in policies:
        configuration = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert 60 <= configuration["TargetValue"] <= 80


# -- functions ---------------------------------------------------------------------------------


def test_every_function_runs_a_recent_python_with_its_handler(synth: Synth) -> None:
    functions = _functions(synth)
    assert set(functions) == set(FUNCTIONS)
    handlers = {name: properties["Handler"] for name, properties in functions.items()}
    assert handlers == {
        "jobs": "lkml_assistant.functions.jobs.handler",
        "fetch-discussions": "lkml_assistant.functions.consumer.fetch_discussions",
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
        if name == "jobs":
            assert variables["LKML_WORK_QUEUE_URL"] == {"Ref": _queue_id(synth, "work")}
        else:
            assert "LKML_WORK_QUEUE_URL" not in variables


def test_log_groups_have_a_retention(synth: Synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup").values()
    names = {group["Properties"]["LogGroupName"] for group in groups}
    assert {f"/aws/lambda/lkml-{synth.env}-{name}" for name in FUNCTIONS} <= names
    for group in groups:
        assert group["Properties"]["RetentionInDays"] >= 7


def test_each_job_sends_its_async_failures_to_a_queue(synth: Synth) -> None:
    for name in JOBS:
        synth.template.has_resource_properties(
            "AWS::Lambda::EventInvokeConfig",
            {
                "FunctionName": {"Ref": _function_id(synth, name)},
                "DestinationConfig": {
                    "OnFailure": {
                        "Destination": {"Fn::GetAtt": [_queue_id(synth, f"{name}-failures"), "Arn"]}
                    }
                },
                "MaximumRetryAttempts": Match.any_value(),
            },
        )


# -- queues and schedules ----------------------------------------------------------------------


def test_work_queue_outlasts_the_consumer_and_has_a_dlq(synth: Synth) -> None:
    functions = _functions(synth)
    work = synth.raw["Resources"][_queue_id(synth, "work")]["Properties"]
    assert work["VisibilityTimeout"] >= 6 * functions["fetch-discussions"]["Timeout"]
    redrive = work["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [_queue_id(synth, "work-dlq"), "Arn"]}
    assert 3 <= redrive["maxReceiveCount"] <= 5


def test_fetch_discussions_consumes_the_work_queue_reporting_item_failures(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [_queue_id(synth, "work"), "Arn"]},
            "FunctionName": {"Ref": _function_id(synth, "fetch-discussions")},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_only_the_scheduled_jobs_may_send_work(synth: Synth) -> None:
    work_arn = {"Fn::GetAtt": [_queue_id(synth, "work"), "Arn"]}
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
    scheduled = synth.raw["Resources"][_function_id(synth, "jobs")]
    assert senders == {scheduled["Properties"]["Role"]["Fn::GetAtt"][0]}


def test_queues_are_encrypted_and_ssl_only(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 5
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


def test_api_function_may_only_read_the_tables(synth: Synth) -> None:
    api_role = synth.raw["Resources"][_function_id(synth, "api")]["Properties"]["Role"]
    actions = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": api_role["Fn::GetAtt"][0]} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                action = statement["Action"]
                actions.update(action if isinstance(action, list) else [action])
    dynamodb = {action for action in actions if action.startswith("dynamodb:")}
    assert dynamodb
    assert not dynamodb & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


# -- monitoring --------------------------------------------------------------------------------


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_every_failure_queue_has_a_depth_alarm(synth: Synth) -> None:
    watched = {
        json.dumps(dimension["Value"])
        for alarm in _alarms(synth)
        if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and alarm["Threshold"] == 1
        and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        for dimension in alarm["Dimensions"]
    }
    for queue in ("work-dlq", "schedule-dlq", *(f"{job}-failures" for job in JOBS)):
        assert json.dumps({"Fn::GetAtt": [_queue_id(synth, queue), "QueueName"]}) in watched


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(synth: Synth, metric: str) -> None:
    watched = {
        dimension["Value"]["Ref"]
        for alarm in _alarms(synth)
        if alarm["MetricName"] == metric and alarm["Namespace"] == "AWS/Lambda"
        for dimension in alarm["Dimensions"]
    }
    assert watched == {_function_id(synth, name) for name in FUNCTIONS}


def test_alarms_notify_an_encrypted_ssl_only_topic(synth: Synth) -> None:
    (topic_id,) = synth.resources("AWS::SNS::Topic")
    topic = synth.raw["Resources"][topic_id]["Properties"]
    assert topic["KmsMasterKeyId"]
    for alarm in _alarms(synth):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["AlarmName"].startswith(f"lkml-{synth.env}-")
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_dashboard_shows_functions_queues_and_application_metrics(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == f"lkml-{synth.env}-dashboard"
    for metric in ("Invocations", "Errors", "Duration", "ApproximateNumberOfMessagesVisible"):
        assert metric in body
    for metric in ("ApiCalls", "ApiLatency", "RecordsWritten", "Errors"):
        assert f'MetricName=\\\\\\"{metric}\\\\\\"' in body
    assert "LkmlAssistant" in body


# -- across the stack --------------------------------------------------------------------------


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

# SPDX-License-Identifier: GPL-2.0-or-later
"""The one way this app makes a Lambda function: runtime, architecture, logs and tracing.

Runtime and architecture must match the bundle ``scripts/bundle.py`` builds (CPython 3.13,
manylinux x86_64 wheels); both constants are read by the tests and the bundle script's caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from lkml_assistant.functions import emf

from lkml_infra.config import EnvConfig

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
BUNDLE_PYTHON_VERSION = "3.13"
BUNDLE_PLATFORM = "x86_64"
JOB_TIMEOUT = Duration.seconds(300)
API_TIMEOUT = Duration.seconds(29)
METRICS_NAMESPACE = emf.NAMESPACE


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between two of our functions."""

    name: str
    """Short name: ``fetch-patches`` becomes ``lkml-<env>-fetch-patches``."""
    handler: str
    timeout: Duration
    memory_mb: int
    environment: dict[str, str]
    reserved_concurrency: int
    """At most this many at once, and this many kept for it whatever else runs."""


def service_name(config: EnvConfig) -> str:
    """POWERTOOLS_SERVICE_NAME: the ``service`` dimension of the application's metrics."""
    return f"lkml-{config.name}"


def base_environment(config: EnvConfig, *, projects: str) -> dict[str, str]:
    """The variables every function reads (the tables are added by the stack)."""
    return {
        "LKML_STORE": "dynamodb",
        "LKML_LOG_LEVEL": config.log_level,
        "LKML_PROJECTS": projects,
        "LKML_RETENTION_DAYS": str(config.retention_days),
        "POWERTOOLS_SERVICE_NAME": service_name(config),
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "POWERTOOLS_TRACE_DISABLED": "false" if config.tracing else "true",
    }


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    config: EnvConfig,
    code: lambda_.Code,
    spec: FunctionSpec,
    snap_start: bool = False,
) -> lambda_.Function:
    """A function of the bundle with its own log group (retention per environment);
    ``snap_start``: SnapStart on its published versions."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        log_group_name=f"/aws/lambda/{config.resource_name(spec.name)}",
        retention=config.log_retention,
        removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
    )
    return lambda_.Function(
        scope,
        construct_id,
        function_name=config.resource_name(spec.name),
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=spec.handler,
        timeout=spec.timeout,
        memory_size=spec.memory_mb,
        environment=spec.environment,
        reserved_concurrent_executions=spec.reserved_concurrency,
        tracing=lambda_.Tracing.ACTIVE if config.tracing else lambda_.Tracing.DISABLED,
        log_group=log_group,
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
    )

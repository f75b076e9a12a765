# SPDX-License-Identifier: GPL-2.0-or-later
"""The one way this app makes an SQS queue: encrypted, SSL only, named after the environment."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lkml_infra.config import EnvConfig

DEAD_LETTER_RETENTION = Duration.days(14)


def queue(
    scope: Construct,
    construct_id: str,
    *,
    config: EnvConfig,
    name: str,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=config.resource_name(name),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        retention_period=DEAD_LETTER_RETENTION if dead_letter_queue is None else None,
        removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
    )


def failure_queue(
    scope: Construct, construct_id: str, *, config: EnvConfig, name: str
) -> sqs.Queue:
    """A queue where failed work ends up: a DLQ, a destination; it has no DLQ of its own."""
    failures = queue(scope, construct_id, config=config, name=name)
    Validations.of(failures).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself where failed events land (a dead-letter queue or an "
            "on-failure destination), read by an operator after its depth alarm; a DLQ of a "
            "DLQ would only hide them further.",
        )
    )
    return failures

# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Lambda runtime hands a handler, and what its SQS poller does, for in-process tests.

* :class:`InvocationContext` has the attributes of the runtime's context object that
  Powertools and our handlers read, with a real deadline.
* :func:`scheduled_event` and :func:`sqs_event` build events of the shapes EventBridge and the
  SQS event source mapping send; :func:`drain_queue` plays the event source mapping against a
  real queue (moto's server): receive a batch, invoke, delete what the handler did not report
  as failed, so failed messages come back after the visibility timeout and finally go to the
  dead-letter queue through the queue's own redrive policy.
* :func:`invoke_async` plays Lambda's asynchronous invocation: retries of a failed attempt,
  then the invocation record sent to the on-failure destination queue.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class InvocationContext:
    function_name: str = "lkml-test-function"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 300.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    # Make the deadline a count instead of a clock: after this many looks at the remaining
    # time, ten seconds are left. Deterministic pauses for checkpoint tests.
    looks_before_deadline: int | None = None
    looks: int = 0

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "2026/11/25/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        if self.looks_before_deadline is not None:
            self.looks += 1
            return 10_000 if self.looks > self.looks_before_deadline else 250_000
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def scheduled_event(detail: dict[str, Any] | None = None, rule: str = "hourly") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-25T03:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/lkml-test-{rule}"],
        "detail": detail or {},
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event from messages as ``receive_message`` returned them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class DrainResult:
    invocations: int = 0
    records: int = 0
    failures: list[str] = field(default_factory=list)
    invocation_errors: int = 0


def drain_queue(
    sqs: Any,
    queue_url: str,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    batch_size: int = 10,
    max_rounds: int = 500,
    wait_for_retries: float = 0.0,
    context: Callable[[], InvocationContext] | None = None,
) -> DrainResult:
    """Invoke ``handler`` on batches until the queue is empty, as the event source mapping does.

    ``wait_for_retries``: after the queue looks empty, wait this long once for failed messages
    to become visible again (their visibility timeout) and go on. ``context``: a fresh
    invocation context for each batch (default: a consumer's, with 300 s).
    """
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    result = DrainResult()
    waited = False
    for _ in range(max_rounds):
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        if not messages:
            if wait_for_retries and not waited:
                time.sleep(wait_for_retries)
                waited = True
                continue
            break
        waited = False
        result.invocations += 1
        result.records += len(messages)
        try:
            invocation = context() if context else InvocationContext("lkml-test-consumer")
            response = handler(sqs_event(messages, arn), invocation)
        except Exception:  # an invocation error: the whole batch comes back, as on AWS
            result.invocation_errors += 1
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        result.failures.extend(sorted(failed))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)
                ],
            )
    return result


@dataclass
class AsyncInvocation:
    """What became of one asynchronous invocation: Lambda's view of it."""

    attempts: int = 0
    errors: list[BaseException] = field(default_factory=list)
    """One per failed attempt: each is a Lambda ``Errors`` data point."""
    response: Any = None
    destination_record: dict[str, Any] | None = None


def invoke_async(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    *,
    function_name: str,
    retry_attempts: int,
    on_failure: tuple[Any, str] | None = None,
    context: Callable[[], InvocationContext] | None = None,
) -> AsyncInvocation:
    """Lambda's asynchronous invocation (how EventBridge Scheduler invokes a target), played
    in process: the handler runs; an attempt that raises is an error and is tried again, up to
    ``retry_attempts`` more times (Lambda waits about one, then two minutes in between; this
    does not); when the last attempt fails too, an invocation record of the shape Lambda sends
    to an SQS on-failure destination is sent to ``on_failure`` (an SQS client and queue URL).

    This is the test harness doing what the Lambda service does, not moto: moto's server
    would run the function in Docker, which this machine lacks. What is real is the handler,
    its exception, the queue and the record's path to it."""
    result = AsyncInvocation()
    request_id = str(uuid.uuid4())  # one for every attempt, as Lambda keeps it
    for _ in range(1 + retry_attempts):
        result.attempts += 1
        invocation = context() if context else InvocationContext(function_name)
        invocation.aws_request_id = request_id
        try:
            result.response = handler(event, invocation)
        except Exception as exc:  # any error is a function error to Lambda
            result.errors.append(exc)
            continue
        return result
    error = result.errors[-1]
    result.destination_record = {
        "version": "1.0",
        "timestamp": "2026-11-25T03:04:05.678Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": result.attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": [],
        },
    }
    if on_failure is not None:
        sqs, queue_url = on_failure
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(result.destination_record))
    return result

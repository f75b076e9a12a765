# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQS queues of the jobs: thread tasks to the work queue, project tasks to the crawl queue.

FetchDiscussions and RefreshDiscussions send one :class:`ThreadTask` per thread; a recipe's
fan-out sends one :class:`ProjectTask` per project. Messages are the tasks' JSON, sent ten
at a time (SQS's batch limit);
entries SQS reports as failed are sent again with backoff, and a batch that still fails after
that raises, so the scheduled run fails and its retry policy takes over. Sending a task twice
is harmless: fetching a thread is idempotent, and so is a project's unit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

BATCH = 10
ATTEMPTS = 5
MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds."""


class QueueSendError(RuntimeError):
    """Some tasks could not be queued."""


class SqsTaskQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("sqs", config=Config(retries={"mode": "standard"}))
        self.client = client
        self.queue_url = queue_url

    @classmethod
    def from_arn(cls, queue_arn: str, client: SQSClient | None = None) -> SqsTaskQueue:
        """The queue an SQS event came from (``eventSourceARN``): the consumer has no URL."""
        queue = cls("", client)
        parts = queue_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
        answer = queue.client.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
        queue.queue_url = answer["QueueUrl"]
        return queue

    def send(self, tasks: Sequence[BaseModel], *, delay_seconds: int = 0) -> int:
        """Queue ``tasks``; with ``delay_seconds`` (at most 900) none is received before."""
        delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        sent = 0
        for start in range(0, len(tasks), BATCH):
            sent += self._send_batch(tasks[start : start + BATCH], delay)
        log.info("queued %d tasks", sent)
        return sent

    def _send_batch(self, tasks: Sequence[BaseModel], delay: int = 0) -> int:
        pending: dict[str, Any] = {
            str(number): {
                "Id": str(number),
                "MessageBody": task.model_dump_json(),
                **({"DelaySeconds": delay} if delay else {}),
            }
            for number, task in enumerate(tasks)
        }
        for attempt in range(ATTEMPTS):
            answer = self.client.send_message_batch(
                QueueUrl=self.queue_url, Entries=list(pending.values())
            )
            for done in answer.get("Successful", []):
                pending.pop(done["Id"], None)
            failed = answer.get("Failed", [])
            if not pending:
                return len(tasks)
            if any(f.get("SenderFault") for f in failed):
                break  # our message is wrong: sending it again cannot help
            time.sleep(min(0.2 * 2**attempt, 5.0))
        reasons = "; ".join(
            f"{f.get('Code')}: {f.get('Message', '')}" for f in answer.get("Failed", [])
        )
        raise QueueSendError(f"{len(pending)} of {len(tasks)} tasks not queued: {reasons}")

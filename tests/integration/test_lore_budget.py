# SPDX-License-Identifier: GPL-2.0-or-later
"""The lore budget every invocation shares (issue 14): a per-minute cap across invocations.

Peers: moto's server (DynamoDB for the budget item and the store, SQS for the work queue and
its dead-letter queue) and real public-inbox. Two stores on the same tables play two
invocations; the clock is pinned, so windows do not move with the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from lkml_assistant.functions import clock, consumer
from lkml_assistant.models.records import ThreadTask
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.sources.pacing import BudgetSpent, SharedPacer
from tests.lambda_runtime import InvocationContext

pytestmark = pytest.mark.integration

PATCHES = "lkml-budget-patches"
DISCUSSIONS = "lkml-budget-discussions"
# One second into a minute: the window has 59 s to run.
NOW = datetime(2025, 12, 30, 12, 0, 1, tzinfo=UTC)
# Threads of netfilter-devel 2025 on the public-inbox peer.
ANCHORS = (
    "20250702174725.11371-1-phil@nwl.cc",
    "20251216122449.30116-1-fmancera@suse.de",
    "Z32-jODK1oDsAYRp@calendula",
    "20250821091302.9032-3-fmancera@suse.de",
    "20250702174725.11371-2-phil@nwl.cc",
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tables(aws):
    create_tables(boto3.client("dynamodb"), PATCHES, DISCUSSIONS)


def test_two_invocations_sharing_the_budget_never_exceed_the_cap_of_a_window(tables):
    pinned = Clock(NOW)
    stores = [DynamoDbStore(PATCHES, DISCUSSIONS, clock=pinned) for _ in range(2)]
    granted: list[int] = [0, 0]
    waits: list[float] = []

    # Two invocations taking turns. Taking at the same instant is DynamoDB's conditional
    # write, atomic per item; moto's server checks and writes without a lock, and threads
    # racing on it were seen granted 11 of 10: a fault of the peer, so the turns are explicit.
    for _ in range(12):
        for number in range(2):
            wait = stores[number].budget.take("lore", cap=10)
            if wait == 0:
                granted[number] += 1
            else:
                waits.append(wait)
    assert granted[0] > 0 and granted[1] > 0
    assert sum(granted) == 10  # 24 asked, never more than the cap between them
    assert len(waits) == 14 and all(w == pytest.approx(59.0) for w in waits)
    pinned.now = NOW + timedelta(seconds=60)  # the next window has its own budget
    assert stores[1].budget.take("lore", cap=10) == 0
    assert stores[0].budget.take("patchwork", cap=1) == 0  # one budget per upstream
    for store in stores:
        store.close()


def test_a_spent_budget_waits_within_the_deadline_or_says_so(tables):
    pinned = Clock(NOW)
    store = DynamoDbStore(PATCHES, DISCUSSIONS, clock=pinned)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        pinned.now += timedelta(seconds=seconds)

    patient = SharedPacer(store.budget, "lore", 2, time_left=lambda: 250.0, sleep=sleep)
    for _ in range(3):
        patient.acquire()
    assert slept == [pytest.approx(59.0)]  # the third waited for the next window
    hurried = SharedPacer(store.budget, "lore", 2, time_left=lambda: 40.0, sleep=sleep)
    hurried.acquire()
    with pytest.raises(BudgetSpent) as spent:
        hurried.acquire()  # the window just began: 60 s to wait, 40 s left, so not waited for
    assert spent.value.retry_after == pytest.approx(60.0)
    store.close()


def test_a_consumer_out_of_budget_defers_its_messages_instead_of_failing_them(
    tables, public_inbox, monkeypatch
):
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="lkml-budget-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # One receive and a failure would be dead: a deferral must not count as one.
    queue_url = sqs.create_queue(
        QueueName="lkml-budget-work",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for name, value in {
        "LKML_STORE": "dynamodb",
        "LKML_PATCHES_TABLE": PATCHES,
        "LKML_DISCUSSIONS_TABLE": DISCUSSIONS,
        "LKML_LORE_URL": public_inbox.url,
        "LKML_PROJECTS": "netfilter-devel",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_LORE_REQUESTS_PER_MINUTE": "2",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "lkml-test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LKML_WORK_QUEUE_URL", raising=False)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    pinned = Clock(NOW)
    monkeypatch.setattr(
        consumer, "open_store", lambda s: DynamoDbStore(PATCHES, DISCUSSIONS, clock=pinned)
    )

    def event(anchors: tuple[str, ...]) -> dict:
        tasks = [ThreadTask(list_name="netfilter-devel", anchor=anchor) for anchor in anchors]
        return {
            "Records": [
                {
                    "messageId": f"m-{number}",
                    "receiptHandle": f"r-{number}",
                    "body": task.model_dump_json(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": "us-east-1",
                }
                for number, task in enumerate(tasks)
            ]
        }

    # Two invocations in one minute, each with 20 s left: too little to wait 59 s.
    first = consumer.fetch_discussions(
        event(ANCHORS[:3]), InvocationContext("lkml-test-consumer", timeout_seconds=20)
    )
    second = consumer.fetch_discussions(
        event(ANCHORS[3:]), InvocationContext("lkml-test-consumer", timeout_seconds=20)
    )
    assert first["batchItemFailures"] == [] and second["batchItemFailures"] == []
    with DynamoDbStore(PATCHES, DISCUSSIONS, clock=pinned) as store:
        read = [root for root in ANCHORS if store.discussions.known_message_ids([root])]
        # Two requests in the window between both invocations: two threads read, in order.
        assert read == list(ANCHORS[:2])
        assert store.budget.take("lore", cap=2) > 0  # and the window's budget is spent
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    # The three not read are back in the queue, delayed to the next minute; none is dead.
    assert int(attrs["ApproximateNumberOfMessagesDelayed"]) == 3
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []

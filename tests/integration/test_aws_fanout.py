# SPDX-License-Identifier: GPL-2.0-or-later
"""The fan-out per project on AWS: the schedule sends one task per project to the crawl queue,
and the ``crawl`` consumer runs each project's unit with its own invocation's deadline.

Peers: moto's server (DynamoDB, SQS with redrive), the Patchwork test server (several
synthetic projects, or the recorded netfilter-devel dump), real public-inbox for the threads.
The handlers are invoked in process; :func:`tests.lambda_runtime.drain_queue` plays the event
source mapping (batch size 1, as the stack has it). "Now" is pinned.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from lkml_assistant.config import load_settings
from lkml_assistant.functions import clock, consumer, emf, jobs
from lkml_assistant.models.records import ProjectTask
from lkml_assistant.repositories.base import PatchQuery, Store
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from tests.lambda_runtime import InvocationContext, drain_queue, scheduled_event
from tests.peers.many_projects import many_projects
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

PATCHES = "lkml-test-patches"
DISCUSSIONS = "lkml-test-discussions"
MAX_RECEIVES = 2
NOW = datetime(2025, 11, 30, 12, 0, tzinfo=UTC)
NAMES = [f"proj{n:03d}" for n in range(1, 5)]
PATCHES_PER_PROJECT = 12


def synthetic_patchwork(names: list[str]) -> PatchworkData:
    """Several projects in one Patchwork, each with its own series of recorded patches."""
    return many_projects(
        names,
        patches_per_project=PATCHES_PER_PROJECT,
        start=datetime(2025, 11, 5),
        days=20,
        series_size=lambda rng: rng.randint(1, 4),
    )


@pytest.fixture
def queues(aws, monkeypatch) -> dict[str, Any]:
    """Tables, the crawl queue with its DLQ and the work queue, as the stack makes them."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    create_tables(boto3.client("dynamodb"), PATCHES, DISCUSSIONS)
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="lkml-test-crawl-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    crawl_url = sqs.create_queue(
        QueueName="lkml-test-crawl",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    work_url = sqs.create_queue(QueueName="lkml-test-work")["QueueUrl"]
    env = {
        "LKML_STORE": "dynamodb",
        "LKML_PATCHES_TABLE": PATCHES,
        "LKML_DISCUSSIONS_TABLE": DISCUSSIONS,
        "LKML_PROJECTS": ",".join(NAMES),
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_HTTP_RETRIES": "1",
        "LKML_BACKOFF_BASE": "0",
        # The jobs and crawl functions both have both queues (infra/lkml_infra/ingestion.py).
        "LKML_CRAWL_QUEUE_URL": crawl_url,
        "LKML_WORK_QUEUE_URL": work_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "lkml-test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {"sqs": sqs, "crawl": crawl_url, "dlq": dlq_url, "work": work_url}


def schedule(recipe: str, **detail: Any) -> dict[str, Any]:
    event = scheduled_event({"recipe": recipe, **detail}, recipe)
    return jobs.handler(event, InvocationContext("lkml-test-jobs"))


def steps(result: dict) -> dict[str, dict]:
    return {part["job"]: part for part in result["jobs"]}


def messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of a queue, each once (they stay invisible for the queue's timeout)."""
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += batch
    return found


def open_dynamodb() -> DynamoDbStore:
    settings = load_settings()
    return DynamoDbStore(settings.patches_table, settings.discussions_table)


def stored_patches(store: Store, project: str) -> set[int]:
    return {p.id for p in store.patches.page_patches(PatchQuery(project=project), limit=500)}


def _emf(output: str, job: str) -> list[dict]:
    docs = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [doc for doc in docs if doc.get(emf.JOB_DIMENSION) == job]


def test_every_project_is_crawled_though_an_invocation_has_time_for_a_few_pages(
    queues, monkeypatch
):
    """The deadline of one invocation allows about two pages: each project's unit pauses,
    sends itself again and resumes at its page, until every project is whole."""
    data = synthetic_patchwork(NAMES)
    upstream = Counter(p["project"]["link_name"] for p in data.list_patches())
    with run_patchwork_server(data) as server:
        monkeypatch.setenv("LKML_PATCHWORK_URL", server.url)
        monkeypatch.setenv("LKML_LORE_URL", server.url)  # not asked: threads are queued
        monkeypatch.setenv("LKML_PAGE_SIZE", "4")
        hourly = schedule("hourly", days=30)
        # The schedule's invocation crawls nothing itself: one task per project.
        assert list(steps(hourly)) == ["fetch-patches"]
        assert steps(hourly)["fetch-patches"]["projects_queued"] == len(NAMES)
        assert steps(hourly)["fetch-patches"]["requests"] == 0 and not server.requests

        drained = drain_queue(
            queues["sqs"],
            queues["crawl"],
            consumer.crawl,
            batch_size=1,
            context=lambda: InvocationContext("lkml-test-crawl", looks_before_deadline=3),
        )
        listed = [
            (r.path, r.query) for r in server.requests if r.path.endswith(("/patches/", "/series/"))
        ]
    assert drained.failures == [] and drained.invocation_errors == 0
    # No invocation could crawl a project whole: each needed several, and every one got them.
    assert drained.invocations >= 3 * len(NAMES)
    with open_dynamodb() as store:
        for name in NAMES:
            assert len(stored_patches(store, name)) == upstream[name] == PATCHES_PER_PROJECT
            cursor = store.cursors.get_cursor(name)
            assert cursor is not None and cursor.crawl is None
            # The unit went on after its crawl: review status for every patch of the project.
            assert len(store.reviews.get_reviews(stored_patches(store, name))) == upstream[name]
    # Resumed, never restarted: no list page was asked for twice.
    assert len(listed) == len(set(listed))
    # The follow-on steps saw each project's new patches: its threads are in the work queue.
    threads = [json.loads(m["Body"]) for m in messages(queues["sqs"], queues["work"])]
    assert {t["list_name"] for t in threads} == set(NAMES)
    assert (
        queues["sqs"].get_queue_attributes(
            QueueUrl=queues["crawl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_a_project_patchwork_fails_goes_to_the_dlq_and_the_others_complete(
    queues, monkeypatch, capsys
):
    data = synthetic_patchwork(NAMES)
    broken = NAMES[1]
    with run_patchwork_server(data) as server:
        # Every list page of one project answers 502 (its retry too).
        server.faults.add(r"/api/", 502, times=1000, query=f"project={broken}")
        monkeypatch.setenv("LKML_PATCHWORK_URL", server.url)
        monkeypatch.setenv("LKML_LORE_URL", server.url)
        schedule("hourly", days=30)
        drained = drain_queue(
            queues["sqs"], queues["crawl"], consumer.crawl, batch_size=1, wait_for_retries=1.5
        )
    # The broken project's record failed at each receive, then SQS moved it to the DLQ.
    assert len(drained.failures) == MAX_RECEIVES == drained.invocation_errors
    (dead,) = messages(queues["sqs"], queues["dlq"])
    assert ProjectTask.model_validate_json(dead["Body"]).project == broken
    with open_dynamodb() as store:
        assert store.cursors.get_cursor(broken) is None
        for name in NAMES:
            if name != broken:
                assert len(stored_patches(store, name)) == PATCHES_PER_PROJECT
    # What the failed-runs alarm watches: FailedRuns of fetch-patches, once per failed receive.
    crawls = _emf(capsys.readouterr().out, "fetch-patches")
    failed = [doc for doc in crawls if doc[emf.FAILED_RUNS] == [1.0] or doc[emf.FAILED_RUNS] == 1]
    assert len(failed) == MAX_RECEIVES


def _data_items() -> dict[str, list[dict]]:
    """Every item of both tables but the run records (each run writes its own)."""
    client = boto3.client("dynamodb")
    tables: dict[str, list[dict]] = {}
    for table in (PATCHES, DISCUSSIONS):
        items = client.scan(TableName=table)["Items"]
        tables[table] = sorted(
            (
                item
                for item in items
                if not item["pk"]["S"].startswith(("RUN", "COUNTER"))
                and item.get("sk", {}).get("S") != "RUN"
            ),
            key=lambda item: (item["pk"]["S"], item.get("sk", {}).get("S", "")),
        )
    return tables


def test_a_task_delivered_twice_writes_nothing_the_second_time(
    queues, patchwork_server, public_inbox, monkeypatch
):
    """The daily unit of a project, delivered again after it was done (SQS's at-least-once,
    or the schedule retried within its hour): no second full crawl, nothing written."""
    monkeypatch.setenv("LKML_PROJECTS", "netfilter-devel")
    monkeypatch.setenv("LKML_PATCHWORK_URL", patchwork_server.url)
    monkeypatch.setenv("LKML_LORE_URL", public_inbox.url)
    monkeypatch.setattr(clock, "now", lambda: datetime(2025, 12, 30, 12, 0, tzinfo=UTC))
    sqs = queues["sqs"]
    daily = schedule("daily", days=16)
    assert list(steps(daily)) == ["refresh-discussions", "fetch-patches"]
    (task,) = messages(sqs, queues["crawl"])
    sqs.change_message_visibility(
        QueueUrl=queues["crawl"], ReceiptHandle=task["ReceiptHandle"], VisibilityTimeout=0
    )
    first = drain_queue(sqs, queues["crawl"], consumer.crawl, batch_size=1)
    assert first.records == 1 and first.failures == []
    threads = drain_queue(sqs, queues["work"], consumer.fetch_discussions)
    assert threads.records > 5 and threads.failures == []
    before = _data_items()
    assert len(before[PATCHES]) > 50

    patchwork_server.reset_log()
    sqs.send_message(QueueUrl=queues["crawl"], MessageBody=task["Body"])  # the redelivery
    again = drain_queue(sqs, queues["crawl"], consumer.crawl, batch_size=1)
    assert again.records == 1 and again.failures == []
    # Only the changes were read (events, patches since the cursor): not the window again.
    assert len(patchwork_server.requests) <= 3
    assert _data_items() == before
    with open_dynamodb() as store:
        runs = store.runs.last_runs()
    assert runs["fetch-patches"].summary["written"] == 0
    assert runs["fetch-patches"].summary["skip_reasons"] == {
        "full crawl already done for this request": 1
    }
    assert runs["fetch-discussions"].summary["threads_queued"] == 0
    assert runs["review-intel"].summary["written"] == 0
    assert not messages(sqs, queues["work"])

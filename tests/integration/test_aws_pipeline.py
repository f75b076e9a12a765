# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS path end to end, handlers invoked in-process with real-shaped events.

Peers: moto's server (DynamoDB, SQS), the Patchwork test server, and real public-inbox.
hourly event → patches in DynamoDB → one SQS message per thread → consumer → discussions in
DynamoDB and review status; a poisoned message ends in the dead-letter queue and the rest of its
batch is kept. The failure drill at the end: Patchwork down makes the hourly run raise, and
(through the harness's asynchronous invocation, see tests/lambda_runtime.py) its event reaches
the on-failure queue; one project failing of two is a partial run and a metric. "Now" is
pinned just after the recorded dump, so windows do not move with the wall clock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import boto3
import pytest

from lkml_assistant.config import load_settings
from lkml_assistant.functions import clock, consumer, emf, jobs
from lkml_assistant.functions.work_queue import SqsTaskQueue
from lkml_assistant.models.records import ThreadTask
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.services.jobs import Jobs
from lkml_assistant.services.summary import JobFailedError
from tests.lambda_runtime import InvocationContext, drain_queue, invoke_async, scheduled_event
from tests.peers.fault_proxy import Fault, FaultProxy

pytestmark = pytest.mark.integration

PATCHES = "lkml-test-patches"
DISCUSSIONS = "lkml-test-discussions"
# The netfilter dump ends on 2025-12-29; a window from mid-November keeps the run small
# (about 200 patches) while still holding series, cover letters and review replies.
WINDOW_START = datetime(2025, 11, 15, tzinfo=UTC)
# The refresh test reads every thread twice; the dump's last two weeks (about 70 patches) do.
SHORT_WINDOW_START = datetime(2025, 12, 15, tzinfo=UTC)
MAX_RECEIVES = 2
NOW = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def deployment(aws, patchwork_server, public_inbox, monkeypatch):
    """Tables, work queue and dead-letter queue as the stack makes them, and the environment."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    create_tables(boto3.client("dynamodb"), PATCHES, DISCUSSIONS)
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="lkml-test-work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName="lkml-test-work",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    env = {
        "LKML_STORE": "dynamodb",
        "LKML_PATCHES_TABLE": PATCHES,
        "LKML_DISCUSSIONS_TABLE": DISCUSSIONS,
        "LKML_PATCHWORK_URL": patchwork_server.url,
        "LKML_LORE_URL": public_inbox.url,
        "LKML_PROJECTS": "netfilter-devel",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_HTTP_RETRIES": "1",
        "LKML_BACKOFF_BASE": "0",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "lkml-test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # As in the stack (infra/lkml_infra/ingestion.py), only the jobs function has the queue:
    # the consumer runs without LKML_WORK_QUEUE_URL, so nothing here can lean on it.
    monkeypatch.delenv("LKML_WORK_QUEUE_URL", raising=False)
    return {"sqs": sqs, "queue_url": queue_url, "dlq_url": dlq_url}


@contextmanager
def jobs_function_environment(queue_url: str) -> Iterator[None]:
    """The jobs function's own variable, for one invocation."""
    os.environ["LKML_WORK_QUEUE_URL"] = queue_url
    try:
        yield
    finally:
        del os.environ["LKML_WORK_QUEUE_URL"]


def window_days(start: datetime = WINDOW_START) -> int:
    return (NOW - start).days + 1


def steps(result: dict) -> dict[str, dict]:
    """A recipe's result: each step's own summary, by job."""
    return {part["job"]: part for part in result["jobs"]}


def run(deployment: dict, recipe: str, context: InvocationContext | None = None, **detail) -> dict:
    """The jobs function invoked by a schedule (synchronously here: the drill below plays
    the asynchronous invocation)."""
    event = scheduled_event({"recipe": recipe, **detail}, recipe)
    with jobs_function_environment(deployment["queue_url"]):
        return jobs.handler(event, context or InvocationContext("lkml-test-jobs"))


def queue_depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def _emf(output: str) -> list[dict]:
    """The embedded-metric-format documents among a function's output lines."""
    return [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]


def open_dynamodb() -> DynamoDbStore:
    settings = load_settings()
    return DynamoDbStore(settings.patches_table, settings.discussions_table)


def test_hourly_event_fills_dynamodb_and_the_queue_feeds_discussions(deployment, capsys):
    sqs, queue_url = deployment["sqs"], deployment["queue_url"]
    hourly = run(deployment, "hourly", days=window_days())
    assert hourly["status"] == "ok" and hourly["errors"] == 0
    assert list(steps(hourly)) == ["fetch-patches", "fetch-discussions", "review-intel"]
    crawl = steps(hourly)["fetch-patches"]
    assert 100 < crawl["patches_seen"] < 400
    assert crawl["written"] >= crawl["patches_seen"]
    # One message per thread: fewer threads than patches, since series share theirs.
    queued = steps(hourly)["fetch-discussions"]["threads_queued"]
    assert 0 < queued < crawl["patches_seen"]
    assert queue_depth(sqs, queue_url) == queued
    scheduled_output = capsys.readouterr().out

    with open_dynamodb() as store:
        newest = store.patches.page_patches(PatchQuery(project="netfilter-devel"), limit=5)
        # Review status is there at once, from Patchwork alone: nothing was read from lore yet.
        window = [
            p.id
            for p in store.patches.page_patches(PatchQuery(project="netfilter-devel"), limit=400)
        ]
        before = {pid: r.status for pid, r in store.reviews.get_reviews(window).items()}
        assert before and "reviewed" not in before.values()
        assert [p.date for p in newest] == sorted((p.date for p in newest), reverse=True)
        assert store.discussions.get_discussion(newest[0].id) is None

    drained = drain_queue(sqs, queue_url, consumer.fetch_discussions)
    assert drained.records == queued and drained.failures == []
    assert queue_depth(sqs, queue_url) == 0

    with open_dynamodb() as store:
        waiting = store.discussions.patches_without_discussion(
            projects=["netfilter-devel"], since=WINDOW_START
        )
        assert waiting == []
        found = store.discussions.get_discussions(p.id for p in newest)
        assert set(found) == {p.id for p in newest}
        reviewed = [
            d
            for d in store.discussions.get_discussions(
                p.id
                for p in store.patches.page_patches(
                    PatchQuery(project="netfilter-devel"), limit=400
                )
            ).values()
            if d.summary.trailers or d.summary.reply_count
        ]
        assert reviewed, "some patch of the window was answered on the list"
        thread = store.discussions.thread_messages(reviewed[0].thread_root or "")
        assert thread and thread[0].message_id == reviewed[0].thread_root
        # The consumer left the review status current for what it read: no hour to wait.
        after = {pid: r.status for pid, r in store.reviews.get_reviews(window).items()}
        changed = {pid for pid in before if after[pid] != before[pid]}
        # Replies from others make patches in-discussion; the window's reviewed patches were
        # all applied since (patchwork-bot's "This series was applied to netdev/net.git"),
        # which the mail says while Patchwork still says new: accepted, with the tree.
        assert {after[pid] for pid in changed} >= {"in-discussion", "accepted"}
        reviews = store.reviews.get_reviews(changed)
        applied = [r for r in reviews.values() if r.status == "accepted"]
        assert any(r.applied is not None and r.applied.tree for r in applied)

    # The metrics went out in embedded metric format, under our namespace and dimensions.
    consumer_output = capsys.readouterr().out
    emf = _emf(scheduled_output + consumer_output)
    jobs_seen = {doc.get("Job") for doc in emf}
    assert {"fetch-patches", "fetch-discussions", "review-intel"} <= jobs_seen
    names = {
        metric["Name"]
        for doc in emf
        for directive in doc["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert {"ApiCalls", "ApiLatency", "RecordsWritten", "Errors"} <= names
    assert all(
        d["Namespace"] == "LkmlAssistant" for doc in emf for d in doc["_aws"]["CloudWatchMetrics"]
    )
    # The consumer's figures are the batch's own: its lore requests, what it wrote.
    consumed = [doc for doc in _emf(consumer_output) if doc.get("Job") == "fetch-discussions"]
    assert len(consumed) == drained.invocations
    assert sum(doc["ApiCalls"][0] for doc in consumed) >= queued
    assert sum(doc["RecordsWritten"][0] for doc in consumed) > 0

    # The next hour, with nothing new upstream: nothing written, nothing queued.
    again = run(deployment, "hourly")
    assert again["status"] == "ok" and again["written"] == 0
    assert steps(again)["fetch-discussions"]["threads_queued"] == 0


def test_poisoned_message_goes_to_the_dead_letter_queue_and_the_batch_survives(deployment):
    sqs, queue_url, dlq_url = deployment["sqs"], deployment["queue_url"], deployment["dlq_url"]
    run(deployment, "hourly", days=window_days())
    # Drop the real work down to a few tasks, then add one that can never be processed.
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    keep = messages[:3]
    sqs.purge_queue(QueueUrl=queue_url)
    good = [ThreadTask.model_validate_json(m["Body"]) for m in keep]
    entries = [{"Id": str(n), "MessageBody": t.model_dump_json()} for n, t in enumerate(good)]
    entries.append({"Id": "poison", "MessageBody": '{"list_name": "netfilter-devel"}'})
    sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    drained = drain_queue(sqs, queue_url, consumer.fetch_discussions, wait_for_retries=1.5)
    # Each receive of the poisoned message failed alone; the good ones were processed once.
    assert len(drained.failures) == MAX_RECEIVES
    assert drained.records == len(good) + MAX_RECEIVES
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ['{"list_name": "netfilter-devel"}']
    with open_dynamodb() as store:
        for task in good:
            settled = store.discussions.get_discussions(task.patch_ids)
            assert set(settled) == set(task.patch_ids)


def test_scheduled_refresh_queues_only_threads_with_new_mail(deployment):
    sqs, queue_url = deployment["sqs"], deployment["queue_url"]
    run(deployment, "backfill", days=window_days(SHORT_WINDOW_START))
    first = drain_queue(sqs, queue_url, consumer.fetch_discussions)
    assert first.records > 10 and first.failures == []
    weekly = run(deployment, "weekly", days=window_days(SHORT_WINDOW_START))
    assert list(steps(weekly)) == ["refresh-discussions", "review-intel"]
    # The weekly run re-reads every thread of the window, through the queue: the jobs
    # function itself reads none of them (no request to lore at all for a full refresh).
    full = steps(weekly)["refresh-discussions"]
    assert full["status"] == "ok" and 0 < full["threads_queued"] <= first.records
    assert full["threads_fetched"] == 0 and full["requests"] == 0 and full["more"] is False
    again = drain_queue(sqs, queue_url, consumer.fetch_discussions)
    assert again.records == full["threads_queued"] and again.failures == []
    # Incremental: the archive received nothing since, so one search per list and no work.
    with open_dynamodb() as store:
        aws_jobs = Jobs(load_settings(), store, queue=SqsTaskQueue(deployment["queue_url"]))
        quiet = aws_jobs.refresh_discussions(NOW, days=window_days(SHORT_WINDOW_START))
    assert quiet.status == "ok" and quiet.threads_queued == 0
    assert queue_depth(sqs, queue_url) == 0
    # A deadline, as a crawl has: short of time, the refresh stops before its next list.
    context = InvocationContext("lkml-test-jobs", looks_before_deadline=0)
    late = steps(run(deployment, "weekly", context, days=window_days(SHORT_WINDOW_START)))
    assert late["refresh-discussions"]["more"] is True
    assert late["refresh-discussions"]["threads_queued"] == 0 and queue_depth(sqs, queue_url) == 0


def test_a_crawl_short_of_time_pauses_and_the_next_invocation_resumes(deployment, monkeypatch):
    """A Lambda timeout is not a failure: the crawl checkpoints its page and goes on later."""
    monkeypatch.setenv("LKML_PAGE_SIZE", "20")
    results = []
    for _ in range(20):
        # Each invocation has time for four pages (the project check counts as one look).
        context = InvocationContext("lkml-test-jobs", looks_before_deadline=5)
        result = run(deployment, "hourly", context, days=window_days())
        results.append(steps(result)["fetch-patches"])
        if not results[-1]["more"]:
            break
    assert all(r["status"] == "ok" and r["errors"] == 0 for r in results)
    # About 200 patches and 80 series at 20 a page: several invocations, none reading all.
    assert len(results) >= 3 and all(r["pages"] <= 6 for r in results)
    assert results[-1]["more"] is False
    assert sum(r["patches_seen"] for r in results) == 201
    with open_dynamodb() as store:
        counts = store.stats.counts().patches_by_project_state
        assert sum(n for (name, _), n in counts.items() if name == "netfilter-devel") == 201
        cursor = store.cursors.get_cursor("netfilter-devel")
        assert cursor is not None and cursor.crawl is None and cursor.last_event_id > 0
    # Resumed, not restarted: every page was read once.
    assert sum(r["pages"] for r in results) == 11 + 5


# -- the failure drill -------------------------------------------------------------------------
# What an operator is told when things go wrong, from the failure to the queue or metric an
# alarm watches. The alarms themselves are in the template: infra/tests/test_stack.py checks
# that they watch exactly these queues and these metric names, namespace and dimensions
# (lkml_assistant.functions.emf, the one list both sides read).

ASYNC_RETRY_ATTEMPTS = 2
"""As the stack configures the jobs function (infra/lkml_infra/ingestion.py; the template
test holds MaximumRetryAttempts to it)."""
EMF_DIMENSIONS = {emf.SERVICE_DIMENSION, emf.JOB_DIMENSION, emf.SOURCE_DIMENSION}


@pytest.fixture
def on_failure_queue(deployment) -> str:
    """The jobs function's on-failure destination, ``<env>-jobs-failures`` in the stack."""
    return deployment["sqs"].create_queue(QueueName="lkml-test-jobs-failures")["QueueUrl"]


def _job_metrics(output: str, job: str) -> list[dict]:
    """The EMF documents of one job's runs, each checked to be alarmable as the stack's
    alarms read it: our namespace, exactly the dimensions service, Job and Source."""
    found = []
    for doc in _emf(output):
        if doc.get(emf.JOB_DIMENSION) != job:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == emf.NAMESPACE
        assert [set(dimensions) for dimensions in directive["Dimensions"]] == [EMF_DIMENSIONS]
        assert doc[emf.SOURCE_DIMENSION] == emf.source_of(job)
        assert doc[emf.SERVICE_DIMENSION] == "lkml-test"
        found.append(doc)
    return found


def _value(doc: dict, name: str) -> float:
    value = doc[name]
    return float(sum(value) if isinstance(value, list) else value)


def test_drill_patchwork_down_fails_the_hourly_run_into_its_on_failure_queue(
    deployment, on_failure_queue, patchwork_server, monkeypatch, capsys
):
    sqs = deployment["sqs"]
    with FaultProxy(patchwork_server.url) as patchwork_down:
        patchwork_down.add(Fault("status", status=502))
        monkeypatch.setenv("LKML_PATCHWORK_URL", patchwork_down.url)
        event = scheduled_event({"recipe": "hourly", "days": window_days()}, "hourly")
        with jobs_function_environment(deployment["queue_url"]):
            outcome = invoke_async(
                jobs.handler,
                event,
                function_name="lkml-test-jobs",
                retry_attempts=ASYNC_RETRY_ATTEMPTS,
                on_failure=(sqs, on_failure_queue),
            )
        # Every request was answered 502, each tried again (LKML_HTTP_RETRIES=1), then given up.
        assert patchwork_down.requests and all(r.fault == "status" for r in patchwork_down.requests)
    # Each attempt raised after its summary was recorded: three Lambda Errors data points.
    assert outcome.attempts == 1 + ASYNC_RETRY_ATTEMPTS
    assert len(outcome.errors) == outcome.attempts and outcome.response is None
    assert all(isinstance(error, JobFailedError) for error in outcome.errors)
    assert "fetch-patches failed" in str(outcome.errors[0]) and "502" in str(outcome.errors[0])
    with open_dynamodb() as store:
        runs = store.runs.last_runs()
        assert runs["fetch-patches"].status == "failed"
        assert runs["fetch-patches"].summary["errors"] == 1
        # The other steps did what they could: nothing to queue, the review status current.
        assert runs["review-intel"].status == "ok"

    # The on-failure destination holds the event, as Lambda delivers it after the retries.
    (delivered,) = sqs.receive_message(QueueUrl=on_failure_queue, MaxNumberOfMessages=10)[
        "Messages"
    ]
    record = json.loads(delivered["Body"])
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "JobFailedError"

    # The EMF documents carry the failure: FailedRuns and Errors for fetch-patches, each run.
    crawls = _job_metrics(capsys.readouterr().out, "fetch-patches")
    assert len(crawls) == outcome.attempts
    for doc in crawls:
        assert _value(doc, emf.FAILED_RUNS) == 1 and _value(doc, emf.PARTIAL_RUNS) == 0
        # Two requests per attempt: the first answer and its one retry (LKML_HTTP_RETRIES=1).
        assert _value(doc, emf.ERRORS) == 1 and _value(doc, emf.API_CALLS) == 2


def test_drill_one_project_of_two_failing_is_a_partial_run_not_an_error(
    deployment, on_failure_queue, monkeypatch, capsys
):
    monkeypatch.setenv("LKML_PROJECTS", "netfilter-devel,no-such-project")
    event = scheduled_event({"recipe": "hourly", "days": window_days(SHORT_WINDOW_START)}, "hourly")
    with jobs_function_environment(deployment["queue_url"]):
        outcome = invoke_async(
            jobs.handler,
            event,
            function_name="lkml-test-jobs",
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            on_failure=(deployment["sqs"], on_failure_queue),
        )
    # Returned normally: no Lambda error, no retry, nothing at the on-failure destination.
    assert outcome.attempts == 1 and outcome.errors == []
    assert outcome.response["status"] == "partial"
    crawl = steps(outcome.response)["fetch-patches"]
    assert crawl["status"] == "partial" and crawl["patches_seen"] > 10
    assert "no-such-project" in crawl["error_messages"][0]
    assert queue_depth(deployment["sqs"], on_failure_queue) == 0
    (doc,) = _job_metrics(capsys.readouterr().out, "fetch-patches")
    assert _value(doc, emf.PARTIAL_RUNS) == 1 and _value(doc, emf.FAILED_RUNS) == 0
    assert _value(doc, emf.ERRORS) == 1

# SPDX-License-Identifier: GPL-2.0-or-later
"""lore misbehaving: the real public-inbox of the tests behind a fault-injecting proxy.

A fault may cost a run some threads, never the store: after the faulty run and one clean run
the store holds exactly what a run that never saw a fault holds. A lore that fails everything
is left alone after a few requests, and the threads not tried wait for the next run.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from lkml_assistant.cli import main
from lkml_assistant.functions import consumer
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.fetch_discussions import FetchDiscussions, plan_threads
from lkml_assistant.sources.http import HttpClient
from lkml_assistant.sources.lore import LoreClient, escape_message_id
from tests.lambda_runtime import InvocationContext
from tests.peers.fault_proxy import Fault, FaultKind, FaultProxy

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"
# The dump's last weeks: 34 patches, a few threads of each size, read in seconds.
SINCE = "2025-12-10T00:00:00"
RETRIES = 5  # the project's default number of retries; only the backoff is shortened
THRESHOLD = 3  # the lore client's circuit breaker


@pytest.fixture(scope="module")
def template(patchwork_session_server, tmp_path_factory) -> Path:
    """A store holding the window's patches, as fetch-patches leaves it; no thread read yet."""
    path = tmp_path_factory.mktemp("faults") / "template.sqlite3"
    env = {
        "LKML_PATCHWORK_URL": patchwork_session_server.url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{path}",
        "LKML_REQUEST_INTERVAL": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert main(["fetch-patches", "--since", SINCE, "-q"]) == 0
    return path


@pytest.fixture
def proxy(public_inbox) -> Iterator[FaultProxy]:
    with FaultProxy(public_inbox.url) as proxy:
        yield proxy


def thread_path(anchor: str) -> str:
    return f"/{escape_message_id(anchor)}/t.mbox.gz"


def make_env(template: Path, directory: Path, lore_url: str) -> dict[str, str]:
    store = directory / "store.sqlite3"
    shutil.copy(template, store)
    return {
        "LKML_LORE_URL": lore_url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{store}",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_HTTP_RETRIES": str(RETRIES),
        "LKML_BACKOFF_BASE": "0.01",
        "LKML_BACKOFF_MAX": "0.05",
    }


def fetch_discussions(monkeypatch, capsys, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["fetch-discussions", "--json", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


def store_path(env: dict[str, str]) -> Path:
    return Path(env["LKML_STORE"].removeprefix("sqlite://"))


def contents(env: dict[str, str]) -> dict[str, Any]:
    """Every discussion and message of a store, without the times they were fetched at."""
    with sqlite3.connect(store_path(env)) as db:
        discussions = {}
        for patch_id, message_id, list_name, root, stale, data in db.execute(
            "SELECT patch_id, message_id, list_name, thread_root, stale, data FROM discussions"
        ):
            summary = json.loads(data)
            summary.pop("fetched_at", None)
            discussions[patch_id] = (message_id, list_name, root, stale, summary)
        messages = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT message_id, list_name, thread_root, parent_id, author_email, date, data"
                " FROM messages"
            )
        }
    return {"discussions": discussions, "messages": messages}


def test_a_faulty_run_then_a_clean_one_leave_the_store_a_clean_run_leaves(
    template, proxy, tmp_path, monkeypatch, capsys
):
    (tmp_path / "clean").mkdir()
    (tmp_path / "faulty").mkdir()
    clean = make_env(template, tmp_path / "clean", proxy.url)
    faulty = make_env(template, tmp_path / "faulty", proxy.url)
    code, baseline = fetch_discussions(monkeypatch, capsys, clean)
    assert code == 0 and baseline["errors"] == 0
    expected = contents(clean)
    assert not any(d[3] for d in expected["discussions"].values())  # nothing left stale

    # The threads the run asks for, biggest first: the faults that lose the most hit those.
    asked = [unquote(r.path.split("/")[2]) for r in proxy.requests]
    roots = {m: row[1] for m, row in expected["messages"].items()}
    size = Counter(roots.values())
    anchors = sorted(
        (anchor for anchor in asked if anchor in roots), key=lambda a: (-size[roots[a]], a)
    )
    truncated, corrupt, cut, busy, lonely = anchors[:4] + anchors[-1:]
    assert size[roots[truncated]] > 5 and size[roots[lonely]] == 1

    # A thread can be asked for through any of its messages (a series' patches may be planned
    # apart), so a fault spoils the thread whichever message the URL names. Every fault lasts
    # the whole run (the client's second try meets it too), except the 503s, which end before
    # the client's retries do.
    def members(anchor: str) -> list[str]:
        return [m for m, root in roots.items() if root == roots[anchor]]

    def spoil(anchor: str, kind: FaultKind, **how: Any) -> list[Fault]:
        return [Fault(kind, match=thread_path(m), **how) for m in members(anchor)]

    proxy.add(
        *spoil(truncated, "truncate"),
        *spoil(corrupt, "corrupt"),
        *spoil(cut, "cut"),
        *spoil(busy, "status", times=RETRIES - 1),
        *spoil(lonely, "truncate"),
    )

    code, first = fetch_discussions(monkeypatch, capsys, faulty)
    assert {r.fault for r in proxy.faulted()} == {"truncate", "corrupt", "cut", "status"}
    assert code == 1 and first["status"] == "partial"
    # Only the cut thread failed, after every retry (once per task asking for it).
    assert first["errors"] >= 1
    assert all(
        "peer closed connection" in error and any(f"/{m}/" in error for m in members(cut))
        for error in first["error_messages"]
    )
    assert first["skip_reasons"]["truncated thread download"] >= 2
    assert first["skip_reasons"]["corrupt thread download"] >= 1
    assert "thread not on lore" not in first["skip_reasons"]
    with SqliteStore(store_path(faulty)) as store:
        # What a damaged download held is kept, and its threads are planned again.
        again = {pid for task in plan_threads(store) for pid in task.patch_ids}

    def patches_of(anchor: str) -> set[int]:
        return {pid for pid, d in expected["discussions"].items() if d[2] == roots[anchor]}

    for anchor in (truncated, corrupt, cut, lonely):
        assert patches_of(anchor) <= again
    assert not patches_of(busy) & again
    partial = contents(faulty)
    assert set(partial["messages"]) < set(expected["messages"])
    assert all(partial["messages"][m] == expected["messages"][m] for m in partial["messages"])

    proxy.clear()
    code, second = fetch_discussions(monkeypatch, capsys, faulty)
    assert code == 0 and second["errors"] == 0
    assert contents(faulty) == expected
    code, idle = fetch_discussions(monkeypatch, capsys, faulty)
    assert code == 0 and idle["requests"] == 0


def test_a_lore_answering_503_to_everything_is_left_alone_after_a_few_threads(
    template, proxy, tmp_path, monkeypatch, capsys
):
    env = make_env(template, tmp_path, proxy.url)
    with SqliteStore(store_path(env)) as store:
        planned = plan_threads(store)
    assert len(planned) > THRESHOLD + 2
    proxy.add(Fault("status", status=503, retry_after="0"))

    code, summary = fetch_discussions(monkeypatch, capsys, env)
    assert code == 1 and summary["status"] == "failed"
    # THRESHOLD threads, each asked once and retried RETRIES times; then lore is not asked.
    assert summary["requests"] == len(proxy.requests) == THRESHOLD * (RETRIES + 1)
    assert summary["skip_reasons"] == {
        "not tried: lore failed too often in a row": len(planned) - THRESHOLD
    }
    assert any(
        message.startswith(f"stopped asking {proxy.url} for this run: 3 requests in a row failed")
        and "HTTP 503" in message
        for message in summary["error_messages"]
    )
    with SqliteStore(store_path(env)) as store:
        assert plan_threads(store) == planned  # everything waits for the next run
        assert store.discussions.known_message_ids(t.anchor for t in planned) == {}


def sqs_event(tasks) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{number}",
                "receiptHandle": f"r{number}",
                "body": task.model_dump_json(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:lkml-test-threads",
                "awsRegion": "eu-west-1",
            }
            for number, task in enumerate(tasks)
        ]
    }


def test_the_queue_consumer_hands_back_the_records_an_open_circuit_kept_it_from(
    template, proxy, tmp_path, monkeypatch
):
    env = make_env(template, tmp_path, proxy.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with SqliteStore(store_path(env)) as store:
        tasks = sorted(plan_threads(store), key=lambda t: t.anchor)[:6]
    # The first thread is read; lore fails the next three, which opens the circuit; the last
    # two it would have answered, but it is not asked: they go back to the queue.
    good, *failing = tasks[:4]
    proxy.add(*(Fault("status", match=thread_path(t.anchor)) for t in failing))

    response = consumer.fetch_discussions(sqs_event(tasks), InvocationContext("lkml-consumer"))

    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == ["m1", "m2", "m3", "m4", "m5"]
    asked = {r.path for r in proxy.requests}
    assert asked == {f"/{t.list_name}{thread_path(t.anchor)}" for t in tasks[:4]}
    with SqliteStore(store_path(env)) as store:
        assert store.discussions.get_discussion(good.patch_ids[0]) is not None
        assert all(store.discussions.get_discussion(t.patch_ids[0]) is None for t in tasks[4:])

    # SQS hands them back later; the next invocation asks lore afresh.
    response = consumer.fetch_discussions(sqs_event(tasks[4:]), InvocationContext("lkml-consumer"))
    assert response["batchItemFailures"] == []


class ThreadCounter:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def threads(self, done: int, total: int) -> None:
        self.seen.append((done, total))


def test_fetch_discussions_tells_its_progress_thread_by_thread(template, public_inbox, tmp_path):
    env = make_env(template, tmp_path, public_inbox.url)
    counter = ThreadCounter()
    with SqliteStore(store_path(env)) as store, HttpClient(interval=0) as http:
        planned = len(plan_threads(store))
        FetchDiscussions(store, LoreClient(http, public_inbox.url), progress=counter).run()
    assert counter.seen == [(done, planned) for done in range(planned + 1)]

# SPDX-License-Identifier: GPL-2.0-or-later
"""Run records on both stores: a run whose process is gone is closed by the next job's start,
one that may still be alive is left alone, and each job's last success is kept."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from lkml_assistant.repositories.base import Store
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.runs import LAMBDA_LIMIT, close_gone_runs, this_process
from lkml_assistant.services.summary import JobSummary, recorded_run

START = datetime(2025, 7, 1, 10, tzinfo=UTC)


def dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_killed_run_is_interrupted_by_the_next_job_and_a_live_one_is_not(store: Store):
    runs = store.runs
    here = socket.gethostname()
    killed = runs.start_run("fetch-patches", START, owner=f"pid {dead_pid()} on {here}")
    mine = runs.start_run("review-intel", START, owner=this_process().name)
    elsewhere = runs.start_run("refresh-discussions", START, owner="pid 1 on another-host")
    timed_out = runs.start_run(
        "fetch-discussions", START, owner="lambda lkml-jobs", lease_until=START + LAMBDA_LIMIT
    )
    leased = runs.start_run(
        "schedule:hourly",
        START + timedelta(minutes=10),
        owner="lambda lkml-jobs 2",
        lease_until=START + timedelta(minutes=10) + LAMBDA_LIMIT,
    )
    legacy = runs.start_run("schedule:daily", START)
    assert {r.id for r in runs.running_runs()} == {
        killed,
        mine,
        elsewhere,
        timed_out,
        leased,
        legacy,
    }
    assert str(runs.last_runs()["fetch-patches"].owner).startswith("pid ")

    now = START + timedelta(minutes=20)
    closed = close_gone_runs(runs, now)

    assert {r.id for r in closed} == {killed, timed_out, legacy}
    assert [r.id for r in runs.running_runs()] == [mine, elsewhere, leased]
    last = runs.last_runs()
    gone = last["fetch-patches"]
    assert (gone.status, gone.finished_at, gone.started_at) == ("interrupted", now, START)
    assert "is gone" in gone.summary["interrupted"]
    assert "lease" in last["fetch-discussions"].summary["interrupted"]
    assert last["schedule:daily"].status == "interrupted"
    assert last["review-intel"].status == "running"
    # Closing is conditional: a run that ended meanwhile keeps its own ending.
    runs.finish_run(mine, finished_at=now, status="ok", summary={"written": 1})
    assert not runs.interrupt_run(mine, finished_at=now, reason="too late")
    assert runs.last_runs()["review-intel"].status == "ok"
    # /stats shows the truth.
    stats = QueryService(store).stats()
    assert stats.last_runs["fetch-patches"].status == "interrupted"


def test_recorded_run_closes_what_a_killed_process_left(store: Store):
    here = socket.gethostname()
    killed = store.runs.start_run("fetch-patches", START, owner=f"pid {dead_pid()} on {here}")
    with recorded_run(store, JobSummary(job="review-intel")):
        assert killed not in {r.id for r in store.runs.running_runs()}
    last = store.runs.last_runs()
    assert last["fetch-patches"].status == "interrupted"
    assert last["review-intel"].status == "ok"
    assert last["review-intel"].owner == this_process().name
    assert store.runs.running_runs() == []


def test_last_success_of_each_job(store: Store):
    runs = store.runs
    assert runs.last_successes() == {}
    first = runs.start_run("fetch-patches", START, owner="x")
    runs.finish_run(first, finished_at=START + timedelta(minutes=1), status="ok", summary={})
    later = runs.start_run("fetch-patches", START + timedelta(hours=1), owner="x")
    runs.finish_run(later, finished_at=START + timedelta(hours=1), status="failed", summary={})
    other = runs.start_run("refresh-discussions", START, owner="x")
    assert set(runs.last_successes()) == {"fetch-patches"}
    best = runs.last_successes()["fetch-patches"]
    assert (best.id, best.status, best.finished_at) == (first, "ok", START + timedelta(minutes=1))
    # Runs ending out of order: the newest started one is the last success.
    newer = runs.start_run("refresh-discussions", START + timedelta(hours=2), owner="x")
    runs.finish_run(newer, finished_at=START + timedelta(hours=2), status="ok", summary={})
    runs.finish_run(other, finished_at=START + timedelta(hours=3), status="ok", summary={})
    assert runs.last_successes()["refresh-discussions"].id == newer

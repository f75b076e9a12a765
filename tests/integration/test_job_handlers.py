# SPDX-License-Identifier: GPL-2.0-or-later
"""The Lambda job handlers, invoked in-process with real-shaped EventBridge events."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lkml_assistant.functions import clock, jobs
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.summary import JobFailedError
from tests.lambda_runtime import InvocationContext
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration


def scheduled_event(detail: dict | None = None) -> dict:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-25T03:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/lkml-dev-daily-full"],
        "detail": detail or {},
    }


# A moment just after the recorded dump's last patch (2025-12-29), whatever the wall clock says.
NOW = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def pinned_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def steps(result: dict) -> dict[str, dict]:
    return {part["job"]: part for part in result["jobs"]}


def test_scheduled_recipes_run_their_steps(tmp_path, monkeypatch, public_inbox, pinned_clock):
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        monkeypatch.setenv("LKML_PATCHWORK_URL", server.url)
        monkeypatch.setenv("LKML_LORE_URL", public_inbox.url)
        monkeypatch.setenv("LKML_PROJECTS", "netfilter-devel")
        monkeypatch.setenv("LKML_STORE", f"sqlite:///{tmp_path}/s.sqlite3")
        monkeypatch.setenv("LKML_REQUEST_INTERVAL", "0")
        monkeypatch.setenv("LKML_BACKFILL_DAYS", "3650")
        # No work queue configured: the threads are fetched in the same invocation.
        first = jobs.handler(scheduled_event({"recipe": "backfill"}), InvocationContext())
        assert first["job"] == "backfill" and first["status"] == "ok"
        done = steps(first)
        assert list(done) == ["fetch-patches", "fetch-discussions", "review-intel"]
        assert done["fetch-patches"]["patches_seen"] == 2060
        assert done["fetch-discussions"]["threads_fetched"] > 500
        assert done["review-intel"]["chains"] > 0
        # An hour later nothing is new: nothing read from lore, nothing written.
        again = jobs.handler(scheduled_event({"recipe": "hourly"}), InvocationContext())
        assert again["written"] == 0 and again["status"] == "ok"
        assert steps(again)["fetch-discussions"]["threads_fetched"] == 0
        weekly = jobs.handler(scheduled_event({"recipe": "weekly", "days": 7}), InvocationContext())
        assert list(steps(weekly)) == ["refresh-discussions", "review-intel"]
        refresh = steps(weekly)["refresh-discussions"]
        assert refresh["threads_fetched"] > 0 and refresh["errors"] == 0
        assert weekly["status"] == "ok"


@pytest.mark.parametrize(
    "detail",
    [{}, {"recipe": "nightly"}, {"recipe": "daily", "ful": True}, {"recipe": "hourly", "days": 0}],
)
def test_a_bad_event_detail_is_refused(detail):
    with pytest.raises(ValidationError):
        jobs.handler(scheduled_event(detail), InvocationContext())


def test_a_recipe_that_could_not_do_its_work_raises_after_recording_it(
    tmp_path, monkeypatch, pinned_clock
):
    """Patchwork unreachable for every project: the handler raises (so that Lambda counts an
    error, retries and delivers to the on-failure queue), but only once the run is recorded."""
    with socket.socket() as closed:  # a port nothing listens on: connections are refused
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    store_path = tmp_path / "s.sqlite3"
    monkeypatch.setenv("LKML_PATCHWORK_URL", dead)
    monkeypatch.setenv("LKML_LORE_URL", dead)
    monkeypatch.setenv("LKML_PROJECTS", "netfilter-devel")
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{store_path}")
    monkeypatch.setenv("LKML_HTTP_RETRIES", "0")
    monkeypatch.setenv("LKML_BACKOFF_BASE", "0")
    with pytest.raises(JobFailedError, match="fetch-patches failed") as raised:
        jobs.handler(scheduled_event({"recipe": "hourly"}), InvocationContext())
    assert [part.job for part in raised.value.failed] == ["fetch-patches"]
    with SqliteStore(store_path) as store:
        runs = store.runs.last_runs()
    assert runs["fetch-patches"].status == "failed"
    assert "netfilter-devel" in runs["fetch-patches"].summary["error_messages"][0]
    assert runs["review-intel"].status == "ok"

# SPDX-License-Identifier: GPL-2.0-or-later
"""`lkml-assistant serve` end to end: the scheduler and the API in one process, against the
Patchwork test server (the real netfilter-devel dump) and a real public-inbox.

The scheduler's clock is a manual one that the tests move: an "hour later" costs nothing.
What a user would notice: a first start fills the store, a maintainer's action upstream shows
in the API after the next hourly run, the API keeps answering when upstream is down, and the
service stops cleanly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lkml_assistant.cli import main
from lkml_assistant.config import load_settings
from lkml_assistant.local.scheduler import RECORD_PREFIX, ManualClock
from lkml_assistant.local.service import LocalService, jobs_lock
from lkml_assistant.local.workers import WorkerError, WorkerPool
from lkml_assistant.sources.mail import read_mbox_archive
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"
# The dump is from 2025; the clock starts after it, on a Monday morning.
START = datetime(2025, 12, 1, 9, 20, tzinfo=UTC)
# Patch 985 has the longest review thread of the dump: the patch and 28 replies.
PATCH = 985
REPO_ROOT = Path(__file__).resolve().parents[2]
# Nothing listens on the discard port of loopback: an upstream that cannot be reached.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def patchwork():
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        yield server


def settings_for(store: Path, patchwork_url: str, lore_url: str, **extra):
    return load_settings(
        patchwork_url=patchwork_url,
        lore_url=lore_url,
        projects=[PROJECT],
        store=f"sqlite:///{store}",
        request_interval=0,
        backfill_days=400,
        http_retries=1,
        backoff_base=0.05,
        backoff_max=0.1,
        http_timeout=5,
        **extra,
    )


def started(settings, clock: ManualClock) -> LocalService:
    service = LocalService(settings, clock=clock, host="127.0.0.1", port=0, shutdown_grace=5)
    service.start()
    return service


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that has exited but was not reaped yet is a zombie: gone all the same.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def job_owners(store: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        return {owner for (owner,) in db.execute("SELECT DISTINCT owner FROM runs")}


def test_serve_backfills_then_keeps_the_api_current(patchwork, public_inbox, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lkml_assistant")
    patchwork.reset()
    store = tmp_path / "store.sqlite3"
    # Two HTTP workers, each on a connection of its own, read what the jobs here write.
    settings = settings_for(store, patchwork.url, public_inbox.url, api_workers=2)
    clock = ManualClock(START)
    service = started(settings, clock)
    workers = service.worker_pids
    assert len(workers) == 2 and os.getpid() not in workers
    api = httpx.Client(base_url=service.url, timeout=10)
    try:
        # The API answers while the backfill runs …
        assert api.get("/api/health").json()["status"] == "ok"
        clock.wait_for_idle()
        # … and once it is done, holds what the peers hold.
        backfill = service.scheduler.history[0]
        assert backfill.name == "backfill"
        assert [s.job for s in backfill.summaries] == [
            "fetch-patches",
            "fetch-discussions",
            "review-intel",
        ]
        assert all(s.completed for s in backfill.summaries)
        stats = api.get("/api/stats").json()
        assert stats["patches"] == len(patchwork.data.list_patches())
        patch = api.get(f"/api/patches/{PATCH}").json()
        upstream = patchwork.data.get_patch(PATCH)
        assert upstream is not None
        assert (patch["name"], patch["state"]) == (upstream["name"], upstream["state"])
        discussion = api.get(f"/api/patches/{PATCH}/discussion").json()
        # The whole thread public-inbox serves: the patch and its 28 replies (more when an
        # earlier test of the session delivered some).
        mbox = httpx.get(f"{public_inbox.inbox_url(PROJECT)}{patch['msgid']}/t.mbox.gz")
        held = len(read_mbox_archive(mbox.content).messages)
        assert discussion["message_count"] == held >= 29
        assert "backfill: fetch-discussions:" in caplog.text

        # A maintainer accepts the patch; nothing changes until the next hourly run …
        patchwork.data.set_state(PATCH, "accepted")
        clock.advance(timedelta(minutes=39))  # 09:59
        clock.wait_for_idle()
        assert api.get(f"/api/patches/{PATCH}").json()["state"] == upstream["state"]
        clock.advance(timedelta(minutes=1))  # 10:00
        clock.wait_for_idle()
        assert api.get(f"/api/patches/{PATCH}").json()["state"] == "accepted"
        hourly = service.scheduler.history[-1]
        assert hourly.name == "hourly"
        assert [s.job for s in hourly.summaries] == [
            "fetch-patches",
            "fetch-discussions",
            "review-intel",
        ]
        # Incremental: the events and the newest patches, not the whole project again.
        assert hourly.summaries[0].requests <= 3
        assert "hourly: fetch-patches:" in caplog.text
        last = api.get("/api/stats").json()["last_runs"][RECORD_PREFIX + "hourly"]
        assert last["status"] == "ok"
        assert last["started_at"].startswith("2025-12-01T10:00:00")
        # Many requests at once, each on a connection of its own: all answered.
        with ThreadPoolExecutor(8) as pool:
            answers = pool.map(
                lambda _: httpx.get(f"{service.url}/api/patches/{PATCH}").status_code, range(32)
            )
            assert set(answers) == {200}
        # The jobs ran in serve's process alone, never in a worker.
        assert job_owners(store) == {f"pid {os.getpid()} on {socket.gethostname()}"}
    finally:
        clean = service.stop()
        api.close()
        patchwork.reset()
    assert clean
    # Stopped: the port no longer answers, and the scheduler thread is gone.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{service.url}/api/health", timeout=2)
    assert service.scheduler.join(0)
    assert not [t for t in threading.enumerate() if t.name in ("scheduler", "api")]
    assert not [pid for pid in workers if process_alive(pid)]

    # A restart five hours later catches the missed hourly runs up once, without a backfill.
    clock.advance(timedelta(hours=5, minutes=10))
    again = started(settings, clock)
    try:
        clock.wait_for_idle()
        assert [run.name for run in again.scheduler.history] == ["hourly"]
        assert again.scheduler.next_due["hourly"] == datetime(2025, 12, 1, 16, 0, tzinfo=UTC)
    finally:
        assert again.stop()


def test_upstream_down_the_api_still_serves_and_the_log_says_it_will_retry(
    tmp_path, caplog, patchwork, public_inbox
):
    caplog.set_level(logging.INFO, logger="lkml_assistant")
    patchwork.reset()
    # Patchwork drops every connection without an answer, as a host that is down would.
    patchwork.faults.add(".", "reset", times=10_000)
    # The API in this process, beside the jobs, on their store connection.
    settings = settings_for(
        tmp_path / "store.sqlite3", patchwork.url, public_inbox.url, api_workers=1
    )
    clock = ManualClock(START)
    service = started(settings, clock)
    assert service.worker_pids == []
    try:
        clock.wait_for_idle()
        # Nothing ever synced: a monitor sees it, while the API still answers.
        health = httpx.get(f"{service.url}/api/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["reasons"] == [
            "fetch-patches: never succeeded; its last run ended failed"
        ]
        assert httpx.get(f"{service.url}/api/patches").status_code == 200
        warning = [r.getMessage() for r in caplog.records if "will retry" in r.getMessage()]
        assert len(warning) == 1
        assert warning[0].startswith("backfill: fetch-patches did not complete (")
        assert warning[0].endswith(
            "the API keeps serving what the store holds; will retry at 2025-12-01 10:00 UTC"
        )
        assert not any(record.exc_info for record in caplog.records)

        # Patchwork is back: the next hourly run does the backfill.
        patchwork.faults.clear()
        clock.advance(timedelta(minutes=40))
        clock.wait_for_idle()
        assert service.scheduler.history[-1].status == "ok"
        assert httpx.get(f"{service.url}/api/patches/{PATCH}").status_code == 200
        assert httpx.get(f"{service.url}/api/health").json()["status"] == "ok"
    finally:
        assert service.stop()
        patchwork.reset()


def test_python_m_serve_answers_health_and_exits_0_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "LKML_PATCHWORK_URL": UNREACHABLE,
        "LKML_LORE_URL": UNREACHABLE,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "LKML_HTTP_RETRIES": "0",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_CONFIG": str(tmp_path / "none.toml"),
    }
    (tmp_path / "none.toml").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lkml_assistant", "serve", "--port", "0"],
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if " API at " in line:
                url = line.split(" API at ", 1)[1].split()[0]
        assert url, "".join(lines)
        health = httpx.get(f"{url}/api/health", timeout=5)
        # ok, or degraded once the backfill has failed (upstream is unreachable): both 200.
        assert health.status_code == 200 and health.json()["store"] == "reachable"
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=20)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "SIGTERM: stopping" in output
    assert "Traceback" not in output


def test_the_workers_end_with_serve_even_when_it_is_killed(tmp_path):
    """No API worker outlives serve: not after SIGTERM, not after SIGKILL, which serve cannot
    handle (a worker notices that its stdin, serve's pipe, has closed)."""
    env = {
        **os.environ,
        "LKML_PATCHWORK_URL": UNREACHABLE,
        "LKML_LORE_URL": UNREACHABLE,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "LKML_HTTP_RETRIES": "0",
        "LKML_CONFIG": str(tmp_path / "none.toml"),
    }
    (tmp_path / "none.toml").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lkml_assistant", "serve", "--port", "0", "--workers", "2"],
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if " API at " in line:
                assert "2 worker processes" in line
                url = line.split(" API at ", 1)[1].split()[0]
                break
        else:
            raise AssertionError("serve did not start")
        workers = [
            int(pid)
            for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        ]
        assert len(workers) == 2
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if process_alive(pid)]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_worker_that_cannot_serve_fails_the_start_and_leaves_no_process(tmp_path):
    """A socket no HTTP server can use (UDP): each worker exits before it is ready; the start
    says so, with the status, and the other worker is stopped too."""
    settings = load_settings(store=f"sqlite:///{tmp_path / 'store.sqlite3'}", api_workers=2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unusable:
        pool = WorkerPool(settings, unusable, 2)
        with pytest.raises(WorkerError, match=r"exited with status 1 before it was ready"):
            pool.start()
    assert pool.procs == []


def test_backfill_command_mirrors_the_window_once_and_respects_a_running_serve(
    patchwork, public_inbox, tmp_path, monkeypatch, capsys
):
    patchwork.reset()
    env = {
        "LKML_PATCHWORK_URL": patchwork.url,
        "LKML_LORE_URL": public_inbox.url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "LKML_REQUEST_INTERVAL": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The dump is from 2025: a window of ten years holds all of it.
    assert main(["backfill", "--days", "3650", "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["job"] == "backfill"
    assert [job["job"] for job in summary["jobs"]] == [
        "fetch-patches",
        "fetch-discussions",
        "review-intel",
    ]
    assert summary["jobs"][2]["chains"] > 20
    assert summary["jobs"][0]["patches_seen"] == len(patchwork.data.list_patches())
    assert summary["jobs"][1]["threads_fetched"] > 700
    assert summary["written"] == sum(job["written"] for job in summary["jobs"])
    assert summary["errors"] == 0

    # While serve runs the jobs of this store, backfill refuses instead of racing it.
    with jobs_lock(load_settings()):
        assert main(["backfill", "--days", "1", "-q"]) == 1
    assert "another lkml-assistant process runs the jobs of this store" in capsys.readouterr().err

# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchPatches end to end: the CLI against the Patchwork API test server, into SQLite.

What a user would notice: every patch of the real netfilter-devel dump arrives, a second run
costs two requests and writes nothing, maintainers' state changes show up on the next run,
and faults upstream neither lose nor duplicate anything.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lkml_assistant.cli import main
from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"


def cli_env(server_url: str, store: Path, **extra: str) -> dict[str, str]:
    env = {
        "LKML_PATCHWORK_URL": server_url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{store}",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_BACKOFF_BASE": "0.05",
        "LKML_BACKOFF_MAX": "5",
        "LKML_HTTP_TIMEOUT": "5",
    }
    env.update(extra)
    return env


def patch_count(db: Store, project: str) -> int:
    """How many patches of ``project`` the store holds, by its own counters."""
    counts = db.stats.counts().patches_by_project_state
    return sum(n for (name, _), n in counts.items() if name == project)


def run_cli(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, dict]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["fetch-patches", "--json", "-q", *args])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def store_state(path: Path) -> dict[str, list]:
    """Everything a user can see in the store, without our own bookkeeping timestamps."""
    conn = sqlite3.connect(path)
    try:
        return {
            "patches": conn.execute("SELECT id, data FROM patches ORDER BY id").fetchall(),
            "series": conn.execute("SELECT id, data FROM series ORDER BY id").fetchall(),
            "projects": conn.execute("SELECT link_name, data FROM projects").fetchall(),
            "cursors": conn.execute("SELECT project, data FROM sync_cursors").fetchall(),
        }
    finally:
        conn.close()


@pytest.fixture(scope="module")
def netfilter():
    return PatchworkData.from_dump()


@pytest.fixture
def server(netfilter):
    with run_patchwork_server(netfilter) as server:
        yield server
        server.data.reset()


def test_first_run_mirrors_the_whole_project(server, tmp_path, monkeypatch, capsys):
    store = tmp_path / "s.sqlite3"
    code, summary = run_cli(monkeypatch, capsys, cli_env(server.url, store))
    assert code == 0
    assert summary["job"] == "fetch-patches"
    assert summary["patches_seen"] == 2060 and summary["written"] == 2060 + 829 + 0
    assert summary["errors"] == 0 and summary["skipped"] == 0
    assert summary["pages"] == 9 + 4  # 2060 patches and 829 series at 250 a page
    for key in ("requests", "written", "unchanged", "skipped", "errors", "seconds", "pages"):
        assert key in summary
    with SqliteStore(store) as db:
        assert patch_count(db, PROJECT) == 2060
        patch = db.patches.get_patch(985)
        assert patch is not None and patch.msgid == "20250702174725.11371-1-phil@nwl.cc"
        series = db.series.get_series(373)
        assert series is not None and len(series.patch_ids) == 7 and series.cover_letter


def test_second_run_with_nothing_new_costs_two_requests_and_no_writes(
    server, tmp_path, monkeypatch, capsys
):
    env = cli_env(server.url, tmp_path / "s.sqlite3")
    run_cli(monkeypatch, capsys, env)
    code, summary = run_cli(monkeypatch, capsys, env)
    assert code == 0
    assert summary["requests"] == 2
    assert summary["written"] == 0


def test_maintainer_actions_are_picked_up_by_the_next_run(server, tmp_path, monkeypatch, capsys):
    store = tmp_path / "s.sqlite3"
    env = cli_env(server.url, store)
    run_cli(monkeypatch, capsys, env)
    server.data.set_state(985, "changes-requested")
    server.data.set_state(10, "under-review")
    server.data.set_state(10, "accepted")
    server.data.set_delegate(
        11,
        {
            "id": 1,
            "username": "pablo",
            "first_name": "Pablo",
            "last_name": "Neira Ayuso",
            "email": "pablo@netfilter.org",
        },
    )
    code, summary = run_cli(monkeypatch, capsys, env)
    assert code == 0
    assert summary["written"] == 3
    assert summary["requests"] == 2  # events and patches: the events carry the new states
    with SqliteStore(store) as db:
        assert db.patches.get_patch(985).state == "changes-requested"  # type: ignore[union-attr]
        assert db.patches.get_patch(10).state == "accepted"  # type: ignore[union-attr]
        delegate = db.patches.get_patch(11).delegate  # type: ignore[union-attr]
        assert delegate is not None and delegate.email == "pablo@netfilter.org"


def test_archiving_has_no_event_so_a_full_run_picks_it_up(server, tmp_path, monkeypatch, capsys):
    store = tmp_path / "s.sqlite3"
    env = cli_env(server.url, store)
    run_cli(monkeypatch, capsys, env)
    server.data.set_archived(12, True)
    _, summary = run_cli(monkeypatch, capsys, env)
    assert summary["written"] == 0
    _, summary = run_cli(monkeypatch, capsys, env, "--full")
    assert summary["written"] == 1
    with SqliteStore(store) as db:
        assert db.patches.get_patch(12).archived  # type: ignore[union-attr]


def test_late_mail_dated_before_the_cursor_is_still_found(server, tmp_path, monkeypatch, capsys):
    store = tmp_path / "s.sqlite3"
    env = cli_env(server.url, store)
    run_cli(monkeypatch, capsys, env)
    new_id = server.data.add_patch(project=PROJECT, date="2025-03-01T10:00:00", name="late mail")
    code, _ = run_cli(monkeypatch, capsys, env)
    assert code == 0
    with SqliteStore(store) as db:
        late = db.patches.get_patch(new_id)
        assert late is not None and late.name == "late mail"
        assert late.series and db.series.get_series(late.series[0].id) is not None


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("429", {"retry_after": 1}),
        ("502", {}),
        ("503", {}),
        ("slow", {"delay": 7}),  # longer than LKML_HTTP_TIMEOUT=5
        ("malformed", {}),
    ],
)
def test_faults_are_survived_with_nothing_lost_or_duplicated(
    server, tmp_path, monkeypatch, capsys, kind, options
):
    server.faults.add(r"/api/1\.3/patches/", kind, times=2, **options)
    store = tmp_path / "s.sqlite3"
    code, summary = run_cli(monkeypatch, capsys, cli_env(server.url, store))
    assert code == 0, summary
    assert summary["errors"] == 0
    with SqliteStore(store) as db:
        assert patch_count(db, PROJECT) == 2060
    statuses = [entry[3] for entry in server.requests if "/patches/" in entry[1]]
    # Nine pages, plus the two faulty answers (a slow one is logged only once it is sent).
    assert statuses.count(200) >= 9
    if kind != "slow":
        assert len(statuses) == 9 + 2


def test_upstream_down_fails_clearly_and_a_later_run_recovers(
    server, tmp_path, monkeypatch, capsys
):
    store = tmp_path / "s.sqlite3"
    env = cli_env(server.url, store, LKML_HTTP_RETRIES="2")
    server.faults.add(r"/api/1\.3/patches/", "502", times=3)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["fetch-patches", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    assert "/api/1.3/patches/" in captured.err and "502" in captured.err
    assert "Traceback" not in captured.err
    code, _ = run_cli(monkeypatch, capsys, env)
    assert code == 0
    with SqliteStore(store) as db:
        assert patch_count(db, PROJECT) == 2060


def test_malformed_objects_are_skipped_one_by_one(server, tmp_path, monkeypatch, capsys):
    server.data.corrupt_patch(20, {"msgid": None})
    code, summary = run_cli(monkeypatch, capsys, cli_env(server.url, tmp_path / "s.sqlite3"))
    assert code == 0
    assert summary["skipped"] == 1 and summary["skip_reasons"] == {"malformed patch": 1}
    assert summary["written"] == 2059 + 829


def test_unknown_project_is_an_error(server, tmp_path, monkeypatch, capsys):
    env = cli_env(server.url, tmp_path / "s.sqlite3", LKML_PROJECTS="no-such-list")
    code, summary = run_cli(monkeypatch, capsys, env)
    assert code == 1
    assert "no-such-list" in summary["error_messages"][0]


def test_bad_input_is_refused_with_a_clear_message(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(SystemExit) as caught:
        main(["fetch-patches", "--since", "last tuesday"])
    assert caught.value.code == 2
    assert "not an ISO date" in capsys.readouterr().err
    monkeypatch.setenv("LKML_PATCHWORK_URL", "patchwork.kernel.org")
    assert main(["fetch-patches"]) == 2
    assert "LKML_PATCHWORK_URL" in capsys.readouterr().err


def _wait_for_requests(server, count: int, deadline: float) -> None:
    while len(server.requests) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(server.requests)} requests reached the server")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_run_killed_half_way_then_restarted_ends_in_the_same_store(tmp_path):
    data = PatchworkData.synthetic(3000, project="synthetic")
    with run_patchwork_server(data) as server:
        base = cli_env(
            server.url, tmp_path / "unused", LKML_PROJECTS="synthetic", LKML_PAGE_SIZE="50"
        )
        command = [sys.executable, "-m", "lkml_assistant", "fetch-patches", "--json", "-q"]

        reference = tmp_path / "reference.sqlite3"
        env = {**os.environ, **base, "LKML_STORE": f"sqlite:///{reference}"}
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)

        killed = tmp_path / "killed.sqlite3"
        env = {**os.environ, **base, "LKML_STORE": f"sqlite:///{killed}"}
        server.reset_log()
        # Slow every answer a little so the kill lands mid-crawl, after some pages were written.
        server.faults.add(r"/api/", "slow", times=1000, delay=0.05)
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_for_requests(server, 20, time.monotonic() + 120)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert process.returncode == -signal.SIGKILL
        half = sqlite3.connect(killed).execute("SELECT COUNT(*) FROM patches").fetchone()[0]
        assert 0 < half < 3000
        server.faults.clear()
        done = subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
        assert json.loads(done.stdout.decode().splitlines()[-1])["errors"] == 0

    assert store_state(killed) == store_state(reference)


@pytest.mark.slow
def test_a_crawl_of_thousands_of_patches_over_many_pages(tmp_path, monkeypatch, capsys):
    data = PatchworkData.synthetic(5000, project="synthetic")
    with run_patchwork_server(data) as server:
        env = cli_env(
            server.url, tmp_path / "s.sqlite3", LKML_PROJECTS="synthetic", LKML_PAGE_SIZE="100"
        )
        code, summary = run_cli(monkeypatch, capsys, env)
        assert code == 0
        assert summary["patches_seen"] == 5000 and summary["skipped"] == 0
        assert summary["pages"] >= 50
        with SqliteStore(tmp_path / "s.sqlite3") as db:
            assert patch_count(db, "synthetic") == 5000
        code, summary = run_cli(monkeypatch, capsys, env)
        assert summary["written"] == 0 and summary["requests"] == 2

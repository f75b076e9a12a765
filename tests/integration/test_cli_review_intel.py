# SPDX-License-Identifier: GPL-2.0-or-later
"""The CLI's fetches leave the review intelligence current: chains and statuses at once.

A user who runs ``fetch-patches`` and ``fetch-discussions`` and then ``serve`` sees the version
chains and review statuses of what was fetched, without waiting for a scheduled run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from lkml_assistant.cli import main
from lkml_assistant.config import load_settings
from lkml_assistant.local.scheduler import ManualClock
from lkml_assistant.local.service import LocalService
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

# The eight versions of the VLAN series of the dump (v1 ... v8), linked by review-intel.
VLAN_CHAIN = [150, 238, 386, 429, 439, 625, 720, 733]
# Patch 55 got a Reviewed-by from Pablo in a reply (Z32-jODK1oDsAYRp@calendula).
REVIEWED_PATCH = 55


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


def test_fetching_from_the_cli_then_serving_shows_chains_and_statuses(
    tmp_path, monkeypatch, capsys, public_inbox
):
    with run_patchwork_server(PatchworkData.from_dump()) as patchwork:
        env = {
            "LKML_PATCHWORK_URL": patchwork.url,
            "LKML_LORE_URL": public_inbox.url,
            "LKML_PROJECTS": "netfilter-devel",
            "LKML_STORE": f"sqlite:///{tmp_path}/store.sqlite3",
            "LKML_REQUEST_INTERVAL": "0",
            # The dump is of 2025: a window that holds all of it, whatever today is.
            "LKML_BACKFILL_DAYS": "3650",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, patches = run(capsys, "fetch-patches")
        assert code == 0 and patches["patches_seen"] == 2060
        # The fetch's own summary line, with review-intel's nested in it.
        assert patches["review_intel"]["chains"] > 100
        code, threads = run(capsys, "fetch-discussions")
        assert code == 0 and threads["threads_fetched"] > 500
        assert threads["review_intel"]["reviews_written"] > 0
        # Nothing new: no second review-intel pass.
        code, again = run(capsys, "fetch-discussions")
        assert code == 0 and again["written"] == 0 and "review_intel" not in again

    # serve, before any scheduled run: the clock stands still at a moment no slot is due.
    service = LocalService(
        load_settings(),
        clock=ManualClock(datetime(2026, 12, 1, 12, 30, tzinfo=UTC)),
        host="127.0.0.1",
        port=0,
    )
    service.start()
    try:
        versions = httpx.get(f"{service.url}/api/series/{VLAN_CHAIN[2]}/versions").json()
        ids = [v["series_id"] for v in versions["versions"]]
        assert [sid for sid in ids if sid in VLAN_CHAIN] == VLAN_CHAIN
        assert versions["latest"] == VLAN_CHAIN[-1]
        assert {v["status"] for v in versions["versions"][:-1]} <= {"superseded", "accepted"}
        patch = httpx.get(f"{service.url}/api/patches/{REVIEWED_PATCH}").json()
        assert patch["status"]["status"] == "reviewed"
    finally:
        assert service.stop()

# SPDX-License-Identifier: GPL-2.0-or-later
"""A short, bounded load test of the served API: about 3 s, a few connections, 0 errors.

The API serves the real netfilter-devel Patchwork dump from a child interpreter on 127.0.0.1;
wrk (or, when it is not installed, a bounded httpx loop) requests a mix of lists, searches,
details and counters round-robin. Every answer must be a 2xx and no connection may fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.test_api_fuzz import filled_store
from tests.peers.api_server import serve_in_process
from tests.peers.load import run_httpx_loop, run_wrk, wrk_available
from tests.shared_data import patchwork_dump

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECONDS = 3
CONNECTIONS = 4


def load_paths() -> list[str]:
    """A mix over the dump: its first ten patches, first submitter and first series."""
    raw_patches = json.loads((patchwork_dump() / "patches.json").read_text())
    patches = [raw["id"] for raw in raw_patches[:10]]
    submitter = raw_patches[0]["submitter"]
    series = json.loads((patchwork_dump() / "series.json").read_text())[0]["id"]
    return [
        "/api/health",
        "/api/projects",
        "/api/patches",
        "/api/patches?limit=200",
        "/api/patches?project=netfilter-devel&state=accepted",
        "/api/patches?q=netfilter",
        f"/api/people/{submitter['email']}/patches",
        f"/api/series/{series}",
        "/api/stats",
        *(f"/api/patches/{pid}" for pid in patches),
    ]


def test_served_api_under_load_answers_everything(tmp_path: Path) -> None:
    pytest.importorskip("lkml_assistant.api.app")
    path = tmp_path / "store.sqlite3"
    filled_store(path).close()
    paths = load_paths()
    with serve_in_process(path) as base_url:
        if wrk_available():
            result = run_wrk(base_url, paths, seconds=SECONDS, connections=CONNECTIONS)
        else:
            result = run_httpx_loop(base_url, paths, seconds=SECONDS, connections=CONNECTIONS)
    print(
        f"{result.tool}: {result.requests} requests, {result.requests_per_second:.0f} req/s, "
        f"non-2xx {result.non_2xx}, socket errors {result.socket_errors} {result.errors}"
    )
    assert result.requests > 0
    assert result.non_2xx == 0, f"{result.non_2xx} non-2xx answers under load"
    assert result.socket_errors == 0, f"socket errors under load: {result.errors}"


def test_served_api_keeps_answering_with_many_connections(tmp_path: Path) -> None:
    """16 concurrent connections for 2 s: every request answered, /health still fine after."""
    pytest.importorskip("lkml_assistant.api.app")
    path = tmp_path / "store.sqlite3"
    filled_store(path).close()
    paths = load_paths()
    with serve_in_process(path) as base_url:
        if wrk_available():
            result = run_wrk(base_url, paths, seconds=2, connections=16, threads=2)
        else:
            result = run_httpx_loop(base_url, paths, seconds=2, connections=16)
        health: int | str
        try:
            health = httpx.get(f"{base_url}/api/health", timeout=5).status_code
        except httpx.HTTPError as exc:
            health = repr(exc)
    print(f"{result.tool}: {result.requests} requests with 16 connections; /health {health}")
    assert result.requests > 0, "no request answered with 16 concurrent connections (wedged)"
    assert health == 200, f"/health after 16 concurrent connections: {health}"
    assert result.non_2xx == 0 and result.socket_errors == 0, result

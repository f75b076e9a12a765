# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchPatches: what a steady-state run costs, and where a full crawl's time goes.

The Patchwork test server runs in its own process (so its work does not share our GIL):

1. Full crawl of the real netfilter-devel dump (2,060 patches, 829 series) and of 20,000
   synthetic patches, split into time spent waiting for the server and our own work
   (mapping, validation, SQLite writes). Baseline measured in the same run: a bare httpx walk
   of the same pages that only decodes the JSON.
2. Steady state: a second run with nothing new upstream. Target: at most 2 requests per
   project and 0 writes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import httpx

from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.fetch_patches import FetchPatches
from lkml_assistant.sources.http import HttpClient
from lkml_assistant.sources.patchwork import PatchworkClient

REPO = Path(__file__).resolve().parent.parent
REPEATS = 3
# Real Patchwork 3.2.1 on this kind of machine served a page of 250 patches in 262 ms (p50).
REAL_PATCHWORK_PAGE_SECONDS = 0.262


def start_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.patchwork_server", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    origin = line.split(" at ", 1)[1].split("/api/", 1)[0]
    return process, origin


def bare_walk(origin: str, project: str) -> tuple[float, int]:
    started = time.perf_counter()
    pages = 0
    with httpx.Client() as client:
        for kind in ("patches", "series"):
            url: str | None = f"{origin}/api/1.3/{kind}/?project={project}&per_page=250&order=id"
            while url:
                response = client.get(url)
                json.loads(response.content)
                pages += 1
                url = response.links.get("next", {}).get("url")
    return time.perf_counter() - started, pages


def our_crawl(origin: str, project: str, path: Path) -> dict[str, float]:
    http = HttpClient(interval=0)
    client = PatchworkClient(http, f"{origin}/api/1.3")
    with SqliteStore(path) as store:
        started = time.perf_counter()
        summary = FetchPatches(store, client, server_tz=UTC).run([project])
        total = time.perf_counter() - started
        waiting = http.stats.seconds_waiting
        steady = FetchPatches(store, client, server_tz=UTC).run([project])
    http.close()
    return {
        "total": total,
        "waiting": waiting,
        "own": total - waiting,
        "patches": summary.patches_seen,
        "steady_requests": steady.requests,
        "steady_written": steady.written,
    }


def measure(
    label: str, project: str, server_args: tuple[str, ...], workdir: Path
) -> dict[str, float]:
    process, origin = start_server(*server_args)
    try:
        bare, ours = [], []
        for round_no in range(REPEATS):
            bare.append(bare_walk(origin, project)[0])
            ours.append(our_crawl(origin, project, workdir / f"{label}-{round_no}.sqlite3"))
    finally:
        process.terminate()
        process.wait()
    total = statistics.median(r["total"] for r in ours)
    own = statistics.median(r["own"] for r in ours)
    waiting = statistics.median(r["waiting"] for r in ours)
    figures = {
        f"{label}_patches": ours[0]["patches"],
        f"{label}_crawl_seconds": round(total, 3),
        f"{label}_waiting_seconds": round(waiting, 3),
        f"{label}_own_seconds": round(own, 3),
        f"{label}_own_share": round(own / total, 3),
        f"{label}_bare_walk_seconds": round(statistics.median(bare), 3),
        f"{label}_crawl_vs_bare_walk": round(total / statistics.median(bare), 2),
        f"{label}_steady_requests": max(r["steady_requests"] for r in ours),
        f"{label}_steady_written": max(r["steady_written"] for r in ours),
    }
    pages = -(-ours[0]["patches"] // 250)
    projected = own / (own + pages * REAL_PATCHWORK_PAGE_SECONDS)
    figures[f"{label}_own_share_vs_real_patchwork"] = round(projected, 3)
    print(
        f"{label}: full crawl of {ours[0]['patches']:.0f} patches in {total:.2f} s "
        f"(median of {REPEATS}): waiting for the server {waiting:.2f} s, our own work "
        f"{own:.2f} s = {own / total:.0%} of the crawl; a bare httpx walk of the same pages "
        f"takes {statistics.median(bare):.2f} s ({total / statistics.median(bare):.2f}x). "
        f"Against a real Patchwork answering a 250-patch page in 262 ms, our share would be "
        f"{projected:.0%}. "
        f"Steady state: {figures[f'{label}_steady_requests']} requests, "
        f"{figures[f'{label}_steady_written']} writes (target <= 2 and 0)."
    )
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures: dict[str, float] = {}
        figures.update(measure("netfilter", "netfilter-devel", (), workdir))
        figures.update(measure("synthetic", "synthetic", ("--synthetic", "20000"), workdir))
    print(json.dumps({"bench": "fetch_patches", **figures}))


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-2.0-or-later
"""REST API under load: wrk against uvicorn on 127.0.0.1, over the scale store.

The server runs in its own interpreter over :mod:`benchmarks.scale_store`'s store (100,000
patches, over 1,000,000 messages). wrk (``tests/peers/wrk.sh ensure-installed``) runs a few
seconds per mix with a few keep-alive connections, round-robin over a small set of URLs:
lists, a filtered list, a title search, patch details and discussions, stats. Reported:
requests per second, latency p50 / p99, non-2xx answers and socket errors (both must be 0).
Without wrk a bounded httpx loop stands in (its client is slower, so req/s is a lower bound).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.peers.api_server import serve_in_process
from tests.peers.load import LoadResult, run_httpx_loop, run_wrk, wrk_available

from benchmarks.scale_store import scale_store

SECONDS = 5
RUNS: tuple[tuple[str, str, int, int], ...] = (
    # (mix, name, wrk threads, connections); the most concurrent last, as they may wedge it
    ("patch detail", "1 connection", 1, 1),
    ("patch detail", "4 connections", 1, 4),
    ("mixed", "1 connection", 1, 1),
    ("mixed", "4 connections", 1, 4),
    ("patch detail", "16 connections", 2, 16),
    ("mixed", "16 connections", 2, 16),
)


def mixed_paths(manifest: dict[str, Any]) -> list[str]:
    project = manifest["projects"][0]
    submitter = next(iter(manifest["submitters"]))
    paths = [
        "/patches",
        "/patches?limit=200",
        f"/patches?project={project}&state=accepted",
        "/patches?q=pwm",
        "/stats",
        "/projects",
        f"/people/{submitter}/patches",
        "/health",
    ]
    paths += [f"/patches/{pid}" for pid in manifest["sample_patches"][:8]]
    paths += [f"/patches/{pid}/discussion" for pid in manifest["long_thread_patches"][:4]]
    paths += [f"/series/{sid}" for sid in manifest["sample_series"][:4]]
    return paths


def detail_paths(manifest: dict[str, Any]) -> list[str]:
    return [f"/patches/{pid}" for pid in manifest["sample_patches"][:50]]


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    path, manifest = scale_store()
    mixes = {"mixed": mixed_paths(manifest), "patch detail": detail_paths(manifest)}
    tool = "wrk" if wrk_available() else "httpx"
    results: dict[str, Any] = {}
    failures = 0
    stuck = ""
    with serve_in_process(path) as base_url:
        for mix, name, threads, connections in RUNS:
            paths = mixes[mix]
            if stuck:
                print(f"{mix}, {name}: not run, the server stopped answering")
                continue
            result: LoadResult
            if tool == "wrk":
                result = run_wrk(
                    base_url, paths, seconds=SECONDS, connections=connections, threads=threads
                )
            else:
                result = run_httpx_loop(base_url, paths, seconds=SECONDS, connections=connections)
            failures += 0 if result.ok else 1
            key = f"{mix}, {name}"
            print(
                f"{key:28} {result.requests_per_second:8.0f} req/s  {result.requests:6d} "
                f"requests  p50 {result.latency_p50_ms or 0:6.2f} ms  p99 "
                f"{result.latency_p99_ms or 0:6.2f} ms  non-2xx {result.non_2xx}  "
                f"socket errors {result.socket_errors}",
                flush=True,
            )
            results[key] = {
                "requests_per_second": round(result.requests_per_second, 1),
                "requests": result.requests,
                "latency_p50_ms": result.latency_p50_ms,
                "latency_p99_ms": result.latency_p99_ms,
                "non_2xx": result.non_2xx,
                "socket_errors": result.socket_errors,
            }
            if not healthy(base_url):
                stuck = f"{mix}, {name}"
                failures += 1
                print(
                    f"  the server no longer answers /health after {stuck}: wedged "
                    "(every worker thread blocked), the remaining runs are skipped"
                )
    if stuck:
        results["wedged_after"] = stuck
    print(
        f"load ({tool}, {SECONDS} s per run, {len(mixes['mixed'])} mixed URLs): "
        + ("0 errors" if not failures else f"{failures} run(s) with errors")
    )
    print(
        json.dumps(
            {
                "bench": "load",
                "tool": tool,
                "seconds_per_run": SECONDS,
                "patches": manifest["patches"],
                "messages": manifest["messages"],
                "runs": results,
                "errors": failures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

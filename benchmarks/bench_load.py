# SPDX-License-Identifier: GPL-2.0-or-later
"""`lkml-assistant serve` under load on 127.0.0.1: a mixed set of pages and JSON URLs over the
scale store (:mod:`benchmarks.scale_store`: 100,000 patches, over 1,000,000 messages).

The target: hold 500 requests/s for 30 s with 0 errors and p99 under 100 ms, with the jobs
still running once. The server is the real `serve` (scheduler included, upstream unreachable,
so its jobs fail fast), started twice in the same run:

- ``--workers 1``, the API in serve's own process: the baseline;
- ``--workers N`` (N: the default, one per CPU).

and then, on N workers, two more runs that say what the answer cache
(:mod:`lkml_assistant.api.cache`) is worth: the same mix with the cache off
(``api_cache_seconds = 0``), and a wide mix where each patch, thread and series URL is a
different one (about 5,000 URLs: most detail pages are asked for once, as a crawler would).

For each: the capacity, closed loop (wrk, 16 keep-alive connections, as fast as it answers),
then the fixed rate (:mod:`tests.peers.paced_load`, open loop, latencies from each request's
intended send time): the baseline for a shorter spell, as it cannot keep up. At the end, the
run records written meanwhile show whose process ran the jobs: serve's alone, never a worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.peers.load import run_wrk, wrk_available
from tests.peers.paced_load import PacedResult, run_paced

from benchmarks.scale_store import scale_store
from lkml_assistant.local.workers import cpu_count

RATE = 500  # requests/s to hold
SECONDS = 30
BASELINE_SECONDS = 10  # the single process falls behind: a shorter spell shows it
TARGET_P99_MS = 100.0
CAPACITY_SECONDS = 8
CAPACITY_CONNECTIONS = 16
SAMPLES = 4  # ids per template: each template below is requested equally often
WIDE_SAMPLES = 300  # ids per template in the wide mix

# The mix, one entry per URL template, each requested equally often: the pages for people and
# their JSON twins under /api. {patch}, {thread} (a patch with a 28-message discussion),
# {series}, {project} and {submitter} are filled from the scale store's sample ids.
MIX: tuple[str, ...] = (
    "/",
    "/?project={project}&state=accepted",
    "/patches/{patch}",
    "/patches/{thread}",
    "/series/{series}",
    "/people/{submitter}",
    "/api/patches",
    "/api/patches?limit=200",
    "/api/patches?project={project}&state=accepted",
    "/api/patches?q=pwm",
    "/api/patches/{patch}",
    "/api/patches/{thread}/discussion",
    "/api/series/{series}",
    "/api/series/{series}/versions",
    "/api/people/{submitter}/patches",
    "/api/stats",
    "/health",
)


def mixed_paths(manifest: dict[str, Any], mix: tuple[str, ...] = MIX) -> list[str]:
    """Every template of ``mix`` ``SAMPLES`` times, with other ids each time, interleaved."""
    submitters = list(manifest["submitters"])
    paths = []
    for k in range(SAMPLES):
        values = {
            "patch": manifest["sample_patches"][k],
            "thread": manifest["long_thread_patches"][k],
            "series": manifest["sample_series"][k],
            "project": manifest["projects"][k % len(manifest["projects"])],
            "submitter": submitters[k % len(submitters)],
        }
        paths += [template.format(**values) for template in mix]
    return paths


def wide_paths(store: Path, manifest: dict[str, Any], mix: tuple[str, ...] = MIX) -> list[str]:
    """``mix`` with ``WIDE_SAMPLES`` ids per template, drawn (seeded) from the whole store."""
    uri = f"file:{store}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        patch_ids = [row[0] for row in db.execute("SELECT id FROM patches ORDER BY id")]
        series_ids = [row[0] for row in db.execute("SELECT id FROM series ORDER BY id")]
    rng = random.Random(20261202)
    patches = rng.sample(patch_ids, WIDE_SAMPLES)
    series = rng.sample(series_ids, WIDE_SAMPLES)
    threads = manifest["long_thread_patches"]
    submitters = list(manifest["submitters"])
    paths = []
    for k in range(WIDE_SAMPLES):
        values = {
            "patch": patches[k],
            "thread": threads[k % len(threads)],
            "series": series[k],
            "project": manifest["projects"][k % len(manifest["projects"])],
            "submitter": submitters[k % len(submitters)],
        }
        paths += [template.format(**values) for template in mix]
    return paths


# --- serve in a process of its own -----------------------------------------------------------


@dataclass
class Served:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by serve and its workers."""
        total = 0.0
        for pid in (self.pid, *_children(self.pid)):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextlib.contextmanager
def serve(
    store: Path, manifest: dict[str, Any], workers: int, log: Path, *, cache: bool = True
) -> Iterator[Served]:
    """`lkml-assistant serve --workers N` on the store, stopped with SIGTERM at the end;
    ``cache=False``: with ``api_cache_seconds = 0``."""
    config = log.with_suffix(".toml")
    config.write_text("# settings from the environment\n")
    env = {
        **os.environ,
        "LKML_STORE": f"sqlite:///{store}",
        "LKML_PROJECTS": ",".join(manifest["projects"]),
        "LKML_PATCHWORK_URL": "http://127.0.0.1:9",  # nothing listens: the jobs fail fast
        "LKML_LORE_URL": "http://127.0.0.1:9",
        "LKML_HTTP_RETRIES": "0",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_CONFIG": str(config),
    }
    if not cache:
        env["LKML_API_CACHE_SECONDS"] = "0"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lkml_assistant", "serve", "--port=0", f"--workers={workers}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Served(_wait_for_url(proc, log), proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_url(proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r" API at (http://\S+) ", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"serve did not start; see {log}")


# --- figures ----------------------------------------------------------------------------------


def warm_up(url: str, paths: list[str]) -> dict[int, int]:
    """Each URL once, sequentially: caches warm, and the status of each kind of URL known."""
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in paths:
            status = client.get(path).status_code
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


def paced_line(name: str, result: PacedResult) -> str:
    return (
        f"{name:34} asked {result.rate:5.0f}/s for {result.seconds:.0f} s: "
        f"{result.achieved_rate:6.1f}/s answered, p50 {result.percentile_ms(0.5) or 0:7.1f} ms, "
        f"p99 {result.percentile_ms(0.99) or 0:7.1f} ms, statuses {result.statuses}, "
        f"errors {result.errors or 0}"
    )


def measure(server: Served, paths: list[str], *, seconds: int) -> dict[str, Any]:
    url = server.url
    figures: dict[str, Any] = {"warm_up_statuses": warm_up(url, paths)}
    if wrk_available():
        capacity = run_wrk(
            url, paths, seconds=CAPACITY_SECONDS, connections=CAPACITY_CONNECTIONS, threads=2
        )
        figures["capacity"] = {
            "requests_per_second": round(capacity.requests_per_second, 1),
            "latency_p50_ms": capacity.latency_p50_ms,
            "latency_p99_ms": capacity.latency_p99_ms,
            "non_2xx": capacity.non_2xx,
            "socket_errors": capacity.socket_errors,
        }
    cpu = server.cpu_seconds()
    figures["paced"] = paced = run_paced(url, paths, rate=RATE, seconds=seconds)
    if paced.answered:
        # Independent of how busy the machine is: what one request costs the server.
        figures["server_cpu_ms_per_request"] = round(
            1000 * (server.cpu_seconds() - cpu) / paced.answered, 2
        )
    return figures


def jobs_owners(store: Path, since: str) -> dict[str, int]:
    """The owners of the run records started since ``since``, with their counts."""
    uri = f"file:{store}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute(
            "SELECT owner, COUNT(*) FROM runs WHERE started_at >= ? GROUP BY owner", (since,)
        ).fetchall()
    return {str(owner): int(count) for owner, count in rows}


def main() -> int:
    store, manifest = scale_store()
    paths = mixed_paths(manifest)
    workers = cpu_count()
    load = os.getloadavg()
    print(
        f"{len(MIX)} URL templates x {SAMPLES} ids; {workers} CPUs; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    runs: dict[str, dict[str, Any]] = {}
    logs = store.parent
    jobs_once = True
    wide = wide_paths(store, manifest)
    plan = (
        ("serve --workers 1", 1, True, paths, BASELINE_SECONDS),
        (f"serve --workers {workers}", workers, True, paths, SECONDS),
        (f"serve --workers {workers}, no cache", workers, False, paths, SECONDS),
        (f"serve --workers {workers}, wide mix", workers, True, wide, SECONDS),
    )
    for name, count, cache, urls, seconds in plan:
        since = datetime.now(UTC).isoformat()
        log_name = (
            name.replace("serve --workers ", "load-serve-").replace(", ", "-").replace(" ", "-")
        )
        with serve(store, manifest, count, logs / f"{log_name}.log", cache=cache) as server:
            figures = measure(server, urls, seconds=seconds)
        figures["urls"] = len(set(urls))
        # Every run record this serve wrote is its own, none a worker's.
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        figures["jobs_owners"] = owners = jobs_owners(store, since)
        jobs_once = jobs_once and set(owners) <= {f"pid {server.pid} on {socket.gethostname()}"}
        runs[name] = figures
        print(f"{name}: warm-up statuses {figures['warm_up_statuses']}", flush=True)
        if "capacity" in figures:
            cap = figures["capacity"]
            print(
                f"{name + ', closed loop':34} {cap['requests_per_second']:6.1f} req/s at "
                f"{CAPACITY_CONNECTIONS} connections, p50 {cap['latency_p50_ms']:.1f} ms, "
                f"p99 {cap['latency_p99_ms']:.1f} ms, non-2xx {cap['non_2xx']}, "
                f"socket errors {cap['socket_errors']}",
                flush=True,
            )
        print(paced_line(name + ", fixed rate", figures["paced"]), flush=True)
        paced = figures["paced"]
        if "server_cpu_ms_per_request" in figures:
            print(
                f"{name + ', CPU':34} {figures['server_cpu_ms_per_request']:.2f} ms per request "
                f"in serve and its workers, {1000 * paced.client_cpu_seconds / paced.sent:.2f} "
                "in the load client",
                flush=True,
            )
        print(
            f"{name + ', jobs':34} run records by {owners}; load average after it "
            f"{figures['load_average_after'][0]:.2f}",
            flush=True,
        )
    target: PacedResult = runs[f"serve --workers {workers}"]["paced"]
    p99 = target.percentile_ms(0.99) or 0.0
    met = (
        target.failures == 0
        and target.achieved_rate >= 0.98 * RATE
        and p99 < TARGET_P99_MS
        and jobs_once
    )
    base = runs["serve --workers 1"].get("capacity", {}).get("requests_per_second")
    mine = runs[f"serve --workers {workers}"].get("capacity", {}).get("requests_per_second")
    if base and mine:
        print(f"capacity: {mine / base:.2f}x the single process ({mine:.0f} vs {base:.0f} req/s)")
    for other in ("no cache", "wide mix"):
        run = runs.get(f"serve --workers {workers}, {other}")
        if run is None:
            continue
        theirs: PacedResult = run["paced"]
        print(
            f"{other}: p99 {theirs.percentile_ms(0.99) or 0.0:.1f} ms vs {p99:.1f} ms, "
            f"{theirs.failures} errors, {theirs.achieved_rate:.1f}/s answered, server CPU "
            f"{run.get('server_cpu_ms_per_request', 0):.2f} vs "
            f"{runs[f'serve --workers {workers}'].get('server_cpu_ms_per_request', 0):.2f} ms "
            f"per request ({run['urls']} distinct URLs)"
        )
    print("jobs ran in serve's process only" if jobs_once else "jobs ran in a worker: WRONG")
    print(
        f"target {RATE}/s for {SECONDS} s, 0 errors, p99 < {TARGET_P99_MS:.0f} ms: "
        + ("met" if met else "NOT met")
        + f" ({target.achieved_rate:.1f}/s, {target.failures} errors, p99 {p99:.1f} ms)"
    )
    print(
        json.dumps(
            {
                "bench": "load",
                "patches": manifest["patches"],
                "messages": manifest["messages"],
                "load_average": [round(x, 2) for x in load],
                "urls": len(set(paths)),
                "runs": {
                    name: {**figures, "paced": figures["paced"].as_dict()}
                    for name, figures in runs.items()
                },
                "jobs_once": jobs_once,
                "target_met": met,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

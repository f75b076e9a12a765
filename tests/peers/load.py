# SPDX-License-Identifier: GPL-2.0-or-later
"""Bounded load against an HTTP server on loopback: wrk when installed, else an httpx loop.

Both spread the requests round-robin over a small list of paths, run for a fixed number of
seconds with a fixed number of connections, and report requests per second, non-2xx answers
and socket errors (connect, read, write, timeout).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

WRK_SCRIPT = """
-- Round-robin over the paths, counting non-2xx answers per thread.
local paths = {%s}
local counter = 0
local threads = {}

setup = function(thread)
    table.insert(threads, thread)
end

init = function(args)
    non2xx = 0
end

request = function()
    counter = counter + 1
    return wrk.format("GET", paths[(counter %% #paths) + 1])
end

response = function(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
    end
end

done = function(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("non2xx")
    end
    io.write(string.format("non2xx_total: %%d\\n", total))
    io.write(string.format("latency_p50_us: %%d\\n", latency:percentile(50)))
    io.write(string.format("latency_p99_us: %%d\\n", latency:percentile(99)))
end
"""


@dataclass
class LoadResult:
    tool: str
    seconds: float
    connections: int
    requests: int
    requests_per_second: float
    non_2xx: int
    socket_errors: int
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0 and self.requests > 0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    base_url: str, paths: list[str], *, seconds: int = 5, connections: int = 4, threads: int = 1
) -> LoadResult:
    """One wrk run: ``threads`` threads, ``connections`` keep-alive connections, bounded time."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (tests/peers/wrk.sh ensure-installed)")
    host = urlsplit(base_url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"load only against loopback, not {host}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT % ", ".join(_lua_string(p) for p in paths))
        completed = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout, seconds, connections)


def parse_wrk(output: str, seconds: float, connections: int) -> LoadResult:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        return float(found.group(1)) if found else 0.0

    errors = {}
    found = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if found:
        errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, found.groups()), strict=True)
        )
    non_2xx = max(
        int(number(r"Non-2xx or 3xx responses: (\d+)")), int(number(r"non2xx_total: (\d+)"))
    )
    return LoadResult(
        tool="wrk",
        seconds=seconds,
        connections=connections,
        requests=int(number(r"(\d+) requests in")),
        requests_per_second=number(r"Requests/sec:\s+([\d.]+)"),
        non_2xx=non_2xx,
        socket_errors=sum(errors.values()),
        latency_p50_ms=number(r"latency_p50_us: (\d+)") / 1000,
        latency_p99_ms=number(r"latency_p99_us: (\d+)") / 1000,
        errors=errors,
    )


def run_httpx_loop(
    base_url: str, paths: list[str], *, seconds: float = 3.0, connections: int = 4
) -> LoadResult:
    """The fallback without wrk: ``connections`` threads, each with one keep-alive client."""
    host = urlsplit(base_url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"load only against loopback, not {host}")
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"requests": 0, "non_2xx": 0, "socket_errors": 0}
    latencies: list[float] = []

    def worker(offset: int) -> None:
        done = non_2xx = socket_errors = 0
        mine: list[float] = []
        with httpx.Client(base_url=base_url, timeout=5) as client:
            index = offset
            while time.monotonic() < deadline:
                path = paths[index % len(paths)]
                index += 1
                started = time.perf_counter()
                try:
                    response = client.get(path)
                except httpx.TransportError:
                    socket_errors += 1
                    continue
                mine.append(time.perf_counter() - started)
                done += 1
                if not 200 <= response.status_code <= 299:
                    non_2xx += 1
        with lock:
            totals["requests"] += done
            totals["non_2xx"] += non_2xx
            totals["socket_errors"] += socket_errors
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=seconds + 30)
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(share: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    return LoadResult(
        tool="httpx",
        seconds=round(elapsed, 2),
        connections=connections,
        requests=totals["requests"],
        requests_per_second=totals["requests"] / elapsed if elapsed else 0.0,
        non_2xx=totals["non_2xx"],
        socket_errors=totals["socket_errors"],
        latency_p50_ms=percentile(0.5),
        latency_p99_ms=percentile(0.99),
    )

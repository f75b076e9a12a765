# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixed-rate (open-loop) load on loopback, as wrk2 does it: hold R requests/s for S seconds.

wrk (``tests/peers/load.py``) sends as fast as its connections allow and times each request
from the moment it was sent; when the server stalls, fewer requests go out and the stall
hides (coordinated omission). Here request *i* is due at ``start + i / R`` whatever happened
before; each latency is measured from that intended moment, so a server that falls behind
shows the whole wait. Requests go round-robin over a list of paths, each on the first idle
one of a pool of keep-alive connections (HTTP/1.1 over plain asyncio streams: a few tens of
microseconds of client CPU per request, so the client leaves the cores to the server).

:func:`run_paced` spreads the rate over a few client processes
(``python -m tests.peers.paced_load``, each printing one JSON line) and merges their figures.
Everything is bounded: the number of requests is ``R * S``, each has a timeout, and a client
sends nothing more ``S + timeout + 10`` seconds after its start (those count as abandoned).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0  # seconds a request may take before it counts as an error


@dataclass
class PacedResult:
    """What one fixed-rate run achieved; latencies from each request's intended send time."""

    rate: float
    seconds: float
    sent: int = 0
    answered: int = 0
    elapsed: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    late_sends: int = 0  # requests the client itself sent over 10 ms after their moment
    client_cpu_seconds: float = 0.0  # what the client processes used, start-up included

    @property
    def achieved_rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status <= 299)

    @property
    def failures(self) -> int:
        """Answers that were not 2xx, and requests that got no answer at all."""
        return self.non_2xx + sum(self.errors.values())

    def percentile_ms(self, share: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seconds": self.seconds,
            "sent": self.sent,
            "answered": self.answered,
            "achieved_rate": round(self.achieved_rate, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "latency_p50_ms": _round(self.percentile_ms(0.50)),
            "latency_p99_ms": _round(self.percentile_ms(0.99)),
            "latency_max_ms": _round(max(self.latencies_ms, default=None)),
            "late_sends": self.late_sends,
            "client_cpu_seconds": round(self.client_cpu_seconds, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def merge(results: Sequence[PacedResult]) -> PacedResult:
    """One result for client processes that ran side by side."""
    merged = PacedResult(rate=sum(r.rate for r in results), seconds=results[0].seconds)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for result in results:
        merged.sent += result.sent
        merged.answered += result.answered
        merged.elapsed = max(merged.elapsed, result.elapsed)
        merged.late_sends += result.late_sends
        merged.client_cpu_seconds += result.client_cpu_seconds
        statuses.update(result.statuses)
        errors.update(result.errors)
        merged.latencies_ms.extend(result.latencies_ms)
    merged.statuses, merged.errors = dict(statuses), dict(errors)
    return merged


# --- one client process ------------------------------------------------------------------------


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        """One GET on this keep-alive connection (opened when needed); the status."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
        self.writer.write(request.encode("latin-1"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
        }
        if b"content-length" in headers:
            await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")  # no trailers
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _paced(
    url: str, paths: Sequence[str], rate: float, seconds: float, connections: int, offset: int
) -> PacedResult:
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1":
        raise ValueError(f"load only against loopback, not {parts.hostname}")
    host, port = parts.hostname, parts.port or 80
    result = PacedResult(rate=rate, seconds=seconds)
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()

    start = time.perf_counter() + 0.05
    give_up = start + seconds + TIMEOUT + 10  # a stalled server cannot hold the run longer

    async def connection() -> None:
        conn = _Connection(host, port)
        while (item := await queue.get()) is not None:
            due, path = item
            if time.perf_counter() > give_up:
                errors["abandoned"] += 1
                continue
            if time.perf_counter() - due > 0.010:
                result.late_sends += 1
            try:
                status = await asyncio.wait_for(conn.get(path), TIMEOUT)
            except TimeoutError:
                errors["timeout"] += 1
                conn.close()
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                errors["connection"] += 1
                conn.close()
                continue
            result.latencies_ms.append((time.perf_counter() - due) * 1000)
            statuses[status] += 1
        conn.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, paths[(offset + i) % len(paths)]))
        result.sent += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.elapsed = time.perf_counter() - start
    result.answered = sum(statuses.values())
    result.statuses, result.errors = dict(statuses), dict(errors)
    return result


def run_one(
    url: str,
    paths: Sequence[str],
    *,
    rate: float,
    seconds: float,
    connections: int = 32,
    offset: int = 0,
) -> PacedResult:
    """A fixed-rate run from this process (uvloop when installed)."""
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    coro = _paced(url, list(paths), rate, seconds, connections, offset)
    result: PacedResult = runner(coro)
    return result


def run_paced(
    url: str,
    paths: Sequence[str],
    *,
    rate: float,
    seconds: float,
    processes: int = 2,
    connections: int = 32,
) -> PacedResult:
    """Hold ``rate`` requests/s for ``seconds`` from ``processes`` client processes."""
    if not paths:
        raise ValueError("no paths to request")
    spec = json.dumps({"paths": list(paths)})
    start_at = time.time() + 1.0 + 0.5 * processes  # all begin together, once imported
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.peers.paced_load",
                url,
                f"--rate={rate / processes}",
                f"--seconds={seconds}",
                f"--connections={connections}",
                f"--offset={n * len(paths) // processes}",
                f"--start-at={start_at + n / rate}",
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(spec)
        proc.stdin.close()
        proc.stdin = None  # written: communicate() below only reads
    results = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=seconds + TIMEOUT + 60)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
                other.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"a load client exited with status {proc.returncode}")
        results.append(_from_json(json.loads(out.strip().splitlines()[-1])))
    return merge(results)


def _from_json(data: dict[str, Any]) -> PacedResult:
    return PacedResult(
        rate=data["rate"],
        seconds=data["seconds"],
        sent=data["sent"],
        answered=data["answered"],
        elapsed=data["elapsed"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        errors=data["errors"],
        latencies_ms=data["latencies_ms"],
        late_sends=data["late_sends"],
        client_cpu_seconds=data["client_cpu_seconds"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One fixed-rate load client (paths on stdin).")
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--start-at", type=float, default=0.0, help="wall-clock start")
    args = parser.parse_args(argv)
    if not 0 < args.rate <= 10_000 or not 0 < args.seconds <= 600:
        parser.error("a bounded run: rate up to 10,000/s, at most 600 s")
    paths = json.loads(sys.stdin.read())["paths"]
    wait = args.start_at - time.time()
    if wait > 0:
        time.sleep(min(wait, 30.0))
    result = run_one(
        args.url,
        paths,
        rate=args.rate,
        seconds=args.seconds,
        connections=args.connections,
        offset=args.offset,
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu_seconds = usage.ru_utime + usage.ru_stime
    data = result.as_dict()
    data.update(elapsed=result.elapsed, latencies_ms=[round(x, 3) for x in result.latencies_ms])
    data["client_cpu_seconds"] = result.client_cpu_seconds
    data["statuses"] = {str(k): v for k, v in result.statuses.items()}
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

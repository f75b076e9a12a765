# SPDX-License-Identifier: GPL-2.0-or-later
"""Page speed at scale: each page for people beside its JSON twin, over HTTP, in one run.

The store is :mod:`benchmarks.scale_store`'s (100,000 patches, over 1,000,000 messages), served
by uvicorn in a child process as in :mod:`benchmarks.bench_api`; one keep-alive client asks a
page, then its twin, alternately, so both see the same machine load. The patch page shows the
patch and its discussion, so its twin is both JSON answers (detail + discussion, summed per
pair); the series page shows the series and its versions, likewise.

Targets: a page's p50 within 2x of its twin's, p99 under 50 ms, and a 30-patch list page under
100 kB (before compression). ``python -m benchmarks.bench_pages [--samples N] [--profile]``;
``--profile`` prints where a missing page's time goes (in process, the ASGI app called directly).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import http.client
import io
import json
import pstats
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from tests.peers.api_server import make_app, serve_in_process

from benchmarks.bench_api import Figures, asgi_get
from benchmarks.scale_store import scale_store
from lkml_assistant.repositories.sqlite import SqliteStore

WARMUP = 10
SAMPLES = 200
P99_LIMIT_MS = 50.0
RATIO_LIMIT = 2.0
LIST_BYTES_LIMIT = 100_000


@dataclass
class PagePair:
    name: str
    pages: list[str]
    twins: list[list[str]] = field(default_factory=list)  # per page: the JSON it shows


@dataclass
class PairFigures:
    page: Figures = field(default_factory=Figures)
    twin: Figures = field(default_factory=Figures)
    page_bytes: list[int] = field(default_factory=list)


class Client:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=30
        )

    def get(self, target: str) -> tuple[float, bytes]:
        started = time.perf_counter()
        self.connection.request("GET", target)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{target}: {response.status} {body[:300]!r}")
        return elapsed, body

    def json(self, target: str) -> Any:
        return json.loads(self.get(target)[1])

    def close(self) -> None:
        self.connection.close()


def twin_of(page: str) -> str:
    """``/api`` + the page's path and query; the list at ``/`` is ``/api/patches``'s twin."""
    path, _, query = page.partition("?")
    return f"/api{'/patches' if path == '/' else path}" + (f"?{query}" if query else "")


def pairs(client: Client, manifest: dict[str, Any]) -> list[PagePair]:
    """The pages measured, with ids and addresses found through the JSON API."""
    project = manifest["projects"][0]
    patches = [int(p) for p in manifest["sample_patches"]][:20]
    long_threads = [int(p) for p in manifest["long_thread_patches"]][:20]
    series = []
    people = []
    for pid in patches:
        detail = client.json(f"/api/patches/{pid}")
        if detail["series"]:
            series.append(detail["series"][0]["id"])
        people.append(quote(detail["submitter"]["email"], safe="@"))
    walk = "/api/patches?limit=30"
    for _ in range(9):
        cursor = client.json(walk)["next_cursor"]
        walk = f"/api/patches?limit=30&cursor={quote(cursor, safe='')}"
    listed = [
        ("list (30)", ["/"]),
        ("page 10 of 30", ["/" + walk.removeprefix("/api/patches")]),
        ("filtered (project+state)", [f"/?project={project}&state=new"]),
        ("title search (q)", ["/?q=conntrack", "/?q=pwm", "/?q=fix"]),
        ("person", [f"/people/{email}" for email in people]),
    ]
    out = [PagePair(name, pages, [[twin_of(page)] for page in pages]) for name, pages in listed]
    out.append(
        PagePair(
            "patch (+ discussion)",
            [f"/patches/{pid}" for pid in patches],
            [[f"/api/patches/{pid}", f"/api/patches/{pid}/discussion"] for pid in patches],
        )
    )
    out.append(
        PagePair(
            "patch, 28-message thread",
            [f"/patches/{pid}" for pid in long_threads],
            [[f"/api/patches/{pid}", f"/api/patches/{pid}/discussion"] for pid in long_threads],
        )
    )
    out.append(
        PagePair(
            "series (+ versions)",
            [f"/series/{sid}" for sid in series],
            [[f"/api/series/{sid}", f"/api/series/{sid}/versions"] for sid in series],
        )
    )
    return out


def discussion_exists(client: Client, pair: PagePair) -> PagePair:
    """A patch whose thread is not stored has no discussion twin (404): compare with the rest."""
    twins = []
    for targets in pair.twins:
        kept = []
        for target in targets:
            client.connection.request("GET", target)
            response = client.connection.getresponse()
            response.read()
            if response.status == 200:
                kept.append(target)
        twins.append(kept)
    pair.twins = twins
    return pair


def measure(client: Client, pair: PagePair, samples: int) -> PairFigures:
    figures = PairFigures()
    for index in range(WARMUP + samples):
        which = index % len(pair.pages)
        page_time, body = client.get(pair.pages[which])
        twin_time = sum(client.get(target)[0] for target in pair.twins[which])
        if index >= WARMUP:
            figures.page.add(page_time)
            figures.twin.add(twin_time)
            figures.page_bytes.append(len(body))
    return figures


def profile(app: Any, pair: PagePair, rounds: int = 100) -> str:
    async def run() -> None:
        for index in range(rounds):
            await asgi_get(app, pair.pages[index % len(pair.pages)])

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run())
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def report(manifest: dict[str, Any], results: dict[str, PairFigures]) -> dict[str, Any]:
    header = (
        f"{'page':28} {'page p50':>9} {'p99':>7} {'twin p50':>9} {'p99':>7} {'ratio':>6}"
        f" {'kB p50':>7} {'kB max':>7}  met"
    )
    print()
    print(
        f"Pages and their JSON twins over HTTP, ms, at {manifest['patches']:,} patches / "
        f"{manifest['messages']:,} messages; target p50 <= {RATIO_LIMIT:.0f}x the twin's, "
        f"p99 < {P99_LIMIT_MS:.0f} ms, a 30-patch list < {LIST_BYTES_LIMIT // 1000} kB"
    )
    print(header)
    print("-" * len(header))
    out: dict[str, Any] = {}
    for name, fig in results.items():
        ratio = fig.page.p50 / fig.twin.p50 if fig.twin.p50 else float("inf")
        sizes = sorted(fig.page_bytes)
        size_p50, size_max = sizes[len(sizes) // 2], sizes[-1]
        met = ratio <= RATIO_LIMIT and fig.page.p99 < P99_LIMIT_MS
        if name in ("list (30)", "page 10 of 30"):
            met = met and size_max < LIST_BYTES_LIMIT
        print(
            f"{name:28} {fig.page.p50:9.2f} {fig.page.p99:7.2f} {fig.twin.p50:9.2f} "
            f"{fig.twin.p99:7.2f} {ratio:6.2f} {size_p50 / 1000:7.1f} {size_max / 1000:7.1f}"
            f"  {'yes' if met else 'NO'}"
        )
        out[name] = {
            "page_p50_ms": round(fig.page.p50, 3),
            "page_p99_ms": round(fig.page.p99, 3),
            "twin_p50_ms": round(fig.twin.p50, 3),
            "twin_p99_ms": round(fig.twin.p99, 3),
            "ratio_p50": round(ratio, 2),
            "bytes_p50": size_p50,
            "bytes_max": size_max,
            "met": met,
        }
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--profile", action="store_true", help="profile pages that miss")
    args = parser.parse_args(argv)
    path, manifest = scale_store()
    results: dict[str, PairFigures] = {}
    with serve_in_process(path) as base_url:
        client = Client(base_url)
        try:
            measured = [discussion_exists(client, pair) for pair in pairs(client, manifest)]
            for pair in measured:
                results[pair.name] = measure(client, pair, args.samples)
                print(f"  {pair.name}: page p50 {results[pair.name].page.p50:.2f} ms", flush=True)
        finally:
            client.close()
    figures = report(manifest, results)
    missed = [name for name, f in figures.items() if not f["met"]]
    print(
        f"targets met: {len(figures) - len(missed)}/{len(figures)}"
        + (f"; missed: {', '.join(missed)}" if missed else "")
    )
    if args.profile and missed:
        store = SqliteStore(path)
        app = make_app(store, f"sqlite:///{path}")
        by_name = {pair.name: pair for pair in measured}
        for name in missed:
            print(f"\n--- profile (in process, 100 calls): {name} ---")
            print(profile(app, by_name[name]))
        store.close()
    print(
        json.dumps(
            {
                "bench": "pages",
                "patches": manifest["patches"],
                "messages": manifest["messages"],
                "samples": args.samples,
                "pages": figures,
                "targets_met": len(figures) - len(missed),
                "targets": len(figures),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

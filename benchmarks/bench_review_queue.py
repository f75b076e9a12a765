# SPDX-License-Identifier: GPL-2.0-or-later
"""A reviewer's queue and range-diffs at scale, beside a plain patch list in the same run.

The store is :mod:`benchmarks.scale_store`'s (100,000 patches, over 1,000,000 messages): every
patch has a review with the real To:/Cc: of its template mail and who it still waits on, and
100 sample series are chains of three versions with their range-diffs stored. Each operation
goes through the ASGI app in process (routing, validation, JSON), as bench_api measures:

- ``patch list``: ``/api/patches?project=…&limit=30``, the baseline;
- ``queue``: ``/api/people/{email}/queue`` for the busiest reviewers (thousands waiting) and
  for some with about a hundred;
- ``range-diff``: the stored one against the previous version, and ``?against=`` the first
  version, built from the stored mail on the spot;
- ``series page``: ``/series/{id}``, the HTML page with its range-diff section.

Figures are p50/p99 in ms and the ratio of each p50 to the baseline's. ``python -m
benchmarks.bench_review_queue [--samples N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from tests.peers.api_server import make_app

from benchmarks.bench_api import WARMUP, Figures, asgi_get
from benchmarks.scale_store import scale_store
from lkml_assistant.repositories.sqlite import SqliteStore

SAMPLES = 300


def measure(app: Any, paths: list[str], samples: int) -> Figures:
    async def run() -> Figures:
        figures = Figures()
        for index in range(WARMUP + samples):
            target = paths[index % len(paths)]
            started = time.perf_counter()
            status, body = await asgi_get(app, target)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"{target}: {status} {body[:300]!r}")
            if index >= WARMUP:
                figures.add(elapsed)
        return figures

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    args = parser.parse_args(argv)
    path, manifest = scale_store()
    store = SqliteStore(path)
    app = make_app(store, f"sqlite:///{path}")
    reviewers = list(manifest["queue_reviewers"].items())
    series = manifest["range_diff_series"]
    project = manifest["projects"][0]
    print(
        f"store: {manifest['patches']} patches, {manifest['messages']} messages; queues "
        + ", ".join(f"{email} {n}" for email, n in reviewers)
        + f"; {len(series)} chains with range-diffs",
        flush=True,
    )
    busy = [email for email, n in reviewers if n > 200] or [reviewers[0][0]]
    middling = [email for email, n in reviewers if n <= 200] or busy
    operations = [
        ("patch list (baseline)", [f"/api/patches?project={project}&limit=30"], args.samples),
        ("queue, busiest reviewers", [f"/api/people/{e}/queue" for e in busy], args.samples),
        ("queue, ~100 waiting", [f"/api/people/{e}/queue" for e in middling], args.samples),
        ("range-diff, stored", [f"/api/series/{s}/range-diff" for s in series], args.samples),
        (
            "range-diff, ?against= built",
            [f"/api/series/{s}/range-diff?against={s - 2}" for s in series],
            max(args.samples // 3, 20),
        ),
        ("series page + range-diff", [f"/series/{s}" for s in series], args.samples),
    ]
    figures = {name: measure(app, paths, n) for name, paths, n in operations}
    base = figures["patch list (baseline)"].p50
    print(f"{'operation':30} {'p50 ms':>8} {'p99 ms':>8} {'x list':>7} {'n':>5}")
    result = {}
    for name, found in figures.items():
        ratio = found.p50 / base
        print(f"{name:30} {found.p50:8.2f} {found.p99:8.2f} {ratio:7.2f} {len(found.samples):5d}")
        result[name] = {
            "p50_ms": round(found.p50, 3),
            "p99_ms": round(found.p99, 3),
            "ratio_to_list_p50": round(ratio, 2),
        }
    store.close()
    print(json.dumps({"benchmark": "review_queue", "operations": result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS side: handler cold-start imports, the bundle's size, DynamoDB writes at rest.

1. Cold-start import of each handler module in a fresh interpreter (``python -I -S``, nothing
   but the bundle and what the Lambda runtime provides on ``sys.path``), median of several,
   next to importing boto3 alone in the same way in the same run. Target: under 300 ms. The
   bundle is built for this machine's CPython (bytecode included, as ``make bundle`` does for
   the runtime's), so the modules and their dependencies are exactly what Lambda loads.
2. The bundle ``make bundle`` ships (Lambda's CPython, x86_64): size and file count.
3. DynamoDB writes of a steady-state run, against moto's server, the Patchwork test server
   and real public-inbox, counted for every client the handlers make: the hourly job after
   the first run and the queue drained, and the daily re-read of every thread, with nothing
   new upstream. Target: 0 data write requests (a run's own record is counted apart).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lkml_assistant.repositories.dynamodb import WRITE_OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench" / "lambda"
RUNS = 7
TARGET_MS = 300.0
HANDLERS = (
    "lkml_assistant.functions.jobs",
    "lkml_assistant.functions.consumer",
    "lkml_assistant.functions.api",
)
# What the Lambda Python runtime has installed: boto3 and what it needs.
PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def build_bundle(out: Path, version: str) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bundle.py"),
            "--out",
            str(out),
            "--python-version",
            version,
        ],
        check=True,
        capture_output=True,
    )


def runtime_dir(out: Path) -> Path:
    """boto3 and botocore as the Lambda runtime provides them, from this environment."""
    import importlib.util

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            (out / name).symlink_to(origin.parent, target_is_directory=True)
        else:
            (out / origin.name).symlink_to(origin)
    return out


def import_ms(module: str, paths: list[Path], *, tracing: bool = False) -> float:
    code = (
        "import sys, time\n"
        f"sys.path[:0] = {[str(p) for p in paths]!r}\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"}
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip())


def median_ms(module: str, paths: list[Path], **kwargs: bool) -> float:
    import_ms(module, paths, **kwargs)  # the first run writes nothing, but warms the page cache
    return statistics.median(import_ms(module, paths, **kwargs) for _ in range(RUNS))


def cold_starts() -> dict[str, float]:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    bundle = BENCH / f"bundle-{version}"
    build_bundle(bundle, version)
    runtime = runtime_dir(BENCH / "runtime")
    paths = [bundle, runtime]  # the runtime's own boto3 comes after the function's code
    figures = {"boto3": median_ms("boto3", [runtime])}
    print(f"cold-start import, median of {RUNS} fresh interpreters (CPython {version}):")
    print(f"  {'boto3 alone (baseline)':42} {figures['boto3']:7.1f} ms")
    for module in HANDLERS:
        figures[module] = median_ms(module, paths)
        ratio = figures[module] / figures["boto3"]
        mark = "ok" if figures[module] < TARGET_MS else f"MISSED target {TARGET_MS:.0f} ms"
        print(f"  {module:42} {figures[module]:7.1f} ms  ({ratio:.2f}x boto3)  {mark}")
    traced = median_ms("lkml_assistant.functions.jobs", paths, tracing=True)
    figures["jobs with X-Ray tracing (prod)"] = traced
    print(f"  {'jobs, tracing on (prod: X-Ray SDK loaded)':42} {traced:7.1f} ms")
    return figures


def bundle_size() -> dict[str, float]:
    out = BENCH / "dist-lambda"
    build_bundle(out, "3.13")
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"bundle for the Lambda runtime (CPython 3.13, x86_64): {size / 1e6:.1f} MB,", end=" ")
    print(f"{len(files)} files")
    return {"bundle_mb": round(size / 1e6, 1), "bundle_files": len(files)}


class WriteLog:
    """Every DynamoDB write request of every client this process makes, by what it touched.

    Registered on boto3's default session, so the clients the handlers create for themselves
    (the consumer opens its own store) are counted too.
    """

    def __init__(self) -> None:
        self.data: list[str] = []
        self.runs = 0

    def __call__(self, params: Any = None, model: Any = None, **_: Any) -> None:
        # The API parameters, before serialization: which items each write touches.
        if model is None or model.name not in WRITE_OPERATIONS or params is None:
            return
        items = [params.get("Item") or params.get("Key") or {}]
        for requests in (params.get("RequestItems") or {}).values():
            for request in requests:
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                items.append((put or {}).get("Item") or (delete or {}).get("Key") or {})
        keys = [
            (str(item.get("pk", {}).get("S", "")), str(item.get("sk", {}).get("S", "")))
            for item in items
            if item
        ]
        if all(self.bookkeeping(pk, sk) for pk, sk in keys):
            self.runs += 1
        else:
            self.data.append(f"{model.name} {' '.join(pk for pk, _ in keys)}")

    @staticmethod
    def bookkeeping(pk: str, sk: str) -> bool:
        """A run's own record (the run-id counter, RUN#, RUNID#), or the time mark a refresh
        searches lore from next (it moves on every run, whatever was found)."""
        return pk == "COUNTER" or pk.startswith("RUN") or (pk == "CURSOR" and sk[:5] == "lore#")

    def since(self, mark: tuple[int, int]) -> tuple[list[str], int]:
        return self.data[mark[0] :], self.runs - mark[1]

    def mark(self) -> tuple[int, int]:
        return len(self.data), self.runs


def verdict(data: list[str]) -> str:
    return "ok" if not data else "MISSED target 0: " + ", ".join(data[:10])


def steady_state_writes() -> dict[str, int]:
    import boto3
    from tests.lambda_runtime import drain_queue
    from tests.peers.moto_server import run_moto_server
    from tests.peers.patchwork_server import PatchworkData, run_patchwork_server
    from tests.peers.public_inbox import PublicInbox, netfilter_devel_2025

    from lkml_assistant.config import load_settings
    from lkml_assistant.functions import consumer
    from lkml_assistant.functions.work_queue import SqsTaskQueue
    from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
    from lkml_assistant.services.jobs import Jobs
    from lkml_assistant.services.recipes import HOURLY

    workdir = Path(tempfile.mkdtemp(prefix="bench-lambda-"))
    spec = netfilter_devel_2025()
    with (
        run_moto_server() as moto,
        run_patchwork_server(PatchworkData.from_dump()) as patchwork,
        PublicInbox(workdir / "pi") as inbox,
    ):
        inbox.create_inbox(spec.name, spec.mbox_paths, address=spec.address)
        lore = inbox.start_httpd()
        os.environ.update(moto.environ())
        log = WriteLog()
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "provide-client-params.dynamodb", log, unique_id="bench-write-log"
        )
        create_tables(boto3.client("dynamodb"), "bench-patches", "bench-discussions")
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="bench-work")["QueueUrl"]
        env = {
            "LKML_STORE": "dynamodb",
            "LKML_PATCHES_TABLE": "bench-patches",
            "LKML_DISCUSSIONS_TABLE": "bench-discussions",
            "LKML_PATCHWORK_URL": patchwork.url,
            "LKML_LORE_URL": lore,
            "LKML_PROJECTS": "netfilter-devel",
            "LKML_REQUEST_INTERVAL": "0",
            "LKML_WORK_QUEUE_URL": queue_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        os.environ.update(env)
        settings = load_settings()
        # About 200 patches (the dump's last six weeks): moto keeps tables in one process.
        now = datetime(2025, 12, 30, 12, tzinfo=UTC)
        days = (now - datetime(2025, 11, 15, tzinfo=UTC)).days + 1
        store = DynamoDbStore("bench-patches", "bench-discussions")
        jobs = Jobs(settings, store, queue=SqsTaskQueue(queue_url))

        mark = log.mark()
        started = time.perf_counter()
        first = jobs.run_recipe(HOURLY, now, days=days)
        drained = drain_queue(sqs, queue_url, consumer.fetch_discussions)
        filled, _ = log.since(mark)
        print(
            f"first run: {first.jobs[0]['patches_seen']} patches, {drained.records} threads "
            f"through the queue, {len(filled)} data write requests, "
            f"{time.perf_counter() - started:.1f} s (moto)"
        )

        # The next hour, nothing new upstream.
        mark = log.mark()
        again = jobs.run_recipe(HOURLY, now, days=days)
        hourly, hourly_runs = log.since(mark)
        print(
            f"steady-state hourly run: {again.jobs[0]['requests']} Patchwork requests, "
            f"{again.jobs[1]['threads_queued']} threads queued, {len(hourly)} data write requests "
            f"(+{hourly_runs} for the records of its runs)  {verdict(hourly)}"
        )

        # The daily full refresh re-reads every recent thread. A thread download holds what
        # public-inbox links to the message asked for, so the first re-read (by thread root,
        # after reads by patch) can still join a conversation's parts; then nothing changes.
        rereads = []
        for attempt in ("first", "second"):
            mark = log.mark()
            queued = jobs.refresh_discussions(now, days=days, full=True)
            reread = drain_queue(sqs, queue_url, consumer.fetch_discussions)
            daily, daily_runs = log.since(mark)
            rereads.append(len(daily))
            print(
                f"{attempt} re-read of every thread (daily): {queued.threads_queued} queued, "
                f"{reread.records} read again, {len(daily)} data write requests "
                f"(+{daily_runs} for run records and the refresh mark)"
                + (f"  {verdict(daily)}" if attempt == "second" else "")
            )
        store.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "first_run_data_writes": len(filled),
        "steady_state_data_writes": len(hourly),
        "first_reread_data_writes": rereads[0],
        "steady_state_reread_data_writes": rereads[1],
    }


def main() -> None:
    figures: dict[str, object] = {}
    figures.update(cold_starts())
    figures.update(bundle_size())
    figures.update(steady_state_writes())
    print(json.dumps({"benchmark": "lambda", **figures}))


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS path at the scale of patchwork.kernel.org, replayed for a week, and its bill.

N projects (``LKML_SCALE_PROJECTS``, default 100) of synthetic Patchwork data built from the
recorded netfilter-devel dump (``LKML_SCALE_PATCHES`` patches each in the 28 days before, one
link name and one lore list per project) are served by the Patchwork test server and the lore
fake. The Lambda handlers run in process against one moto server: the backfill (a first
start), a quiet hourly run, then every hour of a simulated week (``LKML_SCALE_HOURS``, default
168: Monday 00:00 to the next Monday 00:00), each hour running what
:func:`lkml_assistant.services.recipes.due_at` says is due (hourly, daily at 03:00 instead of
the hourly, weekly on Sunday 04:00), with the week's traffic (``benchmarks/scale_week.py``:
~30 new patches a project, replies with trailers, state changes) arriving between runs; then
a quiet hourly run after the week. "Now" is each run's hour. One hourly run in
``LKML_SCALE_HOUR_STEP`` (default 6) is replayed, the daily and weekly runs always: the traffic
of the hours between arrives before the next replayed run (so all of it is processed, in fewer,
larger runs: cheaper per patch if anything), and each hourly run not replayed is counted at the
cost of the measured quiet run. ``LKML_SCALE_HOUR_STEP=1`` replays every hour.

Time on a shared 2-core machine goes mostly to moto (its HTTP and serialization, and a sort of
the whole table at every query, which ``benchmarks/fast_moto.py`` takes out), then to the
handlers; metering costs no extra call (the meter mirrors the tables).

Every queue the stack has is drained as its event source mapping would, by :data:`ROUTES`
(queue -> consumer function) and :data:`SENDS` (which queues a function's environment names):
the one place to add a queue.

Counted by the servers' side, not by the job summaries: requests in the Patchwork server's own
request log (by ``project=``) and in the lore fake's (by list), invocations and their seconds by
function, SQS calls, DynamoDB read and write units by DynamoDB's billing rules
(``benchmarks/dynamo_units.py``), the bytes the functions log and the metric sets they emit
(EMF), the store's size. Targets (issue 14) per project for a quiet hourly run: <= 2 Patchwork
requests, <= 5 read units, <= 1 lore request per list; every invocation within its timeout
with no crawl left unfinished. The bill of a month from these counts: ``benchmarks/cost_model.py``.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import random
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

N_PROJECTS = int(os.environ.get("LKML_SCALE_PROJECTS", "100"))
PATCHES_PER_PROJECT = int(os.environ.get("LKML_SCALE_PATCHES", "12"))
HOURS = int(os.environ.get("LKML_SCALE_HOURS", "168"))
# Every HOUR_STEP-th hourly run is replayed (the daily and weekly runs always); the traffic of
# the hours between arrives before the next replayed run. 1 replays every hour.
HOUR_STEP = int(os.environ.get("LKML_SCALE_HOUR_STEP", "6"))
WEEK_START = datetime(2025, 11, 24, 0, 0, tzinfo=UTC)  # a Monday
DAYS = 28.0
START = (WEEK_START - timedelta(days=DAYS)).replace(tzinfo=None)
NOW = WEEK_START
PATCHES_TABLE = "lkml-scale-patches"
DISCUSSIONS_TABLE = "lkml-scale-discussions"
TARGETS = {"patchwork_requests": 2.0, "read_units": 5.0, "lore_requests_per_list": 1.0}
TIMEOUT_SECONDS = 300.0  # both job functions (infra/lkml_infra/ingestion.py, JOB_TIMEOUT)
FUNCTIONS = {
    "api": "lkml_assistant.functions.api:handler",
    "jobs": "lkml_assistant.functions.jobs:handler",
    "fetch-discussions": "lkml_assistant.functions.consumer:fetch_discussions",
    "crawl": "lkml_assistant.functions.consumer:crawl",
}


@dataclass(frozen=True)
class Route:
    """A queue of the stack: the variable its producers read its URL from, and its consumer."""

    queue: str
    env: str
    consumer: str
    batch: int = 10  # the event source mapping's batch size (infra/lkml_infra/ingestion.py)


ROUTES = (
    Route("work", "LKML_WORK_QUEUE_URL", "fetch-discussions"),
    Route("crawl", "LKML_CRAWL_QUEUE_URL", "crawl", batch=1),
)
# Which queues each function may send to (its environment in the stack). The consumer's
# deferrals under the shared lore budget go back to the queue they came from, by its ARN; the
# budget is off here (LKML_LORE_REQUESTS_PER_MINUTE unset): "now" is pinned per run, so its
# minute would never end.
SENDS: dict[str, tuple[str, ...]] = {
    "api": (),
    "jobs": ("work", "crawl"),
    "crawl": ("work", "crawl"),
    "fetch-discussions": (),
}
# API pages read after the week (path, query): a list of one project, of all, a title search, a
# review-status filter; each page's read units are measured.
API_PAGES = (
    ("/api/patches", (("project", "proj001"),)),
    ("/api/patches", ()),
    ("/api/patches", (("q", "netfilter"),)),
    ("/api/patches", (("review_status", "unreviewed"),)),
)
# Before the handlers' modules are imported: their logger reads the level once.
# INFO, as prod logs: the bytes are counted, not shown. Metrics on: their EMF blobs are counted.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false")


def project_names(n: int) -> list[str]:
    return [f"proj{number:03d}" for number in range(n)]


def build_patchwork(names: list[str]) -> Any:
    """N projects in one Patchwork, each with its own series (a single patch 45 % of the
    time, else up to 6), in the DAYS before the week."""
    from tests.peers.many_projects import many_projects

    return many_projects(
        names,
        patches_per_project=PATCHES_PER_PROJECT,
        start=START,
        days=DAYS,
        series_size=lambda rng: 1 if rng.random() < 0.45 else rng.randint(1, 6),
    )


def mails_for(data: Any, lore: Any, names: list[str], rng: random.Random) -> None:
    """Every patch's mail in its list, threaded under its series' first mail; a review reply
    to about half the patches."""
    by_link = {p["id"]: p["link_name"] for p in data.list_projects()}
    covers = {c["msgid"]: c for c in data.list_covers()}
    for cover in covers.values():
        deliver(lore, by_link[cover["project"]["id"]], cover["msgid"], cover["name"], None, cover)
    for patch in data.list_patches():
        name = by_link[patch["project"]["id"]]
        series = patch["series"][0] if patch["series"] else None
        parent = series["cover_letter"]["msgid"] if series and series.get("cover_letter") else None
        deliver(lore, name, patch["msgid"], patch["name"], parent, patch)
        if rng.random() < 0.5:
            reply_id = f"<re-{patch['id']}@reviewer.example>"
            deliver(lore, name, reply_id, f"Re: {patch['name']}", patch["msgid"], patch, True)


def deliver(
    lore: Any,
    list_name: str,
    msgid: str,
    subject: str,
    parent: str | None,
    obj: dict[str, Any],
    review: bool = False,
) -> None:
    """The mail of a stored patch or cover ``obj`` at its date, or (``review``) a Reviewed-by
    reply two hours later: written as the week's traffic writes its mail."""
    from benchmarks.scale_week import deliver as deliver_mail

    date = datetime.fromisoformat(obj["date"]).replace(tzinfo=UTC)
    if review:
        deliver_mail(
            lore, list_name, msgid, subject, parent, date + timedelta(hours=2), "Reviewed-by"
        )
    else:
        deliver_mail(lore, list_name, msgid, subject, parent, date, None, obj)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LogSink(io.TextIOBase):
    """What the functions write to stdout (Powertools JSON logs, EMF metric blobs): bytes
    counted, metric sets collected, nothing kept."""

    def __init__(self) -> None:
        self.bytes = 0
        self.metric_sets: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        if '"_aws"' in text:
            for line in text.splitlines():
                self._metrics(line)
        return len(text)

    def _metrics(self, line: str) -> None:
        try:
            blob = json.loads(line)
        except ValueError:
            return
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", []):
                dims = tuple(sorted((d, str(blob.get(d))) for d in dimensions))
                for metric in directive.get("Metrics", []):
                    self.metric_sets.add((metric["Name"], dims))


@dataclass
class Invocation:
    function: str
    seconds: float
    more: bool = False
    error: str | None = None


@dataclass
class Harness:
    patchwork: Any
    lore: Any
    meter: Any
    names: list[str]
    sink: LogSink = field(default_factory=LogSink)
    queue_urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import boto3

        self.sqs = boto3.client("sqs")  # the default session: its calls are metered
        for route in ROUTES:
            self.queue_urls[route.queue] = self.sqs.create_queue(
                QueueName=f"lkml-scale-{route.queue}", Attributes={"VisibilityTimeout": "600"}
            )["QueueUrl"]
        self.arns = {
            name: self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            for name, url in self.queue_urls.items()
        }
        self.handlers: dict[str, Callable[..., Any]] = {}
        for function, target in FUNCTIONS.items():
            module, _, name = target.partition(":")
            self.handlers[function] = getattr(importlib.import_module(module), name)
        from lkml_assistant.functions.observability import logger

        handler: Any = logger.registered_handler
        handler.setStream(self.sink)

    def invoke(self, function: str, event: dict[str, Any]) -> tuple[Invocation, Any]:
        from tests.lambda_runtime import InvocationContext

        env = {r.env: self.queue_urls[r.queue] for r in ROUTES if r.queue in SENDS[function]}
        for route in ROUTES:
            if route.env not in env:
                os.environ.pop(route.env, None)
        context = InvocationContext(f"lkml-scale-{function}", timeout_seconds=TIMEOUT_SECONDS)
        started = time.perf_counter()
        answer: Any = None
        error = None
        with environment(env), redirect_stdout(self.sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                answer = self.handlers[function](event, context)
            except Exception as exc:  # an invocation error, as Lambda would record it
                error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        return Invocation(function, seconds, _more(answer), error), answer

    def drain(self, invocations: list[Invocation]) -> int:
        """Every queue until all are empty, a batch an invocation, as the event source
        mappings do; what a consumer reports failed stays for its visibility timeout."""
        from tests.lambda_runtime import sqs_event

        records = 0
        busy = True
        while busy:
            busy = False
            for route in ROUTES:
                url = self.queue_urls[route.queue]
                messages = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=route.batch, AttributeNames=["All"]
                ).get("Messages", [])
                if not messages:
                    continue
                busy = True
                records += len(messages)
                event = sqs_event([dict(m) for m in messages], self.arns[route.queue])
                invocation, answer = self.invoke(route.consumer, event)
                invocations.append(invocation)
                failed = set()
                if invocation.error:
                    failed = {m["MessageId"] for m in messages}
                elif isinstance(answer, dict):
                    failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
                done = [m for m in messages if m["MessageId"] not in failed]
                if done:
                    self.sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                            for n, m in enumerate(done)
                        ],
                    )
        return records

    def run(self, label: str, recipe: str, moment: datetime) -> dict[str, Any]:
        from tests.lambda_runtime import scheduled_event

        from lkml_assistant.functions import clock

        clock.now = lambda: moment
        self.patchwork.reset_log()
        lore_before = len(self.lore.requests)
        log_before = self.sink.bytes
        self.meter.take()
        invocations: list[Invocation] = []
        invocation, _ = self.invoke("jobs", scheduled_event({"recipe": recipe}, recipe))
        invocations.append(invocation)
        records = self.drain(invocations)
        units = self.meter.take()
        n = len(self.names)
        pw = Counter(_project_of(r.query) for r in self.patchwork.requests)
        lore = Counter(r.path.strip("/").split("/")[0] for r in self.lore.requests[lore_before:])
        by_function: dict[str, dict[str, float]] = {}
        for inv in invocations:
            entry = by_function.setdefault(inv.function, {"n": 0, "seconds": 0.0, "max": 0.0})
            entry["n"] += 1
            entry["seconds"] = round(entry["seconds"] + inv.seconds, 2)
            entry["max"] = round(max(entry["max"], inv.seconds), 2)
        sqs_calls = sum(v for k, v in units["calls"].items() if k.startswith("sqs."))
        return {
            "run": label,
            "recipe": recipe,
            "at": moment.strftime("%a %H:%M"),
            "patchwork_requests": sum(pw.values()),
            "patchwork_max_project": max((v for k, v in pw.items() if k != "-"), default=0),
            "lore_requests": sum(lore.values()),
            "lore_max_list": max(lore.values(), default=0),
            "functions": by_function,
            "queue_records": records,
            "sqs_calls": sqs_calls,
            "read_units": units["read_units"],
            "write_units": units["write_units"],
            "log_bytes": self.sink.bytes - log_before,
            "deadline_ok": all(
                not i.more and not i.error and i.seconds < TIMEOUT_SECONDS for i in invocations
            ),
            "errors": [i.error for i in invocations if i.error][:3],
            "per_project": {
                "patchwork_requests": round(sum(pw.values()) / n, 2),
                "lore_requests_per_list": round(sum(lore.values()) / n, 2),
                "read_units": round(units["read_units"] / n, 2),
                "write_units": round(units["write_units"] / n, 2),
            },
        }


def api_pages(harness: Harness) -> list[dict[str, Any]]:
    """Read units and seconds of each of :data:`API_PAGES`, through the API function."""
    from tests.integration.test_api import rest_event

    out = []
    for path, params in API_PAGES:
        harness.meter.take()
        invocation, answer = harness.invoke("api", rest_event(path, params))
        units = harness.meter.take()
        out.append(
            {
                "page": path + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else ""),
                "status": (answer or {}).get("statusCode"),
                "read_units": units["read_units"],
                "seconds": round(invocation.seconds, 3),
            }
        )
    return out


def _more(answer: Any) -> bool:
    """Whether a job's answer says a crawl or refresh stopped short (``"more": true``)."""
    if isinstance(answer, dict):
        return bool(answer.get("more")) or any(_more(v) for v in answer.values())
    if isinstance(answer, list):
        return any(_more(v) for v in answer)
    return False


def _project_of(query: str) -> str:
    return (parse_qs(query).get("project") or ["-"])[0]


def report(figures: dict[str, Any]) -> None:
    per = figures["per_project"]
    seconds = " ".join(
        f"{name} {f['n']}x {f['seconds']:.1f}s" for name, f in figures["functions"].items()
    )
    flag = "" if figures["deadline_ok"] else " DEADLINE/ERROR"
    print(
        f"{figures['at']} {figures['run']:<13} pw {figures['patchwork_requests']:>4} "
        f"lore {figures['lore_requests']:>4} RU {figures['read_units']:>8} "
        f"WU {figures['write_units']:>7} sqs {figures['sqs_calls']:>4} | {seconds} | per project "
        f"pw {per['patchwork_requests']} RU {per['read_units']}{flag}",
        flush=True,
    )


KINDS = ("backfill", "quiet before", "hourly", "daily", "weekly", "quiet after")


def summarize(results: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    rows = []
    for kind in KINDS:
        runs = [r for r in results if r["run"] == kind]
        if not runs:
            continue

        def total(key: str, of: list[dict[str, Any]] = runs) -> float:
            return round(sum(r[key] for r in of), 1)

        seconds = [sum(f["seconds"] for f in r["functions"].values()) for r in runs]
        invocations = sum(sum(f["n"] for f in r["functions"].values()) for r in runs)
        longest = max(f["max"] for r in runs for f in r["functions"].values())
        rows.append(
            {
                "kind": kind,
                "runs": len(runs),
                "patchwork_requests": total("patchwork_requests"),
                "lore_requests": total("lore_requests"),
                "lore_max_list": max(r["lore_max_list"] for r in runs),
                "invocations": invocations,
                "seconds": round(sum(seconds), 1),
                "median_run_seconds": round(statistics.median(seconds), 2),
                "longest_invocation": longest,
                "sqs_calls": total("sqs_calls"),
                "read_units": total("read_units"),
                "write_units": total("write_units"),
                "deadline_ok": all(r["deadline_ok"] for r in runs),
                "per_run_per_project": {
                    "patchwork_requests": round(total("patchwork_requests") / len(runs) / n, 2),
                    "read_units": round(total("read_units") / len(runs) / n, 2),
                    "write_units": round(total("write_units") / len(runs) / n, 2),
                },
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'kind':<13}{'runs':>5}{'pw req':>8}{'lore':>7}{'inv':>6}{'seconds':>9}{'longest':>8}"
        f"{'sqs':>7}{'RU':>10}{'WU':>9} | per run per project: pw RU WU"
    )
    for row in rows:
        per = row["per_run_per_project"]
        print(
            f"{row['kind']:<13}{row['runs']:>5}{row['patchwork_requests']:>8.0f}"
            f"{row['lore_requests']:>7.0f}{row['invocations']:>6}{row['seconds']:>9.1f}"
            f"{row['longest_invocation']:>8.1f}{row['sqs_calls']:>7.0f}{row['read_units']:>10.0f}"
            f"{row['write_units']:>9.0f} | {per['patchwork_requests']} {per['read_units']} "
            f"{per['write_units']}"
        )


def verdicts(results: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    out = []
    for kind in ("quiet before", "quiet after"):
        for run in (r for r in results if r["run"] == kind):
            per = run["per_project"]
            for name in ("patchwork_requests", "read_units"):
                out.append(
                    {
                        "target": f"{kind}: {name} per project <= {TARGETS[name]:g}",
                        "measured": per[name],
                        "met": per[name] <= TARGETS[name],
                    }
                )
            out.append(
                {
                    "target": f"{kind}: lore requests per list <= 1",
                    "measured": run["lore_max_list"],
                    "met": run["lore_max_list"] <= TARGETS["lore_requests_per_list"],
                }
            )
    late = [f"{r['at']} {r['run']}" for r in results if not r["deadline_ok"]]
    longest = max(f["max"] for r in results for f in r["functions"].values())
    out.append(
        {
            "target": f"every run fits its deadline ({TIMEOUT_SECONDS:.0f} s, nothing left 'more')",
            "measured": f"longest invocation {longest:.1f} s; late/failed: {late[:5] or 'none'}",
            "met": not late,
        }
    )
    return out


@contextmanager
def moto_server() -> Iterator[Any]:
    """Our own moto server (``benchmarks/fast_moto.py``; the unpatched one with
    ``LKML_SCALE_PLAIN_MOTO=1``), or the one at ``LKML_SCALE_MOTO_URL`` (started by hand, under
    a profiler say)."""
    from tests.peers.moto_server import MotoServer, run_moto_server

    from benchmarks.fast_moto import run_fast_moto

    url = os.environ.get("LKML_SCALE_MOTO_URL")
    if url:
        yield MotoServer(url)
        return
    plain = os.environ.get("LKML_SCALE_PLAIN_MOTO") == "1"
    with run_moto_server() if plain else run_fast_moto() as moto:
        yield moto


def main() -> int:
    import boto3
    from tests.peers.lore_fake import LoreFake
    from tests.peers.patchwork_server import run_patchwork_server

    from benchmarks.cost_model import monthly_cost, print_cost
    from benchmarks.dynamo_units import Meter, stored_bytes
    from benchmarks.scale_week import apply_until, week_traffic
    from lkml_assistant.repositories.dynamodb import create_tables
    from lkml_assistant.repositories.dynamodb.schema import DISCUSSIONS, PATCHES
    from lkml_assistant.services import jobs as job_service
    from lkml_assistant.services.recipes import due_at
    from lkml_assistant.sources.http import CircuitBreaker, HttpClient
    from lkml_assistant.sources.lore import LoreClient

    began = time.perf_counter()
    names = project_names(N_PROJECTS)
    end = WEEK_START + timedelta(hours=HOURS)
    print(
        f"{N_PROJECTS} projects x {PATCHES_PER_PROJECT} patches in the {DAYS:.0f} days before "
        f"{WEEK_START:%a %Y-%m-%d}, then {HOURS} hours of traffic and runs "
        f"(one hourly run in {HOUR_STEP} replayed)",
        flush=True,
    )
    data = build_patchwork(names)
    lore = LoreFake()
    mails_for(data, lore, names, random.Random(15))
    traffic = week_traffic(names, WEEK_START, end, data.list_patches())
    print(f"data built in {time.perf_counter() - began:.1f} s", flush=True)

    @contextmanager
    def fake_lore(settings: Any) -> Iterator[LoreClient]:
        http = HttpClient(transport=lore.transport(), interval=0, breaker=CircuitBreaker())
        try:
            yield LoreClient(http, lore.url)
        finally:
            http.close()

    job_service.lore_client = fake_lore  # type: ignore[attr-defined]
    results: list[dict[str, Any]] = []
    with moto_server() as moto, run_patchwork_server(data) as patchwork:
        os.environ.update(moto.environ())
        os.environ.update(
            {
                "LKML_STORE": "dynamodb",
                "LKML_PATCHES_TABLE": PATCHES_TABLE,
                "LKML_DISCUSSIONS_TABLE": DISCUSSIONS_TABLE,
                "LKML_PATCHWORK_URL": patchwork.url,
                "LKML_LORE_URL": lore.url,
                "LKML_PROJECTS": ",".join(names),
                "LKML_BACKFILL_DAYS": "30",
                "LKML_REQUEST_INTERVAL": "0",
                "LKML_HTTP_RETRIES": "1",
                "LKML_BACKOFF_BASE": "0",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "lkml-scale",
            }
        )
        create_tables(boto3.client("dynamodb"), PATCHES_TABLE, DISCUSSIONS_TABLE)
        meter = Meter({PATCHES_TABLE: PATCHES, DISCUSSIONS_TABLE: DISCUSSIONS})
        meter.install()
        harness = Harness(patchwork, lore, meter, names)

        def run(label: str, recipe: str, moment: datetime) -> None:
            results.append(harness.run(label, recipe, moment))
            report(results[-1])

        run("backfill", "backfill", WEEK_START)
        run("quiet before", "hourly", WEEK_START)
        store_before = stored_bytes(meter)
        skipped = 0
        for hour in range(1, HOURS + 1):
            moment = WEEK_START + timedelta(hours=hour)
            due = due_at(moment)
            if [r.name for r in due] == ["hourly"] and hour % HOUR_STEP and hour != HOURS:
                skipped += 1
                continue
            apply_until(traffic, moment, data, lore, end)
            for recipe in due:
                run(recipe.name, recipe.name, moment)
        store_after = stored_bytes(meter)
        run("quiet after", "hourly", end + timedelta(hours=1))
        pages = api_pages(harness)
        for page in pages:
            print(
                f"API {page['page']}: {page['status']}, {page['read_units']} RU, "
                f"{page['seconds']} s"
            )
        waits = ", ".join(f"{k} {v:.0f} s" for k, v in meter.seconds.most_common(6))
        print(f"time waiting on DynamoDB (moto) by operation: {waits}")
    n = len(names)
    rows = summarize(results, n)
    print(
        f"traffic played: {traffic.played}; store {store_before / 1e6:.1f} -> "
        f"{store_after / 1e6:.1f} MB"
    )
    print_table(rows)
    checks = verdicts(results, n)
    worst = max(pages, key=lambda page: page["read_units"])
    checks.append(
        {
            "target": "API list or search page read units <= 50",
            "measured": f"{worst['read_units']} ({worst['page']})",
            "met": worst["read_units"] <= 50 and all(p["status"] == 200 for p in pages),
        }
    )
    for check in checks:
        print(
            f"  {'met    ' if check['met'] else 'NOT met'} {check['target']}: {check['measured']}"
        )
    # The hourly runs not replayed count as quiet ones (their traffic is in the next one).
    quiet = next(r for r in results if r["run"] == "quiet before")
    week_runs = [r for r in results if r["run"] in ("hourly", "daily", "weekly")]
    week_runs += [quiet] * skipped
    invocations: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    for r in week_runs:
        for name, f in r["functions"].items():
            invocations[name] += int(f["n"])
            seconds[name] += f["seconds"]
    week = {
        "hours": HOURS,
        "hourly_runs_replayed": sum(r["run"] == "hourly" for r in results),
        "hourly_runs_counted_as_quiet": skipped,
        "read_units": sum(r["read_units"] for r in week_runs),
        "write_units": sum(r["write_units"] for r in week_runs),
        "invocations": dict(invocations),
        "seconds": dict(seconds),
        "sqs_calls": sum(r["sqs_calls"] for r in week_runs),
        "log_bytes": sum(r["log_bytes"] for r in week_runs),
        "metrics": len(harness.sink.metric_sets),
        "store_bytes": store_after,
        "store_growth_bytes": max(0, store_after - store_before) * 168 / HOURS,
    }
    pairs = 2 + len(PATCHES.indexes) + len(DISCUSSIONS.indexes)
    ok_pages = [p for p in pages if p["status"] == 200] or pages
    week["api_read_units_a_page"] = statistics.mean(p["read_units"] for p in ok_pages)
    week["api_seconds_a_request"] = statistics.median(p["seconds"] for p in ok_pages)
    cost = monthly_cost(week, capacity_pairs=pairs)
    print_cost(cost)
    wall = time.perf_counter() - began
    print(f"replay took {wall:.0f} s")
    compact = [{k: v for k, v in r.items() if k != "per_project"} for r in results]
    print(
        json.dumps(
            {
                "bench": "scale_aws",
                "projects": n,
                "hours": HOURS,
                "wall_seconds": round(wall, 1),
                "summary": rows,
                "targets": checks,
                "api_pages": pages,
                "week": week,
                "cost": cost,
                "runs": compact,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

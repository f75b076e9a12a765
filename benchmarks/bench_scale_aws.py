# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS path at the scale of many Patchwork projects: what one run costs, per project.

N projects of synthetic Patchwork data (patches, series and events modelled on the recorded
netfilter-devel dump, one link name per project) are served by the Patchwork test server; each
project's list is an inbox of the lore fake holding every patch mail and a review reply to
about half of them. The Lambda handlers run in process (``functions.jobs.handler`` for the
schedules, ``functions.consumer.fetch_discussions`` for the work queue, drained as the event
source mapping does) against moto's server. "Now" is pinned.

Counted by the servers' side, not by the job summaries: requests in the Patchwork server's own
request log and in the lore fake's, invocations and their seconds, SQS calls, and DynamoDB read
and write units as DynamoDB bills them (``benchmarks/dynamo_units.py``).

Runs: the backfill (the first start) with its queue drained, then a steady-state hourly run
with nothing new upstream, then an hour with new traffic (one new series in a tenth of the
projects, with a reply), then the daily run. Targets per project for the quiet hourly run
(issue 14): <= 2 Patchwork requests, <= 5 read units, <= 1 lore request per list.

``LKML_SCALE_PROJECTS`` (default 8) and ``LKML_SCALE_PATCHES`` (patches per project, default
12) size it (about 3 minutes on a shared 2-core machine; 100 projects take about 40); the
figures per project are what scales to 100 projects.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

N_PROJECTS = int(os.environ.get("LKML_SCALE_PROJECTS", "8"))
PATCHES_PER_PROJECT = int(os.environ.get("LKML_SCALE_PATCHES", "12"))
START = datetime(2025, 11, 1)
DAYS = 28.0
NOW = datetime(2025, 11, 30, 12, 0, tzinfo=UTC)
PATCHES_TABLE = "lkml-scale-patches"
DISCUSSIONS_TABLE = "lkml-scale-discussions"
TARGETS = {"patchwork_requests": 2.0, "read_units": 5.0, "lore_requests_per_list": 1.0}
# Before the handlers' modules are imported: their logger reads the level once.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def project_names(n: int) -> list[str]:
    return [f"proj{number:03d}" for number in range(n)]


def build_patchwork(names: list[str]) -> Any:
    """N projects in one Patchwork, each with its own series, built as ``synthetic`` builds one."""
    from tests.peers.patchwork_server import LORE_ORIGIN, PatchworkData
    from tests.shared_data import patchwork_dump

    templates = json.loads((patchwork_dump() / "patches.json").read_bytes())
    projects = [
        {
            "id": number,
            "url": f"http://patchwork.test/api/projects/{number}/",
            "name": f"Project {name}",
            "link_name": name,
            "list_id": f"{name}.vger.kernel.org",
            "list_email": f"{name}@vger.kernel.org",
            "web_url": "",
            "scm_url": "",
            "webscm_url": "",
            "maintainers": [],
            "subject_match": "",
            "list_archive_url": f"{LORE_ORIGIN}/{name}/",
            "list_archive_url_format": f"{LORE_ORIGIN}/{name}/{{}}/",
            "commit_url_format": "",
        }
        for number, name in enumerate(names, start=1)
    ]
    data = PatchworkData(projects=projects, mail=None)
    rng = random.Random(14)
    with data.lock:
        serial = 0
        for project in projects:
            remaining = PATCHES_PER_PROJECT
            while remaining > 0:
                size = min(remaining, 1 if rng.random() < 0.45 else rng.randint(1, 6))
                remaining -= size
                serial += 1
                arrival = START + timedelta(days=DAYS) * rng.random()
                data._synthetic_series(rng, templates, project, serial, size, arrival, 0.5, 0.0)
        data._initial = data._s.copy()
    return data


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
    date = datetime.fromisoformat(obj["date"]).replace(tzinfo=UTC)
    if review:
        date += timedelta(hours=2)
        sender = "Rev Iewer <reviewer@example.org>"
        body = f"On {date:%a}, you wrote:\n> patch\n\nReviewed-by: {sender}\n"
    else:
        who = obj["submitter"]
        sender = f"{who.get('name') or who['email']} <{who['email']}>"
        body = "A change.\n\nSigned-off-by: " + sender + "\n---\n diff --git a/x b/x\n"
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {msgid}",
        f"List-Id: <{list_name}.vger.kernel.org>",
    ]
    if parent:
        headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
    raw = ("\n".join(headers) + "\n\n" + body).encode()
    if list_name not in lore._inboxes:
        lore.add_inbox(list_name)
    lore.deliver(list_name, raw, received=date)


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


class Harness:
    def __init__(self, moto: Any, patchwork: Any, lore: Any, meter: Any, names: list[str]):
        import boto3

        self.moto, self.patchwork, self.lore, self.meter = moto, patchwork, lore, meter
        self.names = names
        self.sqs = boto3.session.Session().client("sqs")
        self.queue_url = self.sqs.create_queue(
            QueueName="lkml-scale-work", Attributes={"VisibilityTimeout": "30"}
        )["QueueUrl"]
        self.crawl_url = self.sqs.create_queue(
            QueueName="lkml-scale-crawl", Attributes={"VisibilityTimeout": "30"}
        )["QueueUrl"]

    def run(self, label: str, recipe: str) -> dict[str, Any]:
        from tests.lambda_runtime import InvocationContext, drain_queue, scheduled_event

        from lkml_assistant.functions import consumer, jobs

        self.patchwork.reset_log()
        lore_before = len(self.lore.requests)
        self.meter.take()
        started = time.perf_counter()
        queues = {"LKML_WORK_QUEUE_URL": self.queue_url, "LKML_CRAWL_QUEUE_URL": self.crawl_url}
        with environment(queues):
            jobs.handler(scheduled_event({"recipe": recipe}, recipe), InvocationContext("jobs"))
            # The fan-out: one crawl invocation per project (the stack's batch size 1).
            crawled = drain_queue(self.sqs, self.crawl_url, consumer.crawl, batch_size=1)
        job_seconds = time.perf_counter() - started
        started = time.perf_counter()
        drained = drain_queue(self.sqs, self.queue_url, consumer.fetch_discussions)
        consumer_seconds = time.perf_counter() - started
        units = self.meter.take()
        lore_requests = self.lore.requests[lore_before:]
        n = len(self.names)
        return {
            "run": label,
            "recipe": recipe,
            "projects": n,
            "patchwork_requests": len(self.patchwork.requests),
            "lore_requests": len(lore_requests),
            "invocations": 1 + crawled.invocations + drained.invocations,
            "queue_records": drained.records,
            "jobs_seconds": round(job_seconds, 2),
            "consumer_seconds": round(consumer_seconds, 2),
            **units,
            "per_project": {
                "patchwork_requests": round(len(self.patchwork.requests) / n, 2),
                "lore_requests_per_list": round(len(lore_requests) / n, 2),
                "read_units": round(units["read_units"] / n, 2),
                "write_units": round(units["write_units"] / n, 2),
            },
        }


def report(figures: dict[str, Any]) -> None:
    per = figures["per_project"]
    print(
        f"{figures['run']:<14} pw {figures['patchwork_requests']:>5} lore "
        f"{figures['lore_requests']:>5} inv {figures['invocations']:>4} "
        f"({figures['jobs_seconds']:.1f}+{figures['consumer_seconds']:.1f} s) "
        f"RU {figures['read_units']:>9} WU {figures['write_units']:>8} | per project: "
        f"pw {per['patchwork_requests']} lore {per['lore_requests_per_list']} "
        f"RU {per['read_units']} WU {per['write_units']}",
        flush=True,
    )


def main() -> int:
    import boto3
    from tests.peers.lore_fake import LoreFake
    from tests.peers.moto_server import run_moto_server
    from tests.peers.patchwork_server import run_patchwork_server

    from benchmarks.dynamo_units import Meter
    from lkml_assistant.functions import clock
    from lkml_assistant.repositories.dynamodb import create_tables
    from lkml_assistant.repositories.dynamodb.schema import DISCUSSIONS, PATCHES
    from lkml_assistant.services import jobs as job_service
    from lkml_assistant.sources.http import CircuitBreaker, HttpClient
    from lkml_assistant.sources.lore import LoreClient

    names = project_names(N_PROJECTS)
    print(f"{N_PROJECTS} projects x {PATCHES_PER_PROJECT} patches, window {DAYS:.0f} days")
    data = build_patchwork(names)
    lore = LoreFake()
    mails_for(data, lore, names, random.Random(15))

    @contextmanager
    def fake_lore(settings: Any) -> Iterator[LoreClient]:
        http = HttpClient(transport=lore.transport(), interval=0, breaker=CircuitBreaker())
        try:
            yield LoreClient(http, lore.url)
        finally:
            http.close()

    job_service.lore_client = fake_lore  # type: ignore[attr-defined]
    clock.now = lambda: NOW
    results = []
    with run_moto_server() as moto, run_patchwork_server(data) as patchwork:
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
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "POWERTOOLS_SERVICE_NAME": "lkml-scale",
            }
        )
        create_tables(boto3.client("dynamodb"), PATCHES_TABLE, DISCUSSIONS_TABLE)
        meter = Meter({PATCHES_TABLE: PATCHES, DISCUSSIONS_TABLE: DISCUSSIONS})
        meter.install()
        harness = Harness(moto, patchwork, lore, meter, names)
        results.append(harness.run("backfill", "backfill"))
        report(results[-1])
        results.append(harness.run("hourly quiet", "hourly"))
        report(results[-1])
        results.append(harness.run("hourly quiet", "hourly"))
        report(results[-1])
        new_traffic(data, lore, names)
        results.append(harness.run("hourly new", "hourly"))
        report(results[-1])
        results.append(harness.run("daily", "daily"))
        report(results[-1])
    quiet = results[2]["per_project"]
    missed = [
        f"{name} {quiet[name]} > {target}"
        for name, target in TARGETS.items()
        if quiet[name] > target
    ]
    print("quiet hourly per project:", quiet, "targets", TARGETS)
    print("targets missed: " + ("; ".join(missed) if missed else "none"))
    print(json.dumps({"bench": "scale_aws", "results": results, "missed": missed}))
    return 0


def new_traffic(data: Any, lore: Any, names: list[str]) -> None:
    """One new series of two patches, with a reply, in a tenth of the projects."""
    rng = random.Random(16)
    templates = list(data.list_patches())[:50]
    projects = {p["link_name"]: p for p in data.list_projects()}
    arrival = NOW.replace(tzinfo=None) - timedelta(minutes=30)
    for serial, name in enumerate(names[:: max(1, 10)], start=10_000):
        with data.lock:
            before = set(p["id"] for p in data.list_patches())
            data._synthetic_series(rng, templates, projects[name], serial, 2, arrival, 0.0, 0.0)
        for patch in data.list_patches():
            if patch["id"] in before:
                continue
            series = patch["series"][0] if patch["series"] else None
            parent = None
            if series and series.get("patches") and series["patches"][0]["id"] != patch["id"]:
                parent = series["patches"][0]["msgid"]
            deliver(lore, name, patch["msgid"], patch["name"], parent, patch)
            reply = f"<re-{patch['id']}@r.example>"
            deliver(lore, name, reply, "Re: x", patch["msgid"], patch, True)


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: GPL-2.0-or-later
"""Discussions: end-to-end ingest speed into SQLite, and requests per refresh.

1. Ingest: the netfilter-devel 2025 slice (4,604 real messages) with its real Patchwork
   patches and series in the store: parse, thread, extract trailers, write messages and review
   summaries. Reported in messages per second beside real Patchwork 3.2.1's ``parsearchive``
   on the same slice and kind of machine (85 to 108 messages/s); target at least 20 times that.
   Baseline measured in this run: bare ``email.message_from_bytes`` of the same messages.
2. Requests per refresh, against a real public-inbox server on loopback: with nothing new
   (target at most 1 per list), and with K threads that got a new reply (at most K + 1).
"""

from __future__ import annotations

import email
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from tests.shared_data import patchwork_dump, shared_dir

from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.discussions import DiscussionSummary, ThreadWriter
from lkml_assistant.services.fetch_discussions import FetchDiscussions
from lkml_assistant.services.refresh_discussions import RefreshDiscussions
from lkml_assistant.sources.http import HttpClient
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.mail import MailParseError, parse_message, read_mbox_archive
from lkml_assistant.sources.patchwork_mapping import map_patch, map_project, map_series

PATCHWORK_MSGS_PER_S = (85, 108)
TARGET_FACTOR = 20
REPEATS = 3


def seeded_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    dump = patchwork_dump()
    store.projects.upsert_projects(
        map_project(raw) for raw in json.loads((dump / "projects.json").read_text())
    )
    store.patches.upsert_patches(
        map_patch(raw, UTC) for raw in json.loads((dump / "patches.json").read_text())
    )
    store.series.upsert_series(
        map_series(raw, UTC) for raw in json.loads((dump / "series.json").read_text())
    )
    return store


def ingest_once(raws: list[bytes], workdir: Path, round_no: int) -> tuple[float, int]:
    store = seeded_store(workdir / f"ingest-{round_no}.sqlite3")
    writer = ThreadWriter(store)
    summary = DiscussionSummary(job="bench")
    started = time.perf_counter()
    messages = []
    for raw in raws:
        try:
            messages.append(parse_message(raw))
        except MailParseError:
            summary.skip("unusable")
    writer.store_mail("netfilter-devel", messages, summary)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, summary.messages_written


def bench_ingest(workdir: Path) -> dict[str, float]:
    path = shared_dir() / "corpus/mbox/linux-mailinglist-archives/netfilter-devel-2025.mbox.gz"
    raws = list(read_mbox_archive(path.read_bytes()).messages)
    baseline, ours, written = [], [], 0
    for round_no in range(REPEATS):
        started = time.perf_counter()
        for raw in raws:
            email.message_from_bytes(raw)
        baseline.append(time.perf_counter() - started)
        elapsed, written = ingest_once(raws, workdir, round_no)
        ours.append(elapsed)
    rate = len(raws) / statistics.median(ours)
    figures = {
        "messages": len(raws),
        "messages_written": written,
        "ingest_seconds_median": round(statistics.median(ours), 3),
        "ingest_messages_per_second": round(rate),
        "bare_parse_seconds_median": round(statistics.median(baseline), 3),
        "ratio_to_bare_parse": round(statistics.median(baseline) / statistics.median(ours), 3),
        "times_patchwork_parsearchive": round(rate / max(PATCHWORK_MSGS_PER_S), 1),
    }
    print(
        f"ingest: {len(raws)} messages in {figures['ingest_seconds_median']} s (median of "
        f"{REPEATS}) = {rate:.0f} messages/s; bare email.message_from_bytes "
        f"{figures['bare_parse_seconds_median']} s; Patchwork parsearchive 85-108 messages/s "
        f"-> {figures['times_patchwork_parsearchive']}x its best (target {TARGET_FACTOR}x)"
    )
    return figures


def reply(parent: str, subject: str) -> bytes:
    message = EmailMessage()
    message["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:8], domain="bench.test")
    message["From"] = "Bench Reviewer <bench@bench.test>"
    message["Subject"] = f"Re: {subject}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["In-Reply-To"] = f"<{parent}>"
    message["References"] = f"<{parent}>"
    message.set_content("Reviewed-by: Bench Reviewer <bench@bench.test>\n")
    return message.as_bytes()


def bench_refresh(workdir: Path, changed: int = 5) -> dict[str, int]:
    from tests.peers.public_inbox import PublicInbox, netfilter_devel_2025

    with PublicInbox(workdir / "pi") as server:
        spec = netfilter_devel_2025()
        server.create_inbox(spec.name, spec.mbox_paths, address=spec.address)
        origin = server.start_httpd()
        store = seeded_store(workdir / "refresh.sqlite3")
        lore = LoreClient(HttpClient(interval=0), origin)
        FetchDiscussions(store, lore).run(projects=["netfilter-devel"])
        refresh = RefreshDiscussions(store, lore)
        refresh.run(days=3650)  # first refresh of the list: the full baseline
        idle = refresh.run(days=3650)
        patches = store.patches.page_patches(PatchQuery(project="netfilter-devel"), limit=200)
        targets = []
        for patch in patches:
            discussion = store.discussions.get_discussion(patch.id)
            if discussion and discussion.thread_root and discussion.thread_root not in targets:
                targets.append(discussion.thread_root)
                server.deliver("netfilter-devel", reply(patch.msgid, patch.name))
            if len(targets) == changed:
                break
        busy = refresh.run(days=3650)
        store.close()
    print(
        f"refresh: nothing new -> {idle.requests} request(s) for 1 list (target <= 1); "
        f"{changed} threads changed -> {busy.requests} requests, {busy.threads_fetched} "
        f"threads fetched (target <= {changed + 1})"
    )
    return {
        "refresh_idle_requests": idle.requests,
        "refresh_changed_threads": changed,
        "refresh_changed_requests": busy.requests,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures: dict[str, float] = {}
        figures.update(bench_ingest(workdir))
        figures.update(bench_refresh(workdir))
    print(json.dumps({"bench": "discussions", **figures}))


if __name__ == "__main__":
    main()

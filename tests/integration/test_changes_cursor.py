# SPDX-License-Identifier: GPL-2.0-or-later
"""The "what changed since" cursor is exact: a client that polls the change log after every
run, and applies each change by reading the current record, holds exactly what the store holds,
with no gaps and no repeats, also across a run killed half-way.

The runs are the real jobs (the CLI) against the Patchwork test server serving the real
netfilter-devel dump and a real public-inbox serving the same mail; upstream changes between
runs are a maintainer's state changes, new patches, a Patchwork comment and a new reply on the
list. Review records and series links are written through the store's ReviewRepository, as the
review job does.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from lkml_assistant.cli import main
from lkml_assistant.models.domain import Patch, Series
from lkml_assistant.models.records import PatchDiscussion, PatchReview, SeriesLink, StoredMessage
from lkml_assistant.repositories.base import PatchQuery, Store
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server
from tests.peers.public_inbox import reply_mail

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"
# Patches whose threads other tests assert on exactly (test_discussions): left alone here.
UNTOUCHABLE = {55, 985}

MODELS: dict[str, type[BaseModel]] = {
    "patch": Patch,
    "series": Series,
    "discussion": PatchDiscussion,
    "message": StoredMessage,
    "review": PatchReview,
    "link": SeriesLink,
}
TABLES = {
    "patch": "SELECT id, data FROM patches",
    "series": "SELECT id, data FROM series",
    "discussion": "SELECT patch_id, data FROM discussions",
    "message": "SELECT message_id, data FROM messages",
    "review": "SELECT patch_id, data FROM reviews",
    "link": "SELECT series_id, data FROM series_links",
}

Mirror = dict[str, dict[str, Any]]


def comparable(kind: str, record: BaseModel) -> Any:
    """A record as the client compares it: a discussion's ``fetched_at`` is bookkeeping (when
    we last looked, not what we saw), so a re-fetch that found the same thread is no change."""
    return record.model_dump(exclude={"fetched_at"} if kind == "discussion" else None)


def store_content(path: Path) -> Mirror:
    """Every record the store holds, read from its tables directly."""
    conn = sqlite3.connect(path)
    try:
        return {
            kind: {
                str(key): comparable(kind, MODELS[kind].model_validate_json(data))
                for key, data in conn.execute(sql)
            }
            for kind, sql in TABLES.items()
        }
    finally:
        conn.close()


class Client:
    """What a client of the API does: poll after every run, apply each change by reading the
    record it names, remember every cursor it was given."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cursor: str | None = None
        self.mirror: Mirror = {kind: {} for kind in MODELS}
        self.delivered: list[str] = []

    def poll(self) -> int:
        applied = 0
        with SqliteStore(self.path) as store:
            while True:
                page = store.changes.changes_since(self.cursor, limit=250)
                by_kind: dict[str, list[str]] = defaultdict(list)
                for change in page.changes:
                    self.delivered.append(change.cursor)
                    by_kind[change.kind].append(change.key)
                self._apply(store, by_kind)
                applied += len(page.changes)
                self.cursor = page.cursor
                if not page.more:
                    return applied

    def _apply(self, store: Store, by_kind: dict[str, list[str]]) -> None:
        found: dict[str, dict[str, BaseModel]] = {}
        ids = {
            kind: [int(key) for key in keys] for kind, keys in by_kind.items() if kind != "message"
        }
        if "patch" in ids:
            found["patch"] = {str(k): v for k, v in store.patches.get_patches(ids["patch"]).items()}
        if "series" in ids:
            series = (store.series.get_series(i) for i in ids["series"])
            found["series"] = {str(s.id): s for s in series if s is not None}
        if "discussion" in ids:
            found["discussion"] = {
                str(k): v for k, v in store.discussions.get_discussions(ids["discussion"]).items()
            }
        if "review" in ids:
            found["review"] = {
                str(k): v for k, v in store.reviews.get_reviews(ids["review"]).items()
            }
        if "link" in ids:
            found["link"] = {str(k): v for k, v in store.reviews.get_links(ids["link"]).items()}
        if "message" in by_kind:
            roots = store.discussions.known_message_ids(by_kind["message"])
            found["message"] = {
                message.message_id: message
                for root in set(roots.values())
                for message in store.discussions.thread_messages(root)
                if message.message_id in roots
            }
        for kind, keys in by_kind.items():
            for key in keys:
                record = found.get(kind, {}).get(key)
                if record is None:
                    self.mirror[kind].pop(key, None)
                else:
                    self.mirror[kind][key] = comparable(kind, record)


def run_job(env: dict[str, str], *argv: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert main([*argv, "-q"]) == 0


def review_job(path: Path, round_: int) -> None:
    """A stand-in for the review job: a review record per discussed patch, a status that
    depends on the round for some, and links between the versions of a few series."""
    with SqliteStore(path) as store:
        patches = store.patches.page_patches(PatchQuery(project=PROJECT), limit=400)
        discussions = store.discussions.get_discussions(p.id for p in patches)
        reviews = []
        for n, patch in enumerate(patches):
            discussion = discussions.get(patch.id)
            if discussion is None:
                continue
            reviewers = sorted({t.email.lower() for t in discussion.summary.trailers if t.email})
            status = "reviewed" if reviewers else "in-discussion"
            if patch.state == "accepted":
                status = "accepted"
            elif n % 7 == round_ % 7:
                status = "changes-requested"
            reviews.append(
                PatchReview(
                    patch_id=patch.id,
                    project=patch.project,
                    series_id=patch.series[0].id if patch.series else None,
                    submitter_email=patch.submitter.email,
                    date=patch.date,
                    status=status,
                    reviewers=tuple(reviewers),
                )
            )
        store.reviews.upsert_reviews(reviews)
        series_ids = sorted({p.series[0].id for p in patches if p.series})[: 6 + round_]
        chain_id = series_ids[0]
        store.reviews.upsert_links(
            SeriesLink(
                series_id=series_id,
                project=PROJECT,
                chain_id=chain_id,
                position=n,
                version=n + 1,
                previous_id=series_ids[n - 1] if n else None,
                superseded_by=series_ids[n + 1] if n + 1 < len(series_ids) else None,
                rule="subject" if n else None,
            )
            for n, series_id in enumerate(series_ids)
        )


def reply(parent_msgid: str, subject: str, body: str, author: str) -> bytes:
    return reply_mail(parent_msgid, subject, body, author=author, domain="cursor.test")[1]


def fetch_discussions_killed_half_way(env: dict[str, str], path: Path) -> None:
    """Start fetch-discussions in its own process and SIGKILL it once it has stored some
    threads but not all."""
    command = [sys.executable, "-m", "lkml_assistant", "fetch-discussions", "--json", "-q"]
    # A small pause between requests keeps the run long enough to be cut in the middle.
    child_env = {**os.environ, **env, "LKML_REQUEST_INTERVAL": "0.01"}
    process = subprocess.Popen(
        command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            conn = sqlite3.connect(path, timeout=10)
            try:
                (stored,) = conn.execute("SELECT COUNT(*) FROM discussions").fetchone()
            finally:
                conn.close()
            if stored >= 150:
                break
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def test_a_polling_client_holds_the_store_exactly(public_inbox, tmp_path):
    path = tmp_path / "store.sqlite3"
    data = PatchworkData.from_dump()
    with run_patchwork_server(data) as patchwork:
        env = {
            "LKML_PATCHWORK_URL": patchwork.url,
            "LKML_LORE_URL": public_inbox.url,
            "LKML_PROJECTS": PROJECT,
            "LKML_STORE": f"sqlite:///{path}",
            "LKML_REQUEST_INTERVAL": "0",
            "LKML_BACKOFF_BASE": "0.05",
        }
        client = Client(path)

        def poll_and_compare() -> int:
            applied = client.poll()
            assert client.mirror == store_content(path)
            return applied

        run_job(env, "fetch-patches")
        assert poll_and_compare() > 2000  # every patch and series of the dump

        fetch_discussions_killed_half_way(env, path)
        with SqliteStore(path) as store:
            left = store.discussions.patches_without_discussion(projects=[PROJECT])
            assert 0 < len(left) < 2000 and store.stats.counts().messages > 0
        assert poll_and_compare() > 0  # what the killed run committed, nothing more

        run_job(env, "fetch-discussions")
        assert poll_and_compare() > 0
        review_job(path, 0)
        assert poll_and_compare() > 0

        # Nothing new upstream: a run writes nothing and the client is told nothing.
        run_job(env, "fetch-patches")
        run_job(env, "fetch-discussions")
        review_job(path, 0)
        assert poll_and_compare() == 0

        # Upstream moves: maintainers act, new patches arrive, someone comments, a reply with
        # a trailer reaches the list.
        with SqliteStore(path) as store:
            discussed = [
                d
                for d in store.discussions.get_discussions(
                    p.id for p in store.patches.page_patches(PatchQuery(project=PROJECT), limit=300)
                ).values()
                if d.thread_root and d.patch_id not in UNTOUCHABLE
            ]
            target = store.patches.get_patch(discussed[0].patch_id)
        assert target is not None
        for discussion in discussed[1:4]:
            patchwork.data.set_state(discussion.patch_id, "accepted")
        patchwork.data.add_comment(discussed[4].patch_id, content="Applied, thanks.")
        for n in range(3):
            patchwork.data.add_patch(
                project=PROJECT,
                name=f"[PATCH {n + 1}/3] netfilter: cursor test {uuid.uuid4().hex[:6]}",
                msgid=f"cursor-{uuid.uuid4().hex}@cursor.test",
                date=datetime.now(UTC).replace(tzinfo=None),
            )
        public_inbox.deliver(
            PROJECT,
            reply(
                target.msgid,
                target.name,
                "Looks right.\n\nReviewed-by: Cursor Tester <tester@cursor.test>\n",
                "Cursor Tester <tester@cursor.test>",
            ),
        )
        run_job(env, "fetch-patches")
        assert poll_and_compare() >= 6  # three states, three new patches
        run_job(env, "refresh-discussions", "--days", "3650")
        run_job(env, "fetch-discussions")
        review_job(path, 1)
        assert poll_and_compare() > 0
        with SqliteStore(path) as store:
            found = store.discussions.get_discussion(target.id)
            assert found is not None
            assert "tester@cursor.test" in {t.email for t in found.summary.trailers}

    # Every change of the log was delivered once, in order: no gap, no repeat.
    conn = sqlite3.connect(path)
    try:
        (last,) = conn.execute("SELECT MAX(seq) FROM changes").fetchone()
    finally:
        conn.close()
    assert [int(cursor) for cursor in client.delivered] == list(range(1, last + 1))
    # json round trip of the mirror is what the store holds, checked one last time.
    assert json.dumps(client.mirror, default=str, sort_keys=True) == json.dumps(
        store_content(path), default=str, sort_keys=True
    )

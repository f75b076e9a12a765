# SPDX-License-Identifier: GPL-2.0-or-later
"""A SQLite store at scale, built from real corpus data used as templates.

100,000 patches and over 1,000,000 messages across four projects, one per bulk slice in
``../shared/corpus/mbox/linux-mailinglist-archives/``. Real Patchwork 3.2.1 patches
(netfilter-devel dump) give states, delegates, hashes and titles; real parsed mail of each
slice gives patch mails, cover letters and replies (bodies, authors, trailers). Every copy gets
new ids, Message-IDs and dates spread over six years, and is threaded: a series' cover letter
with its patches below it, each patch with its replies (some patches get a 28-message thread).
Everything is written through :class:`SqliteStore`'s repositories, so indexes, triggers and
fingerprints are those of real syncs.

The result is cached as ``.bench/scale-<VERSION>-<schema>.sqlite3`` with a JSON manifest of
sample ids beside it; reruns reuse it. ``python -m benchmarks.scale_store [--rebuild]``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.shared_data import REPO_ROOT, patchwork_dump, shared_dir

from lkml_assistant.intel.queue import addressed, waiting_on
from lkml_assistant.intel.subjects import is_patch_submission, is_reply_subject
from lkml_assistant.intel.trailers import scan_trailers
from lkml_assistant.models.discussion import PatchReviewSummary, Trailer, TrailerKind
from lkml_assistant.models.domain import CoverRef, Patch, Person, Project, Series, SeriesRef
from lkml_assistant.models.records import PatchDiscussion, PatchReview, SeriesLink, StoredMessage
from lkml_assistant.repositories.sqlite import MIGRATIONS, SqliteStore
from lkml_assistant.services.range_diffs import range_diff_from_store
from lkml_assistant.sources.mail import (
    MailParseError,
    normalize_body,
    parse_message,
    read_mbox_archive,
)
from lkml_assistant.sources.patchwork_mapping import map_patch

VERSION = "4"  # 4: reviews with who each patch waits on, chains and range-diffs
PATCHES = 100_000
MIN_MESSAGES = 1_000_000
LONG_THREAD = 28  # messages in the threads the discussion benchmark reads
LONG_THREAD_EVERY = 211  # one single-patch series in so many gets a 28-message thread
BODY_LIMIT = 4_000  # characters kept of a template body (diffs can be 100 kB)
BATCH = 2_000  # patches per write batch
START = datetime(2019, 7, 1, tzinfo=UTC)
SPAN = timedelta(days=6 * 365)
SEED = 20250101

# (project link name, Patchwork project id, slice file, list id)
PROJECTS: tuple[tuple[str, int, str, str], ...] = (
    ("linux-pwm", 101, "linux-pwm-2023-2024.mbox.gz", "linux-pwm.vger.kernel.org"),
    ("linux-hyperv", 102, "linux-hyperv-2019-2020.mbox.gz", "linux-hyperv.vger.kernel.org"),
    ("netfilter-devel", 1, "netfilter-devel-2025.mbox.gz", "netfilter-devel.vger.kernel.org"),
    ("intel-wired-lan", 103, "intel-wired-lan-2019.mbox.gz", "intel-wired-lan.osuosl.org"),
)
# The netfilter dump is a test instance where every patch is "new"; these are the shares of
# patchwork.kernel.org-like lists for patches older than a few weeks.
STATES: tuple[tuple[str, int], ...] = (
    ("accepted", 38),
    ("superseded", 20),
    ("changes-requested", 10),
    ("new", 8),
    ("under-review", 4),
    ("rejected", 6),
    ("not-applicable", 5),
    ("deferred", 3),
    ("awaiting-upstream", 3),
    ("rfc", 2),
    ("handled-elsewhere", 1),
)
RECENT_STATES: tuple[tuple[str, int], ...] = (
    ("new", 70),
    ("under-review", 20),
    ("rfc", 5),
    ("changes-requested", 5),
)
_COVER_TAG = re.compile(r"\[[^\]]*\b0+/\d+\b[^\]]*\]")
_LEADING_TAGS = re.compile(r"^\s*(?:\[[^\]]*\]\s*)+")


def schema_key() -> str:
    return hashlib.blake2b("\0".join(MIGRATIONS).encode(), digest_size=4).hexdigest()


def cache_paths(root: Path | None = None) -> tuple[Path, Path]:
    base = (root or REPO_ROOT / ".bench") / f"scale-{VERSION}-{schema_key()}"
    return base.with_suffix(".sqlite3"), base.with_suffix(".json")


# --- templates --------------------------------------------------------------------------------


@dataclass
class Templates:
    patches: list[StoredMessage] = field(default_factory=list)
    covers: list[StoredMessage] = field(default_factory=list)
    replies: list[StoredMessage] = field(default_factory=list)
    review_replies: list[StoredMessage] = field(default_factory=list)  # replies with trailers
    carried: dict[str, tuple[Trailer, ...]] = field(default_factory=dict)


def _template(message: Any, list_name: str) -> tuple[str, StoredMessage, tuple[Trailer, ...]]:
    body = normalize_body(message.body[:BODY_LIMIT])
    quoted = tuple(number for number, flag in enumerate(body.quoted) if flag)
    reply = is_reply_subject(message.subject)
    patch = not reply and is_patch_submission(message)
    cover = not reply and _COVER_TAG.search(message.subject) is not None
    scan = scan_trailers(message, is_patch=patch)
    kind = "cover" if cover else "patch" if patch else "reply" if reply else "other"
    stored = StoredMessage(
        message_id=message.message_id,
        list_name=list_name,
        thread_root=message.message_id,
        link="root",
        subject=message.subject,
        author_name=message.author_name,
        author_email=message.author_email or "unknown@example.invalid",
        date=message.date,
        has_patch=message.has_patch,
        from_rewritten=message.from_rewritten,
        body=body.text,
        quoted_lines=quoted,
        trailers=scan.given,
        to=message.to,
        cc=message.cc,
    )
    return kind, stored, scan.carried


def parse_slice(filename: str, list_name: str) -> Templates:
    """Parse one slice (in a worker process) and sort its messages into templates."""
    path = shared_dir() / "corpus/mbox/linux-mailinglist-archives" / filename
    found = Templates()
    for raw in read_mbox_archive(path.read_bytes()).messages:
        try:
            message = parse_message(raw)
        except MailParseError:
            continue
        kind, stored, carried = _template(message, list_name)
        if kind == "patch":
            found.patches.append(stored)
            found.carried[stored.message_id] = carried
        elif kind == "cover":
            found.covers.append(stored)
        elif kind == "reply":
            (found.review_replies if stored.trailers else found.replies).append(stored)
    return found


def load_templates() -> dict[str, Templates]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(parse_slice, filename, list_id.split(".")[0])
            for name, _pid, filename, list_id in PROJECTS
        }
        return {name: future.result() for name, future in futures.items()}


# --- generation -------------------------------------------------------------------------------


@dataclass
class Manifest:
    patches: int = 0
    messages: int = 0
    series: int = 0
    discussions: int = 0
    projects: list[str] = field(default_factory=list)
    long_thread_patches: list[int] = field(default_factory=list)
    sample_patches: list[int] = field(default_factory=list)
    sample_series: list[int] = field(default_factory=list)
    submitters: dict[str, int] = field(default_factory=dict)
    queue_reviewers: dict[str, int] = field(default_factory=dict)
    range_diff_series: list[int] = field(default_factory=list)
    build_seconds: float = 0.0
    version: str = VERSION


def _reply_count(rng: random.Random) -> int:
    """Replies below one patch: some get none, most a few, some a long review (mean ~9.5)."""
    roll = rng.random()
    if roll < 0.15:
        return 0
    if roll < 0.50:
        return rng.randint(1, 5)
    if roll < 0.85:
        return rng.randint(6, 16)
    return rng.randint(17, 45)


def _retag(trailers: tuple[Trailer, ...], message_id: str, date: datetime) -> tuple[Trailer, ...]:
    return tuple(t.model_copy(update={"message_id": message_id, "date": date}) for t in trailers)


class Generator:
    def __init__(self, templates: dict[str, Templates]) -> None:
        self.rng = random.Random(SEED)
        self.templates = templates
        dump = patchwork_dump()
        self.patch_templates = [
            map_patch(raw, UTC) for raw in json.loads((dump / "patches.json").read_text())
        ]
        self.manifest = Manifest(projects=[p[0] for p in PROJECTS])
        self.next_patch_id = 1
        self.next_series_id = 1
        self.next_cover_id = 1
        self.counter = 0
        self.submitter_counts: dict[str, int] = {}
        self.delegates = {name: self._maintainers(found) for name, found in templates.items()}

    @staticmethod
    def _maintainers(found: Templates) -> list[Person]:
        """The three most frequent reviewers of a list: its patches' delegates."""
        counts: dict[tuple[str, str], int] = {}
        for reply in found.review_replies + found.replies:
            key = (reply.author_email, reply.author_name)
            counts[key] = counts.get(key, 0) + 1
        top = sorted(counts.items(), key=lambda item: -item[1])[:3]
        return [
            Person(id=n + 1, name=name or None, email=email)
            for n, ((email, name), _) in enumerate(top)
        ]

    def state(self, date: datetime) -> str:
        recent = date > START + SPAN - timedelta(days=45)
        table = RECENT_STATES if recent else STATES
        return self.rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]

    def msgid(self, project: str, date: datetime) -> str:
        self.counter += 1
        return f"{date:%Y%m%d%H%M%S}.{self.counter}-scale@{project}.bench.invalid"

    def message(
        self,
        template: StoredMessage,
        *,
        message_id: str,
        root: str,
        parent: str | None,
        date: datetime,
        subject: str | None = None,
    ) -> StoredMessage:
        return template.model_copy(
            update={
                "message_id": message_id,
                "thread_root": root,
                "parent_id": parent,
                "link": "root" if parent is None else "in-reply-to",
                "date": date,
                "subject": subject if subject is not None else template.subject,
                "trailers": _retag(template.trailers, message_id, date),
            }
        )

    def series_batches(
        self,
    ) -> Iterator[tuple[list[Patch], list[Series], list[StoredMessage], list[PatchDiscussion]]]:
        rng = self.rng
        step = SPAN / PATCHES
        patches: list[Patch] = []
        series_list: list[Series] = []
        messages: list[StoredMessage] = []
        discussions: list[PatchDiscussion] = []
        fetched = START + SPAN + timedelta(days=1)
        while self.next_patch_id <= PATCHES:
            project, _project_id, _file, list_id = PROJECTS[rng.randrange(len(PROJECTS))]
            list_name = list_id.split(".")[0]
            pool = self.templates[project]
            size = 1 if rng.random() < 0.55 else rng.randint(2, 8)
            size = min(size, PATCHES - self.next_patch_id + 1)
            long_thread = size == 1 and self.next_series_id % LONG_THREAD_EVERY == 0
            date = START + step * (self.next_patch_id - 1) + timedelta(seconds=rng.randint(0, 600))
            series_id = self.next_series_id
            self.next_series_id += 1
            first = self.patch_templates[rng.randrange(len(self.patch_templates))]
            submitter_mail = pool.patches[rng.randrange(len(pool.patches))]
            submitter = Person(
                id=None,
                name=submitter_mail.author_name or None,
                email=submitter_mail.author_email,
            )
            version = rng.choice((1, 1, 1, 2, 2, 3, 4))
            cover: CoverRef | None = None
            root: str | None = None
            series_name = first.name
            if size > 1 and pool.covers:
                cover_tpl = pool.covers[rng.randrange(len(pool.covers))]
                root = self.msgid(project, date)
                series_name = _LEADING_TAGS.sub("", cover_tpl.subject) or first.name
                messages.append(
                    self.message(cover_tpl, message_id=root, root=root, parent=None, date=date)
                )
                for _ in range(rng.randint(0, 3)):
                    tpl = pool.replies[rng.randrange(len(pool.replies))]
                    when = date + timedelta(hours=rng.randint(1, 24 * 20))
                    messages.append(
                        self.message(
                            tpl,
                            message_id=self.msgid(project, when),
                            root=root,
                            parent=root,
                            date=when,
                        )
                    )
                cover = CoverRef(
                    id=self.next_cover_id,
                    msgid=root,
                    name=series_name,
                    date=date,
                    list_archive_url=f"https://lore.kernel.org/{list_name}/{root}/",
                )
                self.next_cover_id += 1
            ref = SeriesRef(id=series_id, name=series_name, version=version, date=date)
            state = self.state(date)
            archived = date < START + SPAN * 0.8 and rng.random() < 0.9
            delegate = (
                rng.choice(self.delegates[project])
                if self.delegates[project] and rng.random() < 0.7
                else None
            )
            ids: list[int] = []
            for number in range(1, size + 1):
                template = (
                    first
                    if number == 1
                    else self.patch_templates[rng.randrange(len(self.patch_templates))]
                )
                mail_tpl = pool.patches[rng.randrange(len(pool.patches))]
                pdate = date + timedelta(seconds=number)
                msgid = self.msgid(project, pdate)
                thread_root = root or msgid
                tag = (
                    f"[v{version},{number}/{size}] "
                    if size > 1
                    else (f"[v{version}] " if version > 1 else "")
                )
                bare_name = _LEADING_TAGS.sub("", template.name) or template.name
                title = (
                    bare_name
                    if project == "netfilter-devel"
                    else (_LEADING_TAGS.sub("", mail_tpl.subject) or bare_name)
                )
                patch_id = self.next_patch_id
                self.next_patch_id += 1
                ids.append(patch_id)
                patch = template.model_copy(
                    update={
                        "id": patch_id,
                        "project": project,
                        "msgid": msgid,
                        "list_archive_url": f"https://lore.kernel.org/{list_name}/{msgid}/",
                        "date": pdate,
                        "name": tag + title,
                        "state": state,
                        "archived": archived,
                        "delegate": delegate,
                        "commit_ref": hashlib.sha1(msgid.encode()).hexdigest()
                        if state == "accepted"
                        else None,
                        "submitter": submitter,
                        "series": (ref,),
                        "web_url": f"https://patchwork.bench.invalid/project/{project}/patch/{msgid}/",
                    }
                )
                patches.append(patch)
                self.submitter_counts[submitter.email] = (
                    self.submitter_counts.get(submitter.email, 0) + 1
                )
                messages.append(
                    self.message(
                        mail_tpl,
                        message_id=msgid,
                        root=thread_root,
                        parent=root,
                        date=pdate,
                        subject=f"[PATCH {tag.strip('[] ')}] {title}".replace(
                            "[PATCH ]", "[PATCH]"
                        ),
                    ).model_copy(
                        update={
                            "author_name": submitter.name or "",
                            "author_email": submitter.email,
                        }
                    )
                )
                replies = LONG_THREAD - 1 if long_thread else _reply_count(rng)
                if long_thread:
                    self.manifest.long_thread_patches.append(patch_id)
                parents = [msgid]
                trailers: list[Trailer] = []
                naks: list[Trailer] = []
                participants: set[str] = set()
                last = pdate
                for index in range(replies):
                    reviewed = rng.random() < 0.3 and pool.review_replies
                    source = pool.review_replies if reviewed else pool.replies
                    tpl = source[rng.randrange(len(source))]
                    last = last + timedelta(minutes=rng.randint(5, 60 * 24 * 3))
                    reply_id = self.msgid(project, last)
                    parent = parents[rng.randrange(len(parents))] if index else msgid
                    reply = self.message(
                        tpl,
                        message_id=reply_id,
                        root=thread_root,
                        parent=parent,
                        date=last,
                        subject=f"Re: [PATCH {tag.strip('[] ')}] {title}".replace(
                            "[PATCH ]", "[PATCH]"
                        ),
                    )
                    parents.append(reply_id)
                    messages.append(reply)
                    participants.add(reply.author_email)
                    for trailer in reply.trailers:
                        (naks if trailer.kind is TrailerKind.NACKED_BY else trailers).append(
                            trailer
                        )
                carried = _retag(
                    self.templates[project].carried.get(mail_tpl.message_id, ()), msgid, pdate
                )
                discussions.append(
                    PatchDiscussion(
                        patch_id=patch_id,
                        message_id=msgid,
                        list_name=list_name,
                        thread_root=thread_root,
                        summary=PatchReviewSummary(
                            patch_message_id=msgid,
                            reply_count=replies,
                            participants=tuple(sorted(participants)),
                            last_activity=last if replies else None,
                            trailers=tuple(trailers),
                            naks=tuple(naks),
                            carried=carried,
                        ),
                        fetched_at=fetched,
                    )
                )
            series_list.append(
                Series(
                    id=series_id,
                    project=project,
                    name=series_name,
                    date=date,
                    version=version,
                    total=size,
                    received_total=size,
                    received_all=True,
                    submitter=submitter,
                    cover_letter=cover,
                    patch_ids=tuple(ids),
                    web_url=f"https://patchwork.bench.invalid/project/{project}/list/?series={series_id}",
                )
            )
            if len(patches) >= BATCH:
                yield patches, series_list, messages, discussions
                patches, series_list, messages, discussions = [], [], [], []
        if patches:
            yield patches, series_list, messages, discussions


_STATUS_OF_STATE = {"accepted": "accepted", "rejected": "rejected", "superseded": "superseded"}


def _reviews(
    patches: list[Patch],
    messages: list[StoredMessage],
    discussions: list[PatchDiscussion],
    waiting: Counter[str],
) -> list[PatchReview]:
    """Each patch's review as review-intel would store it, with its real To:/Cc: asked."""
    mails = {m.message_id: m for m in messages}
    found = {d.patch_id: d for d in discussions}
    out = []
    for patch in patches:
        discussion = found.get(patch.id)
        mail = mails.get(patch.msgid)
        summary = discussion.summary if discussion else None
        givers = (
            tuple(sorted({t.given_by_email.lower() for t in summary.trailers})) if summary else ()
        )
        status = _STATUS_OF_STATE.get(
            patch.state,
            "reviewed"
            if givers
            else "in-discussion"
            if summary and summary.reply_count
            else "unreviewed",
        )
        asked = addressed(mail.to, mail.cc, author=patch.submitter.email) if mail else ()
        answered = {*givers, *(summary.participants if summary else ())}
        waits = waiting_on(asked, answered=answered, status=status)
        waiting.update(waits)
        out.append(
            PatchReview(
                patch_id=patch.id,
                project=patch.project,
                series_id=patch.series[0].id if patch.series else None,
                submitter_email=patch.submitter.email.casefold(),
                date=patch.date,
                status=status,
                reviewers=givers,
                addressed=asked,
                waiting_on=waits,
            )
        )
    return out


def _chains_and_range_diffs(store: SqliteStore, sample: list[int]) -> list[int]:
    """Chains of three (s-2 → s-1 → s) for sample series, and the stored range-diffs of each
    consecutive pair, computed from the stored mail as review-intel does."""
    out = []
    used: set[int] = set()
    for series_id in sample:
        ids = [series_id - 2, series_id - 1, series_id]
        found = store.series.get_series_many(ids)
        if len(found) < 3 or used & set(ids):
            continue  # one chain per series: overlapping samples are left out
        used.update(ids)
        links = [
            SeriesLink(
                series_id=sid,
                project=found[sid].project,
                chain_id=ids[0],
                position=n,
                version=n + 1,
                previous_id=ids[n - 1] if n else None,
                superseded_by=ids[n + 1] if n + 1 < len(ids) else None,
                rule="subject" if n else None,
            )
            for n, sid in enumerate(ids)
        ]
        store.reviews.upsert_links(links)
        store.range_diffs.upsert_range_diffs(
            range_diff_from_store(store, found[new], found[old])
            for old, new in itertools.pairwise(ids)
        )
        out.append(series_id)
    return out


def build(path: Path, manifest_path: Path) -> Manifest:
    started = time.perf_counter()
    templates = load_templates()
    parsed = time.perf_counter() - started
    for name, found in templates.items():
        print(
            f"  templates {name}: {len(found.patches)} patches, {len(found.covers)} covers, "
            f"{len(found.replies)} replies, {len(found.review_replies)} with trailers",
            flush=True,
        )
    tmp = path.with_suffix(".building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    store = SqliteStore(tmp)
    store.projects.upsert_projects(
        Project(
            id=project_id,
            link_name=name,
            name=name,
            list_id=list_id,
            list_email=f"{list_id.split('.')[0]}@{list_id.split('.', 1)[1]}",
            list_archive_url=f"https://lore.kernel.org/{list_id.split('.')[0]}/",
            list_archive_url_format=f"https://lore.kernel.org/{list_id.split('.')[0]}/{{}}/",
        )
        for name, project_id, _file, list_id in PROJECTS
    )
    generator = Generator(templates)
    manifest = generator.manifest
    waiting: Counter[str] = Counter()
    for patches, series, messages, discussions in generator.series_batches():
        store.patches.upsert_patches(patches)
        store.series.upsert_series(series)
        store.discussions.upsert_messages(messages)
        store.discussions.upsert_discussions(discussions)
        store.reviews.upsert_reviews(_reviews(patches, messages, discussions, waiting))
        manifest.patches += len(patches)
        manifest.series += len(series)
        manifest.messages += len(messages)
        manifest.discussions += len(discussions)
        if manifest.patches % 20_000 < BATCH:
            print(
                f"  {manifest.patches} patches, {manifest.messages} messages, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    if PATCHES == 100_000 and manifest.messages < MIN_MESSAGES:
        raise RuntimeError(f"only {manifest.messages} messages generated")
    rng = random.Random(SEED + 1)
    manifest.sample_patches = [rng.randint(1, PATCHES) for _ in range(500)]
    manifest.sample_series = [rng.randint(1, manifest.series) for _ in range(200)]
    top = sorted(generator.submitter_counts.items(), key=lambda item: -item[1])
    manifest.submitters = dict(top[:20])
    # Reviewers with long and short queues: the busiest, and some around a hundred.
    busiest = waiting.most_common()
    middling = [item for item in busiest if 50 <= item[1] <= 200][:5]
    manifest.queue_reviewers = dict(busiest[:5] + middling)
    manifest.range_diff_series = _chains_and_range_diffs(store, manifest.sample_series[:100])
    store.close()
    manifest.build_seconds = round(time.perf_counter() - started, 1)
    print(f"  parsed templates in {parsed:.1f} s; built in {manifest.build_seconds} s")
    tmp.replace(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    manifest_path.write_text(json.dumps(manifest.__dict__, indent=1))
    return manifest


def scale_store(*, rebuild: bool = False, root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The cached store's path and manifest, building them first when missing."""
    path, manifest_path = cache_paths(root)
    if rebuild or not (path.exists() and manifest_path.exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {path} (takes a few minutes) ...", flush=True)
        build(path, manifest_path)
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return path, manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    path, manifest = scale_store(rebuild=args.rebuild)
    size = path.stat().st_size / 1e9
    print(
        f"{path}: {manifest['patches']} patches, {manifest['series']} series, "
        f"{manifest['messages']} messages, {manifest['discussions']} discussions, "
        f"{size:.2f} GB, built in {manifest['build_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

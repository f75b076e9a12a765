# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading review threads from lore into the store: shared by FetchDiscussions and Refresh.

One thread is one ``t.mbox.gz`` request. Its messages are parsed one by one (an unusable one
is skipped with a reason), linked into a tree, stored one record per Message-ID, and every
tracked patch found in it gets its review summary: replies, participants, last activity,
trailers and NAKs, a cover letter's trailers applying to the whole series.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from lkml_assistant.models.discussion import MailMessage, PatchReviewSummary, Thread
from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import PatchDiscussion, StoredMessage
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.summary import JobSummary
from lkml_assistant.sources.lore import LoreClient, list_from_archive_url, list_from_list_id
from lkml_assistant.sources.mail import (
    MailParseError,
    normalize_body,
    parse_message,
    read_mbox_archive,
)
from lkml_assistant.sources.review import (
    build_thread,
    conversation,
    scan_trailers,
    summarize_reviews,
)

log = logging.getLogger(__name__)


class DiscussionSummary(JobSummary):
    threads_fetched: int = 0
    messages_seen: int = 0
    messages_written: int = 0
    patches_updated: int = 0

    line_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("threads_fetched", "threads fetched"),
        ("messages_written", "messages written"),
    )


@dataclass(frozen=True)
class ThreadResult:
    """What one fetch found: the thread (None if lore has no such mail) and the patches in it."""

    thread: Thread | None
    complete: bool
    patch_ids: frozenset[int]


def list_for(store: Store, patch: Patch) -> str:
    """The lore list a patch was posted to, from Patchwork's archive links."""
    name = list_from_archive_url(patch.list_archive_url)
    if name:
        return name
    project = store.projects.get_project(patch.project)
    if project is not None:
        name = list_from_archive_url(project.list_archive_url) or list_from_list_id(project.list_id)
    return name or "all"


class ThreadReader:
    """Fetches, parses, stores and summarizes threads."""

    def __init__(self, store: Store, lore: LoreClient) -> None:
        self.store = store
        self.lore = lore

    def list_for(self, patch: Patch) -> str:
        return list_for(self.store, patch)

    def read(self, list_name: str, anchor: str, summary: DiscussionSummary) -> ThreadResult:
        """Fetch the thread holding ``anchor`` and record everything it says."""
        thread, complete = self._download(list_name, anchor, summary)
        if thread is None:
            return ThreadResult(None, complete, frozenset())
        patch_ids = self.ingest(list_name, thread, summary)
        if not complete:
            # Keep what we have, but fetch this thread again next time.
            self.store.discussions.mark_stale(patch_ids)
        return ThreadResult(thread, complete, frozenset(patch_ids))

    def ingest(self, list_name: str, thread: Thread, summary: DiscussionSummary) -> set[int]:
        """Store a thread's messages and the review summary of every tracked patch in it."""
        stored = [self._stored(list_name, thread, mid) for mid in thread.messages]
        result = self.store.discussions.upsert_messages(stored)
        summary.messages_written += result.written
        summary += result
        return self._summarize(list_name, thread, summary)

    def _download(
        self, list_name: str, anchor: str, summary: DiscussionSummary
    ) -> tuple[Thread | None, bool]:
        data = self.lore.thread_mbox(list_name, anchor)
        summary.threads_fetched += 1
        if data is None:
            return None, True
        archive = read_mbox_archive(data)
        if not archive.complete:
            log.warning("thread %s: download cut short, fetching once more", anchor)
            data = self.lore.thread_mbox(list_name, anchor)
            if data is None:
                return None, True
            archive = read_mbox_archive(data)
        if not archive.complete:
            for problem in archive.problems:
                log.warning("thread %s: %s", anchor, problem)
            summary.skip("truncated thread download")
        messages: list[MailMessage] = []
        for raw in archive.messages:
            summary.messages_seen += 1
            try:
                messages.append(parse_message(raw))
            except MailParseError as exc:
                log.warning("thread %s: skipping a message: %s", anchor, exc)
                summary.skip(f"unusable message: {exc.reason}")
        if not messages:
            return None, archive.complete
        mine = conversation(messages, anchor)
        if len(mine) < len(messages):
            log.info(
                "thread %s: %d messages of other threads left out (joined by subject)",
                anchor,
                len(messages) - len(mine),
            )
        thread = build_thread(mine)
        for dropped in thread.dropped:
            log.info("thread %s: %s: %s", anchor, dropped.message_id, dropped.reason)
            summary.skip("duplicate Message-ID")
        return thread, archive.complete

    @staticmethod
    def _stored(list_name: str, thread: Thread, message_id: str) -> StoredMessage:
        message = thread.messages[message_id]
        node = thread.nodes[message_id]
        body = normalize_body(message.body)
        quoted = tuple(number for number, flag in enumerate(body.quoted) if flag)
        return StoredMessage(
            message_id=message_id,
            list_name=list_name,
            thread_root=thread.root_id,
            parent_id=node.parent_id,
            link=str(node.link),
            subject=message.subject,
            author_name=message.author_name,
            author_email=message.author_email,
            date=message.date,
            has_patch=message.has_patch,
            from_rewritten=message.from_rewritten,
            body=body.text,
            quoted_lines=quoted,
            trailers=scan_trailers(message).given,
        )

    def _summarize(self, list_name: str, thread: Thread, summary: DiscussionSummary) -> set[int]:
        patches = self.store.patches.patches_by_msgids(thread.messages)
        by_series: dict[int | None, list[Patch]] = defaultdict(list)
        for patch in patches:
            by_series[patch.series[0].id if patch.series else None].append(patch)
        now = datetime.now(UTC)
        discussions: list[PatchDiscussion] = []
        for series_id, members in by_series.items():
            cover = None
            if series_id is not None:
                series = self.store.series.get_series(series_id)
                if series is not None and series.cover_letter is not None:
                    cover = series.cover_letter.msgid
            reviews = summarize_reviews(thread, [p.msgid for p in members], cover)
            discussions.extend(
                PatchDiscussion(
                    patch_id=patch.id,
                    message_id=patch.msgid,
                    list_name=list_name,
                    thread_root=thread.root_id,
                    summary=reviews[patch.msgid],
                    fetched_at=now,
                )
                for patch in members
            )
        result = self.store.discussions.upsert_discussions(discussions)
        summary.patches_updated += result.written
        summary += result
        return {d.patch_id for d in discussions}

    def record_missing(self, patch: Patch, list_name: str, summary: DiscussionSummary) -> None:
        """Lore has no thread for this patch: say so in the store, so it is not asked again."""
        result = self.store.discussions.upsert_discussions(
            [
                PatchDiscussion(
                    patch_id=patch.id,
                    message_id=patch.msgid,
                    list_name=list_name,
                    thread_root=None,
                    summary=PatchReviewSummary(patch_message_id=patch.msgid),
                    fetched_at=datetime.now(UTC),
                )
            ]
        )
        summary += result
        summary.skip("thread not on lore")

# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading review threads from lore into the store: shared by FetchDiscussions and Refresh.

Reading one thread is three steps, each done once: fetch (one ``t.mbox.gz`` request, its
messages parsed by :meth:`LoreClient.thread`; an unusable one is skipped with a reason; of a
download cut short the whole messages are kept, of a corrupt one nothing, and either way its
patches are read again next run rather than recorded as having no thread),
understand (:func:`~lkml_assistant.intel.reviews.read_download`: the asked-for conversation
linked into a tree, every message read once for its trailers), and store
(:class:`ThreadWriter`: one record per Message-ID, and the review summary of every tracked
patch found in it: replies, participants, last activity, trailers and NAKs, a cover letter's
trailers applying to the whole series). Mail already in hand skips the fetch:
``ThreadWriter(store).store_mail(list_name, messages, summary)``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from lkml_assistant.intel.reviews import (
    ThreadReading,
    read_download,
    read_thread,
    summarize_reviews,
)
from lkml_assistant.intel.threads import build_threads
from lkml_assistant.models.discussion import MailMessage, PatchReviewSummary, Thread
from lkml_assistant.models.domain import Patch, Project
from lkml_assistant.models.records import PatchDiscussion, StoredMessage
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.summary import JobSummary
from lkml_assistant.sources.lore import LoreClient, list_from_archive_url, list_from_list_id

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


def project_list(project: Project) -> str | None:
    """The lore list of a Patchwork project, from its archive link or its List-Id."""
    return list_from_archive_url(project.list_archive_url) or list_from_list_id(project.list_id)


def list_for(store: Store, patch: Patch) -> str:
    """The lore list a patch was posted to, from Patchwork's archive links."""
    name = list_from_archive_url(patch.list_archive_url)
    if name:
        return name
    project = store.projects.get_project(patch.project)
    if project is not None:
        name = project_list(project)
    return name or "all"


class ThreadWriter:
    """Stores what threads say: their messages and each tracked patch's review summary."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def store_thread(
        self, list_name: str, reading: ThreadReading, summary: DiscussionSummary
    ) -> set[int]:
        """Store a read thread; returns the ids of the tracked patches found in it."""
        thread = reading.thread
        stored = [_stored(list_name, thread, message_id, reading) for message_id in thread.messages]
        result = self.store.discussions.upsert_messages(stored)
        summary.messages_written += result.written
        summary += result
        return self._summarize(list_name, reading, summary)

    def store_mail(
        self, list_name: str, messages: Iterable[MailMessage], summary: DiscussionSummary
    ) -> set[int]:
        """Thread mail already in hand (an archive, a test's fixtures) and store every thread."""
        patch_ids: set[int] = set()
        for thread in build_threads(messages):
            patch_ids |= self.store_thread(list_name, read_thread(thread), summary)
        return patch_ids

    def _summarize(
        self, list_name: str, reading: ThreadReading, summary: DiscussionSummary
    ) -> set[int]:
        thread = reading.thread
        patches = self.store.patches.patches_by_msgids(thread.messages)
        by_series: dict[int | None, list[Patch]] = defaultdict(list)
        for patch in patches:
            by_series[patch.series[0].id if patch.series else None].append(patch)
        now = datetime.now(UTC)
        discussions: list[PatchDiscussion] = []
        every_series = self.store.series.get_series_many(
            sid for sid in by_series if sid is not None
        )
        for series_id, members in by_series.items():
            series = every_series.get(series_id) if series_id is not None else None
            cover = series.cover_letter.msgid if series and series.cover_letter else None
            reviews = summarize_reviews(
                thread, [p.msgid for p in members], cover, readings=reading.messages
            )
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


def _stored(
    list_name: str, thread: Thread, message_id: str, reading: ThreadReading
) -> StoredMessage:
    read = reading.messages[message_id]
    message = read.message
    node = thread.nodes[message_id]
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
        body=read.body.text,
        quoted_lines=read.body.quoted_line_numbers,
        trailers=read.trailers.given,
        to=message.to,
        cc=message.cc,
    )


class ThreadReader:
    """Fetches a thread from lore, reads it and stores it (:class:`ThreadWriter`)."""

    def __init__(self, store: Store, lore: LoreClient) -> None:
        self.store = store
        self.lore = lore
        self.writer = ThreadWriter(store)

    def read(self, list_name: str, anchor: str, summary: DiscussionSummary) -> ThreadResult:
        """Fetch the thread holding ``anchor`` and record everything it says."""
        reading, complete = self._fetch(list_name, anchor, summary)
        if reading is None:
            return ThreadResult(None, complete, frozenset())
        patch_ids = self.writer.store_thread(list_name, reading, summary)
        if not complete:
            # Keep what we have, but fetch this thread again next time.
            self.store.discussions.mark_stale(patch_ids)
        return ThreadResult(reading.thread, complete, frozenset(patch_ids))

    def _fetch(
        self, list_name: str, anchor: str, summary: DiscussionSummary
    ) -> tuple[ThreadReading | None, bool]:
        mbox = self.lore.thread(list_name, anchor)
        summary.threads_fetched += 1
        if mbox is None:
            return None, True
        if not mbox.complete:
            for problem in mbox.problems:
                log.warning("thread %s: %s", anchor, problem)
            if mbox.corrupt:
                # Nothing of it is trusted: the thread is read again next run instead.
                summary.skip("corrupt thread download")
                return None, False
            summary.skip("truncated thread download")
        summary.messages_seen += mbox.seen
        for reason in mbox.unusable:
            log.warning("thread %s: skipping a message: %s", anchor, reason)
            summary.skip(f"unusable message: {reason}")
        if not mbox.messages:
            return None, mbox.complete
        reading = read_download(mbox.messages, anchor)
        if reading.left_out:
            log.info(
                "thread %s: %d messages of other threads left out (joined by subject)",
                anchor,
                reading.left_out,
            )
        for dropped in reading.thread.dropped:
            log.info("thread %s: %s: %s", anchor, dropped.message_id, dropped.reason)
            summary.skip("duplicate Message-ID")
        return reading, mbox.complete

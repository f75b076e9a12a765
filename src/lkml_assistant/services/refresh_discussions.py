# SPDX-License-Identifier: GPL-2.0-or-later
"""RefreshDiscussions: keep the tracked threads current, at the cost of new mail.

For each list that holds tracked threads (the lists of the tracked projects, and any list a
recent thread came from), one search asks public-inbox which messages it received since the
last refresh (``rt:``): one request per list whatever the window, so the age of the threads
does not narrow it. Messages we already hold are ignored; the others are mapped through their
References and In-Reply-To to the threads we track, whatever their age (a regression report
answering a year-old patch), and only those threads are fetched again. With nothing new a
list costs one request; with K threads changed, K + 1. ``days`` only bounds what ``full`` and
a list's first refresh (no cursor yet) re-fetch: the threads of recent patches, the periodic
safety net.

``changing`` (the daily run) searches as above and also re-reads the window's threads that
can still change (:func:`~lkml_assistant.intel.liveness.can_still_change`: an open patch,
mail or a new patch in the last ``settled_days``), against mail the search could not see
(indexed late); the settled ones are left to ``full`` (the weekly run).

Out of shared lore budget with no time to wait (``sources/pacing.py``), a run stops before
the list it was at, as when out of time.

Given a :class:`TaskQueue` (AWS), the threads to re-read are queued instead of fetched here,
one message each, and the cursor moves once they are all queued. Given ``time_left`` (a
Lambda invocation's remaining time) a run short of time stops before the next list, as a
crawl pauses (``more``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import Field

from lkml_assistant.intel.liveness import QUIET_DAYS, ThreadLife, can_still_change
from lkml_assistant.models.records import LoreCursor, ThreadTask
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.discussions import DiscussionSummary, ThreadReader, project_list
from lkml_assistant.services.fetch_discussions import TaskQueue
from lkml_assistant.services.fetch_patches import PAUSE_MARGIN
from lkml_assistant.services.summary import recorded_run
from lkml_assistant.sources.http import CircuitOpenError, UpstreamError
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.pacing import BudgetSpent

log = logging.getLogger(__name__)

JOB = "refresh-discussions"
# Searches overlap the previous one by this much, so clock skew between us and the archive,
# or mail indexed late, cannot slip between two refreshes. Known messages are ignored.
OVERLAP = timedelta(minutes=30)


class RefreshSummary(DiscussionSummary):
    threads_queued: int = 0
    threads_settled: int = Field(
        0, description="``changing``: threads of the window left to the weekly re-read."
    )
    more: bool = Field(False, description="Out of time: lists were left to the next run.")


class RefreshDiscussions:
    def __init__(
        self,
        store: Store,
        lore: LoreClient,
        queue: TaskQueue | None = None,
        *,
        time_left: Callable[[], float] | None = None,
        settled_days: int = QUIET_DAYS,
    ) -> None:
        self.store = store
        self.lore = lore
        self.reader = ThreadReader(store, lore)
        self.queue = queue
        self.time_left = time_left
        self.quiet = timedelta(days=settled_days)

    def _out_of_time(self) -> bool:
        return self.time_left is not None and self.time_left() < PAUSE_MARGIN

    def run(
        self,
        *,
        days: int,
        full: bool = False,
        changing: bool = False,
        now: datetime | None = None,
    ) -> RefreshSummary:
        now = now or datetime.now(UTC)
        summary = RefreshSummary(job=JOB)
        with recorded_run(self.store, summary, self.lore.http):
            since = now - timedelta(days=days)
            roots = self.store.discussions.recent_thread_roots(since)
            live = self.changing_roots(since, now) if changing and not full else None
            lists = self._lists(roots)
            failed = 0
            for number, list_name in enumerate(lists):
                if self._out_of_time():
                    # The deadline, as a crawl has it: the lists not reached keep their
                    # cursors, and the next run searches them.
                    log.info("out of time: %d lists left to the next run", len(lists) - number)
                    summary.more = True
                    summary.out_of_time(lists[number:])
                    break
                mine = sorted(root for root, name in roots.items() if name == list_name)
                try:
                    self._refresh_list(
                        list_name, mine, full=full, live=live, now=now, summary=summary
                    )
                except BudgetSpent as exc:
                    log.info("%s: %d lists left to the next run", exc, len(lists) - number)
                    summary.more = True
                    break
                except CircuitOpenError as exc:
                    # The lists not refreshed keep their cursors: the next run searches them.
                    failed += len(lists) - number
                    summary.error(str(exc))
                    log.error("%s; %d lists left to the next run", exc, len(lists) - number)
                    break
                except UpstreamError as exc:
                    failed += 1
                    summary.error(f"{list_name}: {exc}")
                    log.error("refreshing %s: %s", list_name, exc)
            if failed:
                summary.status = "failed" if failed == len(lists) else "partial"
        return summary

    def changing_roots(self, since: datetime, now: datetime) -> set[str]:
        """The roots of the threads of patches posted since ``since`` that can still change."""
        patches = self.store.discussions.recent_thread_patches(since)
        reviews = self.store.reviews.get_reviews({p.patch_id for p in patches})
        by_root = defaultdict(list)
        for patch in patches:
            by_root[patch.thread_root].append(patch)
        live: set[str] = set()
        for root, members in by_root.items():
            found = [reviews.get(p.patch_id) for p in members]
            notes = [r.applied.date for r in found if r and r.applied and r.applied.date]
            life = ThreadLife(
                statuses=tuple(r.status if r else None for r in found),
                last_activity=max(
                    (p.last_activity for p in members if p.last_activity), default=None
                ),
                newest_patch=max(p.patch_date for p in members),
                decided_at=max(notes, default=None),
            )
            if can_still_change(life, now, quiet=self.quiet):
                live.add(root)
        return live

    def _lists(self, recent_roots: dict[str, str]) -> list[str]:
        """Every list with tracked threads: the projects' lists and the recent threads' ones."""
        names = set(recent_roots.values())
        for project in self.store.projects.list_projects():
            name = project_list(project)
            if name:
                names.add(name)
        return sorted(names)

    def _refresh_list(
        self,
        list_name: str,
        roots: list[str],
        *,
        full: bool,
        live: set[str] | None,
        now: datetime,
        summary: RefreshSummary,
    ) -> None:
        """``live``: the roots that can still change, re-read besides what the search finds."""
        cursor = self.store.cursors.get_lore_cursor(list_name)
        complete = True
        if full or cursor is None:
            changed = set(roots)
        else:
            since = cursor.received_until - OVERLAP
            changed, complete = self._changed_threads(list_name, since, summary)
            if live is not None:
                changed |= live.intersection(roots)
                summary.threads_settled += len(set(roots) - changed)
        if self.queue is not None:
            tasks = [ThreadTask(list_name=list_name, anchor=root) for root in sorted(changed)]
            summary.threads_queued += self.queue.send(tasks)
        else:
            for root in sorted(changed):
                # A thread read only in part is searched for again with the same window.
                complete &= self.reader.read(list_name, root, summary).complete
        # Only now, and only after whole answers: otherwise the same window is searched again.
        if complete:
            self.store.cursors.save_lore_cursor(list_name, LoreCursor(received_until=now))

    def _changed_threads(
        self, list_name: str, since: datetime, summary: DiscussionSummary
    ) -> tuple[set[str], bool]:
        """Roots of the tracked threads that received mail, and whether the answer was whole."""
        found = self.lore.search(list_name, f"rt:{int(since.timestamp())}..")
        if found is None:
            return set(), True
        if not found.complete:
            # Without the whole answer we cannot know what we missed: fetch every thread
            # touched by what did arrive, and search the same window again next time.
            summary.skip("truncated search answer")
        for reason in found.unusable:
            summary.skip(f"unusable message: {reason}")
        new = found.messages
        known = self.store.discussions.known_message_ids(m.message_id for m in new)
        unknown = [m for m in new if m.message_id not in known]
        summary.messages_seen += len(new)
        wanted: set[str] = set()
        for message in unknown:
            ids = [*message.references]
            if message.in_reply_to:
                ids.append(message.in_reply_to)
            wanted.update(ids)
        roots = set(self.store.discussions.known_message_ids(wanted).values())
        log.info(
            "%s: %d messages received since %s, %d new, touching %d tracked threads",
            list_name,
            len(new),
            since.isoformat(),
            len(unknown),
            len(roots),
        )
        return roots, found.complete

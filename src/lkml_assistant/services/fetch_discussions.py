# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchDiscussions: the review thread of every tracked patch that has none yet, or a stale one.

Patches of one series share a thread, so the thread is fetched once, through the series'
cover letter when Patchwork knows one, and every tracked patch found in it is summarized.

The work is planned as :class:`ThreadTask` objects, one per thread. Locally :meth:`run` plans
and fetches in one go; on AWS the plan is sent to a queue (:class:`TaskQueue`) and each
consumer invocation fetches a batch of tasks with :meth:`run_task`.

When lore keeps failing, the lore client's circuit breaker opens and the run stops there: the
threads not tried are counted as skipped and stay planned for the next run. So does a run
whose shared lore budget (``sources/pacing.py``) is spent with no time left to wait.
Progress is told to a :class:`ThreadProgress` (a terminal's bar, see ``local/progress.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import ThreadTask
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.discussions import DiscussionSummary, ThreadReader, list_for
from lkml_assistant.services.fetch_patches import PAUSE_MARGIN
from lkml_assistant.services.summary import recorded_run
from lkml_assistant.sources.http import CircuitOpenError, UpstreamError
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.pacing import BudgetSpent

log = logging.getLogger(__name__)

JOB = "fetch-discussions"
NOT_TRIED = "not tried: lore failed too often in a row"
DEFERRED = "deferred: the shared lore budget was spent"


class ThreadProgress(Protocol):
    """Told how many of the planned threads are behind us, so a terminal can show it."""

    def threads(self, done: int, total: int) -> None: ...


class _NoProgress:
    def threads(self, done: int, total: int) -> None:
        return None


class TaskQueue(Protocol):
    """Where planned thread fetches go when another process does them (SQS on AWS)."""

    def send(self, tasks: Sequence[ThreadTask]) -> int:
        """Queue the tasks; returns how many were queued. Raises if any could not be."""
        ...


def plan_threads(
    store: Store,
    *,
    patch_ids: Sequence[int] = (),
    projects: Sequence[str] = (),
    since: datetime | None = None,
    limit: int = 10_000,
    summary: DiscussionSummary | None = None,
) -> list[ThreadTask]:
    """The threads to fetch: of the given patches, or of every patch lacking a fresh thread."""
    if patch_ids:
        found = store.patches.get_patches(patch_ids)
        for missing in sorted(set(patch_ids) - set(found)):
            log.warning("patch %s is not in the store; run fetch-patches first", missing)
            if summary is not None:
                summary.skip("unknown patch")
        wanted = [found[pid] for pid in patch_ids if pid in found]
    else:
        ids = store.discussions.patches_without_discussion(
            projects=projects, since=since, limit=limit
        )
        wanted = list(store.patches.get_patches(ids).values())
    return _group(store, wanted)


def _group(store: Store, patches: list[Patch]) -> list[ThreadTask]:
    """One task per thread: the series' cover letter anchors it when Patchwork knows one,
    else the series' first patch (git send-email threads the others under it). A patch that
    is not in its anchor's thread after all is read on its own (:meth:`run_task`)."""
    every_series = store.series.get_series_many({p.series[0].id for p in patches if p.series})
    covers = {
        series_id: series.cover_letter.msgid
        for series_id, series in every_series.items()
        if series.cover_letter is not None
    }
    groups: dict[tuple[str, str | int], list[Patch]] = {}
    for patch in sorted(patches, key=lambda p: p.id):
        key: str | int = patch.msgid
        if patch.series:
            series_id = patch.series[0].id
            key = covers.get(series_id, series_id)
        groups.setdefault((list_for(store, patch), key), []).append(patch)
    return [
        ThreadTask(
            list_name=list_name,
            anchor=key if isinstance(key, str) else members[0].msgid,
            patch_ids=tuple(p.id for p in members),
        )
        for (list_name, key), members in groups.items()
    ]


class FetchDiscussions:
    def __init__(
        self,
        store: Store,
        lore: LoreClient,
        *,
        progress: ThreadProgress | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.lore = lore
        self.reader = ThreadReader(store, lore)
        self.progress = progress or _NoProgress()
        self.time_left = time_left

    def _out_of_time(self) -> bool:
        return self.time_left is not None and self.time_left() < PAUSE_MARGIN

    def run(
        self,
        *,
        patch_ids: Sequence[int] = (),
        projects: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> DiscussionSummary:
        """Plan and fetch in this process."""
        summary = DiscussionSummary(job=JOB)
        with recorded_run(self.store, summary, self.lore.http):
            tasks = plan_threads(
                self.store,
                patch_ids=patch_ids,
                projects=projects,
                since=since,
                limit=limit,
                summary=summary,
            )
            self._run(summary, tasks)
        return summary

    def run_tasks(self, tasks: Sequence[ThreadTask]) -> DiscussionSummary:
        """Fetch planned threads, going on past a thread that fails."""
        summary = DiscussionSummary(job=JOB)
        with recorded_run(self.store, summary, self.lore.http):
            self._run(summary, tasks)
        return summary

    def _run(self, summary: DiscussionSummary, tasks: Sequence[ThreadTask]) -> None:
        done: set[int] = set()
        attempted = 0
        for number, task in enumerate(tasks, 1):
            self.progress.threads(number - 1, len(tasks))
            if task.patch_ids and all(pid in done for pid in task.patch_ids):
                continue
            if self._out_of_time():
                # The threads not read keep no discussion: the next run plans them again.
                summary.out_of_time([f"{len(tasks) - number + 1} threads"])
                log.info("out of time: %d threads left to the next run", len(tasks) - number + 1)
                break
            attempted += 1
            try:
                done.update(self.run_task(task, summary))
            except BudgetSpent as exc:
                # Out of budget and of time: the threads not read stay planned for next run.
                attempted -= 1
                for _ in tasks[number - 1 :]:
                    summary.skip(DEFERRED)
                log.info("%s; %d threads left to the next run", exc, len(tasks) - number + 1)
                break
            except CircuitOpenError as exc:
                # The threads not tried keep no discussion, so the next run plans them again.
                attempted -= 1
                not_tried = tasks[number - 1 :]
                summary.error(str(exc))
                for _ in not_tried:
                    summary.skip(NOT_TRIED)
                log.error("%s; %d threads left to the next run", exc, len(not_tried))
                break
            except UpstreamError as exc:
                summary.error(f"{task.list_name}/{task.anchor}: {exc}")
                log.error("thread %s on %s: %s", task.anchor, task.list_name, exc)
        self.progress.threads(len(tasks), len(tasks))
        if summary.errors:
            summary.status = "failed" if summary.errors >= attempted else "partial"

    def run_task(self, task: ThreadTask, summary: DiscussionSummary) -> set[int]:
        """Fetch one thread and record it; returns the patch ids settled. Raises UpstreamError.

        A patch of the task not in the anchor's thread is looked for in its own; one found in
        neither is recorded as having none on lore, so it is not asked for again. That is only
        known from whole downloads: after a cut one the patch is left to be read again.
        """
        patches = self.store.patches.get_patches(task.patch_ids)
        result = self.reader.read(task.list_name, task.anchor, summary)
        settled = set(result.patch_ids)
        asked = {task.anchor}
        unread: list[int] = []
        for pid in task.patch_ids:
            patch = patches.get(pid)
            if patch is None or pid in settled:
                continue
            whole = result.complete
            if patch.msgid not in asked:
                # Not in the anchor's thread (a cover that never reached lore, patches sent
                # unthreaded): the patch's own thread may hold it.
                asked.add(patch.msgid)
                own = self.reader.read(task.list_name, patch.msgid, summary)
                settled |= own.patch_ids
                if pid in settled:
                    continue
                whole = whole and own.complete
            if whole:
                self.reader.writer.record_missing(patch, task.list_name, summary)
                settled.add(pid)
            else:
                unread.append(pid)
        if unread:
            # Neither "no thread" nor settled: a stored discussion is read again next run, and
            # a patch without one is planned again anyway.
            self.store.discussions.mark_stale(unread)
            log.warning("thread %s: %d patches left to the next run", task.anchor, len(unread))
        return settled

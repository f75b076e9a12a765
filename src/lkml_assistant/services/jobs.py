# SPDX-License-Identifier: GPL-2.0-or-later
"""The jobs as the schedules run them: one service layer for `serve` and for Lambda.

Each job is a small method over the services, wired from settings for one store. ``now``
comes from the caller's clock. Two things differ between the two ways of running, and both
are given here rather than decided inside the services:

* ``queue``: on AWS the threads to fetch are sent to SQS, one message each, for the
  ``fetch_discussions`` function; locally (no queue) they are fetched in this process.
* ``time_left``: a Lambda invocation's remaining seconds; a long crawl pauses and the next
  invocation resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from lkml_assistant.config import Settings
from lkml_assistant.models.records import ThreadTask
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.discussions import DiscussionSummary
from lkml_assistant.services.fetch_discussions import FetchDiscussions, TaskQueue, plan_threads
from lkml_assistant.services.fetch_patches import FetchPatches, FetchPatchesSummary, Progress
from lkml_assistant.services.refresh_discussions import RefreshDiscussions, RefreshSummary
from lkml_assistant.services.review_intel import ReviewIntel, ReviewIntelSummary
from lkml_assistant.services.summary import recorded_run
from lkml_assistant.sources.http import UpstreamError
from lkml_assistant.wiring import lore_client, patchwork_client


class ThreadFetcher:
    """Fetches queued threads one at a time, into one summary; a failure raises for the caller."""

    def __init__(self, job: FetchDiscussions, summary: DiscussionSummary) -> None:
        self.job = job
        self.summary = summary
        self.attempted = 0

    def fetch(self, task: ThreadTask) -> set[int]:
        self.attempted += 1
        try:
            return self.job.run_task(task, self.summary)
        except UpstreamError as exc:
            self.failed(f"{task.list_name}/{task.anchor}: {exc}")
            raise

    def failed(self, message: str) -> None:
        self.summary.error(message)
        self.summary.status = "failed" if self.summary.errors >= self.attempted else "partial"


class Jobs:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        progress: Progress | None = None,
        queue: TaskQueue | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.progress = progress
        self.queue = queue
        self.time_left = time_left

    def window_start(self, now: datetime, days: int | None = None) -> datetime:
        return now - timedelta(days=days or self.settings.backfill_days)

    def projects_never_synced(self, projects: Sequence[str] = ()) -> list[str]:
        wanted = projects or self.settings.projects
        return [p for p in wanted if self.store.cursors.get_cursor(p) is None]

    def fetch_patches(
        self,
        now: datetime,
        *,
        full: bool = False,
        days: int | None = None,
        projects: Sequence[str] = (),
    ) -> FetchPatchesSummary:
        """Patches, series and states; with a queue, then the threads they need, queued."""
        wanted = list(projects or self.settings.projects)
        # A project never synced starts at the window, not at its first patch years ago.
        since = None
        if full or days or self.projects_never_synced(wanted):
            since = self.window_start(now, days)
        with patchwork_client(self.settings) as client:
            job = FetchPatches(
                self.store,
                client,
                server_tz=self.settings.patchwork_tz,
                progress=self.progress,
                time_left=self.time_left,
            )
            summary = job.run(wanted, since=since, full=full)
        if self.queue is not None:
            summary.threads_queued = self.queue_discussions(now, days=days, projects=wanted)
        return summary

    def queue_discussions(
        self, now: datetime, *, days: int | None = None, projects: Sequence[str] = ()
    ) -> int:
        """Send one task per thread still to fetch (AWS); returns how many were queued."""
        assert self.queue is not None, "queue_discussions needs a queue"
        tasks = plan_threads(
            self.store,
            projects=projects or self.settings.projects,
            since=self.window_start(now, days),
        )
        return self.queue.send(tasks) if tasks else 0

    def fetch_discussions(self, now: datetime, *, days: int | None = None) -> DiscussionSummary:
        with lore_client(self.settings) as lore:
            return FetchDiscussions(self.store, lore).run(
                projects=self.settings.projects, since=self.window_start(now, days)
            )

    def fetch_threads(self, tasks: Sequence[ThreadTask]) -> DiscussionSummary:
        """Fetch threads planned elsewhere, going on past failures."""
        with lore_client(self.settings) as lore:
            return FetchDiscussions(self.store, lore).run_tasks(tasks)

    @contextmanager
    def thread_fetcher(self, summary: DiscussionSummary) -> Iterator[ThreadFetcher]:
        """The queue consumer's view: one run record for a batch, each task on its own.

        ``summary`` gets the batch's requests and seconds when the block ends, not before."""
        with lore_client(self.settings) as lore:
            job = FetchDiscussions(self.store, lore)
            with recorded_run(self.store, summary, lore.http):
                yield ThreadFetcher(job, summary)

    def review_intel(self, now: datetime, *, days: int | None = None) -> ReviewIntelSummary:
        """Version chains and review status of the window's patches, from the store alone."""
        return ReviewIntel(self.store).run(
            projects=self.settings.projects, since=self.window_start(now, days)
        )

    def refresh_discussions(self, now: datetime, *, days: int, full: bool) -> RefreshSummary:
        with lore_client(self.settings) as lore:
            return RefreshDiscussions(self.store, lore, self.queue).run(
                days=days, full=full, now=now
            )

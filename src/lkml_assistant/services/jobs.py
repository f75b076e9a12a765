# SPDX-License-Identifier: GPL-2.0-or-later
"""The jobs as every entry point runs them: one service layer for `serve`, the CLI and Lambda.

What runs when is :mod:`lkml_assistant.services.recipes`; this module carries a recipe's
steps out, each over the window its settings name. ``now`` comes from the caller's clock.
Two things differ between the ways of running, and both are given here rather than decided
inside the services:

* ``queue``: on AWS the threads to fetch are sent to SQS, one message each, for the
  ``fetch_discussions`` function; locally (no queue) they are fetched in this process.
* ``time_left``: a Lambda invocation's remaining seconds; a long crawl pauses and the next
  invocation resumes it, and every other step stops before its next project or list
  (``partial``, naming what is left).
* ``projects_queue``: on AWS a recipe's project steps are fanned out, one
  :class:`ProjectTask` per project to the crawl queue, each run by the ``crawl`` consumer
  with its own invocation's deadline (:meth:`Jobs.run_project_task`); without it they run
  here, over every project at once (:meth:`Jobs.run_projects`, the same unit).

Whatever fetches leaves the review intelligence current for what it changed: a recipe ends
with review-intel, and :meth:`Jobs.then_review_intel` follows a single fetch that wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from pydantic import Field, PrivateAttr

from lkml_assistant.config import Settings
from lkml_assistant.models.records import ProjectTask, ThreadTask
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.discussions import DiscussionSummary
from lkml_assistant.services.fetch_discussions import (
    DEFERRED,
    NOT_TRIED,
    FetchDiscussions,
    TaskQueue,
    ThreadProgress,
    plan_threads,
)
from lkml_assistant.services.fetch_patches import (
    PAUSE_MARGIN,
    FetchPatches,
    FetchPatchesSummary,
    Progress,
)
from lkml_assistant.services.recipes import RECIPES, JobName, Recipe, RecipeStep, Window
from lkml_assistant.services.refresh_discussions import RefreshDiscussions, RefreshSummary
from lkml_assistant.services.review_intel import ReviewIntel, ReviewIntelSummary
from lkml_assistant.services.summary import JobSummary, recorded_run
from lkml_assistant.sources.http import CircuitOpenError, UpstreamError
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.pacing import BudgetSpent
from lkml_assistant.wiring import lore_client, lore_pacer, patchwork_client


class QueuedThreadsSummary(JobSummary):
    """fetch-discussions with a work queue: the threads were sent, not fetched."""

    job: str = str(JobName.FETCH_DISCUSSIONS)
    threads_queued: int = 0

    line_fields: ClassVar[tuple[tuple[str, str], ...]] = (("threads_queued", "threads queued"),)


class QueuedProjectsSummary(JobSummary):
    """fetch-patches with a crawl queue: one task per project was sent, none crawled here."""

    job: str = str(JobName.FETCH_PATCHES)
    projects_queued: int = 0

    line_fields: ClassVar[tuple[tuple[str, str], ...]] = (("projects_queued", "projects queued"),)


class ProjectQueue(Protocol):
    """Where a recipe's project units go when other invocations run them (SQS on AWS)."""

    def send(self, tasks: Sequence[ProjectTask]) -> int:
        """Queue the tasks; returns how many were queued. Raises if any could not be."""
        ...


@dataclass
class ProjectUnit:
    """What a recipe's project steps did over some projects.

    ``resume_at``: the index (in :attr:`Recipe.project_steps`) of the first step the deadline
    cut short, None when every step finished; ``changed``: whether the unit wrote anything,
    which a continuation passes on so that review-intel still looks at the project."""

    parts: list[JobSummary] = field(default_factory=list)
    resume_at: int | None = None
    changed: bool = False

    @property
    def failed(self) -> bool:
        return any(part.status == "failed" for part in self.parts)


class RecipeSummary(JobSummary):
    """A recipe's steps in one summary: the sums, and each step's own summary in ``jobs``."""

    days: int | None = Field(None, description="The window asked for instead of the settings'.")
    jobs: list[dict[str, object]] = Field(default_factory=list)
    _parts: tuple[JobSummary, ...] = PrivateAttr(())

    @property
    def parts(self) -> tuple[JobSummary, ...]:
        """Each step's own summary, in order."""
        return self._parts

    @classmethod
    def of(cls, name: str, parts: Sequence[JobSummary], days: int | None = None) -> RecipeSummary:
        total = cls(job=name, days=days, jobs=[part.as_dict() for part in parts])
        total._parts = tuple(parts)
        for part in parts:
            for key in ("requests", "written", "unchanged", "skipped", "errors", "seconds"):
                setattr(total, key, getattr(total, key) + getattr(part, key))
            total.upstream_seconds += part.upstream_seconds
            for reason, count in part.skip_reasons.items():
                total.skip_reasons[reason] = total.skip_reasons.get(reason, 0) + count
            total.error_messages.extend(part.error_messages)
        statuses = {part.status for part in parts}
        if statuses - {"ok"}:
            total.status = "failed" if statuses == {"failed"} else "partial"
        return total

    def failed_parts(self) -> list[JobSummary]:
        """The steps that could not do their work: one is enough for the recipe to fail."""
        return [part for part in self._parts if part.status == "failed"]

    def line(self) -> str:
        """One line: the recipe, then each step's own summary line."""
        return " | ".join([f"{self.job} [{self.status}]", *(part.line() for part in self._parts)])


class ThreadFetcher:
    """Fetches queued threads one at a time, into one summary; a failure raises for the caller."""

    def __init__(self, job: FetchDiscussions, summary: DiscussionSummary) -> None:
        self.job = job
        self.summary = summary
        self.attempted = 0
        self.settled: set[int] = set()

    def fetch(self, task: ThreadTask) -> set[int]:
        """Fetch one task; raises UpstreamError so that its record is retried, also when lore
        was not asked at all (its circuit open): that task was not tried rather than failed.
        Raises BudgetSpent when the shared lore budget leaves no time for it: deferred."""
        self.attempted += 1
        try:
            settled = self.job.run_task(task, self.summary)
        except BudgetSpent:
            # Deferred, not tried: the caller hands the task back for later.
            self.attempted -= 1
            self.summary.skip(DEFERRED)
            raise
        except CircuitOpenError as exc:
            self.attempted -= 1
            if NOT_TRIED not in self.summary.skip_reasons:
                self.failed(str(exc))
            self.summary.skip(NOT_TRIED)
            raise
        except UpstreamError as exc:
            self.failed(f"{task.list_name}/{task.anchor}: {exc}")
            raise
        self.settled |= settled
        return settled

    def failed(self, message: str) -> None:
        self.summary.error(message)
        self.summary.status = "failed" if self.summary.errors >= self.attempted else "partial"


def rotated(projects: Sequence[str], now: datetime) -> list[str]:
    """``projects`` starting at the one whose turn this hour is."""
    if len(projects) < 2:
        return list(projects)
    start = int(now.timestamp() // 3600) % len(projects)
    return [*projects[start:], *projects[:start]]


def changed_projects(parts: Sequence[JobSummary]) -> set[str] | None:
    """The projects the steps so far changed in the store; None when a step cannot say."""
    changed: set[str] = set()
    for part in parts:
        if isinstance(part, FetchPatchesSummary):
            changed.update(part.changed_projects)
        elif part.written:
            return None  # threads fetched in this process: which projects is not tracked
    return changed


class JobProgress(Progress, ThreadProgress, Protocol):
    """What a terminal is told: the Patchwork pages crawled and the lore threads read."""


class Jobs:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        progress: JobProgress | None = None,
        queue: TaskQueue | None = None,
        projects_queue: ProjectQueue | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.progress = progress
        self.queue = queue
        self.projects_queue = projects_queue
        self.time_left = time_left

    def out_of_time(self) -> bool:
        """Whether the deadline is too close for one more project or list."""
        return self.time_left is not None and self.time_left() < PAUSE_MARGIN

    # -- recipes -------------------------------------------------------------------------------

    def run_recipe(
        self,
        recipe: Recipe,
        now: datetime,
        *,
        days: int | None = None,
        projects: Sequence[str] = (),
    ) -> RecipeSummary:
        """Every step of ``recipe``, in order; ``days`` replaces every step's window.

        The list steps run here; the project steps are sent to the crawl queue, one task per
        project, when there is one (AWS), else run here over every project at once: the
        same unit (:meth:`run_projects`)."""
        parts: list[JobSummary] = [
            self.run_step(step, now, days=days, projects=projects) for step in recipe.list_steps
        ]
        wanted = list(projects or self.settings.projects)
        if self.projects_queue is not None and recipe.project_steps:
            parts.append(self._queue_projects(recipe, now, wanted, days))
        else:
            parts += self.run_projects(recipe, now, projects=wanted, days=days).parts
        return RecipeSummary.of(recipe.name, parts, days)

    def run_projects(
        self,
        recipe: Recipe,
        now: datetime,
        *,
        projects: Sequence[str],
        days: int | None = None,
        start: int = 0,
        changed: bool = False,
        request: datetime | None = None,
        record_idle: bool = True,
    ) -> ProjectUnit:
        """The unit of work per project: ``recipe``'s project steps over ``projects``, from
        step ``start`` on, each carried out by :meth:`run_step`.

        In a recipe without a full step, review-intel looks only at the projects the steps
        before it changed (none, when nothing was new upstream; ``changed``: an earlier part
        of this unit wrote); a full recipe (daily, weekly) looks at every project, the
        periodic safety net. Each step checks the deadline itself; the first one cut short
        is where the unit resumes (``resume_at``). ``record_idle``: record a review-intel
        that had nothing to look at (a run over every project says so; a hundred units of
        one project each would write a hundred such records an hour)."""
        unit = ProjectUnit(changed=changed)
        steps = recipe.project_steps
        for index in range(start, len(steps)):
            step = steps[index]
            wanted: Sequence[str] = projects
            if step.job is JobName.REVIEW_INTEL and recipe.incremental and not changed:
                touched = changed_projects(unit.parts)
                if touched is not None:
                    wanted = [p for p in projects if p in touched]
                    if not wanted:
                        if record_idle:
                            # Recorded all the same: the run says review-intel is current.
                            idle = ReviewIntel(self.store).run(projects=[], since=None)
                            unit.parts.append(idle)
                        continue
            part = self.run_step(step, now, days=days, projects=wanted, request=request)
            unit.parts.append(part)
            unit.changed = unit.changed or part.written > 0
            if part.left and unit.resume_at is None:
                unit.resume_at = index
        return unit

    def run_project_task(self, task: ProjectTask, now: datetime) -> ProjectUnit:
        """One project's unit, as the crawl queue's consumer runs it. A unit the deadline cut
        short sends itself again, to resume at that step (a crawl at its page); one that
        failed does not: its message is retried by SQS, and after that goes to the DLQ."""
        unit = self.run_projects(
            RECIPES[task.recipe],
            now,
            projects=[task.project],
            days=task.days,
            start=task.step,
            changed=task.changed,
            request=task.requested_at,
            record_idle=False,
        )
        if unit.resume_at is not None and not unit.failed:
            assert self.projects_queue is not None, "a unit under a deadline needs its queue"
            again = task.model_copy(update={"step": unit.resume_at, "changed": unit.changed})
            self.projects_queue.send([again])
        return unit

    def _queue_projects(
        self, recipe: Recipe, now: datetime, projects: Sequence[str], days: int | None
    ) -> QueuedProjectsSummary:
        assert self.projects_queue is not None
        summary = QueuedProjectsSummary()
        with recorded_run(self.store, summary):
            # The hour names the request: a schedule retried within it is the same request,
            # so a project's full crawl is not done twice for it (FetchPatches, ``request``).
            requested = now.replace(minute=0, second=0, microsecond=0)
            tasks = [
                ProjectTask(recipe=recipe.name, project=p, requested_at=requested, days=days)
                for p in projects
            ]
            summary.projects_queued = self.projects_queue.send(tasks) if tasks else 0
        return summary

    def run_step(
        self,
        step: RecipeStep,
        now: datetime,
        *,
        days: int | None = None,
        projects: Sequence[str] = (),
        request: datetime | None = None,
    ) -> JobSummary:
        """One step of a recipe, over its window (or ``days``); ``request``: the fan-out
        task's, so that a full crawl is done once for it."""
        window = days or self.window_days(step.window)
        match step.job:
            case JobName.FETCH_PATCHES:
                # Incremental unless full or a window is asked for (or never synced).
                crawl_days = window if step.full or days else None
                return self.fetch_patches(
                    now, full=step.full, days=crawl_days, projects=projects, request=request
                )
            case JobName.FETCH_DISCUSSIONS:
                return self.fetch_discussions(now, days=window, projects=projects)
            case JobName.REFRESH_DISCUSSIONS:
                return self.refresh_discussions(
                    now, days=window, full=step.full, changing=step.changing
                )
            case JobName.REVIEW_INTEL:
                return self.review_intel(now, days=window, projects=projects)

    def window_days(self, window: Window) -> int:
        if window is Window.REFRESH:
            return self.settings.refresh_days
        return self.settings.backfill_days

    def window_start(self, now: datetime, days: int | None = None) -> datetime:
        return now - timedelta(days=days or self.settings.backfill_days)

    def projects_never_synced(self, projects: Sequence[str] = ()) -> list[str]:
        wanted = projects or self.settings.projects
        return [p for p in wanted if self.store.cursors.get_cursor(p) is None]

    def then_review_intel(
        self,
        summary: JobSummary,
        now: datetime,
        *,
        projects: Sequence[str] = (),
        patch_ids: Iterable[int] = (),
    ) -> ReviewIntelSummary | None:
        """After a single fetch (CLI, queue consumer): review-intel, if the fetch wrote; given
        the ``patch_ids`` the fetch settled, only for their projects."""
        if not summary.written:
            return None
        ids = set(patch_ids)
        if ids and not projects:
            found = {patch.project for patch in self.store.patches.get_patches(ids).values()}
            projects = [p for p in self.settings.projects if p in found] or sorted(found)
        return self.review_intel(now, projects=projects)

    @contextmanager
    def _lore(self) -> Iterator[LoreClient]:
        """A lore client whose requests count against the budget every invocation shares
        (``LKML_LORE_REQUESTS_PER_MINUTE``), waiting for the next window within the deadline."""
        pacer = lore_pacer(self.settings, self.store.budget, self.time_left)
        with lore_client(self.settings) as lore:
            if pacer is not None:
                lore.http.gate = pacer.acquire
            yield lore

    # -- the jobs ------------------------------------------------------------------------------

    def fetch_patches(
        self,
        now: datetime,
        *,
        full: bool = False,
        days: int | None = None,
        since: datetime | None = None,
        projects: Sequence[str] = (),
        windowed: bool = True,
        request: datetime | None = None,
    ) -> FetchPatchesSummary:
        """Patches, series and states: incremental, or re-crawled from the window's start.

        A project never synced starts at the window, not at its first patch years ago;
        ``windowed=False`` (the CLI) crawls from ``since``, or from the beginning."""
        wanted = list(projects or self.settings.projects)
        if self.time_left is not None:
            # Under a deadline, each hour starts at another project: one that a run short of
            # time never reached is first within len(projects) hours, so none starves.
            wanted = rotated(wanted, now)
        needs_window = full or days or self.projects_never_synced(wanted)
        if since is None and windowed and needs_window:
            since = self.window_start(now, days)
        with patchwork_client(self.settings) as client:
            job = FetchPatches(
                self.store,
                client,
                server_tz=self.settings.patchwork_tz,
                progress=self.progress,
                time_left=self.time_left,
            )
            return job.run(wanted, since=since, full=full, request=request)

    def fetch_discussions(
        self,
        now: datetime,
        *,
        days: int | None = None,
        projects: Sequence[str] = (),
        patch_ids: Sequence[int] = (),
        any_age: bool = False,
    ) -> DiscussionSummary | QueuedThreadsSummary:
        """The threads of the window's patches that have none yet or a stale one.

        With a queue they are sent to it, one task per thread; else fetched here. Given
        ``patch_ids``, those patches' threads; with ``any_age``, of every stored patch."""
        wanted = list(projects or self.settings.projects) if not patch_ids else []
        since = None if patch_ids or any_age else self.window_start(now, days)
        if self.queue is not None:
            return self._queue_threads(since=since, projects=wanted, patch_ids=patch_ids)
        with self._lore() as lore:
            fetch = FetchDiscussions(
                self.store, lore, progress=self.progress, time_left=self.time_left
            )
            return fetch.run(patch_ids=patch_ids, projects=wanted, since=since)

    def _queue_threads(
        self, *, since: datetime | None, projects: Sequence[str], patch_ids: Sequence[int]
    ) -> QueuedThreadsSummary:
        """Plan and queue, project by project, stopping before the next one short of time."""
        assert self.queue is not None
        summary = QueuedThreadsSummary()
        with recorded_run(self.store, summary):
            if patch_ids:
                tasks = plan_threads(self.store, patch_ids=patch_ids)
                summary.threads_queued = self.queue.send(tasks) if tasks else 0
            for number, project in enumerate(projects):
                if self.out_of_time():
                    summary.out_of_time(projects[number:])
                    break
                tasks = plan_threads(self.store, projects=[project], since=since)
                summary.threads_queued += self.queue.send(tasks) if tasks else 0
        return summary

    def fetch_threads(self, tasks: Sequence[ThreadTask]) -> DiscussionSummary:
        """Fetch threads planned elsewhere, going on past failures."""
        with self._lore() as lore:
            return FetchDiscussions(self.store, lore).run_tasks(tasks)

    @contextmanager
    def thread_fetcher(self, summary: DiscussionSummary) -> Iterator[ThreadFetcher]:
        """The queue consumer's view: one run record for a batch, each task on its own.

        ``summary`` gets the batch's requests and seconds when the block ends, not before."""
        with self._lore() as lore:
            job = FetchDiscussions(self.store, lore)
            with recorded_run(self.store, summary, lore.http):
                yield ThreadFetcher(job, summary)

    def review_intel(
        self, now: datetime, *, days: int | None = None, projects: Sequence[str] = ()
    ) -> ReviewIntelSummary:
        """Version chains and review status of the window's patches, from the store alone."""
        return ReviewIntel(self.store, time_left=self.time_left).run(
            projects=projects or self.settings.projects, since=self.window_start(now, days)
        )

    def refresh_discussions(
        self, now: datetime, *, days: int | None = None, full: bool = False, changing: bool = False
    ) -> RefreshSummary:
        """Threads of the window's patches that received mail (``full``: all of them;
        ``changing``: also those that can still change)."""
        with self._lore() as lore:
            refresh = RefreshDiscussions(
                self.store,
                lore,
                self.queue,
                time_left=self.time_left,
                settled_days=self.settings.refresh_settled_days,
            )
            return refresh.run(
                days=days or self.settings.refresh_days, full=full, changing=changing, now=now
            )

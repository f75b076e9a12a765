# SPDX-License-Identifier: GPL-2.0-or-later
"""The repository interfaces every store implements (SQLite locally, DynamoDB on AWS).

Writes are idempotent upserts keyed by Patchwork's ids: storing an object identical to the
stored one writes nothing and is counted as unchanged, so a re-run with nothing new upstream
costs no writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lkml_assistant.models.domain import Patch, Project, Series
from lkml_assistant.models.rangediff import RangeDiffRecord
from lkml_assistant.models.records import (
    ChangePage,
    LoreCursor,
    PatchDiscussion,
    PatchReview,
    ReviewCounts,
    RunRecord,
    SeriesLink,
    StoredMessage,
    SyncCursor,
    WriteResult,
)


class StoreOpenError(Exception):
    """The store named by the settings cannot be opened; the message says what is wrong."""


@dataclass(frozen=True)
class PatchQuery:
    """What a patch list is narrowed to; every criterion given must hold.

    ``words`` are matched against the patch title, whole words, all of them.
    ``review_states`` are :class:`PatchReview` statuses; a patch with no review record yet
    counts as ``unreviewed``.
    ``since`` is inclusive and ``until`` exclusive, both on the submission date.
    ``msgid`` is the patch mail's Message-ID, without angle brackets.
    """

    project: str | None = None
    states: tuple[str, ...] = ()
    submitter: str | None = None
    series_id: int | None = None
    words: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    review_states: tuple[str, ...] = ()
    msgid: str | None = None


@dataclass(frozen=True)
class PageMark:
    """The last patch of a page: the next page starts strictly after it (date DESC, id DESC)."""

    date: datetime
    id: int


@dataclass(frozen=True)
class ThreadPatch:
    """One tracked patch of a stored thread, with what says whether the thread can still
    change (:mod:`lkml_assistant.intel.liveness`): the patch's date, the thread's last mail."""

    thread_root: str
    list_name: str
    patch_id: int
    patch_date: datetime
    last_activity: datetime | None = None


@dataclass(frozen=True)
class PatchSlice:
    """A page of patches for one request, and where the store stopped reading if it stopped
    before the page was full.

    ``scanned_to`` is set when the store's reads for one request ran out (a filter its indexes
    cannot express, passing over more than a few units of entries that do not match): every
    patch strictly after the caller's page mark and strictly before ``scanned_to`` was
    considered, so the next page starts after ``scanned_to`` and none is skipped or repeated.
    """

    patches: list[Patch]
    scanned_to: PageMark | None = None


@dataclass(frozen=True)
class StoreCounts:
    """How much the store holds, kept current by the store itself (no scan per call)."""

    projects: int = 0
    series: int = 0
    messages: int = 0
    discussions: int = 0
    patches_by_project_state: dict[tuple[str, str], int] = field(default_factory=dict)


class ProjectRepository(ABC):
    @abstractmethod
    def upsert_projects(self, projects: Iterable[Project]) -> WriteResult: ...

    @abstractmethod
    def get_project(self, link_name: str) -> Project | None: ...

    @abstractmethod
    def list_projects(self) -> list[Project]: ...


class PatchRepository(ABC):
    @abstractmethod
    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult: ...

    @abstractmethod
    def get_patch(self, patch_id: int) -> Patch | None: ...

    @abstractmethod
    def get_patches(self, patch_ids: Iterable[int]) -> dict[int, Patch]: ...

    @abstractmethod
    def patches_by_msgids(self, msgids: Iterable[str]) -> list[Patch]: ...

    @abstractmethod
    def page_patches(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> list[Patch]:
        """Newest first (date DESC, id DESC), starting strictly after ``after``."""

    def page_patches_bounded(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> PatchSlice:
        """:meth:`page_patches` for one API request, whose reads a store may bound (it may
        then return fewer than ``limit`` patches and say where it stopped). By default the
        whole page, as :meth:`page_patches` gives it."""
        return PatchSlice(self.page_patches(query, after=after, limit=limit))


class SeriesRepository(ABC):
    @abstractmethod
    def upsert_series(self, series: Iterable[Series]) -> WriteResult: ...

    @abstractmethod
    def get_series(self, series_id: int) -> Series | None: ...

    @abstractmethod
    def get_series_many(self, series_ids: Iterable[int]) -> dict[int, Series]:
        """Many series in one go; ids the store does not hold are absent."""

    @abstractmethod
    def known_series_ids(self, series_ids: Iterable[int]) -> set[int]: ...

    @abstractmethod
    def series_by_cover_msgid(self, msgid: str) -> list[Series]: ...


class CursorMovedError(Exception):
    """Another run saved the project's cursor after this one read it.

    Saving this run's cursor would move the crawl back to where that run found it (two
    crawls overlapping: a slow one finishing after a faster one), so it is not saved; what
    the run wrote stays, every write being an idempotent upsert."""

    def __init__(self, project: str) -> None:
        super().__init__(f"{project}: the cursor was moved by another run since this one read it")
        self.project = project


class CursorRepository(ABC):
    @abstractmethod
    def get_cursor(self, project: str) -> SyncCursor | None: ...

    @abstractmethod
    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        """Save unconditionally (tools, tests); a crawl uses :meth:`replace_cursor`."""

    @abstractmethod
    def replace_cursor(
        self, project: str, cursor: SyncCursor, *, expected: SyncCursor | None
    ) -> None:
        """Save ``cursor`` only if the stored one is still ``expected`` (None: no cursor yet),
        in one atomic step; else raise :class:`CursorMovedError` and write nothing. Saving
        the cursor already stored writes nothing."""

    @abstractmethod
    def get_lore_cursor(self, list_name: str) -> LoreCursor | None: ...

    @abstractmethod
    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None: ...


class DiscussionRepository(ABC):
    """Messages (one record per Message-ID, keyed by thread) and per-patch review state."""

    @abstractmethod
    def upsert_messages(self, messages: Iterable[StoredMessage]) -> WriteResult: ...

    @abstractmethod
    def thread_messages(self, thread_root: str) -> list[StoredMessage]:
        """Oldest first."""

    @abstractmethod
    def known_message_ids(self, message_ids: Iterable[str]) -> dict[str, str]:
        """Message-ID → thread root, for the ids we hold."""

    @abstractmethod
    def upsert_discussions(self, discussions: Iterable[PatchDiscussion]) -> WriteResult: ...

    @abstractmethod
    def get_discussion(self, patch_id: int) -> PatchDiscussion | None: ...

    @abstractmethod
    def get_discussions(self, patch_ids: Iterable[int]) -> dict[int, PatchDiscussion]:
        """The discussions of many patches in one go (a page of a list)."""

    @abstractmethod
    def get_review_counts(self, patch_ids: Iterable[int]) -> dict[int, ReviewCounts]:
        """Just the counts of many discussions: what a list of patches shows."""

    @abstractmethod
    def patches_without_discussion(
        self, *, projects: Sequence[str] = (), since: datetime | None = None, limit: int = 10_000
    ) -> list[int]:
        """Patch ids with no discussion yet, or one marked stale; newest patches first."""

    @abstractmethod
    def mark_stale(self, patch_ids: Iterable[int]) -> int: ...

    @abstractmethod
    def recent_thread_roots(self, since: datetime) -> dict[str, str]:
        """Thread root → list name, for the threads of patches submitted since ``since``."""

    @abstractmethod
    def recent_thread_patches(self, since: datetime) -> list[ThreadPatch]:
        """The patches submitted since ``since`` that have a stored thread, each with its
        thread and that thread's last activity; read without loading the summaries."""


class ReviewRepository(ABC):
    """Version chains of series and the derived review status of patches (review intelligence).

    Upserts follow the store's rule: an identical record writes nothing.
    """

    @abstractmethod
    def upsert_links(self, links: Iterable[SeriesLink]) -> WriteResult: ...

    @abstractmethod
    def get_links(self, series_ids: Iterable[int]) -> dict[int, SeriesLink]: ...

    @abstractmethod
    def chain(self, chain_id: int) -> list[SeriesLink]:
        """Every link of one chain, by position (v1 first)."""

    @abstractmethod
    def upsert_reviews(self, reviews: Iterable[PatchReview]) -> WriteResult: ...

    @abstractmethod
    def get_reviews(self, patch_ids: Iterable[int]) -> dict[int, PatchReview]: ...

    @abstractmethod
    def reviews_given_by(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        """Reviews of patches this address gave a trailer or NAK to, newest patch first."""

    @abstractmethod
    def waiting_on(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        """Reviews of open patches still waiting on this address (its ``waiting_on``),
        oldest patch first: a reviewer's queue."""


class RangeDiffRepository(ABC):
    """Range-diffs of a series against an earlier version of its chain (intel/rangediff.py),
    computed once by review-intel when the version arrives; an identical one writes nothing."""

    @abstractmethod
    def upsert_range_diffs(self, diffs: Iterable[RangeDiffRecord]) -> WriteResult: ...

    @abstractmethod
    def get_range_diff(self, series_id: int, against_id: int) -> RangeDiffRecord | None: ...

    @abstractmethod
    def range_diff_states(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bool]:
        """(series, against) → whether the stored one was complete, for those stored; read
        without loading the pairs."""


class ChangeRepository(ABC):
    """What changed in the store after a cursor: every write that changed a record, in order.

    A write that changes nothing (identical upsert) is no change. A client that reads after
    every run and applies what it gets holds the store's state, with no gaps and no repeats,
    also across a run killed half-way (its uncommitted writes are no changes).
    """

    @abstractmethod
    def changes_since(self, cursor: str | None, *, limit: int = 500) -> ChangePage:
        """Changes after ``cursor`` (None: from the beginning), oldest first.

        Raises ValueError for a cursor this store did not make.
        """

    @abstractmethod
    def latest_cursor(self) -> str:
        """A cursor at the newest change: a new client starts here to see only what follows."""


class RunRepository(ABC):
    """Run records: each job's runs, who runs them, and how they ended.

    Whether a run still ``running`` has lost its process is decided by
    :mod:`lkml_assistant.services.runs`; the store only keeps what that needs.
    """

    @abstractmethod
    def start_run(
        self,
        job: str,
        started_at: datetime,
        *,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> int: ...

    @abstractmethod
    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    def interrupt_run(self, run_id: int, *, finished_at: datetime, reason: str) -> bool:
        """Close a run that is still ``running`` as ``interrupted``, with ``reason`` as its
        summary; False (and nothing written) when it has finished meanwhile."""

    @abstractmethod
    def running_runs(self) -> list[RunRecord]:
        """Every run not finished yet, oldest first."""

    @abstractmethod
    def last_runs(self) -> dict[str, RunRecord]:
        """The newest run of each job."""

    @abstractmethod
    def last_successes(self) -> dict[str, RunRecord]:
        """The newest run of each job that ended ``ok``."""


class StatsRepository(ABC):
    @abstractmethod
    def counts(self) -> StoreCounts: ...

    @abstractmethod
    def ping(self) -> bool:
        """The store answers a trivial query."""


class RequestBudget(ABC):
    """Requests to an upstream per fixed window (a minute), counted for every process that
    shares the store: the Lambda invocations of one deployment share one budget in DynamoDB,
    the threads of one local process one in memory. Pacing across invocations
    (:mod:`lkml_assistant.sources.pacing`) asks it before each request."""

    @abstractmethod
    def take(self, upstream: str, *, cap: int, window_seconds: int = 60) -> float:
        """Take one request of ``upstream``'s budget in the current window, in one atomic
        step: 0.0 when granted; else nothing is taken and the answer is the seconds until the
        window ends. ``cap`` requests at most are granted per window, whoever asks."""


class Store(ABC):
    """All repositories of one store, opened together and closed together."""

    projects: ProjectRepository
    patches: PatchRepository
    series: SeriesRepository
    cursors: CursorRepository
    runs: RunRepository
    discussions: DiscussionRepository
    stats: StatsRepository
    reviews: ReviewRepository
    changes: ChangeRepository
    range_diffs: RangeDiffRepository
    budget: RequestBudget

    @abstractmethod
    def close(self) -> None: ...

    def change_token(self) -> Hashable | None:
        """A value that differs after any write to the store by anyone, cheap to read; None
        when the store has none (then nothing read from it may be kept in memory)."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

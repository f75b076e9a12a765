# SPDX-License-Identifier: GPL-2.0-or-later
"""Shapes the stores keep beside the domain objects: sync cursors, run records, write results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.models.discussion import AppliedNote, PatchReviewSummary, Trailer
from lkml_assistant.models.review import REVIEW_STATUSES


class CrawlCheckpoint(BaseModel):
    """How far a paused crawl got: the next page to read, and what the crawl started from.

    Patchwork's lists are read in id order, so pages already read stay read; a page read twice
    is harmless (upserts of identical objects write nothing).
    """

    model_config = ConfigDict(frozen=True)

    since: str | None = None
    phase: Literal["patches", "series"] = "patches"
    next_page: int = Field(2, ge=1)
    latest: str | None = Field(None, description="Newest patch date seen so far (server text).")
    events_since: str | None = None
    last_event_id: int = 0


class SyncCursor(BaseModel):
    """Where the last successful sync of one project stopped.

    The ``*_since`` values are kept exactly as the server wrote them (naive, in its time zone),
    so they go back to it unchanged and no time-zone arithmetic can shift them.
    """

    model_config = ConfigDict(frozen=True)

    patches_since: str | None = None
    events_since: str | None = None
    last_event_id: int = 0
    crawl: CrawlCheckpoint | None = Field(
        None, description="A crawl paused for lack of time (Lambda), to resume on the next run."
    )
    full_crawl_for: datetime | None = Field(
        None,
        description="The request (a fan-out task's ``requested_at``) whose full crawl finished "
        "last: a task delivered again, or a schedule retried, does not crawl the project again.",
    )


class RunRecord(BaseModel):
    """One run of a job, as shown by `/stats` and kept for operators."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    job: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(description="running, ok, partial, failed or interrupted")
    summary: dict[str, Any] = Field(default_factory=dict)
    owner: str | None = Field(
        None, description="Who runs it: 'pid N on HOST', or a Lambda function's log stream."
    )
    lease_until: datetime | None = Field(
        None, description="Still running after this moment means its process is gone (Lambda)."
    )


class WriteResult(BaseModel):
    """How many upserts changed something, and how many found the stored item identical."""

    written: int = 0
    unchanged: int = 0

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.written += other.written
        self.unchanged += other.unchanged
        return self


class StoredMessage(BaseModel):
    """One mail of a discussion as the store keeps it: one record per Message-ID."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    list_name: str
    thread_root: str
    parent_id: str | None = None
    link: str = Field(description="How the parent was found: root, references, orphan …")
    subject: str = ""
    author_name: str = ""
    author_email: str = ""
    date: datetime | None = None
    has_patch: bool = False
    from_rewritten: bool = False
    body: str = Field("", description="Decoded text; quoted lines are listed in quoted_lines.")
    quoted_lines: tuple[int, ...] = ()
    trailers: tuple[Trailer, ...] = Field((), description="Trailers given in this mail.")
    to: tuple[str, ...] = Field((), description="To: addresses, lowercase.")
    cc: tuple[str, ...] = Field((), description="Cc: addresses, lowercase.")


class PatchDiscussion(BaseModel):
    """The review state of one patch, derived from its thread."""

    model_config = ConfigDict(frozen=True)

    patch_id: int
    message_id: str
    list_name: str
    thread_root: str | None = Field(None, description="None: the thread was not found on lore.")
    summary: PatchReviewSummary
    fetched_at: datetime


class LoreCursor(BaseModel):
    """Where the last refresh of one list stopped: messages received up to ``received_until``."""

    model_config = ConfigDict(frozen=True)

    received_until: datetime


class ReviewCounts(BaseModel):
    """A discussion reduced to the numbers a list shows, read without loading the whole summary."""

    model_config = ConfigDict(frozen=True)

    reply_count: int = 0
    series_reply_count: int = 0
    participant_count: int = 0
    reviewed_by: int = 0
    acked_by: int = 0
    tested_by: int = 0
    naks: int = 0
    last_activity: datetime | None = None


class ThreadTask(BaseModel):
    """One thread to fetch from lore: the unit of discussion work.

    Locally a job runs its tasks itself; on AWS FetchPatches and RefreshDiscussions send one
    SQS message per task and the ``fetch_discussions`` function consumes them. ``patch_ids``
    are the tracked patches expected in the thread: any not found in it are recorded as
    having no thread on lore. A refresh task names none: it re-reads a thread we hold.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    list_name: str = Field(min_length=1, max_length=200)
    anchor: str = Field(min_length=1, max_length=998, description="A Message-ID in the thread.")
    patch_ids: tuple[int, ...] = ()


class ProjectTask(BaseModel):
    """One project's share of a recipe: the unit of fan-out on AWS.

    The jobs function sends one per project to the crawl queue; the ``crawl`` consumer runs
    the recipe's project steps (:attr:`~lkml_assistant.services.recipes.Recipe.project_steps`)
    for that project, from ``step`` on. A unit stopped by its deadline sends itself again with
    the step to resume at (the crawl's own page is in the project's cursor) and ``changed``
    when what it did so far wrote something, so the review intelligence still follows.
    ``requested_at`` names the request: the same task handled twice crawls once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipe: str = Field(min_length=1, max_length=100)
    project: str = Field(min_length=1, max_length=200)
    requested_at: datetime
    days: int | None = Field(None, ge=1, le=3650)
    step: int = Field(0, ge=0, le=20)
    changed: bool = False


class SeriesLink(BaseModel):
    """One series' place in its version chain (v1 -> v2 -> ... -> vN), and its review status.

    ``chain_id`` is the id of the chain's first series, so every link of a chain names it.
    A series in no chain is its own chain of one (position 0, no neighbours).
    """

    model_config = ConfigDict(frozen=True)

    series_id: int
    project: str
    chain_id: int
    position: int = Field(ge=0)
    version: int = Field(ge=0)
    previous_id: int | None = None
    superseded_by: int | None = None
    rule: str | None = Field(
        None,
        description="How it was linked to the previous version: change-id, in-reply-to, "
        "lore-link, subject, changelog (a retitled version), patch-id (an unchanged patch) or "
        "same-author (another address, or a re-spin crediting the author).",
    )
    resend_of: int | None = Field(None, description="This series is a RESEND of that one.")
    status: str | None = Field(
        None,
        description=f"The series' review status ({REVIEW_STATUSES}) as review-intel last "
        "decided it; None in a link stored before series statuses were kept.",
    )


class CarriedReview(BaseModel):
    """A trailer given to an earlier version of an unchanged patch (same git patch-id)."""

    model_config = ConfigDict(frozen=True)

    trailer: Trailer
    from_series: int
    from_version: int


class PatchReview(BaseModel):
    """The derived review status of one patch, across the versions of its series."""

    model_config = ConfigDict(frozen=True)

    patch_id: int
    project: str
    series_id: int | None = None
    submitter_email: str = ""
    date: datetime = Field(description="The patch's submission date (for ordering).")
    status: str = Field(description=f"The patch's review status: {REVIEW_STATUSES}.")
    reviewers: tuple[str, ...] = Field(
        (),
        description="Addresses that gave Reviewed-by, Acked-by, Tested-by or a NAK, carried "
        "ones included, lowercase.",
    )
    given: tuple[Trailer, ...] = Field((), description="Trailers given to this very patch.")
    carried: tuple[CarriedReview, ...] = ()
    patch_hash: str | None = Field(None, description="git patch-id --stable of the diff.")
    applied: AppliedNote | None = Field(
        None, description="The 'applied' reply that made the patch accepted: tree, commit, who."
    )
    addressed: tuple[str, ...] = Field(
        (),
        description="People the patch mail's To:/Cc: asked (lists and the author left out), "
        "lowercase.",
    )
    waiting_on: tuple[str, ...] = Field(
        (),
        description="Of those, who has not answered this open patch (intel/queue.py).",
    )


class Change(BaseModel):
    """One record that changed in the store, in the order the store committed the changes."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["patch", "series", "discussion", "message", "review", "link"]
    key: str = Field(description="Patch or series id, or a Message-ID for a message.")
    changed_at: datetime
    cursor: str = Field(description="Pass it back to read the changes after this one.")


class ChangePage(BaseModel):
    model_config = ConfigDict(frozen=True)

    changes: tuple[Change, ...]
    cursor: str = Field(description="Where the next read starts; unchanged when nothing is new.")
    more: bool = Field(False, description="More changes are ready now: read again at once.")

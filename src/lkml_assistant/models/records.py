# SPDX-License-Identifier: GPL-2.0-or-later
"""Shapes the stores keep beside the domain objects: sync cursors, run records, write results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.models.discussion import PatchReviewSummary, Trailer


class SyncCursor(BaseModel):
    """Where the last successful sync of one project stopped.

    The ``*_since`` values are kept exactly as the server wrote them (naive, in its time zone),
    so they go back to it unchanged and no time-zone arithmetic can shift them.
    """

    model_config = ConfigDict(frozen=True)

    patches_since: str | None = None
    events_since: str | None = None
    last_event_id: int = 0


class RunRecord(BaseModel):
    """One run of a job, as shown by `/stats` and kept for operators."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    job: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(description="running, ok, partial or failed")
    summary: dict[str, Any] = Field(default_factory=dict)


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

# SPDX-License-Identifier: GPL-2.0-or-later
"""Shapes the stores keep beside the domain objects: sync cursors, run records, write results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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

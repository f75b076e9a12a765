# SPDX-License-Identifier: GPL-2.0-or-later
"""Job runs in SQLite (``runs``): when each started and finished, and its summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lkml_assistant.models.records import RunRecord
from lkml_assistant.repositories.base import RunRepository
from lkml_assistant.repositories.encoding import (
    RUN_FIELDS,
    decode_run,
    encode_run_summary,
    utc_text,
)
from lkml_assistant.repositories.sqlite.db import Db


class SqliteRuns(RunRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def start_run(self, job: str, started_at: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (job, started_at, status) VALUES (?, ?, 'running')",
                (job, utc_text(started_at)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (utc_text(finished_at), status, encode_run_summary(summary), run_id),
            )

    def last_runs(self) -> dict[str, RunRecord]:
        rows = self._db.query(
            """SELECT id, job, started_at, finished_at, status, summary FROM runs AS r
               WHERE id = (SELECT id FROM runs WHERE job = r.job ORDER BY started_at DESC, id DESC
                           LIMIT 1)
               ORDER BY job"""
        )
        return {row[1]: decode_run(dict(zip(RUN_FIELDS, row, strict=True))) for row in rows}

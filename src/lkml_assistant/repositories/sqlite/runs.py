# SPDX-License-Identifier: GPL-2.0-or-later
"""Job runs in SQLite (``runs``): when each started and finished, who ran it, its summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lkml_assistant.models.records import RunRecord
from lkml_assistant.repositories.base import RunRepository
from lkml_assistant.repositories.encoding import (
    INTERRUPTED,
    RUN_FIELDS,
    RUNNING,
    decode_run,
    encode_run_summary,
    utc_text,
)
from lkml_assistant.repositories.sqlite.db import Db

_COLUMNS = ", ".join(RUN_FIELDS)


class SqliteRuns(RunRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def start_run(
        self,
        job: str,
        started_at: datetime,
        *,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (job, started_at, status, owner, lease_until)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    job,
                    utc_text(started_at),
                    RUNNING,
                    owner,
                    utc_text(lease_until) if lease_until else None,
                ),
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

    def interrupt_run(self, run_id: int, *, finished_at: datetime, reason: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ?"
                " WHERE id = ? AND status = ?",
                (
                    utc_text(finished_at),
                    INTERRUPTED,
                    encode_run_summary({"interrupted": reason}),
                    run_id,
                    RUNNING,
                ),
            )
            return cursor.rowcount == 1

    def running_runs(self) -> list[RunRecord]:
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM runs WHERE status = ? ORDER BY started_at, id",  # noqa: S608 - our column names
            (RUNNING,),
        )
        return [decode_run(dict(zip(RUN_FIELDS, row, strict=True))) for row in rows]

    def last_runs(self) -> dict[str, RunRecord]:
        return self._newest("")

    def last_successes(self) -> dict[str, RunRecord]:
        return self._newest("AND status = 'ok'")

    def _newest(self, condition: str) -> dict[str, RunRecord]:
        rows = self._db.query(
            f"""SELECT {_COLUMNS} FROM runs AS r
               WHERE id = (SELECT id FROM runs WHERE job = r.job {condition}
                           ORDER BY started_at DESC, id DESC LIMIT 1)
               ORDER BY job"""  # noqa: S608 - fixed fragments
        )
        return {row[1]: decode_run(dict(zip(RUN_FIELDS, row, strict=True))) for row in rows}

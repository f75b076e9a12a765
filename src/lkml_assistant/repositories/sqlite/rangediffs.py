# SPDX-License-Identifier: GPL-2.0-or-later
"""Range-diffs in SQLite: ``range_diffs``, one row per (series, earlier version)."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.rangediff import RangeDiffRecord
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import RangeDiffRepository
from lkml_assistant.repositories.encoding import encode
from lkml_assistant.repositories.sqlite.db import Db


class SqliteRangeDiffs(RangeDiffRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_range_diffs(self, diffs: Iterable[RangeDiffRecord]) -> WriteResult:
        now = self._db.now()
        rows = []
        for diff in diffs:
            record = encode(diff)
            rows.append(
                (
                    diff.series_id,
                    diff.against_id,
                    diff.project,
                    int(diff.complete),
                    record.data,
                    record.fingerprint,
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO range_diffs (series_id, against_id, project, complete, data,
                                        fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (series_id, against_id) DO UPDATE SET
                   project = excluded.project, complete = excluded.complete,
                   data = excluded.data, fingerprint = excluded.fingerprint,
                   updated_at = excluded.updated_at
               WHERE range_diffs.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_range_diff(self, series_id: int, against_id: int) -> RangeDiffRecord | None:
        rows = self._db.query(
            "SELECT data FROM range_diffs WHERE series_id = ? AND against_id = ?",
            (series_id, against_id),
        )
        return RangeDiffRecord.model_validate_json(rows[0][0]) if rows else None

    def range_diff_states(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bool]:
        wanted = set(keys)
        rows = self._db.query_in(
            "SELECT series_id, against_id, complete FROM range_diffs WHERE series_id IN ({marks})",
            {series for series, _ in wanted},
        )
        found = {(int(r[0]), int(r[1])): bool(r[2]) for r in rows}
        return {key: value for key, value in found.items() if key in wanted}

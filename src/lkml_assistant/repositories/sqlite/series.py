# SPDX-License-Identifier: GPL-2.0-or-later
"""Patchwork series in SQLite (``series``, with the cover letter's Message-ID)."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.domain import Series
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import SeriesRepository
from lkml_assistant.repositories.encoding import encode, utc_text
from lkml_assistant.repositories.sqlite.db import Db


class SqliteSeries(SeriesRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_series(self, series: Iterable[Series]) -> WriteResult:
        now = self._db.now()
        rows = []
        for item in series:
            record = encode(item)
            rows.append(
                (
                    item.id,
                    item.project,
                    utc_text(item.date),
                    item.version,
                    item.submitter.email,
                    item.cover_letter.msgid if item.cover_letter else None,
                    record.data,
                    record.fingerprint,
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO series (id, project, date, version, submitter_email, cover_msgid,
                                   data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET
                   project = excluded.project, date = excluded.date, version = excluded.version,
                   submitter_email = excluded.submitter_email,
                   cover_msgid = excluded.cover_msgid, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE series.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_series(self, series_id: int) -> Series | None:
        rows = self._db.query("SELECT data FROM series WHERE id = ?", (series_id,))
        return Series.model_validate_json(rows[0][0]) if rows else None

    def get_series_many(self, series_ids: Iterable[int]) -> dict[int, Series]:
        rows = self._db.query_in("SELECT data FROM series WHERE id IN ({marks})", series_ids)
        found = (Series.model_validate_json(row[0]) for row in rows)
        return {series.id: series for series in found}

    def series_by_cover_msgid(self, msgid: str) -> list[Series]:
        rows = self._db.query("SELECT data FROM series WHERE cover_msgid = ? ORDER BY id", (msgid,))
        return [Series.model_validate_json(row[0]) for row in rows]

    def known_series_ids(self, series_ids: Iterable[int]) -> set[int]:
        rows = self._db.query_in("SELECT id FROM series WHERE id IN ({marks})", series_ids)
        return {int(row[0]) for row in rows}

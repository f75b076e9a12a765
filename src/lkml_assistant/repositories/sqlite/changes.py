# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQLite change log: ``changes`` rows appended by triggers in each upsert's transaction."""

from __future__ import annotations

from lkml_assistant.models.records import Change, ChangePage
from lkml_assistant.repositories.base import ChangeRepository
from lkml_assistant.repositories.encoding import utc_from_text
from lkml_assistant.repositories.sqlite.db import Db


class SqliteChanges(ChangeRepository):
    """The ``changes`` log the triggers append to; a cursor is the text of a ``seq``."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def _last_seq(self) -> int:
        rows = self._db.query("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return int(rows[0][0]) if rows else 0

    def _parse(self, cursor: str | None) -> int:
        if cursor is None:
            return 0
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
            raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}")
        seq = int(cursor)
        if seq > self._last_seq():
            raise ValueError(f"change cursor {seq} is beyond this store's newest change")
        return seq

    def changes_since(self, cursor: str | None, *, limit: int = 500) -> ChangePage:
        after = self._parse(cursor)
        rows = self._db.query(
            "SELECT seq, kind, key, changed_at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, max(limit, 0) + 1),
        )
        more = len(rows) > limit
        changes = tuple(
            Change(
                kind=row[1],
                key=row[2],
                changed_at=utc_from_text(row[3]),
                cursor=str(row[0]),
            )
            for row in rows[:limit]
        )
        return ChangePage(
            changes=changes, cursor=changes[-1].cursor if changes else str(after), more=more
        )

    def latest_cursor(self) -> str:
        return str(self._last_seq())

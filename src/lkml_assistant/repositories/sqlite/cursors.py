# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the last sync of each Patchwork project and lore list stopped, in SQLite."""

from __future__ import annotations

from lkml_assistant.models.records import LoreCursor, SyncCursor
from lkml_assistant.repositories.base import CursorRepository
from lkml_assistant.repositories.sqlite.db import Db


class SqliteCursors(CursorRepository):
    """Saving an unchanged cursor writes nothing (the upsert's WHERE compares the JSON)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def get_cursor(self, project: str) -> SyncCursor | None:
        rows = self._db.query("SELECT data FROM sync_cursors WHERE project = ?", (project,))
        return SyncCursor.model_validate_json(rows[0][0]) if rows else None

    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                """INSERT INTO sync_cursors (project, data, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (project) DO UPDATE SET data = excluded.data,
                       updated_at = excluded.updated_at
                   WHERE sync_cursors.data != excluded.data""",
                (project, cursor.model_dump_json(), self._db.now()),
            )

    def get_lore_cursor(self, list_name: str) -> LoreCursor | None:
        rows = self._db.query("SELECT data FROM lore_cursors WHERE list_name = ?", (list_name,))
        return LoreCursor.model_validate_json(rows[0][0]) if rows else None

    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                """INSERT INTO lore_cursors (list_name, data, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (list_name) DO UPDATE SET data = excluded.data,
                       updated_at = excluded.updated_at
                   WHERE lore_cursors.data != excluded.data""",
                (list_name, cursor.model_dump_json(), self._db.now()),
            )

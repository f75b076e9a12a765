# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the last sync of each Patchwork project and lore list stopped, in SQLite."""

from __future__ import annotations

from lkml_assistant.models.records import LoreCursor, SyncCursor
from lkml_assistant.repositories.base import CursorMovedError, CursorRepository
from lkml_assistant.repositories.sqlite.db import Db

# (table, key column) of each kind of cursor.
_PATCHWORK = ("sync_cursors", "project")
_LORE = ("lore_cursors", "list_name")


class SqliteCursors(CursorRepository):
    """Saving an unchanged cursor writes nothing (the upsert's WHERE compares the JSON)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def _get(self, where: tuple[str, str], key: str) -> str | None:
        table, column = where
        rows = self._db.query(f"SELECT data FROM {table} WHERE {column} = ?", (key,))  # noqa: S608 - our own names
        return str(rows[0][0]) if rows else None

    def _save(self, where: tuple[str, str], key: str, data: str) -> None:
        table, column = where
        with self._db.transaction() as conn:
            conn.execute(
                f"""INSERT INTO {table} ({column}, data, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT ({column}) DO UPDATE SET data = excluded.data,
                        updated_at = excluded.updated_at
                    WHERE {table}.data != excluded.data""",  # noqa: S608 - our own names
                (key, data, self._db.now()),
            )

    def get_cursor(self, project: str) -> SyncCursor | None:
        data = self._get(_PATCHWORK, project)
        return SyncCursor.model_validate_json(data) if data else None

    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        self._save(_PATCHWORK, project, cursor.model_dump_json())

    def replace_cursor(
        self, project: str, cursor: SyncCursor, *, expected: SyncCursor | None
    ) -> None:
        table, column = _PATCHWORK
        # BEGIN IMMEDIATE: the read and the write are one step for every other connection.
        with self._db.transaction() as conn:
            rows = conn.execute(
                f"SELECT data FROM {table} WHERE {column} = ?",  # noqa: S608 - our own names
                (project,),
            ).fetchall()
            stored = SyncCursor.model_validate_json(rows[0][0]) if rows else None
            if stored != expected:
                raise CursorMovedError(project)
            if stored == cursor:
                return
            conn.execute(
                f"""INSERT INTO {table} ({column}, data, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT ({column}) DO UPDATE SET data = excluded.data,
                        updated_at = excluded.updated_at""",  # noqa: S608 - our own names
                (project, cursor.model_dump_json(), self._db.now()),
            )

    def get_lore_cursor(self, list_name: str) -> LoreCursor | None:
        data = self._get(_LORE, list_name)
        return LoreCursor.model_validate_json(data) if data else None

    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None:
        self._save(_LORE, list_name, cursor.model_dump_json())

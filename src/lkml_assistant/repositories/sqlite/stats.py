# SPDX-License-Identifier: GPL-2.0-or-later
"""What the SQLite store holds, from the counter tables its triggers keep current."""

from __future__ import annotations

import sqlite3

from lkml_assistant.repositories.base import StatsRepository, StoreCounts
from lkml_assistant.repositories.sqlite.db import Db


class SqliteStats(StatsRepository):
    """Counts read from the counter tables the migration's triggers keep current."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def counts(self) -> StoreCounts:
        rows = self._db.query("SELECT name, n FROM row_counts")
        named = {str(row[0]): int(row[1]) for row in rows}
        patch_rows = self._db.query("SELECT project, state, n FROM patch_counts WHERE n > 0")
        return StoreCounts(
            projects=named.get("projects", 0),
            series=named.get("series", 0),
            messages=named.get("messages", 0),
            discussions=named.get("discussions", 0),
            patches_by_project_state={(row[0], row[1]): int(row[2]) for row in patch_rows},
        )

    def ping(self) -> bool:
        try:
            return bool(self._db.query("SELECT 1")[0][0] == 1)
        except sqlite3.Error:
            return False

# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQLite store: every repository over one connection."""

from __future__ import annotations

from pathlib import Path

from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.encoding import Clock, utc_now
from lkml_assistant.repositories.process_budget import ProcessRequestBudget, process_budget
from lkml_assistant.repositories.sqlite.changes import SqliteChanges
from lkml_assistant.repositories.sqlite.cursors import SqliteCursors
from lkml_assistant.repositories.sqlite.db import Db
from lkml_assistant.repositories.sqlite.discussions import SqliteDiscussions
from lkml_assistant.repositories.sqlite.patches import SqlitePatches
from lkml_assistant.repositories.sqlite.projects import SqliteProjects
from lkml_assistant.repositories.sqlite.rangediffs import SqliteRangeDiffs
from lkml_assistant.repositories.sqlite.reviews import SqliteReviews
from lkml_assistant.repositories.sqlite.runs import SqliteRuns
from lkml_assistant.repositories.sqlite.series import SqliteSeries
from lkml_assistant.repositories.sqlite.stats import SqliteStats


class SqliteStore(Store):
    """One SQLite file behind the repository interfaces; ``clock`` stamps ``updated_at``.

    The request budget is the process's own (every store of the process shares it), or one
    of this store's when a test brings its clock."""

    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self._db = Db(path, clock)
        self.path = path
        self.projects = SqliteProjects(self._db)
        self.patches = SqlitePatches(self._db)
        self.series = SqliteSeries(self._db)
        self.cursors = SqliteCursors(self._db)
        self.runs = SqliteRuns(self._db)
        self.discussions = SqliteDiscussions(self._db)
        self.stats = SqliteStats(self._db)
        self.reviews = SqliteReviews(self._db)
        self.changes = SqliteChanges(self._db)
        self.range_diffs = SqliteRangeDiffs(self._db)
        self.budget = process_budget() if clock is utc_now else ProcessRequestBudget(clock)

    def change_token(self) -> tuple[int, int]:
        return self._db.change_token()

    def close(self) -> None:
        self._db.close()

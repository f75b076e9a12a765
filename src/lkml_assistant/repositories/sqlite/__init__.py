# SPDX-License-Identifier: GPL-2.0-or-later
"""The embedded store: one SQLite file in WAL mode.

Each object is kept as its domain JSON plus the columns its access patterns filter or sort on
(see docs/data-model.md), encoded as :mod:`lkml_assistant.repositories.encoding` says. An
upsert writes only when the object's fingerprint changed, so a steady-state run writes
nothing. ``updated_at`` records when our copy last changed.

``migrations`` holds the schema, ``db`` the shared connection, and one module per concept
the repository over its tables.
"""

from lkml_assistant.repositories.sqlite.migrations import MIGRATIONS
from lkml_assistant.repositories.sqlite.store import SqliteStore

__all__ = ["MIGRATIONS", "SqliteStore"]

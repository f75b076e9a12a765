# SPDX-License-Identifier: GPL-2.0-or-later
"""Pick the store named by the settings."""

from __future__ import annotations

from lkml_assistant.config import Settings
from lkml_assistant.repositories.base import Store


def open_store(settings: Settings) -> Store:
    if settings.store == "dynamodb":
        from lkml_assistant.repositories.dynamodb import DynamoDbStore

        return DynamoDbStore(
            settings.patches_table,
            settings.discussions_table,
            retention_days=settings.retention_days,
            change_settle_seconds=settings.change_settle_seconds,
        )
    from lkml_assistant.repositories.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)

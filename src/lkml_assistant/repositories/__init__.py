# SPDX-License-Identifier: GPL-2.0-or-later
"""Storage behind interfaces: services see :mod:`.base`, never SQLite or DynamoDB."""

from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.factory import open_store

__all__ = ["Store", "open_store"]

# SPDX-License-Identifier: GPL-2.0-or-later
"""What the DynamoDB store holds, from the one counters item the upserts keep current."""

from __future__ import annotations

from lkml_assistant.repositories.base import StatsRepository, StoreCounts
from lkml_assistant.repositories.dynamodb.attributes import wire
from lkml_assistant.repositories.dynamodb.client import Dynamo, patch_counts
from lkml_assistant.repositories.dynamodb.keys import STATS_KEY

ITEM_COUNTERS = ("projects", "series", "messages", "discussions")


class DynamoStats(StatsRepository):
    """Counts read from the one stats item the upserts keep current with ``ADD``."""

    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def counts(self) -> StoreCounts:
        counters = self._db.counters()
        return StoreCounts(
            **{name: int(counters.get(name, 0)) for name in ITEM_COUNTERS},
            patches_by_project_state=patch_counts(counters),
        )

    def ping(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._db.client.get_item(TableName=self._db.patches, Key=wire(STATS_KEY))
        except (BotoCoreError, ClientError):
            return False
        return True

# SPDX-License-Identifier: GPL-2.0-or-later
"""The DynamoDB store: every repository over the two tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.dynamodb.budget import DynamoRequestBudget
from lkml_assistant.repositories.dynamodb.changes import DynamoChanges
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.cursors import DynamoCursors
from lkml_assistant.repositories.dynamodb.discussions import DynamoDiscussions
from lkml_assistant.repositories.dynamodb.patches import DynamoPatches
from lkml_assistant.repositories.dynamodb.projects import DynamoProjects
from lkml_assistant.repositories.dynamodb.rangediffs import DynamoRangeDiffs
from lkml_assistant.repositories.dynamodb.reviews import DynamoReviews
from lkml_assistant.repositories.dynamodb.runs import DynamoRuns
from lkml_assistant.repositories.dynamodb.series import DynamoSeries
from lkml_assistant.repositories.dynamodb.stats import DynamoStats
from lkml_assistant.repositories.dynamodb.upgrade import UpgradeResult, upgrade_items
from lkml_assistant.repositories.encoding import Clock, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DynamoDbStore(Store):
    """Both tables behind the repository interfaces.

    ``client`` is for tests that bring their own; by default a boto3 client is made from the
    standard configuration (``AWS_ENDPOINT_URL``, region, credentials) with standard retries.
    ``clock`` is what the store calls "now": TTL filtering, change stamps and the settle
    horizon of the change log all read it, so a test can advance a fake one.
    """

    def __init__(
        self,
        patches_table: str,
        discussions_table: str,
        *,
        retention_days: int = 0,
        client: DynamoDBClient | None = None,
        change_settle_seconds: int = 900,
        clock: Clock = utc_now,
    ) -> None:
        self._db = Dynamo(
            patches_table,
            discussions_table,
            retention_days=retention_days,
            client=client,
            change_settle_seconds=change_settle_seconds,
            clock=clock,
        )
        self.client = self._db.client
        self.projects = DynamoProjects(self._db)
        self.patches = DynamoPatches(self._db)
        self.series = DynamoSeries(self._db)
        self.cursors = DynamoCursors(self._db)
        self.runs = DynamoRuns(self._db)
        self.discussions = DynamoDiscussions(self._db)
        self.stats = DynamoStats(self._db)
        self.reviews = DynamoReviews(self._db)
        self.changes = DynamoChanges(self._db)
        self.range_diffs = DynamoRangeDiffs(self._db)
        self.budget = DynamoRequestBudget(self._db)

    @property
    def write_requests(self) -> int:
        """How many write requests (PutItem, UpdateItem, BatchWriteItem …) this store made."""
        return self._db.write_requests

    def upgrade(self) -> UpgradeResult:
        """The one-off rewrite of items an earlier version wrote (``upgrade.py``)."""
        return upgrade_items(self._db)

    def close(self) -> None:
        self._db.client.close()

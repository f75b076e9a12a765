# SPDX-License-Identifier: GPL-2.0-or-later
"""The request budget shared by every Lambda invocation: one counter item per window.

``BUDGET``/``<upstream>#<window start>`` in the patches table holds ``used``, the requests
granted in that window. Taking one is a single conditional UpdateItem (``ADD used 1`` if
``used < cap``), so invocations running at once can never be granted more than ``cap`` in a
window between them; a refused take writes nothing (1 write unit either way). Items expire
an hour after their window (TTL), and nothing ever reads them but the update itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lkml_assistant.repositories.base import RequestBudget
from lkml_assistant.repositories.dynamodb.attributes import wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import utc_text

KEEP_SECONDS = 3600


def budget_key(upstream: str, window_start: float) -> dict[str, str]:
    start = utc_text(datetime.fromtimestamp(window_start, UTC))
    return {"pk": "BUDGET", "sk": f"{upstream}#{start}"}


class DynamoRequestBudget(RequestBudget):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def take(self, upstream: str, *, cap: int, window_seconds: int = 60) -> float:
        now = self._db.clock().timestamp()
        start = now - now % window_seconds
        ends = start + window_seconds
        try:
            self._db.client.update_item(
                TableName=self._db.patches,
                Key=wire(budget_key(upstream, start)),
                UpdateExpression="SET #x = :expires ADD #used :one",
                ConditionExpression="attribute_not_exists(#used) OR #used < :cap",
                ExpressionAttributeNames={"#used": "used", "#x": TTL_ATTRIBUTE},
                ExpressionAttributeValues=wire(
                    {":one": 1, ":cap": cap, ":expires": int(ends) + KEEP_SECONDS}
                ),
            )
        except self._db.client.exceptions.ConditionalCheckFailedException:
            return max(ends - now, 0.001)
        return 0.0

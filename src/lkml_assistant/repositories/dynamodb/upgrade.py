# SPDX-License-Identifier: GPL-2.0-or-later
"""One-off upgrade of a DynamoDB store written by an earlier version.

Patch items written before the ``by-date`` index and the "needs its thread" markers existed
lack ``gsi6pk``/``gsi6sk`` and have no ``NEED#`` marker: until they are rewritten, a list
without a project misses them and the thread planner never sees the ones whose thread was
never read. Ordinary runs do not rewrite them (an unchanged patch is not written again), so
an operator runs this once after deploying (``lkml-assistant upgrade-store``).

It scans the patches table for patch items without ``gsi6pk``, sets the two attributes from
the item's own date key (UpdateItem, conditional on the item still lacking them, so a run
beside the jobs or a second run changes nothing twice), after writing the marker of each such
patch that has no discussion item: the marker first, so a run killed between the two writes
and started again leaves no patch indexed without its marker (a marker whose thread is read
meanwhile is dropped by the planner).
A Scan is what it costs (once, with an operator's credentials: the functions' roles have no
Scan permission).
"""

from __future__ import annotations

from dataclasses import dataclass

from lkml_assistant.repositories.dynamodb.attributes import Item, plain, wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import discussion_key
from lkml_assistant.repositories.dynamodb.patches import ALL_PATCHES, needs_marker

_PAGE = 200


@dataclass
class UpgradeResult:
    patches_seen: int = 0
    patches_indexed: int = 0
    markers_written: int = 0

    def __str__(self) -> str:
        return (
            f"upgrade-store: {self.patches_seen} patch items without the by-date index, "
            f"{self.patches_indexed} indexed, {self.markers_written} 'needs its thread' "
            "markers written"
        )


def _old_patch_items(db: Dynamo) -> list[Item]:
    items: list[Item] = []
    kwargs: dict[str, object] = {
        "TableName": db.patches,
        "FilterExpression": "sk = :patch AND attribute_not_exists(gsi6pk)",
        "ExpressionAttributeValues": wire({":patch": "PATCH"}),
        "Limit": _PAGE,
    }
    while True:
        page = db.client.scan(**kwargs)  # type: ignore[arg-type]
        items.extend(plain(raw) for raw in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return items
        kwargs["ExclusiveStartKey"] = last


def upgrade_items(db: Dynamo) -> UpgradeResult:
    """Index and mark the patch items an earlier version wrote; safe to run again."""
    result = UpgradeResult()
    for item in _old_patch_items(db):
        result.patches_seen += 1
        if db.get(db.discussions, discussion_key(int(item["id"])), consistent=False) is None:
            db.batch_write(db.discussions, [needs_marker(item)], [])
            result.markers_written += 1
        try:
            db.client.update_item(
                TableName=db.patches,
                Key=wire({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression="SET gsi6pk = :all, gsi6sk = :dk",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(gsi6pk)",
                ExpressionAttributeValues=wire({":all": ALL_PATCHES, ":dk": item["dk"]}),
            )
        except db.client.exceptions.ConditionalCheckFailedException:
            continue  # indexed meanwhile (a job rewrote it) or deleted
        result.patches_indexed += 1
    return result

# SPDX-License-Identifier: GPL-2.0-or-later
"""One-off upgrade of a DynamoDB store written by an earlier version.

Ordinary runs do not rewrite what an earlier version wrote (an unchanged record is not written
again), so an operator runs this once after deploying (``lkml-assistant upgrade-store``). One
Scan of the patches table (once, with an operator's credentials: the functions' roles have no
Scan permission) finds:

- patch items without ``gsi6pk`` (written before the ``by-date`` index and the "needs its
  thread" markers): a list without a project misses them and the thread planner never sees
  the ones whose thread was never read. The marker of each such patch that has no discussion
  item is written first, then the two attributes are set from the item's own date key;
- patch items without ``gsi7pk`` (written before the term indexes, ``terms.py``): a title
  search and a review-status or state list without a project miss them. Their word items and,
  when the patch has no review record, its "unreviewed" marker are written first, then
  ``gsi7pk``/``gsi7sk`` (its state) are set;
- review items without ``gsi7pk``: their status keys are set from the record;
- "unreviewed" markers of patches that have a review (left by a kill between the two writes
  of a first review): deleted.

Each index attribute is set by an UpdateItem conditional on the item still lacking it, after
what it stands for is written, so a run beside the jobs, a run killed and started again, or a
second run changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from lkml_assistant.models.records import PatchReview
from lkml_assistant.repositories.dynamodb.attributes import Item, plain, wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import discussion_key, review_key
from lkml_assistant.repositories.dynamodb.patches import ALL_PATCHES, needs_marker
from lkml_assistant.repositories.dynamodb.terms import (
    review_date_key,
    state_term,
    status_attributes,
    unreviewed_marker,
    word_items,
)

_PAGE = 200


@dataclass
class UpgradeResult:
    patches_seen: int = 0
    patches_indexed: int = 0
    markers_written: int = 0
    patches_termed: int = 0
    unreviewed_written: int = 0
    reviews_termed: int = 0
    unreviewed_dropped: int = 0

    def __str__(self) -> str:
        return (
            f"upgrade-store: {self.patches_seen} patch items without the by-date index, "
            f"{self.patches_indexed} indexed, {self.markers_written} 'needs its thread' "
            f"markers written; {self.patches_termed} patch items given their word and state "
            f"entries, {self.unreviewed_written} 'unreviewed' markers written; "
            f"{self.reviews_termed} review items given their status entries; "
            f"{self.unreviewed_dropped} outdated 'unreviewed' markers deleted"
        )


def _old_items(db: Dynamo) -> list[Item]:
    items: list[Item] = []
    kwargs: dict[str, object] = {
        "TableName": db.patches,
        "FilterExpression": (
            "(sk = :patch AND (attribute_not_exists(gsi6pk) OR attribute_not_exists(gsi7pk)))"
            " OR (sk = :review AND attribute_not_exists(gsi7pk)) OR sk = :unrev"
        ),
        "ExpressionAttributeValues": wire(
            {":patch": "PATCH", ":review": "REVIEW", ":unrev": "UNREV"}
        ),
        "Limit": _PAGE,
    }
    while True:
        page = db.client.scan(**kwargs)  # type: ignore[arg-type]
        items.extend(plain(raw) for raw in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return items
        kwargs["ExclusiveStartKey"] = last


def _set_once(db: Dynamo, item: Item, values: Item) -> bool:
    """Set ``values`` on ``item`` if its first attribute is still missing."""
    names = {f"#a{n}": name for n, name in enumerate(values)}
    placeholders = {f":a{n}": value for n, value in enumerate(values.values())}
    try:
        db.client.update_item(
            TableName=db.patches,
            Key=wire({"pk": item["pk"], "sk": item["sk"]}),
            UpdateExpression="SET " + ", ".join(f"#a{n} = :a{n}" for n in range(len(values))),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#a0)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=wire(placeholders),
        )
    except db.client.exceptions.ConditionalCheckFailedException:
        return False  # done meanwhile (a job rewrote it) or deleted
    return True


def _by_date(db: Dynamo, item: Item, result: UpgradeResult) -> None:
    result.patches_seen += 1
    if db.get(db.discussions, discussion_key(int(item["id"])), consistent=False) is None:
        db.batch_write(db.discussions, [needs_marker(item)], [])
        result.markers_written += 1
    if _set_once(db, item, {"gsi6pk": ALL_PATCHES, "gsi6sk": item["dk"]}):
        result.patches_indexed += 1


def _terms(db: Dynamo, item: Item, result: UpgradeResult) -> None:
    puts = word_items(item)
    if db.get(db.patches, review_key(int(item["id"])), consistent=True) is None:
        puts.append(unreviewed_marker(item))
        result.unreviewed_written += 1
    db.batch_write(db.patches, puts, [])
    if _set_once(db, item, {"gsi7pk": state_term(item["state"]), "gsi7sk": item["dk"]}):
        result.patches_termed += 1


def _review_terms(db: Dynamo, item: Item, result: UpgradeResult) -> None:
    review = PatchReview.model_validate_json(db.unpack(db.patches, [item])[0])
    values = status_attributes(review.status, review.project, review_date_key(item))
    if _set_once(db, item, values):
        result.reviews_termed += 1


def upgrade_items(db: Dynamo) -> UpgradeResult:
    """Index and mark the items an earlier version wrote; safe to run again."""
    result = UpgradeResult()
    for item in _old_items(db):
        if item["sk"] == "PATCH":
            if "gsi6pk" not in item:
                _by_date(db, item, result)
            if "gsi7pk" not in item:
                _terms(db, item, result)
        elif item["sk"] == "REVIEW":
            _review_terms(db, item, result)
        else:
            patch_id = int(str(item["pk"]).removeprefix("UNREV#"))
            if db.get(db.patches, review_key(patch_id), consistent=True) is not None:
                db.batch_write(db.patches, [], [item])
                result.unreviewed_dropped += 1
    return result

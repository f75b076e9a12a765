# SPDX-License-Identifier: GPL-2.0-or-later
"""A reviewer's queue in DynamoDB: ``WAIT#<email>``/``<patch date>#<patch id>`` index items.

One small item per (address, open patch waiting on it), kept beside each ``REVIEW#`` record by
the same put-new-then-delete-stale path as the ``GIVEN#`` items (reviews.py), so a read is one
forward query of one partition: oldest patch first. A read checks each index item against the
review record and drops one left behind by an interrupted update.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from lkml_assistant.models.records import PatchReview
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.keys import pad
from lkml_assistant.repositories.encoding import utc_text

if TYPE_CHECKING:
    from lkml_assistant.repositories.dynamodb.reviews import DynamoReviews


def waiting_key(email: str, date: str, patch_id: int) -> Item:
    return {"pk": f"WAIT#{email}", "sk": f"{date}#{pad(patch_id)}"}


def waiting_keys(item: Item) -> set[tuple[str, str]]:
    """The queue index items a ``REVIEW#`` item needs."""
    return {
        item_key(waiting_key(email, item["date"], item["patch_id"]))
        for email in item.get("waiting") or ()
    }


def waiting_reviews(reviews: DynamoReviews, email: str, *, limit: int) -> list[PatchReview]:
    db = reviews._db
    address = email.lower()
    index = db.query(
        db.patches,
        ("pk", f"WAIT#{address}"),
        forward=True,
        page=min(limit + 10, 500),
        consistent=True,
    )
    found: dict[int, PatchReview] = {}
    while len(found) < limit:
        chunk = list(itertools.islice(index, min(limit + 10, 100)))
        if not chunk:
            break
        ids = [int(str(entry["sk"]).rpartition("#")[2]) for entry in chunk]
        stored = reviews.get_reviews(ids)
        for entry, patch_id in zip(chunk, ids, strict=True):
            review = stored.get(patch_id)
            if (
                review is not None
                and address in {who.lower() for who in review.waiting_on}
                and str(entry["sk"]).startswith(utc_text(review.date))
            ):
                found.setdefault(patch_id, review)
                if len(found) == limit:
                    break
    return list(found.values())

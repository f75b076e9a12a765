# SPDX-License-Identifier: GPL-2.0-or-later
"""A reviewer's queue in DynamoDB: ``WAIT#<email>``/``<patch date>#<patch id>`` index items.

One small item per (address, open patch waiting on it), kept beside each ``REVIEW#`` record by
the same put-new-then-delete-stale path as the ``GIVEN#`` items (reviews.py), so a read is one
forward query of one partition: oldest patch first. A read checks each index item against the
review record and drops one left behind by an interrupted update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkml_assistant.models.records import PatchReview
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.keys import pad

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
    address = email.lower()
    return reviews.indexed_reviews(
        f"WAIT#{address}",
        forward=True,
        limit=limit,
        listed=lambda review: address in {who.lower() for who in review.waiting_on},
    )

# SPDX-License-Identifier: GPL-2.0-or-later
"""``/people/{email}/queue``: what is waiting on a reviewer, oldest first.

Who a patch waits on is review-intel's decision (intel/queue.py, stored in each review's
``waiting_on``); this only reads the queue index and says how long each patch has waited,
counted to the service's clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from lkml_assistant.models.api import PatchItem, QueueItemOut
from lkml_assistant.models.records import PatchReview

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def waited_text(seconds: int) -> str:
    """'3 days', '1 hour', 'under a minute'."""
    for name, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}"
    return "under a minute"


def queue_items(
    email: str,
    reviews: Sequence[PatchReview],
    items: Mapping[int, PatchItem],
    now: datetime,
) -> list[QueueItemOut]:
    me = email.casefold()
    out: list[QueueItemOut] = []
    for review in reviews:
        item = items.get(review.patch_id)
        if item is None:
            continue  # a review whose patch is gone (retention): nothing to show
        seconds = max(int((now - review.date).total_seconds()), 0)
        out.append(
            QueueItemOut(
                patch=item,
                waiting_since=review.date,
                waited_seconds=seconds,
                waited=waited_text(seconds),
                asked=list(review.addressed),
                still_waiting_on=list(review.waiting_on),
                reviewed_by_others=[r for r in review.reviewers if r.casefold() != me],
            )
        )
    return out

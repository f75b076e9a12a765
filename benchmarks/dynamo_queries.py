# SPDX-License-Identifier: GPL-2.0-or-later
"""A DynamoDB store much larger than a page, and the list walk of earlier versions.

Shared by ``bench_dynamo_queries`` and ``tests/contract/test_dynamodb_query_costs.py``:

- :func:`fill` stores the real netfilter-devel patches (titles, dates, submitters from the
  recorded Patchwork dump) copied into several projects, with review records of a spread of
  statuses for most of them (the rest have none: ``unreviewed``);
- :func:`old_page` is how a page was read before the term indexes: the date-ordered walk of
  patch items, title words and states checked on the items read, the review status of each
  chunk batch-read (``pages.walk_patches``, kept for this comparison).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import PatchReview
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import review_key
from lkml_assistant.repositories.dynamodb.pages import walk_patches
from lkml_assistant.sources.patchwork_mapping import map_patch

# Review statuses in proportion (the rest of the patches get no review record).
STATUSES = ("accepted",) * 5 + ("in-discussion",) * 3 + ("reviewed",) * 2 + ("rejected",)


def real_patches(count: int) -> list[Patch]:
    """The newest ``count`` patches of the recorded dump (repeated with new ids if fewer)."""
    from tests.shared_data import patchwork_dump

    raw = json.loads((patchwork_dump() / "patches.json").read_text())
    every = sorted((map_patch(r, UTC) for r in raw), key=lambda p: (p.date, p.id), reverse=True)
    out: list[Patch] = []
    for copy in itertools.count():
        for patch in every:
            if len(out) == count:
                return out
            out.append(patch.model_copy(update={"id": patch.id + copy * 1_000_000}))
    return out


# Patchwork states in proportion (the recorded patches are all "new").
STATES = ("new",) * 4 + ("accepted",) * 3 + ("superseded",) * 2 + ("changes-requested",)


def spread(patches: list[Patch], projects: list[str]) -> list[Patch]:
    """The patches dealt over ``projects`` in turn, states in turn (each keeps its id, title
    and date)."""
    return [
        p.model_copy(
            update={"project": projects[n % len(projects)], "state": STATES[n * 7 % len(STATES)]}
        )
        for n, p in enumerate(patches)
    ]


def reviews_for(patches: list[Patch], *, reviewed_share: int = 4) -> list[PatchReview]:
    """A review record for all but one patch in ``reviewed_share``, statuses in turn."""
    out: list[PatchReview] = []
    for n, patch in enumerate(patches):
        if n % reviewed_share == reviewed_share - 1:
            continue
        out.append(
            PatchReview(
                patch_id=patch.id,
                project=patch.project,
                submitter_email=patch.submitter.email.casefold(),
                date=patch.date,
                status=STATUSES[n % len(STATUSES)],
            )
        )
    return out


def fill(store: Store, patches: list[Patch], reviews: list[PatchReview]) -> None:
    for start in range(0, len(patches), 500):
        store.patches.upsert_patches(patches[start : start + 500])
    for start in range(0, len(reviews), 500):
        store.reviews.upsert_reviews(reviews[start : start + 500])


def old_page(db: Dynamo, query: PatchQuery, after: PageMark | None, limit: int) -> list[int]:
    """The ids of a page as earlier versions read it (walk every matching index partition,
    filter on the items, batch-read the review statuses chunk by chunk)."""
    walker = walk_patches(db, query, after, page=min(max(limit + 1, 25), 500))
    if not query.review_states:
        return [int(item["id"]) for item in itertools.islice(walker, limit)]
    wanted = set(query.review_states)
    items: list[Item] = []
    while len(items) < limit:
        chunk = list(itertools.islice(walker, min(max(limit, 25), 100)))
        if not chunk:
            break
        statuses = {
            int(found["patch_id"]): found["status"]
            for found in db.batch_get(
                db.patches,
                (review_key(int(item["id"])) for item in chunk),
                ("patch_id", "status"),
            ).values()
        }
        for item in chunk:
            if statuses.get(int(item["id"]), "unreviewed") in wanted:
                items.append(item)
                if len(items) == limit:
                    break
    return [int(item["id"]) for item in items]

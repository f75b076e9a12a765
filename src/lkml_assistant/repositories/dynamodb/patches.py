# SPDX-License-Identifier: GPL-2.0-or-later
"""Patches in DynamoDB (``PATCH#<id>``) and how a :class:`PatchQuery` walks their indexes."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import PageMark, PatchQuery, PatchRepository, PatchSlice
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row, patch_counter
from lkml_assistant.repositories.dynamodb.keys import date_key, needs_thread_key, pad, patch_key
from lkml_assistant.repositories.dynamodb.pages import (
    ALL_PATCHES,
    PASS_OVER_BUDGET,
    page_items,
    walk_patches,
)
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.dynamodb.terms import (
    WORD_SOURCE,
    state_term,
    unreviewed_marker,
    word_changes,
)
from lkml_assistant.repositories.encoding import encode

# Independent index queries (one per Message-ID) run this many at once.
READ_THREADS = 8
__all__ = ["ALL_PATCHES", "DynamoPatches", "needs_marker", "walk_patches"]


class DynamoPatches(PatchRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def _row(self, patch: Patch) -> Row:
        record = encode(patch)
        key = date_key(patch.date, patch.id)
        email = patch.submitter.email.lower()
        item: Item = {
            **patch_key(patch.id),
            "id": patch.id,
            "dk": key,
            "project": patch.project,
            "state": patch.state,
            "email": email,
            "name": patch.name,
            "gsi1pk": f"P#{patch.project}",
            "gsi1sk": key,
            "gsi2pk": f"U#{email}",
            "gsi2sk": key,
            "gsi4pk": f"ST#{patch.project}#{patch.state}",
            "gsi4sk": key,
            "gsi5pk": f"M#{patch.msgid}",
            "gsi5sk": f"patch#{pad(patch.id)}",
            "gsi6pk": ALL_PATCHES,
            "gsi6sk": key,
            "gsi7pk": state_term(patch.state),
            "gsi7sk": key,
            "fp": record.fingerprint,
            "cnt": patch_counter(patch.project, patch.state),
            TTL_ATTRIBUTE: self._db.expires_at(patch.date),
        }
        if patch.series:
            item["series_id"] = patch.series[0].id
            item["gsi3pk"] = f"S#{patch.series[0].id}"
            item["gsi3sk"] = pad(patch.id)
        parts = pack(item, record.data, f"X#PATCH#{patch.id}")
        return Row(item, parts, ("patch", str(patch.id)))

    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult:
        rows, skipped = self._db.live([self._row(patch) for patch in patches])
        # Its title words go beside each patch item (terms.py).
        result, deltas, _ = self._db.upsert(
            self._db.patches, rows, side=word_changes, projection=WORD_SOURCE
        )
        self._db.add_counts(deltas)
        created = [row.item for row in rows if row.created]
        if created:
            # A new patch needs its thread read (a marker the planner finds by project and
            # date) and is listed as unreviewed until review-intel writes its review.
            self._db.batch_write(self._db.discussions, [needs_marker(i) for i in created], [])
            self._db.batch_write(self._db.patches, [unreviewed_marker(i) for i in created], [])
        result.unchanged += skipped
        return result

    def _patches(self, items: list[Item]) -> list[Patch]:
        texts = self._db.unpack(self._db.patches, items)
        return [Patch.model_validate_json(text) for text in texts]

    def get_patch(self, patch_id: int) -> Patch | None:
        item = self._db.get(self._db.patches, patch_key(patch_id), consistent=False)
        return self._patches([item])[0] if item else None

    def get_patches(self, patch_ids: Iterable[int]) -> dict[int, Patch]:
        keys = [patch_key(patch_id) for patch_id in set(patch_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        return {patch.id: patch for patch in self._patches(items)}

    def patches_by_msgids(self, msgids: Iterable[str]) -> list[Patch]:
        """One Query of the by-msgid index per Message-ID (an index has no batch read), a few
        at once: a thread of 25 messages costs the latency of about three."""
        wanted = sorted(set(msgids))

        def lookup(msgid: str) -> list[Item]:
            return list(
                self._db.query(
                    self._db.patches,
                    ("gsi5pk", f"M#{msgid}"),
                    index="by-msgid",
                    sort=("gsi5sk", "begins_with(#s, :s0)", ("patch#",)),
                )
            )

        if len(wanted) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
                found = list(pool.map(lookup, wanted))
        else:
            found = [lookup(msgid) for msgid in wanted]
        items = [item for items in found for item in items]
        items.sort(key=lambda item: item["id"])
        return self._patches(items)

    def page_patches(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> list[Patch]:
        if limit <= 0:
            return []
        return self._patches(page_items(self._db, query, after, limit)[0])

    def page_patches_bounded(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> PatchSlice:
        """A page that passes over at most ``PASS_OVER_BUDGET`` read units of entries that
        do not match (``pages.py``): shorter, with the mark where it stopped, if it must."""
        if limit <= 0:
            return PatchSlice([])
        items, stopped = page_items(self._db, query, after, limit, budget=PASS_OVER_BUDGET)
        return PatchSlice(self._patches(items), stopped)


def needs_marker(patch_item: Item) -> Item:
    """The "needs its thread" marker of a stored patch item (its project, date key and TTL)."""
    marker: Item = {
        **needs_thread_key(patch_item["project"], patch_item["dk"]),
        "patch_id": int(patch_item["id"]),
    }
    if patch_item.get(TTL_ATTRIBUTE) is not None:
        marker[TTL_ATTRIBUTE] = patch_item[TTL_ATTRIBUTE]
    return marker

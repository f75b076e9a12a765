# SPDX-License-Identifier: GPL-2.0-or-later
"""Review intelligence in DynamoDB: series links, chains, patch reviews and given reviews."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

from lkml_assistant.models.records import PatchReview, SeriesLink, WriteResult
from lkml_assistant.repositories.base import ReviewRepository
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row
from lkml_assistant.repositories.dynamodb.keys import (
    given_key,
    link_key,
    member_key,
    review_key,
    series_key,
    unreviewed_key,
)
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.dynamodb.queue import waiting_keys, waiting_reviews
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.dynamodb.terms import review_date_key, status_attributes
from lkml_assistant.repositories.encoding import encode, utc_text


class DynamoReviews(ReviewRepository):
    """Links (``LINK#<series>``) and reviews (``REVIEW#<patch>``) in the patches table.

    Two kinds of small index items stand in for secondary indexes: ``CHAIN#<chain>`` holds one
    item per member of a chain, ``GIVEN#<email>`` one per (reviewer, patch). They are put
    before the record they index and the outdated ones deleted after it, so a kill leaves at
    worst an outdated index item, which reads drop (they check it against the record).
    """

    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def _index_then_upsert(
        self,
        rows: list[Row],
        index_keys: Callable[[Item], set[tuple[str, str]]],
        projection: Sequence[str],
    ) -> WriteResult:
        """Upsert ``rows`` with their index items: the new ones first, the stale ones after."""
        live, skipped = self._db.live(rows)
        stored = self._db.batch_get(
            self._db.patches, (row.item for row in live), ("fp", *projection), keep_expired=True
        )
        puts: list[Item] = []
        stale: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for row in live:
            old = stored.get(item_key(row.item))
            if old is not None and old.get("fp") == row.item["fp"]:
                continue
            new_keys = index_keys(row.item)
            old_keys = index_keys(old) if old is not None else set()
            puts.extend(
                {
                    "pk": pk,
                    "sk": sk,
                    "ref": row.item["pk"],
                    TTL_ATTRIBUTE: row.item.get(TTL_ATTRIBUTE),
                }
                for pk, sk in sorted(new_keys - old_keys)
            )
            stale[item_key(row.item)] = old_keys - new_keys
        if puts:
            self._db.batch_write(self._db.patches, puts, [])
        result, deltas, written = self._db.upsert(self._db.patches, live)
        deletes = [
            {"pk": pk, "sk": sk} for item in written for pk, sk in stale.get(item_key(item), set())
        ]
        if deletes:
            self._db.batch_write(self._db.patches, [], deletes)
        self._db.add_counts(deltas)
        result.unchanged += skipped
        return result

    def upsert_links(self, links: Iterable[SeriesLink]) -> WriteResult:
        given = list(links)
        series = self._db.batch_get(
            self._db.patches,
            (series_key(link.series_id) for link in given),
            (TTL_ATTRIBUTE,),
        )
        rows = []
        for link in given:
            record = encode(link)
            owner = series.get(item_key(series_key(link.series_id)))
            item: Item = {
                **link_key(link.series_id),
                "chain_id": link.chain_id,
                "position": link.position,
                "fp": record.fingerprint,
                "cnt": "links",
                "data": record.data,
                # A link lives as long as its series.
                TTL_ATTRIBUTE: owner.get(TTL_ATTRIBUTE) if owner else self._db.expires_at(None),
            }
            rows.append(Row(item, [], ("link", str(link.series_id))))

        def members(item: Item) -> set[tuple[str, str]]:
            series_id = int(str(item["pk"]).removeprefix("LINK#"))
            return {item_key(member_key(item["chain_id"], item["position"], series_id))}

        return self._index_then_upsert(rows, members, ("chain_id", "position"))

    def get_links(self, series_ids: Iterable[int]) -> dict[int, SeriesLink]:
        keys = [link_key(series_id) for series_id in set(series_ids)]
        items = self._db.batch_get(self._db.patches, keys).values()
        links = (SeriesLink.model_validate_json(item["data"]) for item in items)
        return {link.series_id: link for link in links}

    def chain(self, chain_id: int) -> list[SeriesLink]:
        members = self._db.query(self._db.patches, ("pk", f"CHAIN#{chain_id}"), consistent=True)
        ids = [int(str(member["sk"]).rpartition("#")[2]) for member in members]
        links = self.get_links(ids)
        return sorted(
            (link for link in links.values() if link.chain_id == chain_id),
            key=lambda link: (link.position, link.series_id),
        )

    def upsert_reviews(self, reviews: Iterable[PatchReview]) -> WriteResult:
        rows = []
        for review in reviews:
            record = encode(review)
            item: Item = {
                **review_key(review.patch_id),
                "patch_id": review.patch_id,
                "status": review.status,
                "date": utc_text(review.date),
                "reviewers": {email.lower() for email in review.reviewers} or None,
                "waiting": {email.lower() for email in review.waiting_on} or None,
                "fp": record.fingerprint,
                "cnt": "reviews",
                TTL_ATTRIBUTE: self._db.expires_at(review.date),
            }
            # Listed under its status in by-term and by-project-term (terms.py).
            item.update(status_attributes(review.status, review.project, review_date_key(item)))
            parts = pack(item, record.data, f"X#REVIEW#{review.patch_id}")
            rows.append(Row(item, parts, ("review", str(review.patch_id))))

        def given(item: Item) -> set[tuple[str, str]]:
            return {
                item_key(given_key(email, item["date"], item["patch_id"]))
                for email in item.get("reviewers") or ()
            } | waiting_keys(item)

        result = self._index_then_upsert(rows, given, ("patch_id", "date", "reviewers", "waiting"))
        # A patch's first review replaces its "unreviewed" marker, deleted after the review is
        # written: a kill in between leaves the marker, which upgrade-store removes.
        firsts = [unreviewed_key(int(row.item["patch_id"])) for row in rows if row.created]
        if firsts:
            self._db.batch_write(self._db.patches, [], firsts)
        return result

    def _reviews(self, items: list[Item]) -> list[PatchReview]:
        texts = self._db.unpack(self._db.patches, items)
        return [PatchReview.model_validate_json(text) for text in texts]

    def get_reviews(self, patch_ids: Iterable[int]) -> dict[int, PatchReview]:
        keys = [review_key(patch_id) for patch_id in set(patch_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        return {review.patch_id: review for review in self._reviews(items)}

    def reviews_given_by(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        address = email.lower()
        return self.indexed_reviews(
            f"GIVEN#{address}",
            forward=False,
            limit=limit,
            listed=lambda review: address in {r.lower() for r in review.reviewers},
        )

    def indexed_reviews(
        self,
        partition: str,
        *,
        forward: bool,
        limit: int,
        listed: Callable[[PatchReview], bool],
    ) -> list[PatchReview]:
        """The reviews an index partition (``GIVEN#<email>``, ``WAIT#<email>``: items sorted
        by ``<date>#<patch id>``) points to, in its order. An index item left behind by an
        interrupted update no longer matches its review (``listed`` says no, or the date
        moved) and is passed over."""
        index = self._db.query(
            self._db.patches,
            ("pk", partition),
            forward=forward,
            page=min(limit + 10, 500),
            consistent=True,
        )
        found: dict[int, PatchReview] = {}
        while len(found) < limit:
            chunk = list(itertools.islice(index, min(limit + 10, 100)))
            if not chunk:
                break
            ids = [int(str(entry["sk"]).rpartition("#")[2]) for entry in chunk]
            reviews = self.get_reviews(ids)
            for entry, patch_id in zip(chunk, ids, strict=True):
                review = reviews.get(patch_id)
                if (
                    review is not None
                    and listed(review)
                    and str(entry["sk"]).startswith(utc_text(review.date))
                ):
                    found.setdefault(patch_id, review)
                    if len(found) == limit:
                        break
        return list(found.values())

    def waiting_on(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        return waiting_reviews(self, email, limit=limit)

# SPDX-License-Identifier: GPL-2.0-or-later
"""Patchwork series in DynamoDB: ``SERIES#<id>``, found from a cover letter by ``by-msgid``."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.domain import Series
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import SeriesRepository
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row
from lkml_assistant.repositories.dynamodb.keys import pad, series_id_of, series_key
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import encode


class DynamoSeries(SeriesRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def upsert_series(self, series: Iterable[Series]) -> WriteResult:
        def row(item: Series) -> Row:
            encoded = encode(item)
            record: Item = {
                **series_key(item.id),
                "fp": encoded.fingerprint,
                "cnt": "series",
                TTL_ATTRIBUTE: self._db.expires_at(item.date),
            }
            if item.cover_letter:
                record["gsi5pk"] = f"M#{item.cover_letter.msgid}"
                record["gsi5sk"] = f"series#{pad(item.id)}"
            parts = pack(record, encoded.data, f"X#SERIES#{item.id}")
            return Row(record, parts, ("series", str(item.id)))

        rows, skipped = self._db.live([row(item) for item in series])
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        result.unchanged += skipped
        return result

    def get_series(self, series_id: int) -> Series | None:
        item = self._db.get(self._db.patches, series_key(series_id), consistent=False)
        if item is None:
            return None
        return Series.model_validate_json(self._db.unpack(self._db.patches, [item])[0])

    def get_series_many(self, series_ids: Iterable[int]) -> dict[int, Series]:
        # BatchGetItem, 100 keys a request with unprocessed keys retried (Dynamo.batch_get).
        keys = [series_key(series_id) for series_id in set(series_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        texts = self._db.unpack(self._db.patches, items)
        found = (Series.model_validate_json(text) for text in texts)
        return {series.id: series for series in found}

    def known_series_ids(self, series_ids: Iterable[int]) -> set[int]:
        keys = [series_key(series_id) for series_id in set(series_ids)]
        found = self._db.batch_get(self._db.patches, keys, (TTL_ATTRIBUTE,))
        return {series_id_of(key) for key in found}

    def series_by_cover_msgid(self, msgid: str) -> list[Series]:
        items = list(
            self._db.query(
                self._db.patches,
                ("gsi5pk", f"M#{msgid}"),
                index="by-msgid",
                sort=("gsi5sk", "begins_with(#s, :s0)", ("series#",)),
            )
        )
        texts = self._db.unpack(self._db.patches, items)
        return [Series.model_validate_json(text) for text in texts]

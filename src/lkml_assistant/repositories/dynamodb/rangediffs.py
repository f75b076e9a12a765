# SPDX-License-Identifier: GPL-2.0-or-later
"""Range-diffs in DynamoDB: ``RDIFF#<series>``/``AGAINST#<earlier series>`` in the patches table.

One item per (series, earlier version); the pairs' interdiffs can be large, so the payload is
packed (inline, zlib, or part items under ``X#RDIFF#…``) as every large record is. Only
review-intel writes them; the API reads one by its key.
"""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.rangediff import RangeDiffRecord
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import RangeDiffRepository
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row
from lkml_assistant.repositories.dynamodb.keys import pad
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import encode


def range_diff_key(series_id: int, against_id: int) -> Item:
    return {"pk": f"RDIFF#{series_id}", "sk": f"AGAINST#{pad(against_id)}"}


class DynamoRangeDiffs(RangeDiffRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def upsert_range_diffs(self, diffs: Iterable[RangeDiffRecord]) -> WriteResult:
        rows = []
        for diff in diffs:
            record = encode(diff)
            key = range_diff_key(diff.series_id, diff.against_id)
            item: Item = {
                **key,
                "complete": diff.complete,
                "cnt": "range_diffs",
                "fp": record.fingerprint,
                TTL_ATTRIBUTE: self._db.expires_at(None),
            }
            parts = pack(item, record.data, f"X#RDIFF#{diff.series_id}#{diff.against_id}")
            rows.append(Row(item, parts, None))
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        return result

    def get_range_diff(self, series_id: int, against_id: int) -> RangeDiffRecord | None:
        key = range_diff_key(series_id, against_id)
        found = self._db.batch_get(self._db.patches, [key]).get(item_key(key))
        if found is None:
            return None
        (text,) = self._db.unpack(self._db.patches, [found])
        return RangeDiffRecord.model_validate_json(text)

    def range_diff_states(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bool]:
        wanted = set(keys)
        items = self._db.batch_get(
            self._db.patches, (range_diff_key(s, a) for s, a in wanted), ("complete",)
        )
        out: dict[tuple[int, int], bool] = {}
        for (pk, sk), item in items.items():
            series = int(pk.removeprefix("RDIFF#"))
            against = int(sk.removeprefix("AGAINST#"))
            out[(series, against)] = bool(item.get("complete"))
        return out

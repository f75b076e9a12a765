# SPDX-License-Identifier: GPL-2.0-or-later
"""The connection the DynamoDB repositories share: client, tables, clock, request helpers.

Reads drop expired items (TTL deletion is lazy). An upsert first batch-reads the stored
fingerprints and writes only the items whose fingerprint changed, each by a conditional
``PutItem`` returning the item it replaced, so the counters of ``STATS``/``COUNTS`` stay exact
with concurrent writers (see docs/data-model.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key, plain, wire
from lkml_assistant.repositories.dynamodb.changelog import ChangeLog
from lkml_assistant.repositories.dynamodb.keys import (
    COUNTER_SHARDS,
    STATS_PARTITION,
    counter_shard_key,
    project_counter_key,
)
from lkml_assistant.repositories.dynamodb.payload import part_keys, payload_text
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import Clock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
# Changed items are put by this many threads at once (the client is thread-safe).
WRITE_THREADS = 8
# BatchGetItem takes 100 keys a request, BatchWriteItem 25 items.
BATCH_GET_SIZE = 100
BATCH_WRITE_SIZE = 25
# What an upsert reads of the stored items before writing (the replaced item's counter and
# parts, and the fingerprint and staleness its conditional write expects).
UPSERT_PROJECTION = ("fp", "stale", "cnt", "parts", "ppk", TTL_ATTRIBUTE)


SideItems = Callable[[Item, Item | None], tuple[list[Item], list[Item]]]
"""(item, stored item or None) -> (index items to put, index item keys to delete)."""


@dataclass
class Row:
    """One item to upsert, with the part items its payload was split into."""

    item: Item
    parts: list[Item] = field(default_factory=list)
    change: tuple[str, str] | None = None
    """(kind, key) of the change logged when this item is created or its fingerprint changes."""
    created: bool = False
    """Set by :meth:`Dynamo.upsert`: the item was not stored before."""


def patch_counter(project: str, state: str) -> str:
    """The counter attribute of a project's patches in one state."""
    return f"pc#{project}#{state}"


def patch_counts(counters: Item) -> dict[tuple[str, str], int]:
    """(project, state) → patches, from the counters item."""
    counts: dict[tuple[str, str], int] = {}
    for name, value in counters.items():
        if name.startswith("pc#") and isinstance(value, int) and value > 0:
            project, _, state = name[3:].rpartition("#")
            counts[(project, state)] = value
    return counts


class Dynamo:
    """The client, the table names, the retention, the clock and the request helpers."""

    def __init__(
        self,
        patches_table: str,
        discussions_table: str,
        *,
        retention_days: int,
        client: DynamoDBClient | None,
        change_settle_seconds: int,
        clock: Clock,
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # Endpoint, region and credentials come from boto3's own configuration chain
            # (AWS_ENDPOINT_URL included).
            client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
        self.client = client
        self.patches = patches_table
        self.discussions = discussions_table
        self.retention_seconds = retention_days * 86_400
        self.change_settle_seconds = change_settle_seconds
        self.clock = clock
        self.changelog = ChangeLog(client, patches_table, clock)
        self.write_requests = 0
        self._shard = random.Random()
        self._lock = threading.Lock()
        self.client.meta.events.register("before-call.dynamodb", self._count_call)

    def _count_call(self, model: Any = None, **_: Any) -> None:
        if model is not None and model.name in WRITE_OPERATIONS:
            with self._lock:
                self.write_requests += 1

    # Time to live ------------------------------------------------------------------------

    def expires_at(self, moment: datetime | None) -> int | None:
        if not self.retention_seconds:
            return None
        base = moment or self.clock()
        return int(base.timestamp()) + self.retention_seconds

    def expired(self, item: Item, now: float | None = None) -> bool:
        expires = item.get(TTL_ATTRIBUTE)
        if expires is None:
            return False
        return bool(expires <= (now if now is not None else self.clock().timestamp()))

    def live(self, rows: Iterable[Row]) -> tuple[list[Row], int]:
        """The rows not already past their retention, and how many were (they are not written:
        DynamoDB would delete them at once, and reads never return them)."""
        now = self.clock().timestamp()
        given = list(rows)
        kept = [row for row in given if not self.expired(row.item, now)]
        return kept, len(given) - len(kept)

    # Reads -------------------------------------------------------------------------------

    def get(self, table: str, key: Item, *, consistent: bool = True) -> Item | None:
        """One item; ``consistent=False`` where a read a second stale is harmless (half the
        read units)."""
        response = self.client.get_item(TableName=table, Key=wire(key), ConsistentRead=consistent)
        raw = response.get("Item")
        if not raw:
            return None
        item = plain(raw)
        return None if self.expired(item) else item

    def batch_get(
        self,
        table: str,
        keys: Iterable[Item],
        projection: Sequence[str] = (),
        *,
        keep_expired: bool = False,
        consistent: bool = False,
    ) -> dict[tuple[str, str], Item]:
        """The items found among ``keys``, 100 keys a request, unprocessed keys retried.

        Eventually consistent unless asked: an upsert's fingerprint check may read a stale
        fingerprint, and its conditional put then fails and reads again consistently, so the
        outcome is the same at half the read units."""
        unique = list({item_key(key): {"pk": key["pk"], "sk": key["sk"]} for key in keys}.values())
        found: dict[tuple[str, str], Item] = {}
        now = self.clock().timestamp()
        for start in range(0, len(unique), BATCH_GET_SIZE):
            request: dict[str, Any] = {
                "Keys": [wire(key) for key in unique[start : start + BATCH_GET_SIZE]],
                "ConsistentRead": consistent,
            }
            if projection:
                names = {f"#a{n}": name for n, name in enumerate(("pk", "sk", *projection))}
                request["ProjectionExpression"] = ", ".join(names)
                request["ExpressionAttributeNames"] = names
            pending: dict[str, Any] = {table: request}
            delay = 0.05
            while pending:
                response = self.client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(table, []):
                    item = plain(raw)
                    if keep_expired or not self.expired(item, now):
                        found[item_key(item)] = item
                pending = dict(response.get("UnprocessedKeys") or {})
                if pending:
                    time.sleep(delay)  # backoff against throttling, not a wait for data
                    delay = min(delay * 2, 5.0)
        return found

    def query(
        self,
        table: str,
        partition: tuple[str, str],
        *,
        index: str | None = None,
        sort: tuple[str, str, Sequence[str]] | None = None,
        forward: bool = True,
        page: int | None = None,
        consistent: bool = False,
    ) -> Iterator[Item]:
        """Every unexpired item of one partition, page after page (LastEvaluatedKey).

        ``sort`` is (attribute, condition with ``#s`` and ``:s0``/``:s1``, values).
        """
        names = {"#p": partition[0]}
        values: Item = {":p": partition[1]}
        condition = "#p = :p"
        if sort is not None:
            names["#s"] = sort[0]
            condition += f" AND {sort[1]}"
            values.update({f":s{n}": value for n, value in enumerate(sort[2])})
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": wire(values),
            "ScanIndexForward": forward,
        }
        if index:
            kwargs["IndexName"] = index
        elif consistent:
            kwargs["ConsistentRead"] = True
        if page:
            kwargs["Limit"] = page
        while True:
            response = self.client.query(**kwargs)
            now = self.clock().timestamp()
            for raw in response.get("Items", []):
                item = plain(raw)
                if not self.expired(item, now):
                    yield item
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def unpack(self, table: str, items: list[Item]) -> list[str]:
        """The payload text of each item, reading the parts of split ones."""
        keys = [key for item in items for key in part_keys(item)]
        parts = self.batch_get(table, keys, keep_expired=True) if keys else {}
        return [payload_text(item, parts) for item in items]

    # Writes ------------------------------------------------------------------------------

    def batch_write(self, table: str, puts: list[Item], deletes: list[Item]) -> None:
        """Put and delete uncounted items (parts), 25 a request, unprocessed ones retried."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": wire(item)}} for item in puts]
        requests += [
            {"DeleteRequest": {"Key": wire({"pk": key["pk"], "sk": key["sk"]})}} for key in deletes
        ]
        for start in range(0, len(requests), BATCH_WRITE_SIZE):
            pending: dict[str, Any] = {table: requests[start : start + BATCH_WRITE_SIZE]}
            delay = 0.05
            while pending:
                response = self.client.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)

    def upsert(
        self,
        table: str,
        rows: Iterable[Row],
        *,
        must_write: Callable[[Item], bool] = lambda old: False,
        side: SideItems | None = None,
        projection: Sequence[str] = (),
    ) -> tuple[WriteResult, Counter[str], list[Item]]:
        """Write the rows whose fingerprint differs from the stored one.

        Returns the result, the counter deltas (to pass to :meth:`add_counts`) and the rows
        written. ``must_write(old)`` forces a write of an identical item (a stale discussion).
        ``side(item, old)`` names the index items an item needs beside it, given the stored
        one (read with ``projection`` too): the ones to put go before the item, the outdated
        ones are deleted after it, so a kill leaves at worst an outdated index item (which
        reads check against the item), never an item its index misses.
        """
        result = WriteResult()
        deltas: Counter[str] = Counter()
        written: list[Item] = []
        todo = list(rows)
        if not todo:
            return result, deltas, written
        wanted = (*UPSERT_PROJECTION, *projection)
        stored = self.batch_get(table, (row.item for row in todo), wanted, keep_expired=True)
        changed: list[tuple[Row, Item | None]] = []
        for row in todo:
            old = stored.get(item_key(row.item))
            if old is not None and old.get("fp") == row.item["fp"] and not must_write(old):
                result.unchanged += 1
            else:
                changed.append((row, old))

        def write(pair: tuple[Row, Item | None]) -> tuple[bool, Item | None]:
            row, old = pair
            if row.parts:
                self.batch_write(table, row.parts, [])
            if side is not None:
                self.batch_write(table, side(row.item, old)[0], [])
            wrote, replaced = self.put_with_change(table, row, old, must_write, wanted)
            if wrote and side is not None:
                puts, deletes = side(row.item, replaced)
                # Another writer replaced the item read first: what it may have removed too.
                again = puts if replaced != old else []
                self.batch_write(table, again, deletes)
            return wrote, replaced

        keys = {item_key(row.item) for row, _ in changed}
        if len(changed) > 1 and len(keys) == len(changed):
            # Distinct items: their puts are independent, so a few go at once.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
                outcomes = list(pool.map(write, changed))
        else:
            outcomes = [write(pair) for pair in changed]
        for (row, _), (wrote, replaced) in zip(changed, outcomes, strict=True):
            item = row.item
            if not wrote:
                result.unchanged += 1
                continue
            result.written += 1
            written.append(item)
            row.created = replaced is None
            self.count_change(deltas, replaced, item)
            if replaced and replaced.get("parts") and replaced.get("fp") != item["fp"]:
                self.batch_write(table, [], part_keys(replaced))
        return result, deltas, written

    def put_with_change(
        self,
        table: str,
        row: Row,
        old: Item | None,
        must_write: Callable[[Item], bool],
        projection: Sequence[str] = UPSERT_PROJECTION,
    ) -> tuple[bool, Item | None]:
        """Put ``row`` if the stored item is still ``old`` (optimistic: the condition names
        what was read); when the record changes, its change item is put first. Whether it was
        written, and the item it replaced (None: created).

        The change goes before the data, never after: a kill between the two leaves at worst a
        change whose record did not change (a reader re-reads an unchanged record), never a
        changed record without its change. A failed condition means another writer got there
        first: the item is read again and the write retried unless it is now identical.
        """
        item = row.item
        logged = False
        for _ in range(20):
            if (
                row.change is not None
                and not logged
                and (old is None or old.get("fp") != item["fp"])
            ):
                self.client.put_item(
                    TableName=self.patches, Item=wire(self.changelog.item(*row.change))
                )
                logged = True
            condition, names, values = _expectation(old)
            put: dict[str, Any] = {
                "TableName": table,
                "Item": wire(item),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
            }
            if values:
                put["ExpressionAttributeValues"] = wire(values)
            try:
                self.client.put_item(**put)
            except self.client.exceptions.ConditionalCheckFailedException:
                old = self.get_raw(table, item, projection)
                if old is not None and old.get("fp") == item["fp"] and not must_write(old):
                    return False, None  # an identical item was written meanwhile
                continue
            return True, old
        raise RuntimeError(f"{item['pk']}: too many concurrent writers")

    def get_raw(self, table: str, key: Item, projection: Sequence[str]) -> Item | None:
        """One item, expired or not, consistently read."""
        names = {f"#a{n}": name for n, name in enumerate(("pk", "sk", *projection))}
        response = self.client.get_item(
            TableName=table,
            Key=wire({"pk": key["pk"], "sk": key["sk"]}),
            ConsistentRead=True,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        raw = response.get("Item")
        return plain(raw) if raw else None

    # Counters ----------------------------------------------------------------------------

    @staticmethod
    def count_change(deltas: Counter[str], replaced: Item | None, item: Item) -> None:
        if replaced is None or replaced.get("cnt") != item["cnt"]:
            deltas[item["cnt"]] += 1
            if replaced is not None and replaced.get("cnt"):
                deltas[replaced["cnt"]] -= 1

    def add_counts(self, deltas: Counter[str]) -> None:
        """One ``ADD`` per project whose patch counters changed (its own item) and one for
        the store-wide counters, on one of their shards: no item takes every write."""
        changes = {name: n for name, n in deltas.items() if n}
        groups: dict[str, dict[str, int]] = {}
        for name, n in changes.items():
            project = name[3:].rpartition("#")[0] if name.startswith("pc#") else ""
            groups.setdefault(project, {})[name] = n
        for project, group in sorted(groups.items()):
            key = (
                project_counter_key(project)
                if project
                else counter_shard_key(self._shard.randrange(COUNTER_SHARDS))
            )
            names = {f"#c{n}": name for n, name in enumerate(group)}
            values = {f":c{n}": group[name] for n, name in enumerate(group)}
            self.client.update_item(
                TableName=self.patches,
                Key=wire(key),
                UpdateExpression="ADD " + ", ".join(f"#c{n} :c{n}" for n in range(len(group))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=wire(values),
            )

    def counters(self) -> Item:
        """Every counter, summed over the ``STATS`` items: the shards, one item per project
        and the single item of earlier versions (one query, about 1 unit at 100 projects)."""
        total: Counter[str] = Counter()
        for item in self.query(self.patches, ("pk", STATS_PARTITION), consistent=True):
            for name, value in item.items():
                if name not in ("pk", "sk") and isinstance(value, int):
                    total[name] += value
        return dict(total)

    def patch_counts(self) -> dict[tuple[str, str], int]:
        return patch_counts(self.counters())


def _expectation(old: Item | None) -> tuple[str, dict[str, str], Item]:
    """The condition under which a put replaces exactly the ``old`` item that was read."""
    if old is None:
        return "attribute_not_exists(#pk)", {"#pk": "pk"}, {}
    condition = "#fp = :ofp"
    names = {"#fp": "fp"}
    values: Item = {":ofp": old["fp"]}
    if "stale" in old:
        condition += " AND #stale = :ostale"
        names["#stale"] = "stale"
        values[":ostale"] = old["stale"]
    return condition, names, values

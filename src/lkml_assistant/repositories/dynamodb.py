# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS store: two DynamoDB tables (keys and indexes in :mod:`.dynamodb_schema`).

It behaves like the SQLite store. An upsert first reads the stored fingerprints (BatchGetItem,
100 keys a call) and writes only the items whose fingerprint changed, so a re-run with nothing
new issues no write request at all (``DynamoDbStore.write_requests`` counts them). A changed
item is written by a conditional ``PutItem`` returning the item it replaced: whether it created
an item (or moved a patch to another project/state) is read from that answer, so the counters of
:class:`StoreCounts` stay exact with concurrent writers. Large payloads are zlib-compressed and,
if still too large for one 400 KB item, split over part items. ``expires_at`` (TTL) is set from a
record's date when ``retention_days`` > 0, and expired items are never returned.

boto3 is imported by the constructor only, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import json
import os
import re
import threading
import time
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lkml_assistant.models.domain import Patch, Project, Series
from lkml_assistant.models.records import (
    Change,
    ChangePage,
    LoreCursor,
    PatchDiscussion,
    PatchReview,
    ReviewCounts,
    RunRecord,
    SeriesLink,
    StoredMessage,
    SyncCursor,
    WriteResult,
)
from lkml_assistant.repositories.base import (
    ChangeRepository,
    CursorRepository,
    DiscussionRepository,
    PageMark,
    PatchQuery,
    PatchRepository,
    ProjectRepository,
    ReviewRepository,
    RunRepository,
    SeriesRepository,
    StatsRepository,
    Store,
    StoreCounts,
)
from lkml_assistant.repositories.dynamodb_schema import (
    DISCUSSIONS,
    PARTITION_KEY,
    PATCHES,
    SORT_KEY,
    TTL_ATTRIBUTE,
    TableSchema,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Item = dict[str, Any]
"""An item as plain Python values: str, int, bytes, bool, set[str]."""

# Payloads up to this size stay readable JSON; larger ones are zlib-compressed.
INLINE_LIMIT = 16_000
# Compressed payloads larger than this are split into parts of this size (an item is 400 KB
# at most, attribute names and keys included).
PART_SIZE = 350_000
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
# Changed items are put by this many threads at once (the client is thread-safe).
WRITE_THREADS = 8
# Independent index queries (one per Message-ID) run this many at once.
READ_THREADS = 8
STATS_KEY: Item = {"pk": "STATS", "sk": "COUNTS"}
RUN_COUNTER_KEY: Item = {"pk": "COUNTER", "sk": "RUN"}
ITEM_COUNTERS = ("projects", "series", "messages", "discussions")
# What an upsert reads of the stored items before writing (the replaced item's counter and
# parts, and the fingerprint and staleness its conditional write expects).
UPSERT_PROJECTION = ("fp", "stale", "cnt", "parts", "ppk", TTL_ATTRIBUTE)
# Change items are kept this long; a cursor older than that has lost changes.
CHANGE_RETENTION_SECONDS = 35 * 86_400
CHANGE_HOURS_PK = "CHANGEHOURS"
CURSOR_PREFIX = "chg1:"
_CHANGE_SK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z(#[0-9a-f]{16})?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"[^\W_]+")


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in sort keys."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fingerprint(data: str) -> str:
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def _pad(number: int) -> str:
    return f"{number:010d}"


def date_key(moment: datetime, patch_id: int) -> str:
    """The sort key of a patch in every date-ordered index: date DESC, id DESC by string."""
    return f"{utc_text(moment)}#{_pad(patch_id)}"


def title_tokens(text: str) -> list[str]:
    """Words as SQLite's FTS5 unicode61 tokenizer sees them: letters and digits, case and
    diacritics folded; everything else (``_``, ``/``, ``-`` …) separates words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _TOKEN.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def title_matches(name: str, words: Sequence[str]) -> bool:
    """Every word occurs in the title as whole words (a word of several tokens, such as
    ``nft_set_rbtree``, as a phrase)."""
    tokens = title_tokens(name)
    for word in words:
        wanted = title_tokens(word)
        size = len(wanted)
        if not size or not any(
            tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1)
        ):
            return False
    return True


# --- attribute values ---------------------------------------------------------------------


def _wire_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def wire(item: Item) -> dict[str, Any]:
    return {name: _wire_value(value) for name, value in item.items() if value is not None}


def plain(item: Any) -> Item:
    """The Python values of a DynamoDB item; numbers are all integers here (no Decimal)."""
    out: Item = {}
    for name, value in item.items():
        if "S" in value:
            out[name] = value["S"]
        elif "N" in value:
            out[name] = int(value["N"])
        elif "B" in value:
            out[name] = bytes(value["B"])
        elif "BOOL" in value:
            out[name] = bool(value["BOOL"])
        elif "SS" in value:
            out[name] = set(value["SS"])
        else:
            out[name] = None
    return out


def _key(item: Item) -> tuple[str, str]:
    return (item["pk"], item["sk"])


# --- the connection shared by the repositories ----------------------------------------------


@dataclass
class _Row:
    """One item to upsert, with the part items its payload was split into."""

    item: Item
    parts: list[Item] = field(default_factory=list)
    change: tuple[str, str] | None = None
    """(kind, key) of the change logged when this item is created or its fingerprint changes."""


def create_tables(
    client: DynamoDBClient,
    patches_table: str,
    discussions_table: str,
    *,
    wait: bool = True,
) -> None:
    """Create both tables from :mod:`.dynamodb_schema` (on-demand, TTL on ``expires_at``).

    For tests, benchmarks and local use; on AWS the CDK app creates them from the same schema.
    """
    for schema, name in ((PATCHES, patches_table), (DISCUSSIONS, discussions_table)):
        client.create_table(**_table_definition(schema, name))
    for name in (patches_table, discussions_table):
        if wait:
            client.get_waiter("table_exists").wait(TableName=name)
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


def _table_definition(schema: TableSchema, name: str) -> dict[str, Any]:
    def key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
        keys = [{"AttributeName": partition, "KeyType": "HASH"}]
        if sort:
            keys.append({"AttributeName": sort, "KeyType": "RANGE"})
        return keys

    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in schema.attributes()
        ],
        "KeySchema": key_schema(PARTITION_KEY, SORT_KEY),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in schema.indexes
        ],
    }


class _Dynamo:
    """The client, the table names, the retention and the request helpers."""

    def __init__(
        self,
        patches_table: str,
        discussions_table: str,
        retention_days: int,
        client: DynamoDBClient | None,
        change_settle_seconds: int = 900,
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
        self.write_requests = 0
        self.change_settle_seconds = change_settle_seconds
        self._lock = threading.Lock()
        self._last_stamp = 0
        self._hours: set[str] = set()
        self.client.meta.events.register("before-call.dynamodb", self._count_call)

    def _count_call(self, model: Any = None, **_: Any) -> None:
        if model is not None and model.name in WRITE_OPERATIONS:
            with self._lock:
                self.write_requests += 1

    # Time to live ------------------------------------------------------------------------

    def expires_at(self, moment: datetime | None) -> int | None:
        if not self.retention_seconds:
            return None
        base = moment or datetime.now(UTC)
        return int(base.timestamp()) + self.retention_seconds

    @staticmethod
    def expired(item: Item, now: float | None = None) -> bool:
        expires = item.get(TTL_ATTRIBUTE)
        return expires is not None and expires <= (now if now is not None else time.time())

    # Reads -------------------------------------------------------------------------------

    def get(self, table: str, key: Item) -> Item | None:
        response = self.client.get_item(TableName=table, Key=wire(key), ConsistentRead=True)
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
    ) -> dict[tuple[str, str], Item]:
        """The items found among ``keys``, 100 keys a request, unprocessed keys retried."""
        unique = list({_key(key): {"pk": key["pk"], "sk": key["sk"]} for key in keys}.values())
        found: dict[tuple[str, str], Item] = {}
        now = time.time()
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                "Keys": [wire(key) for key in unique[start : start + 100]],
                "ConsistentRead": True,
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
                        found[_key(item)] = item
                pending = dict(response.get("UnprocessedKeys") or {})
                if pending:
                    time.sleep(delay)
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
            now = time.time()
            for raw in response.get("Items", []):
                item = plain(raw)
                if not self.expired(item, now):
                    yield item
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    # Payloads ----------------------------------------------------------------------------

    def pack(self, item: Item, text: str, part_pk: str) -> list[Item]:
        """Put ``text`` into ``item`` (JSON, zlib or parts) and return the part items."""
        raw = text.encode()
        if len(raw) <= INLINE_LIMIT:
            item["data"] = text
            return []
        packed = zlib.compress(raw, 6)
        if len(packed) <= PART_SIZE:
            item["dataz"] = packed
            return []
        chunks = [packed[at : at + PART_SIZE] for at in range(0, len(packed), PART_SIZE)]
        item["parts"] = len(chunks)
        item["ppk"] = part_pk
        # Parts are keyed by the fingerprint: a reader of the previous version still finds
        # its own parts until the main item is replaced.
        return [
            {
                "pk": part_pk,
                "sk": f"{item['fp']}#{number:04d}",
                "blob": chunk,
                TTL_ATTRIBUTE: item.get(TTL_ATTRIBUTE),
            }
            for number, chunk in enumerate(chunks)
        ]

    @staticmethod
    def part_keys(item: Item) -> list[Item]:
        if not item.get("parts"):
            return []
        return [
            {"pk": item["ppk"], "sk": f"{item['fp']}#{number:04d}"}
            for number in range(item["parts"])
        ]

    def unpack(self, table: str, items: list[Item]) -> list[str]:
        """The payload text of each item, reading the parts of split ones."""
        keys = [key for item in items for key in self.part_keys(item)]
        parts = self.batch_get(table, keys, keep_expired=True) if keys else {}
        texts = []
        for item in items:
            if "data" in item:
                texts.append(item["data"])
            elif "dataz" in item:
                texts.append(zlib.decompress(item["dataz"]).decode())
            else:
                blob = b"".join(parts[_key(key)]["blob"] for key in self.part_keys(item))
                texts.append(zlib.decompress(blob).decode())
        return texts

    # Writes ------------------------------------------------------------------------------

    def batch_write(self, table: str, puts: list[Item], deletes: list[Item]) -> None:
        """Put and delete uncounted items (parts), 25 a request, unprocessed ones retried."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": wire(item)}} for item in puts]
        requests += [
            {"DeleteRequest": {"Key": wire({"pk": key["pk"], "sk": key["sk"]})}} for key in deletes
        ]
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {table: requests[start : start + 25]}
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
        rows: Iterable[_Row],
        *,
        must_write: Callable[[Item], bool] = lambda old: False,
    ) -> tuple[WriteResult, Counter[str], list[Item]]:
        """Write the rows whose fingerprint differs from the stored one.

        Returns the result, the counter deltas (to pass to :meth:`add_counts`) and the rows
        written. ``must_write(old)`` forces a write of an identical item (a stale discussion).
        """
        result = WriteResult()
        deltas: Counter[str] = Counter()
        written: list[Item] = []
        todo = list(rows)
        if not todo:
            return result, deltas, written
        stored = self.batch_get(
            table, (row.item for row in todo), UPSERT_PROJECTION, keep_expired=True
        )
        changed: list[tuple[_Row, Item | None]] = []
        for row in todo:
            old = stored.get(_key(row.item))
            if old is not None and old.get("fp") == row.item["fp"] and not must_write(old):
                result.unchanged += 1
            else:
                changed.append((row, old))

        def write(pair: tuple[_Row, Item | None]) -> tuple[bool, Item | None]:
            row, old = pair
            if row.parts:
                self.batch_write(table, row.parts, [])
            return self.put_with_change(table, row, old, must_write)

        keys = {_key(row.item) for row, _ in changed}
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
            self.count_change(deltas, replaced, item)
            if replaced and replaced.get("parts") and replaced.get("fp") != item["fp"]:
                self.batch_write(table, [], self.part_keys(replaced))
        return result, deltas, written

    def put_with_change(
        self, table: str, row: _Row, old: Item | None, must_write: Callable[[Item], bool]
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
                    TableName=self.patches, Item=wire(self.change_item(*row.change))
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
                old = self.get_raw(table, item, UPSERT_PROJECTION)
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

    # The change log ----------------------------------------------------------------------

    def stamp(self) -> str:
        """Now as fixed-width UTC text, strictly increasing within this process."""
        with self._lock:
            micros = max(time.time_ns() // 1000, self._last_stamp + 1)
            self._last_stamp = micros
        return utc_text(_EPOCH + timedelta(microseconds=micros))

    def change_item(self, kind: str, key: str) -> Item:
        """A change item, stamped now, in the partition of its hour (whose marker is written
        first, once per hour and process, so a kill leaves at worst an empty hour)."""
        stamp = self.stamp()
        hour = stamp[:13]
        expires = int(time.time()) + CHANGE_RETENTION_SECONDS
        if hour not in self._hours:
            self.client.put_item(
                TableName=self.patches,
                Item=wire({"pk": CHANGE_HOURS_PK, "sk": hour, TTL_ATTRIBUTE: expires + 7200}),
            )
            with self._lock:
                self._hours.add(hour)
        return {
            "pk": f"CHANGES#{hour}",
            "sk": f"{stamp}#{os.urandom(8).hex()}",
            "kind": kind,
            "key": key,
            TTL_ATTRIBUTE: expires,
        }

    @staticmethod
    def count_change(deltas: Counter[str], replaced: Item | None, item: Item) -> None:
        if replaced is None or replaced.get("cnt") != item["cnt"]:
            deltas[item["cnt"]] += 1
            if replaced is not None and replaced.get("cnt"):
                deltas[replaced["cnt"]] -= 1

    def add_counts(self, deltas: Counter[str]) -> None:
        changes = {name: n for name, n in deltas.items() if n}
        if not changes:
            return
        names = {f"#c{n}": name for n, name in enumerate(changes)}
        values = {f":c{n}": changes[name] for n, name in enumerate(changes)}
        self.client.update_item(
            TableName=self.patches,
            Key=wire(STATS_KEY),
            UpdateExpression="ADD " + ", ".join(f"#c{n} :c{n}" for n in range(len(changes))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=wire(values),
        )

    def counters(self) -> Item:
        return self.get(self.patches, STATS_KEY) or {}


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


# --- patches table ------------------------------------------------------------------------


def _patch_counter(project: str, state: str) -> str:
    return f"pc#{project}#{state}"


class DynamoProjects(ProjectRepository):
    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def upsert_projects(self, projects: Iterable[Project]) -> WriteResult:
        rows = []
        for project in projects:
            data = project.model_dump_json()
            item: Item = {
                "pk": "PROJECTS",
                "sk": project.link_name,
                "fp": fingerprint(data),
                "cnt": "projects",
            }
            parts = self._db.pack(item, data, f"X#PROJECTS#{project.link_name}")
            rows.append(_Row(item, parts))
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        return result

    def get_project(self, link_name: str) -> Project | None:
        item = self._db.get(self._db.patches, {"pk": "PROJECTS", "sk": link_name})
        if item is None:
            return None
        return Project.model_validate_json(self._db.unpack(self._db.patches, [item])[0])

    def list_projects(self) -> list[Project]:
        items = list(self._db.query(self._db.patches, ("pk", "PROJECTS"), consistent=True))
        texts = self._db.unpack(self._db.patches, items)
        return [Project.model_validate_json(text) for text in texts]


class DynamoPatches(PatchRepository):
    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def _row(self, patch: Patch) -> _Row:
        data = patch.model_dump_json()
        key = date_key(patch.date, patch.id)
        email = patch.submitter.email.lower()
        item: Item = {
            "pk": f"PATCH#{patch.id}",
            "sk": "PATCH",
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
            "gsi5sk": f"patch#{_pad(patch.id)}",
            "fp": fingerprint(data),
            "cnt": _patch_counter(patch.project, patch.state),
            TTL_ATTRIBUTE: self._db.expires_at(patch.date),
        }
        if patch.series:
            item["series_id"] = patch.series[0].id
            item["gsi3pk"] = f"S#{patch.series[0].id}"
            item["gsi3sk"] = _pad(patch.id)
        parts = self._db.pack(item, data, f"X#PATCH#{patch.id}")
        return _Row(item, parts, ("patch", str(patch.id)))

    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult:
        rows, skipped = _live_rows(self._db, [self._row(patch) for patch in patches])
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        result.unchanged += skipped
        return result

    def _patches(self, items: list[Item]) -> list[Patch]:
        texts = self._db.unpack(self._db.patches, items)
        return [Patch.model_validate_json(text) for text in texts]

    def get_patch(self, patch_id: int) -> Patch | None:
        item = self._db.get(self._db.patches, {"pk": f"PATCH#{patch_id}", "sk": "PATCH"})
        return self._patches([item])[0] if item else None

    def get_patches(self, patch_ids: Iterable[int]) -> dict[int, Patch]:
        keys = [{"pk": f"PATCH#{patch_id}", "sk": "PATCH"} for patch_id in set(patch_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        return {patch.id: patch for patch in self._patches(items)}

    def patches_by_msgid(self, msgid: str) -> list[Patch]:
        return self.patches_by_msgids([msgid])

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

    def list_patches(
        self,
        *,
        project: str | None = None,
        state: Sequence[str] = (),
        submitter: str | None = None,
        series_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Patch]:
        query = PatchQuery(
            project=project,
            states=tuple(state),
            submitter=submitter,
            series_id=series_id,
            since=since,
            until=until,
        )
        return self.page_patches(query, limit=limit)

    def count_patches(self, project: str | None = None) -> int:
        return sum(
            count
            for (name, state), count in _patch_counts(self._db.counters()).items()
            if project is None or name == project
        )

    def page_patches(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> list[Patch]:
        if limit <= 0:
            return []
        items: list[Item] = []
        walker = walk_patches(self._db, query, after, page=min(max(limit + 1, 25), 500))
        if not query.review_states:
            items.extend(itertools.islice(walker, limit))
            return self._patches(items)
        # Filtered while walking: the review status of each chunk of patches is batch-read;
        # a patch without a review record counts as unreviewed.
        wanted = set(query.review_states)
        while len(items) < limit:
            chunk = list(itertools.islice(walker, min(max(limit, 25), 100)))
            if not chunk:
                break
            statuses = {
                int(found["patch_id"]): found["status"]
                for found in self._db.batch_get(
                    self._db.patches,
                    (_review_key(int(item["id"])) for item in chunk),
                    ("patch_id", "status", TTL_ATTRIBUTE),
                ).values()
            }
            for item in chunk:
                if statuses.get(int(item["id"]), "unreviewed") in wanted:
                    items.append(item)
                    if len(items) == limit:
                        break
        return self._patches(items)


def _live_rows(db: _Dynamo, rows: Iterable[_Row]) -> tuple[list[_Row], int]:
    """The rows not already past their retention, and how many were (they are not written:
    DynamoDB would delete them at once, and reads never return them)."""
    now = time.time()
    given = list(rows)
    live = [row for row in given if not db.expired(row.item, now)]
    return live, len(given) - len(live)


def _patch_counts(counters: Item) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for name, value in counters.items():
        if name.startswith("pc#") and isinstance(value, int) and value > 0:
            project, _, state = name[3:].rpartition("#")
            counts[(project, state)] = value
    return counts


def walk_patches(
    db: _Dynamo, query: PatchQuery, after: PageMark | None, *, page: int = 100
) -> Iterator[Item]:
    """The patch items matching ``query``, newest first (date DESC, id DESC), after ``after``.

    One index partition is read in date order, or several merged (a project's states, every
    project); what the key cannot express is filtered on the items read, page by page.
    """
    lower = utc_text(query.since) if query.since else None
    uppers = []
    if query.until:
        uppers.append(utc_text(query.until))
    if after:
        uppers.append(date_key(after.date, after.id))
    upper = min(uppers) if uppers else None
    states = set(query.states)
    submitter = query.submitter.lower() if query.submitter else None

    def wanted(item: Item) -> bool:
        key = item["dk"]
        return (
            (lower is None or key >= lower)
            and (upper is None or key < upper)
            and (query.project is None or item["project"] == query.project)
            and (not states or item["state"] in states)
            and (submitter is None or item["email"] == submitter)
            and (query.series_id is None or item.get("series_id") == query.series_id)
            and (not query.words or title_matches(item["name"], query.words))
        )

    if query.series_id is not None:
        # A series is a few dozen patches at most: read it whole and sort it.
        items = db.query(db.patches, ("gsi3pk", f"S#{query.series_id}"), index="by-series")
        yield from sorted(filter(wanted, items), key=lambda item: item["dk"], reverse=True)
        return

    partitions: list[tuple[str, str, str]] = []  # (index, attribute, value)
    if submitter is not None:
        partitions.append(("by-submitter", "gsi2pk", f"U#{submitter}"))
    else:
        projects = (
            [query.project]
            if query.project is not None
            else sorted({project for project, _ in _patch_counts(db.counters())})
        )
        for project in projects:
            if states:
                partitions.extend(
                    ("by-state", "gsi4pk", f"ST#{project}#{state}") for state in sorted(states)
                )
            else:
                partitions.append(("by-project-date", "gsi1pk", f"P#{project}"))

    sort_attribute = {"by-submitter": "gsi2sk", "by-state": "gsi4sk", "by-project-date": "gsi1sk"}

    def run(index: str, attribute: str, value: str) -> Iterator[Item]:
        sort: tuple[str, str, Sequence[str]] | None = None
        name = sort_attribute[index]
        if lower and upper:
            sort = (name, "#s BETWEEN :s0 AND :s1", (lower, upper))
        elif lower:
            sort = (name, "#s >= :s0", (lower,))
        elif upper:
            sort = (name, "#s < :s0", (upper,))
        items = db.query(
            db.patches, (attribute, value), index=index, sort=sort, forward=False, page=page
        )
        return filter(wanted, items)

    runs = [run(*partition) for partition in partitions]
    if len(runs) == 1:
        yield from runs[0]
    else:
        yield from heapq.merge(*runs, key=lambda item: str(item["dk"]), reverse=True)


class DynamoSeries(SeriesRepository):
    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def upsert_series(self, series: Iterable[Series]) -> WriteResult:
        def row(item: Series) -> _Row:
            data = item.model_dump_json()
            record: Item = {
                "pk": f"SERIES#{item.id}",
                "sk": "SERIES",
                "fp": fingerprint(data),
                "cnt": "series",
                TTL_ATTRIBUTE: self._db.expires_at(item.date),
            }
            if item.cover_letter:
                record["gsi5pk"] = f"M#{item.cover_letter.msgid}"
                record["gsi5sk"] = f"series#{_pad(item.id)}"
            parts = self._db.pack(record, data, f"X#SERIES#{item.id}")
            return _Row(record, parts, ("series", str(item.id)))

        rows, skipped = _live_rows(self._db, [row(item) for item in series])
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        result.unchanged += skipped
        return result

    def get_series(self, series_id: int) -> Series | None:
        item = self._db.get(self._db.patches, {"pk": f"SERIES#{series_id}", "sk": "SERIES"})
        if item is None:
            return None
        return Series.model_validate_json(self._db.unpack(self._db.patches, [item])[0])

    def known_series_ids(self, series_ids: Iterable[int]) -> set[int]:
        keys = [{"pk": f"SERIES#{series_id}", "sk": "SERIES"} for series_id in set(series_ids)]
        found = self._db.batch_get(self._db.patches, keys, (TTL_ATTRIBUTE,))
        return {int(pk.removeprefix("SERIES#")) for pk, _ in found}

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


def _review_key(patch_id: int) -> Item:
    return {"pk": f"REVIEW#{patch_id}", "sk": "REVIEW"}


def _link_key(series_id: int) -> Item:
    return {"pk": f"LINK#{series_id}", "sk": "LINK"}


def _given_key(email: str, date: str, patch_id: int) -> Item:
    return {"pk": f"GIVEN#{email}", "sk": f"{date}#{_pad(patch_id)}"}


def _member_key(chain_id: int, position: int, series_id: int) -> Item:
    return {"pk": f"CHAIN#{chain_id}", "sk": f"{_pad(position)}#{_pad(series_id)}"}


class DynamoReviews(ReviewRepository):
    """Links (``LINK#<series>``) and reviews (``REVIEW#<patch>``) in the patches table.

    Two kinds of small index items stand in for secondary indexes: ``CHAIN#<chain>`` holds one
    item per member of a chain, ``GIVEN#<email>`` one per (reviewer, patch). They are put
    before the record they index and the outdated ones deleted after it, so a kill leaves at
    worst an outdated index item, which reads drop (they check it against the record).
    """

    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def _index_then_upsert(
        self,
        rows: list[_Row],
        index_keys: Callable[[Item], set[tuple[str, str]]],
        projection: Sequence[str],
    ) -> WriteResult:
        """Upsert ``rows`` with their index items: the new ones first, the stale ones after."""
        live, skipped = _live_rows(self._db, rows)
        stored = self._db.batch_get(
            self._db.patches, (row.item for row in live), ("fp", *projection), keep_expired=True
        )
        puts: list[Item] = []
        stale: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for row in live:
            old = stored.get(_key(row.item))
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
            stale[_key(row.item)] = old_keys - new_keys
        if puts:
            self._db.batch_write(self._db.patches, puts, [])
        result, deltas, written = self._db.upsert(self._db.patches, live)
        deletes = [
            {"pk": pk, "sk": sk} for item in written for pk, sk in stale.get(_key(item), set())
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
            ({"pk": f"SERIES#{link.series_id}", "sk": "SERIES"} for link in given),
            (TTL_ATTRIBUTE,),
        )
        rows = []
        for link in given:
            data = link.model_dump_json()
            owner = series.get((f"SERIES#{link.series_id}", "SERIES"))
            item: Item = {
                **_link_key(link.series_id),
                "chain_id": link.chain_id,
                "position": link.position,
                "fp": fingerprint(data),
                "cnt": "links",
                "data": data,
                # A link lives as long as its series.
                TTL_ATTRIBUTE: owner.get(TTL_ATTRIBUTE) if owner else self._db.expires_at(None),
            }
            rows.append(_Row(item, [], ("link", str(link.series_id))))

        def members(item: Item) -> set[tuple[str, str]]:
            series_id = int(str(item["pk"]).removeprefix("LINK#"))
            return {_key(_member_key(item["chain_id"], item["position"], series_id))}

        return self._index_then_upsert(rows, members, ("chain_id", "position"))

    def get_links(self, series_ids: Iterable[int]) -> dict[int, SeriesLink]:
        keys = [_link_key(series_id) for series_id in set(series_ids)]
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
            data = review.model_dump_json()
            item: Item = {
                **_review_key(review.patch_id),
                "patch_id": review.patch_id,
                "status": review.status,
                "date": utc_text(review.date),
                "reviewers": {email.lower() for email in review.reviewers} or None,
                "fp": fingerprint(data),
                "cnt": "reviews",
                TTL_ATTRIBUTE: self._db.expires_at(review.date),
            }
            parts = self._db.pack(item, data, f"X#REVIEW#{review.patch_id}")
            rows.append(_Row(item, parts, ("review", str(review.patch_id))))

        def given(item: Item) -> set[tuple[str, str]]:
            return {
                _key(_given_key(email, item["date"], item["patch_id"]))
                for email in item.get("reviewers") or ()
            }

        return self._index_then_upsert(rows, given, ("patch_id", "date", "reviewers"))

    def _reviews(self, items: list[Item]) -> list[PatchReview]:
        texts = self._db.unpack(self._db.patches, items)
        return [PatchReview.model_validate_json(text) for text in texts]

    def get_reviews(self, patch_ids: Iterable[int]) -> dict[int, PatchReview]:
        keys = [_review_key(patch_id) for patch_id in set(patch_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        return {review.patch_id: review for review in self._reviews(items)}

    def reviews_given_by(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        address = email.lower()
        index = self._db.query(
            self._db.patches,
            ("pk", f"GIVEN#{address}"),
            forward=False,
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
                # An index item left behind by an interrupted update no longer matches.
                if (
                    review is not None
                    and address in {reviewer.lower() for reviewer in review.reviewers}
                    and str(entry["sk"]).startswith(utc_text(review.date))
                ):
                    found.setdefault(patch_id, review)
                    if len(found) == limit:
                        break
        return list(found.values())


def _encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode((CURSOR_PREFIX + sk).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}") from None
    sk = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or (sk and not _CHANGE_SK.fullmatch(sk)):
        raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}")
    return sk


class DynamoChanges(ChangeRepository):
    """The change log: ``CHANGES#<hour>``/``<stamp>#<random>`` items written in the same
    transaction as the record, hours listed under ``CHANGEHOURS``. A cursor is the sort key of
    the last change read, base64-encoded; only changes older than the settle window are read,
    so a concurrent writer can no longer commit a change before a cursor already handed out.
    """

    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def _horizon(self) -> str:
        """Every change stamped before this is committed (or never will be)."""
        return utc_text(datetime.now(UTC) - timedelta(seconds=self._db.change_settle_seconds))

    def changes_since(self, cursor: str | None, *, limit: int = 500) -> ChangePage:
        after = _decode_cursor(cursor) if cursor is not None else ""
        oldest = utc_text(datetime.now(UTC) - timedelta(seconds=CHANGE_RETENTION_SECONDS))
        if after and after < oldest:
            raise ValueError("cursor expired, start again from latest_cursor()")
        horizon = self._horizon()
        hour_sort = ("sk", "#s >= :s0", (after[:13],)) if after else None
        hours = [
            str(item["sk"])
            for item in self._db.query(
                self._db.patches, ("pk", CHANGE_HOURS_PK), sort=hour_sort, consistent=True
            )
        ]
        found: list[Item] = []
        wanted = max(limit, 0) + 1
        for hour in hours:
            if hour > horizon[:13] or len(found) >= wanted:
                break
            sort = ("sk", "#s > :s0", (after,)) if after and hour == after[:13] else None
            for item in self._db.query(
                self._db.patches,
                ("pk", f"CHANGES#{hour}"),
                sort=sort,
                page=wanted - len(found),
                consistent=True,
            ):
                if str(item["sk"]) >= horizon:
                    break
                found.append(item)
                if len(found) >= wanted:
                    break
        more = len(found) > limit
        changes = tuple(
            Change(
                kind=item["kind"],
                key=item["key"],
                changed_at=datetime.fromisoformat(str(item["sk"]).partition("#")[0]),
                cursor=_encode_cursor(str(item["sk"])),
            )
            for item in found[:limit]
        )
        if changes:
            return ChangePage(changes=changes, cursor=changes[-1].cursor, more=more)
        return ChangePage(changes=(), cursor=_encode_cursor(after), more=False)

    def latest_cursor(self) -> str:
        # The settle horizon: every change before it is committed and is behind this cursor;
        # every later one will be read after it.
        return _encode_cursor(self._horizon())


class DynamoCursors(CursorRepository):
    """Cursors never expire; saving an unchanged cursor writes nothing."""

    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def _get(self, sk: str) -> str | None:
        item = self._db.get(self._db.patches, {"pk": "CURSOR", "sk": sk})
        return str(item["data"]) if item else None

    def _save(self, sk: str, data: str) -> None:
        if self._get(sk) == data:
            return
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire({"pk": "CURSOR", "sk": sk, "data": data, "updated_at": utc_text(_now())}),
        )

    def get_cursor(self, project: str) -> SyncCursor | None:
        data = self._get(f"patchwork#{project}")
        return SyncCursor.model_validate_json(data) if data else None

    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        self._save(f"patchwork#{project}", cursor.model_dump_json())

    def get_lore_cursor(self, list_name: str) -> LoreCursor | None:
        data = self._get(f"lore#{list_name}")
        return LoreCursor.model_validate_json(data) if data else None

    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None:
        self._save(f"lore#{list_name}", cursor.model_dump_json())


def _now() -> datetime:
    return datetime.now(UTC)


class DynamoRuns(RunRepository):
    """Run ids come from an atomic counter item (``ADD``); runs never expire.

    A run is ``RUN#<job>``/``<started>#<id>``; ``RUNID#<id>`` points to it for finish_run, and
    the counter item keeps the set of job names for last_runs.
    """

    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def start_run(self, job: str, started_at: datetime) -> int:
        response = self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire(RUN_COUNTER_KEY),
            UpdateExpression="ADD #n :one, #jobs :job",
            ExpressionAttributeNames={"#n": "n", "#jobs": "jobs"},
            ExpressionAttributeValues=wire({":one": 1, ":job": {job}}),
            ReturnValues="UPDATED_NEW",
        )
        run_id = int(plain(response["Attributes"])["n"])
        sk = f"{utc_text(started_at)}#{_pad(run_id)}"
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire(
                {
                    "pk": f"RUN#{job}",
                    "sk": sk,
                    "id": run_id,
                    "job": job,
                    "started_at": utc_text(started_at),
                    "status": "running",
                    "summary": "{}",
                }
            ),
        )
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire({"pk": f"RUNID#{run_id}", "sk": "RUN", "job": job, "run_sk": sk}),
        )
        return run_id

    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        pointer = self._db.get(self._db.patches, {"pk": f"RUNID#{run_id}", "sk": "RUN"})
        if pointer is None:
            return
        self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire({"pk": f"RUN#{pointer['job']}", "sk": pointer["run_sk"]}),
            UpdateExpression="SET #f = :f, #st = :st, #su = :su",
            ExpressionAttributeNames={"#f": "finished_at", "#st": "status", "#su": "summary"},
            ExpressionAttributeValues=wire(
                {
                    ":f": utc_text(finished_at),
                    ":st": status,
                    ":su": json.dumps(summary, sort_keys=True),
                }
            ),
        )

    def last_runs(self) -> dict[str, RunRecord]:
        counter = self._db.get(self._db.patches, RUN_COUNTER_KEY) or {}
        runs: dict[str, RunRecord] = {}
        for job in sorted(counter.get("jobs", set())):
            newest = next(
                self._db.query(
                    self._db.patches, ("pk", f"RUN#{job}"), forward=False, page=1, consistent=True
                ),
                None,
            )
            if newest is None:
                continue
            finished = newest.get("finished_at")
            runs[job] = RunRecord(
                id=newest["id"],
                job=job,
                started_at=datetime.fromisoformat(newest["started_at"]),
                finished_at=datetime.fromisoformat(finished) if finished else None,
                status=newest["status"],
                summary=json.loads(newest["summary"]),
            )
        return runs


# --- discussions table --------------------------------------------------------------------


def _message_key(root: str, message_id: str) -> Item:
    return {"pk": f"T#{root}", "sk": f"M#{message_id}"}


def _discussion_key(patch_id: int) -> Item:
    return {"pk": f"D#{patch_id}", "sk": "D"}


def _review_counts(discussion: PatchDiscussion) -> str:
    summary = discussion.summary
    kinds = Counter(str(trailer.kind) for trailer in summary.trailers)
    counts = ReviewCounts(
        reply_count=summary.reply_count,
        series_reply_count=summary.series_reply_count,
        participant_count=len(summary.participants),
        reviewed_by=kinds["reviewed-by"],
        acked_by=kinds["acked-by"],
        tested_by=kinds["tested-by"],
        naks=len(summary.naks),
        last_activity=summary.last_activity,
    )
    return counts.model_dump_json()


class DynamoDiscussions(DiscussionRepository):
    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def upsert_messages(self, messages: Iterable[StoredMessage]) -> WriteResult:
        rows: dict[str, _Row] = {}
        for message in messages:
            data = message.model_dump_json()
            date = utc_text(message.date) if message.date else ""
            item: Item = {
                **_message_key(message.thread_root, message.message_id),
                "mid": message.message_id,
                "root": message.thread_root,
                "date": date,
                "gsi1pk": f"M#{message.message_id}",
                "fp": fingerprint(data),
                "cnt": "messages",
                TTL_ATTRIBUTE: self._db.expires_at(message.date),
            }
            if message.author_email:
                item["gsi2pk"] = f"A#{message.author_email.lower()}"
                item["gsi2sk"] = f"{date}#{message.message_id}"
            # A Message-ID is one record: the last one given wins, as in SQLite.
            rows[message.message_id] = _Row(
                item,
                self._db.pack(item, data, f"X#M#{message.message_id}"),
                ("message", message.message_id),
            )
        given = len(rows)
        live, skipped = _live_rows(self._db, list(rows.values()))
        # Messages whose thread root changed are stored under another partition: find them
        # by Message-ID, so that they move instead of being duplicated.
        at_new_key = self._db.batch_get(
            self._db.discussions, (row.item for row in live), (), keep_expired=True
        )
        elsewhere = self._locate(
            row.item["mid"] for row in live if _key(row.item) not in at_new_key
        )
        result, deltas, written = self._db.upsert(self._db.discussions, live)
        for item in written:
            old = elsewhere.get(item["mid"])
            if old is not None and _key(old) != _key(item):
                self._delete(old, deltas)
        self._db.add_counts(deltas)
        result.unchanged += skipped + (given - len(rows))
        return result

    def _delete(self, key: Item, deltas: Counter[str]) -> None:
        response = self._db.client.delete_item(
            TableName=self._db.discussions,
            Key=wire({"pk": key["pk"], "sk": key["sk"]}),
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        if old:
            removed = plain(old)
            if removed.get("cnt"):
                deltas[removed["cnt"]] -= 1
            if removed.get("parts"):
                self._db.batch_write(self._db.discussions, [], self._db.part_keys(removed))

    def _locate(self, message_ids: Iterable[str]) -> dict[str, Item]:
        """Message-ID → its stored item (expired ones included), via ``by-message-id``."""
        found: dict[str, Item] = {}
        names = {"#p": "gsi1pk"}
        for message_id in set(message_ids):
            kwargs: dict[str, Any] = {
                "TableName": self._db.discussions,
                "IndexName": "by-message-id",
                "KeyConditionExpression": "#p = :p",
                "ExpressionAttributeNames": {
                    **names,
                    "#pk": "pk",
                    "#sk": "sk",
                    "#r": "root",
                    "#x": TTL_ATTRIBUTE,
                },
                "ExpressionAttributeValues": wire({":p": f"M#{message_id}"}),
                "ProjectionExpression": "#pk, #sk, #r, #x",
            }
            while True:
                response = self._db.client.query(**kwargs)
                for raw in response.get("Items", []):
                    found[message_id] = plain(raw)
                if not response.get("LastEvaluatedKey"):
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def thread_messages(self, thread_root: str) -> list[StoredMessage]:
        items = list(
            self._db.query(
                self._db.discussions,
                ("pk", f"T#{thread_root}"),
                sort=("sk", "begins_with(#s, :s0)", ("M#",)),
                consistent=True,
            )
        )
        items.sort(key=lambda item: (item.get("date", ""), item["mid"]))
        texts = self._db.unpack(self._db.discussions, items)
        return [StoredMessage.model_validate_json(text) for text in texts]

    def known_message_ids(self, message_ids: Iterable[str]) -> dict[str, str]:
        now = time.time()
        return {
            message_id: item["root"]
            for message_id, item in self._locate(message_ids).items()
            if not self._db.expired(item, now)
        }

    def upsert_discussions(self, discussions: Iterable[PatchDiscussion]) -> WriteResult:
        given = list(discussions)
        # A discussion lives as long as its patch.
        patch_items = self._db.batch_get(
            self._db.patches,
            ({"pk": f"PATCH#{item.patch_id}", "sk": "PATCH"} for item in given),
            (TTL_ATTRIBUTE,),
        )
        rows = []
        for discussion in given:
            data = discussion.model_dump_json()
            stable = discussion.model_dump_json(exclude={"fetched_at"})
            patch = patch_items.get((f"PATCH#{discussion.patch_id}", "PATCH"))
            expires = (
                patch.get(TTL_ATTRIBUTE) if patch else self._db.expires_at(discussion.fetched_at)
            )
            item: Item = {
                **_discussion_key(discussion.patch_id),
                "patch_id": discussion.patch_id,
                "list_name": discussion.list_name,
                "root": discussion.thread_root,
                "stale": 0,
                "counts": _review_counts(discussion),
                "fp": fingerprint(stable),
                "cnt": "discussions",
                TTL_ATTRIBUTE: expires,
            }
            if discussion.thread_root:
                item["gsi3pk"] = f"T#{discussion.thread_root}"
                item["gsi3sk"] = _pad(discussion.patch_id)
            parts = self._db.pack(item, data, f"X#D#{discussion.patch_id}")
            rows.append(_Row(item, parts, ("discussion", str(discussion.patch_id))))
        live, skipped = _live_rows(self._db, rows)
        result, deltas, _ = self._db.upsert(
            self._db.discussions,
            live,
            must_write=lambda old: bool(old.get("stale")),
        )
        self._db.add_counts(deltas)
        result.unchanged += skipped
        return result

    def _discussion_items(
        self, patch_ids: Iterable[int], projection: Sequence[str] = ()
    ) -> list[Item]:
        keys = [_discussion_key(patch_id) for patch_id in set(patch_ids)]
        return list(self._db.batch_get(self._db.discussions, keys, projection).values())

    def get_discussion(self, patch_id: int) -> PatchDiscussion | None:
        return self.get_discussions([patch_id]).get(patch_id)

    def get_discussions(self, patch_ids: Iterable[int]) -> dict[int, PatchDiscussion]:
        items = self._discussion_items(patch_ids)
        texts = self._db.unpack(self._db.discussions, items)
        found = (PatchDiscussion.model_validate_json(text) for text in texts)
        return {item.patch_id: item for item in found}

    def get_review_counts(self, patch_ids: Iterable[int]) -> dict[int, ReviewCounts]:
        # Only the small counts attribute is read, never the whole summary.
        items = self._discussion_items(patch_ids, ("patch_id", "counts", TTL_ATTRIBUTE))
        return {
            int(item["patch_id"]): ReviewCounts.model_validate_json(item["counts"])
            for item in items
        }

    def patches_without_discussion(
        self, *, projects: Sequence[str] = (), since: datetime | None = None, limit: int = 10_000
    ) -> list[int]:
        found: list[int] = []
        chosen = set(projects)
        patches = walk_patches(self._db, PatchQuery(since=since), None, page=500)
        while len(found) < limit:
            batch = []
            for item in patches:
                if not chosen or item["project"] in chosen:
                    batch.append(int(item["id"]))
                    if len(batch) == 100:
                        break
            if not batch:
                break
            stored = {
                int(item["patch_id"]): item
                for item in self._discussion_items(batch, ("patch_id", "stale", TTL_ATTRIBUTE))
            }
            for patch_id in batch:
                if patch_id not in stored or stored[patch_id].get("stale"):
                    found.append(patch_id)
        return found[:limit]

    def mark_stale(self, patch_ids: Iterable[int]) -> int:
        changed = 0
        for patch_id in sorted(set(patch_ids)):
            try:
                self._db.client.update_item(
                    TableName=self._db.discussions,
                    Key=wire(_discussion_key(patch_id)),
                    UpdateExpression="SET #stale = :one, #g4pk = :g4pk, #g4sk = :g4sk",
                    ConditionExpression="attribute_exists(#pk) AND #stale = :zero",
                    ExpressionAttributeNames={
                        "#pk": "pk",
                        "#stale": "stale",
                        "#g4pk": "gsi4pk",
                        "#g4sk": "gsi4sk",
                    },
                    ExpressionAttributeValues=wire(
                        {":one": 1, ":zero": 0, ":g4pk": "STALE", ":g4sk": _pad(patch_id)}
                    ),
                )
            except self._db.client.exceptions.ConditionalCheckFailedException:
                continue
            changed += 1
        return changed

    def recent_thread_roots(self, since: datetime) -> dict[str, str]:
        ids = [int(item["id"]) for item in walk_patches(self._db, PatchQuery(since=since), None)]
        items = self._discussion_items(ids, ("root", "list_name", TTL_ATTRIBUTE))
        return {item["root"]: item["list_name"] for item in items if item.get("root")}


class DynamoStats(StatsRepository):
    """Counts read from the one stats item the upserts keep current with ``ADD``."""

    def __init__(self, db: _Dynamo) -> None:
        self._db = db

    def counts(self) -> StoreCounts:
        counters = self._db.counters()
        return StoreCounts(
            **{name: int(counters.get(name, 0)) for name in ITEM_COUNTERS},
            patches_by_project_state=_patch_counts(counters),
        )

    def ping(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._db.client.get_item(TableName=self._db.patches, Key=wire(STATS_KEY))
        except (BotoCoreError, ClientError):
            return False
        return True


class DynamoDbStore(Store):
    """Both tables behind the repository interfaces.

    ``client`` is for tests that bring their own; by default a boto3 client is made from the
    standard configuration (``AWS_ENDPOINT_URL``, region, credentials) with standard retries.
    """

    def __init__(
        self,
        patches_table: str,
        discussions_table: str,
        *,
        retention_days: int = 0,
        client: DynamoDBClient | None = None,
        change_settle_seconds: int = 900,
    ) -> None:
        self._db = _Dynamo(
            patches_table, discussions_table, retention_days, client, change_settle_seconds
        )
        self.client = self._db.client
        self.projects = DynamoProjects(self._db)
        self.patches = DynamoPatches(self._db)
        self.series = DynamoSeries(self._db)
        self.cursors = DynamoCursors(self._db)
        self.runs = DynamoRuns(self._db)
        self.discussions = DynamoDiscussions(self._db)
        self.stats = DynamoStats(self._db)
        self.reviews = DynamoReviews(self._db)
        self.changes = DynamoChanges(self._db)

    @property
    def write_requests(self) -> int:
        """How many write requests (PutItem, UpdateItem, BatchWriteItem …) this store made."""
        return self._db.write_requests

    def close(self) -> None:
        self._db.client.close()

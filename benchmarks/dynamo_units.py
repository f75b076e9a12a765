# SPDX-License-Identifier: GPL-2.0-or-later
"""Read and write units of every DynamoDB call a process makes, as DynamoDB would bill them.

Installed on boto3's default session, so every client the handlers make is counted. Two sums:

* ``reported``: ``ConsumedCapacity`` as the server answers it (every call is sent with
  ``ReturnConsumedCapacity=TOTAL``). moto answers a constant per call (0.5 or 1), so this is
  a count of calls more than of units; it is printed for comparison only.
* ``read_units`` / ``write_units``: DynamoDB's billing rules applied to the real items on the
  server: a read costs the *whole* item's size in 4 KB steps (half for an eventually consistent
  read, a projection does not make it cheaper), a query the sum of the items it read (in the
  index's projection) in 4 KB steps; a write ``max(old, new)`` size in 1 KB steps for the table
  plus one write per index the item is in (two when its index key changes), with the index's
  projection as size; a failed condition still costs the item's write.

The old and the full items come from a mirror of the tables kept in this process, fed by the
writes the meter sees (the item a put sends, the item an update returns: ``ALL_NEW`` is asked
for and taken out of the answer again when the caller did not ask for it). Every write of the
run goes through the metered session, so the mirror is the table; a write the meter cannot
follow (an update asking for other return values) is read back with a second, uncounted
client. Metering so costs no extra call to the server (a side read per item, as before,
tripled the calls the replay made).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from lkml_assistant.repositories.dynamodb.schema import (
    DISCUSSIONS,
    PARTITION_KEY,
    SORT_KEY,
    TableSchema,
)

READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
CAPACITY = READS | WRITES | {"TransactWriteItems", "TransactGetItems"}


def _value_size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in raw)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in raw)
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it (attribute names and values, wire format)."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


@dataclass
class Meter:
    """Units and calls since the last :meth:`take`."""

    schemas: dict[str, TableSchema]
    read_units: float = 0.0
    write_units: float = 0.0
    reported: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    by_table: dict[str, float] = field(default_factory=dict)
    mirror: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    side_reads: int = 0
    seconds: Counter[str] = field(default_factory=Counter)
    """Wall seconds of each operation, request to parsed answer (where a run's time goes)."""

    def __post_init__(self) -> None:
        self.side = boto3.session.Session().client("dynamodb")
        self._lock = threading.Lock()

    # -- the hooks ---------------------------------------------------------------------------

    def install(self, session: boto3.session.Session | None = None) -> None:
        if session is None:
            boto3.setup_default_session()
            session = boto3.DEFAULT_SESSION
        assert session is not None
        events = session.events
        events.register("provide-client-params.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)
        events.register("before-call.sqs", self._sqs)

    def _sqs(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            self.calls[f"sqs.{model.name}"] += 1

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        context["lkml_started"] = time.perf_counter()
        if model.name not in CAPACITY:
            return
        params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if model.name == "UpdateItem" and params.get("ReturnValues", "NONE") == "NONE":
            params["ReturnValues"] = "ALL_NEW"
            context["lkml_strip"] = True
        context["lkml_params"] = dict(params)
        if model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            key = self._key(params["TableName"], params.get("Item") or params["Key"])
            context["lkml_old"] = self._full(params["TableName"], key)
        elif model.name == "BatchWriteItem":
            olds = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put = request.get("PutRequest")
                    key = self._key(table, put["Item"] if put else request["DeleteRequest"]["Key"])
                    olds.append(self._full(table, key))
            context["lkml_old"] = olds

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = model.name
        self.calls[f"dynamodb.{name}"] += 1
        self._timed(name, context)
        params = context.get("lkml_params")
        if params is None:
            return
        for consumed in _as_list(parsed.get("ConsumedCapacity")):
            self.reported += float(consumed.get("CapacityUnits", 0))
        failed = "Error" in parsed
        if name == "GetItem":
            self._read_keys(params["TableName"], [params["Key"]], params.get("ConsistentRead"))
        elif name == "BatchGetItem" and not failed:
            for table, request in params["RequestItems"].items():
                self._read_keys(table, request["Keys"], request.get("ConsistentRead"))
        elif name in ("Query", "Scan") and not failed:
            self._read_query(params, parsed)
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            old = context.get("lkml_old")
            if failed:
                self._charge_write(table, max(item_size(old), item_size(params.get("Item"))))
                return
            key = self._key(table, params.get("Item") or params["Key"])
            new = self._written(name, table, key, params, parsed, context)
            self._remember(table, key, new)
            self._write(table, old, new)
        elif name == "BatchWriteItem" and not failed:
            olds = iter(context.get("lkml_old") or [])
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    old = next(olds, None)
                    put = request.get("PutRequest")
                    new = put["Item"] if put else None
                    key = self._key(table, new or request["DeleteRequest"]["Key"])
                    self._remember(table, key, new)
                    self._write(table, old, new)

    def _timed(self, name: str, context: dict[str, Any]) -> None:
        started = context.get("lkml_started")
        if started is not None:
            with self._lock:
                self.seconds[name] += time.perf_counter() - started

    # -- billing rules -----------------------------------------------------------------------

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in (PARTITION_KEY, SORT_KEY) if k in item}

    @staticmethod
    def _mirror_key(table: str, key: dict[str, Any]) -> tuple[str, ...]:
        return (
            table,
            *(str(next(iter(key[k].values()))) for k in (PARTITION_KEY, SORT_KEY) if k in key),
        )

    def _full(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The stored item, from the mirror (what every metered write left there)."""
        with self._lock:
            return self.mirror.get(self._mirror_key(table, key))

    def _remember(self, table: str, key: dict[str, Any], item: dict[str, Any] | None) -> None:
        with self._lock:
            if item is None:
                self.mirror.pop(self._mirror_key(table, key), None)
            else:
                self.mirror[self._mirror_key(table, key)] = item

    def _written(
        self,
        name: str,
        table: str,
        key: dict[str, Any],
        params: dict[str, Any],
        parsed: dict[str, Any],
        context: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The item a successful write left on the server."""
        if name == "DeleteItem":
            return None
        if name == "PutItem":
            item: dict[str, Any] = params["Item"]
            return item
        if params.get("ReturnValues") == "ALL_NEW":
            new: dict[str, Any] | None = (
                parsed.pop("Attributes", None)
                if context.get("lkml_strip")
                else parsed.get("Attributes")
            )
            return new
        self.side_reads += 1
        answer = self.side.get_item(TableName=table, Key=key, ConsistentRead=True)
        read: dict[str, Any] | None = answer.get("Item")
        return read

    def _schema(self, table: str) -> TableSchema:
        return self.schemas.get(table, DISCUSSIONS)

    def _read_keys(self, table: str, keys: list[dict[str, Any]], consistent: Any) -> None:
        factor = 1.0 if consistent else 0.5
        for key in keys:
            size = item_size(self._full(table, key))
            units = max(1.0, math.ceil(size / 4096)) * factor
            self.read_units += units
            self.by_table[f"{table} read"] = self.by_table.get(f"{table} read", 0.0) + units

    def _read_query(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        table = params["TableName"]
        index_name = params.get("IndexName")
        index = next((i for i in self._schema(table).indexes if i.name == index_name), None)
        total = 0.0
        for item in parsed.get("Items", []):
            full = self._full(table, self._key(table, item)) or item
            total += item_size(_projected(full, index) if index else full)
        consistent = params.get("ConsistentRead") and not index_name
        units = max(1.0, math.ceil(total / 4096)) * (1.0 if consistent else 0.5)
        self.read_units += units
        self.by_table[f"{table} read"] = self.by_table.get(f"{table} read", 0.0) + units

    def _charge_write(self, table: str, size: int) -> None:
        units = float(max(1, math.ceil(size / 1024)))
        self.write_units += units
        self.by_table[f"{table} write"] = self.by_table.get(f"{table} write", 0.0) + units

    def _write(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self._charge_write(table, max(item_size(old), item_size(new)))
        for index in self._schema(table).indexes:
            keys = [index.partition_key, *([index.sort_key] if index.sort_key else [])]
            had = bool(old) and all(k in old for k in keys)  # type: ignore[operator]
            has = bool(new) and all(k in new for k in keys)  # type: ignore[operator]
            old_part = _projected(old, index) if had and old else None
            new_part = _projected(new, index) if has and new else None
            if had and has and all(old[k] == new[k] for k in keys):  # type: ignore[index]
                if old_part != new_part:
                    self._charge_write(table, max(item_size(old_part), item_size(new_part)))
                continue
            if had:
                self._charge_write(table, item_size(old_part))
            if has:
                self._charge_write(table, item_size(new_part))

    def take(self) -> dict[str, Any]:
        out = {
            "read_units": round(self.read_units, 1),
            "write_units": round(self.write_units, 1),
            "reported_units": round(self.reported, 1),
            "calls": dict(sorted(self.calls.items())),
            "by_table": {k: round(v, 1) for k, v in sorted(self.by_table.items())},
        }
        self.read_units = self.write_units = self.reported = 0.0
        self.calls.clear()
        self.by_table.clear()
        return out


def _projected(item: dict[str, Any], index: Any) -> dict[str, Any]:
    """The part of ``item`` an index holds: everything (ALL), or its keys and included names."""
    projection = getattr(index, "projection", "ALL")
    if projection == "ALL":
        return item
    keep = {PARTITION_KEY, SORT_KEY, index.partition_key}
    if index.sort_key:
        keep.add(index.sort_key)
    keep.update(getattr(index, "include", ()) or ())
    return {k: v for k, v in item.items() if k in keep}


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def stored_bytes(meter: Meter) -> int:
    """What the tables hold as DynamoDB bills storage: each item's size plus 100 bytes, and the
    same for its copy in every index it is in (in the index's projection)."""
    total = 0
    for (table, *_), item in list(meter.mirror.items()):
        total += item_size(item) + 100
        for index in meter._schema(table).indexes:
            keys = [index.partition_key, *([index.sort_key] if index.sort_key else [])]
            if all(k in item for k in keys):
                total += item_size(_projected(item, index)) + 100
    return total

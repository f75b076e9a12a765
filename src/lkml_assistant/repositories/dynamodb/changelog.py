# SPDX-License-Identifier: GPL-2.0-or-later
"""The DynamoDB change log's format: change items, their hour partitions and cursors.

A change is ``CHANGES#<UTC hour>``/``<UTC stamp, µs>#<16 hex random>`` with ``kind`` and
``key``; the hours that hold changes are listed under ``CHANGEHOURS``. A cursor is the sort key
of the last change read, base64-encoded behind a ``chg1:`` tag.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lkml_assistant.repositories.dynamodb.attributes import Item, wire
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import Clock, utc_text

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Change items are kept this long; a cursor older than that has lost changes.
CHANGE_RETENTION_SECONDS = 35 * 86_400
CHANGE_HOURS_PK = "CHANGEHOURS"
CURSOR_PREFIX = "chg1:"
_CHANGE_SK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z(#[0-9a-f]{16})?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChangeLog:
    """Makes change items: stamped by ``clock``, strictly increasing within this process."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._lock = threading.Lock()
        self._last_stamp = 0
        self._hours: set[str] = set()

    def stamp(self) -> str:
        """Now as fixed-width UTC text, later than every stamp this process made before."""
        now = self._clock() - _EPOCH
        with self._lock:
            micros = max(now // timedelta(microseconds=1), self._last_stamp + 1)
            self._last_stamp = micros
        return utc_text(_EPOCH + timedelta(microseconds=micros))

    def item(self, kind: str, key: str) -> Item:
        """A change item, stamped now, in the partition of its hour (whose marker is written
        first, once per hour and process, so a kill leaves at worst an empty hour)."""
        stamp = self.stamp()
        hour = stamp[:13]
        expires = int(self._clock().timestamp()) + CHANGE_RETENTION_SECONDS
        if hour not in self._hours:
            self._client.put_item(
                TableName=self._table,
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


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode((CURSOR_PREFIX + sk).encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor of this store stands for; ValueError for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}") from None
    sk = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or (sk and not _CHANGE_SK.fullmatch(sk)):
        raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}")
    return sk

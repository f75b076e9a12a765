# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading the DynamoDB change log: what changed after a cursor, once settled."""

from __future__ import annotations

from datetime import timedelta

from lkml_assistant.models.records import Change, ChangePage
from lkml_assistant.repositories.base import ChangeRepository
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.changelog import (
    CHANGE_HOURS_PK,
    CHANGE_RETENTION_SECONDS,
    decode_cursor,
    encode_cursor,
)
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.encoding import utc_from_text, utc_text


class DynamoChanges(ChangeRepository):
    """The change log: ``CHANGES#<hour>``/``<stamp>#<random>`` items, hours listed under
    ``CHANGEHOURS``. A change is not in one transaction with its record: the upsert puts it
    just *before* the record's conditional put (:meth:`Dynamo.put_with_change`), so a kill
    between the two leaves at worst a change whose record did not change, never a changed
    record without its change. A cursor is the sort key of the last change read,
    base64-encoded; only changes older than the settle window are read, so a concurrent
    writer can no longer put a change before a cursor already handed out.
    """

    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def _horizon(self) -> str:
        """Every change stamped before this is committed (or never will be)."""
        return utc_text(self._db.clock() - timedelta(seconds=self._db.change_settle_seconds))

    def changes_since(self, cursor: str | None, *, limit: int = 500) -> ChangePage:
        after = decode_cursor(cursor) if cursor is not None else ""
        oldest = utc_text(self._db.clock() - timedelta(seconds=CHANGE_RETENTION_SECONDS))
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
                changed_at=utc_from_text(str(item["sk"]).partition("#")[0]),
                cursor=encode_cursor(str(item["sk"])),
            )
            for item in found[:limit]
        )
        if changes:
            return ChangePage(changes=changes, cursor=changes[-1].cursor, more=more)
        return ChangePage(changes=(), cursor=encode_cursor(after), more=False)

    def latest_cursor(self) -> str:
        # The settle horizon: every change before it is committed and is behind this cursor;
        # every later one will be read after it.
        return encode_cursor(self._horizon())

# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the last sync of each Patchwork project and lore list stopped, in DynamoDB."""

from __future__ import annotations

from typing import Any

from lkml_assistant.models.records import LoreCursor, SyncCursor
from lkml_assistant.repositories.base import CursorMovedError, CursorRepository
from lkml_assistant.repositories.dynamodb.attributes import wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import cursor_key
from lkml_assistant.repositories.dynamodb.schema import PARTITION_KEY
from lkml_assistant.repositories.encoding import utc_text


class DynamoCursors(CursorRepository):
    """Cursors never expire; saving an unchanged cursor writes nothing."""

    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def _get(self, sk: str) -> str | None:
        item = self._db.get(self._db.patches, cursor_key(sk))
        return str(item["data"]) if item else None

    def _save(self, sk: str, data: str) -> None:
        if self._get(sk) == data:
            return
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire({**cursor_key(sk), "data": data, "updated_at": utc_text(self._db.clock())}),
        )

    def get_cursor(self, project: str) -> SyncCursor | None:
        data = self._get(f"patchwork#{project}")
        return SyncCursor.model_validate_json(data) if data else None

    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        self._save(f"patchwork#{project}", cursor.model_dump_json())

    def replace_cursor(
        self, project: str, cursor: SyncCursor, *, expected: SyncCursor | None
    ) -> None:
        sk = f"patchwork#{project}"
        raw = self._get(sk)
        stored = SyncCursor.model_validate_json(raw) if raw else None
        if stored != expected:
            raise CursorMovedError(project)
        if stored == cursor:
            return
        # The condition is on the text read just now, so a save by another run in between
        # (whatever it wrote) fails this one: compare and set, in DynamoDB's one conditional put.
        if raw is None:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            }
        else:
            condition = {
                "ConditionExpression": "#data = :read",
                "ExpressionAttributeNames": {"#data": "data"},
                "ExpressionAttributeValues": {":read": {"S": raw}},
            }
        item = {**cursor_key(sk), "data": cursor.model_dump_json()}
        try:
            self._db.client.put_item(
                TableName=self._db.patches,
                Item=wire({**item, "updated_at": utc_text(self._db.clock())}),
                **condition,
            )
        except self._db.client.exceptions.ConditionalCheckFailedException:
            raise CursorMovedError(project) from None

    def get_lore_cursor(self, list_name: str) -> LoreCursor | None:
        data = self._get(f"lore#{list_name}")
        return LoreCursor.model_validate_json(data) if data else None

    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None:
        self._save(f"lore#{list_name}", cursor.model_dump_json())

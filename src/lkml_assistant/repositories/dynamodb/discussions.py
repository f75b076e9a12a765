# SPDX-License-Identifier: GPL-2.0-or-later
"""Mail and review discussions in DynamoDB: the discussions table.

A message is ``T#<thread root>``/``M#<msgid>`` (one item per Message-ID, a thread's messages in
one partition); a patch's discussion is ``D#<patch id>``/``D``, with its review counts beside it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from lkml_assistant.models.records import (
    PatchDiscussion,
    ReviewCounts,
    StoredMessage,
    WriteResult,
)
from lkml_assistant.repositories.base import DiscussionRepository, PatchQuery, ThreadPatch
from lkml_assistant.repositories.dynamodb.attributes import Item, item_key, plain, wire
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row
from lkml_assistant.repositories.dynamodb.keys import (
    discussion_key,
    message_key,
    patch_key,
)
from lkml_assistant.repositories.dynamodb.pages import walk_patches
from lkml_assistant.repositories.dynamodb.patches import needs_marker
from lkml_assistant.repositories.dynamodb.payload import pack, part_keys
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import (
    encode,
    encode_discussion,
    review_counts,
    utc_from_text,
    utc_text,
)


class DynamoDiscussions(DiscussionRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def upsert_messages(self, messages: Iterable[StoredMessage]) -> WriteResult:
        rows: dict[str, Row] = {}
        for message in messages:
            record = encode(message)
            date = utc_text(message.date) if message.date else ""
            item: Item = {
                **message_key(message.thread_root, message.message_id),
                "mid": message.message_id,
                "root": message.thread_root,
                "date": date,
                "gsi1pk": f"M#{message.message_id}",
                "fp": record.fingerprint,
                "cnt": "messages",
                TTL_ATTRIBUTE: self._db.expires_at(message.date),
            }
            # A Message-ID is one record: the last one given wins, as in SQLite.
            rows[message.message_id] = Row(
                item,
                pack(item, record.data, f"X#M#{message.message_id}"),
                ("message", message.message_id),
            )
        given = len(rows)
        live, skipped = self._db.live(list(rows.values()))
        # Messages whose thread root changed are stored under another partition: find them
        # by Message-ID, so that they move instead of being duplicated.
        at_new_key = self._db.batch_get(
            self._db.discussions, (row.item for row in live), (TTL_ATTRIBUTE,), keep_expired=True
        )
        elsewhere = self._locate(
            row.item["mid"] for row in live if item_key(row.item) not in at_new_key
        )
        result, deltas, written = self._db.upsert(self._db.discussions, live)
        for item in written:
            old = elsewhere.get(item["mid"])
            if old is not None and item_key(old) != item_key(item):
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
                self._db.batch_write(self._db.discussions, [], part_keys(removed))

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
        now = self._db.clock().timestamp()
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
            (patch_key(item.patch_id) for item in given),
            ("id", "project", "dk", TTL_ATTRIBUTE),
        )
        rows = []
        for discussion in given:
            record = encode_discussion(discussion)
            patch = patch_items.get(item_key(patch_key(discussion.patch_id)))
            expires = (
                patch.get(TTL_ATTRIBUTE) if patch else self._db.expires_at(discussion.fetched_at)
            )
            item: Item = {
                **discussion_key(discussion.patch_id),
                "patch_id": discussion.patch_id,
                "list_name": discussion.list_name,
                "root": discussion.thread_root,
                "stale": 0,
                "counts": review_counts(discussion).model_dump_json(),
                "fp": record.fingerprint,
                "cnt": "discussions",
                TTL_ATTRIBUTE: expires,
            }
            parts = pack(item, record.data, f"X#D#{discussion.patch_id}")
            rows.append(Row(item, parts, ("discussion", str(discussion.patch_id))))
        live, skipped = self._db.live(rows)
        result, deltas, written = self._db.upsert(
            self._db.discussions,
            live,
            must_write=lambda old: bool(old.get("stale")),
        )
        self._db.add_counts(deltas)
        # The patches' "needs its thread" markers go: a write is a new or refreshed discussion.
        by_id = {int(item["id"]): item for item in patch_items.values() if "dk" in item}
        wrote = {int(item["patch_id"]) for item in written}
        done = [needs_marker(by_id[pid]) for pid in sorted(wrote & set(by_id))]
        if done:
            self._db.batch_write(self._db.discussions, [], done)
        result.unchanged += skipped
        return result

    def _discussion_items(
        self, patch_ids: Iterable[int], projection: Sequence[str] = ()
    ) -> list[Item]:
        keys = [discussion_key(patch_id) for patch_id in set(patch_ids)]
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
        """From the "needs its thread" markers (one partition per project, by date): with
        nothing new a project costs one empty query. A marker whose discussion is stored and
        fresh (a kill between the two writes) is dropped here."""
        chosen = list(projects) or sorted({p for p, _ in self._db.patch_counts()})
        lower = utc_text(since) if since else None
        markers: list[Item] = []
        for project in chosen:
            sort = ("sk", "#s >= :s0", (lower,)) if lower else None
            found = self._db.query(
                self._db.discussions,
                ("pk", f"NEED#{project}"),
                sort=sort,
                forward=False,
                page=min(limit, 1000),
            )
            markers.extend(itertools.islice(found, limit))
        markers.sort(key=lambda item: str(item["sk"]), reverse=True)
        markers = markers[:limit]
        ids = [int(item["patch_id"]) for item in markers]
        stored = {
            int(item["patch_id"]): item
            for item in self._discussion_items(ids, ("patch_id", "stale", TTL_ATTRIBUTE))
        }
        settled = [m for m in markers if int(m["patch_id"]) in stored]
        settled = [m for m in settled if not stored[int(m["patch_id"])].get("stale")]
        if settled:
            self._db.batch_write(self._db.discussions, [], settled)
        done = {int(m["patch_id"]) for m in settled}
        return [pid for pid in ids if pid not in done]

    def _markers(self, patch_ids: Iterable[int]) -> list[Item]:
        """The markers of stored patches (their project and date key read from them)."""
        keys = [patch_key(patch_id) for patch_id in set(patch_ids)]
        items = self._db.batch_get(self._db.patches, keys, ("id", "project", "dk", TTL_ATTRIBUTE))
        return [needs_marker(item) for item in items.values()]

    def mark_stale(self, patch_ids: Iterable[int]) -> int:
        changed = 0
        stale: list[int] = []
        for patch_id in sorted(set(patch_ids)):
            try:
                self._db.client.update_item(
                    TableName=self._db.discussions,
                    Key=wire(discussion_key(patch_id)),
                    UpdateExpression="SET #stale = :one",
                    ConditionExpression="attribute_exists(#pk) AND #stale = :zero",
                    ExpressionAttributeNames={
                        "#pk": "pk",
                        "#stale": "stale",
                    },
                    ExpressionAttributeValues=wire({":one": 1, ":zero": 0}),
                )
            except self._db.client.exceptions.ConditionalCheckFailedException:
                continue
            changed += 1
            stale.append(patch_id)
        if stale:
            self._db.batch_write(self._db.discussions, self._markers(stale), [])
        return changed

    def recent_thread_roots(self, since: datetime) -> dict[str, str]:
        ids = [int(item["id"]) for item in walk_patches(self._db, PatchQuery(since=since), None)]
        items = self._discussion_items(ids, ("root", "list_name", TTL_ATTRIBUTE))
        return {item["root"]: item["list_name"] for item in items if item.get("root")}

    def recent_thread_patches(self, since: datetime) -> list[ThreadPatch]:
        # The patch index items carry the date; of a discussion only its small counts are read.
        dates = {
            int(item["id"]): utc_from_text(str(item["dk"]).split("#", 1)[0])
            for item in walk_patches(self._db, PatchQuery(since=since), None)
        }
        items = self._discussion_items(
            dates, ("patch_id", "root", "list_name", "counts", TTL_ATTRIBUTE)
        )
        found = [
            ThreadPatch(
                thread_root=item["root"],
                list_name=item["list_name"],
                patch_id=int(item["patch_id"]),
                patch_date=dates[int(item["patch_id"])],
                last_activity=ReviewCounts.model_validate_json(item["counts"]).last_activity,
            )
            for item in items
            if item.get("root") and int(item["patch_id"]) in dates
        ]
        return sorted(found, key=lambda patch: patch.patch_id)

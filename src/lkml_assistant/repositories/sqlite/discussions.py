# SPDX-License-Identifier: GPL-2.0-or-later
"""Mail and review discussions in SQLite: ``messages`` (one row per Message-ID) and
``discussions`` (one patch's review summary, with its review counts beside it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from lkml_assistant.models.records import (
    PatchDiscussion,
    ReviewCounts,
    StoredMessage,
    WriteResult,
)
from lkml_assistant.repositories.base import DiscussionRepository, ThreadPatch
from lkml_assistant.repositories.encoding import (
    encode,
    encode_discussion,
    review_counts,
    utc_from_text,
    utc_text,
)
from lkml_assistant.repositories.sqlite.db import IN_BATCH, Db


class SqliteDiscussions(DiscussionRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_messages(self, messages: Iterable[StoredMessage]) -> WriteResult:
        now = self._db.now()
        rows = []
        for message in messages:
            record = encode(message)
            rows.append(
                (
                    message.message_id,
                    message.list_name,
                    message.thread_root,
                    message.parent_id,
                    message.author_email,
                    utc_text(message.date) if message.date else None,
                    record.data,
                    record.fingerprint,
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO messages (message_id, list_name, thread_root, parent_id, author_email,
                                     date, data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (message_id) DO UPDATE SET
                   list_name = excluded.list_name, thread_root = excluded.thread_root,
                   parent_id = excluded.parent_id, author_email = excluded.author_email,
                   date = excluded.date, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE messages.fingerprint != excluded.fingerprint""",
            rows,
        )

    def thread_messages(self, thread_root: str) -> list[StoredMessage]:
        rows = self._db.query(
            "SELECT data FROM messages WHERE thread_root = ? ORDER BY date, message_id",
            (thread_root,),
        )
        return [StoredMessage.model_validate_json(row[0]) for row in rows]

    def known_message_ids(self, message_ids: Iterable[str]) -> dict[str, str]:
        rows = self._db.query_in(
            "SELECT message_id, thread_root FROM messages WHERE message_id IN ({marks})",
            message_ids,
        )
        return {row[0]: row[1] for row in rows}

    def upsert_discussions(self, discussions: Iterable[PatchDiscussion]) -> WriteResult:
        now = self._db.now()
        rows = []
        for item in discussions:
            record = encode_discussion(item)
            rows.append(
                (
                    item.patch_id,
                    item.message_id,
                    item.list_name,
                    item.thread_root,
                    utc_text(item.fetched_at),
                    record.data,
                    review_counts(item).model_dump_json(),
                    record.fingerprint,
                    now,
                )
            )
        # A stale discussion is rewritten even when identical: that clears the mark.
        return self._db.upsert(
            """INSERT INTO discussions (patch_id, message_id, list_name, thread_root, stale,
                                        fetched_at, data, counts, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
               ON CONFLICT (patch_id) DO UPDATE SET
                   message_id = excluded.message_id, list_name = excluded.list_name,
                   thread_root = excluded.thread_root, stale = 0,
                   fetched_at = excluded.fetched_at, data = excluded.data,
                   counts = excluded.counts, fingerprint = excluded.fingerprint,
                   updated_at = excluded.updated_at
               WHERE discussions.fingerprint != excluded.fingerprint OR discussions.stale = 1""",
            rows,
        )

    def get_discussion(self, patch_id: int) -> PatchDiscussion | None:
        rows = self._db.query("SELECT data FROM discussions WHERE patch_id = ?", (patch_id,))
        return PatchDiscussion.model_validate_json(rows[0][0]) if rows else None

    def get_discussions(self, patch_ids: Iterable[int]) -> dict[int, PatchDiscussion]:
        rows = self._db.query_in(
            "SELECT data FROM discussions WHERE patch_id IN ({marks})", patch_ids
        )
        items = (PatchDiscussion.model_validate_json(row[0]) for row in rows)
        return {item.patch_id: item for item in items}

    def get_review_counts(self, patch_ids: Iterable[int]) -> dict[int, ReviewCounts]:
        # Only the small counts column is read, never the whole summary.
        rows = self._db.query_in(
            "SELECT patch_id, counts FROM discussions WHERE patch_id IN ({marks})", patch_ids
        )
        return {int(row[0]): ReviewCounts.model_validate_json(row[1]) for row in rows}

    def patches_without_discussion(
        self, *, projects: Sequence[str] = (), since: datetime | None = None, limit: int = 10_000
    ) -> list[int]:
        where = ["(d.patch_id IS NULL OR d.stale = 1)"]
        params: list[Any] = []
        if projects:
            where.append(f"p.project IN ({','.join('?' * len(projects))})")
            params.extend(projects)
        if since is not None:
            where.append("p.date >= ?")
            params.append(utc_text(since))
        rows = self._db.query(
            f"""SELECT p.id FROM patches AS p LEFT JOIN discussions AS d ON d.patch_id = p.id
                WHERE {" AND ".join(where)} ORDER BY p.date DESC, p.id DESC LIMIT ?""",  # noqa: S608 - fixed fragments, values bound
            [*params, limit],
        )
        return [int(row[0]) for row in rows]

    def mark_stale(self, patch_ids: Iterable[int]) -> int:
        ids = sorted(set(patch_ids))
        changed = 0
        for start in range(0, len(ids), IN_BATCH):
            chunk = ids[start : start + IN_BATCH]
            marks = ",".join("?" * len(chunk))
            with self._db.transaction() as conn:
                cursor = conn.execute(
                    f"UPDATE discussions SET stale = 1 WHERE stale = 0 AND patch_id IN ({marks})",  # noqa: S608 - placeholders only
                    chunk,
                )
                changed += cursor.rowcount
        return changed

    def recent_thread_roots(self, since: datetime) -> dict[str, str]:
        rows = self._db.query(
            """SELECT DISTINCT d.thread_root, d.list_name FROM discussions AS d
               JOIN patches AS p ON p.id = d.patch_id
               WHERE d.thread_root IS NOT NULL AND p.date >= ?""",
            (utc_text(since),),
        )
        return {row[0]: row[1] for row in rows}

    def recent_thread_patches(self, since: datetime) -> list[ThreadPatch]:
        rows = self._db.query(
            """SELECT d.thread_root, d.list_name, p.id, p.date, d.counts FROM discussions AS d
               JOIN patches AS p ON p.id = d.patch_id
               WHERE d.thread_root IS NOT NULL AND p.date >= ? ORDER BY p.id""",
            (utc_text(since),),
        )
        return [
            ThreadPatch(
                thread_root=row[0],
                list_name=row[1],
                patch_id=int(row[2]),
                patch_date=utc_from_text(row[3]),
                last_activity=ReviewCounts.model_validate_json(row[4]).last_activity,
            )
            for row in rows
        ]

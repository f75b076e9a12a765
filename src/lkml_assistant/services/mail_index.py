# SPDX-License-Identifier: GPL-2.0-or-later
"""Stored mail by Message-ID, reading each thread once (review-intel, range-diffs)."""

from __future__ import annotations

from lkml_assistant.models.records import PatchDiscussion, StoredMessage
from lkml_assistant.repositories.base import Store


class MailIndex:
    """Stored mail by Message-ID, reading each thread once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, StoredMessage] = {}
        self.roots_read: set[str] = set()

    def _load(self, root: str) -> None:
        if root in self.roots_read:
            return
        self.roots_read.add(root)
        for message in self.store.discussions.thread_messages(root):
            self.by_id[message.message_id] = message

    def message(self, msgid: str) -> StoredMessage | None:
        if msgid not in self.by_id:
            root = self.store.discussions.known_message_ids([msgid]).get(msgid)
            if root:
                self._load(root)
        return self.by_id.get(msgid)

    def body(self, msgid: str, discussion: PatchDiscussion | None) -> str:
        if msgid not in self.by_id and discussion is not None and discussion.thread_root:
            self._load(discussion.thread_root)
        found = self.by_id.get(msgid)
        return found.body if found is not None else ""

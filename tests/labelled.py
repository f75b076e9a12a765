# SPDX-License-Identifier: GPL-2.0-or-later
"""The labelled samples (tests/data/labels/*.json) and the corpus mail they point at.

Each label names a corpus file (relative to ``mbox/linux-mailinglist-archives/``), a
Message-ID, a line of the message's decoded body (0-based) and its text, a label given by a
person who read the mail, and the reason. Messages are found by their raw bytes and only
those are parsed, so a test reads a few messages out of a large slice quickly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from lkml_assistant.intel.threads import build_threads
from lkml_assistant.models.discussion import MailMessage, Thread
from lkml_assistant.sources.mail import parse_message
from tests.corpus import corpus_path, mbox_messages
from tests.shared_data import REPO_ROOT

LABELS = REPO_ROOT / "tests" / "data" / "labels"


@dataclass(frozen=True)
class Label:
    source: str
    msgid: str
    line: int
    text: str
    label: bool
    reason: str


def load_labels(name: str) -> list[Label]:
    rows = json.loads((LABELS / name).read_text(encoding="utf-8"))
    return [Label(**row) for row in rows]


def _raw(source: str) -> tuple[bytes, ...]:
    return mbox_messages(corpus_path("mbox", "linux-mailinglist-archives", source))


@cache
def messages_naming(source: str, message_id: str) -> tuple[MailMessage, ...]:
    """The messages of ``source`` whose raw text names ``message_id`` (itself, its replies)."""
    needle = f"<{message_id}>".encode()
    return tuple(parse_message(raw) for raw in _raw(source) if needle in raw)


def corpus_message(source: str, message_id: str) -> MailMessage:
    for message in messages_naming(source, message_id):
        if message.message_id == message_id:
            return message
    raise KeyError(f"{message_id} is not in {source}")


def labelled_message(label: Label) -> MailMessage:
    """The message a label points at, checked: its line still reads as labelled."""
    message = corpus_message(label.source, label.msgid)
    line = message.body.split("\n")[label.line].strip()
    if line != label.text:
        raise ValueError(f"{label.msgid} line {label.line} reads {line!r}, not {label.text!r}")
    return message


def corpus_thread(source: str, root: str, *also: str) -> Thread:
    """The conversation of ``root`` in ``source``: every message naming it (or one of
    ``also``: replies whose References skip the root), threaded."""
    found: dict[str, MailMessage] = {}
    for anchor in (root, *also):
        for message in messages_naming(source, anchor):
            found.setdefault(message.message_id, message)
    threads = build_threads(found.values())
    return next(thread for thread in threads if root in thread.messages)

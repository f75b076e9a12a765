# SPDX-License-Identifier: GPL-2.0-or-later
"""Threads from parsed mail: duplicates dropped, messages linked into trees (pure, no I/O).

Threading follows the headers only (In-Reply-To, then References), never subjects: a
message whose parent never reached the list hangs from the root as an orphan, and
:mod:`lkml_assistant.intel.reviews` may place it under the patch its subject names.
:func:`conversation` keeps, out of a public-inbox thread download, the messages of the
conversation that was asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime

from lkml_assistant.models.discussion import (
    DroppedMessage,
    MailMessage,
    ParentLink,
    Thread,
    ThreadNode,
)

log = logging.getLogger(__name__)

_LATEST = datetime.max.replace(tzinfo=UTC)


def _age_key(message: MailMessage) -> tuple[bool, datetime, str]:
    return (message.date is None, message.date or _LATEST, message.message_id)


def _same_content(first: MailMessage, second: MailMessage) -> bool:
    return (first.subject, first.author_email.casefold(), first.body) == (
        second.subject,
        second.author_email.casefold(),
        second.body,
    )


def dedupe_messages(
    messages: Iterable[MailMessage],
) -> tuple[dict[str, MailMessage], list[DroppedMessage]]:
    """Keep the first message seen for each Message-ID; say why each later one was dropped."""
    unique: dict[str, MailMessage] = {}
    dropped: list[DroppedMessage] = []
    for message in messages:
        kept = unique.get(message.message_id)
        if kept is None:
            unique[message.message_id] = message
            continue
        if _same_content(kept, message):
            reason = "another copy of a message already seen"
            log.debug("dropping a second copy of %s", message.message_id)
        else:
            # A RESEND reusing the original Message-ID, or spam: the first one is the real one.
            reason = "Message-ID reused for different content; the first message seen is kept"
            log.info(
                "Message-ID %s reused for different content: kept the first", message.message_id
            )
        dropped.append(DroppedMessage(message_id=message.message_id, reason=reason))
    return unique, dropped


def _header_parent(message: MailMessage, present: Collection[str]) -> tuple[str, ParentLink] | None:
    irt = message.in_reply_to
    if irt is not None and irt in present and irt != message.message_id:
        # In-Reply-To names the parent itself; References is normally the parent's chain plus
        # the parent, but some senders list it out of order (b4's fixtures have one).
        return irt, ParentLink.IN_REPLY_TO
    for reference in reversed(message.references):
        if reference in present and reference != message.message_id:
            return reference, ParentLink.REFERENCES
    return None


def _answers_something(message: MailMessage) -> bool:
    return bool(message.references) or message.in_reply_to is not None


def _break_cycles(
    parents: dict[str, tuple[str | None, ParentLink]], unique: dict[str, MailMessage]
) -> None:
    """Forged or looping References can form cycles; cut each at its oldest message."""
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current not in done and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parents[current][0]
        if current is not None and current in on_path:
            cycle = path[path.index(current) :]
            oldest = min(cycle, key=lambda mid: _age_key(unique[mid]))
            log.info("reference cycle through %d messages cut at %s", len(cycle), oldest)
            parents[oldest] = (None, ParentLink.ORPHAN)
        done.update(path)


def _thread_from_unique(unique: dict[str, MailMessage], dropped: list[DroppedMessage]) -> Thread:
    if not unique:
        raise ValueError("no messages to thread")
    parents: dict[str, tuple[str | None, ParentLink]] = {}
    for message_id, message in unique.items():
        found = _header_parent(message, unique)
        if found is None:
            link = ParentLink.ORPHAN if _answers_something(message) else ParentLink.UNRELATED
            parents[message_id] = (None, link)
        else:
            parents[message_id] = found
    _break_cycles(parents, unique)

    parentless = [mid for mid, (parent, _) in parents.items() if parent is None]
    # A message that answers nothing is a better root than an orphan reply, whatever its date.
    root_id = min(
        parentless,
        key=lambda mid: (_answers_something(unique[mid]), *_age_key(unique[mid])),
    )
    for message_id in parentless:
        if message_id == root_id:
            parents[message_id] = (None, ParentLink.ROOT)
        else:
            parents[message_id] = (root_id, parents[message_id][1])

    children: dict[str, list[str]] = {message_id: [] for message_id in unique}
    for message_id, (parent, _) in parents.items():
        if parent is not None:
            children[parent].append(message_id)
    depth = {root_id: 0}
    queue = [root_id]
    for current in queue:  # breadth first; the list grows while it is walked
        for child in children[current]:
            depth[child] = depth[current] + 1
            queue.append(child)
    nodes = {
        message_id: ThreadNode(
            message_id=message_id,
            parent_id=parent,
            link=link,
            children=tuple(children[message_id]),
            depth=depth[message_id],
        )
        for message_id, (parent, link) in parents.items()
    }
    return Thread(root_id=root_id, nodes=nodes, messages=unique, dropped=tuple(dropped))


def build_thread(messages: Iterable[MailMessage]) -> Thread:
    """Link messages into one tree.

    The parent is In-Reply-To if that message is in the set, else the last References entry
    present in the set (the nearest known ancestor).
    A message answering something missing (an orphan) or answering nothing (another thread
    start) is attached to the root; the root is the oldest message that answers nothing (by
    date, then Message-ID), or the oldest orphan if all answer something. Duplicated
    Message-IDs keep the first message seen, the others are listed in ``Thread.dropped``.
    """
    unique, dropped = dedupe_messages(messages)
    return _thread_from_unique(unique, dropped)


def _linked(unique: dict[str, MailMessage]) -> Callable[[str], str]:
    """Union-find over References and In-Reply-To (missing messages included): the returned
    function names one leader per conversation."""
    leader: dict[str, str] = {}

    def find(message_id: str) -> str:
        root = message_id
        while leader.get(root, root) != root:
            root = leader[root]
        while message_id != root:  # path compression
            leader[message_id], message_id = root, leader[message_id]
        return root

    for message_id, message in unique.items():
        linked = list(message.references)
        if message.in_reply_to is not None:
            linked.append(message.in_reply_to)
        for other in linked:
            first, second = find(message_id), find(other)
            if first != second:
                leader[second] = first
    return find


def build_threads(messages: Iterable[MailMessage]) -> list[Thread]:
    """Split messages into conversations, then thread each one (oldest root first).

    Two messages are in one conversation if they are linked by References or In-Reply-To,
    also through a message that is missing from the set (JWZ's "empty container").
    """
    unique, dropped = dedupe_messages(messages)
    find = _linked(unique)
    groups: dict[str, dict[str, MailMessage]] = {}
    for message_id, message in unique.items():
        groups.setdefault(find(message_id), {})[message_id] = message
    dropped_by_group: dict[str, list[DroppedMessage]] = {}
    for entry in dropped:
        dropped_by_group.setdefault(find(entry.message_id), []).append(entry)
    threads = [
        _thread_from_unique(group, dropped_by_group.get(key, [])) for key, group in groups.items()
    ]
    threads.sort(key=lambda thread: _age_key(thread.messages[thread.root_id]))
    return threads


def conversation(messages: list[MailMessage], anchor: str) -> list[MailMessage]:
    """The messages of ``anchor``'s conversation, out of a public-inbox thread download.

    public-inbox also joins independent postings that share a subject (a maintainer's weekly
    "netfilter: updates for net" pull requests), and which of them a download holds depends
    on the message asked for: the cover of one brings the other's cover, a patch of it does
    not. Kept: what References/In-Reply-To link to ``anchor`` (also through a missing
    message), and replies whose parents are all missing (orphans). Left out: the other thread
    starts and what answers them. So each message lands in the same thread, under the same
    root, whichever of the thread's messages is asked for. When ``anchor`` is not in the
    download, every message is kept.
    """
    unique: dict[str, MailMessage] = {}
    for message in messages:
        unique.setdefault(message.message_id, message)
    if anchor not in unique:
        return messages
    find = _linked(unique)
    mine = find(anchor)
    # Conversations that start somewhere in the download (a message answering nothing).
    started = {find(mid) for mid, message in unique.items() if not _answers_something(message)}
    kept = [m for m in messages if (group := find(m.message_id)) == mine or group not in started]
    return kept if len(kept) < len(messages) else messages

# SPDX-License-Identifier: GPL-2.0-or-later
"""Review signals from parsed mail: thread trees, trailers, NAKs and per-patch summaries.

Pure domain logic (no I/O). Threading follows the headers only, never subjects, except as a
last resort to place an orphan reply (one whose parent never reached the list) under the patch
its subject names. Trailers are read from the author's own lines: never from quoted text,
signatures or list footers, and a patch's own commit-message trailers are kept apart as
``carried`` since they were given before the patch was posted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime

from lkml_assistant.models.discussion import (
    DroppedMessage,
    MailMessage,
    ParentLink,
    PatchReviewSummary,
    Thread,
    ThreadNode,
    Trailer,
    TrailerKind,
    TrailerScan,
)
from lkml_assistant.sources.mail import normalize_body

log = logging.getLogger(__name__)

# --- subjects ---------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|aw|sv|antw|vs|fw|fwd)\s*(?:\[\d+\])?\s*:", re.IGNORECASE
)
_LEADING_NOISE = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|vs|fw|fwd)\s*(?:\[\d+\])?\s*:|\[[^\]]*\])\s*", re.IGNORECASE
)
_PATCH_TAG = re.compile(r"\[[^\]]*\b(?:patch|rfc)\b[^\]]*\]", re.IGNORECASE)
# "[PATCH 0/5]", "[patch V2 00/46]", "[PATCH 0/2 v3]", "[v5 0/5]": a series' cover letter.
_COVER_TAG = re.compile(r"\[[^\]]*\b0+/\d+\b[^\]]*\]")


def is_reply_subject(subject: str) -> bool:
    """``Re:``/``RE:``/``Aw:``/``Fwd:`` …, also behind a list tag such as ``[Intel-wired-lan]``."""
    return _REPLY_PREFIX.match(subject) is not None


def normalize_subject(subject: str) -> str:
    """The subject without reply prefixes and bracket tags, case-folded: what a patch is about."""
    previous = None
    while previous != subject:
        previous = subject
        subject = _LEADING_NOISE.sub("", subject, count=1)
    return " ".join(subject.split()).casefold()


def is_patch_submission(message: MailMessage) -> bool:
    """A posted patch or cover letter, as opposed to a reply about one.

    A diff in a mail whose subject is not a reply marks a patch; a cover letter has no diff
    but a ``0/n`` number (some series drop the word PATCH). A ``[PATCH]`` mail that answers
    another and has no diff is a reply whose sender dropped the "Re:".
    """
    subject = message.subject
    if is_reply_subject(subject):
        return False
    if message.has_patch or _COVER_TAG.search(subject):
        return True
    if _PATCH_TAG.search(subject) is None:
        return False
    return not message.in_reply_to and not message.references


# --- threading --------------------------------------------------------------------------------

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


# --- trailers ---------------------------------------------------------------------------------

# Patterns anchored on a literal "\n" (a newline is prepended to the text) rather than "^" with
# re.MULTILINE: the engine then jumps from newline to newline, several times faster on bodies.
# Anchoring at column 0 also means a quoted ('>' …) or indented line can never match.
_TRAILER_LINE = re.compile(
    r"\n(reviewed|acked|tested|reported|suggested|nacked)-by[ \t]*:[ \t]*([^\n]*\S)", re.IGNORECASE
)
# A bare statement such as "NAK.", "Nack, same reasons." or "   Strong NAK here:".
# Case-sensitive alternatives: "Naked"/"naked" are English words.
_NAK_LINE = re.compile(
    r"\n[ \t]*(?:(?:Strong(?:ly)?|strong(?:ly)?|So|Still|Hence|Thus)[ \t,]+)?"
    r"(?:NAK|NACK|Nak|Nack|nak|nack|NAKed|NACKed|Nacked|nacked)(?=[\s.,;:!)]|\Z)"
)
# Cheap first looks (plain substring search runs at memory speed): most mail has neither.
_TRAILER_HINTS = ("-by:", "-By:", "-BY:", "-by :")
_NAK_HINTS = ("NAK", "NACK", "Nak", "Nack", "nak", "nack")
# Where a patch's commit message ends: the '---' before the diffstat, or the diff itself.
_COMMIT_MESSAGE_END = re.compile(r"\n(?:---[ \t]*(?:\n|\Z)|diff -|Index: \S|--- a/)")
_MAILTO_JUNK = re.compile(r"<mailto:[^>]*>", re.IGNORECASE)
_BRACKETED_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE_ADDRESS = re.compile(r"^([^\s<>@\"(),;]+@[^\s<>@\"(),;]+\.[^\s<>@\"(),;]+)")

_TRAILER_KINDS = {
    "reviewed": TrailerKind.REVIEWED_BY,
    "acked": TrailerKind.ACKED_BY,
    "tested": TrailerKind.TESTED_BY,
    "reported": TrailerKind.REPORTED_BY,
    "suggested": TrailerKind.SUGGESTED_BY,
    "nacked": TrailerKind.NACKED_BY,
}


def _trailer_person(value: str, message: MailMessage) -> tuple[str, str] | None:
    """(name, email) named by a trailer value, or None if it names nobody usable."""
    value = _MAILTO_JUNK.sub("", value)  # Outlook's 'a@b<mailto:a@b>' HTML leftovers
    bracketed = _BRACKETED_ADDRESS.search(value)
    if bracketed is not None:
        name = value[: bracketed.start()].strip().strip('"').strip()
        return name, bracketed.group(1)
    bare = _BARE_ADDRESS.match(value)
    if bare is not None:
        address = bare.group(1).rstrip(".")
        same = address.casefold() == message.author_email.casefold()
        return (message.author_name if same else ""), address
    # A name without address is believable only as the sender's own.
    name = value.strip().strip('"').strip()
    if name and name.casefold() == message.author_name.casefold() and message.author_email:
        return message.author_name, message.author_email
    return None


def _make_trailer(
    message: MailMessage, kind: TrailerKind, name: str, address: str, *, bare: bool = False
) -> Trailer:
    return Trailer(
        kind=kind,
        name=name,
        email=address,
        given_by_name=message.author_name,
        given_by_email=message.author_email,
        message_id=message.message_id,
        date=message.date,
        bare_statement=bare,
    )


def _trailers_in(text: str, message: MailMessage) -> list[Trailer]:
    found: list[Trailer] = []
    seen: set[tuple[TrailerKind, str]] = set()
    for line in _TRAILER_LINE.finditer("\n" + text):
        person = _trailer_person(line.group(2), message)
        if person is None:
            continue
        kind = _TRAILER_KINDS[line.group(1).lower()]
        key = (kind, (person[1] or person[0]).casefold())
        if key in seen:
            continue
        seen.add(key)
        found.append(_make_trailer(message, kind, person[0], person[1]))
    return found


def scan_trailers(message: MailMessage, *, is_patch: bool | None = None) -> TrailerScan:
    """The trailers a message gives (a reply) or carries (a patch's own commit message).

    ``is_patch`` says whether the message is a posted patch; by default it is guessed with
    :func:`is_patch_submission`. Only lines at the start of an unquoted line count, so quoted
    text, indented examples and signatures never yield trailers. A reply's bare NAK statement
    counts as a ``nacked-by`` from its author.
    """
    body = message.body
    has_trailer = any(hint in body for hint in _TRAILER_HINTS)
    if is_patch is None:
        is_patch = is_patch_submission(message)
    if is_patch:
        if not has_trailer:
            return TrailerScan()
        end = _COMMIT_MESSAGE_END.search("\n" + body)
        commit_message = body if end is None else body[: end.start()]
        return TrailerScan(carried=tuple(_trailers_in(commit_message, message)))

    has_nak = any(hint in body for hint in _NAK_HINTS)
    if not (has_trailer or has_nak):
        return TrailerScan()
    own_text = normalize_body(body).own_text
    given = _trailers_in(own_text, message) if has_trailer else []
    if (
        has_nak
        and _NAK_LINE.search("\n" + own_text) is not None
        and not any(
            trailer.kind is TrailerKind.NACKED_BY
            and trailer.email.casefold() == message.author_email.casefold()
            for trailer in given
        )
    ):
        given.append(
            _make_trailer(
                message, TrailerKind.NACKED_BY, message.author_name, message.author_email, bare=True
            )
        )
    return TrailerScan(given=tuple(given))


def extract_trailers(message: MailMessage, *, is_patch: bool | None = None) -> list[Trailer]:
    """Trailers given in this message (not those a patch carried when posted); NAKs included."""
    return list(scan_trailers(message, is_patch=is_patch).given)


# --- per-patch summaries ----------------------------------------------------------------------

_COVER = "\0cover"  # resolution target meaning "the whole series"


class _Attribution:
    """Which patch (or the whole series) each message of a thread is about."""

    def __init__(self, thread: Thread, patch_ids: set[str], cover_id: str | None) -> None:
        self.thread = thread
        self.patch_ids = patch_ids
        self.cover_id = cover_id
        self.resolved: dict[str, str | None] = {}
        by_subject: dict[str, list[str]] = {}
        for patch_id in patch_ids:
            key = normalize_subject(thread.messages[patch_id].subject)
            by_subject.setdefault(key, []).append(patch_id)
        if cover_id is not None:
            by_subject.setdefault(normalize_subject(thread.messages[cover_id].subject), []).append(
                _COVER
            )
        # Only an unambiguous subject places an orphan.
        self.by_subject = {key: ids[0] for key, ids in by_subject.items() if len(ids) == 1 and key}

    def _own_target(self, message_id: str) -> tuple[bool, str | None]:
        """(decided, target) for one message, without looking at its ancestors."""
        if message_id in self.patch_ids:
            return True, message_id
        if message_id == self.cover_id:
            return True, _COVER
        message = self.thread.messages[message_id]
        if is_patch_submission(message):
            return True, None  # another posting (e.g. a newer version) threaded below: not ours
        node = self.thread.nodes[message_id]
        if node.header_linked:
            return False, None
        if node.link is ParentLink.ROOT:
            return True, None
        return True, self.by_subject.get(normalize_subject(message.subject))

    def target(self, message_id: str) -> str | None:
        path: list[str] = []
        current: str | None = message_id
        result: str | None = None
        while current is not None:
            if current in self.resolved:
                result = self.resolved[current]
                break
            decided, result = self._own_target(current)
            path.append(current)
            if decided:
                break
            current = self.thread.nodes[current].parent_id
        for step in path:
            self.resolved[step] = result
        return result


def _unique_trailers(trailers: Iterable[Trailer]) -> tuple[Trailer, ...]:
    seen: set[tuple[TrailerKind, str]] = set()
    kept: list[Trailer] = []
    for trailer in trailers:
        key = (trailer.kind, (trailer.email or trailer.name).casefold())
        if key not in seen:
            seen.add(key)
            kept.append(trailer)
    return tuple(kept)


def summarize_reviews(
    thread: Thread, patch_message_ids: Iterable[str], cover_message_id: str | None = None
) -> dict[str, PatchReviewSummary]:
    """Per patch: replies, participants, last activity, trailers given, NAKs, carried trailers.

    A reply counts for the patch it (transitively) answers; a reply to the cover letter counts
    for every patch of the series. Postings threaded below (a newer version, a partial
    re-roll) are not replies, and neither is anything below them. An orphan reply counts for
    the patch its subject names, if exactly one does. A NAK written by the patch's own author
    is not counted: there it rejects a counter-proposal. Patches missing from the thread get
    an empty summary.
    """
    wanted = list(dict.fromkeys(patch_message_ids))
    patch_ids = {pid for pid in wanted if pid in thread.messages}
    cover_id = cover_message_id if cover_message_id in thread.messages else None
    attribution = _Attribution(thread, patch_ids, cover_id)

    own: dict[str, list[MailMessage]] = {pid: [] for pid in patch_ids}
    series: list[MailMessage] = []
    for message_id, message in thread.messages.items():
        if message_id in patch_ids or message_id == cover_id or is_patch_submission(message):
            continue  # postings are not replies; their trailers were carried, not given
        target = attribution.target(message_id)
        if target == _COVER:
            series.append(message)
        elif target is not None:
            own[target].append(message)

    series_given = [t for m in series for t in scan_trailers(m, is_patch=False).given]
    summaries: dict[str, PatchReviewSummary] = {}
    for patch_id in wanted:
        if patch_id not in patch_ids:
            summaries[patch_id] = PatchReviewSummary(patch_message_id=patch_id)
            continue
        patch = thread.messages[patch_id]
        replies = own[patch_id]
        given = [t for m in replies for t in scan_trailers(m, is_patch=False).given]
        given.extend(series_given)
        dates = [m.date for m in (patch, *replies, *series) if m.date is not None]
        participants = {m.author_email.casefold() for m in (*replies, *series) if m.author_email}
        summaries[patch_id] = PatchReviewSummary(
            patch_message_id=patch_id,
            reply_count=len(replies),
            series_reply_count=len(series),
            participants=tuple(sorted(participants)),
            last_activity=max(dates) if dates else None,
            trailers=_unique_trailers(t for t in given if t.kind is not TrailerKind.NACKED_BY),
            naks=_unique_trailers(
                t
                for t in given
                if t.kind is TrailerKind.NACKED_BY
                # In their own patch's thread an author NAKs counter-proposals, not the patch.
                and t.given_by_email.casefold() != patch.author_email.casefold()
            ),
            carried=scan_trailers(patch, is_patch=True).carried,
        )
    return summaries

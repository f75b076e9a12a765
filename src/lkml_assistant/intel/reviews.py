# SPDX-License-Identifier: GPL-2.0-or-later
"""What a review thread says about each of its patches (pure, no I/O).

:func:`read_download` is the understanding step of the discussion jobs: out of the messages
of a public-inbox download it keeps the conversation that was asked for, links it into a tree
and reads every message once (:func:`~lkml_assistant.intel.trailers.read_message`). The
resulting :class:`ThreadReading` feeds both the stored messages and
:func:`summarize_reviews`, which says per patch who replied, when, and with which trailers and
NAKs, a reply to the cover letter counting for every patch of the series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lkml_assistant.intel.applied import AppliedReading, read_applied
from lkml_assistant.intel.subjects import is_patch_submission, parse_subject
from lkml_assistant.intel.threads import build_thread, conversation
from lkml_assistant.intel.trailers import MessageReading, read_message, scan_trailers
from lkml_assistant.models.discussion import (
    AppliedNote,
    MailMessage,
    ParentLink,
    PatchReviewSummary,
    Thread,
    Trailer,
    TrailerKind,
    TrailerScan,
)


@dataclass(frozen=True, slots=True)
class ThreadReading:
    """A thread and what each of its messages says, every message read once.

    ``left_out`` counts the messages of other conversations that the download also held
    (public-inbox joins postings that share a subject).
    """

    thread: Thread
    messages: Mapping[str, MessageReading]
    left_out: int = 0


def read_thread(thread: Thread, *, left_out: int = 0) -> ThreadReading:
    """Read every message of a thread once."""
    readings = {mid: read_message(message) for mid, message in thread.messages.items()}
    return ThreadReading(thread, readings, left_out)


def read_download(messages: Sequence[MailMessage], anchor: str) -> ThreadReading:
    """The thread of ``anchor``'s conversation out of a thread download, read."""
    mine = conversation(list(messages), anchor)
    return read_thread(build_thread(mine), left_out=len(messages) - len(mine))


class _Readings:
    """Each message's role and trailers, from a :class:`ThreadReading` when there is one,
    else worked out on first use; either way once per message."""

    def __init__(self, thread: Thread, known: Mapping[str, MessageReading] | None) -> None:
        self.thread = thread
        self.known = known or {}
        self._posting: dict[str, bool] = {}

    def posting(self, message_id: str) -> bool:
        found = self._posting.get(message_id)
        if found is None:
            reading = self.known.get(message_id)
            message = self.thread.messages[message_id]
            found = reading.posting if reading is not None else is_patch_submission(message)
            self._posting[message_id] = found
        return found

    def scan(self, message_id: str) -> TrailerScan:
        """What a reply gives (only replies are asked, each once)."""
        reading = self.known.get(message_id)
        if reading is not None and not reading.posting:
            return reading.trailers
        return scan_trailers(self.thread.messages[message_id], is_patch=False)

    def carried(self, message_id: str) -> tuple[Trailer, ...]:
        """What a patch carried when posted, also for one whose subject reads as a reply."""
        reading = self.known.get(message_id)
        if reading is not None and reading.posting:
            return reading.trailers.carried
        return scan_trailers(self.thread.messages[message_id], is_patch=True).carried


_COVER = "\0cover"  # resolution target meaning "the whole series"


class _Attribution:
    """Which patch (or the whole series) each message of a thread is about."""

    def __init__(self, readings: _Readings, patch_ids: set[str], cover_id: str | None) -> None:
        self.thread = readings.thread
        self.readings = readings
        self.patch_ids = patch_ids
        self.cover_id = cover_id
        self.resolved: dict[str, str | None] = {}
        by_subject: dict[str, list[str]] = {}
        for patch_id in patch_ids:
            key = parse_subject(self.thread.messages[patch_id].subject).key
            by_subject.setdefault(key, []).append(patch_id)
        if cover_id is not None:
            key = parse_subject(self.thread.messages[cover_id].subject).key
            by_subject.setdefault(key, []).append(_COVER)
        # Only an unambiguous subject places an orphan.
        self.by_subject = {key: ids[0] for key, ids in by_subject.items() if len(ids) == 1 and key}

    def _own_target(self, message_id: str) -> tuple[bool, str | None]:
        """(decided, target) for one message, without looking at its ancestors."""
        if message_id in self.patch_ids:
            return True, message_id
        if message_id == self.cover_id:
            return True, _COVER
        if self.readings.posting(message_id):
            return True, None  # another posting (e.g. a newer version) threaded below: not ours
        node = self.thread.nodes[message_id]
        if node.header_linked:
            return False, None
        if node.link is ParentLink.ROOT:
            return True, None
        subject = self.thread.messages[message_id].subject
        return True, self.by_subject.get(parse_subject(subject).key)

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


def _applied_to(
    reading: AppliedReading, target: str, thread: Thread, patch_ids: Sequence[str]
) -> dict[str, str | None]:
    """Patch Message-ID -> commit, for the patches an 'applied' reply says went in.

    A thank-you's list (``[2/4] subject``) names them, by subject or else by number; with
    no list, a reply to the cover letter or one saying "series" means every patch, else the
    patch it answers."""
    if reading.listed:
        by_key: dict[str, str] = {}
        by_index: dict[int, str] = {}
        for pid in patch_ids:
            parsed = parse_subject(thread.messages[pid].subject)
            by_key.setdefault(parsed.key, pid)
            if parsed.index is not None:
                by_index.setdefault(parsed.index, pid)
        chosen: dict[str, str | None] = {}
        for entry in reading.listed:
            named = by_key.get(parse_subject(entry.subject).key) or by_index.get(entry.index)
            if named is not None:
                chosen.setdefault(named, entry.commit)
        return chosen
    if target == _COVER or reading.whole_series:
        return {pid: None for pid in patch_ids}
    return {target: reading.commit}


def _applied_notes(
    thread: Thread,
    replies: Iterable[tuple[str, str]],
    patch_ids: Sequence[str],
) -> dict[str, AppliedNote]:
    """The first 'applied' reply for each patch, from someone other than its author."""
    notes: dict[str, AppliedNote] = {}
    for message_id, target in replies:
        message = thread.messages[message_id]
        reading = read_applied(message)
        if reading is None:
            continue
        for pid, commit in _applied_to(reading, target, thread, patch_ids).items():
            author = thread.messages[pid].author_email.casefold()
            if (
                pid in notes
                or not message.author_email
                or message.author_email.casefold() == author
            ):
                continue
            notes[pid] = AppliedNote(
                tree=reading.tree,
                commit=commit,
                by_name=message.author_name,
                by_email=message.author_email,
                message_id=message_id,
                date=message.date,
            )
    return notes


def summarize_reviews(
    thread: Thread,
    patch_message_ids: Iterable[str],
    cover_message_id: str | None = None,
    *,
    readings: Mapping[str, MessageReading] | None = None,
) -> dict[str, PatchReviewSummary]:
    """Per patch: replies, participants, last activity, trailers given, NAKs, carried trailers,
    and whether someone applied it.

    A reply counts for the patch it (transitively) answers; a reply to the cover letter counts
    for every patch of the series, and so does a trailer said to be for the whole series
    ("For the series:") in a reply to one patch. Postings threaded below (a newer version, a
    partial re-roll) are not replies, and neither is anything below them. An orphan reply
    counts for the patch its subject names, if exactly one does. A NAK written by the patch's
    own author is not counted: there it rejects a counter-proposal; nor is an 'applied' reply
    of the author's (:mod:`lkml_assistant.intel.applied`). Patches missing from the thread get
    an empty summary. ``readings`` (from :func:`read_thread`) saves reading messages again.
    """
    wanted = list(dict.fromkeys(patch_message_ids))
    patch_ids = {pid for pid in wanted if pid in thread.messages}
    ordered_ids = [pid for pid in wanted if pid in patch_ids]
    cover_id = cover_message_id if cover_message_id in thread.messages else None
    known = _Readings(thread, readings)
    attribution = _Attribution(known, patch_ids, cover_id)

    own: dict[str, list[str]] = {pid: [] for pid in patch_ids}
    series: list[str] = []
    replies: list[tuple[str, str]] = []
    series_given: list[Trailer] = []
    for message_id in thread.messages:
        if message_id in patch_ids or message_id == cover_id or known.posting(message_id):
            continue  # postings are not replies; their trailers were carried, not given
        target = attribution.target(message_id)
        if target is None:
            continue
        replies.append((message_id, target))
        if target == _COVER:
            series.append(message_id)
            series_given.extend(known.scan(message_id).given)
        else:
            own[target].append(message_id)
            series_given.extend(known.scan(message_id).series_wide)

    applied = _applied_notes(thread, replies, ordered_ids)
    series_messages = [thread.messages[mid] for mid in series]
    summaries: dict[str, PatchReviewSummary] = {}
    for patch_id in wanted:
        if patch_id not in patch_ids:
            summaries[patch_id] = PatchReviewSummary(patch_message_id=patch_id)
            continue
        patch = thread.messages[patch_id]
        replies_here = [thread.messages[mid] for mid in own[patch_id]]
        given = [t for mid in own[patch_id] for t in known.scan(mid).given]
        given.extend(series_given)
        dates = [m.date for m in (patch, *replies_here, *series_messages) if m.date is not None]
        participants = {
            m.author_email.casefold() for m in (*replies_here, *series_messages) if m.author_email
        }
        summaries[patch_id] = PatchReviewSummary(
            patch_message_id=patch_id,
            reply_count=len(replies_here),
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
            carried=known.carried(patch_id),
            applied=applied.get(patch_id),
        )
    return summaries

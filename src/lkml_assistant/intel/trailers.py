# SPDX-License-Identifier: GPL-2.0-or-later
"""Trailers and NAKs from parsed mail (pure, no I/O), and what one message says, read once.

Trailers are read from the author's own lines: never from quoted text, signatures or list
footers, and a patch's own commit-message trailers are kept apart as ``carried`` since they
were given before the patch was posted. :func:`read_message` does everything the discussion
jobs need to know about one mail in one pass (posting or reply, its own text, its trailers), so
that the stored message and the review summary share one scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lkml_assistant.intel.naks import states_nak
from lkml_assistant.intel.subjects import is_patch_submission
from lkml_assistant.models.discussion import MailMessage, Trailer, TrailerKind, TrailerScan
from lkml_assistant.sources.mail import NormalizedBody, normalize_body

# Patterns anchored on a literal "\n" (a newline is prepended to the text) rather than "^" with
# re.MULTILINE: the engine then jumps from newline to newline, several times faster on bodies.
# Anchoring at column 0 also means a quoted ('>' …) or indented line can never match.
_TRAILER_LINE = re.compile(
    r"\n(reviewed|acked|tested|reported|suggested|nacked)-by[ \t]*:[ \t]*([^\n]*\S)", re.IGNORECASE
)
# Cheap first looks (plain substring search runs at memory speed): most mail has neither.
_TRAILER_HINTS = ("-by:", "-By:", "-BY:", "-by :")
_NAK_HINTS = ("NAK", "NACK", "Nak", "Nack", "nak", "nack")
# Where a patch's commit message ends: the '---' before the diffstat, or the diff itself.
_COMMIT_MESSAGE_END = re.compile(r"\n(?:---[ \t]*(?:\n|\Z)|diff -|Index: \S|--- a/)")
_MAILTO_JUNK = re.compile(r"<mailto:[^>]*>", re.IGNORECASE)
_BRACKETED_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
# "Acked-by: Name <addr" with the closing '>' lost (or "<addr." typed at the end).
_UNCLOSED_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)[.,;]?\s*$")
# Where a patch enclosed whole in a reply ends its commit message: its trailers are its own.
_ENCLOSED_END = re.compile(r"---[ \t]*$|diff --git |Index: \S")
_TRAILER_LIKE = re.compile(r"[A-Za-z][\w-]*:\s|\[[^\]]+\]\s*$|\(cherry picked")
# "For the whole series:", "… for the series", "to all patches": a trailer for every patch.
_SERIES_WIDE = re.compile(
    r"\b(?:for|to|on)\s+(?:the\s+|this\s+|these\s+)?(?:(?:whole|entire|full|complete)\s+)?"
    r"(?:series|patch\s*set|patchset|set)\b"
    r"|\b(?:for|to|on)\s+(?:all|each|every)\s+(?:of\s+)?(?:the\s+|these\s+)?(?:patches|patch|of\s+them)\b"
    r"|\bseries[- ]wide\b",
    re.IGNORECASE,
)
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
    bracketed = _BRACKETED_ADDRESS.search(value) or _UNCLOSED_ADDRESS.search(value)
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


def _enclosed(lines: list[str], number: int) -> bool:
    """Whether the trailer on line ``number`` closes the commit message of a patch enclosed
    whole in the reply: only trailer-like lines follow it up to a '---' or a diff."""
    for line in lines[number + 1 :]:
        if _ENCLOSED_END.match(line):
            return True
        if not line.strip() or not _TRAILER_LIKE.match(line):
            return False
    return False


def _series_wide(lines: list[str], number: int, value: str) -> bool:
    """ "Reviewed-by: … for the whole series", or "For the series:" on the line before."""
    if _SERIES_WIDE.search(value.split(">", 1)[-1]):
        return True
    for line in reversed(lines[:number]):
        if not line.strip():
            continue
        if _TRAILER_LINE.match("\n" + line):
            continue  # one "For the series:" heads a block of trailers
        if line.lstrip().startswith(">"):
            return False
        # The scope ends the line ("For the whole series:"); "Thanks for the series." does not.
        scope = _SERIES_WIDE.search(line)
        return (
            scope is not None
            and re.fullmatch(r"\s*[:,]?\s*", line[scope.end() :]) is not None
            and "thank" not in line[: scope.start()].rsplit(".", 1)[-1].lower()
        )
    return False


def _trailers_in(
    text: str, message: MailMessage, *, reply: bool = False
) -> tuple[list[Trailer], list[Trailer]]:
    """(trailers, those of them given for the whole series). In a reply, the trailers of a
    patch enclosed whole in it are that patch's own, not given here."""
    found: list[Trailer] = []
    series: list[Trailer] = []
    seen: set[tuple[TrailerKind, str]] = set()
    lines = text.split("\n") if reply else []
    for line in _TRAILER_LINE.finditer("\n" + text):
        number = text.count("\n", 0, line.start()) if reply else 0
        if reply and _enclosed(lines, number):
            continue
        person = _trailer_person(line.group(2), message)
        if person is None:
            continue
        kind = _TRAILER_KINDS[line.group(1).lower()]
        key = (kind, (person[1] or person[0]).casefold())
        if key in seen:
            continue
        seen.add(key)
        trailer = _make_trailer(message, kind, person[0], person[1])
        found.append(trailer)
        if reply and _series_wide(lines, number, line.group(2)):
            series.append(trailer)
    return found, series


def _scan(message: MailMessage, is_patch: bool, body: NormalizedBody | None) -> TrailerScan:
    text = message.body
    has_trailer = any(hint in text for hint in _TRAILER_HINTS)
    if is_patch:
        if not has_trailer:
            return TrailerScan()
        end = _COMMIT_MESSAGE_END.search("\n" + text)
        commit_message = text if end is None else text[: end.start()]
        return TrailerScan(carried=tuple(_trailers_in(commit_message, message)[0]))

    has_nak = any(hint in text for hint in _NAK_HINTS)
    if not (has_trailer or has_nak):
        return TrailerScan()
    own_text = (normalize_body(text) if body is None else body).own_text
    given, series = _trailers_in(own_text, message, reply=True) if has_trailer else ([], [])
    if (
        has_nak
        and states_nak(own_text)
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
    return TrailerScan(given=tuple(given), series_wide=tuple(series))


def scan_trailers(message: MailMessage, *, is_patch: bool | None = None) -> TrailerScan:
    """The trailers a message gives (a reply) or carries (a patch's own commit message).

    ``is_patch`` says whether the message is a posted patch; by default it is guessed with
    :func:`~lkml_assistant.intel.subjects.is_patch_submission`. Only lines at the start of an
    unquoted line count, so quoted text, indented examples and signatures never yield
    trailers, nor do the trailers of a patch enclosed whole in a reply. A reply's NAK
    written in prose (:mod:`lkml_assistant.intel.naks`) counts as a ``nacked-by`` from its
    author. ``series_wide`` names the given trailers meant for every patch of the series
    ("For the whole series:").
    """
    if is_patch is None:
        is_patch = is_patch_submission(message)
    return _scan(message, is_patch, None)


def extract_trailers(message: MailMessage, *, is_patch: bool | None = None) -> list[Trailer]:
    """Trailers given in this message (not those a patch carried when posted); NAKs included."""
    return list(scan_trailers(message, is_patch=is_patch).given)


@dataclass(frozen=True, slots=True)
class MessageReading:
    """What one message says, worked out once: a posting or a reply, the author's own text
    (signature and footer cut, quotes marked) and its trailers (``carried`` for a posting,
    ``given`` for a reply)."""

    message: MailMessage
    posting: bool
    body: NormalizedBody
    trailers: TrailerScan


def read_message(message: MailMessage) -> MessageReading:
    """One pass over a message: its role, its own text and its trailers."""
    posting = is_patch_submission(message)
    body = normalize_body(message.body)
    return MessageReading(message, posting, body, _scan(message, posting, body))

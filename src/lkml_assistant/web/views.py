# SPDX-License-Identifier: GPL-2.0-or-later
"""Presentation helpers for the pages: safe links, page URLs, and a thread laid out for reading.

Only layout decisions live here (which lines of a mail are quoted text to fold, where a patch
mail's diff starts, how a query string is written); what a status is or who reviewed what
comes from the service layer's answers unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from lkml_assistant.models.api import MessageOut, TrailerOut
from lkml_assistant.sources.lore import message_url

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Where a format-patch mail's diff starts: the "---" before the diffstat, or the diff itself.
_DIFF_STARTS = ("diff --git ", "Index: ")


def safe_href(url: str | None) -> str | None:
    """``url`` when it is an http(s) or mailto link, else None (the page shows no link)."""
    if not url:
        return None
    text = url.strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return None
    if scheme not in SAFE_SCHEMES:
        return None
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in text):
        return None
    return text


def when(moment: datetime | None) -> str:
    """A date as people read it on the lists: UTC, to the minute."""
    if moment is None:
        return "unknown"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment is not None else ""


def segment(value: str) -> str:
    """One path segment of our own URLs (an e-mail address, say), escaped."""
    return quote(value, safe="@+!$&'()*,;=:")


NO_SUBJECT = "(no subject)"


def patch_title(value: str | None) -> str:
    """A patch's or series' title as a link's text: never empty, so the link stays visible
    and reachable (a patch mail with an empty Subject: is real)."""
    return value.strip() if value and value.strip() else NO_SUBJECT


def query_string(params: Iterable[tuple[str, str]]) -> str:
    pairs = list(params)
    return f"?{urlencode(pairs)}" if pairs else ""


def non_empty(query: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """A form's query without the fields left empty (an empty filter means no filter)."""
    return [(name, value) for name, values in query.items() for value in values if value.strip()]


def flat(query: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.items() for value in values]


@dataclass(frozen=True)
class Block:
    """A run of lines of one mail: quoted from an earlier mail or not."""

    quoted: bool
    text: str
    lines: int


def body_blocks(body: str, quoted_lines: Iterable[int]) -> list[Block]:
    """The body cut into runs of quoted and own lines, blank edges trimmed."""
    quoted = set(quoted_lines)
    blocks: list[Block] = []
    run: list[str] = []
    run_quoted = False

    def close() -> None:
        while run and not run[-1].strip():
            run.pop()
        while run and not run[0].strip():
            run.pop(0)
        if run:
            blocks.append(Block(quoted=run_quoted, text="\n".join(run), lines=len(run)))
        run.clear()

    for number, line in enumerate(body.split("\n")):
        is_quoted = number in quoted
        if is_quoted != run_quoted and line.strip():
            close()
            run_quoted = is_quoted
        run.append(line)
    close()
    return blocks


def split_diff(body: str) -> tuple[str, str]:
    """A patch mail's text as (commit message, diff); the diff is empty when none is found."""
    lines = body.split("\n")
    for number, line in enumerate(lines):
        if line == "---" or line.startswith(_DIFF_STARTS):
            return "\n".join(lines[:number]).rstrip(), "\n".join(lines[number:])
    return body, ""


@dataclass
class MessageView:
    anchor: str
    subject: str
    author_name: str
    author_email: str
    date: datetime | None
    lore: str | None
    trailers: list[TrailerOut]
    blocks: list[Block]
    diff: str
    diff_lines: int
    this_patch: bool
    children: list[MessageView] = field(default_factory=list)


def thread_view(
    root: MessageOut, *, lore_url: str, list_name: str, patch_message_id: str
) -> tuple[MessageView, dict[str, str]]:
    """The thread as nested views, and each Message-ID's anchor on the page."""
    anchors: dict[str, str] = {}

    def build(message: MessageOut) -> MessageView:
        anchor = f"m{len(anchors) + 1}"
        anchors[message.message_id] = anchor
        body, diff = split_diff(message.body) if message.has_patch else (message.body, "")
        return MessageView(
            anchor=anchor,
            subject=message.subject,
            author_name=message.author.name or "",
            author_email=message.author.email,
            date=message.date,
            lore=safe_href(message_url(lore_url, list_name, message.message_id)),
            trailers=message.trailers,
            blocks=body_blocks(body, message.quoted_lines),
            diff=diff,
            diff_lines=diff.count("\n") + 1 if diff else 0,
            this_patch=message.message_id == patch_message_id,
            children=[build(child) for child in message.children],
        )

    return build(root), anchors

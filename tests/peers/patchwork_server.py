# SPDX-License-Identifier: GPL-2.0-or-later
"""A Patchwork REST API test server that answers like the real Patchwork 3.2.1 recorded here.

It serves the complete API output of a real Patchwork loaded with the netfilter-devel slice of
the corpus (``$LKML_SHARED_DIR/peers/patchwork-3.2.1/netfilter-devel/``), or synthetic data
derived from it, on loopback. What a client sees is what ``../shared/peers/NOTES.md`` describes
and the recordings show, byte for byte where the recordings allow a comparison:

* bare JSON lists paged by a ``Link`` header (next, prev, first, last), 30 a page by default,
  ``per_page`` silently clamped (250 by default), ``404 {"detail":"Invalid page."}`` past the end;
* ``/api/`` and ``/api/1.0/`` … ``/api/1.4/``, each with its own fields; filters with Patchwork's
  quirks (an unknown project or garbage ``since`` gives ``200 []``; an aware ``since`` gives
  Django's HTML 500);
* detail views with the ``headers``, ``content`` and ``diff`` Patchwork's parser extracts from
  the real mail of the corpus, and comments rebuilt the same way;
* maintainers' actions and new mail while it runs, with the events Patchwork emits;
* injected faults (429, 5xx, slow, malformed, connection reset) and a log of every request.

    with run_patchwork_server(PatchworkData.from_dump()) as server:
        httpx.get(f"{server.url}/api/1.3/patches/?project=netfilter-devel")

``python -m tests.peers.patchwork_server [--dump DIR | --synthetic N] [--port P]`` runs it alone.
Fast tests skip the socket: ``PatchworkServer(data).transport()`` answers an httpx client in
its own thread.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import email
import email.parser
import email.utils
import gzip
import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header, decode_header, make_header
from email.message import Message as MailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple, Self
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.shared_data import patchwork_dump, shared_dir

__all__ = [
    "API_VERSIONS",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_STATES",
    "DELETE",
    "FAULT_KINDS",
    "IN_PROCESS_ORIGIN",
    "LORE_ORIGIN",
    "MAX_PAGE_SIZE",
    "RECORDED_ORIGIN",
    "Fault",
    "Faults",
    "InProcessTransport",
    "MailArchive",
    "PatchworkData",
    "PatchworkServer",
    "RequestRecord",
    "default_mbox",
    "diff_hash",
    "mail_content",
    "mail_headers",
    "main",
    "run_patchwork_server",
    "split_patch",
    "subject_prefixes",
]

Json = dict[str, Any]

# Every URL in the dump names the short-lived server that produced it. Objects are kept with
# that origin and its /api/1.3/ prefix, and rewritten on the way out: cheaper than rebuilding
# URLs per request, and it keeps the stored objects identical to the recordings.
RECORDED_ORIGIN: Final = "http://127.0.0.1:18651"
_RECORDED_API: Final = RECORDED_ORIGIN + "/api/1.3/"
LORE_ORIGIN: Final = "https://lore.kernel.org"

API_VERSIONS: Final = ("1.0", "1.1", "1.2", "1.3", "1.4")
DEFAULT_PAGE_SIZE: Final = 30
MAX_PAGE_SIZE: Final = 250

# A fresh Patchwork's states (its default_states fixture), in their display order; ids from 1.
DEFAULT_STATES: Final = (
    "New",
    "Under Review",
    "Accepted",
    "Rejected",
    "RFC",
    "Not Applicable",
    "Changes Requested",
    "Awaiting Upstream",
    "Superseded",
    "Deferred",
)

EVENT_CATEGORIES: Final = (
    "cover-created",
    "patch-created",
    "patch-completed",
    "patch-state-changed",
    "patch-delegated",
    "patch-relation-changed",
    "check-created",
    "series-created",
    "series-completed",
    "cover-comment-created",
    "patch-comment-created",
)
_COMMENT_EVENTS: Final = ("cover-comment-created", "patch-comment-created")


class _Delete:
    """Marker for :meth:`PatchworkData.corrupt_patch`: drop the field instead of setting it."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()


def default_mbox() -> Path:
    """The corpus mbox the netfilter-devel dump was parsed from."""
    return shared_dir().joinpath(
        "corpus", "mbox", "linux-mailinglist-archives", "netfilter-devel-2025.mbox.gz"
    )


def _version_key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


# --- the shape of each object per API version ---
#
# Patchwork drops a field from an answer when the requested version predates it. Objects are
# stored in their 1.3 shape (the recordings); older versions lose fields, 1.4 gains the
# series-dependency ones. Sources: the serializers' versioned fields and the official schemas.

_INTRODUCED: Final[dict[str, dict[str, str]]] = {
    "project": {
        "subject_match": "1.1",
        "list_archive_url": "1.2",
        "list_archive_url_format": "1.2",
        "commit_url_format": "1.2",
    },
    "project_embedded": {
        "list_archive_url": "1.2",
        "list_archive_url_format": "1.2",
        "commit_url_format": "1.2",
    },
    "patch": {"web_url": "1.1", "comments": "1.1", "list_archive_url": "1.2", "related": "1.2"},
    "patch_embedded": {"web_url": "1.1", "list_archive_url": "1.2"},
    "cover": {"web_url": "1.1", "mbox": "1.1", "comments": "1.1", "list_archive_url": "1.2"},
    "cover_embedded": {"web_url": "1.1", "mbox": "1.1", "list_archive_url": "1.2"},
    "series": {"web_url": "1.1"},
    "series_embedded": {"web_url": "1.1"},
    "comment": {"web_url": "1.1", "list_archive_url": "1.2", "url": "1.3", "addressed": "1.3"},
    "comment_embedded": {"web_url": "1.1", "list_archive_url": "1.2", "url": "1.3"},
    "event": {"actor": "1.2"},
}
_NESTED: Final[dict[str, dict[str, str]]] = {
    "project": {},
    "patch": {"project": "project_embedded", "series": "series_embedded", "related": "patch"},
    "series": {
        "project": "project_embedded",
        "cover_letter": "cover_embedded",
        "patches": "patch_embedded",
    },
    "cover": {"project": "project_embedded", "series": "series_embedded"},
    "event": {"project": "project_embedded", "payload": "payload"},
    "payload": {
        "patch": "patch_embedded",
        "series": "series_embedded",
        "cover": "cover_embedded",
        "comment": "comment_embedded",
    },
}
# API 1.4 (Patchwork 3.3) adds series dependencies; 3.2.1 itself stops at 1.3.
_ADDED_IN_1_4: Final[dict[str, dict[str, Any]]] = {
    "project": {"show_dependencies": False},
    "series": {"dependencies": [], "dependents": []},
}


def _for_version(obj: Any, shape: str, version: str) -> Any:
    """``obj`` (stored in its 1.3 shape) as API ``version`` serializes it."""
    if version == "1.3" or obj is None:
        return obj
    if isinstance(obj, list):
        return [_for_version(item, shape, version) for item in obj]
    wanted = _version_key(version)
    introduced = _INTRODUCED.get(shape, {})
    nested = _NESTED.get(shape, {})
    out: Json = {}
    for key, value in obj.items():
        since = introduced.get(key)
        if since is not None and _version_key(since) > wanted:
            continue
        inner = nested.get(key)
        out[key] = _for_version(value, inner, version) if inner else value
    if wanted >= (1, 4):
        for key, default in _ADDED_IN_1_4.get(shape, {}).items():
            out.setdefault(key, json.loads(json.dumps(default)))
    return out


# --- mail, parsed the way Patchwork's parser does ---

_HUNK: Final = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_DIFF_FILE: Final = re.compile(r"^(---|\+\+\+) (\S+)")
# git's extended header lines (git-diff(1), "generating patches with -p").
_GIT_EXTENDED: Final = (
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "copy from ",
    "copy to ",
    "rename from ",
    "rename to ",
    "similarity index ",
    "dissimilarity index ",
    "index ",
)
_NO_NEWLINE: Final = "\\ No newline at end of file"
_SIGNATURE: Final = re.compile(r"^(-- |_+)\n.*", re.S | re.M)
_SUBJECT_PREFIX: Final = re.compile(r"^\[([^\]]*)\]\s*(.*)$", re.S)


def split_patch(body: str) -> tuple[str | None, str | None]:  # noqa: C901 - parser.py state machine
    """``(diff, message)`` of a mail body, split where Patchwork's parser splits it.

    Lines that might open a diff (``diff ...``, ``Index:``, ``--- ``) are held back until a
    ``+++``/``@@`` pair confirms them; held lines never confirmed go back to the message. Hunk
    line counts decide where a hunk ends, so a trailing signature stays out of the diff.
    Checked against the ``hash`` of all 2,015 patches with a diff in the dump.
    """
    diff: list[str] = []
    message: list[str] = []
    held: list[str] = []
    state = "text"
    hunks = 0
    old_left = new_left = 0

    def confirm(line: str | None = None) -> None:
        diff.extend(held)
        held.clear()
        if line is not None:
            diff.append(line)

    def give_back(line: str) -> None:
        message.extend(held)
        held.clear()
        message.append(line)

    for bare in body.split("\n"):
        line = bare + "\n"
        if state == "text":
            if line.startswith(("diff ", "Index: ")):
                state = "preamble"
                held.append(line)
            elif line.startswith("--- "):
                state = "old"
                held.append(line)
            else:
                message.append(line)
        elif state == "preamble":
            held.append(line)
            if line.startswith("--- "):
                state = "old"
            elif line.startswith(_GIT_EXTENDED):
                state = "extended"
        elif state == "extended":
            if line.startswith(_GIT_EXTENDED):
                confirm(line)
            elif line.startswith("--- "):
                confirm(line)
                state = "old"
            else:
                held.append(line)
                state = "preamble"
        elif state == "old":
            if line.startswith("+++ "):
                held.append(line)
                state = "new"
            elif hunks:
                held.append(line)
                state = "preamble"
            else:
                give_back(line)
                state = "text"
        elif state == "new":
            match = _HUNK.match(line)
            if match:
                old_left, new_left = (int(count) if count else 1 for count in match.groups())
                confirm(line)
                state = "hunk"
            elif line.startswith("--- "):
                confirm(line)
                state = "old"
            elif hunks and line.startswith(_NO_NEWLINE):
                diff.append(line)
            elif hunks:
                held.append(line)
                state = "preamble"
            else:
                give_back(line)
                state = "text"
        else:  # inside a hunk
            if line.startswith("-"):
                old_left -= 1
            elif line.startswith("+"):
                new_left -= 1
            elif not line.startswith(_NO_NEWLINE):  # that marker is outside the line counts
                old_left -= 1
                new_left -= 1
            diff.append(line)
            if old_left <= 0 and new_left <= 0:
                hunks += 1
                state = "new"
    message.extend(held)
    return "".join(diff) or None, "".join(message) or None


def _clean_content(text: str) -> str:
    """Drop the signature and list footer, as Patchwork does before storing a message."""
    return _SIGNATURE.sub("", text.replace("\r\n", "\n")).strip()


def _decode_part(payload: bytes, charset: str | None) -> str | None:
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    # Mail without a usable charset is tried with the encodings list mail really uses.
    for candidate in [charset] if charset else ["utf-8", "windows-1252", "iso-8859-1"]:
        try:
            return payload.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def mail_content(msg: MailMessage, *, is_comment: bool = False) -> tuple[str | None, str | None]:
    """``(diff, content)`` of a mail as Patchwork stores them for a patch, cover or comment.

    Comments keep their whole text (quoted diffs included); patches have the diff split off
    their text/plain parts, or taken from a text/x-patch attachment. ``(None, None)`` when a
    part cannot be decoded at all, in which case Patchwork drops the mail.
    """
    diff: str | None = None
    content = ""
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = _decode_part(payload, part.get_content_charset())
        if text is None:
            return None, None
        subtype = part.get_content_subtype()
        if subtype in ("x-patch", "x-diff"):
            if not is_comment:
                diff = text
        elif subtype == "plain":
            body: str | None = text
            if not is_comment and not diff:
                diff, body = split_patch(text)
            if body is not None:
                content += body.strip() + "\n"
    return diff, _clean_content(content)


def _decode_header_text(value: Any) -> str:
    """A header's text with RFC 2047 words decoded and whitespace collapsed."""
    try:
        text = str(make_header(decode_header(value)))
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        parts = []
        for chunk, charset in decode_header(str(value)):
            if isinstance(chunk, bytes):
                parts.append(chunk.decode(charset or "utf-8", "replace"))
            else:
                parts.append(chunk)
        text = "".join(parts)
    return " ".join(text.split())


def _reencoded_header(name: str, value: Any) -> str:
    """A header value decoded then encoded again, folded at 76 columns, as Patchwork saves it."""
    try:
        header = make_header(decode_header(value), header_name=name, continuation_ws="\t")
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        header = Header(_decode_header_text(value), "utf-8", header_name=name, continuation_ws="\t")
    return header.encode()


def mail_headers(msg: MailMessage) -> dict[str, str | list[str]]:
    """The ``headers`` object of a detail view: one string per name, a list when repeated.

    Matches the recorded cover 69 and all 212 recorded comments exactly, folding included.
    """
    saved = "\n".join(f"{name}: {_reencoded_header(name, value)}" for name, value in msg.items())
    parsed = email.parser.Parser().parsestr(saved, headersonly=True)
    headers: dict[str, str | list[str]] = {}
    for name in parsed.keys():  # noqa: SIM118 - a Message is not a dict: keys() repeats names
        if name in headers:
            continue
        values = [str(v) for v in parsed.get_all(name) or []]
        headers[name] = values[0] if len(values) == 1 else values
    return headers


def subject_prefixes(name: str) -> list[str]:
    """The bracketed prefixes of a patch name: ``[v2,3/7] x`` gives ``["v2", "3/7"]``."""
    prefixes: list[str] = []
    rest = name
    while match := _SUBJECT_PREFIX.match(rest):
        prefixes.extend(p for p in re.split(r"[\s,]+", match.group(1)) if p)
        rest = match.group(2)
    return prefixes


def _without_prefix(name: str) -> str:
    """A cover letter's name as its series is named: the first bracketed prefix removed."""
    match = _SUBJECT_PREFIX.match(name)
    return match.group(2) if match else name.strip()


def diff_hash(diff: str) -> str:
    """Patchwork's patch ``hash``: SHA-1 of the diff with line numbers and path roots removed."""
    digest = hashlib.sha1()
    for line in (diff.replace("\r", "").strip() + "\n").split("\n"):
        if not line:
            continue
        named = _DIFF_FILE.match(line)
        hunk = _HUNK.match(line)
        hashed = line
        if named:
            root = "a/" if named.group(1) == "---" else "b/"
            hashed = f"{named.group(1)} {root}{'/'.join(named.group(2).split('/')[1:])}"
        elif hunk:
            old, new = (int(count) if count else 1 for count in hunk.groups())
            hashed = f"@@ -{old} +{new} @@"
        elif line[0] not in "-+ ":
            continue
        digest.update((hashed + "\n").encode("utf-8"))
    return digest.hexdigest()


class MailArchive:
    """The raw messages of one mbox (gzip or not), found by Message-ID; indexed on first use.

    Messages are cut out as Python's ``mailbox.mbox`` does (what ``parsearchive`` reads):
    mboxrd's ``>From`` quoting is left in place, as Patchwork left it.
    """

    _FROM_LINE: Final = re.compile(rb"^From [^\n]*\n", re.M)
    _MESSAGE_ID: Final = re.compile(
        rb"^Message-Id:[ \t]*(?:\r?\n[ \t]+)?<([^>\r\n]+)>", re.M | re.I
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data = b""
        self._index: dict[str, tuple[int, int]] | None = None

    def _ensure_index(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            if self._index is None:
                raw = self.path.read_bytes()
                self._data = gzip.decompress(raw) if self.path.name.endswith(".gz") else raw
                self._index = self._build_index(self._data)
            return self._index

    @classmethod
    def _build_index(cls, data: bytes) -> dict[str, tuple[int, int]]:
        separators = list(cls._FROM_LINE.finditer(data))
        starts = [match.end() for match in separators]
        ends = [*(match.start() for match in separators[1:]), len(data)]
        index: dict[str, tuple[int, int]] = {}
        for start, end in zip(starts, ends, strict=True):
            header_end = data.find(b"\n\n", start, end)
            found = cls._MESSAGE_ID.search(data, start, header_end if header_end > 0 else end)
            if found:  # the first copy wins, as Patchwork drops later duplicates
                index.setdefault(found.group(1).decode("utf-8", "replace"), (start, end))
        return index

    def raw(self, msgid: str) -> bytes | None:
        """The message whose Message-ID is ``msgid`` (with or without angle brackets)."""
        where = self._ensure_index().get(msgid.strip().removeprefix("<").removesuffix(">"))
        return None if where is None else self._data[where[0] : where[1]]

    def message(self, msgid: str) -> MailMessage | None:
        raw = self.raw(msgid)
        return None if raw is None else email.message_from_bytes(raw)


# --- the objects one Patchwork instance holds ---

_PATCH_EMBEDDED: Final = (
    "id",
    "url",
    "web_url",
    "msgid",
    "list_archive_url",
    "date",
    "name",
    "mbox",
)
_SERIES_EMBEDDED: Final = ("id", "url", "web_url", "date", "name", "version", "mbox")
# Patchwork 3.2.1 leaves the schema's "name" out of a comment embedded in an event.
_COMMENT_EMBEDDED: Final = ("id", "url", "web_url", "msgid", "list_archive_url", "date")


def _embed(obj: Json, keys: Sequence[str]) -> Json:
    return {key: obj.get(key) for key in keys}


def _embed_project(project: Json) -> Json:
    return {k: v for k, v in project.items() if k not in ("maintainers", "subject_match")}


def _slug(state_name: str) -> str:
    return "-".join(state_name.lower().split())


def _naive(value: str | datetime | None, default: datetime | None = None) -> datetime:
    if value is None:
        if default is None:
            return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        return default
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _bracketed(msgid: str) -> str:
    return f"<{msgid.strip().removeprefix('<').removesuffix('>')}>"


def _strip_prefixes(name: str) -> str:
    while match := _SUBJECT_PREFIX.match(name):
        name = match.group(2)
    return name.strip()


def _open_archive(mbox: Path | str | bool | None) -> MailArchive | None:
    if mbox is None or mbox is False:
        return None
    if mbox is True:
        path = default_mbox()
        return MailArchive(path) if path.is_file() else None
    return MailArchive(Path(mbox))


@dataclass
class _State:
    """Everything maintainers' actions and new mail can change; copied cheaply for reset().

    Objects are never changed in place: a change stores a new dict, so a copy of the containers
    is a snapshot.
    """

    projects: dict[int, Json]
    patches: dict[int, Json]
    series: dict[int, Json]
    covers: dict[int, Json]
    events: list[Json]
    people: dict[int, Json]
    users: dict[int, Json]
    numbers: dict[int, int]  # patch id -> its number in its series
    overrides: dict[tuple[str, int], dict[str, Any]]
    details: dict[tuple[str, int], Json]  # headers/content/diff of mail that arrived here
    comments: dict[tuple[str, int], list[Json]]  # comments that arrived here
    next_ids: dict[str, int]
    last_event: datetime | None

    def copy(self) -> _State:
        return _State(
            projects=dict(self.projects),
            patches=dict(self.patches),
            series=dict(self.series),
            covers=dict(self.covers),
            events=list(self.events),
            people=dict(self.people),
            users=dict(self.users),
            numbers=dict(self.numbers),
            overrides=dict(self.overrides),
            details=dict(self.details),
            comments={key: list(items) for key, items in self.comments.items()},
            next_ids=dict(self.next_ids),
            last_event=self.last_event,
        )


class PatchworkData:
    """Projects, patches, series, cover letters, events and comments of one Patchwork.

    Thread-safe: the server reads it while a test acts as a maintainer (:meth:`set_state`,
    :meth:`set_delegate`, :meth:`set_archived`) or as the mailing list (:meth:`add_patch`,
    :meth:`add_series`, :meth:`add_comment`). :meth:`reset` undoes all of that at once.
    """

    def __init__(  # noqa: C901 - indexes every kind of record of a dump, one loop each
        self,
        *,
        projects: Iterable[Json],
        patches: Iterable[Json] = (),
        series: Iterable[Json] = (),
        covers: Iterable[Json] = (),
        events: Iterable[Json] = (),
        comments: Mapping[int, Sequence[Json]] | None = None,
        mail: MailArchive | None = None,
        states: Sequence[str] = DEFAULT_STATES,
    ) -> None:
        self.lock = threading.RLock()
        self.states: tuple[str, ...] = tuple(states)
        self._mail = mail
        self._recorded_comments = {int(k): list(v) for k, v in (comments or {}).items()}
        self._parsed: dict[str, tuple[dict[str, str | list[str]], str, str | None] | None] = {}
        self._derived_comments: dict[tuple[str, int], Json] = {}
        self._derived_people: dict[int, Json] = {}
        self._derived_people_ready = False
        self._templates: dict[int, str] = {}  # synthetic patch id -> msgid of its real model

        state = _State(
            projects={p["id"]: p for p in projects},
            patches={p["id"]: p for p in patches},
            series={s["id"]: s for s in series},
            covers={c["id"]: c for c in covers},
            events=sorted(events, key=lambda e: e["id"]),
            people={},
            users={},
            numbers={},
            overrides={},
            details={},
            comments={},
            next_ids={},
            last_event=None,
        )
        for obj in [*state.patches.values(), *state.series.values(), *state.covers.values()]:
            if obj.get("submitter"):
                state.people.setdefault(obj["submitter"]["id"], obj["submitter"])
        for items in self._recorded_comments.values():
            for comment in items:
                if comment.get("submitter"):
                    state.people.setdefault(comment["submitter"]["id"], comment["submitter"])
        for patch in state.patches.values():
            if patch.get("delegate"):
                state.users.setdefault(patch["delegate"]["id"], patch["delegate"])
        for project in state.projects.values():
            for user in project.get("maintainers") or []:
                state.users.setdefault(user["id"], user)
        for event in state.events:
            if event.get("actor"):
                state.users.setdefault(event["actor"]["id"], event["actor"])
        for item in state.series.values():
            for number, member in enumerate(item.get("patches") or [], start=1):
                state.numbers.setdefault(member["id"], number)

        self._comment_refs: dict[tuple[str, int], list[Json]] = {}
        for event in state.events:
            if event["category"] in _COMMENT_EVENTS:
                kind = "cover" if event["category"].startswith("cover") else "patch"
                parent = event["payload"][kind]["id"]
                self._comment_refs.setdefault((kind, parent), []).append(
                    event["payload"]["comment"]
                )
        for refs in self._comment_refs.values():
            refs.sort(key=lambda c: c["id"])

        def next_id(ids: Iterable[int]) -> int:
            return max(ids, default=0) + 1

        comment_ids: dict[str, list[int]] = {"patch": [], "cover": []}
        for (kind, _parent), refs in self._comment_refs.items():
            comment_ids[kind].extend(c["id"] for c in refs)
        for items in self._recorded_comments.values():
            comment_ids["patch"].extend(c["id"] for c in items)
        # Comment authors missing from the dump get ids right after the known people, in
        # comment order, whenever they are first needed; people arriving with new mail are
        # numbered after that reserved range so the two never collide.
        self._derived_person_base = next_id(state.people)
        reserved = sum(len(refs) for refs in self._comment_refs.values()) + 1
        state.next_ids = {
            "project": next_id(state.projects),
            "patch": next_id(state.patches),
            "series": next_id(state.series),
            "cover": next_id(state.covers),
            "event": next_id(e["id"] for e in state.events),
            "patch_comment": next_id(comment_ids["patch"]),
            "cover_comment": next_id(comment_ids["cover"]),
            "person": self._derived_person_base + reserved,
            "user": next_id(state.users),
        }
        if state.events:
            state.last_event = max(datetime.fromisoformat(e["date"]) for e in state.events)
        self._s = state
        self._initial = state.copy()

    # --- construction ---

    @classmethod
    def from_dump(
        cls, path: Path | str | None = None, *, mbox: Path | str | bool | None = True
    ) -> PatchworkData:
        """The dump of a real Patchwork (default: netfilter-devel under ``LKML_SHARED_DIR``).

        ``mbox`` is the archive the dump was parsed from, read for detail views and comments
        (default: the corpus file, when present); ``False`` to do without it.
        """
        root = Path(path) if path is not None else patchwork_dump()

        def load(name: str) -> list[Json]:
            data: list[Json] = json.loads((root / name).read_bytes())
            return data

        comments = {
            int(item.stem.removeprefix("patch-")): json.loads(item.read_bytes())
            for item in sorted((root / "comments").glob("patch-*.json"))
        }
        return cls(
            projects=load("projects.json"),
            patches=load("patches.json"),
            series=load("series.json"),
            covers=load("covers.json"),
            events=load("events.json"),
            comments=comments,
            mail=_open_archive(mbox),
        )

    @classmethod
    def synthetic(
        cls,
        n_patches: int,
        project: str = "synthetic",
        *,
        seed: int = 1,
        dump: Path | str | None = None,
        start: str | datetime = "2024-01-01T00:00:00",
        days: float = 365.0,
        max_series_length: int = 8,
        cover_ratio: float = 0.5,
        late_ratio: float = 0.02,
        mbox: Path | str | bool | None = True,
    ) -> PatchworkData:
        """``n_patches`` patches modelled on the dump's, in series of 1 to ``max_series_length``.

        Deterministic for a given ``seed``. Series arrive spread over ``days`` from ``start``;
        a ``late_ratio`` of them carry a mail date hours or days older than their arrival, as
        delayed mail does. Names, submitters, hashes and (in detail views) content and diff come
        from real patches; every series gets the events Patchwork emits when parsing it.
        """
        if n_patches < 0 or max_series_length < 1:
            raise ValueError("n_patches must be >= 0 and max_series_length >= 1")
        root = Path(dump) if dump is not None else patchwork_dump()
        templates: list[Json] = json.loads((root / "patches.json").read_bytes())
        rng = random.Random(seed)
        listed = {
            "id": 1,
            "url": f"{_RECORDED_API}projects/1/",
            "name": f"Synthetic {project}",
            "link_name": project,
            "list_id": f"{project}.vger.kernel.org",
            "list_email": f"{project}@vger.kernel.org",
            "web_url": "",
            "scm_url": "",
            "webscm_url": "",
            "maintainers": [],
            "subject_match": "",
            "list_archive_url": f"{LORE_ORIGIN}/{project}/",
            "list_archive_url_format": f"{LORE_ORIGIN}/{project}/{{}}/",
            "commit_url_format": "",
        }
        data = cls(projects=[listed], mail=_open_archive(mbox))
        sizes: list[int] = []
        remaining = n_patches
        while remaining > 0:
            size = 1 if rng.random() < 0.45 else rng.randint(1, max_series_length)
            sizes.append(min(size, remaining))
            remaining -= sizes[-1]
        begin = _naive(start)
        arrivals = sorted(begin + timedelta(days=days) * rng.random() for _ in sizes)
        with data.lock:
            for serial, (size, arrival) in enumerate(zip(sizes, arrivals, strict=True), start=1):
                data._synthetic_series(
                    rng, templates, listed, serial, size, arrival, cover_ratio, late_ratio
                )
            data._initial = data._s.copy()
        return data

    def _synthetic_series(
        self,
        rng: random.Random,
        templates: Sequence[Json],
        project: Json,
        serial: int,
        size: int,
        arrival: datetime,
        cover_ratio: float,
        late_ratio: float,
    ) -> None:
        mailed = arrival
        if rng.random() < late_ratio:
            mailed = arrival - timedelta(hours=rng.uniform(2, 120))
        mailed = mailed.replace(microsecond=0)
        picks = [rng.choice(templates) for _ in range(size)]
        submitter = picks[0]["submitter"]
        self._s.people.setdefault(submitter["id"], submitter)
        version = rng.choice((1, 1, 1, 1, 2, 2, 3, 4))
        width = len(str(size))
        local, _, domain = submitter["email"].partition("@")
        stamp = f"{mailed:%Y%m%d%H%M%S}"
        series_id: int | None = None
        if size > 1 and rng.random() < cover_ratio:
            prefixes = [f"v{version}"] if version > 1 else []
            title = _strip_prefixes(picks[0]["name"])
            name = f"[{','.join([*prefixes, f'{0:0{width}d}/{size}'])}] {title}"
            _cover, series = self._new_cover(
                project,
                date=mailed,
                name=name,
                submitter=submitter,
                msgid=f"<{stamp}.{serial}-0-{local}@{domain}>",
                version=version,
                total=size,
                details=None,
                clock=arrival,
            )
            series_id = series["id"]
        for number, pick in enumerate(picks, start=1):
            prefixes = [f"v{version}"] if version > 1 else []
            if size > 1:
                prefixes.append(f"{number:0{width}d}/{size}")
            title = _strip_prefixes(pick["name"])
            pid = self._new_patch(
                project,
                date=mailed + timedelta(seconds=number),
                name=f"[{','.join(prefixes)}] {title}" if prefixes else title,
                submitter=submitter,
                msgid=f"<{stamp}.{serial}-{number}-{local}@{domain}>",
                series_id=series_id,
                number=number,
                total=size,
                version=version,
                pull_url=pick.get("pull_url"),
                hash_=pick.get("hash"),
                details=None,
                clock=arrival,
            )
            self._templates[pid] = pick["msgid"]
            series_id = self._s.patches[pid]["series"][0]["id"]

    # --- reading (what the server serves) ---

    def reset(self) -> None:
        """Back to the state it was loaded in: every action, new mail and corruption undone."""
        with self.lock:
            self._s = self._initial.copy()

    def _overridden(self, kind: str, obj: Json) -> Json:
        changes = self._s.overrides.get((kind, obj["id"]))
        if not changes:
            return obj
        out = dict(obj)
        for key, value in changes.items():
            if value is DELETE:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def list_projects(self) -> list[Json]:
        with self.lock:
            return [self._s.projects[k] for k in sorted(self._s.projects)]

    def get_project(self, key: int | str) -> Json | None:
        """A project by id, or by link name as Patchwork's detail view also accepts."""
        with self.lock:
            projects = self._s.projects
            with contextlib.suppress(ValueError):
                found = projects.get(int(key))
                if found is not None:
                    return found
            return next((p for p in projects.values() if p["link_name"] == key), None)

    def list_patches(self) -> list[Json]:
        with self.lock:
            patches = self._s.patches
            return [self._overridden("patch", patches[k]) for k in sorted(patches)]

    def get_patch(self, patch_id: int, *, detail: bool = False) -> Json | None:
        with self.lock:
            patch = self._s.patches.get(patch_id)
            if patch is None:
                return None
            if detail:
                patch = {**patch, **self._patch_details(patch)}
            return self._overridden("patch", patch)

    def list_series(self) -> list[Json]:
        with self.lock:
            series = self._s.series
            return [self._overridden("series", series[k]) for k in sorted(series)]

    def get_series(self, series_id: int) -> Json | None:
        with self.lock:
            found = self._s.series.get(series_id)
            return None if found is None else self._overridden("series", found)

    def list_covers(self) -> list[Json]:
        with self.lock:
            covers = self._s.covers
            return [self._overridden("cover", covers[k]) for k in sorted(covers)]

    def get_cover(self, cover_id: int, *, detail: bool = False) -> Json | None:
        with self.lock:
            cover = self._s.covers.get(cover_id)
            if cover is None:
                return None
            if detail:
                cover = {**cover, **self._cover_details(cover)}
            return self._overridden("cover", cover)

    def list_events(self) -> list[Json]:
        """Every event, oldest first (the API serves them newest first)."""
        with self.lock:
            return list(self._s.events)

    def get_comments(self, kind: str, parent_id: int) -> list[Json] | None:
        """Comments on patch or cover ``parent_id`` (``kind`` "patch" or "cover"), by id."""
        with self.lock:
            parents = self._s.patches if kind == "patch" else self._s.covers
            if parent_id not in parents:
                return None
            if kind == "patch" and parent_id in self._recorded_comments:
                base = self._recorded_comments[parent_id]
            else:
                refs = self._comment_refs.get((kind, parent_id), [])
                base = [self._derived_comment(kind, ref) for ref in refs]
            return [*base, *self._s.comments.get((kind, parent_id), [])]

    def people(self) -> dict[int, Json]:
        """Everyone whose mail Patchwork kept, by id (the API hides them from anonymous users)."""
        with self.lock:
            return {**self._derived_people, **self._s.people}

    def users(self) -> dict[int, Json]:
        """Patchwork accounts: delegates, maintainers and actors, by id."""
        with self.lock:
            return dict(self._s.users)

    # --- detail views and comments, rebuilt from the mail ---

    def _parsed_mail(self, msgid: str) -> tuple[dict[str, str | list[str]], str, str | None] | None:
        if msgid in self._parsed:
            return self._parsed[msgid]
        msg = self._mail.message(msgid) if self._mail is not None else None
        parsed = None
        if msg is not None:
            diff, content = mail_content(msg)
            parsed = (mail_headers(msg), content or "", diff)
        self._parsed[msgid] = parsed
        return parsed

    def _made_up_headers(self, obj: Json) -> dict[str, str | list[str]]:
        """Plausible headers for mail the archive does not hold (synthetic or new mail)."""
        project: Json = self._s.projects.get(obj["project"]["id"]) or obj["project"]
        submitter = obj["submitter"] or {}
        prefixes = subject_prefixes(obj["name"] or "")
        tag = " ".join(["PATCH", ",".join(prefixes)]) if prefixes else "PATCH"
        moment = datetime.fromisoformat(obj["date"]).replace(tzinfo=UTC)
        return {
            "From": email.utils.formataddr(
                (submitter.get("name") or "", submitter.get("email", ""))
            ),
            "To": project.get("list_email", ""),
            "Subject": f"[{tag}] {_strip_prefixes(obj['name'] or '')}",
            "Date": email.utils.format_datetime(moment),
            "Message-ID": obj["msgid"],
            "List-Id": f"<{project.get('list_id', '')}>",
            "MIME-Version": "1.0",
            "Content-Type": 'text/plain; charset="utf-8"',
            "Content-Transfer-Encoding": "8bit",
        }

    def _patch_details(self, patch: Json) -> Json:
        stored = self._s.details.get(("patch", patch["id"]))
        if stored is not None:
            headers, content, diff = stored["headers"], stored["content"], stored["diff"]
        else:
            template = self._templates.get(patch["id"])
            parsed = self._parsed_mail(template or patch["msgid"])
            if parsed is None:
                headers, content, diff = self._made_up_headers(patch), "", None
            else:
                headers, content, diff = parsed
                if template is not None:
                    headers = self._made_up_headers(patch)
        prefixes = subject_prefixes(patch["name"] or "")
        return {"headers": headers, "content": content, "diff": diff, "prefixes": prefixes}

    def _cover_details(self, cover: Json) -> Json:
        stored = self._s.details.get(("cover", cover["id"]))
        if stored is not None:
            return {"headers": stored["headers"], "content": stored["content"]}
        parsed = self._parsed_mail(cover["msgid"])
        if parsed is None:
            return {"headers": self._made_up_headers(cover), "content": ""}
        return {"headers": parsed[0], "content": parsed[1]}

    def _sender(self, msg: MailMessage) -> tuple[str | None, str]:
        name, address = email.utils.parseaddr(_decode_header_text(msg.get("From", "")))
        return name or None, address or _decode_header_text(msg.get("From", ""))

    def _person_by_email(self, address: str) -> Json | None:
        wanted = address.lower()
        for person in [*self._s.people.values(), *self._derived_people.values()]:
            if (person.get("email") or "").lower() == wanted:
                return person
        return None

    def _ensure_derived_people(self) -> None:
        """Give every comment author the dump does not know an id, once and in comment order."""
        if self._derived_people_ready:
            return
        self._derived_people_ready = True
        known = {(p.get("email") or "").lower(): p for p in self._initial.people.values()}
        next_id = self._derived_person_base

        def add(name: str | None, address: str) -> None:
            nonlocal next_id
            person = {
                "id": next_id,
                "url": f"{_RECORDED_API}people/{next_id}/",
                "name": name,
                "email": address,
            }
            self._derived_people[next_id] = person
            known[address.lower()] = person
            next_id += 1

        add(None, "unknown@unknown.invalid")  # author of any comment whose mail is missing
        for kind, parent in sorted(self._comment_refs):
            if kind == "patch" and parent in self._recorded_comments:
                continue
            for ref in self._comment_refs[(kind, parent)]:
                raw = self._mail.raw(ref["msgid"]) if self._mail is not None else None
                if raw is None:
                    continue
                headers = email.parser.BytesParser().parsebytes(raw, headersonly=True)
                name, address = self._sender(headers)
                if address.lower() not in known:
                    add(name, address)

    def _derived_comment(self, kind: str, ref: Json) -> Json:
        """A comment the dump only names (in its event), rebuilt from its mail like Patchwork."""
        cached = self._derived_comments.get((kind, ref["id"]))
        if cached is not None:
            return cached
        self._ensure_derived_people()
        msg = self._mail.message(ref["msgid"]) if self._mail is not None else None
        headers: dict[str, str | list[str]] = {}
        content = ""
        submitter = self._derived_people[self._derived_person_base]
        if msg is not None:
            headers = mail_headers(msg)
            content = mail_content(msg, is_comment=True)[1] or ""
            _name, address = self._sender(msg)
            submitter = self._person_by_email(address) or submitter
        subject = headers.get("Subject", "")
        comment = {
            "id": ref["id"],
            "url": ref["url"],
            "web_url": ref["web_url"],
            "msgid": ref["msgid"],
            "list_archive_url": ref["list_archive_url"],
            "date": ref["date"],
            "subject": subject[0] if isinstance(subject, list) else subject,
            "submitter": submitter,
            "content": content,
            "headers": headers,
            "addressed": None,
        }
        self._derived_comments[(kind, ref["id"])] = comment
        return comment

    # --- new objects, with the events Patchwork emits ---

    def _emit(
        self,
        category: str,
        project: Json,
        payload: Json,
        *,
        actor: Json | None = None,
        clock: datetime | None = None,
    ) -> Json:
        state = self._s
        moment = clock or datetime.now(UTC).replace(tzinfo=None)
        # Event dates are strictly increasing, even when the recorded ones lie in the future
        # of this machine's clock, so that ?since=<last seen> never misses a new event.
        if state.last_event is not None and moment <= state.last_event:
            moment = state.last_event + timedelta(microseconds=1)
        if moment.microsecond == 0:  # isoformat() would drop the fraction every event shows
            moment += timedelta(microseconds=1)
        state.last_event = moment
        event = {
            "id": state.next_ids["event"],
            "category": category,
            "project": _embed_project(project),
            "date": moment.isoformat(),
            "actor": actor,
            "payload": payload,
        }
        state.next_ids["event"] += 1
        state.events.append(event)
        return event

    def _take_id(self, kind: str) -> int:
        value = self._s.next_ids[kind]
        self._s.next_ids[kind] = value + 1
        return value

    def _archive_url(self, project: Json, msgid: str) -> str | None:
        fmt = project.get("list_archive_url_format") or ""
        return fmt.format(msgid[1:-1]) if fmt else None

    def _project(self, key: int | str | None) -> Json:
        if key is None:
            return self._s.projects[min(self._s.projects)]
        found = self.get_project(key)
        if found is None:
            raise KeyError(f"no project {key!r}")
        return found

    def _person(self, who: Mapping[str, Any] | str | int | None) -> Json:
        state = self._s
        if isinstance(who, int):
            return {**self._derived_people, **state.people}[who]
        if who is None:
            who = {"name": "Test Submitter", "email": "submitter@patchwork.test"}
        if isinstance(who, str):
            name, address = email.utils.parseaddr(who)
            who = {"name": name or None, "email": address or who}
        if who.get("id") is not None and who["id"] in state.people:
            return state.people[who["id"]]
        found = self._person_by_email(who["email"])
        if found is not None:
            return found
        # Above every id in use: synthetic data keeps the ids of the real people it copies.
        pid = max([self._take_id("person"), *(p + 1 for p in state.people), *self._derived_people])
        state.next_ids["person"] = pid + 1
        person = {
            "id": pid,
            "url": f"{_RECORDED_API}people/{pid}/",
            "name": who.get("name"),
            "email": who["email"],
        }
        state.people[pid] = person
        return person

    def _user(self, who: Mapping[str, Any] | str | int) -> Json:
        """A Patchwork account, registered on first use (Patchwork needs one to delegate)."""
        state = self._s
        if isinstance(who, int):
            return state.users[who]
        if isinstance(who, str):
            found = next(
                (u for u in state.users.values() if u["username"].lower() == who.lower()), None
            )
            if found is None:
                raise KeyError(f"no user {who!r}")
            return found
        uid = int(who["id"]) if who.get("id") is not None else self._take_id("user")
        user = {
            "id": uid,
            "url": f"{_RECORDED_API}users/{uid}/",
            "username": who.get("username") or f"user{uid}",
            "first_name": who.get("first_name", ""),
            "last_name": who.get("last_name", ""),
            "email": who.get("email", ""),
        }
        state.users[uid] = user
        state.next_ids["user"] = max(state.next_ids["user"], uid + 1)
        return user

    def _new_series(
        self,
        project: Json,
        *,
        date: datetime,
        name: str | None,
        submitter: Json,
        version: int,
        total: int,
        clock: datetime | None,
    ) -> Json:
        sid = self._take_id("series")
        series = {
            "id": sid,
            "url": f"{_RECORDED_API}series/{sid}/",
            "web_url": f"{RECORDED_ORIGIN}/project/{project['link_name']}/list/?series={sid}",
            "project": _embed_project(project),
            "name": name,
            "date": date.isoformat(),
            "submitter": submitter,
            "version": version,
            "total": total,
            "received_total": 0,
            "received_all": False,
            "mbox": f"{RECORDED_ORIGIN}/series/{sid}/mbox/",
            "cover_letter": None,
            "patches": [],
        }
        self._s.series[sid] = series
        self._emit(
            "series-created", project, {"series": _embed(series, _SERIES_EMBEDDED)}, clock=clock
        )
        return series

    def _new_cover(
        self,
        project: Json,
        *,
        date: datetime,
        name: str,
        submitter: Json,
        msgid: str,
        version: int,
        total: int,
        details: Json | None,
        clock: datetime | None,
    ) -> tuple[Json, Json]:
        # Patchwork creates the series first, then the cover letter (the events show it).
        series = self._new_series(
            project,
            date=date,
            name=_without_prefix(name),
            submitter=submitter,
            version=version,
            total=total,
            clock=clock,
        )
        cid = self._take_id("cover")
        web = f"{RECORDED_ORIGIN}/project/{project['link_name']}/cover/{msgid[1:-1]}/"
        cover = {
            "id": cid,
            "url": f"{_RECORDED_API}covers/{cid}/",
            "web_url": web,
            "project": _embed_project(project),
            "msgid": msgid,
            "list_archive_url": self._archive_url(project, msgid),
            "date": date.isoformat(),
            "name": name,
            "submitter": submitter,
            "mbox": f"{web}mbox/",
            "series": [_embed(series, _SERIES_EMBEDDED)],
            "comments": f"{RECORDED_ORIGIN}/api/covers/{cid}/comments/",
        }
        self._s.covers[cid] = cover
        if details is not None:
            self._s.details[("cover", cid)] = details
        self._emit("cover-created", project, {"cover": _embed(cover, _PATCH_EMBEDDED)}, clock=clock)
        series = {**series, "cover_letter": _embed(cover, _PATCH_EMBEDDED)}
        self._s.series[series["id"]] = series
        return cover, series

    def _new_patch(
        self,
        project: Json,
        *,
        date: datetime,
        name: str,
        submitter: Json,
        msgid: str,
        series_id: int | None,
        number: int | None,
        total: int,
        version: int,
        pull_url: str | None,
        hash_: str | None,
        details: Json | None,
        clock: datetime | None,
        state: str = "new",
        archived: bool = False,
        delegate: Json | None = None,
        commit_ref: str | None = None,
    ) -> int:
        pid = self._take_id("patch")
        web = f"{RECORDED_ORIGIN}/project/{project['link_name']}/patch/{msgid[1:-1]}/"
        patch = {
            "id": pid,
            "url": f"{_RECORDED_API}patches/{pid}/",
            "web_url": web,
            "project": _embed_project(project),
            "msgid": msgid,
            "list_archive_url": self._archive_url(project, msgid),
            "date": date.isoformat(),
            "name": name,
            "commit_ref": commit_ref,
            "pull_url": pull_url,
            "state": state,
            "archived": archived,
            "hash": hash_,
            "submitter": submitter,
            "delegate": delegate,
            "mbox": f"{web}mbox/",
            "series": [],
            "comments": f"{RECORDED_ORIGIN}/api/patches/{pid}/comments/",
            "check": "pending",
            "checks": f"{RECORDED_ORIGIN}/api/patches/{pid}/checks/",
            "tags": {},
            "related": [],
        }
        self._s.patches[pid] = patch
        if details is not None:
            self._s.details[("patch", pid)] = details
        # The order of a real parse: the patch, then (for a new series) the series, then the
        # patch joins the series, which completes the patch and maybe the series.
        self._emit("patch-created", project, {"patch": _embed(patch, _PATCH_EMBEDDED)}, clock=clock)
        if series_id is None:
            series = self._new_series(
                project,
                date=date,
                name=name,
                submitter=submitter,
                version=version,
                total=total,
                clock=clock,
            )
        else:
            series = self._s.series[series_id]
        self._join_series(pid, series, number, project, clock)
        return pid

    def _join_series(
        self, pid: int, series: Json, number: int | None, project: Json, clock: datetime | None
    ) -> None:
        state = self._s
        members = [m["id"] for m in series["patches"]]
        taken = {state.numbers.get(m) for m in members}
        if number is None:
            number = max((n for n in taken if n is not None), default=0) + 1
        state.numbers[pid] = number
        patch = {**state.patches[pid], "series": [_embed(series, _SERIES_EMBEDDED)]}
        state.patches[pid] = patch
        received_before = series["received_total"]
        members.append(pid)
        members.sort(key=lambda m: (state.numbers.get(m, 0), m))
        series = {
            **series,
            "received_total": received_before + 1,
            "received_all": received_before + 1 >= series["total"],
            "patches": [_embed(state.patches[m], _PATCH_EMBEDDED) for m in members],
        }
        state.series[series["id"]] = series
        embedded_series = _embed(series, _SERIES_EMBEDDED)

        def completed(member: int) -> None:
            payload = {
                "patch": _embed(state.patches[member], _PATCH_EMBEDDED),
                "series": embedded_series,
            }
            self._emit("patch-completed", project, payload, clock=clock)

        # A patch is complete once every patch numbered before it is in; its arrival may also
        # complete the ones after it that were waiting for it.
        numbers = {state.numbers.get(m) for m in members}
        if all(n in numbers for n in range(1, number)):
            completed(pid)
            following = number + 1
            for member in members:
                if state.numbers.get(member, 0) <= number:
                    continue
                if state.numbers.get(member) != following:
                    break
                completed(member)
                following += 1
        # Patchwork raises this for every patch that reaches (or passes) the announced total.
        if received_before + 1 >= series["total"]:
            self._emit("series-completed", project, {"series": embedded_series}, clock=clock)

    # --- maintainers' actions ---

    def _state_slug(self, state: str) -> str:
        slugs = [_slug(name) for name in self.states]
        slug = _slug(state)
        if slug not in slugs:
            raise ValueError(f"unknown state {state!r}; one of {', '.join(slugs)}")
        return slug

    def _replace_patch(self, patch_id: int, **changes: Any) -> Json:
        patch = self._s.patches.get(patch_id)
        if patch is None:
            raise KeyError(f"no patch {patch_id}")
        patch = {**patch, **changes}
        self._s.patches[patch_id] = patch
        return patch

    def _patch_project(self, patch: Json) -> Json:
        project: Json = self._s.projects.get(patch["project"]["id"]) or patch["project"]
        return project

    def set_state(
        self,
        patch_id: int,
        state: str,
        *,
        actor: Mapping[str, Any] | str | int | None = None,
        commit_ref: str | None = None,
        clock: datetime | None = None,
    ) -> Json | None:
        """A maintainer changes a patch's state (a slug such as ``changes-requested``).

        Emits ``patch-state-changed`` with ``previous_state``/``current_state``, unless the
        state does not change; ``actor`` is the maintainer's account, if any; ``clock`` dates
        the event (naive, the server's time; default now). Returns the event.
        """
        with self.lock:
            slug = self._state_slug(state)
            patch = self._s.patches.get(patch_id)
            if patch is None:
                raise KeyError(f"no patch {patch_id}")
            previous = patch["state"]
            changes: dict[str, Any] = {"state": slug}
            if commit_ref is not None:
                changes["commit_ref"] = commit_ref
            patch = self._replace_patch(patch_id, **changes)
            if previous == slug:
                return None
            payload = {
                "patch": _embed(patch, _PATCH_EMBEDDED),
                "previous_state": previous,
                "current_state": slug,
            }
            who = self._user(actor) if actor is not None else None
            project = self._patch_project(patch)
            return self._emit("patch-state-changed", project, payload, actor=who, clock=clock)

    def set_delegate(
        self,
        patch_id: int,
        user: Mapping[str, Any] | str | int | None,
        *,
        actor: Mapping[str, Any] | str | int | None = None,
    ) -> Json | None:
        """A maintainer delegates a patch to ``user`` (an account: dict, username or id), or
        to nobody. Emits ``patch-delegated`` with both delegates; returns the event.

        Patchwork only delegates to a project's maintainers, so the user becomes one.
        """
        with self.lock:
            patch = self._s.patches.get(patch_id)
            if patch is None:
                raise KeyError(f"no patch {patch_id}")
            current = self._user(user) if user is not None else None
            previous = patch["delegate"]
            patch = self._replace_patch(patch_id, delegate=current)
            project = self._patch_project(patch)
            if current is not None and all(
                m["id"] != current["id"] for m in project.get("maintainers") or []
            ):
                project = {**project, "maintainers": [*project.get("maintainers", []), current]}
                self._s.projects[project["id"]] = project
            if (previous or {}).get("id") == (current or {}).get("id"):
                return None
            payload = {
                "patch": _embed(patch, _PATCH_EMBEDDED),
                "previous_delegate": previous,
                "current_delegate": current,
            }
            who = self._user(actor) if actor is not None else None
            return self._emit("patch-delegated", project, payload, actor=who)

    def set_archived(self, patch_id: int, archived: bool = True) -> None:
        """A maintainer archives (or unarchives) a patch.

        Real Patchwork emits no event for this, so neither do we: a client only notices it by
        reading the patch again (``since`` filters on the mail date, not on changes).
        """
        with self.lock:
            self._replace_patch(patch_id, archived=bool(archived))

    def corrupt_patch(self, patch_id: int, changes: Mapping[str, Any]) -> None:
        """Serve patch ``patch_id`` with ``changes`` applied (``DELETE`` drops a field), as a
        buggy server or proxy might. Events and series keep embedding the intact patch."""
        with self.lock:
            if patch_id not in self._s.patches:
                raise KeyError(f"no patch {patch_id}")
            key = ("patch", patch_id)
            self._s.overrides[key] = {**self._s.overrides.get(key, {}), **changes}

    # --- new mail ---

    def add_patch(
        self,
        *,
        project: int | str | None = None,
        name: str = "test: a new patch",
        date: str | datetime | None = None,
        msgid: str | None = None,
        submitter: Mapping[str, Any] | str | int | None = None,
        series: int | None = None,
        number: int | None = None,
        total: int = 1,
        version: int = 1,
        content: str | None = None,
        diff: str | None = None,
        headers: Mapping[str, str | list[str]] | None = None,
        pull_url: str | None = None,
        state: str = "new",
    ) -> int:
        """A patch mail reaches the list and Patchwork parses it; returns the new patch id.

        ``date`` is the mail's Date (naive UTC; default now) and may be older than patches
        already there, as late mail is. Without ``series`` the patch starts a new series of
        ``total`` patches, as Patchwork does; with it, it joins that series as patch
        ``number`` (default: the next one). Events: ``patch-created``, then ``series-created``
        for a new series, ``patch-completed`` and, when the series is whole,
        ``series-completed``.
        """
        with self.lock:
            listed = self._project(project)
            when = _naive(date).replace(microsecond=0)
            person = self._person(submitter)
            serial = self._s.next_ids["patch"]
            local, _, domain = person["email"].partition("@")
            mid = _bracketed(msgid or f"{when:%Y%m%d%H%M%S}.{serial}-1-{local}@{domain or 'test'}")
            if diff is None and pull_url is None:
                diff = (
                    "diff --git a/README b/README\nindex 3b18e51..a042389 100644\n"
                    "--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n hello world\n"
                    f"+{_strip_prefixes(name)}\n"
                )
            sender = email.utils.formataddr((person.get("name") or "", person["email"]))
            details: Json = {
                "headers": dict(headers) if headers is not None else None,
                "content": content if content is not None else f"Signed-off-by: {sender}",
                "diff": diff,
            }
            pid = self._new_patch(
                listed,
                date=when,
                name=name,
                submitter=person,
                msgid=mid,
                series_id=series,
                number=number,
                total=total,
                version=version,
                pull_url=pull_url,
                hash_=diff_hash(diff) if diff else None,
                details=details,
                clock=None,
                state=self._state_slug(state),
            )
            if details["headers"] is None:
                details["headers"] = self._made_up_headers(self._s.patches[pid])
            return pid

    def add_series(
        self,
        *,
        project: int | str | None = None,
        name: str = "test: a new series",
        count: int = 3,
        cover_letter: bool = True,
        date: str | datetime | None = None,
        submitter: Mapping[str, Any] | str | int | None = None,
        version: int = 1,
        patch_names: Sequence[str] | None = None,
    ) -> int:
        """A whole series reaches the list in order, a second apart; returns the series id.

        With a cover letter the events are ``series-created``, ``cover-created``, then
        ``patch-created``/``patch-completed`` per patch and ``series-completed``; without one
        the first patch comes before its series, as in a real parse.
        """
        if count < 1:
            raise ValueError("a series has at least one patch")
        with self.lock:
            listed = self._project(project)
            when = _naive(date).replace(microsecond=0)
            person = self._person(submitter)
            local, _, domain = person["email"].partition("@")
            stamp = f"{when:%Y%m%d%H%M%S}.{self._s.next_ids['series']}"
            width = len(str(count))
            versioned = [f"v{version}"] if version > 1 else []
            series_id: int | None = None
            if cover_letter:
                prefix = ",".join([*versioned, f"{0:0{width}d}/{count}"])
                cover_name = f"[{prefix}] {name}"
                cover, created = self._new_cover(
                    listed,
                    date=when,
                    name=cover_name,
                    submitter=person,
                    msgid=f"<{stamp}-0-{local}@{domain or 'test'}>",
                    version=version,
                    total=count,
                    details=None,
                    clock=None,
                )
                headers = self._made_up_headers(cover)
                self._s.details[("cover", cover["id"])] = {"headers": headers, "content": name}
                series_id = created["id"]
            for number in range(1, count + 1):
                title = patch_names[number - 1] if patch_names else f"{name} (part {number})"
                prefix = ",".join(
                    [*versioned, *([f"{number:0{width}d}/{count}"] if count > 1 else [])]
                )
                pid = self.add_patch(
                    project=listed["id"],
                    name=f"[{prefix}] {title}" if prefix else title,
                    date=when + timedelta(seconds=number),
                    msgid=f"<{stamp}-{number}-{local}@{domain or 'test'}>",
                    submitter=person["id"],
                    series=series_id,
                    number=number,
                    total=count,
                    version=version,
                )
                series_id = self._s.patches[pid]["series"][0]["id"]
            assert series_id is not None
            return series_id

    def add_comment(
        self,
        parent_id: int,
        msgid: str | None = None,
        date: str | datetime | None = None,
        *,
        kind: str = "patch",
        subject: str | None = None,
        content: str = "",
        submitter: Mapping[str, Any] | str | int | None = None,
        headers: Mapping[str, str | list[str]] | None = None,
    ) -> int:
        """A reply to patch (or, with ``kind="cover"``, cover letter) ``parent_id`` reaches the
        list; Patchwork stores it and emits ``patch-comment-created`` (or the cover one).
        Returns the comment id."""
        if kind not in ("patch", "cover"):
            raise ValueError("kind is 'patch' or 'cover'")
        with self.lock:
            parents = self._s.patches if kind == "patch" else self._s.covers
            parent = parents.get(parent_id)
            if parent is None:
                raise KeyError(f"no {kind} {parent_id}")
            project = self._patch_project(parent)
            person = self._person(submitter)
            cid = self._take_id(f"{kind}_comment")
            collection = "patches" if kind == "patch" else "covers"
            when = _naive(date).replace(microsecond=0)
            mid = _bracketed(msgid or f"{when:%Y%m%d%H%M%S}.{cid}-reply@patchwork.test")
            title = subject if subject is not None else f"Re: {parent['name']}"
            sender = email.utils.formataddr((person.get("name") or "", person["email"]))
            comment = {
                "id": cid,
                "url": f"{_RECORDED_API}{collection}/{parent_id}/comments/{cid}/",
                "web_url": f"{RECORDED_ORIGIN}/comment/{cid}/",
                "msgid": mid,
                "list_archive_url": self._archive_url(project, mid),
                "date": when.isoformat(),
                "subject": title,
                "submitter": person,
                "content": content,
                "headers": dict(headers)
                if headers is not None
                else {
                    "From": sender,
                    "Subject": title,
                    "Date": email.utils.format_datetime(when.replace(tzinfo=UTC)),
                    "Message-ID": mid,
                    "In-Reply-To": parent["msgid"],
                    "References": parent["msgid"],
                },
                "addressed": None,
            }
            self._s.comments.setdefault((kind, parent_id), []).append(comment)
            payload = {
                kind: _embed(parent, _PATCH_EMBEDDED),
                "comment": _embed(comment, _COMMENT_EMBEDDED),
            }
            self._emit(f"{kind}-comment-created", project, payload)
            return cid


# --- answering requests as Patchwork (Django REST framework) does ---

_DJANGO_PAGE: Final = (
    '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>{title}</title>\n</head>\n<body>\n'
    "  <h1>{title}</h1><p>{details}</p>\n</body>\n</html>\n"
)
DJANGO_500: Final = _DJANGO_PAGE.format(title="Server Error (500)", details="")
DJANGO_404: Final = _DJANGO_PAGE.format(
    title="Not Found", details="The requested resource was not found on this server."
)
_NGINX_PAGE: Final = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
    "<center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_LOGIN_NEEDED: Final = "Authentication credentials were not provided."
_READ: Final = "GET, HEAD, OPTIONS"
_UPDATE: Final = "GET, PUT, PATCH, HEAD, OPTIONS"
_CREATE: Final = "GET, POST, HEAD, OPTIONS"


class _Invalid(Exception):
    """A filter value django-filter rejects: Patchwork then answers an empty list."""


class _AwareDatetime(Exception):
    """A timezone-aware since/before: Patchwork 3.2.1 fails with a 500 (USE_TZ=False + SQLite)."""


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class _Call:
    """One request, as the views need it."""

    method: str
    path: str  # routing path, after /api/[version]/
    full_path: str  # the path as requested, for Link headers
    raw_query: str
    pairs: list[tuple[str, str]]
    host: str
    version: str | None  # from the URL; None for the unversioned /api/
    render: str  # the version whose shape the answer takes

    def last(self, name: str) -> str | None:
        """The last value given for ``name``, as Django's QueryDict.get returns."""
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def at_least(self, version: str) -> bool:
        return self.version is None or _version_key(self.version) >= _version_key(version)


def _json_text(value: Any) -> str:
    # DRF's JSONRenderer: compact, UTF-8, and the two JavaScript line separators escaped.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _with_query(url: str, key: str, value: int | None) -> str:
    """DRF's replace_query_param (``value`` None: remove_query_param): keys end up sorted."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    if value is None:
        params.pop(key, None)
    else:
        params[key] = [str(value)]
    return urlunsplit(
        (scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment)
    )


_LOOSE_DATETIME: Final = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<fraction>\d{1,6})\d{0,6})?)?\s*"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _filter_datetime(value: str) -> datetime:
    """A ``since``/``before`` value the way Django's form field reads it; _Invalid if not."""
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _LOOSE_DATETIME.match(text)
    if match is None:
        raise _Invalid(value)
    parts = match.groupdict()
    zone = None
    if parts["zone"] == "Z":
        zone = UTC
    elif parts["zone"]:
        sign = -1 if parts["zone"][0] == "-" else 1
        digits = parts["zone"][1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        zone = timezone(sign * offset)
    try:
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0").ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise _Invalid(value) from exc


_DATE_CACHE: dict[str, datetime | None] = {}


def _object_date(obj: Json) -> datetime | None:
    raw = obj.get("date")
    if not isinstance(raw, str):
        return None
    if raw not in _DATE_CACHE:
        try:
            _DATE_CACHE[raw] = datetime.fromisoformat(raw)
        except ValueError:
            _DATE_CACHE[raw] = None
    return _DATE_CACHE[raw]


def _search_terms(text: str) -> list[str]:
    """DRF's SearchFilter terms: split on spaces and commas, quoted phrases kept whole."""
    terms = re.findall(r'"[^"]*"|\'[^\']*\'|[^\s,]+', text.replace("\x00", ""))
    return [term.strip("\"'") for term in terms if term.strip("\"'")]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


def _ordered(
    items: list[Json], raw: str | None, keys: Mapping[str, Callable[[Json], Any]], default: str
) -> list[Json]:
    """DRF's OrderingFilter: comma-separated fields, unknown ones ignored, else the default."""
    terms = [term.strip() for term in (raw or "").split(",")]
    valid = [t for t in terms if t and t.removeprefix("-") in keys and not t.startswith("--")]
    result = sorted(items, key=lambda obj: obj["id"])
    for term in reversed(valid or [default]):
        field = keys[term.removeprefix("-")]

        def sort_key(obj: Json, field: Callable[[Json], Any] = field) -> tuple[int, Any]:
            return _sort_key(field(obj))

        result.sort(key=sort_key, reverse=term.startswith("-"))
    return result


class _Api:
    """Patchwork's REST views over a :class:`PatchworkData`."""

    def __init__(self, server: PatchworkServer) -> None:
        self.server = server

    @property
    def data(self) -> PatchworkData:
        return self.server.data

    # --- plumbing ---

    def _rewrite(self, text: str, call: _Call) -> str:
        """Our origin and the requested version in every URL; the lore origin if configured."""
        origin = f"http://{call.host}"
        api = f"{origin}/api/{call.version}/" if call.version else f"{origin}/api/"
        text = text.replace(_RECORDED_API, api).replace(RECORDED_ORIGIN, origin)
        lore = self.server.lore_url
        if lore:
            for key in ("list_archive_url", "list_archive_url_format"):
                text = text.replace(f'"{key}":"{LORE_ORIGIN}/', f'"{key}":"{lore.rstrip("/")}/')
        return text

    def _json(
        self,
        call: _Call,
        value: Any,
        *,
        status: int = 200,
        allow: str = _READ,
        link: str | None = None,
    ) -> _Answer:
        headers = [("Content-Type", "application/json")]
        if link:
            headers.append(("Link", link))
        headers += [("Vary", "Accept, Cookie"), ("Allow", allow), ("X-Frame-Options", "DENY")]
        return _Answer(status, self._rewrite(_json_text(value), call).encode(), headers)

    def _detail_error(self, call: _Call, message: str, status: int, allow: str) -> _Answer:
        return self._json(call, {"detail": message}, status=status, allow=allow)

    @staticmethod
    def html(status: int, page: str) -> _Answer:
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("X-Frame-Options", "DENY"),
            ("Vary", "Cookie"),
        ]
        return _Answer(status, page.encode(), headers)

    def _page(self, call: _Call, items: list[Json], shape: str, *, allow: str = _READ) -> _Answer:
        """DRF's PageNumberPagination with Patchwork's Link header."""
        size = self.server.page_size
        raw_size = call.last("per_page")
        if raw_size is not None:
            with contextlib.suppress(ValueError):
                wanted = int(raw_size)
                if wanted > 0:
                    size = min(wanted, self.server.max_page_size)
        pages = max(1, math.ceil(len(items) / size))
        raw_page = call.last("page") or "1"
        try:
            number = pages if raw_page == "last" else int(raw_page)
        except ValueError:
            number = 0
        if not 1 <= number <= pages:
            return self._detail_error(call, "Invalid page.", 404, allow)
        chosen = items[(number - 1) * size : number * size]
        here = f"http://{call.host}{call.full_path}" + (
            f"?{call.raw_query}" if call.raw_query else ""
        )
        links = []
        if number < pages:
            links.append((_with_query(here, "page", number + 1), "next"))
        if number > 1:
            links.append((_with_query(here, "page", number - 1 if number > 2 else None), "prev"))
        links.append((_with_query(here, "page", 1), "first"))
        links.append((_with_query(here, "page", pages), "last"))
        link = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
        body = [_for_version(item, shape, call.render) for item in chosen]
        return self._json(call, body, allow=allow, link=link)

    # --- routing ---

    def handle(self, call: _Call) -> _Answer:
        if call.method not in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
            return self._detail_error(call, f'Method "{call.method}" not allowed.', 405, _READ)
        for pattern, view, allow, since in _ROUTES:
            match = pattern.fullmatch(call.path)
            if match is None or (since is not None and not call.at_least(since)):
                continue
            if call.method == "OPTIONS":
                return self._json(call, _options(view), allow=allow)
            if call.method not in ("GET", "HEAD"):
                if call.method in allow and call.method != "DELETE":
                    # Anonymous writes: DRF refuses them before looking at anything else.
                    return self._detail_error(call, _LOGIN_NEEDED, 403, allow)
                return self._detail_error(call, f'Method "{call.method}" not allowed.', 405, allow)
            handler: Callable[..., _Answer] = getattr(self, f"_view_{view}")
            return handler(call, *match.groups())
        return self.html(404, DJANGO_404)

    @staticmethod
    def routes(call: _Call) -> bool:
        """Whether some view answers this path."""
        return any(
            pattern.fullmatch(call.path) and (since is None or call.at_least(since))
            for pattern, _view, _allow, since in _ROUTES
        )

    # --- views ---

    def _view_index(self, call: _Call) -> _Answer:
        names = ("projects", "users", "people", "patches", "covers", "series", "events", "bundles")
        return self._json(call, {name: f"{_RECORDED_API}{name}/" for name in names})

    def _view_login(self, call: _Call, *_ids: str) -> _Answer:
        # people/ and users/ need a login; anonymously DRF answers 403, not 401.
        allow = _UPDATE if call.path.startswith("users/") and _ids else _READ
        return self._detail_error(call, _LOGIN_NEEDED, 403, allow)

    def _view_projects(self, call: _Call) -> _Answer:
        projects = self.data.list_projects()
        fields = (
            "link_name",
            "list_id",
            "list_email",
            "web_url",
            "scm_url",
            "webscm_url",
            "list_archive_url",
            "list_archive_url_format",
            "commit_url_format",
        )
        projects = self._searched(projects, call, fields)
        keys = {
            "id": lambda p: p["id"],
            "name": lambda p: p["name"],
            "link_name": lambda p: p["link_name"],
            "list_id": lambda p: p["list_id"],
        }
        return self._page(call, _ordered(projects, call.last("order"), keys, "id"), "project")

    def _view_project(self, call: _Call, key: str) -> _Answer:
        project = self.data.get_project(key)
        if project is None:
            return self._detail_error(call, "No Project matches the given query.", 404, _UPDATE)
        return self._json(call, _for_version(project, "project", call.render), allow=_UPDATE)

    def _view_patch(self, call: _Call, pid: str) -> _Answer:
        patch = self.data.get_patch(int(pid), detail=True)
        if patch is None:
            return self._detail_error(call, "No Patch matches the given query.", 404, _UPDATE)
        return self._json(call, _for_version(patch, "patch", call.render), allow=_UPDATE)

    def _view_series_one(self, call: _Call, sid: str) -> _Answer:
        series = self.data.get_series(int(sid))
        if series is None:
            return self._detail_error(call, "No Series matches the given query.", 404, _READ)
        return self._json(call, _for_version(series, "series", call.render))

    def _view_cover(self, call: _Call, cid: str) -> _Answer:
        cover = self.data.get_cover(int(cid), detail=True)
        if cover is None:
            return self._detail_error(call, "No Cover matches the given query.", 404, _READ)
        return self._json(call, _for_version(cover, "cover", call.render))

    def _view_comments(self, call: _Call, parent: str, kind: str) -> _Answer:
        comments = self.data.get_comments(kind, int(parent))
        if comments is None:
            model = "Patch" if kind == "patch" else "Cover"
            return self._detail_error(call, f"No {model} matches the given query.", 404, _READ)
        comments = self._searched(comments, call, ("subject",))
        keys = {
            "id": lambda c: c["id"],
            "subject": lambda c: c.get("subject"),
            "date": _object_date,
            "submitter": lambda c: (c.get("submitter") or {}).get("id"),
        }
        return self._page(call, _ordered(comments, call.last("order"), keys, "id"), "comment")

    def _view_patch_comments(self, call: _Call, parent: str) -> _Answer:
        return self._view_comments(call, parent, "patch")

    def _view_cover_comments(self, call: _Call, parent: str) -> _Answer:
        return self._view_comments(call, parent, "cover")

    def _view_comment(self, call: _Call, parent: str, cid: str, kind: str) -> _Answer:
        comments = self.data.get_comments(kind, int(parent))
        model = "Patch" if kind == "patch" else "Cover"
        if comments is None:
            return self._detail_error(call, f"No {model} matches the given query.", 404, _UPDATE)
        found = next((c for c in comments if c["id"] == int(cid)), None)
        if found is None:
            message = f"No {model}Comment matches the given query."
            return self._detail_error(call, message, 404, _UPDATE)
        return self._json(call, _for_version(found, "comment", call.render), allow=_UPDATE)

    def _view_patch_comment(self, call: _Call, parent: str, cid: str) -> _Answer:
        return self._view_comment(call, parent, cid, "patch")

    def _view_cover_comment(self, call: _Call, parent: str, cid: str) -> _Answer:
        return self._view_comment(call, parent, cid, "cover")

    def _view_checks(self, call: _Call, pid: str) -> _Answer:
        # Nobody ran checks on this instance: every patch has an empty list (and "pending").
        if self.data.get_patch(int(pid)) is None:
            return self._detail_error(call, "No Patch matches the given query.", 404, _CREATE)
        return self._page(call, [], "check", allow=_CREATE)

    def _view_check(self, call: _Call, pid: str, _cid: str) -> _Answer:
        if self.data.get_patch(int(pid)) is None:
            return self._detail_error(call, "No Patch matches the given query.", 404, _READ)
        return self._detail_error(call, "No Check matches the given query.", 404, _READ)

    def _view_bundles(self, call: _Call) -> _Answer:
        return self._page(call, [], "bundle", allow=_CREATE)

    def _view_bundle(self, call: _Call, _bid: str) -> _Answer:
        allow = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
        return self._detail_error(call, "No Bundle matches the given query.", 404, allow)

    # --- lists with filters ---

    def _listed(self, call: _Call, build: Callable[[], list[Json]], shape: str) -> _Answer:
        """Run a filtered list view: invalid filters give [], an aware datetime Django's 500."""
        try:
            items = build()
        except _Invalid:
            items = []
        except _AwareDatetime:
            return self.html(500, DJANGO_500)
        return self._page(call, items, shape)

    def _view_patches(self, call: _Call) -> _Answer:
        return self._listed(call, lambda: self._patches(call), "patch")

    def _view_series(self, call: _Call) -> _Answer:
        return self._listed(call, lambda: self._series(call), "series")

    def _view_covers(self, call: _Call) -> _Answer:
        return self._listed(call, lambda: self._covers(call), "cover")

    def _view_events(self, call: _Call) -> _Answer:
        return self._listed(call, lambda: self._events(call), "event")

    @staticmethod
    def _searched(items: list[Json], call: _Call, fields: Sequence[str]) -> list[Json]:
        terms = [t.lower() for t in _search_terms(call.last("q") or "")]
        if not terms:
            return items
        return [
            item
            for item in items
            if all(any(t in str(item.get(f) or "").lower() for f in fields) for t in terms)
        ]

    # Lookups behave like Patchwork's filter fields: a number is a primary key, anything else
    # the alternate lookup (link name, e-mail, username, state name); a value matching nothing
    # makes the whole filter invalid.

    def _projects_matching(self, values: list[str]) -> set[int]:
        found: set[int] = set()
        projects = self.data.list_projects()
        for value in values:
            try:
                wanted = int(value)
                match = next((p for p in projects if p["id"] == wanted), None)
            except ValueError:
                match = next((p for p in projects if p["link_name"].lower() == value.lower()), None)
            if match is None:
                raise _Invalid(value)
            found.add(match["id"])
        return found

    def _people_matching(self, values: list[str]) -> set[int]:
        people = self.data.people()
        found: set[int] = set()
        for value in values:
            try:
                wanted = int(value)
            except ValueError:
                ids = [
                    p["id"]
                    for p in people.values()
                    if (p.get("email") or "").lower() == value.lower()
                ]
                if not ids:
                    raise _Invalid(value) from None
                found.update(ids)
            else:
                if wanted not in people:
                    raise _Invalid(value)
                found.add(wanted)
        return found

    def _users_matching(self, values: list[str]) -> set[int]:
        users = self.data.users()
        found: set[int] = set()
        for value in values:
            try:
                wanted = int(value)
            except ValueError:
                ids = [u["id"] for u in users.values() if u["username"].lower() == value.lower()]
                if not ids:
                    raise _Invalid(value) from None
                found.update(ids)
            else:
                if wanted not in users:
                    raise _Invalid(value)
                found.add(wanted)
        return found

    def _states_matching(self, values: list[str]) -> set[str]:
        found: set[str] = set()
        for value in values:
            try:
                index = int(value) - 1
                if not 0 <= index < len(self.data.states):
                    raise _Invalid(value)
                found.add(_slug(self.data.states[index]))
            except ValueError:
                wanted = " ".join(value.split("-")).lower()
                names = [n for n in self.data.states if n.lower() == wanted]
                if not names:
                    raise _Invalid(value) from None
                found.add(_slug(names[0]))
        return found

    @staticmethod
    def _ids_existing(values: list[str], existing: Callable[[int], bool]) -> set[int]:
        found: set[int] = set()
        for value in values:
            try:
                wanted = int(value)
            except ValueError:
                raise _Invalid(value) from None
            if not existing(wanted):
                raise _Invalid(value)
            found.add(wanted)
        return found

    def _dates(self, call: _Call) -> tuple[datetime | None, datetime | None, bool]:
        """``since`` and ``before``; the flag says one was timezone-aware (Patchwork's 500)."""
        bounds: list[datetime | None] = []
        aware = False
        for name in ("since", "before"):
            raw = call.last(name)
            if raw is None or raw == "":
                bounds.append(None)
                continue
            moment = _filter_datetime(raw)
            if moment.tzinfo is not None:
                # Patchwork runs with USE_TZ=False: SQLite then refuses aware datetimes.
                aware = True
            bounds.append(moment)
        return bounds[0], bounds[1], aware

    @staticmethod
    def _in_window(
        items: list[Json], since: datetime | None, before: datetime | None
    ) -> list[Json]:
        if since is None and before is None:
            return items
        kept = []
        for item in items:
            moment = _object_date(item)
            if moment is None:
                continue
            if since is not None and moment < since:
                continue
            if before is not None and moment >= before:
                continue
            kept.append(item)
        return kept

    def _patches(self, call: _Call) -> list[Json]:
        data = self.data
        with data.lock:
            projects = self._projects_matching(call.all("project")) if call.all("project") else None
            series = (
                self._ids_existing(call.all("series"), lambda i: data.get_series(i) is not None)
                if call.all("series")
                else None
            )
            submitters = (
                self._people_matching(call.all("submitter")) if call.all("submitter") else None
            )
            delegates = self._users_matching(call.all("delegate")) if call.all("delegate") else None
            states = self._states_matching(call.all("state")) if call.all("state") else None
            since, before, aware = self._dates(call)
            archived = {"1": True, "0": False, "true": True, "false": False}.get(
                (call.last("archived") or "").lower()
            )
            hash_ = call.last("hash") if call.at_least("1.2") else None
            msgid = call.last("msgid") if call.at_least("1.2") else None
            if aware:
                raise _AwareDatetime
            items = data.list_patches()
        if projects is not None:
            items = [p for p in items if p["project"]["id"] in projects]
        if series is not None:
            items = [p for p in items if any(s["id"] in series for s in p.get("series") or [])]
        if submitters is not None:
            items = [p for p in items if (p.get("submitter") or {}).get("id") in submitters]
        if delegates is not None:
            items = [p for p in items if (p.get("delegate") or {}).get("id") in delegates]
        if states is not None:
            items = [p for p in items if p.get("state") in states]
        if archived is not None:
            items = [p for p in items if p.get("archived") is archived]
        if hash_:
            items = [p for p in items if (p.get("hash") or "").lower() == hash_.lower()]
        if msgid:
            items = [p for p in items if p.get("msgid") == f"<{msgid}>"]
        items = self._in_window(items, since, before)
        items = self._searched(items, call, ("name",))
        state_order = {_slug(name): i for i, name in enumerate(data.states)}
        projects_by_id = {p["id"]: p["link_name"] for p in data.list_projects()}
        keys: dict[str, Callable[[Json], Any]] = {
            "id": lambda p: p["id"],
            "name": lambda p: p.get("name"),
            "project": lambda p: projects_by_id.get(p["project"]["id"]),
            "date": _object_date,
            "state": lambda p: state_order.get(p.get("state") or ""),
            "archived": lambda p: p.get("archived"),
            "submitter": lambda p: (p.get("submitter") or {}).get("id"),
            "check": lambda p: p.get("check"),
        }
        return _ordered(items, call.last("order"), keys, "id")

    def _series(self, call: _Call) -> list[Json]:
        data = self.data
        with data.lock:
            projects = self._projects_matching(call.all("project")) if call.all("project") else None
            submitters = (
                self._people_matching(call.all("submitter")) if call.all("submitter") else None
            )
            since, before, aware = self._dates(call)
            if aware:
                raise _AwareDatetime
            items = data.list_series()
        if projects is not None:
            items = [s for s in items if s["project"]["id"] in projects]
        if submitters is not None:
            items = [s for s in items if (s.get("submitter") or {}).get("id") in submitters]
        items = self._searched(self._in_window(items, since, before), call, ("name",))
        keys: dict[str, Callable[[Json], Any]] = {
            "id": lambda s: s["id"],
            "name": lambda s: s.get("name"),
            "date": _object_date,
            "submitter": lambda s: (s.get("submitter") or {}).get("id"),
            "received_all": lambda s: s.get("received_all"),
        }
        return _ordered(items, call.last("order"), keys, "id")

    def _covers(self, call: _Call) -> list[Json]:
        data = self.data
        with data.lock:
            projects = self._projects_matching(call.all("project")) if call.all("project") else None
            # Patchwork 3.2.1 validates this filter against projects, a bug; we check series.
            series = (
                self._ids_existing(call.all("series"), lambda i: data.get_series(i) is not None)
                if call.all("series")
                else None
            )
            submitters = (
                self._people_matching(call.all("submitter")) if call.all("submitter") else None
            )
            since, before, aware = self._dates(call)
            msgid = call.last("msgid")
            if aware:
                raise _AwareDatetime
            items = data.list_covers()
        if projects is not None:
            items = [c for c in items if c["project"]["id"] in projects]
        if series is not None:
            items = [c for c in items if any(s["id"] in series for s in c.get("series") or [])]
        if submitters is not None:
            items = [c for c in items if (c.get("submitter") or {}).get("id") in submitters]
        if msgid:
            items = [c for c in items if c.get("msgid") == f"<{msgid}>"]
        items = self._searched(self._in_window(items, since, before), call, ("name",))
        keys: dict[str, Callable[[Json], Any]] = {
            "id": lambda c: c["id"],
            "name": lambda c: c.get("name"),
            "date": _object_date,
            "submitter": lambda c: (c.get("submitter") or {}).get("id"),
        }
        return _ordered(items, call.last("order"), keys, "id")

    def _events(self, call: _Call) -> list[Json]:
        data = self.data
        with data.lock:
            projects = self._projects_matching(call.all("project")) if call.all("project") else None
            category = call.last("category") or None
            if category is not None and category not in EVENT_CATEGORIES:
                raise _Invalid(category)
            related: dict[str, set[int]] = {}
            lookups: dict[str, Callable[[int], bool]] = {
                "series": lambda i: data.get_series(i) is not None,
                "patch": lambda i: data.get_patch(i) is not None,
                "cover": lambda i: data.get_cover(i) is not None,
            }
            for name, exists in lookups.items():
                if call.all(name):
                    related[name] = self._ids_existing(call.all(name), exists)
            actors = (
                self._users_matching(call.all("actor"))
                if call.all("actor") and call.at_least("1.2")
                else None
            )
            since, before, aware = self._dates(call)
            if aware:
                raise _AwareDatetime
            items = data.list_events()
        if not call.at_least("1.3"):
            # Before API 1.3 there was no comment detail to point at, so Patchwork hides
            # comment events from older clients.
            items = [e for e in items if e["category"] not in _COMMENT_EVENTS]
        if projects is not None:
            items = [e for e in items if e["project"]["id"] in projects]
        if category is not None:
            items = [e for e in items if e["category"] == category]
        for name, wanted in related.items():
            items = [e for e in items if (e["payload"].get(name) or {}).get("id") in wanted]
        if actors is not None:
            items = [e for e in items if (e.get("actor") or {}).get("id") in actors]
        items = self._in_window(items, since, before)
        return _ordered(items, call.last("order"), {"date": _object_date}, "-date")


_VIEW_NAMES: Final = {
    "index": ("Index", ""),
    "projects": ("Project List", "List projects."),
    "project": ("Project Detail", "Show a project."),
    "patches": ("Patch List", "List patches."),
    "patch": ("Patch Detail", "Show a patch."),
    "series": ("Series List", "List series."),
    "series_one": ("Series Detail", "Show a series."),
    "covers": ("Cover List", "List cover letters."),
    "cover": ("Cover Detail", "Show a cover letter."),
    "events": ("Event List", "List events."),
}


def _options(view: str) -> Json:
    """DRF's metadata answer to OPTIONS (what anonymous users get)."""
    name, description = _VIEW_NAMES.get(view, (view.replace("_", " ").title(), ""))
    return {
        "name": name,
        "description": description,
        "renders": ["application/json", "text/html"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }


def _route(
    path: str, view: str, allow: str = _READ, since: str | None = None
) -> tuple[re.Pattern[str], str, str, str | None]:
    return re.compile(path), view, allow, since


# Patchwork 3.2.1's URL patterns under /api/[version]/; comment lists came with API 1.1 and
# comment details with 1.3.
_ROUTES: Final = (
    _route(r"", "index"),
    _route(r"projects/", "projects"),
    _route(r"projects/([^/]+)/", "project", _UPDATE),
    _route(r"patches/", "patches"),
    _route(r"patches/([0-9]+)/", "patch", _UPDATE),
    _route(r"patches/([0-9]+)/comments/", "patch_comments", _READ, "1.1"),
    _route(r"patches/([0-9]+)/comments/([0-9]+)/", "patch_comment", _UPDATE, "1.3"),
    _route(r"patches/([0-9]+)/checks/", "checks", _CREATE),
    _route(r"patches/([0-9]+)/checks/([0-9]+)/", "check"),
    _route(r"covers/", "covers"),
    _route(r"covers/([0-9]+)/", "cover"),
    _route(r"covers/([0-9]+)/comments/", "cover_comments", _READ, "1.1"),
    _route(r"covers/([0-9]+)/comments/([0-9]+)/", "cover_comment", _UPDATE, "1.3"),
    _route(r"series/", "series"),
    _route(r"series/([0-9]+)/", "series_one"),
    _route(r"events/", "events"),
    _route(r"people/", "login"),
    _route(r"people/([0-9]+)/", "login"),
    _route(r"users/", "login"),
    _route(r"users/([0-9]+)/", "login", _UPDATE),
    _route(r"bundles/", "bundles", _CREATE),
    _route(r"bundles/([0-9]+)/", "bundle", "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"),
)


# --- injected faults ---

FAULT_KINDS: Final = ("429", "500", "502", "503", "slow", "malformed", "reset")


@dataclass
class Fault:
    """One injected fault: fires on the first ``times`` matching requests, then is gone."""

    pattern: re.Pattern[str]
    kind: str
    times: int
    delay: float = 5.0
    retry_after: float | None = 1
    method: str | None = None
    query: re.Pattern[str] | None = None
    fired: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.fired

    def matches(self, method: str, path: str, query: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and self.pattern.search(path) is not None
            and (self.query is None or self.query.search(query) is not None)
        )


class Faults:
    """The faults the server injects, first added first; safe to change while it serves.

    Kinds: ``429`` (DRF's throttling answer with ``Retry-After: <retry_after>``), ``500``
    (Django's error page), ``502``/``503`` (a reverse proxy's page), ``slow`` (the real answer
    after ``delay`` seconds), ``malformed`` (200 with the real body cut in half, so invalid
    JSON) and ``reset`` (the connection is closed with a TCP RST, no answer at all).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        path_regex: str,
        kind: str | int,
        times: int = 1,
        *,
        delay: float = 5.0,
        retry_after: float | None = 1,
        method: str | None = None,
        query: str | None = None,
    ) -> Fault:
        """Fire ``kind`` on the next ``times`` requests whose path matches ``path_regex``
        (``re.search``; ``query`` likewise on the query string, ``method`` exactly)."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(
            pattern=re.compile(path_regex),
            kind=kind,
            times=times,
            delay=delay,
            retry_after=retry_after,
            method=method.upper() if method else None,
            query=re.compile(query) if query else None,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, query: str) -> Fault | None:
        """The fault this request meets, if any (it counts as fired)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, query):
                    fault.fired += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class RequestRecord(NamedTuple):
    """One request the server answered; ``status`` is 0 when the connection was reset."""

    method: str
    path: str
    query: str
    status: int


def _throttled(retry_after: float | None) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    wait = math.ceil(retry_after or 0)
    unit = "second" if wait == 1 else "seconds"
    detail = f"Request was throttled. Expected available in {wait} {unit}."
    headers = [(b"content-type", b"application/json")]
    if retry_after is not None:
        headers.append((b"retry-after", str(wait).encode()))
    headers += [(b"vary", b"Accept, Cookie"), (b"allow", _READ.encode())]
    return 429, _json_text({"detail": detail}).encode(), headers


def _canned(kind: str, retry_after: float | None) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    if kind == "429":
        return _throttled(retry_after)
    if kind == "500":
        html = [(b"content-type", b"text/html; charset=utf-8"), (b"x-frame-options", b"DENY")]
        return 500, DJANGO_500.encode(), html
    reason = {"502": "502 Bad Gateway", "503": "503 Service Temporarily Unavailable"}[kind]
    return int(kind), _NGINX_PAGE.format(status=reason).encode(), [(b"content-type", b"text/html")]


async def _reset_connection(send: Send) -> bool:
    """Drop the client's connection without an answer (a RST), if the server lets us.

    ASGI has no message for this; uvicorn's ``send`` is a method of the request cycle, which
    holds the transport. Lingering off makes the close a reset rather than a clean FIN.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.Transport):
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let uvicorn see the connection lost before our app returns, or it would try a 500.
    for _ in range(3):
        await asyncio.sleep(0)
    return True


class _Frontend:
    """The outer ASGI layer: injects faults, then logs what was answered."""

    def __init__(self, app: ASGIApp, server: PatchworkServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        generation = self.server._log_generation

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Logged before the client can have the answer, so a test that counts
                # requests right after its last response sees that request too.
                record = RequestRecord(method, path, query, message["status"])
                self.server._record(record, generation)
            await send(message)

        fault = self.server.faults.take(method, path, query)
        if fault is None:
            await self.app(scope, receive, logged)
        elif fault.kind == "reset":
            self.server._record(RequestRecord(method, path, query, 0), generation)
            if not await _reset_connection(send):
                raise ConnectionResetError("injected reset: the transport was not reachable")
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, logged)
        elif fault.kind == "malformed":
            await self._malformed(scope, receive, logged)
        else:
            code, body, headers = _canned(fault.kind, fault.retry_after)
            headers.append((b"content-length", str(len(body)).encode()))
            await logged({"type": "http.response.start", "status": code, "headers": headers})
            await logged({"type": "http.response.body", "body": body})

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        body = b"".join(chunks)
        cut = body[: max(1, len(body) // 2)]
        headers = [
            (name, value)
            for name, value in (start or {}).get("headers", [])
            if name.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cut})


# --- in process, without a socket ---

IN_PROCESS_ORIGIN: Final = "http://patchwork.test"


class InProcessTransport(httpx.BaseTransport):
    """Answers a synchronous httpx client from an ASGI app, in the client's thread.

    Each request runs the app to completion on an event loop the transport keeps, so a test
    needs neither a port nor a server thread. A request body is read whole before the app
    starts and the answer is returned whole, as a small API's are anyway.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._runner = asyncio.Runner()
        self._lock = threading.Lock()  # one event loop: one request at a time

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path, _, _ = request.url.raw_path.partition(b"?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": raw_path,
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 0),
        }
        body = request.read()
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        async def serve() -> None:
            await self._app(scope, receive, send)

        with self._lock:
            try:
                self._runner.run(serve())
            except ConnectionResetError as exc:  # the "reset" fault: no answer at all
                raise httpx.ReadError(str(exc), request=request) from exc
        return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)

    def close(self) -> None:
        with self._lock:
            self._runner.close()


# --- the server ---


class PatchworkServer:
    """The API on ``url`` (``http://127.0.0.1:PORT``), served by uvicorn in a thread.

    ``data`` may be changed while it runs; ``faults`` injects failures; ``requests`` lists
    every request answered. ``max_page_size`` and ``lore_url`` (an origin replacing
    ``https://lore.kernel.org`` in ``list_archive_url`` fields, e.g. a local public-inbox) can
    be changed at any time. ``newest_version`` is what ``/api/`` serves: 1.3, as Patchwork
    3.2.1 does (``/api/1.4/`` is served too, shaped like Patchwork 3.3's).
    """

    def __init__(
        self,
        data: PatchworkData,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_page_size: int = MAX_PAGE_SIZE,
        page_size: int = DEFAULT_PAGE_SIZE,
        lore_url: str | None = None,
        newest_version: str = "1.3",
        api_versions: Sequence[str] = API_VERSIONS,
    ) -> None:
        if newest_version not in api_versions:
            raise ValueError(f"newest_version {newest_version!r} is not among {api_versions}")
        self.data = data
        self.host = host
        self.port = port
        self.max_page_size = max_page_size
        self.page_size = page_size
        self.lore_url = lore_url
        self.newest_version = newest_version
        self.api_versions = tuple(api_versions)
        self.faults = Faults()
        self.url = ""
        self._defaults = (max_page_size, page_size, lore_url)
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._log_generation = 0
        self._api = _Api(self)
        routes = [Route("/{path:path}", self._endpoint, methods=list(_METHODS))]
        self.app = _Frontend(Starlette(routes=routes), self)
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- request log ---

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far: (method, path, query string, status)."""
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        """Forget the requests so far, and those still being answered (a slow fault's)."""
        with self._log_lock:
            self._log.clear()
            self._log_generation += 1

    def _record(self, record: RequestRecord, generation: int) -> None:
        with self._log_lock:
            if generation == self._log_generation:
                self._log.append(record)

    def reset(self) -> None:
        """Data, faults, request log and settings back to how the server started."""
        self.data.reset()
        self.faults.clear()
        self.reset_log()
        self.max_page_size, self.page_size, self.lore_url = self._defaults

    # --- HTTP ---

    async def _endpoint(self, request: Request) -> Response:
        answer = self.answer(
            request.method,
            request.url.path,
            request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            request.scope.get("query_string", b"").decode("latin-1"),
            request.headers.get("host") or self.url.removeprefix("http://"),
        )
        headers = {"Server": "WSGIServer/0.2 CPython/3.11.7"}
        response = Response(answer.body, status_code=answer.status, headers=headers)
        for name, value in answer.headers:
            response.headers.append(name, value)
        return response

    def _call(self, method: str, path: str, raw_path: str, query: str, host: str) -> _Call | None:
        match = re.fullmatch(r"/api/(?:([0-9]\.[0-9])/)?(.*)", path, re.S)
        if match is None or (match.group(1) and match.group(1) not in self.api_versions):
            return None
        version, rest = match.group(1), match.group(2)
        try:
            pairs = parse_qsl(query, keep_blank_values=True, errors="replace")
        except ValueError:
            pairs = []
        return _Call(
            method=method,
            path=rest,
            full_path=raw_path,
            raw_query=query,
            pairs=pairs,
            host=host,
            version=version,
            render=version or self.newest_version,
        )

    def answer(self, method: str, path: str, raw_path: str, query: str, host: str) -> _Answer:
        """What Patchwork answers to ``method path?query`` sent to ``host``."""
        call = self._call(method, path, raw_path, query, host)
        if call is None or (not call.path.endswith("/") and call.path):
            # Django's APPEND_SLASH: a URL that only matches with a slash is redirected there.
            slashed = self._call(method, path + "/", raw_path + "/", query, host)
            if slashed is not None and self._api.routes(slashed):
                location = raw_path + "/" + (f"?{query}" if query else "")
                headers = [("Content-Type", "text/html; charset=utf-8"), ("Location", location)]
                return _Answer(301, b"", headers)
        if call is None:
            return _Api.html(404, DJANGO_404)
        return self._api.handle(call)

    # --- running ---

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        return sock

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            log_config=None,  # leave the test run's logging alone
            access_log=False,
            http="h11",  # the connection reset fault needs h11's request cycle
            loop="asyncio",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )

    def start(self) -> Self:
        """Serve in a background thread; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._socket = self._bind()
        self._uvicorn = uvicorn.Server(self._config())
        self._thread = threading.Thread(
            target=self._uvicorn.run,
            kwargs={"sockets": [self._socket]},
            name=f"patchwork-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Patchwork test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._uvicorn = self._socket = None

    def transport(self, origin: str = IN_PROCESS_ORIGIN) -> InProcessTransport:
        """The API for an httpx client, answered without a socket (see
        :class:`InProcessTransport`); ``url`` becomes ``origin``, where to send requests.

        Faults and the request log work as over loopback; a ``reset`` fault is a read error.
        """
        if self._thread is not None:
            raise RuntimeError("already serving on a socket")
        self.url = origin.rstrip("/")
        return InProcessTransport(self.app)

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (SIGINT/SIGTERM), printing the URL first."""
        sock = self._bind()
        print(f"Patchwork test server at {self.url}/api/1.3/", flush=True)
        try:
            uvicorn.Server(self._config()).run(sockets=[sock])
        finally:
            sock.close()

    def __enter__(self) -> Self:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


_METHODS: Final = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")


def run_patchwork_server(
    data: PatchworkData | None = None,
    *,
    max_page_size: int = MAX_PAGE_SIZE,
    lore_url: str | None = None,
    newest_version: str = "1.3",
    port: int = 0,
) -> PatchworkServer:
    """A started :class:`PatchworkServer` on an ephemeral loopback port (the netfilter-devel
    dump by default); use it in a ``with`` block, or call ``stop()``."""
    server = PatchworkServer(
        data if data is not None else PatchworkData.from_dump(),
        port=port,
        max_page_size=max_page_size,
        lore_url=lore_url,
        newest_version=newest_version,
    )
    return server.start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peers.patchwork_server",
        description="Serve a Patchwork 3.2.1 REST API from a recorded dump, on loopback.",
    )
    parser.add_argument("--dump", type=Path, help="dump folder (default: netfilter-devel)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="serve N synthetic patches")
    parser.add_argument("--project", default="synthetic", help="link name of synthetic data")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--lore-url", help="origin replacing https://lore.kernel.org")
    parser.add_argument("--max-page-size", type=int, default=MAX_PAGE_SIZE)
    args = parser.parse_args(argv)
    if args.synthetic is not None:
        data = PatchworkData.synthetic(args.synthetic, args.project, dump=args.dump)
    else:
        data = PatchworkData.from_dump(args.dump)
    server = PatchworkServer(
        data,
        host=args.host,
        port=args.port,
        max_page_size=args.max_page_size,
        lore_url=args.lore_url,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

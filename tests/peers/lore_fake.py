# SPDX-License-Identifier: GPL-2.0-or-later
"""A lore (public-inbox) fake at the HTTP level, for fast tests: an httpx transport, no process.

It answers the three requests the product and its tests make of lore, the way the real server
in :mod:`tests.peers.public_inbox` does (see ``tests/integration/test_public_inbox_peer.py``):

* ``GET /<list>/<msgid>/t.mbox.gz``: the gzip mboxrd of the message's thread: every message
  linked to it through In-Reply-To and References, in the order they were received;
* ``GET /<list>/<msgid>/raw``: the message as stored, as a one-message mboxrd;
* ``POST /<list>/?q=rt:FROM..[TO]&x=m``: the gzip mboxrd of the messages received in that
  range of epoch seconds, both ends included (the only search the product sends).

Unknown lists and Message-IDs, and searches matching nothing, answer 404 as public-inbox does;
a query it does not understand answers 400, so that a test notices a new kind of search.
Messages come from the corpus with the time they were received (by default their Date, as a
list delivers at once); :meth:`LoreFake.deliver` adds mail while a test runs.

    lore = LoreFake()
    lore.add_inbox("linux-pwm", mbox_messages(threads_path("pwm-th1520-v1-v3.mbox")))
    client = LoreClient(HttpClient(transport=lore.transport(), interval=0), lore.url)
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, NamedTuple
from urllib.parse import parse_qs, unquote

import httpx
from tests.peers.public_inbox import MBOXRD_FROM, mboxrd_quote

__all__ = ["LORE_FAKE_ORIGIN", "LoreFake", "LoreRequest"]

LORE_FAKE_ORIGIN: Final = "http://lore.test"
_MSGID = re.compile(r"<([^<>\s]+)>")
_RECEIVED_RANGE = re.compile(r"rt:(\d+)\.\.(\d*)")
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class LoreRequest(NamedTuple):
    """One request the fake answered: method, path as sent, the search (if any), status."""

    method: str
    path: str
    query: str | None
    status: int


@dataclass(frozen=True)
class _Mail:
    message_id: str
    links: tuple[str, ...]  # In-Reply-To and References, as Message-IDs
    received: datetime
    raw: bytes


def _mail(raw: bytes, received: datetime | None) -> _Mail:
    headers = _HEADERS.parsebytes(raw)
    found = _MSGID.findall(headers.get("Message-ID", ""))
    if not found:
        raise ValueError("a message without a Message-ID cannot be archived")
    links = [*_MSGID.findall(headers.get("References", ""))]
    links += _MSGID.findall(headers.get("In-Reply-To", ""))
    if received is None:
        received = email.utils.parsedate_to_datetime(headers["Date"])
    return _Mail(found[0], tuple(links), received.astimezone(UTC), raw)


def _mboxrd(mails: Iterable[_Mail]) -> bytes:
    parts = []
    for mail in mails:
        body = mboxrd_quote(mail.raw.replace(b"\r\n", b"\n"))
        parts += [MBOXRD_FROM, body, b"" if body.endswith(b"\n") else b"\n", b"\n"]
    return b"".join(parts)


def _mbox_gz(mails: Iterable[_Mail]) -> bytes:
    return gzip.compress(_mboxrd(mails), mtime=0)


class _Inbox:
    def __init__(self) -> None:
        self.mails: dict[str, _Mail] = {}

    def add(self, mail: _Mail) -> None:
        self.mails.setdefault(mail.message_id, mail)

    def ordered(self, mails: Iterable[_Mail]) -> list[_Mail]:
        return sorted(mails, key=lambda m: m.received)

    def thread(self, message_id: str) -> list[_Mail]:
        """Every message connected to ``message_id`` by In-Reply-To or References."""
        neighbours: dict[str, set[str]] = {}
        for mail in self.mails.values():
            for link in mail.links:
                neighbours.setdefault(mail.message_id, set()).add(link)
                neighbours.setdefault(link, set()).add(mail.message_id)
        seen, todo = {message_id}, [message_id]
        while todo:
            for other in neighbours.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return self.ordered(self.mails[m] for m in seen if m in self.mails)

    def received_between(self, first: int, last: int | None) -> list[_Mail]:
        return self.ordered(
            m
            for m in self.mails.values()
            if first <= m.received.timestamp() and (last is None or m.received.timestamp() <= last)
        )


class LoreFake:
    """Inboxes by list name, served by :meth:`transport` at :attr:`url`; logs every request."""

    def __init__(self, url: str = LORE_FAKE_ORIGIN) -> None:
        self.url = url.rstrip("/")
        self.requests: list[LoreRequest] = []
        self._inboxes: dict[str, _Inbox] = {}

    def add_inbox(self, list_name: str, messages: Iterable[bytes] = ()) -> None:
        """An inbox holding ``messages`` (raw), each received at its Date."""
        inbox = self._inboxes.setdefault(list_name, _Inbox())
        for raw in messages:
            inbox.add(_mail(raw, None))

    def deliver(self, list_name: str, raw: bytes, *, received: datetime | None = None) -> None:
        """New mail reaches the list: served at once, and found by ``rt:`` searches at
        ``received`` (by default its Date)."""
        self._inboxes[list_name].add(_mail(raw, received))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.partition(b"?")[0].decode("ascii")
        # Split before unescaping: a Message-ID may hold an escaped "/".
        segments = [unquote(part) for part in raw_path.strip("/").split("/")]
        query = parse_qs(request.url.query.decode("ascii")).get("q", [None])[0]
        response = self._route(request.method, segments, query)
        self.requests.append(LoreRequest(request.method, raw_path, query, response.status_code))
        return response

    def _route(self, method: str, segments: list[str], query: str | None) -> httpx.Response:
        inbox = self._inboxes.get(segments[0])
        if inbox is None:
            return httpx.Response(404, text="404 Not Found\n")
        if method == "POST" and len(segments) == 1 and query is not None:
            return self._search(inbox, query)
        if method == "GET" and len(segments) == 3 and segments[1] in inbox.mails:
            message_id, view = segments[1], segments[2]
            if view == "t.mbox.gz":
                return httpx.Response(
                    200,
                    content=_mbox_gz(inbox.thread(message_id)),
                    headers={"Content-Type": "application/gzip"},
                )
            if view == "raw":
                return httpx.Response(
                    200,
                    content=_mboxrd([inbox.mails[message_id]]),
                    headers={"Content-Type": "text/plain; charset=UTF-8"},
                )
        return httpx.Response(404, text="404 Not Found\n")

    def _search(self, inbox: _Inbox, query: str) -> httpx.Response:
        match = _RECEIVED_RANGE.fullmatch(query.strip())
        if match is None:
            return httpx.Response(400, text=f"the lore fake only searches rt:, not {query!r}\n")
        last = int(match.group(2)) if match.group(2) else None
        found = inbox.received_between(int(match.group(1)), last)
        if not found:
            return httpx.Response(404, text="404 Not Found\n")
        return httpx.Response(
            200,
            content=_mbox_gz(found),
            headers={
                "Content-Type": "application/gzip",
                "Content-Disposition": "inline; filename=results-search.mbox.gz",
            },
        )

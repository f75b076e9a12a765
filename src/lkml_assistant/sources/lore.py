# SPDX-License-Identifier: GPL-2.0-or-later
"""Client of lore.kernel.org, or of any public-inbox server (a mirror, a local one in tests).

Two calls are all the discussion jobs need, each as raw bytes or as parsed messages:

* ``thread_mbox`` / ``thread`` — ``GET /<list>/<msgid>/t.mbox.gz``: a whole thread in one
  request (a download cut short is asked for once more);
* ``search_mbox`` / ``search`` — ``POST /<list>/?q=QUERY&x=m`` with an empty body: only the
  matching messages (public-inbox expands to whole threads when the body carries ``x=…``).

What the messages mean is :mod:`lkml_assistant.intel`'s business, not this client's.

It runs on the project's shared :class:`~lkml_assistant.sources.http.HttpClient` rather than on
liblore: see docs/lore-client.md for the measurements behind that choice.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import httpx

from lkml_assistant.sources.http import HttpClient
from lkml_assistant.sources.mail import ParsedMbox, parse_mbox

log = logging.getLogger(__name__)

# RFC 3986 sub-delims and ":" "@" may stand in a path segment; public-inbox's own links leave
# them as they are. "/", "%", "?", "#" and spaces are escaped.
_PCHAR_SAFE = "!$&'()*+,;=:@"
_GZIP_MAGIC = b"\x1f\x8b"


def escape_message_id(message_id: str) -> str:
    """One path segment for a Message-ID, which can never leave the intended path."""
    escaped = quote(message_id, safe=_PCHAR_SAFE)
    if escaped.strip(".") == "":
        # "." and ".." would be path navigation, not a Message-ID.
        escaped = escaped.replace(".", "%2E")
    return escaped


def message_url(base_url: str, list_name: str, message_id: str) -> str:
    """A message's page on a public-inbox origin (lore or a mirror)."""
    return f"{base_url.rstrip('/')}/{escape_message_id(list_name)}/{escape_message_id(message_id)}/"


def list_from_archive_url(url: str | None) -> str | None:
    """``https://lore.kernel.org/netfilter-devel/<msgid>/`` → ``netfilter-devel``."""
    if not url:
        return None
    segments = [part for part in urlsplit(url).path.split("/") if part]
    return segments[0] if segments else None


def list_from_list_id(list_id: str | None) -> str | None:
    """vger lists are archived under their local part: ``linux-pwm.vger.kernel.org``."""
    if not list_id:
        return None
    return list_id.strip("<>").split(".", 1)[0] or None


def _must_be_gzip(response: httpx.Response) -> None:
    if not response.content.startswith(_GZIP_MAGIC):
        raise ValueError("not a gzip stream")


class LoreClient:
    """Reads one public-inbox origin; ``base_url`` replaces lore's origin in every URL."""

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def list_url(self, list_name: str) -> str:
        return f"{self.base_url}/{escape_message_id(list_name)}/"

    def message_url(self, list_name: str, message_id: str) -> str:
        return message_url(self.base_url, list_name, message_id)

    def thread_mbox(self, list_name: str, message_id: str) -> bytes | None:
        """The gzip mboxrd of the thread holding ``message_id``; None when lore has no such mail."""
        url = self.message_url(list_name, message_id) + "t.mbox.gz"
        response = self.http.get(url, validate=_must_be_gzip)
        if response.status_code == 404:
            return None
        return response.content

    def search_mbox(self, list_name: str, query: str) -> bytes | None:
        """The gzip mboxrd of the messages matching ``query``; None when nothing matches."""
        response = self.http.request(
            "POST",
            self.list_url(list_name),
            params={"q": query, "x": "m"},
            content=b"",
            validate=_must_be_gzip,
        )
        if response.status_code == 404:
            return None
        return response.content

    def thread(self, list_name: str, message_id: str) -> ParsedMbox | None:
        """The messages of the thread holding ``message_id``; None when lore has no such mail.

        A download cut short (a dropped connection mid-stream) is fetched once more; if the
        second is short too, what it holds is returned with ``complete`` False.
        """
        data = self.thread_mbox(list_name, message_id)
        if data is None:
            return None
        mbox = parse_mbox(data)
        if not mbox.complete:
            log.warning("thread %s: download cut short, fetching once more", message_id)
            data = self.thread_mbox(list_name, message_id)
            if data is None:
                return None
            mbox = parse_mbox(data)
        return mbox

    def search(self, list_name: str, query: str) -> ParsedMbox | None:
        """The messages matching ``query``; None when nothing matches."""
        data = self.search_mbox(list_name, query)
        return None if data is None else parse_mbox(data)

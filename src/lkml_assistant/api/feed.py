# SPDX-License-Identifier: GPL-2.0-or-later
"""An Atom feed (RFC 4287) of a patch list, for people who follow the lists in a feed reader.

Any filter of ``/patches`` makes a feed: ``/patches.atom?project=netdevbpf&review_status=
reviewed``. An entry is one patch; its ``updated`` is the last activity on it (the newest
reply, else the submission), so a reader shows a patch again when the discussion moves on.
Built with ElementTree, so every text is escaped and the document is well formed whatever
the mail contains.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from lkml_assistant.models.api import PatchItem

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
LORE = "https://lore.kernel.org"

ET.register_namespace("", ATOM)


def _tag(name: str) -> str:
    return f"{{{ATOM}}}{name}"


def _text(parent: ET.Element, name: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _tag(name), attrs)
    element.text = text
    return element


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _updated(item: PatchItem) -> datetime:
    last = item.review.last_activity if item.review else None
    return max(item.date, last) if last else item.date


def _link(item: PatchItem) -> str:
    return item.web_url or f"{LORE}/r/{quote(item.msgid, safe='@!$&*+,;=:')}/"


def _summary(item: PatchItem) -> str:
    parts = [f"state {item.state}", f"review {item.review_status}"]
    if item.review:
        r = item.review
        parts.append(f"{r.reply_count} replies")
        for count, label in (
            (r.reviewed_by, "Reviewed-by"),
            (r.acked_by, "Acked-by"),
            (r.tested_by, "Tested-by"),
            (r.naks, "NAK"),
        ):
            if count:
                parts.append(f"{count} {label}")
    return ", ".join(parts)


def atom_feed(
    items: Sequence[PatchItem],
    *,
    title: str,
    self_url: str,
    feed_id: str,
    summaries: Mapping[int, str] | None = None,
) -> bytes:
    """The feed document, UTF-8 encoded; ``summaries`` replace an entry's summary by patch id."""
    feed = ET.Element(_tag("feed"))
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    newest = max((_updated(i) for i in items), default=datetime(1970, 1, 1, tzinfo=UTC))
    _text(feed, "updated", _stamp(newest))
    ET.SubElement(feed, _tag("link"), {"rel": "self", "href": self_url})
    _text(feed, "generator", "LKML Assistant")
    for item in items:
        entry = ET.SubElement(feed, _tag("entry"))
        _text(entry, "id", f"urn:lkml-assistant:patch:{item.project}:{item.id}")
        _text(entry, "title", item.name)
        _text(entry, "updated", _stamp(_updated(item)))
        _text(entry, "published", _stamp(item.date))
        author = ET.SubElement(entry, _tag("author"))
        _text(author, "name", item.submitter.name or item.submitter.email)
        _text(author, "email", item.submitter.email)
        ET.SubElement(entry, _tag("link"), {"rel": "alternate", "href": _link(item)})
        for term in (item.project, item.state, item.review_status):
            ET.SubElement(entry, _tag("category"), {"term": term})
        _text(entry, "summary", (summaries or {}).get(item.id) or _summary(item))
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body

# SPDX-License-Identifier: GPL-2.0-or-later
"""Keyset cursors of patch lists.

A cursor names the last patch served, (date, id), so patches that arrive between two requests
neither shift nor repeat what follows. It also carries a hash of the filters it was made for
and is refused with other filters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime

from lkml_assistant.repositories.base import PageMark, PatchQuery
from lkml_assistant.services.queries.errors import invalid
from lkml_assistant.services.queries.validation import MAX_CURSOR_LENGTH, MAX_ID


def _filters_hash(query: PatchQuery) -> str:
    canonical = json.dumps(
        [
            query.project,
            list(query.states),
            query.submitter.casefold() if query.submitter else None,
            query.series_id,
            list(query.words),
            query.since.isoformat() if query.since else None,
            query.until.isoformat() if query.until else None,
            *([list(query.review_states)] if query.review_states else []),
            *([query.msgid] if query.msgid is not None else []),
        ]
    )
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def encode_cursor(mark: PageMark, query: PatchQuery) -> str:
    payload = json.dumps([mark.date.isoformat(), mark.id, _filters_hash(query)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query: PatchQuery) -> PageMark:
    """The position a cursor names; 400 for anything not made by :func:`encode_cursor`."""
    bad = invalid("query.cursor", "not a cursor this API gave out", "cursor_invalid")
    text = cursor.strip()
    if not text or len(text) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        date_text, patch_id, digest = json.loads(raw)
        if not (isinstance(date_text, str) and isinstance(digest, str)):
            raise bad
        if type(patch_id) is not int or not 0 <= patch_id <= MAX_ID:
            raise bad
        date = datetime.fromisoformat(date_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise bad from exc
    if date.tzinfo is None:
        raise bad
    if digest != _filters_hash(query):
        raise invalid(
            "query.cursor", "was made for other filters: repeat the same filters", "cursor_mismatch"
        )
    return PageMark(date=date, id=patch_id)

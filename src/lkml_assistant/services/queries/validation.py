# SPDX-License-Identifier: GPL-2.0-or-later
"""Checking what a request asks for, before the store is asked anything.

Every check raises :class:`~.errors.InvalidRequestError` with the parameter's location
(``query.limit``, ``path.patch_id``); :func:`build_patch_query` reports every problem of a list
request at once and returns the normalised :class:`PatchQuery`. The bounds are public: the
routes state the same ones in the OpenAPI schema. :func:`check_parameters` is what every
route refuses before its own checks: parameters it does not read, and control characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from lkml_assistant.models.api import ErrorDetail
from lkml_assistant.models.domain import MessageId
from lkml_assistant.models.review import REVIEW_STATUSES, ReviewStatus
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.services.queries.errors import InvalidRequestError, invalid

DEFAULT_LIMIT = 30
MAX_LIMIT = 200
MAX_ID = 2**63 - 1  # SQLite's INTEGER; larger ids cannot exist and would not bind
MAX_STATES = 20
MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 16
MAX_EMAIL_LENGTH = 254
MAX_CURSOR_LENGTH = 256
MAX_CHANGES = 1000
MAX_MSGID_LENGTH = 998  # RFC 5322's longest line

_T = TypeVar("_T")
# C0 controls and DEL. No text the API takes holds one, and SQLite's title search fails on NUL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MESSAGE_ID: TypeAdapter[str] = TypeAdapter(MessageId)


def check_parameters(
    query: Mapping[str, Sequence[str]], path: Mapping[str, object], accepted: Collection[str]
) -> None:
    """Refuse a query parameter the route does not read, and control characters anywhere.

    An unknown parameter is most often a misspelt filter (``status`` for ``review_status``,
    Patchwork's ``per_page``): ignoring it would answer as if the filter had worked.
    """
    problems: list[ErrorDetail] = []
    takes = ", ".join(sorted(accepted)) or "none"
    for name in sorted(set(query) - set(accepted)):
        problems.append(
            ErrorDetail(
                loc=f"query.{name}",
                msg=f"unknown parameter; this route takes {takes}",
                type="unknown_parameter",
            )
        )
    given = [(f"path.{name}", value) for name, value in path.items() if isinstance(value, str)]
    given += [(f"query.{name}", value) for name, values in query.items() for value in values]
    flagged: set[str] = set()
    for loc, value in given:
        found = _control_characters(value, loc) if loc not in flagged else []
        if found:
            flagged.add(loc)  # once per parameter, however often it is repeated
            problems.extend(found)
    if problems:
        raise InvalidRequestError(problems)


def check_text(value: str, loc: str) -> None:
    """The control-character rule alone (a path no route matched is still checked by it)."""
    problems = _control_characters(value, loc)
    if problems:
        raise InvalidRequestError(problems)


def _control_characters(value: str, loc: str) -> list[ErrorDetail]:
    found = _CONTROL.search(value)
    if found is None:
        return []
    message = f"must not contain control characters (found U+{ord(found[0]):04X})"
    return [ErrorDetail(loc=loc, msg=message, type="value_error")]


def check_email(email: str, loc: str) -> str:
    address = email.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(address) > MAX_EMAIL_LENGTH
        or any(ch.isspace() for ch in address)
    ):
        raise invalid(loc, "must be an e-mail address such as name@example.org")
    return address


def check_id(value: int, loc: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise invalid(loc, f"must be between 1 and {MAX_ID}")
    return value


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("query.limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def check_changes_request(updated_since: str | None, limit: int) -> None:
    """``/changes`` pages are larger than patch pages; its cursor is the store's own text."""
    if not 1 <= limit <= MAX_CHANGES:
        raise invalid("query.limit", f"must be between 1 and {MAX_CHANGES}")
    if updated_since is not None and (
        not updated_since.strip() or len(updated_since) > MAX_CURSOR_LENGTH
    ):
        raise invalid("query.updated_since", "not a cursor this API gave out", "cursor_invalid")


def _state(value: str) -> str:
    slug = value.strip().lower()
    if not slug or len(slug) > 64 or not all(ch.isalnum() or ch == "-" for ch in slug):
        raise invalid("query.state", f"not a state slug such as new or under-review: {value!r}")
    return slug


def _words(q: str) -> tuple[str, ...]:
    if len(q) > MAX_QUERY_LENGTH:
        raise invalid("query.q", f"at most {MAX_QUERY_LENGTH} characters")
    # A word with no letter or digit ("-", "[") would be an empty phrase to the index.
    words = tuple(dict.fromkeys(w.casefold() for w in q.split() if any(c.isalnum() for c in w)))
    if not words:
        raise invalid("query.q", "names no word to search for")
    if len(words) > MAX_QUERY_WORDS:
        raise invalid("query.q", f"at most {MAX_QUERY_WORDS} words")
    return words


def _msgid(value: str) -> str:
    """A Message-ID as the store keeps it: the domain's rule, angle brackets optional."""
    if len(value) > MAX_MSGID_LENGTH:
        raise invalid("query.msgid", f"at most {MAX_MSGID_LENGTH} characters")
    try:
        return _MESSAGE_ID.validate_python(value)
    except ValidationError:
        raise invalid("query.msgid", "not a Message-ID such as <id@example.org>") from None


def _utc(moment: datetime, loc: str) -> datetime:
    """Naive times are taken as UTC; the store keeps UTC text with four-digit years."""
    try:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise invalid(loc, "date out of range") from exc
    if not 1 <= utc.year <= 9998:
        raise invalid(loc, "date out of range")
    return utc


def build_patch_query(
    *,
    project: str | None = None,
    state: Sequence[str] = (),
    submitter: str | None = None,
    series: int | None = None,
    q: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: Sequence[str] = (),
    msgid: str | None = None,
) -> PatchQuery:
    """Check list filters and normalise them; every problem found is reported at once."""
    problems: list[ErrorDetail] = []

    def checked(check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except InvalidRequestError as exc:
            problems.extend(exc.details)
            return None

    if project is not None:
        project = project.strip()
        if not project or len(project) > 100:
            problems.append(
                ErrorDetail(loc="query.project", msg="empty or longer than 100", type="value_error")
            )
    if len(state) > MAX_STATES:
        problems.append(
            ErrorDetail(loc="query.state", msg=f"at most {MAX_STATES} states", type="value_error")
        )
    states = [checked(functools.partial(_state, value)) for value in state[:MAX_STATES]]
    address = (
        checked(lambda: check_email(submitter, "query.submitter"))
        if submitter is not None
        else None
    )
    if series is not None:
        checked(lambda: check_id(series, "query.series"))
    words = checked(lambda: _words(q)) if q is not None else ()
    message_id = checked(lambda: _msgid(msgid)) if msgid is not None else None
    since_utc = checked(lambda: _utc(since, "query.since")) if since is not None else None
    until_utc = checked(lambda: _utc(until, "query.until")) if until is not None else None
    if since_utc is not None and until_utc is not None and since_utc >= until_utc:
        problems.append(
            ErrorDetail(loc="query.until", msg="must be after since", type="value_error")
        )
    review_states = {value.strip().casefold() for value in review_status}
    for value in sorted(review_states - set(ReviewStatus)):
        problems.append(
            ErrorDetail(
                loc="query.review_status",
                msg=f"{value!r} is not one of {REVIEW_STATUSES}",
                type="value_error",
            )
        )
    if problems:
        raise InvalidRequestError(problems)
    return PatchQuery(
        project=project,
        states=tuple(sorted({s for s in states if s is not None})),
        submitter=address,
        series_id=series,
        words=words or (),
        since=since_utc,
        until=until_utc,
        review_states=tuple(sorted(review_states)),
        msgid=message_id,
    )

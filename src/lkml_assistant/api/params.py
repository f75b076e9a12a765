# SPDX-License-Identifier: GPL-2.0-or-later
"""The parameters routes take, declared once: the JSON API and the pages for people read the
same names with the same bounds (Powertools checks them and documents them in the schema)."""

# No `from __future__ import annotations`: Powertools reads these at runtime.

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from lkml_assistant.models.review import REVIEW_STATUSES
from lkml_assistant.services.queries.validation import (
    MAX_CURSOR_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_ID,
    MAX_LIMIT,
    MAX_MSGID_LENGTH,
    MAX_QUERY_LENGTH,
)

PatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="Patchwork's patch id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="next_cursor of the previous page; only valid with the same filters.",
    ),
]


ReviewStatusFilter = Annotated[
    list[str] | None,
    Query(description=f"review status ({REVIEW_STATUSES}); repeat for any of several"),
]
SeriesId = Annotated[int, Path(ge=1, le=MAX_ID, description="Patchwork's series id.")]
MsgidFilter = Annotated[
    str | None,
    Query(
        max_length=MAX_MSGID_LENGTH,
        description="the patch mail's Message-ID, with or without angle brackets",
    ),
]
Email = Annotated[str, Path(max_length=MAX_EMAIL_LENGTH, description="e-mail address")]
ProjectFilter = Annotated[str | None, Query(max_length=100, description="link name")]
StateFilter = Annotated[
    list[str] | None, Query(description="state slug; repeat for any of several")
]
SubmitterFilter = Annotated[
    str | None, Query(max_length=MAX_EMAIL_LENGTH, description="submitter's e-mail")
]
SeriesFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="series id")]
AgainstFilter = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="an earlier version's series id (default: the previous)"),
]
WordsFilter = Annotated[
    str | None,
    Query(max_length=MAX_QUERY_LENGTH, description="words that must all be in the title"),
]
SinceFilter = Annotated[
    datetime | None, Query(description="submitted at or after (ISO 8601; naive = UTC)")
]
UntilFilter = Annotated[datetime | None, Query(description="submitted before")]

# SPDX-License-Identifier: GPL-2.0-or-later
"""Domain models of Patchwork's world: projects, people, patches, series and their states.

These are what services reason about. They carry no storage or wire details: the mapping from
Patchwork JSON lives in :mod:`lkml_assistant.sources.patchwork_mapping`, the stored shape in
:mod:`lkml_assistant.models.records`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Letters, digits (str.isalnum) and hyphens; one regex, as every stored patch read checks it.
_STATE_SLUG = re.compile(r"(?:[^\W_]|-)+")


def _state_slug(value: str) -> str:
    slug = value.strip().lower()
    if not _STATE_SLUG.fullmatch(slug):
        raise ValueError(f"not a patch state: {value!r}")
    return slug


_WHITESPACE = re.compile(r"\s")


def _message_id(value: str) -> str:
    """Message-IDs are kept without angle brackets, as lore and Patchwork's filter take them."""
    msgid = value.strip()
    if msgid.startswith("<") and msgid.endswith(">"):
        msgid = msgid[1:-1].strip()
    if not msgid or _WHITESPACE.search(msgid):
        raise ValueError(f"not a Message-ID: {value!r}")
    return msgid


StateSlug = Annotated[str, AfterValidator(_state_slug)]
MessageId = Annotated[str, AfterValidator(_message_id)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Project(_Frozen):
    id: int = Field(gt=0)
    link_name: str = Field(min_length=1)
    name: str
    list_id: str = ""
    list_email: str = ""
    list_archive_url: str = ""
    list_archive_url_format: str = ""


class Person(_Frozen):
    """A mail sender as Patchwork knows it (id is Patchwork's person or user id)."""

    id: int | None = None
    name: str | None = None
    email: str = Field(min_length=3)


class SeriesRef(_Frozen):
    """What a patch says about the series it belongs to."""

    id: int = Field(gt=0)
    name: str | None = None
    version: int = Field(ge=0)
    date: datetime


class Patch(_Frozen):
    id: int = Field(gt=0)
    project: str = Field(min_length=1, description="Project link name.")
    msgid: MessageId
    list_archive_url: str | None = None
    date: datetime = Field(description="Submission date, timezone-aware UTC.")
    name: str
    state: StateSlug
    archived: bool
    hash: str | None = None
    submitter: Person
    delegate: Person | None = None
    series: tuple[SeriesRef, ...] = ()
    pull_url: str | None = None
    commit_ref: str | None = None
    web_url: str | None = None


class CoverRef(_Frozen):
    id: int = Field(gt=0)
    msgid: MessageId
    name: str | None = None
    date: datetime | None = None
    list_archive_url: str | None = None


class Series(_Frozen):
    id: int = Field(gt=0)
    project: str = Field(min_length=1)
    name: str | None = None
    date: datetime
    version: int = Field(ge=0)
    total: int = Field(ge=0)
    received_total: int = Field(ge=0)
    received_all: bool
    submitter: Person
    cover_letter: CoverRef | None = None
    patch_ids: tuple[int, ...] = ()
    web_url: str | None = None

# SPDX-License-Identifier: GPL-2.0-or-later
"""Explicit mapping from Patchwork's JSON to the domain models.

Each object is validated on its own: a malformed one raises :class:`MappingError` with a reason
that the caller logs before skipping it, so one bad object never sinks a page.
Patchwork's timestamps are naive and in the server's time zone; here they become aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lkml_assistant.models.domain import CoverRef, Patch, Person, Project, Series, SeriesRef


class MappingError(ValueError):
    """A Patchwork object that cannot be turned into a domain object."""

    def __init__(self, kind: str, object_id: object, reason: str) -> None:
        self.kind = kind
        self.object_id = object_id
        self.reason = reason
        super().__init__(f"{kind} {object_id}: {reason}")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _WireProject(_Wire):
    id: int
    link_name: str
    name: str
    list_id: str | None = None
    list_email: str | None = None
    list_archive_url: str | None = None
    list_archive_url_format: str | None = None


class _WirePerson(_Wire):
    id: int | None = None
    name: str | None = None
    email: str


class _WireUser(_Wire):
    id: int | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str


class _WireSeriesRef(_Wire):
    id: int
    name: str | None = None
    version: int
    date: str


class _WirePatch(_Wire):
    id: int
    project: _WireProject
    msgid: str
    list_archive_url: str | None = None
    date: str
    name: str
    state: str
    archived: bool
    hash: str | None = None
    submitter: _WirePerson
    delegate: _WireUser | None = None
    series: list[_WireSeriesRef] = []
    pull_url: str | None = None
    commit_ref: str | None = None
    web_url: str | None = None


class _WireCoverRef(_Wire):
    id: int
    msgid: str
    name: str | None = None
    date: str | None = None
    list_archive_url: str | None = None


class _WirePatchRef(_Wire):
    id: int


class _WireSeries(_Wire):
    id: int
    project: _WireProject
    name: str | None = None
    date: str
    version: int
    total: int
    received_total: int
    received_all: bool
    submitter: _WirePerson
    cover_letter: _WireCoverRef | None = None
    patches: list[_WirePatchRef] = []
    web_url: str | None = None


def parse_server_time(value: str, server_tz: tzinfo) -> datetime:
    """Patchwork writes naive ISO timestamps in its own zone; aware ones are taken as they are."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO timestamp: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=server_tz)
    return moment.astimezone(UTC)


def format_server_time(moment: datetime, server_tz: tzinfo) -> str:
    """The naive form the server expects in ``since``/``before`` (it rejects aware values)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(server_tz).replace(tzinfo=None).isoformat()


def _validate(model: type[_Wire], kind: str, raw: Any) -> Any:
    object_id = raw.get("id", "?") if isinstance(raw, dict) else "?"
    if not isinstance(raw, dict):
        raise MappingError(kind, object_id, f"expected a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "object"
        raise MappingError(kind, object_id, f"{where}: {first['msg']}") from exc


def _person(wire: _WirePerson) -> Person:
    return Person(id=wire.id, name=wire.name or None, email=wire.email)


def _user(wire: _WireUser) -> Person:
    full = " ".join(part for part in (wire.first_name, wire.last_name) if part)
    return Person(id=wire.id, name=full or wire.username or None, email=wire.email)


def map_project(raw: Any) -> Project:
    wire: _WireProject = _validate(_WireProject, "project", raw)
    try:
        return Project(
            id=wire.id,
            link_name=wire.link_name,
            name=wire.name,
            list_id=wire.list_id or "",
            list_email=wire.list_email or "",
            list_archive_url=wire.list_archive_url or "",
            list_archive_url_format=wire.list_archive_url_format or "",
        )
    except ValidationError as exc:
        raise MappingError("project", wire.id, str(exc.errors()[0]["msg"])) from exc


def map_patch(raw: Any, server_tz: tzinfo) -> Patch:
    wire: _WirePatch = _validate(_WirePatch, "patch", raw)
    try:
        return Patch(
            id=wire.id,
            project=wire.project.link_name,
            msgid=wire.msgid,
            list_archive_url=wire.list_archive_url,
            date=parse_server_time(wire.date, server_tz),
            name=wire.name,
            state=wire.state,
            archived=wire.archived,
            hash=wire.hash,
            submitter=_person(wire.submitter),
            delegate=_user(wire.delegate) if wire.delegate else None,
            series=tuple(
                SeriesRef(
                    id=ref.id,
                    name=ref.name,
                    version=ref.version,
                    date=parse_server_time(ref.date, server_tz),
                )
                for ref in wire.series
            ),
            pull_url=wire.pull_url,
            commit_ref=wire.commit_ref,
            web_url=wire.web_url,
        )
    except (ValidationError, ValueError) as exc:
        raise MappingError("patch", wire.id, _reason(exc)) from exc


def map_series(raw: Any, server_tz: tzinfo) -> Series:
    wire: _WireSeries = _validate(_WireSeries, "series", raw)
    try:
        cover = wire.cover_letter
        return Series(
            id=wire.id,
            project=wire.project.link_name,
            name=wire.name,
            date=parse_server_time(wire.date, server_tz),
            version=wire.version,
            total=wire.total,
            received_total=wire.received_total,
            received_all=wire.received_all,
            submitter=_person(wire.submitter),
            cover_letter=CoverRef(
                id=cover.id,
                msgid=cover.msgid,
                name=cover.name,
                date=parse_server_time(cover.date, server_tz) if cover.date else None,
                list_archive_url=cover.list_archive_url,
            )
            if cover
            else None,
            patch_ids=tuple(sorted(ref.id for ref in wire.patches)),
            web_url=wire.web_url,
        )
    except (ValidationError, ValueError) as exc:
        raise MappingError("series", wire.id, _reason(exc)) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "object"
        return f"{where}: {first['msg']}"
    return str(exc)

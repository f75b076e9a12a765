# SPDX-License-Identifier: GPL-2.0-or-later
"""Mapping real Patchwork 3.2.1 answers to domain objects, and rejecting malformed ones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from lkml_assistant.sources.patchwork_mapping import (
    MappingError,
    format_server_time,
    map_patch,
    map_project,
    map_series,
    parse_server_time,
)
from tests.shared_data import patchwork_dump, patchwork_recordings


@cache
def dump(name: str) -> list[dict]:
    return json.loads((patchwork_dump() / name).read_text())


def test_every_recorded_patch_maps():
    patches = [map_patch(raw, UTC) for raw in dump("patches.json")]
    assert len(patches) == 2060
    assert len({p.id for p in patches}) == 2060
    assert all(p.state == "new" and p.project == "netfilter-devel" for p in patches)
    no_series = [p for p in patches if not p.series]
    assert len(no_series) == 44  # the pull requests the dump README describes


def test_patch_fields_carry_what_a_reviewer_needs():
    raw = next(p for p in dump("patches.json") if p["id"] == 985)
    patch = map_patch(raw, UTC)
    assert patch.msgid == raw["msgid"].strip("<>")
    assert patch.list_archive_url == raw["list_archive_url"]
    assert patch.date.tzinfo is not None
    assert patch.submitter.email == raw["submitter"]["email"]
    assert patch.series[0].id == raw["series"][0]["id"]


def test_naive_server_time_is_read_in_the_server_zone():
    raw = copy.deepcopy(dump("patches.json")[0])
    raw["date"] = "2025-07-09T03:07:57"
    berlin = map_patch(raw, ZoneInfo("Europe/Berlin"))
    assert berlin.date == datetime(2025, 7, 9, 1, 7, 57, tzinfo=UTC)
    assert format_server_time(berlin.date, ZoneInfo("Europe/Berlin")) == "2025-07-09T03:07:57"
    assert parse_server_time("2025-07-09T03:07:57.123456", UTC).microsecond == 123456


def test_every_recorded_series_maps_with_its_cover():
    series = [map_series(raw, UTC) for raw in dump("series.json")]
    assert len(series) == 829
    with_cover = [s for s in series if s.cover_letter]
    assert with_cover and all(s.cover_letter.msgid for s in with_cover)  # type: ignore[union-attr]


def test_recorded_project_and_netdevbpf_sample_map():
    project = map_project(dump("projects.json")[0])
    assert project.link_name == "netfilter-devel"
    assert project.list_archive_url_format == "https://lore.kernel.org/netfilter-devel/{}/"
    sample = json.loads((patchwork_recordings() / "patches-page1.json").read_text())
    assert [map_patch(raw, UTC).project for raw in sample] == ["netdevbpf"] * len(sample)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda p: p.pop("msgid"), "msgid"),
        (lambda p: p.update(date="yesterday"), "ISO"),
        (lambda p: p.update(state="new state!"), "state"),
        (lambda p: p.update(submitter=None), "submitter"),
        (lambda p: p.update(id="x"), "id"),
        (lambda p: p.update(msgid="<>"), "Message-ID"),
    ],
)
def test_malformed_patches_are_rejected_with_a_reason(mangle, reason):
    raw = copy.deepcopy(dump("patches.json")[0])
    mangle(raw)
    with pytest.raises(MappingError) as caught:
        map_patch(raw, UTC)
    assert reason in str(caught.value)


def test_non_objects_are_rejected():
    with pytest.raises(MappingError, match="expected a JSON object"):
        map_patch(["not", "a", "patch"], UTC)

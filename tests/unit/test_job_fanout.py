# SPDX-License-Identifier: GPL-2.0-or-later
"""Which projects a run visits first, and which ones review-intel looks at after a fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lkml_assistant.services.fetch_patches import FetchPatchesSummary
from lkml_assistant.services.jobs import QueuedThreadsSummary, changed_projects, rotated
from lkml_assistant.services.refresh_discussions import RefreshSummary

NOW = datetime(2025, 11, 30, 12, 0, tzinfo=UTC)


def test_every_project_is_first_once_in_as_many_hours_as_there_are_projects():
    projects = [f"p{n}" for n in range(7)]
    firsts = {rotated(projects, NOW + timedelta(hours=h))[0] for h in range(len(projects))}
    assert firsts == set(projects)
    for hour in range(len(projects)):
        assert sorted(rotated(projects, NOW + timedelta(hours=hour))) == sorted(projects)
    assert rotated(["only"], NOW) == ["only"]


def test_review_intel_follows_what_the_fetch_changed():
    quiet = FetchPatchesSummary(projects=["a", "b"])
    assert changed_projects([quiet, QueuedThreadsSummary(threads_queued=3)]) == set()
    busy = FetchPatchesSummary(projects=["a", "b"], changed_projects=["b"])
    assert changed_projects([busy, QueuedThreadsSummary()]) == {"b"}
    # Threads fetched in this process (no queue) wrote: which projects is not tracked.
    local = RefreshSummary(job="refresh-discussions", written=2)
    assert changed_projects([busy, local]) is None

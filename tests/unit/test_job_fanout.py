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


def test_review_intel_stops_before_a_project_when_out_of_time(tmp_path):
    from lkml_assistant.config import load_settings
    from lkml_assistant.repositories import open_store
    from lkml_assistant.services.review_intel import ReviewIntel

    with open_store(load_settings(store=f"sqlite:///{tmp_path}/store.sqlite3")) as store:
        short = ReviewIntel(store, time_left=lambda: 5.0).run(projects=["a", "b"], since=None)
        # Stopped cleanly and says so: partial, with the projects left to the next run.
        assert short.more and short.status == "partial" and short.left == ["a", "b"]
        plenty = ReviewIntel(store, time_left=lambda: 250.0).run(projects=["a", "b"], since=None)
        assert not plenty.more

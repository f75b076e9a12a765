# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQLite store: idempotent upserts that write only changes, cursors, run records."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from lkml_assistant.models.discussion import PatchReviewSummary, Trailer, TrailerKind
from lkml_assistant.models.records import PatchDiscussion, SyncCursor
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.encoding import review_counts
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.sources.patchwork_mapping import map_patch, map_series
from tests.shared_data import patchwork_dump


@pytest.fixture(scope="module")
def recorded():
    patches = [
        map_patch(raw, UTC) for raw in json.loads((patchwork_dump() / "patches.json").read_text())
    ]
    series = [
        map_series(raw, UTC) for raw in json.loads((patchwork_dump() / "series.json").read_text())
    ]
    return patches, series


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "store.sqlite3") as store:
        yield store


def test_upsert_writes_once_then_nothing(store, recorded):
    patches, series = recorded
    first = store.patches.upsert_patches(patches)
    assert (first.written, first.unchanged) == (2060, 0)
    again = store.patches.upsert_patches(patches)
    assert (again.written, again.unchanged) == (0, 2060)
    assert store.series.upsert_series(series).written == 829
    assert store.series.upsert_series(series).written == 0
    counts = store.stats.counts().patches_by_project_state
    assert {project for project, _ in counts} == {"netfilter-devel"}
    assert sum(counts.values()) == 2060


def test_a_changed_state_is_one_write_and_is_read_back(store, recorded):
    patches, _ = recorded
    store.patches.upsert_patches(patches)
    target = patches[100]
    result = store.patches.upsert_patches([target.model_copy(update={"state": "accepted"})])
    assert (result.written, result.unchanged) == (1, 0)
    assert store.patches.get_patch(target.id).state == "accepted"
    accepted = store.patches.page_patches(PatchQuery(states=("accepted",)))
    assert [p.id for p in accepted] == [target.id]


def test_queries_follow_the_access_patterns(store, recorded):
    patches, _ = recorded
    store.patches.upsert_patches(patches)
    newest = store.patches.page_patches(PatchQuery(project="netfilter-devel"), limit=5)
    assert [p.date for p in newest] == sorted((p.date for p in newest), reverse=True)
    assert newest[0].date == max(p.date for p in patches)
    some = patches[500]
    assert some in store.patches.patches_by_msgids([some.msgid])
    by_submitter = store.patches.page_patches(
        PatchQuery(submitter=some.submitter.email.upper()), limit=1000
    )
    assert by_submitter and all(
        p.submitter.email.lower() == some.submitter.email.lower() for p in by_submitter
    )
    series_id = some.series[0].id
    assert some in store.patches.page_patches(PatchQuery(series_id=series_id))
    window = store.patches.page_patches(
        PatchQuery(since=some.date, until=some.date + timedelta(seconds=1))
    )
    assert some in window


def test_indexes_serve_the_queries(store):
    # Reading the query plan is the point, so this looks inside the store.
    plan = store._db.query(
        "EXPLAIN QUERY PLAN SELECT data FROM patches WHERE project = ? "
        "ORDER BY date DESC, id DESC LIMIT 30",
        ("x",),
    )
    assert any("patches_project_date" in row[3] for row in plan)


def test_wal_mode_is_on(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cursors_and_runs_round_trip(store):
    assert store.cursors.get_cursor("p") is None
    cursor = SyncCursor(patches_since="2025-01-01T00:00:00", events_since="x", last_event_id=7)
    store.cursors.save_cursor("p", cursor)
    assert store.cursors.get_cursor("p") == cursor
    run_id = store.runs.start_run("fetch-patches", datetime.now(UTC))
    assert store.runs.last_runs()["fetch-patches"].status == "running"
    store.runs.finish_run(
        run_id, finished_at=datetime.now(UTC), status="ok", summary={"written": 3}
    )
    last = store.runs.last_runs()["fetch-patches"]
    assert last.status == "ok" and last.summary == {"written": 3}


def test_reopening_keeps_data_and_schema(tmp_path, recorded):
    patches, _ = recorded
    with SqliteStore(tmp_path / "s.sqlite3") as store:
        store.patches.upsert_patches(patches[:10])
    with SqliteStore(tmp_path / "s.sqlite3") as store:
        assert sum(store.stats.counts().patches_by_project_state.values()) == 10


def test_an_older_file_gets_the_review_counts_of_its_discussions(tmp_path):
    """Migration 5 fills the counts column of discussions stored before it, by the same rule
    the upserts use."""
    reviewer = "r@example.org"
    summary = PatchReviewSummary(
        patch_message_id="p@x",
        reply_count=2,
        participants=(reviewer, "s@example.org"),
        last_activity=datetime(2025, 6, 2, tzinfo=UTC),
        trailers=(
            Trailer(kind=TrailerKind.REVIEWED_BY, email=reviewer, message_id="r@x"),
            Trailer(kind=TrailerKind.ACKED_BY, email=reviewer, message_id="r@x"),
        ),
    )
    discussion = PatchDiscussion(
        patch_id=7,
        message_id="p@x",
        list_name="netfilter-devel",
        thread_root="p@x",
        summary=summary,
        fetched_at=datetime(2025, 6, 3, tzinfo=UTC),
    )
    path = tmp_path / "old.sqlite3"
    with SqliteStore(path) as store:
        store.discussions.upsert_discussions([discussion])
        logged = store.changes.latest_cursor()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE discussions DROP COLUMN counts")
    # ... and what the later migrations added, so that the file is as version 4 left it.
    conn.executescript(
        "DROP INDEX runs_running; DROP INDEX runs_job_status;"
        "ALTER TABLE runs DROP COLUMN owner; ALTER TABLE runs DROP COLUMN lease_until;"
        "DROP TABLE range_diffs; DROP TRIGGER waiting_insert; DROP TRIGGER waiting_update;"
        "DROP TABLE waiting;"
    )
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        counts = store.discussions.get_review_counts([7])
        assert counts == {7: review_counts(discussion)}
        assert (counts[7].reviewed_by, counts[7].acked_by, counts[7].participant_count) == (1, 1, 2)
        # Filling a column outside the fingerprint is no change of the record.
        assert store.changes.changes_since(logged).changes == ()

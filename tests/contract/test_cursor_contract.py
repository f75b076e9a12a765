# SPDX-License-Identifier: GPL-2.0-or-later
"""The crawl cursor's conditional save, on SQLite and DynamoDB alike: of two overlapping
crawls, the one that finishes second cannot move a project's cursor back to where it began.

Two crawls are two stores over one backing store (two connections, two clients), as two
Lambda invocations or two processes would be."""

from __future__ import annotations

import boto3
import pytest

from lkml_assistant.models.records import CrawlCheckpoint, SyncCursor
from lkml_assistant.repositories.base import CursorMovedError
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from tests.contract.test_store_contract import writes

PROJECT = "netfilter-devel"
START = SyncCursor(patches_since="2025-12-01T00:00:00", events_since="e1", last_event_id=10)
AHEAD = SyncCursor(patches_since="2025-12-29T10:00:00", events_since="e9", last_event_id=90)
BEHIND = SyncCursor(patches_since="2025-12-20T00:00:00", events_since="e5", last_event_id=50)


def test_a_first_cursor_is_saved_once_and_only_where_none_is(open_store):
    first, second = open_store(), open_store()
    first.cursors.replace_cursor(PROJECT, START, expected=None)
    assert second.cursors.get_cursor(PROJECT) == START
    # The second crawl also found no cursor when it began: it may not overwrite the first's.
    with pytest.raises(CursorMovedError):
        second.cursors.replace_cursor(PROJECT, BEHIND, expected=None)
    assert first.cursors.get_cursor(PROJECT) == START
    assert second.cursors.get_cursor("other") is None


def test_the_crawl_that_finishes_second_cannot_move_the_cursor_back(open_store):
    first, second = open_store(), open_store()
    first.cursors.save_cursor(PROJECT, START)
    # Both crawls start from START; the faster one saves AHEAD, then the slower one finishes.
    seen_by_slow = second.cursors.get_cursor(PROJECT)
    first.cursors.replace_cursor(PROJECT, AHEAD, expected=first.cursors.get_cursor(PROJECT))
    before = writes(second)
    with pytest.raises(CursorMovedError):
        second.cursors.replace_cursor(PROJECT, BEHIND, expected=seen_by_slow)
    assert writes(second) == before
    assert first.cursors.get_cursor(PROJECT) == AHEAD
    assert second.cursors.get_cursor(PROJECT) == AHEAD


def test_a_crawl_that_read_the_stored_cursor_moves_it_and_an_unchanged_save_writes_nothing(
    open_store,
):
    store = open_store()
    store.cursors.save_cursor(PROJECT, START)
    paused = START.model_copy(update={"crawl": CrawlCheckpoint(next_page=4)})
    store.cursors.replace_cursor(PROJECT, paused, expected=START)
    assert store.cursors.get_cursor(PROJECT) == paused
    store.cursors.replace_cursor(PROJECT, AHEAD, expected=paused)
    assert store.cursors.get_cursor(PROJECT) == AHEAD
    before = writes(store)
    store.cursors.replace_cursor(PROJECT, AHEAD, expected=AHEAD)
    assert writes(store) == before


@pytest.mark.integration
def test_dynamodb_refuses_the_put_when_another_crawl_saved_between_the_read_and_it(aws):
    """The guard is DynamoDB's conditional put, not the read before it: a crawl whose read
    came just before another's save still loses (here the read is made to see the old text).
    SQLite needs no such test: its read and write are one IMMEDIATE transaction."""
    create_tables(boto3.client("dynamodb"), "patches", "discussions")
    first, second = DynamoDbStore("patches", "discussions"), DynamoDbStore("patches", "discussions")
    first.cursors.save_cursor(PROJECT, START)
    stale = START.model_dump_json()
    first.cursors.replace_cursor(PROJECT, AHEAD, expected=START)
    # What the slow crawl's read returned before the fast one's save landed.
    second.cursors._get = lambda sk: stale  # type: ignore[attr-defined]
    with pytest.raises(CursorMovedError):
        second.cursors.replace_cursor(PROJECT, BEHIND, expected=START)
    assert first.cursors.get_cursor(PROJECT) == AHEAD

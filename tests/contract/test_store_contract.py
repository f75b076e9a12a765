# SPDX-License-Identifier: GPL-2.0-or-later
"""What every store promises through the repository interfaces, checked on SQLite and on
DynamoDB (moto's server) alike, over real netfilter-devel patches and mail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import LoreCursor, StoredMessage, SyncCursor
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.contract.conftest import FakeClock, Sample, ingest


def writes(store: Store) -> int:
    """How many writes the store has made so far (requests to DynamoDB, rows in SQLite)."""
    if isinstance(store, DynamoDbStore):
        return store.write_requests
    assert isinstance(store, SqliteStore)
    return store._db.conn.total_changes


def load(store: Store, sample: Sample) -> None:
    store.projects.upsert_projects(sample.projects)
    store.patches.upsert_patches(sample.patches)
    store.series.upsert_series(sample.series)


def newest_first(patches: list[Patch]) -> list[int]:
    return [p.id for p in sorted(patches, key=lambda p: (p.date, p.id), reverse=True)]


def all_pages(store: Store, query: PatchQuery, limit: int) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = store.patches.page_patches(query, after=after, limit=limit)
        assert len(page) <= limit
        seen.extend(p.id for p in page)
        if len(page) < limit:
            return seen
        after = PageMark(page[-1].date, page[-1].id)


def patch_like(template: Patch, patch_id: int, date: datetime, **changes: object) -> Patch:
    return template.model_copy(
        update={"id": patch_id, "date": date, "msgid": f"contract-{patch_id}@test", **changes}
    )


def test_upserts_write_once_then_nothing(store, sample):
    assert (store.patches.upsert_patches(sample.patches).written, writes(store) > 0) == (
        len(sample.patches),
        True,
    )
    assert store.series.upsert_series(sample.series).written == len(sample.series)
    assert store.projects.upsert_projects(sample.projects).written == len(sample.projects)
    before = writes(store)
    again = store.patches.upsert_patches(sample.patches)
    assert (again.written, again.unchanged) == (0, len(sample.patches))
    assert store.series.upsert_series(sample.series).unchanged == len(sample.series)
    assert store.projects.upsert_projects(sample.projects).unchanged == len(sample.projects)
    assert writes(store) == before
    counts = store.stats.counts()
    assert counts.patches_by_project_state == {("netfilter-devel", "new"): len(sample.patches)}
    assert (counts.series, counts.projects) == (len(sample.series), len(sample.projects))


def test_a_changed_patch_is_one_write_and_moves_its_count(store, sample):
    load(store, sample)
    target = sample.patches[17]
    changed = target.model_copy(update={"state": "accepted", "name": "quuxification of foo"})
    result = store.patches.upsert_patches([changed, sample.patches[3]])
    assert (result.written, result.unchanged) == (1, 1)
    assert store.patches.get_patch(target.id) == changed
    assert store.patches.page_patches(PatchQuery(states=("accepted",))) == [changed]
    counts = store.stats.counts().patches_by_project_state
    assert counts == {
        ("netfilter-devel", "new"): len(sample.patches) - 1,
        ("netfilter-devel", "accepted"): 1,
    }
    assert [p.id for p in store.patches.page_patches(PatchQuery(words=("quuxification",)))] == [
        target.id
    ]
    old_word = next(w for w in target.name.split() if w.isalpha() and len(w) > 3)
    assert target.id not in all_pages(store, PatchQuery(words=(old_word,)), 100)


def test_lookups_by_id_and_message_id(store, sample):
    load(store, sample)
    some = sample.patches[42]
    assert store.patches.get_patch(some.id) == some
    assert store.patches.get_patch(123_456_789) is None
    wanted = [p.id for p in sample.patches[:120]] + [123_456_789]
    assert store.patches.get_patches(wanted) == {p.id: p for p in sample.patches[:120]}
    assert store.patches.patches_by_msgids([some.msgid]) == [some]
    assert store.patches.patches_by_msgids(["nobody@nowhere"]) == []
    pair = sorted(sample.patches[5:7], key=lambda p: p.id)
    assert store.patches.patches_by_msgids([p.msgid for p in pair] + ["x@y"]) == pair
    series = next(s for s in sample.series if s.cover_letter)
    assert store.series.get_series(series.id) == series
    assert store.series.get_series(999_999_999) is None
    # More than one BatchGetItem's worth of keys, with some the store does not hold.
    many = [s.id for s in sample.series] + list(range(999_999_000, 999_999_150))
    assert len(many) > 100
    assert store.series.get_series_many(many) == {s.id: s for s in sample.series}
    assert store.series.get_series_many([]) == {}
    assert store.series.series_by_cover_msgid(series.cover_letter.msgid) == [series]
    ids = {s.id for s in sample.series}
    assert store.series.known_series_ids([*ids, 999_999_999]) == ids
    project = sample.projects[0]
    assert store.projects.get_project(project.link_name) == project
    assert store.projects.get_project("nope") is None
    assert store.projects.list_projects() == sorted(sample.projects, key=lambda p: p.link_name)


@pytest.mark.parametrize("limit", [30, 250])
def test_paging_visits_every_patch_once_newest_first(store, sample, limit):
    # Patches sharing one date are ordered by id, also across a page boundary.
    template = sample.patches[0]
    same_date = datetime(2025, 5, 5, 12, 0, tzinfo=UTC)
    twins = [patch_like(template, 900_000 + n, same_date) for n in range(limit + 3)]
    everything = [*sample.patches, *twins]
    store.patches.upsert_patches(everything)
    assert all_pages(store, PatchQuery(), limit) == newest_first(everything)
    assert all_pages(store, PatchQuery(project="netfilter-devel"), limit) == newest_first(
        everything
    )
    listed = store.patches.page_patches(PatchQuery(), limit=7)
    assert [p.id for p in listed] == newest_first(everything)[:7]


def test_filters_narrow_lists_like_the_data_says(store, sample):
    load(store, sample)
    decided = {p.id: "accepted" for p in sample.patches[10:14]} | {
        p.id: "rejected" for p in sample.patches[40:43]
    }
    patches = [p.model_copy(update={"state": decided.get(p.id, p.state)}) for p in sample.patches]
    store.patches.upsert_patches(patches)

    def check(query: PatchQuery, expected: list[Patch], limit: int = 30) -> None:
        assert all_pages(store, query, limit) == newest_first(expected)

    both = ("accepted", "rejected")
    check(PatchQuery(states=both), [p for p in patches if p.state in both], limit=2)
    check(
        PatchQuery(project="netfilter-devel", states=("rejected",)),
        [p for p in patches if p.state == "rejected"],
    )
    check(PatchQuery(project="elsewhere"), [])
    someone = patches[60].submitter.email
    check(
        PatchQuery(submitter=someone.upper()),
        [p for p in patches if p.submitter.email.lower() == someone.lower()],
        limit=3,
    )
    series_id = next(p.series[0].id for p in patches if p.series and len(p.series) > 0)
    check(
        PatchQuery(series_id=series_id),
        [p for p in patches if p.series and p.series[0].id == series_id],
    )
    since, until = patches[200].date, patches[50].date
    check(PatchQuery(since=since, until=until), [p for p in patches if since <= p.date < until])
    check(
        PatchQuery(states=("new",), since=since),
        [p for p in patches if p.state == "new" and p.date >= since],
        limit=50,
    )
    listed = store.patches.page_patches(PatchQuery(states=("accepted",)), limit=2)
    assert [p.id for p in listed] == newest_first([p for p in patches if p.state == "accepted"])[:2]
    some = patches[11]
    check(PatchQuery(msgid=some.msgid), [some])
    check(PatchQuery(msgid=some.msgid, states=("accepted",), project="netfilter-devel"), [some])
    check(PatchQuery(msgid=some.msgid, states=("new",)), [])
    check(PatchQuery(msgid="nobody@nowhere.example"), [])


def _has_word(name: str, word: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", name.casefold()) is not None


def test_title_search_needs_every_whole_word_in_any_case(store, sample):
    load(store, sample)
    patches = sample.patches

    def hits(*words: str) -> list[int]:
        return all_pages(store, PatchQuery(words=words), 40)

    netfilter = [p for p in patches if _has_word(p.name, "netfilter")]
    assert len(netfilter) > 40
    assert hits("NetFilter") == newest_first(netfilter)
    second = next(
        w
        for w in ("nf_tables", "nft_set_rbtree", "ipset", "conntrack")
        if any(_has_word(p.name, w) for p in netfilter)
    )
    assert hits("netfilter", second) == newest_first(
        [p for p in netfilter if _has_word(p.name, second)]
    )
    assert hits("netfilte") == []  # a word is never matched by a prefix
    assert hits("netfilter", "zzzyzzx") == []
    within = PatchQuery(project="netfilter-devel", words=("netfilter",), states=("new",))
    assert all_pages(store, within, 25) == newest_first([p for p in netfilter if p.state == "new"])


def test_threads_read_oldest_first_and_messages_are_known(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    thread = sample.threads[0]
    stored = store.discussions.thread_messages(thread.root_id)
    assert {m.message_id for m in stored} == set(thread.messages)
    dates = [m.date for m in stored if m.date]
    assert dates == sorted(dates) and len(stored) > 3
    assert all(not m.message_id.startswith("<") for m in stored)
    wanted = [*list(thread.messages)[:5], "unknown@nowhere"]
    known = store.discussions.known_message_ids(wanted)
    assert known == {mid: thread.root_id for mid in wanted[:5]}
    total = sum(len(t) for t in sample.threads)
    assert store.stats.counts().messages == total
    assert store.discussions.thread_messages("no-such-root@x") == []


def test_a_message_whose_thread_root_changes_moves(store, sample):
    load(store, sample)
    ingest(store, sample.threads[:2])
    first, second = sample.threads[0], sample.threads[1]
    moved = store.discussions.thread_messages(first.root_id)[-1]
    before = store.stats.counts().messages
    result = store.discussions.upsert_messages(
        [moved.model_copy(update={"thread_root": second.root_id})]
    )
    assert result.written == 1
    assert moved.message_id not in {
        m.message_id for m in store.discussions.thread_messages(first.root_id)
    }
    into = store.discussions.thread_messages(second.root_id)
    assert [m.message_id for m in into].count(moved.message_id) == 1
    assert store.discussions.known_message_ids([moved.message_id]) == {
        moved.message_id: second.root_id
    }
    assert store.stats.counts().messages == before


def test_discussions_counts_and_staleness(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    ids = [p.id for p in sample.patches]
    discussions = store.discussions.get_discussions(ids)
    assert discussions and set(discussions) <= set(ids)
    assert store.stats.counts().discussions == len(discussions)
    reviewed = max(discussions.values(), key=lambda d: d.summary.reply_count)
    assert reviewed.summary.reply_count > 0
    assert store.discussions.get_discussion(reviewed.patch_id) == reviewed
    assert store.discussions.get_discussion(123_456_789) is None
    counts = store.discussions.get_review_counts([*ids, 123_456_789])
    assert set(counts) == set(discussions)
    for patch_id, summary in ((i, d.summary) for i, d in discussions.items()):
        got = counts[patch_id]
        assert got.reply_count == summary.reply_count
        assert got.participant_count == len(summary.participants)
        assert got.reviewed_by == len([t for t in summary.trailers if t.kind == "reviewed-by"])
        assert got.acked_by == len([t for t in summary.trailers if t.kind == "acked-by"])
        assert got.naks == len(summary.naks)
        assert got.last_activity == summary.last_activity

    missing = [i for i in newest_first(sample.patches) if i not in discussions]
    assert store.discussions.patches_without_discussion() == missing
    assert store.discussions.patches_without_discussion(limit=3) == missing[:3]
    assert store.discussions.patches_without_discussion(projects=["elsewhere"]) == []
    since = sample.patches[100].date
    dated = {p.id: p.date for p in sample.patches}
    assert store.discussions.patches_without_discussion(since=since) == [
        i for i in missing if dated[i] >= since
    ]

    stale = sorted(discussions)[:2]
    assert store.discussions.mark_stale([*stale, 123_456_789]) == 2
    assert store.discussions.mark_stale(stale) == 0
    waiting = store.discussions.patches_without_discussion()
    assert waiting == [i for i in newest_first(sample.patches) if i in set(missing) | set(stale)]
    # The next fetch stores the same thread again: that clears the mark, even if identical.
    again = store.discussions.upsert_discussions([discussions[stale[0]]])
    assert again.written == 1
    assert stale[0] not in store.discussions.patches_without_discussion()
    assert store.discussions.upsert_discussions([discussions[stale[0]]]).written == 0


def test_recent_thread_roots_follow_patch_dates(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    discussions = store.discussions.get_discussions(p.id for p in sample.patches)
    dated = {p.id: p.date for p in sample.patches}
    since = sorted(dated[i] for i in discussions)[len(discussions) // 2]
    expected = {
        d.thread_root: d.list_name
        for d in discussions.values()
        if d.thread_root and dated[d.patch_id] >= since
    }
    assert expected
    assert store.discussions.recent_thread_roots(since) == expected
    assert store.discussions.recent_thread_roots(datetime.now(UTC) + timedelta(days=1)) == {}


def test_cursors_round_trip_and_an_unchanged_cursor_writes_nothing(store):
    assert store.cursors.get_cursor("netfilter-devel") is None
    assert store.cursors.get_lore_cursor("netfilter-devel") is None
    cursor = SyncCursor(patches_since="2025-01-01T00:00:00", events_since="x", last_event_id=7)
    lore = LoreCursor(received_until=datetime(2025, 7, 1, tzinfo=UTC))
    store.cursors.save_cursor("netfilter-devel", cursor)
    store.cursors.save_lore_cursor("netfilter-devel", lore)
    before = writes(store)
    store.cursors.save_cursor("netfilter-devel", cursor)
    store.cursors.save_lore_cursor("netfilter-devel", lore)
    assert writes(store) == before
    assert store.cursors.get_cursor("netfilter-devel") == cursor
    assert store.cursors.get_lore_cursor("netfilter-devel") == lore
    newer = cursor.model_copy(update={"last_event_id": 8})
    store.cursors.save_cursor("netfilter-devel", newer)
    assert store.cursors.get_cursor("netfilter-devel") == newer
    assert store.cursors.get_cursor("other") is None


def test_runs_keep_the_newest_of_each_job(store):
    assert store.runs.last_runs() == {}
    start = datetime(2025, 7, 1, 10, tzinfo=UTC)
    first = store.runs.start_run("fetch-patches", start)
    store.runs.finish_run(first, finished_at=start, status="ok", summary={"written": 3})
    second = store.runs.start_run("fetch-patches", start + timedelta(hours=1))
    other = store.runs.start_run("refresh-discussions", start)
    assert len({first, second, other}) == 3
    runs = store.runs.last_runs()
    assert set(runs) == {"fetch-patches", "refresh-discussions"}
    assert (runs["fetch-patches"].id, runs["fetch-patches"].status) == (second, "running")
    store.runs.finish_run(
        second, finished_at=start + timedelta(hours=2), status="partial", summary={"a": [1]}
    )
    newest = store.runs.last_runs()["fetch-patches"]
    assert (newest.status, newest.summary) == ("partial", {"a": [1]})
    assert newest.started_at == start + timedelta(hours=1)
    assert newest.finished_at == start + timedelta(hours=2)


def test_an_empty_store_counts_nothing_and_answers(store):
    assert store.stats.ping()
    counts = store.stats.counts()
    assert (counts.projects, counts.series, counts.messages, counts.discussions) == (0, 0, 0, 0)
    assert counts.patches_by_project_state == {}
    assert store.patches.page_patches(PatchQuery()) == []
    assert store.discussions.patches_without_discussion() == []


def _mail_text(sample: Sample, size: int) -> str:
    bodies = [m.body for t in sample.threads for m in t.messages.values() if m.body]
    text = ""
    while len(text) < size:
        text += "\n\n".join(bodies)
    return text[:size]


def test_large_bodies_round_trip(store, sample):
    root = sample.threads[0]
    big = StoredMessage(
        message_id="large-body@contract.test",
        list_name="netfilter-devel",
        thread_root=root.root_id,
        link="references",
        subject="[PATCH] a very long patch",
        author_email="someone@example.org",
        date=datetime(2025, 6, 1, tzinfo=UTC),
        has_patch=True,
        body=_mail_text(sample, 4_000_000),
    )
    assert store.discussions.upsert_messages([big]).written == 1
    assert store.discussions.thread_messages(root.root_id) == [big]
    before = writes(store)
    assert store.discussions.upsert_messages([big]).unchanged == 1
    assert writes(store) == before
    smaller = big.model_copy(update={"body": big.body[:1_500_000]})
    assert store.discussions.upsert_messages([smaller]).written == 1
    assert store.discussions.thread_messages(root.root_id) == [smaller]
    assert store.stats.counts().messages == 1


def test_a_rerun_with_nothing_new_writes_nothing(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    store.cursors.save_cursor("netfilter-devel", SyncCursor(last_event_id=3))
    store.cursors.save_lore_cursor(
        "netfilter-devel", LoreCursor(received_until=datetime(2025, 7, 1, tzinfo=UTC))
    )
    before = writes(store)
    load(store, sample)
    ingest(store, sample.threads)  # new fetched_at, same threads
    store.cursors.save_cursor("netfilter-devel", SyncCursor(last_event_id=3))
    store.cursors.save_lore_cursor(
        "netfilter-devel", LoreCursor(received_until=datetime(2025, 7, 1, tzinfo=UTC))
    )
    assert writes(store) == before


@pytest.mark.integration
def test_expired_items_are_never_returned(aws):
    """DynamoDB only: its items carry a TTL; SQLite keeps everything."""
    create_tables(boto3.client("dynamodb"), "patches", "discussions")
    clock = FakeClock()
    store = DynamoDbStore("patches", "discussions", retention_days=1, clock=clock)
    template = Patch.model_validate(
        {
            "id": 1,
            "project": "netfilter-devel",
            "msgid": "<template@test>",
            "date": datetime.now(UTC),
            "name": "[PATCH] netfilter: expiring soon",
            "state": "new",
            "archived": False,
            "submitter": {"email": "a@example.org"},
        }
    )
    now = clock()
    fresh = patch_like(template, 2, now)
    ancient = patch_like(template, 3, now - timedelta(days=400))
    soon = patch_like(template, 4, now - timedelta(days=1) + timedelta(seconds=2))
    result = store.patches.upsert_patches([fresh, ancient, soon])
    assert (result.written, result.unchanged) == (2, 1)
    assert store.patches.get_patch(ancient.id) is None
    assert [p.id for p in store.patches.page_patches(PatchQuery())] == [2, 4]
    clock.advance(seconds=3)
    assert store.patches.get_patch(soon.id) is None
    assert [p.id for p in store.patches.page_patches(PatchQuery())] == [2]
    assert set(store.patches.get_patches([2, 3, 4])) == {2}
    assert store.patches.patches_by_msgids([soon.msgid]) == []
    # Without retention nothing expires.
    keeper = DynamoDbStore("patches", "discussions")
    assert keeper.patches.upsert_patches([ancient]).written == 1
    assert keeper.patches.get_patch(ancient.id) == ancient


def test_recent_thread_patches_carry_their_thread_and_its_last_activity(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    discussions = store.discussions.get_discussions(p.id for p in sample.patches)
    dated = {p.id: p.date for p in sample.patches}
    since = sorted(dated[i] for i in discussions)[len(discussions) // 2]
    found = store.discussions.recent_thread_patches(since)
    assert found and [p.patch_id for p in found] == sorted(p.patch_id for p in found)
    assert {p.thread_root: p.list_name for p in found} == store.discussions.recent_thread_roots(
        since
    )
    for patch in found:
        discussion = discussions[patch.patch_id]
        assert patch.thread_root == discussion.thread_root
        assert patch.patch_date == dated[patch.patch_id]
        assert patch.last_activity == discussion.summary.last_activity

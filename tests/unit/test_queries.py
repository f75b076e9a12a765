# SPDX-License-Identifier: GPL-2.0-or-later
"""The read side of the API over real data: netfilter-devel's 2,060 Patchwork patches and the
4,604 real messages of its 2025 lore slice, threaded and summarised by the thread reader."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import SeriesLink
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.repositories import sqlite as sqlite_module
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.repositories.sqlite import patches as sqlite_patches
from lkml_assistant.services.discussions import DiscussionSummary, ThreadWriter
from lkml_assistant.services.queries.cursors import decode_cursor
from lkml_assistant.services.queries.errors import InvalidRequestError, ResourceNotFoundError
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.queries.validation import build_patch_query
from lkml_assistant.services.review_intel import ReviewIntel
from lkml_assistant.sources.mail import MailParseError, parse_message, read_mbox_archive
from lkml_assistant.sources.patchwork_mapping import map_patch, map_project, map_series
from tests.shared_data import patchwork_dump, shared_dir

_BUILT: dict[str, Path] = {}


def _build(path: Path) -> None:
    dump = patchwork_dump()
    with SqliteStore(path) as store:
        store.projects.upsert_projects(
            map_project(raw) for raw in json.loads((dump / "projects.json").read_text())
        )
        store.patches.upsert_patches(
            map_patch(raw, UTC) for raw in json.loads((dump / "patches.json").read_text())
        )
        store.series.upsert_series(
            map_series(raw, UTC) for raw in json.loads((dump / "series.json").read_text())
        )
        mbox = shared_dir() / "corpus/mbox/linux-mailinglist-archives/netfilter-devel-2025.mbox.gz"
        messages = []
        for raw in read_mbox_archive(mbox.read_bytes()).messages:
            try:
                messages.append(parse_message(raw))
            except MailParseError:
                continue
        # No request is made: the mail is already in hand.
        ThreadWriter(store).store_mail("netfilter-devel", messages, DiscussionSummary(job="test"))
        # A few maintainer decisions, so that state filters have something to find.
        patches = store.patches.page_patches(PatchQuery(), limit=40)
        store.patches.upsert_patches(
            [p.model_copy(update={"state": "accepted"}) for p in patches[5:10]]
            + [p.model_copy(update={"state": "rejected"}) for p in patches[20:23]]
        )


def seeded_store(tmp_path_factory: pytest.TempPathFactory, name: str) -> SqliteStore:
    """A private copy of the real-data store, built once per test session."""
    if "path" not in _BUILT:
        path = tmp_path_factory.mktemp("seed") / "seed.sqlite3"
        _build(path)
        _BUILT["path"] = path
    copy = tmp_path_factory.mktemp(name) / "store.sqlite3"
    shutil.copy(_BUILT["path"], copy)
    return SqliteStore(copy)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with seeded_store(tmp_path_factory, "queries") as store:
        yield store


@pytest.fixture
def own_store(tmp_path_factory):
    """For tests that write: a copy of their own."""
    with seeded_store(tmp_path_factory, "writes") as store:
        yield store


@pytest.fixture(scope="module")
def service(store):
    return QueryService(store)


def all_pages(service: QueryService, query: PatchQuery, limit: int, between=None) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = service.patches(query, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen.extend(item.id for item in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between:
            between()


def new_patch(template: Patch, patch_id: int, date: datetime, name: str = "") -> Patch:
    return template.model_copy(
        update={
            "id": patch_id,
            "date": date,
            "msgid": f"new-{patch_id}@test",
            "name": name or f"[PATCH] netfilter: arrived late {patch_id}",
        }
    )


@pytest.mark.parametrize("limit", [200, 37])
def test_cursor_paging_visits_every_patch_exactly_once(service, limit):
    seen = all_pages(service, PatchQuery(), limit)
    assert len(seen) == 2060
    assert len(set(seen)) == 2060


def test_pages_are_newest_first(service, store):
    items = service.patches(PatchQuery(), limit=200).items
    keys = [(item.date, item.id) for item in items]
    assert keys == sorted(keys, reverse=True)
    newest = max(store.patches.get_patches(range(1, 2061)).values(), key=lambda p: (p.date, p.id))
    assert items[0].id == newest.id


def test_patches_arriving_between_pages_shift_nothing(own_store):
    service = QueryService(own_store)
    template = own_store.patches.get_patch(1)
    assert template is not None
    future = datetime(2030, 1, 1, tzinfo=UTC)
    ids = iter(range(900_000, 900_100))

    def arrive():
        own_store.patches.upsert_patches([new_patch(template, next(ids), future)])

    seen = all_pages(service, PatchQuery(), 150, between=arrive)
    # Every patch that was there at the start is seen once; the newcomers sort before the
    # pages already served, so none of them pushes an old patch onto the next page twice.
    assert len(seen) == len(set(seen)) == 2060
    late = new_patch(template, 999_999, datetime(2000, 1, 1, tzinfo=UTC))
    first = service.patches(PatchQuery(), limit=100)
    own_store.patches.upsert_patches([late])
    rest = all_pages_from(service, PatchQuery(), first.next_cursor)
    assert rest[-1] == late.id
    assert not set(rest) & {item.id for item in first.items}


def all_pages_from(service: QueryService, query: PatchQuery, cursor: str | None) -> list[int]:
    seen: list[int] = []
    while cursor is not None:
        page = service.patches(query, limit=200, cursor=cursor)
        seen.extend(item.id for item in page.items)
        cursor = page.next_cursor
    return seen


def test_filters(service, store):
    everything = store.patches.page_patches(PatchQuery(), limit=5000)
    assert not service.patches(build_patch_query(project="nope"), limit=10).items
    assert len(all_pages(service, build_patch_query(project="netfilter-devel"), 200)) == 2060

    accepted = service.patches(build_patch_query(state=["accepted"]), limit=50).items
    assert len(accepted) == 5 and {i.state for i in accepted} == {"accepted"}
    both = service.patches(build_patch_query(state=["Rejected", "accepted"]), limit=50).items
    assert len(both) == 8
    assert [(i.date, i.id) for i in both] == sorted(((i.date, i.id) for i in both), reverse=True)
    two_pages = all_pages(service, build_patch_query(state=["rejected", "accepted"]), 3)
    assert sorted(two_pages) == sorted(i.id for i in both)
    assert not service.patches(build_patch_query(state=["no-such-state"]), limit=5).items

    someone = everything[300].submitter.email
    mine = all_pages(service, build_patch_query(submitter=someone.upper()), 50)
    expected = {p.id for p in everything if p.submitter.email.lower() == someone.lower()}
    assert set(mine) == expected
    assert service.person_patches(someone, limit=200).items[0].id in expected

    series_id = everything[300].series[0].id
    in_series = service.patches(build_patch_query(series=series_id), limit=200).items
    assert everything[300].id in {i.id for i in in_series}
    assert all(i.series[0].id == series_id for i in in_series)

    since = datetime(2025, 6, 1, tzinfo=UTC)
    until = datetime(2025, 7, 1, tzinfo=UTC)
    june = all_pages(service, build_patch_query(since=since, until=until), 200)
    assert set(june) == {p.id for p in everything if since <= p.date < until}
    naive = build_patch_query(since=datetime(2025, 6, 1), until=datetime(2025, 7, 1))
    assert all_pages(service, naive, 200) == june


def test_title_search_needs_every_word(service, store):
    everything = store.patches.page_patches(PatchQuery(), limit=5000)
    hits = all_pages(service, build_patch_query(q="nft_set_rbtree"), 50)
    assert hits
    assert {p.id for p in everything if "nft_set_rbtree" in p.name} <= set(hits)
    both = all_pages(service, build_patch_query(q="RBTREE  netfilter"), 50)
    names = store.patches.get_patches(both)
    assert all("rbtree" in names[i].name.lower() for i in both)
    assert all("netfilter" in names[i].name.lower() for i in both)
    assert not service.patches(build_patch_query(q="rbtree zzzyzzx"), limit=5).items


def test_broad_and_narrow_search_plans_agree(service, monkeypatch):
    query = build_patch_query(q="netfilter")
    narrow = all_pages(service, query, 70)
    monkeypatch.setattr(sqlite_patches, "FTS_FEW_HITS", 1)
    broad = all_pages(service, query, 70)
    assert narrow == broad and len(narrow) > 100


def test_renamed_patches_are_found_by_their_new_title(own_store):
    service = QueryService(own_store)
    patch = own_store.patches.get_patch(42)
    assert patch is not None
    own_store.patches.upsert_patches([patch.model_copy(update={"name": "quuxification of foo"})])
    assert [i.id for i in service.patches(build_patch_query(q="quuxification"), limit=5).items] == [
        42
    ]
    old_word = next(w for w in patch.name.split() if w.isalpha() and len(w) > 3)
    hits = all_pages(service, build_patch_query(q=old_word), 200)
    assert 42 not in hits


@pytest.mark.parametrize(
    ("filters", "loc"),
    [
        ({"submitter": "not-an-address"}, "query.submitter"),
        ({"state": ["under review"]}, "query.state"),
        ({"q": "-- [ ]"}, "query.q"),
        ({"project": "  "}, "query.project"),
        (
            {"since": datetime(2025, 2, 1, tzinfo=UTC), "until": datetime(2025, 1, 1, tzinfo=UTC)},
            "query.until",
        ),
        ({"series": 0}, "query.series"),
    ],
)
def test_bad_filters_are_refused(filters, loc):
    with pytest.raises(InvalidRequestError) as caught:
        build_patch_query(**filters)
    assert [d.loc for d in caught.value.details] == [loc]


def test_every_bad_filter_is_reported_at_once():
    with pytest.raises(InvalidRequestError) as caught:
        build_patch_query(submitter="x", state=["a b"], q="!")
    assert {d.loc for d in caught.value.details} == {"query.submitter", "query.state", "query.q"}


@pytest.mark.parametrize("limit", [0, 201, -5])
def test_limits_out_of_range_are_refused(service, limit):
    with pytest.raises(InvalidRequestError):
        service.patches(PatchQuery(), limit=limit)


@pytest.mark.parametrize(
    "cursor", ["garbage!!", "", "e30", "WzEsMiwzXQ", "x" * 400, "WyJub3QgYSBkYXRlIiwgMSwgImFiIl0"]
)
def test_garbage_cursors_are_refused(service, cursor):
    with pytest.raises(InvalidRequestError) as caught:
        service.patches(PatchQuery(), cursor=cursor)
    assert caught.value.details[0].loc == "query.cursor"


def test_a_cursor_only_works_with_its_filters(service):
    cursor = service.patches(build_patch_query(project="netfilter-devel"), limit=5).next_cursor
    assert cursor is not None
    assert decode_cursor(cursor, build_patch_query(project="netfilter-devel")).id > 0
    with pytest.raises(InvalidRequestError) as caught:
        service.patches(build_patch_query(project="other"), limit=5, cursor=cursor)
    assert caught.value.details[0].type == "cursor_mismatch"


def test_patch_detail_carries_series_and_review(service, store):
    reviewed = next(
        d
        for d in store.discussions.get_discussions(range(1, 2061)).values()
        if d.summary.trailers and d.thread_root
    )
    detail = service.patch(reviewed.patch_id)
    assert detail.review is not None
    assert detail.review.reply_count == reviewed.summary.reply_count
    assert {t.email for t in detail.review.trailers} == {t.email for t in reviewed.summary.trailers}
    assert detail.series and detail.series[0].id > 0
    brief = next(i for i in service.patches(PatchQuery(), limit=200, cursor=None).items if i.review)
    assert brief.review is not None and brief.review.reply_count >= 0


def test_discussion_is_a_tree_of_every_stored_message(service, store):
    reviewed = max(
        (d for d in store.discussions.get_discussions(range(1, 2061)).values() if d.thread_root),
        key=lambda d: d.summary.reply_count,
    )
    out = service.discussion(reviewed.patch_id)
    stored = store.discussions.thread_messages(reviewed.thread_root or "")
    nodes = []
    stack = [out.thread]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in node.children:
            assert child.parent == node.message_id
            assert child.depth == node.depth + 1
            stack.append(child)
    assert out.thread.depth == 0 and out.thread.parent is None
    assert sorted(n.message_id for n in nodes) == sorted(m.message_id for m in stored)
    assert out.message_count == len(stored) > 3
    assert reviewed.message_id in {n.message_id for n in nodes}
    quoted = [
        line
        for n in nodes
        for number, line in enumerate(n.body.split("\n"))
        if number in n.quoted_lines
    ]
    assert quoted and sum(line.startswith(">") for line in quoted) > len(quoted) // 2
    assert any(n.trailers for n in nodes) == any(m.trailers for m in stored)


def test_series_lists_its_patches_and_cover_letter(service, store):
    series = next(
        s for s in (store.series.get_series(i) for i in range(1, 900)) if s and s.cover_letter
    )
    out = service.series(series.id)
    assert out.cover_letter is not None and out.cover_letter.msgid == series.cover_letter.msgid
    assert [p.id for p in out.patches] == sorted(set(series.patch_ids))
    assert all(p.name and p.state for p in out.patches)


def linked_series(store: SqliteStore) -> dict[int, SeriesLink]:
    """Every stored link of the dump's series, after review-intel ran."""
    patches = store.patches.get_patches(range(1, 2061)).values()
    return store.reviews.get_links({s.id for p in patches for s in p.series})


def version_statuses(service: QueryService, series_ids: list[int]) -> dict[int, ReviewStatus]:
    return {
        sid: next(v.status for v in service.versions(sid).versions if v.series_id == sid)
        for sid in series_ids
    }


def test_versions_show_the_series_status_review_intel_stored(own_store):
    ReviewIntel(own_store).run(projects=["netfilter-devel"], since=None)
    links = linked_series(own_store)
    assert len(links) > 800
    assert all(link.status in set(ReviewStatus) for link in links.values())
    # Every status occurs in the real data but changes-requested and accepted, which are rare.
    assert len({link.status for link in links.values()}) >= 4
    service = QueryService(own_store)
    assert version_statuses(service, sorted(links)) == {
        sid: link.status for sid, link in links.items()
    }

    # The newest version of a chain gets accepted: review-intel stores the new status, and the
    # versions view follows it.
    chain = max((own_store.reviews.chain(link.chain_id) for link in links.values()), key=len)
    latest = next(link for link in reversed(chain) if link.superseded_by is None)
    assert latest.status != ReviewStatus.ACCEPTED
    series = own_store.series.get_series(latest.series_id)
    assert series is not None and series.patch_ids
    patches = own_store.patches.get_patches(series.patch_ids).values()
    own_store.patches.upsert_patches([p.model_copy(update={"state": "accepted"}) for p in patches])
    ReviewIntel(own_store).run(projects=["netfilter-devel"], since=None)
    stored = own_store.reviews.get_links([latest.series_id])[latest.series_id]
    assert stored.status == ReviewStatus.ACCEPTED
    assert version_statuses(service, [latest.series_id]) == {
        latest.series_id: ReviewStatus.ACCEPTED
    }


def test_a_link_stored_without_a_status_gets_the_rules_answer(own_store):
    ReviewIntel(own_store).run(projects=["netfilter-devel"], since=None)
    links = linked_series(own_store)
    # As a store written before series statuses were kept: the same links, no status.
    own_store.reviews.upsert_links(
        link.model_copy(update={"status": None}) for link in links.values()
    )
    assert {link.status for link in linked_series(own_store).values()} == {None}
    # The rule over the stored patch statuses gives what review-intel decided, for every series.
    assert version_statuses(QueryService(own_store), sorted(links)) == {
        sid: link.status for sid, link in links.items()
    }


def test_unknown_ids_are_not_found(service, own_store):
    for call in (service.patch, service.discussion, service.series):
        with pytest.raises(ResourceNotFoundError):
            call(123_456_789)
    template = own_store.patches.get_patch(1)
    assert template is not None
    own_store.patches.upsert_patches([new_patch(template, 777_777, datetime.now(UTC))])
    with pytest.raises(ResourceNotFoundError, match="no discussion"):
        QueryService(own_store).discussion(777_777)
    assert QueryService(own_store).patch(777_777).review is None


def test_stats_follow_writes_without_counting(own_store):
    service = QueryService(own_store)
    before = service.stats()
    assert before.patches == 2060 and before.series == 829 and before.projects == 1
    assert before.messages == own_store._db.query("SELECT COUNT(*) FROM messages")[0][0]
    assert before.discussions == own_store._db.query("SELECT COUNT(*) FROM discussions")[0][0]
    assert before.patches_by_state == {"accepted": 5, "new": 2052, "rejected": 3}
    template = own_store.patches.get_patch(1)
    assert template is not None
    own_store.patches.upsert_patches(
        [
            new_patch(template, 800_001, datetime.now(UTC)),
            template.model_copy(update={"state": "superseded"}),
        ]
    )
    own_store.patches.upsert_patches([new_patch(template, 800_001, datetime.now(UTC))])  # no-op
    run_id = own_store.runs.start_run("fetch-patches", datetime.now(UTC))
    own_store.runs.finish_run(
        run_id, finished_at=datetime.now(UTC), status="ok", summary={"written": 2}
    )
    after = service.stats()
    assert after.patches == 2061
    assert after.patches_by_state["superseded"] == 1
    assert after.patches_by_state["new"] == 2052
    assert after.last_runs["fetch-patches"].summary == {"written": 2}


def test_health(service):
    assert service.health().status == "ok"


def plan(store: SqliteStore, sql: str, params=()) -> str:
    # Reading the query plan is the point, so this looks inside the store.
    return " | ".join(row[3] for row in store._db.query("EXPLAIN QUERY PLAN " + sql, params))


LIST = "SELECT data FROM patches {} ORDER BY date DESC, id DESC LIMIT 31"


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("", "patches_date"),
        ("WHERE (date, id) < ('2025', 5)", "patches_date (date<?)"),
        ("WHERE project = 'p' AND (date, id) < ('2025', 5)", "patches_project_date (project=?"),
        ("WHERE state = 'new'", "patches_state_only_date (state=?)"),
        ("WHERE state = 'new' AND project = 'p'", "patches_state_date"),
        ("WHERE submitter_email = 'a@b'", "patches_submitter_date (submitter_email=?)"),
        ("WHERE date >= '2025' AND date < '2026'", "patches_date (date>? AND date<?)"),
        (
            "WHERE +id IN (SELECT rowid FROM patches_fts WHERE patches_fts MATCH '\"x\"')",
            "SCAN patches USING INDEX patches_date",
        ),
    ],
)
def test_lists_walk_an_index_in_page_order(store, where, index):
    found = plan(store, LIST.format(where))
    assert index in found
    assert "TEMP B-TREE" not in found


def test_page_reads_use_keys(store):
    assert "PRIMARY KEY" in plan(store, "SELECT data FROM discussions WHERE patch_id IN (1, 2)")
    assert "messages_thread" in plan(
        store, "SELECT data FROM messages WHERE thread_root = ? ORDER BY date, message_id", ("x",)
    )
    counts = plan(store, "SELECT name, n FROM row_counts")
    assert "messages" not in counts


def test_migration_keeps_counts_of_an_existing_store(tmp_path):
    # A store made before the counters existed gets them filled by the migration.
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in sqlite_module.MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO patches (id, project, date, state, archived, submitter_email, msgid, "
        "name, data, fingerprint, updated_at) "
        "VALUES (1, 'p', '2025', 'new', 0, 'a@b', 'm', 'ancient title', '{}', 'f', 'u')"
    )
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        counts = store.stats.counts()
        assert counts.patches_by_project_state == {("p", "new"): 1}
        rows = store._db.query("SELECT rowid FROM patches_fts WHERE patches_fts MATCH 'ancient'")
        assert [r[0] for r in rows] == [1]
    finally:
        store.close()


def test_dates_are_utc(service):
    item = service.patches(PatchQuery(), limit=1).items[0]
    assert item.date.utcoffset() == timedelta(0)


def test_list_counts_agree_with_the_full_review_summaries(store):
    """The counts a list shows are read in SQL; they must say what the summaries say."""
    from lkml_assistant.models.discussion import TrailerKind

    ids = list(range(1, 2061))
    full = store.discussions.get_discussions(ids)
    counts = store.discussions.get_review_counts(ids)
    assert set(counts) == set(full) and len(full) > 1000
    with_trailers = 0
    for patch_id, discussion in full.items():
        summary, got = discussion.summary, counts[patch_id]
        assert got.reply_count == summary.reply_count
        assert got.series_reply_count == summary.series_reply_count
        assert got.participant_count == len(summary.participants)
        assert got.reviewed_by == len(summary.given(TrailerKind.REVIEWED_BY))
        assert got.acked_by == len(summary.given(TrailerKind.ACKED_BY))
        assert got.tested_by == len(summary.given(TrailerKind.TESTED_BY))
        assert got.naks == len(summary.naks)
        assert got.last_activity == summary.last_activity
        with_trailers += bool(summary.trailers)
    assert with_trailers > 100


# --- /health: each scheduled job's last success against its schedule ---------------------------

NOW = datetime(2025, 12, 3, 12, 30, tzinfo=UTC)
HOURLY_JOBS = ("fetch-patches", "fetch-discussions", "review-intel")


def _succeeded(store: SqliteStore, job: str, ago: timedelta, status: str = "ok") -> None:
    started = NOW - ago - timedelta(minutes=1)
    run_id = store.runs.start_run(job, started, owner="test")
    store.runs.finish_run(run_id, finished_at=NOW - ago, status=status, summary={})


@pytest.fixture
def empty_store(tmp_path):
    with SqliteStore(tmp_path / "health.sqlite3") as store:
        yield store


def test_health_is_ok_while_every_job_succeeds_on_schedule(empty_store):
    for job in HOURLY_JOBS:
        _succeeded(empty_store, job, timedelta(minutes=90))
    _succeeded(empty_store, "refresh-discussions", timedelta(hours=47))
    health = QueryService(empty_store, clock=lambda: NOW).health()
    assert (health.status, health.reasons) == ("ok", [])
    assert set(health.jobs) == {*HOURLY_JOBS, "refresh-discussions"}
    patches = health.jobs["fetch-patches"]
    assert patches.status == "ok" and patches.age_seconds == 90 * 60
    assert patches.last_success == NOW - timedelta(minutes=90)
    # The periods come from the recipes' crons: hourly for the fetches, daily for the refresh.
    assert patches.late_after_seconds == 2 * 3600
    assert patches.schedule == "hourly (0 * * * * UTC)"
    assert health.jobs["refresh-discussions"].late_after_seconds == 2 * 86400


def test_health_is_degraded_once_a_last_success_is_older_than_twice_its_schedule(empty_store):
    for job in ("fetch-discussions", "review-intel"):
        _succeeded(empty_store, job, timedelta(minutes=30))
    _succeeded(empty_store, "fetch-patches", timedelta(hours=2, seconds=1))
    # Failures since then do not count as successes.
    fresh = empty_store.runs.start_run("fetch-patches", NOW - timedelta(minutes=5), owner="t")
    empty_store.runs.finish_run(fresh, finished_at=NOW, status="failed", summary={})
    _succeeded(empty_store, "refresh-discussions", timedelta(hours=49))
    health = QueryService(empty_store, clock=lambda: NOW).health()
    assert health.status == "degraded" and health.store == "reachable"
    assert health.jobs["fetch-patches"].status == "late"
    assert health.reasons == [
        "fetch-patches: last success 2 h ago, more than twice its schedule hourly (0 * * * * UTC)",
        "refresh-discussions: last success 49 h ago, more than twice its schedule "
        "daily (0 3 * * * UTC)",
    ]


def test_health_of_jobs_that_never_succeeded(empty_store):
    # Nothing has run yet (a first start): not late.
    fresh = QueryService(empty_store, clock=lambda: NOW).health()
    assert fresh.status == "ok"
    assert {job.status for job in fresh.jobs.values()} == {"not yet"}
    # Tried and failed, with nothing ever synced: degraded at once.
    _succeeded(empty_store, "fetch-patches", timedelta(minutes=1), status="failed")
    running = empty_store.runs.start_run("fetch-discussions", NOW, owner="t")
    health = QueryService(empty_store, clock=lambda: NOW).health()
    assert health.status == "degraded"
    assert health.reasons == ["fetch-patches: never succeeded; its last run ended failed"]
    assert health.jobs["fetch-patches"].status == "never"
    assert health.jobs["fetch-discussions"].status == "not yet"
    assert running in {run.id for run in empty_store.runs.running_runs()}

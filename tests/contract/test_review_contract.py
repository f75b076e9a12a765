# SPDX-License-Identifier: GPL-2.0-or-later
"""What every store promises for review intelligence: version chains of series, per-patch
review records, a person's given reviews, review-status filters, and the change log that
"what changed since" reads. Checked on SQLite and DynamoDB (moto's server) alike, over real
netfilter-devel patches, series and mail."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import timedelta

import boto3
import pytest

from lkml_assistant.models.discussion import AppliedNote, Trailer, TrailerKind
from lkml_assistant.models.domain import Patch, Series
from lkml_assistant.models.records import Change, PatchReview, SeriesLink
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from tests.contract.conftest import FakeClock, Sample, StoreFactory, ingest
from tests.contract.test_store_contract import load, newest_first, writes

STATUSES = (
    "unreviewed",
    "in-discussion",
    "reviewed",
    "changes-requested",
    "accepted",
    "rejected",
)


def link_chain(series: list[Series]) -> list[SeriesLink]:
    """The given series as one chain v1 → vN, every older one superseded by the next."""
    chain_id = series[0].id
    return [
        SeriesLink(
            series_id=item.id,
            project=item.project,
            chain_id=chain_id,
            position=n,
            version=n + 1,
            previous_id=series[n - 1].id if n else None,
            superseded_by=series[n + 1].id if n + 1 < len(series) else None,
            rule="subject" if n else None,
        )
        for n, item in enumerate(series)
    ]


def review_of(patch: Patch, status: str, reviewers: tuple[str, ...] = ()) -> PatchReview:
    return PatchReview(
        patch_id=patch.id,
        project=patch.project,
        series_id=patch.series[0].id if patch.series else None,
        submitter_email=patch.submitter.email,
        date=patch.date,
        status=status,
        reviewers=tuple(email.lower() for email in reviewers),
        given=tuple(
            Trailer(
                kind=TrailerKind.REVIEWED_BY,
                email=email,
                given_by_email=email,
                message_id=f"review-{patch.id}@contract",
            )
            for email in reviewers
        ),
        patch_hash=f"{patch.id:040x}",
    )


def people(sample: Sample) -> list[str]:
    """Real addresses of the sample: its submitters, most active first."""
    counted = Counter(p.submitter.email.lower() for p in sample.patches)
    return [email for email, _ in counted.most_common()]


def read_all(store: Store, cursor: str | None, limit: int = 500) -> tuple[list[Change], str]:
    """Every change after ``cursor``, page after page, and the cursor to read on from."""
    changes: list[Change] = []
    while True:
        page = store.changes.changes_since(cursor, limit=limit)
        assert len(page.changes) <= limit
        changes.extend(page.changes)
        cursor = page.cursor
        if not page.more:
            return changes, cursor


def keys(changes: list[Change]) -> list[tuple[str, str]]:
    return [(change.kind, change.key) for change in changes]


# --- links ---------------------------------------------------------------------------------


def test_links_round_trip_as_chains_and_an_identical_upsert_writes_nothing(store, sample):
    by_date = sorted(sample.series, key=lambda s: (s.date, s.id))
    first, second = link_chain(by_date[:3]), link_chain(by_date[3:5])
    assert store.reviews.upsert_links([*first, *second]).written == 5
    assert store.reviews.get_links([s.id for s in by_date[:6]]) == {
        link.series_id: link for link in [*first, *second]
    }
    assert store.reviews.chain(first[0].chain_id) == first
    assert store.reviews.chain(second[0].chain_id) == second
    assert store.reviews.chain(999_999_999) == []
    before = writes(store)
    again = store.reviews.upsert_links(reversed([*first, *second]))
    assert (again.written, again.unchanged) == (0, 5)
    assert writes(store) == before
    # The third version turns out to be a series of its own: both chains follow.
    alone = SeriesLink(
        series_id=first[2].series_id,
        project=first[2].project,
        chain_id=first[2].series_id,
        position=0,
        version=1,
    )
    cut = first[1].model_copy(update={"superseded_by": None})
    assert store.reviews.upsert_links([cut, alone]).written == 2
    assert store.reviews.chain(first[0].chain_id) == [first[0], cut]
    assert store.reviews.chain(alone.chain_id) == [alone]
    assert store.reviews.get_links([alone.series_id]) == {alone.series_id: alone}


def test_a_links_series_status_round_trips_and_a_new_status_is_a_write(store, sample):
    by_date = sorted(sample.series, key=lambda s: (s.date, s.id))
    chain = link_chain(by_date[:2])
    older, newer = (
        chain[0].model_copy(update={"status": "superseded"}),
        chain[1].model_copy(update={"status": "in-discussion"}),
    )
    assert store.reviews.upsert_links([older, newer]).written == 2
    assert store.reviews.get_links([older.series_id, newer.series_id]) == {
        older.series_id: older,
        newer.series_id: newer,
    }
    assert store.reviews.upsert_links([older, newer]).written == 0
    reviewed = newer.model_copy(update={"status": "reviewed"})
    assert store.reviews.upsert_links([older, reviewed]).written == 1
    assert store.reviews.chain(older.chain_id) == [older, reviewed]
    # A link without a status (as stored before series statuses were kept) reads back as such.
    bare = reviewed.model_copy(update={"status": None})
    assert store.reviews.upsert_links([bare]).written == 1
    assert store.reviews.get_links([bare.series_id])[bare.series_id].status is None


# --- reviews -------------------------------------------------------------------------------


def test_reviews_round_trip_and_an_identical_upsert_writes_nothing(store, sample):
    load(store, sample)
    someone, other = people(sample)[:2]
    reviews = [
        review_of(patch, STATUSES[n % len(STATUSES)], (someone,) if n % 2 else (someone, other))
        for n, patch in enumerate(sample.patches[:40])
    ]
    assert store.reviews.upsert_reviews(reviews).written == 40
    wanted = [r.patch_id for r in reviews[:30]] + [123_456_789]
    assert store.reviews.get_reviews(wanted) == {r.patch_id: r for r in reviews[:30]}
    assert store.reviews.get_reviews([]) == {}
    before = writes(store)
    again = store.reviews.upsert_reviews(reviews)
    assert (again.written, again.unchanged) == (0, 40)
    assert writes(store) == before
    changed = reviews[3].model_copy(update={"status": "accepted"})
    assert store.reviews.upsert_reviews([changed]).written == 1
    assert store.reviews.get_reviews([changed.patch_id]) == {changed.patch_id: changed}


def test_an_applied_note_and_the_rejected_status_round_trip_and_filter(store, sample):
    load(store, sample)
    first, second, third = sample.patches[:3]
    note = AppliedNote(
        tree="netdev/net-next.git (main)",
        commit="1be13a5091bf71627aa1a3d35360b039510f42f3",
        by_name="patchwork-bot+netdevbpf@kernel.org",
        by_email="patchwork-bot+netdevbpf@kernel.org",
        message_id="applied@contract",
    )
    applied = review_of(first, "accepted").model_copy(update={"applied": note})
    rejected = review_of(second, "rejected")
    plain = review_of(third, "accepted")
    assert store.reviews.upsert_reviews([applied, rejected, plain]).written == 3
    got = store.reviews.get_reviews([first.id, second.id, third.id])
    assert got == {first.id: applied, second.id: rejected, third.id: plain}
    assert got[third.id].applied is None
    found = store.patches.page_patches(PatchQuery(review_states=("rejected",)), limit=10)
    assert [p.id for p in found] == [second.id]
    # Losing the note (the reply was another's after all) is a change like any other.
    assert store.reviews.upsert_reviews([applied.model_copy(update={"applied": None})]).written


def test_reviews_given_by_a_person_newest_patch_first(store, sample):
    load(store, sample)
    someone, other, third = people(sample)[:3]
    patches = sample.patches[:30]
    reviews = [
        review_of(patch, "reviewed", (someone.upper(), other) if n % 3 else (other,))
        for n, patch in enumerate(patches)
    ]
    store.reviews.upsert_reviews(reviews)
    given = [r for r in reviews if someone in r.reviewers]
    expected = newest_first([p for p in patches if p.id in {r.patch_id for r in given}])
    assert [r.patch_id for r in store.reviews.reviews_given_by(someone)] == expected
    # Addresses are compared without case.
    assert [r.patch_id for r in store.reviews.reviews_given_by(someone.upper())] == expected
    assert [r.patch_id for r in store.reviews.reviews_given_by(other, limit=5)] == newest_first(
        patches
    )[:5]
    assert store.reviews.reviews_given_by(third) == []
    # A reviewer dropped on update no longer lists the patch; one added does.
    dropped = given[0].model_copy(update={"reviewers": (other, third), "status": "in-discussion"})
    store.reviews.upsert_reviews([dropped])
    assert [r.patch_id for r in store.reviews.reviews_given_by(someone)] == expected[
        : expected.index(dropped.patch_id)
    ] + expected[expected.index(dropped.patch_id) + 1 :]
    assert store.reviews.reviews_given_by(third) == [dropped]


def test_review_states_narrow_pages_of_patches(store, sample):
    load(store, sample)
    statuses = {
        patch.id: STATUSES[n % 4] for n, patch in enumerate(sample.patches) if n % 5 != 4
    }  # every fifth patch has no review record: it counts as unreviewed
    by_id = {p.id: p for p in sample.patches}
    store.reviews.upsert_reviews(review_of(by_id[pid], status) for pid, status in statuses.items())

    def expected(*wanted: str) -> list[int]:
        return newest_first(
            [p for p in sample.patches if statuses.get(p.id, "unreviewed") in wanted]
        )

    def pages(query: PatchQuery, limit: int) -> list[int]:
        seen: list[int] = []
        after = None
        while True:
            page = store.patches.page_patches(query, after=after, limit=limit)
            seen.extend(p.id for p in page)
            if len(page) < limit:
                return seen
            after = PageMark(page[-1].date, page[-1].id)

    for wanted in (("reviewed",), ("unreviewed",), ("reviewed", "changes-requested")):
        query = PatchQuery(project="netfilter-devel", review_states=wanted)
        assert pages(query, 7) == expected(*wanted)
        assert pages(PatchQuery(review_states=wanted), 100) == expected(*wanted)
    assert pages(PatchQuery(review_states=("superseded",)), 10) == []
    # Combined with another criterion, both hold.
    state_new = PatchQuery(states=("new",), review_states=("in-discussion",))
    assert pages(state_new, 9) == expected("in-discussion")
    assert pages(PatchQuery(project="other", review_states=("unreviewed",)), 9) == []


# --- changes -------------------------------------------------------------------------------


def test_every_kind_of_write_is_one_change_in_commit_order(store, sample):
    assert store.changes.changes_since(None).changes == ()
    store.projects.upsert_projects(sample.projects)
    patches, series = sample.patches, sample.series[:4]
    store.patches.upsert_patches(patches)
    store.series.upsert_series(series)
    thread = sample.threads[0]
    ingest(store, [thread])
    links = link_chain(series[:2])
    store.reviews.upsert_links(links)
    reviews = [review_of(patch, "reviewed", (people(sample)[0],)) for patch in patches[:3]]
    store.reviews.upsert_reviews(reviews)
    changes, _ = read_all(store, None)
    stored_messages = store.discussions.thread_messages(thread.root_id)
    discussed = list(store.discussions.get_discussions(p.id for p in sample.patches))
    assert stored_messages and discussed
    expected = (
        [("patch", str(p.id)) for p in patches]
        + [("series", str(s.id)) for s in series]
        + [("message", m.message_id) for m in stored_messages]
        + [("discussion", str(pid)) for pid in discussed]
        + [("link", str(link.series_id)) for link in links]
        + [("review", str(r.patch_id)) for r in reviews]
    )
    # Each record once; the calls in the order they were made (inside one call the store
    # may commit its rows in any order).
    assert sorted(keys(changes)) == sorted(expected)
    kinds = [change.kind for change in changes]
    assert kinds == sorted(kinds, key=["patch", "series", "message", "discussion", "link",
                                       "review"].index)  # fmt: skip
    assert all(change.changed_at.tzinfo is not None for change in changes)
    assert len({change.cursor for change in changes}) == len(changes)


def test_identical_upserts_are_no_change_and_real_updates_are(store, sample):
    load(store, sample)
    ingest(store, sample.threads)
    store.reviews.upsert_links(link_chain(sample.series[:3]))
    store.reviews.upsert_reviews(review_of(p, "reviewed") for p in sample.patches[:10])
    _, cursor = read_all(store, None)
    load(store, sample)
    ingest(store, sample.threads)  # new fetched_at, same threads
    store.reviews.upsert_links(link_chain(sample.series[:3]))
    store.reviews.upsert_reviews(review_of(p, "reviewed") for p in sample.patches[:10])
    page = store.changes.changes_since(cursor)
    assert (page.changes, page.cursor, page.more) == ((), cursor, False)
    # Commit order: one patch, another, the first again.
    one, two = sample.patches[3], sample.patches[4]
    store.patches.upsert_patches([one.model_copy(update={"state": "accepted"})])
    store.patches.upsert_patches([two.model_copy(update={"state": "rejected"})])
    store.patches.upsert_patches([one.model_copy(update={"state": "superseded"})])
    store.reviews.upsert_reviews([review_of(one, "accepted")])
    changes, _ = read_all(store, cursor)
    assert keys(changes) == [
        ("patch", str(one.id)),
        ("patch", str(two.id)),
        ("patch", str(one.id)),
        ("review", str(one.id)),
    ]


@pytest.mark.parametrize("limit", [1, 7])
def test_a_cursor_resumes_exactly_across_small_pages(store, sample, limit):
    store.patches.upsert_patches(sample.patches[:40])
    store.series.upsert_series(sample.series[:10])
    everything = store.changes.changes_since(None, limit=1000)
    assert not everything.more
    assert len(everything.changes) == 50
    seen: list[Change] = []
    cursor = None
    while True:
        page = store.changes.changes_since(cursor, limit=limit)
        assert len(page.changes) <= limit
        seen.extend(page.changes)
        # `more` says exactly whether a full page left changes behind.
        assert page.more == (len(seen) < 50)
        if not page.changes:
            assert page.cursor == cursor or cursor is None
            break
        cursor = page.cursor
        assert cursor == page.changes[-1].cursor
    assert seen == list(everything.changes)
    # Reading again from a cursor in the middle gives the same rest.
    middle = seen[22].cursor
    assert read_all(store, middle, limit=limit)[0] == seen[23:]


def test_latest_cursor_sees_only_what_follows(store, sample):
    store.patches.upsert_patches(sample.patches[:5])
    latest = store.changes.latest_cursor()
    page = store.changes.changes_since(latest)
    assert (page.changes, page.cursor, page.more) == ((), latest, False)
    store.series.upsert_series(sample.series[:2])
    changes, cursor = read_all(store, latest)
    assert keys(changes) == [("series", str(s.id)) for s in sample.series[:2]]
    assert store.changes.changes_since(cursor).changes == ()


def test_a_cursor_the_store_did_not_make_is_refused(store, sample):
    store.patches.upsert_patches(sample.patches[:3])
    foreign = [
        "",
        "garbage",
        "-1",
        "99999999999999",  # no such change here
        base64.urlsafe_b64encode(b"chg1:not a change").decode(),
        base64.urlsafe_b64encode(b"someone else's cursor").decode(),
    ]
    for cursor in foreign:
        with pytest.raises(ValueError, match="cursor"):
            store.changes.changes_since(cursor)


def test_an_empty_store_has_no_changes(store):
    page = store.changes.changes_since(None)
    assert (page.changes, page.more) == ((), False)
    latest = store.changes.latest_cursor()
    assert store.changes.changes_since(latest).changes == ()
    assert store.changes.changes_since(page.cursor).changes == ()


@pytest.mark.integration
def test_dynamodb_holds_changes_back_for_the_settle_window(aws, sample):
    """DynamoDB only: concurrent writers stamp their changes before committing, so a change
    is shown only once every writer that could stamp an earlier one is done."""
    create_tables(boto3.client("dynamodb"), "patches", "discussions")
    clock = FakeClock()
    store = DynamoDbStore("patches", "discussions", change_settle_seconds=2, clock=clock)
    latest = store.changes.latest_cursor()
    store.patches.upsert_patches(sample.patches[:3])
    assert store.changes.changes_since(latest).changes == ()
    assert store.changes.changes_since(None).changes == ()
    clock.advance(seconds=2.2)
    changes, _ = read_all(store, latest)
    assert sorted(keys(changes)) == sorted(("patch", str(p.id)) for p in sample.patches[:3])
    # A cursor older than the change log's retention has lost changes: start again.
    old = clock() - timedelta(days=40)
    expired = base64.urlsafe_b64encode(
        f"chg1:{old.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}".encode()
    ).decode()
    with pytest.raises(ValueError, match="cursor expired, start again from latest_cursor"):
        store.changes.changes_since(expired)


def test_two_stores_on_one_backing_store_share_the_log(open_store: StoreFactory, sample):
    first, second = open_store(), open_store()
    first.patches.upsert_patches(sample.patches[:4])
    cursor = second.changes.changes_since(None).cursor
    second.patches.upsert_patches([sample.patches[0].model_copy(update={"state": "accepted"})])
    first.patches.upsert_patches(sample.patches[:4])  # first's copy is stale: a real change
    changes, _ = read_all(first, cursor)
    assert keys(changes) == [("patch", str(sample.patches[0].id))] * 2

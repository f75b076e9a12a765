# SPDX-License-Identifier: GPL-2.0-or-later
"""What every store promises for a reviewer's queue: the reviews still waiting on an address,
oldest patch first, following each review's updates (answered, closed) at once."""

from __future__ import annotations

from tests.contract.test_review_contract import people, review_of
from tests.contract.test_store_contract import load


def test_the_queue_is_the_waiting_reviews_oldest_first_and_follows_updates(store, sample):
    load(store, sample)
    someone, other, third = people(sample)[:3]
    patches = sample.patches[:30]
    reviews = [
        review_of(patch, "in-discussion").model_copy(
            update={
                "addressed": (someone, other),
                "waiting_on": (someone, other) if n % 2 else (other,),
            }
        )
        for n, patch in enumerate(patches)
    ]
    store.reviews.upsert_reviews(reviews)
    oldest_first = [
        p.id
        for p in sorted(patches, key=lambda p: (p.date, p.id))
        if p.id in {r.patch_id for r in reviews}
    ]
    mine = [
        pid
        for pid in oldest_first
        if pid in {r.patch_id for r in reviews if someone in r.waiting_on}
    ]
    assert [r.patch_id for r in store.reviews.waiting_on(someone)] == mine
    assert [r.patch_id for r in store.reviews.waiting_on(someone.upper())] == mine
    assert [r.patch_id for r in store.reviews.waiting_on(other, limit=4)] == oldest_first[:4]
    assert store.reviews.waiting_on(third) == []
    # Answered, then closed: the patch leaves the queue; a new address asked joins it.
    answered = store.reviews.get_reviews([mine[0]])[mine[0]]
    answered = answered.model_copy(update={"waiting_on": (other, third), "reviewers": (someone,)})
    closed = store.reviews.get_reviews([mine[1]])[mine[1]]
    closed = closed.model_copy(update={"waiting_on": (), "status": "superseded"})
    assert store.reviews.upsert_reviews([answered, closed]).written == 2
    assert [r.patch_id for r in store.reviews.waiting_on(someone)] == mine[2:]
    assert store.reviews.waiting_on(third) == [answered]
    assert mine[1] not in [r.patch_id for r in store.reviews.waiting_on(other, limit=100)]

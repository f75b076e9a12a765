# SPDX-License-Identifier: GPL-2.0-or-later
"""The sentence a page shows under a review status names the evidence that decided it."""

from __future__ import annotations

from datetime import UTC, datetime

from lkml_assistant.models.discussion import AppliedNote
from lkml_assistant.models.domain import Patch, Person
from lkml_assistant.models.records import PatchReview
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.services.queries.reasons import status_reason

WHEN = datetime(2025, 12, 1, tzinfo=UTC)


def _patch(state: str, commit_ref: str | None = None) -> Patch:
    return Patch(
        id=7,
        project="netdev",
        msgid="<fix-1@example.org>",
        date=WHEN,
        name="net: fix a leak",
        state=state,
        archived=False,
        submitter=Person(name="Ann Author", email="ann@example.org"),
        commit_ref=commit_ref,
    )


def _review(status: ReviewStatus, applied: AppliedNote | None = None) -> PatchReview:
    return PatchReview(patch_id=7, project="netdev", date=WHEN, status=status, applied=applied)


def test_an_applied_reply_is_named_with_its_tree_and_commit_while_patchwork_says_new():
    note = AppliedNote(
        tree="net-next",
        commit="0123456789ab",
        by_name="Jakub Kicinski",
        by_email="kuba@kernel.org",
        message_id="<thanks@kernel.org>",
    )
    reason = status_reason(_patch("new"), _review(ReviewStatus.ACCEPTED, note))
    assert reason == "Jakub Kicinski replied that it was applied to net-next as 0123456789ab"


def test_patchworks_own_acceptance_is_named_before_a_reply():
    note = AppliedNote(by_email="kuba@kernel.org", message_id="<thanks@kernel.org>")
    reason = status_reason(_patch("accepted", "abcdef"), _review(ReviewStatus.ACCEPTED, note))
    assert reason == "committed as abcdef"


def test_rejected_says_patchwork_rejected_it():
    reason = status_reason(_patch("rejected"), _review(ReviewStatus.REJECTED))
    assert reason == "Patchwork state is rejected"

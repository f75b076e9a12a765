# SPDX-License-Identifier: GPL-2.0-or-later
"""The linking rules and the status precedence on small hand-made series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lkml_assistant.intel.status import (
    PRECEDENCE,
    PatchEvidence,
    SeriesEvidence,
    chain_status,
    patch_status,
    rollup,
    series_status,
)
from lkml_assistant.intel.subjects import Submitter
from lkml_assistant.intel.version_candidates import SeriesCandidate
from lkml_assistant.intel.versions import LinkRule, link_versions
from lkml_assistant.models.discussion import Trailer, TrailerKind
from lkml_assistant.models.review import ReviewStatus

T0 = datetime(2024, 1, 1, tzinfo=UTC)
JANE = Submitter.of("Jane Doe", "jane@example.org")
BOB = Submitter.of("Bob Roe", "bob@example.org")


def series(
    sid: str,
    version: int,
    days: int,
    subject: str = "foo: add bar",
    *,
    who: Submitter = JANE,
    body: str = "",
    irt: str | None = None,
    patch_ids: tuple[str | None, ...] = ("p1",),
    resend: bool = False,
) -> SeriesCandidate:
    return SeriesCandidate(
        id=sid,
        project="list",
        submitter=who,
        date=T0 + timedelta(days=days),
        version=version,
        subject=subject,
        message_id=f"{sid}@x",
        in_reply_to=irt,
        cover_body=body,
        has_cover=True,
        resend=resend,
        patch_message_ids=tuple(f"{sid}-{n}@x" for n in range(len(patch_ids))),
        patch_subjects=(subject,) * len(patch_ids),
        patch_ids=patch_ids,
    )


def rules(result_ids: list[str], candidates: list[SeriesCandidate]) -> list[LinkRule | None]:
    chain = link_versions(candidates).chain_of(result_ids[0])
    assert chain is not None
    assert list(chain.series_ids) == result_ids
    return [link.rule for link in chain.links]


def test_change_id_links_whatever_the_title() -> None:
    v1 = series("a", 1, 0, "one title", body="---\nchange-id: 20240101-foo-abc\n")
    v2 = series("b", 2, 5, "another title", body="base-commit: x\nchange-id: 20240101-foo-abc\n")
    assert rules(["a", "b"], [v2, v1]) == [None, LinkRule.CHANGE_ID]


def test_in_reply_to_the_previous_version_and_lore_links() -> None:
    v1 = series("a", 1, 0, "one title")
    v2 = series("b", 2, 5, "renamed", irt="a-0@x", patch_ids=("p2",))
    v3 = series(
        "c", 3, 9, "renamed again",
        body="v2: https://lore.kernel.org/all/b%40x/\nv1: https://lore.kernel.org/r/a@x\n",
        patch_ids=("p3",),
    )  # fmt: skip
    assert rules(["a", "b", "c"], [v1, v2, v3]) == [None, LinkRule.IN_REPLY_TO, LinkRule.LORE_LINK]


def test_subject_rule_needs_the_same_submitter_and_a_window() -> None:
    v1 = series("a", 1, 0)
    other = series("b", 2, 5, who=BOB, patch_ids=("p2",))
    late = series("c", 2, 900, patch_ids=("p3",))
    result = link_versions([v1, other, late])
    assert result.chains == ()
    assert set(result.unlinked) == {"a", "b", "c"}
    rewritten = series("d", 2, 5, who=Submitter.of("Jane Doe via List", "list@lists.org"))
    assert not rewritten.submitter.email_known
    assert rules(["a", "d"], [v1, rewritten.model_copy(update={"patch_ids": ("p9",)})]) == [
        None,
        LinkRule.SUBJECT,
    ]


def test_same_version_same_patch_ids_is_a_resend_not_v2() -> None:
    v1 = series("a", 1, 0, patch_ids=("p1", "p2"))
    again = series("b", 1, 3, "foo: add bar (repost)", patch_ids=("p2", "p1"))
    result = link_versions([v1, again])
    assert result.resend_of == {"b": "a"}
    assert result.chains == ()
    assert result.unlinked == ("a",)


def trailer(kind: TrailerKind, who: Submitter) -> Trailer:
    return Trailer(
        kind=kind, name=who.name, email=who.email, given_by_name=who.name,
        given_by_email=who.email, message_id="r@x",
    )  # fmt: skip


def patch(mid: str, pid: str | None = None, *trailers: Trailer, **kw: object) -> PatchEvidence:
    return PatchEvidence.model_validate(
        {"message_id": mid, "author": JANE, "patch_id": pid, "trailers": trailers, **kw}
    )


def test_precedence_order() -> None:
    assert PRECEDENCE[0] is ReviewStatus.ACCEPTED
    assert PRECEDENCE[-1] is ReviewStatus.UNREVIEWED
    review = trailer(TrailerKind.REVIEWED_BY, BOB)
    nak = trailer(TrailerKind.NACKED_BY, BOB)
    assert patch_status(patch("m")).status is ReviewStatus.UNREVIEWED
    assert patch_status(patch("m", repliers=("bob@example.org",))).status is (
        ReviewStatus.IN_DISCUSSION
    )
    assert patch_status(patch("m", repliers=("jane@example.org",))).status is (
        ReviewStatus.UNREVIEWED
    )
    assert patch_status(patch("m", None, review)).status is ReviewStatus.REVIEWED
    assert patch_status(patch("m", None, review, nak)).status is ReviewStatus.CHANGES_REQUESTED
    assert patch_status(patch("m", None, review), superseded=True).status is SUPERSEDED_
    assert (
        patch_status(patch("m", None, nak, patchwork_state="accepted"), superseded=True).status
        is ReviewStatus.ACCEPTED
    )
    assert patch_status(patch("m", patchwork_state="changes-requested")).status is (
        ReviewStatus.CHANGES_REQUESTED
    )
    # The author's own Acked-by is no review.
    own = trailer(TrailerKind.ACKED_BY, JANE)
    assert patch_status(patch("m", None, own)).status is ReviewStatus.UNREVIEWED


SUPERSEDED_ = ReviewStatus.SUPERSEDED


def test_cover_trailer_reviews_every_patch_and_series_rolls_up() -> None:
    ack = trailer(TrailerKind.ACKED_BY, BOB)
    evidence = SeriesEvidence(
        series_id="s", patches=(patch("m1"), patch("m2")), cover_trailers=(ack,)
    )
    rolled = series_status(evidence)
    assert rolled.status is ReviewStatus.REVIEWED
    assert rolled.counts[ReviewStatus.REVIEWED] == 2
    partly = SeriesEvidence(
        series_id="s", patches=(patch("m1", None, ack), patch("m2", repliers=("bob@example.org",)))
    )
    assert series_status(partly).status is ReviewStatus.IN_DISCUSSION
    nak = trailer(TrailerKind.NACKED_BY, BOB)
    assert (
        series_status(
            SeriesEvidence(series_id="s", patches=(patch("m1", None, ack), patch("m2", None, nak)))
        ).status
        is ReviewStatus.CHANGES_REQUESTED
    )


def test_series_rollup_is_one_rule_for_fresh_and_stored_statuses() -> None:
    review = trailer(TrailerKind.REVIEWED_BY, BOB)
    accepted = patch("m1", patchwork_state="accepted")
    evidence = SeriesEvidence(series_id="s", patches=(accepted, patch("m2", None, review)))
    fresh = series_status(evidence)
    assert fresh.status is ReviewStatus.REVIEWED
    assert rollup([p.status for p in fresh.patches]) is fresh.status
    # Superseded by a later version: the patches' stored statuses already say so, and rolling
    # them up again gives the same answer as the evidence.
    older = series_status(evidence, superseded_by="s2")
    assert [p.status for p in older.patches] == [ReviewStatus.ACCEPTED, SUPERSEDED_]
    assert older.status is SUPERSEDED_
    assert rollup([p.status for p in older.patches], superseded=True) is SUPERSEDED_
    # Accepted outranks superseded, for a series as for a patch.
    merged = SeriesEvidence(series_id="s", patches=(accepted,))
    assert series_status(merged, superseded_by="s2").status is ReviewStatus.ACCEPTED
    assert rollup([ReviewStatus.ACCEPTED], superseded=True) is ReviewStatus.ACCEPTED
    # Patchwork marked a patch superseded, though no later version was linked.
    marked = SeriesEvidence(
        series_id="s", patches=(patch("m1", patchwork_state="superseded"), patch("m2"))
    )
    assert series_status(marked).status is SUPERSEDED_
    assert rollup([]) is ReviewStatus.UNREVIEWED
    assert rollup([], replied=True) is ReviewStatus.IN_DISCUSSION


def test_trailers_carry_forward_only_to_unchanged_patches() -> None:
    review = trailer(TrailerKind.REVIEWED_BY, BOB)
    v1 = SeriesEvidence(
        series_id="v1", version=1, patches=(patch("a1", "same", review), patch("b1", "old", review))
    )
    v2 = SeriesEvidence(
        series_id="v2", version=2, patches=(patch("a2", "same"), patch("b2", "new"))
    )
    v3 = SeriesEvidence(series_id="v3", version=3, patches=(patch("a3", "same"),))
    statuses = chain_status(["v1", "v2", "v3"], {"v1": v1, "v2": v2, "v3": v3})
    assert [s.status for s in statuses] == [SUPERSEDED_, SUPERSEDED_, ReviewStatus.REVIEWED]
    v2_patches = {p.message_id: p for p in statuses[1].patches}
    assert [(c.from_version, c.trailer.email) for c in v2_patches["a2"].carried] == [
        (1, "bob@example.org")
    ]
    assert v2_patches["b2"].carried == ()
    # Through the unchanged v2, v1's review reaches v3, still marked as from v1.
    assert [c.from_version for c in statuses[2].patches[0].carried] == [1]


def test_same_title_same_version_later_is_another_series_not_a_version():
    # A maintainer's weekly "fixes for -stable" pull requests share title and sender.
    weekly = [
        series(f"w{n}", 1, 7 * n, "netfilter fixes for -stable", patch_ids=(f"p{n}",))
        for n in range(5)
    ]
    found = link_versions(weekly)
    assert not found.chains and not found.superseded_by and not found.resend_of


def test_the_same_patch_for_another_stable_tree_is_no_resend():
    first = series("a", 1, 0, "[PATCH -stable,6.1 1/1] nf: reject duplicates", patch_ids=("h",))
    other = series("b", 1, 0, "[PATCH -stable,5.15 1/1] nf: reject duplicates", patch_ids=("h",))
    assert link_versions([first, other]).resend_of == {}


def test_a_repost_that_only_adds_the_tree_tag_is_a_resend():
    plain = series("a", 1, 0, "[PATCH] hv_sock: loop in send()", patch_ids=("h",))
    tagged = series("b", 1, 2, "[PATCH net-next] hv_sock: loop in send()", patch_ids=("h",))
    assert link_versions([plain, tagged]).resend_of == {"b": "a"}

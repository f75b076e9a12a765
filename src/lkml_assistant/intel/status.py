# SPDX-License-Identifier: GPL-2.0-or-later
"""Review status of patches and series, from trailers, replies and Patchwork's state.

This is where a status is decided and explained; the vocabulary is
:class:`~lkml_assistant.models.review.ReviewStatus`. A patch gets the first status that
applies, strongest first:

1. ``accepted``: Patchwork says accepted (or mainlined/queued), the patch is committed, or
   someone other than the author answered that it was applied ("Applied to net-next,
   thanks!", b4's thank-you, patchwork-bot), whatever Patchwork still says; the note
   (:class:`~lkml_assistant.models.discussion.AppliedNote`) keeps the tree and commit;
2. ``rejected``: Patchwork says rejected, a final answer;
3. ``superseded``: a later version exists, or Patchwork says superseded;
4. ``changes-requested``: a NAK (``Nacked-by:``, or NAK/NACK written in prose, see
   :mod:`lkml_assistant.intel.naks`) from someone else, or Patchwork says changes-requested;
5. ``reviewed``: a Reviewed-by or Acked-by from someone other than the author, given on this
   patch, on its cover letter, or carried from an earlier version with the same patch-id;
6. ``in-discussion``: replies from someone other than the author, but no review trailer;
7. ``unreviewed``: nothing yet.

A series rolls its patches up (:func:`rollup`): accepted if every patch is; rejected if every
patch is; accepted if every patch is one or the other (what landed, landed); superseded if a
later version exists or a patch is superseded; changes-requested if any patch is, or is
rejected while others are still open; reviewed if every patch is reviewed or accepted;
in-discussion if anything was said; else unreviewed. A Patchwork state given for the whole
series (a cover-only series) counts as for a patch.

Carry-forward follows b4: the Reviewed-by/Acked-by/Tested-by given to a patch carry to the
patch of a later version whose git patch-id is the same (NAKs do not carry: a NAK asks for a
change, and a re-posting unchanged is still NAKed only if someone says so again).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.intel.reviews import summarize_reviews
from lkml_assistant.intel.subjects import Submitter
from lkml_assistant.intel.version_candidates import SeriesCandidate
from lkml_assistant.intel.versions import VersionChain
from lkml_assistant.models.discussion import (
    AppliedNote,
    PatchReviewSummary,
    Thread,
    Trailer,
    TrailerKind,
)
from lkml_assistant.models.review import ReviewStatus

PRECEDENCE: tuple[ReviewStatus, ...] = tuple(ReviewStatus)
"""Strongest first, the order in which the rules below try them."""

ACCEPTED_STATES = frozenset({"accepted", "mainlined", "queued"})
CHANGES_STATES = frozenset({"changes-requested"})
REJECTED_STATES = frozenset({"rejected"})
_DECIDED = frozenset({ReviewStatus.ACCEPTED, ReviewStatus.REJECTED})
_REVIEW_KINDS = frozenset({TrailerKind.REVIEWED_BY, TrailerKind.ACKED_BY})
_CARRIED_KINDS = frozenset({TrailerKind.REVIEWED_BY, TrailerKind.ACKED_BY, TrailerKind.TESTED_BY})


class PatchEvidence(BaseModel):
    """What is known about one posted patch: who wrote it, what was said, Patchwork's view."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    author: Submitter
    patch_id: str | None = None
    trailers: tuple[Trailer, ...] = Field(default=(), description="Given in replies, NAKs too.")
    repliers: tuple[str, ...] = Field(default=(), description="Addresses of those who replied.")
    reply_count: int = 0
    patchwork_state: str | None = None
    committed: bool = False
    applied: AppliedNote | None = Field(
        default=None, description="A reply from someone else saying it was applied."
    )

    @classmethod
    def from_summary(
        cls,
        summary: PatchReviewSummary,
        author: Submitter,
        *,
        patch_id: str | None = None,
        patchwork_state: str | None = None,
        committed: bool = False,
    ) -> PatchEvidence:
        return cls(
            message_id=summary.patch_message_id,
            author=author,
            patch_id=patch_id,
            trailers=(*summary.trailers, *summary.naks),
            repliers=summary.participants,
            reply_count=summary.reply_count + summary.series_reply_count,
            patchwork_state=patchwork_state,
            committed=committed,
            applied=summary.applied,
        )


class SeriesEvidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    series_id: str
    version: int = 1
    patches: tuple[PatchEvidence, ...] = ()
    cover_trailers: tuple[Trailer, ...] = Field(
        default=(), description="Trailers given to the cover letter; they apply to every patch."
    )
    cover_repliers: tuple[str, ...] = ()
    patchwork_state: str | None = Field(
        default=None, description="For a cover-only series: a state every patch would share."
    )


class CarriedTrailer(BaseModel):
    model_config = ConfigDict(frozen=True)

    trailer: Trailer
    from_series: str
    from_version: int


class PatchStatus(BaseModel):
    """A patch's status and the trailers that decided it."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    status: ReviewStatus
    reviews: tuple[Trailer, ...] = Field(default=(), description="Reviewed/Acked-by given here.")
    carried: tuple[CarriedTrailer, ...] = ()
    naks: tuple[Trailer, ...] = ()
    applied: AppliedNote | None = Field(
        default=None, description="The 'applied' reply that made it accepted, if one did."
    )

    @property
    def given(self) -> tuple[Trailer, ...]:
        """The reviews and NAKs given to this version (on the patch or its cover letter)."""
        return (*self.reviews, *self.naks)

    @property
    def reviewers(self) -> tuple[str, ...]:
        """Who gave a review, a NAK or a carried trailer: addresses, lowercase, sorted."""
        trailers = (*self.given, *(c.trailer for c in self.carried))
        return tuple(
            sorted(
                {
                    (t.given_by_email or t.email).casefold()
                    for t in trailers
                    if t.given_by_email or t.email
                }
            )
        )


class SeriesStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    series_id: str
    version: int
    status: ReviewStatus
    counts: dict[ReviewStatus, int]
    patches: tuple[PatchStatus, ...]
    superseded_by: str | None = None


def _by_other(trailer: Trailer, author: Submitter) -> bool:
    """Given by (and naming) someone other than the patch's author."""
    people = {a.casefold() for a in (trailer.email, trailer.given_by_email) if a}
    if author.email_known and author.email in people:
        return False
    names = {" ".join(n.split()).casefold() for n in (trailer.name, trailer.given_by_name) if n}
    same_name = bool(author.name_key) and author.name_key in names
    return not (same_name and not (author.email_known and people))


def patch_status(
    patch: PatchEvidence,
    *,
    cover_trailers: Sequence[Trailer] = (),
    cover_repliers: Sequence[str] = (),
    carried: Sequence[CarriedTrailer] = (),
    superseded: bool = False,
) -> PatchStatus:
    """The status of one patch; see the module docstring for the precedence."""
    given = [*patch.trailers, *cover_trailers]
    reviews = tuple(t for t in given if t.kind in _REVIEW_KINDS and _by_other(t, patch.author))
    naks = tuple(t for t in given if t.kind is TrailerKind.NACKED_BY and _by_other(t, patch.author))
    carried_reviews = [c for c in carried if c.trailer.kind in _REVIEW_KINDS]
    state = (patch.patchwork_state or "").casefold()
    others = {r.casefold() for r in (*patch.repliers, *cover_repliers)}
    others.discard(patch.author.email)
    if patch.committed or state in ACCEPTED_STATES or patch.applied is not None:
        status = ReviewStatus.ACCEPTED
    elif state in REJECTED_STATES:
        status = ReviewStatus.REJECTED
    elif superseded or state == "superseded":
        status = ReviewStatus.SUPERSEDED
    elif naks or state in CHANGES_STATES:
        status = ReviewStatus.CHANGES_REQUESTED
    elif reviews or carried_reviews:
        status = ReviewStatus.REVIEWED
    elif others or (patch.reply_count and not patch.repliers):
        status = ReviewStatus.IN_DISCUSSION
    else:
        status = ReviewStatus.UNREVIEWED
    return PatchStatus(
        message_id=patch.message_id,
        status=status,
        reviews=reviews,
        carried=tuple(carried),
        naks=naks,
        applied=patch.applied if status is ReviewStatus.ACCEPTED else None,
    )


def rollup(
    statuses: Collection[ReviewStatus],
    *,
    superseded: bool = False,
    patchwork_state: str | None = None,
    replied: bool = False,
) -> ReviewStatus:
    """A series' status from its patches' statuses; see the module docstring for the rule.

    ``superseded`` says a later version exists; whether the patches' statuses already count
    it changes nothing, so stored per-patch statuses give the same answer as fresh ones.
    ``replied``: someone answered the cover letter of a series without patches.
    """
    present = set(statuses)
    state = (patchwork_state or "").casefold()
    if present == {ReviewStatus.ACCEPTED} or state in ACCEPTED_STATES:
        return ReviewStatus.ACCEPTED
    if present == {ReviewStatus.REJECTED} or state in REJECTED_STATES:
        return ReviewStatus.REJECTED
    if present and present <= _DECIDED:
        return ReviewStatus.ACCEPTED  # every patch decided, some taken: what landed, landed
    if superseded or state == "superseded" or ReviewStatus.SUPERSEDED in present:
        return ReviewStatus.SUPERSEDED
    if present & {ReviewStatus.CHANGES_REQUESTED, ReviewStatus.REJECTED} or state in CHANGES_STATES:
        return ReviewStatus.CHANGES_REQUESTED
    if present and present <= {ReviewStatus.REVIEWED, ReviewStatus.ACCEPTED}:
        return ReviewStatus.REVIEWED
    if present - {ReviewStatus.UNREVIEWED} or replied:
        return ReviewStatus.IN_DISCUSSION
    return ReviewStatus.UNREVIEWED


def series_status(
    series: SeriesEvidence,
    *,
    superseded_by: str | None = None,
    carried: Mapping[str, Sequence[CarriedTrailer]] | None = None,
) -> SeriesStatus:
    """The status of a series and of each of its patches."""
    carried = carried or {}
    patches = tuple(
        patch_status(
            p,
            cover_trailers=series.cover_trailers,
            cover_repliers=series.cover_repliers,
            carried=carried.get(p.message_id, ()),
            superseded=superseded_by is not None,
        )
        for p in series.patches
    )
    counts = {status: 0 for status in PRECEDENCE}
    for p in patches:
        counts[p.status] += 1
    return SeriesStatus(
        series_id=series.series_id,
        version=series.version,
        status=rollup(
            [p.status for p in patches],
            superseded=superseded_by is not None,
            patchwork_state=series.patchwork_state,
            replied=bool(series.cover_repliers),
        ),
        counts=counts,
        patches=patches,
        superseded_by=superseded_by,
    )


def carry_forward(chain_evidence: Sequence[SeriesEvidence]) -> dict[str, list[CarriedTrailer]]:
    """Trailers each patch inherits from earlier versions (oldest first) with the same patch-id.

    Returns patch Message-ID -> carried trailers. Chains of carries are followed: a v1 review
    reaches v3 through an unchanged v2. A trailer already given on the later patch itself is
    not repeated.
    """
    pool: dict[str, list[CarriedTrailer]] = {}  # patch-id -> trailers seen so far
    result: dict[str, list[CarriedTrailer]] = {}
    for series in chain_evidence:
        additions: dict[str, list[CarriedTrailer]] = {}
        for patch in series.patches:
            own = [
                t
                for t in (*patch.trailers, *series.cover_trailers)
                if t.kind in _CARRIED_KINDS and _by_other(t, patch.author)
            ]
            own_keys = {(t.kind, (t.email or t.name).casefold()) for t in own}
            inherited = []
            if patch.patch_id is not None:
                for item in pool.get(patch.patch_id, ()):
                    key = (item.trailer.kind, (item.trailer.email or item.trailer.name).casefold())
                    if key not in own_keys:
                        own_keys.add(key)
                        inherited.append(item)
            if inherited:
                result[patch.message_id] = inherited
            if patch.patch_id is not None:
                mine = [
                    CarriedTrailer(
                        trailer=t, from_series=series.series_id, from_version=series.version
                    )
                    for t in own
                ]
                additions.setdefault(patch.patch_id, []).extend([*inherited, *mine])
        for pid, items in additions.items():
            pool.setdefault(pid, []).extend(items)
    return result


def chain_status(
    chain: VersionChain | Sequence[str],
    evidence: Mapping[str, SeriesEvidence],
) -> list[SeriesStatus]:
    """The status of every version of a chain (oldest first), with carried trailers."""
    ids = list(chain.series_ids if isinstance(chain, VersionChain) else chain)
    ordered = [evidence[i] for i in ids if i in evidence]
    carried = carry_forward(ordered)
    out = []
    for position, series in enumerate(ordered):
        later = ordered[position + 1].series_id if position + 1 < len(ordered) else None
        out.append(series_status(series, superseded_by=later, carried=carried))
    return out


# --- evidence from raw mail -------------------------------------------------------------------


def evidence_from_thread(
    candidate: SeriesCandidate,
    thread: Thread,
    *,
    patchwork_states: Mapping[str, str] | None = None,
) -> SeriesEvidence:
    """Evidence for one mail-built series from the thread that holds it.

    Replies to the cover letter are folded into every patch's trailers by
    :func:`~lkml_assistant.intel.reviews.summarize_reviews`.
    """
    cover = candidate.message_id if candidate.has_cover else None
    summaries = summarize_reviews(thread, candidate.patch_message_ids, cover)
    states = patchwork_states or {}
    patches = []
    for message_id, pid in zip(candidate.patch_message_ids, candidate.patch_ids, strict=True):
        message = thread.messages.get(message_id)
        author = Submitter.from_mail(message) if message is not None else candidate.submitter
        patches.append(
            PatchEvidence.from_summary(
                summaries[message_id],
                author,
                patch_id=pid,
                patchwork_state=states.get(message_id),
            )
        )
    cover_repliers: tuple[str, ...] = ()
    if cover is not None and not candidate.patch_message_ids and cover in thread.nodes:
        cover_repliers = tuple(
            sorted(
                {
                    thread.messages[m].author_email.casefold()
                    for m in thread.descendants(cover)
                    if thread.messages[m].author_email
                }
            )
        )
    return SeriesEvidence(
        series_id=candidate.id,
        version=candidate.version,
        patches=tuple(patches),
        cover_repliers=cover_repliers,
    )


def threads_by_message(threads: Iterable[Thread]) -> dict[str, Thread]:
    """Index threads by every Message-ID they hold."""
    index: dict[str, Thread] = {}
    for thread in threads:
        for message_id in thread.nodes:
            index.setdefault(message_id, thread)
    return index

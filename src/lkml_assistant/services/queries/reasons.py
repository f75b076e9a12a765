# SPDX-License-Identifier: GPL-2.0-or-later
"""Why a patch has the review status review-intel stored: the evidence, in one sentence.

The decision itself is :func:`lkml_assistant.intel.status.patch_status`; this only names what
the stored record shows for the status it holds (the Patchwork state, the commit, the NAK or the
review trailers), with the same state vocabulary, so the page and the JSON say the same thing.
A status this module has no sentence for (a value added later) is still stated, plainly.
"""

from __future__ import annotations

from collections.abc import Sequence

from lkml_assistant.intel.status import ACCEPTED_STATES, CHANGES_STATES
from lkml_assistant.models.discussion import Trailer, TrailerKind
from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import PatchReview
from lkml_assistant.models.review import ReviewStatus

_KIND_LABELS = {
    TrailerKind.REVIEWED_BY: "Reviewed-by",
    TrailerKind.ACKED_BY: "Acked-by",
    TrailerKind.TESTED_BY: "Tested-by",
    TrailerKind.NACKED_BY: "NAK",
}


def _who(trailers: Sequence[Trailer]) -> str:
    names: dict[str, None] = {}
    for t in trailers:
        label = _KIND_LABELS.get(t.kind, str(t.kind))
        names[f"{label} from {t.given_by_name or t.name or t.given_by_email or t.email}"] = None
    return ", ".join(names)


def _accepted(patch: Patch) -> str:
    if patch.commit_ref:
        return f"committed as {patch.commit_ref}"
    return f"Patchwork state is {patch.state}"


def _changes_requested(patch: Patch, review: PatchReview) -> str:
    naks = [t for t in review.given if t.kind is TrailerKind.NACKED_BY]
    if naks:
        return _who(naks)
    return f"Patchwork state is {patch.state}"


def _reviewed(review: PatchReview) -> str:
    given = [t for t in review.given if t.kind is not TrailerKind.NACKED_BY]
    parts = [_who(given)] if given else []
    carried = [c for c in review.carried]
    if carried:
        versions = ", ".join(sorted({f"v{c.from_version}" for c in carried}))
        parts.append(f"{_who([c.trailer for c in carried])} carried from {versions}")
    return "; ".join(parts) or "review trailers from reviewers"


def status_reason(patch: Patch, review: PatchReview) -> str:
    """One sentence of evidence for ``review.status``."""
    status = review.status
    state = patch.state.casefold()
    if status == ReviewStatus.ACCEPTED:
        return _accepted(patch)
    if status == ReviewStatus.SUPERSEDED:
        if state == "superseded":
            return "Patchwork state is superseded"
        return "a later version of the series was posted"
    if status == ReviewStatus.CHANGES_REQUESTED:
        return _changes_requested(patch, review)
    if status == ReviewStatus.REVIEWED:
        return _reviewed(review)
    if status == ReviewStatus.IN_DISCUSSION:
        return "replies from others, no Reviewed-by or Acked-by yet"
    if status == ReviewStatus.UNREVIEWED:
        return "no reply from anyone but the author yet"
    if state in ACCEPTED_STATES | CHANGES_STATES:
        return f"{status}: Patchwork state is {patch.state}"
    return f"review-intel says {status}"

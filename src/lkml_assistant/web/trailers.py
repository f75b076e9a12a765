# SPDX-License-Identifier: GPL-2.0-or-later
"""A patch's trailers as the patch page lists them: who gave what, where, carried or not.

Given: every trailer and NAK the replies gave (the discussion summary) and those review-intel
counted for this patch (its cover letter's too), once each; then those review-intel carried
from an earlier version of the same patch; then those the patch already held when posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lkml_assistant.models.api import PatchDetail, TrailerOut
from lkml_assistant.sources.lore import message_url
from lkml_assistant.web.views import safe_href


@dataclass(frozen=True)
class TrailerRow:
    trailer: TrailerOut
    origin: str  # "given", "carried" (from an earlier version) or "posted" (in the patch)
    from_version: int | None
    from_series: int | None
    anchor: str | None  # the message on this page
    lore: str | None  # the message on lore


def trailer_rows(
    detail: PatchDetail, anchors: Mapping[str, str], *, lore_url: str, list_name: str
) -> list[TrailerRow]:
    def row(
        trailer: TrailerOut, origin: str, version: int | None = None, series: int | None = None
    ) -> TrailerRow:
        lore = message_url(lore_url, list_name, trailer.message_id) if list_name else None
        return TrailerRow(
            trailer=trailer,
            origin=origin,
            from_version=version,
            from_series=series,
            anchor=anchors.get(trailer.message_id),
            lore=safe_href(lore),
        )

    given: dict[tuple[str, str, str], TrailerOut] = {}
    if detail.review is not None:
        for t in (*detail.review.trailers, *detail.review.naks):
            given.setdefault((t.kind, t.email.casefold(), t.message_id), t)
    if detail.status is not None:
        for t in detail.status.given:
            given.setdefault((t.kind, t.email.casefold(), t.message_id), t)
    rows = [row(t, "given") for t in given.values()]
    if detail.status is not None:
        rows += [
            row(c.trailer, "carried", c.from_version, c.from_series) for c in detail.status.carried
        ]
    if detail.review is not None:
        rows += [row(t, "posted") for t in detail.review.carried]
    return rows

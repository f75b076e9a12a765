# SPDX-License-Identifier: GPL-2.0-or-later
"""``/series/{id}/range-diff``: what changed in a series since an earlier version of its chain.

Against the previous version it is the record review-intel stored when the version arrived;
``against=`` any earlier version of the same chain (validated: 400 otherwise) is built from the
stored mail on the spot (:mod:`lkml_assistant.services.range_diffs`, the same rule).
"""

from __future__ import annotations

from collections import Counter

from lkml_assistant.models.api import CarriedReviewOut, RangeDiffOut, RangePairOut, RangePatchRef
from lkml_assistant.models.rangediff import PairVerdict, RangeDiffRecord
from lkml_assistant.models.records import SeriesLink
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.queries.errors import ResourceNotFoundError, invalid
from lkml_assistant.services.queries.mapping import trailer_out
from lkml_assistant.services.queries.validation import check_id
from lkml_assistant.services.range_diffs import range_diff_from_store


def _against(
    series_id: int, link: SeriesLink | None, chain: list[SeriesLink], against: int | None
) -> int:
    if against is None:
        if link is None or link.previous_id is None:
            raise ResourceNotFoundError(f"series {series_id} has no earlier version")
        return link.previous_id
    check_id(against, "query.against")
    position = link.position if link is not None else 0
    earlier = {
        item.series_id for item in chain if item.position < position and item.resend_of is None
    }
    if against not in earlier:
        raise invalid(
            "query.against",
            f"series {against} is not an earlier version in the chain of series {series_id}",
        )
    return against


def range_diff_out(store: Store, series_id: int, against: int | None = None) -> RangeDiffOut:
    check_id(series_id, "path.series_id")
    series = store.series.get_series(series_id)
    if series is None:
        raise ResourceNotFoundError(f"no series {series_id}")
    link = store.reviews.get_links([series_id]).get(series_id)
    chain = store.reviews.chain(link.chain_id) if link is not None else []
    against_id = _against(series_id, link, chain, against)
    record = store.range_diffs.get_range_diff(series_id, against_id)
    stored = record is not None
    if record is None:
        old = store.series.get_series(against_id)
        if old is None:
            raise ResourceNotFoundError(f"no series {against_id}")
        record = range_diff_from_store(store, series, old)
    return _out(store, record, link, stored=stored)


def _out(
    store: Store, record: RangeDiffRecord, link: SeriesLink | None, *, stored: bool
) -> RangeDiffOut:
    msgids = {key for pair in record.pairs for key in (pair.old_key, pair.new_key) if key}
    patches = {p.msgid: p for p in store.patches.patches_by_msgids(msgids)}
    reviews = store.reviews.get_reviews(
        patches[p.new_key].id for p in record.pairs if p.new_key in patches
    )

    def ref(key: str | None, index: int | None, title: str) -> RangePatchRef | None:
        if key is None or index is None:
            return None
        patch = patches.get(key)
        return RangePatchRef(
            index=index + 1, msgid=key, patch_id=patch.id if patch else None, title=title
        )

    pairs = []
    for pair in record.pairs:
        carried: list[CarriedReviewOut] = []
        new_patch = patches.get(pair.new_key or "")
        unchanged_code = pair.verdict is PairVerdict.UNCHANGED or pair.same_code
        review = reviews.get(new_patch.id) if new_patch is not None else None
        if unchanged_code and review is not None:
            carried = [
                CarriedReviewOut(
                    trailer=trailer_out(c.trailer),
                    from_series=c.from_series,
                    from_version=c.from_version,
                )
                for c in review.carried
            ]
        pairs.append(
            RangePairOut(
                verdict=pair.verdict,
                mark=pair.verdict.mark,
                old=ref(pair.old_key, pair.old_index, pair.old_title),
                new=ref(pair.new_key, pair.new_index, pair.new_title),
                same_code=pair.same_code,
                interdiff=pair.interdiff,
                notes=pair.notes,
                carried=carried,
            )
        )
    counts = Counter(p.verdict for p in record.pairs)
    return RangeDiffOut(
        series_id=record.series_id,
        version=record.version,
        against_id=record.against_id,
        against_version=record.against_version,
        chain_id=link.chain_id if link is not None else record.series_id,
        previous=link is not None and link.previous_id == record.against_id,
        stored=stored,
        complete=record.complete,
        changelog=record.changelog,
        counts={verdict: counts.get(verdict, 0) for verdict in PairVerdict},
        pairs=pairs,
    )

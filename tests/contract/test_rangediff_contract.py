# SPDX-License-Identifier: GPL-2.0-or-later
"""What every store promises for range-diffs: one record per (series, earlier version), read
back as stored (a 100-patch series' interdiffs too, packed in DynamoDB), an identical
upsert writing nothing, and the completeness marks read without the pairs."""

from __future__ import annotations

from functools import cache

from lkml_assistant.intel.rangediff import RangePatch, range_diff
from lkml_assistant.models.rangediff import PairVerdict, RangeDiffRecord
from tests.contract.test_store_contract import writes
from tests.unit.test_rangediff_git import _versions


@cache
def _chips_v1_v2() -> RangeDiffRecord:
    """The real v1 → v2 of "pwm: Fix lifetime issues for pwm_chips" (101 → 108 patches)."""
    versions: list[list[RangePatch]] = _versions("pwm-chips-lifetime-v1-v6.mbox.gz")
    pairs = range_diff(versions[0], versions[1])
    return RangeDiffRecord(
        series_id=2002,
        against_id=2001,
        project="linux-pwm",
        version=2,
        against_version=1,
        pairs=pairs,
        changelog="Changes since v1:\n - rebased",
    )


def test_a_range_diff_round_trips_and_an_identical_upsert_writes_nothing(store):
    record = _chips_v1_v2()
    assert len(record.model_dump_json()) > 100_000  # packed (zlib) in DynamoDB
    assert {p.verdict for p in record.pairs} >= {PairVerdict.CHANGED, PairVerdict.ADDED}
    small = record.model_copy(update={"series_id": 2003, "against_id": 2002, "pairs": ()})
    assert store.range_diffs.upsert_range_diffs([record, small]).written == 2
    assert store.range_diffs.get_range_diff(2002, 2001) == record
    assert store.range_diffs.get_range_diff(2003, 2002) == small
    assert store.range_diffs.get_range_diff(2002, 2003) is None
    before = writes(store)
    again = store.range_diffs.upsert_range_diffs([small, record])
    assert (again.written, again.unchanged) == (0, 2)
    assert writes(store) == before


def test_completeness_marks_are_read_for_the_keys_asked(store):
    record = _chips_v1_v2().model_copy(update={"pairs": ()})
    partial = record.model_copy(update={"series_id": 2004, "complete": False})
    store.range_diffs.upsert_range_diffs([record, partial])
    assert store.range_diffs.range_diff_states([(2002, 2001), (2004, 2001), (2005, 2001)]) == {
        (2002, 2001): True,
        (2004, 2001): False,
    }
    fixed = partial.model_copy(update={"complete": True})
    assert store.range_diffs.upsert_range_diffs([fixed]).written == 1
    assert store.range_diffs.range_diff_states([(2004, 2001)]) == {(2004, 2001): True}

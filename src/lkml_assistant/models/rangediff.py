# SPDX-License-Identifier: GPL-2.0-or-later
"""What changed between two versions of a series: the pairs of a range-diff, as stored and served.

:mod:`lkml_assistant.intel.rangediff` computes them; the stores keep one
:class:`RangeDiffRecord` per (series, earlier version) pair; the API and pages show them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PairVerdict(StrEnum):
    """``git range-diff``'s four marks: ``=``, ``!``, ``>`` and ``<``."""

    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    DROPPED = "dropped"

    @property
    def mark(self) -> str:
        return {"unchanged": "=", "changed": "!", "added": ">", "dropped": "<"}[self.value]


class RangePair(BaseModel):
    """One patch of the older version and its counterpart in the newer one (or none).

    ``old_index``/``new_index`` are 0-based positions in each version's patch order;
    ``old_key``/``new_key`` the patch mails' Message-IDs.
    """

    model_config = ConfigDict(frozen=True)

    verdict: PairVerdict
    old_index: int | None = None
    new_index: int | None = None
    old_key: str | None = None
    new_key: str | None = None
    old_title: str = ""
    new_title: str = ""
    same_code: bool = Field(
        False, description="Same git patch-id: the code is the same, only the message changed."
    )
    interdiff: str = Field(
        "", description="The diff of the two patches (commit message and diff), for 'changed'."
    )
    notes: str = Field("", description="The newer patch's notes below its '---' line.")


class RangeDiffRecord(BaseModel):
    """The range-diff of one series against an earlier version of the same chain."""

    model_config = ConfigDict(frozen=True)

    series_id: int
    against_id: int
    project: str
    version: int = 0
    against_version: int = 0
    pairs: tuple[RangePair, ...] = ()
    changelog: str = Field(
        "",
        description="The author's changelog for this version: the cover letter's, or "
        "the patches' notes below '---' when there is no cover.",
    )
    complete: bool = Field(
        True, description="False when some patch mails of either version were not stored."
    )

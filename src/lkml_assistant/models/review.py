# SPDX-License-Identifier: GPL-2.0-or-later
"""The review vocabulary: the statuses a patch or a series can be in.

One enum for every layer: :mod:`lkml_assistant.intel.status` decides which status applies
(and documents why), the stores keep its value, the API states it. Members are listed
strongest first; that order is the precedence the rules apply.
"""

from __future__ import annotations

from enum import StrEnum


class ReviewStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    CHANGES_REQUESTED = "changes-requested"
    REVIEWED = "reviewed"
    IN_DISCUSSION = "in-discussion"
    UNREVIEWED = "unreviewed"


REVIEW_STATUSES = ", ".join(ReviewStatus)
"""The values, strongest first, for descriptions and error messages."""

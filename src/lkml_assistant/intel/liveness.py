# SPDX-License-Identifier: GPL-2.0-or-later
"""Which review threads can still change: what the daily re-read reads again, as a maintainer
would judge it.

A thread can still change when any of these holds:

- a tracked patch in it is still open: its review status is not accepted, rejected or
  superseded (:data:`lkml_assistant.intel.queue.CLOSED`, the same "closed" a reviewer's queue
  uses), or it has no review status yet. Open patches are what reviewers answer;
- it had mail in the last ``quiet`` days: a conversation still going. This covers the days
  after a decision too, when the mail that follows one arrives: the "applied, thanks" notice,
  the kernel test robot's or linux-next's report on the tree it went into, a late Tested-by.
  The store keeps no date of a Patchwork state change, so the decision's own mail (and the
  ``applied`` note's date, when there is one) stands for it;
- a tracked patch in it was posted in the last ``quiet`` days: a version superseded within
  hours still draws replies from reviewers who were reading it.

Every other thread is settled: its patches were decided and nobody wrote for ``quiet`` days.
The daily run leaves those to the weekly re-read, which reads every thread of its window; a
reply to one is found sooner anyway by the daily search of what lore received (``rt:``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from lkml_assistant.intel.queue import CLOSED
from lkml_assistant.models.review import ReviewStatus

QUIET_DAYS = 3
"""Days without mail after which a decided thread is settled (``LKML_REFRESH_SETTLED_DAYS``)."""


@dataclass(frozen=True)
class ThreadLife:
    """What decides whether one thread can still change."""

    statuses: tuple[str | None, ...]
    """The review status of each tracked patch in the thread; None: none decided yet."""
    last_activity: datetime | None = None
    """The thread's newest mail."""
    newest_patch: datetime | None = None
    """The newest submission of its tracked patches."""
    decided_at: datetime | None = None
    """The newest "applied" note of its patches, when one says when."""


def _closed(status: str | None) -> bool:
    if status is None:
        return False
    try:
        return ReviewStatus(status) in CLOSED
    except ValueError:
        return False  # unknown to us: treated as open, the safe side


def can_still_change(thread: ThreadLife, now: datetime, *, quiet: timedelta) -> bool:
    """Whether the daily re-read should read ``thread`` again (see the module's rule)."""
    if not thread.statuses or not all(_closed(status) for status in thread.statuses):
        return True
    recent = now - quiet
    moments: Iterable[datetime | None] = (
        thread.last_activity,
        thread.newest_patch,
        thread.decided_at,
    )
    return any(moment is not None and moment >= recent for moment in moments)

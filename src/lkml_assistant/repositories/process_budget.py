# SPDX-License-Identifier: GPL-2.0-or-later
"""The request budget of one process (local mode): every store of the process shares it.

`serve` is one process (the API workers never ask lore), so a count in memory is what the
DynamoDB item is on AWS (``repositories/dynamodb/budget.py``): a fixed window per upstream,
at most ``cap`` requests in it.
"""

from __future__ import annotations

import threading

from lkml_assistant.repositories.base import RequestBudget
from lkml_assistant.repositories.encoding import Clock, utc_now


class ProcessRequestBudget(RequestBudget):
    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def take(self, upstream: str, *, cap: int, window_seconds: int = 60) -> float:
        now = self._clock().timestamp()
        start = now - now % window_seconds
        with self._lock:
            window, used = self._windows.get(upstream, (start, 0))
            if window != start:
                used = 0
            if used >= cap:
                return max(start + window_seconds - now, 0.001)
            self._windows[upstream] = (start, used + 1)
        return 0.0


_PROCESS_BUDGET = ProcessRequestBudget()


def process_budget() -> ProcessRequestBudget:
    """The one budget of this process."""
    return _PROCESS_BUDGET

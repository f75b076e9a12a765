# SPDX-License-Identifier: GPL-2.0-or-later
"""Pacing shared across invocations: a per-minute cap on the requests to one upstream.

Each :class:`~lkml_assistant.sources.http.HttpClient` spaces its own requests
(``LKML_REQUEST_INTERVAL``), and on AWS at most two consumers run at once; neither bounds
what all invocations together send in a minute. :class:`SharedPacer` does: before every
request (retries too) it takes one from a budget the invocations share (a counter item in
DynamoDB, the process's own count locally; ``repositories``). When the window's budget is
spent it waits for the next window, if the caller's deadline leaves time for that; else it
raises :class:`BudgetSpent`, which is no upstream failure: the caller leaves the work for
later (a queue consumer sends its messages back with a delay) instead of counting an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class Budget(Protocol):
    """What the pacer asks (``repositories.base.RequestBudget``)."""

    def take(self, upstream: str, *, cap: int, window_seconds: int = 60) -> float: ...


class BudgetSpent(Exception):
    """The shared budget is spent and the deadline leaves no time to wait for the next window.

    Not an :class:`~lkml_assistant.sources.http.UpstreamError`: nothing was sent, nothing
    failed; ``retry_after`` is when the next window opens."""

    def __init__(self, upstream: str, retry_after: float) -> None:
        super().__init__(
            f"{upstream}: the shared budget of requests per minute is spent; "
            f"the next window opens in {retry_after:.0f} s"
        )
        self.upstream = upstream
        self.retry_after = retry_after


class SharedPacer:
    """Takes one request from ``budget`` before each request to ``upstream``.

    ``time_left`` (a Lambda invocation's remaining seconds) bounds the waiting: a wait that
    would leave less than ``margin`` seconds raises :class:`BudgetSpent`; without it (local
    mode) the pacer waits as long as it takes.
    """

    def __init__(
        self,
        budget: Budget,
        upstream: str,
        cap: int,
        *,
        time_left: Callable[[], float] | None = None,
        margin: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if cap < 1:
            raise ValueError("a shared budget needs a cap of at least 1 request per window")
        self.budget = budget
        self.upstream = upstream
        self.cap = cap
        self.time_left = time_left
        self.margin = margin
        self._sleep = sleep
        self.waited = 0.0

    def acquire(self) -> None:
        """Return once a request may go out; raise :class:`BudgetSpent` if it may not in time."""
        while True:
            wait = self.budget.take(self.upstream, cap=self.cap, window_seconds=WINDOW_SECONDS)
            if wait <= 0:
                return
            if self.time_left is not None and self.time_left() - wait < self.margin:
                raise BudgetSpent(self.upstream, wait)
            log.info(
                "%s: shared budget spent, waiting %.1f s for the next window", self.upstream, wait
            )
            self.waited += wait
            self._sleep(wait)

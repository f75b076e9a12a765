# SPDX-License-Identifier: GPL-2.0-or-later
"""Build clients from settings, in one place for the CLI, the local server and Lambda."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lkml_assistant.config import Settings
from lkml_assistant.sources.http import CircuitBreaker, HttpClient, RetryPolicy
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.pacing import Budget, SharedPacer
from lkml_assistant.sources.patchwork import PatchworkClient


def http_client(
    settings: Settings, *, accept: str = "application/json", breaker: CircuitBreaker | None = None
) -> HttpClient:
    return HttpClient(
        user_agent_extra=settings.user_agent_extra,
        timeout=settings.http_timeout,
        interval=settings.request_interval,
        policy=RetryPolicy(
            retries=settings.http_retries,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
        ),
        headers={"Accept": accept},
        breaker=breaker,
    )


@contextmanager
def patchwork_client(settings: Settings) -> Iterator[PatchworkClient]:
    http = http_client(settings)
    try:
        yield PatchworkClient(http, settings.patchwork_api_url, page_size=settings.page_size)
    finally:
        http.close()


def lore_pacer(
    settings: Settings, budget: Budget | None, time_left: Callable[[], float] | None = None
) -> SharedPacer | None:
    """The shared per-minute cap on lore requests (``LKML_LORE_REQUESTS_PER_MINUTE``), if set."""
    if budget is None or settings.lore_requests_per_minute <= 0:
        return None
    return SharedPacer(budget, "lore", settings.lore_requests_per_minute, time_left=time_left)


@contextmanager
def lore_client(settings: Settings) -> Iterator[LoreClient]:
    """A lore client; :func:`lore_pacer` makes its requests count against the shared cap."""
    # One breaker per run: a lore that keeps failing is left alone until the next run.
    http = http_client(
        settings, accept="application/gzip, application/mbox, */*", breaker=CircuitBreaker()
    )
    try:
        yield LoreClient(http, settings.lore_url)
    finally:
        http.close()

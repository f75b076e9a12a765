# SPDX-License-Identifier: GPL-2.0-or-later
"""One careful HTTP client for every upstream: timeouts, pacing, retries with backoff.

kernel.org's services are shared by thousands of developers, so every request names us in the
User-Agent, requests to one host are spaced by a minimum interval, and failures back off
exponentially with jitter. A server's Retry-After is honoured. When the retries run out the
error names the URL and the last status, so an operator can tell what broke. A
:class:`CircuitBreaker` stops a run from asking an upstream that keeps failing at all.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from lkml_assistant import __version__

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def user_agent(extra: str = "") -> str:
    agent = f"lkml-assistant/{__version__} python-httpx/{httpx.__version__}"
    return f"{agent} {extra.strip()}" if extra.strip() else agent


class UpstreamError(Exception):
    """An upstream request failed for good. ``status`` is the last HTTP status, if any."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{url}: {reason} ({where})")


class UpstreamUnavailable(UpstreamError):
    """No usable answer however often asked (no answer, 5xx, 429, a malformed body), as opposed
    to an answer that the request itself is wrong (a 4xx). What a circuit breaker counts."""


class CircuitOpenError(UpstreamError):
    """Not sent: the upstream failed too many requests in a row in this run."""

    def __init__(self, url: str, failures: int, last: UpstreamError) -> None:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        super().__init__(url, f"{failures} requests in a row failed", last.status)
        self.args = (
            f"stopped asking {origin} for this run: {failures} requests in a row failed, "
            f"the last: {last}",
        )


class CircuitBreaker:
    """Stops asking an upstream after ``threshold`` requests in a row failed for good.

    Every failed request was already retried with backoff, so a few in a row mean the upstream
    is down or turning us away (a 503 storm, a 429 that never lifts), not one unlucky request:
    asking on would only spend hours in backoff. A request it answers, even with a 4xx, starts
    the count again. Once open the breaker stays open for its client's life, which is one run;
    the next run's client asks again.
    """

    def __init__(self, threshold: int = 3) -> None:
        if threshold < 1:
            raise ValueError("a circuit breaker needs a threshold of at least 1")
        self.threshold = threshold
        self._lock = threading.Lock()
        self._failures = 0
        self._last: UpstreamError | None = None

    @property
    def open(self) -> bool:
        return self._failures >= self.threshold

    def check(self, url: str) -> None:
        """Raise :class:`CircuitOpenError` instead of letting a request to ``url`` go out."""
        with self._lock:
            if not self.open:
                return
            last = self._last
        assert last is not None
        raise CircuitOpenError(url, self.threshold, last)

    def record(self, error: UpstreamError | None) -> None:
        """Count a request's outcome: ``error`` None when it was answered."""
        with self._lock:
            if isinstance(error, UpstreamUnavailable):
                self._failures += 1
                self._last = error
            elif not self.open:
                self._failures = 0


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        Exponential with "equal jitter": half the step is fixed, half random, so clients that
        failed together do not retry together. A Retry-After from the server is a floor.
        """
        step = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        delay = step / 2 + rng.uniform(0, step / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    seconds_waiting: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, float((when - (now or datetime.now(UTC))).total_seconds()))


class HttpClient:
    """A paced, retrying wrapper around one :class:`httpx.Client`.

    ``sleep`` and ``rng`` are injectable so tests can run the backoff without waiting. With a
    ``breaker``, requests fail at once with :class:`CircuitOpenError` after it opens. A
    ``gate`` is called before every attempt, retries included (a shared budget's pacer,
    :mod:`lkml_assistant.sources.pacing`): it may wait, or raise to stop the request unsent.
    """

    def __init__(
        self,
        *,
        user_agent_extra: str = "",
        timeout: float = 30.0,
        interval: float = 0.5,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        breaker: CircuitBreaker | None = None,
        gate: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.gate = gate
        self.breaker = breaker
        self.interval = interval
        self.stats = HttpStats()
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter, not security
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._client = httpx.Client(
            headers={"User-Agent": user_agent(user_agent_extra), **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self) -> None:
        """Pass the gate, then keep at least ``interval`` seconds between two requests' starts."""
        if self.gate is not None:
            self.gate()
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.interval
        if wait > 0:
            self._sleep(wait)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        ok_statuses: frozenset[int] = frozenset({404}),
        validate: Callable[[httpx.Response], object] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries. Returns a 2xx response or one whose status is in ``ok_statuses``.

        ``validate`` checks a 2xx body (e.g. that it is JSON); a ValueError from it counts as a
        failed attempt, so a truncated page is fetched again rather than trusted.
        """
        if self.breaker is not None:
            self.breaker.check(url)
        try:
            response = self._request(
                method, url, params=params, ok_statuses=ok_statuses, validate=validate, kw=kwargs
            )
        except UpstreamError as exc:
            if self.breaker is not None:
                self.breaker.record(exc)
            raise
        if self.breaker is not None:
            self.breaker.record(None)
        return response

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        ok_statuses: frozenset[int],
        validate: Callable[[httpx.Response], object] | None,
        kw: dict[str, Any],
    ) -> httpx.Response:
        attempts = self.policy.retries + 1
        last_status: int | None = None
        last_reason = "no attempt made"
        for attempt in range(1, attempts + 1):
            self._pace()
            retry_after: float | None = None
            started = time.monotonic()
            try:
                response = self._client.request(method, url, params=params, **kw)
                response.read()
            except httpx.TimeoutException as exc:
                last_status, last_reason = None, f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_status, last_reason = None, f"cannot connect: {exc or type(exc).__name__}"
            else:
                status = response.status_code
                last_status = status
                with self._lock:
                    self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                if status < 300 or status in ok_statuses:
                    if status >= 300 or validate is None:
                        return self._done(response, started)
                    try:
                        validate(response)
                    except ValueError as exc:
                        last_reason = f"malformed answer: {exc}"
                    else:
                        return self._done(response, started)
                elif status in RETRYABLE_STATUS:
                    last_reason = response.reason_phrase or "server error"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is not None and retry_after > self.policy.backoff_max:
                        self._count(started)
                        raise UpstreamUnavailable(
                            str(response.url),
                            f"server asks to retry after {retry_after:.0f} s, more than the "
                            f"{self.policy.backoff_max:.0f} s we wait",
                            status,
                        )
                else:
                    self._count(started)
                    reason = response.reason_phrase or "error"
                    raise UpstreamError(str(response.url), reason, status)
            self._count(started)
            if attempt == attempts:
                break
            delay = self.policy.delay(attempt, retry_after, self._rng)
            log.warning(
                "retrying %s %s in %.1f s (attempt %d of %d): %s",
                method,
                url,
                delay,
                attempt + 1,
                attempts,
                last_reason,
            )
            with self._lock:
                self.stats.retries += 1
            self._sleep(delay)
        raise UpstreamUnavailable(
            url, f"{last_reason}; gave up after {attempts} attempts", last_status
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def _count(self, started: float) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.seconds_waiting += time.monotonic() - started

    def _done(self, response: httpx.Response, started: float) -> httpx.Response:
        self._count(started)
        return response

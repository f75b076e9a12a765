# SPDX-License-Identifier: GPL-2.0-or-later
"""Answers kept in memory by the one-machine server, for as long as they cannot have changed.

A page is worth keeping: most of its cost is reading the store and rendering, and the same
pages (the list, a busy thread, a series) are asked for again and again between two writes.
An answer is served from memory only while the store's change token
(:meth:`~lkml_assistant.repositories.base.Store.change_token`) is what it was when the answer
was made, so a job's write, from this process or another, empties the cache before the next
request; and for at most ``max_age`` seconds, which bounds what depends on the clock alone
(how long a reviewer's queue has waited). Only successful GETs are kept, never ``/health``
(a probe asks about now), and the cache has a size in bytes. Each worker process has its own.

The token is read before the answer is made: a write that lands meanwhile leaves a newer
answer under an older token, which the next request throws away, never the reverse.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# An answer as the ASGI front sends it: status, header pairs, body.
Headers = list[tuple[bytes, bytes]]

# Paths never kept: what they say is about the moment they are asked.
UNCACHED_PATHS = frozenset({"/health", "/api/health"})
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes
    made_at: float


class ResponseCache:
    """GET answers by (path, query, Origin), valid while ``token()`` is unchanged."""

    def __init__(
        self,
        token: Callable[[], Hashable | None],
        *,
        max_age: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Hashable, Answer] = OrderedDict()
        self._bytes = 0
        self._seen: Hashable | None = None
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(method: str, path: str, query: bytes, origin: bytes | None) -> Hashable | None:
        """The key of a request that may be answered from memory, or None."""
        if method != "GET" or path in UNCACHED_PATHS:
            return None
        return (path, query, origin)

    def lookup(self, key: Hashable) -> tuple[Answer | None, Hashable | None]:
        """The kept answer for ``key`` (None if the store changed or it is too old), and the
        store's token read now: pass it to :meth:`put` with the answer made after it."""
        token = self._token()
        if token != self._seen:
            self._entries.clear()
            self._bytes = 0
            self._seen = token
        answer = self._entries.get(key)
        if answer is not None and self._clock() - answer.made_at <= self.max_age:
            self._entries.move_to_end(key)
            self.hits += 1
            return answer, token
        if answer is not None:
            self._drop(key)
        self.misses += 1
        return None, token

    def put(self, key: Hashable, token: Hashable | None, answer: Answer) -> None:
        """Keep ``answer``, made after ``token`` was read, if it is worth keeping."""
        if token is None or token != self._seen or answer.status != 200:
            return
        if any(name == b"cache-control" and b"no-store" in value for name, value in answer.headers):
            return
        size = len(answer.body)
        if size > self.max_bytes // 8:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = answer
        self._bytes += size
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: Hashable) -> None:
        answer = self._entries.pop(key)
        self._bytes -= len(answer.body)

    def __len__(self) -> int:
        return len(self._entries)

# SPDX-License-Identifier: GPL-2.0-or-later
"""The one-machine server keeps answers in memory only while they cannot have changed: a patch
the jobs write, from this process or another, shows on the very next request; the clock alone
(a queue's waiting time) moves an answer no later than ``api_cache_seconds``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from lkml_assistant.api.app import create_local_app
from lkml_assistant.api.cache import Answer, ResponseCache
from lkml_assistant.config import load_settings
from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.integration.test_api import Served
from tests.unit.test_queries import new_patch, seeded_store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path_factory):
    with seeded_store(tmp_path_factory, "cache") as store:
        yield store


def served(store: SqliteStore, **settings) -> Served:
    return Served(
        create_local_app(store, load_settings(store=f"sqlite:///{store.path}", **settings))
    )


def newest(client: httpx.Client, path: str = "/api/patches?limit=1") -> int:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["items"][0]["id"])


def add_patch(store: Store, patch_id: int) -> None:
    """A patch newer than every other, as a crawl would write it."""
    template = max(store.patches.get_patches(range(1, 2061)).values(), key=lambda p: (p.date, p.id))
    later = template.date + timedelta(days=365)
    store.patches.upsert_patches([new_patch(template, patch_id, later, f"cache probe {patch_id}")])


def test_a_write_by_another_connection_shows_on_the_next_request(store):
    with served(store, api_cache_seconds=3600) as server, httpx.Client(base_url=server.url) as c:
        before = newest(c)
        assert newest(c) == before  # kept
        page = c.get("/").text
        with SqliteStore(store.path) as jobs:  # the jobs' connection (another process in serve)
            add_patch(jobs, 990_001)
        assert newest(c) == 990_001
        assert "cache probe 990001" in c.get("/").text
        assert "cache probe 990001" not in page


def test_a_write_on_the_api_s_own_connection_shows_too(store):
    """``--workers 1``: the jobs write on the very connection the API reads."""
    with served(store, api_cache_seconds=3600) as server, httpx.Client(base_url=server.url) as c:
        newest(c)
        add_patch(store, 990_002)
        assert newest(c) == 990_002


def test_answers_differ_by_query_and_origin(store):
    settings = {"api_cache_seconds": 3600, "cors_origins": "https://ui.example.org"}
    with served(store, **settings) as server, httpx.Client(base_url=server.url) as c:
        two = c.get("/api/patches?limit=2").json()["items"]
        one = c.get("/api/patches?limit=1").json()["items"]
        assert (len(two), len(one)) == (2, 1)
        allowed = c.get("/api/patches?limit=1", headers={"Origin": "https://ui.example.org"})
        plain = c.get("/api/patches?limit=1")
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example.org"
        assert "access-control-allow-origin" not in plain.headers


def test_errors_are_not_kept(store):
    with served(store, api_cache_seconds=3600) as server, httpx.Client(base_url=server.url) as c:
        assert c.get("/api/patches/990003").status_code == 404
        add_patch(store, 990_003)
        assert c.get("/api/patches/990003").status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(body: bytes, made_at: float, status: int = 200) -> Answer:
    return Answer(status, [(b"content-type", b"text/plain")], body, made_at)


def test_an_answer_older_than_max_age_is_made_again():
    clock = Clock()
    cache = ResponseCache(lambda: 1, max_age=10, clock=clock)
    key = cache.key("GET", "/people/a@example.org/queue", b"", None)
    kept, token = cache.lookup(key)
    assert kept is None
    cache.put(key, token, answer(b"waiting 1 day", clock()))
    clock.now = 10
    assert cache.lookup(key)[0] is not None
    clock.now = 10.5
    assert cache.lookup(key)[0] is None


def test_an_answer_made_across_a_write_is_never_served_for_the_newer_state():
    """The token is read before answering: a write meanwhile makes the answer useless, not wrong."""
    tokens = iter([1, 2, 2])
    cache = ResponseCache(lambda: next(tokens), max_age=60, clock=Clock())
    key = cache.key("GET", "/", b"", None)
    _, token = cache.lookup(key)  # token 1; the store moves to 2 while the page is made
    cache.put(key, token, answer(b"made at 1", 0))
    assert cache.lookup(key)[0] is None  # token 2: not kept under 2


def test_what_is_never_kept():
    cache = ResponseCache(lambda: 1, max_age=60, max_bytes=800, clock=Clock())
    assert cache.key("POST", "/api/patches", b"", None) is None
    assert cache.key("GET", "/health", b"", None) is None
    key = cache.key("GET", "/big", b"", None)
    _, token = cache.lookup(key)
    cache.put(key, token, answer(b"x" * 101, 0))  # over an eighth of the size: not kept
    assert cache.lookup(key)[0] is None
    for n in range(10):  # the oldest go first when the size is reached
        k = cache.key("GET", f"/p/{n}", b"", None)
        cache.put(k, token, answer(b"y" * 100, 0))
    assert cache.lookup(cache.key("GET", "/p/0", b"", None))[0] is None
    assert cache.lookup(cache.key("GET", "/p/9", b"", None))[0] is not None


def test_no_cache_when_switched_off(store):
    app = create_local_app(
        store, load_settings(store=f"sqlite:///{store.path}", api_cache_seconds=0)
    )
    assert app.cache is None

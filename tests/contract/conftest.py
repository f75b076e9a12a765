# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures of the store contract: one fresh store per test, SQLite or DynamoDB (moto), and
real data (netfilter-devel's Patchwork dump and its 2025 lore slice)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from lkml_assistant.intel.reviews import read_thread
from lkml_assistant.intel.threads import build_threads
from lkml_assistant.models.discussion import Thread
from lkml_assistant.models.domain import Patch, Project, Series
from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.discussions import DiscussionSummary, ThreadWriter
from lkml_assistant.sources.mail import MailParseError, parse_message, read_mbox_archive
from lkml_assistant.sources.patchwork_mapping import map_patch, map_project, map_series
from tests.peers.moto_server import MotoServer
from tests.shared_data import patchwork_dump, shared_dir

SAMPLE_SIZE = 250
THREADS = 6


@dataclass(frozen=True)
class Sample:
    """The newest patches of the dump, their series and project, and threads about them."""

    projects: list[Project]
    patches: list[Patch]
    series: list[Series]
    threads: list[Thread]


@pytest.fixture(scope="session")
def sample() -> Sample:
    dump = patchwork_dump()
    projects = [map_project(raw) for raw in json.loads((dump / "projects.json").read_text())]
    every = [map_patch(raw, UTC) for raw in json.loads((dump / "patches.json").read_text())]
    patches = sorted(every, key=lambda p: (p.date, p.id), reverse=True)[:SAMPLE_SIZE]
    wanted_series = {p.series[0].id for p in patches if p.series}
    series = [
        s
        for s in (map_series(raw, UTC) for raw in json.loads((dump / "series.json").read_text()))
        if s.id in wanted_series
    ]
    mbox = shared_dir() / "corpus/mbox/linux-mailinglist-archives/netfilter-devel-2025.mbox.gz"
    messages = []
    for raw in read_mbox_archive(mbox.read_bytes()).messages:
        try:
            messages.append(parse_message(raw))
        except MailParseError:
            continue
    msgids = {p.msgid for p in patches}
    threads = [t for t in build_threads(messages) if msgids & set(t.messages)]
    # The threads with replies first, so that the discussions have something to count.
    threads.sort(key=lambda t: (-len(t), t.root_id))
    return Sample(projects, patches, series, threads[:THREADS])


class FakeClock:
    """A store's clock that moves only when told to: tests advance it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, *, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _sqlite(tmp_path: Path, retention_days: int) -> Store:
    return SqliteStore(tmp_path / f"store-{retention_days}.sqlite3")


StoreFactory = Callable[..., Store]


@pytest.fixture(
    params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.integration)],
)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores of the kind under test (several share one backing store)."""
    opened: list[Store] = []
    if request.param == "dynamodb":
        aws: MotoServer = request.getfixturevalue("aws")
        assert aws.endpoint
        create_tables(boto3.client("dynamodb"), "patches", "discussions")

        def factory(retention_days: int = 0) -> Store:
            store = DynamoDbStore(
                "patches", "discussions", retention_days=retention_days, change_settle_seconds=0
            )
            opened.append(store)
            return store
    else:

        def factory(retention_days: int = 0) -> Store:
            store = _sqlite(tmp_path, retention_days)
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> Store:
    return open_store()


def ingest(store: Store, threads: list[Thread]) -> None:
    """Store threads as the discussion jobs do (no request is made: the threads are in hand)."""
    writer = ThreadWriter(store)
    summary = DiscussionSummary(job="contract")
    for thread in threads:
        writer.store_thread("netfilter-devel", read_thread(thread), summary)

# SPDX-License-Identifier: GPL-2.0-or-later
"""An API list or search page on DynamoDB costs at most 50 read units, whatever the store holds
(issue 14), and answers what the walk of earlier versions answered.

A store much larger than one page (real netfilter-devel titles and dates in three projects, most
patches with a review record) on moto's server. Units are DynamoDB's billing rules applied to
the items on the server (``benchmarks/dynamo_units.py``): each request costs the page's own
reads (the index, the page's patches, their review counts and statuses) and nothing that
grows with the store. The walk of earlier versions, kept in ``benchmarks/dynamo_queries.py``,
costs hundreds of units for the same pages: these assertions fail on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from benchmarks.dynamo_queries import fill, old_page, real_patches, reviews_for, spread
from benchmarks.dynamo_units import Meter

from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.repositories.dynamodb.schema import DISCUSSIONS, PATCHES
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.queries.service import QueryService
from tests.peers.moto_server import MotoServer

pytestmark = pytest.mark.integration

PROJECTS = [f"proj{n}" for n in range(3)]
SIZE = 600
TABLES = ("units-patches", "units-discussions")
LIMIT_UNITS = 50.0

QUERIES = {
    "list without a project": PatchQuery(),
    "a state without a project": PatchQuery(states=("changes-requested",)),
    "one word": PatchQuery(words=("netfilter",)),
    "a rare word": PatchQuery(words=("conntrack",)),
    "two words": PatchQuery(words=("nf_tables", "fix")),
    "a word in a project": PatchQuery(project="proj2", words=("nft",)),
    "a word and a state": PatchQuery(words=("netfilter",), states=("superseded",)),
    "a review status": PatchQuery(review_states=("rejected",)),
    "unreviewed": PatchQuery(review_states=("unreviewed",)),
    "review statuses in a project": PatchQuery(
        project="proj1", review_states=("in-discussion", "reviewed")
    ),
}


@dataclass
class Big:
    store: DynamoDbStore
    service: QueryService
    meter: Meter
    unmetered: QueryService
    """The same tables on a client the meter does not see (it reads every item it counts)."""
    reference: SqliteStore


@pytest.fixture(scope="module")
def big(moto_session_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Big]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in moto_session_server.environ().items():
            env.setenv(name, value)
        create_tables(boto3.client("dynamodb"), *TABLES)
        patches = spread(real_patches(SIZE), PROJECTS)
        reviews = reviews_for(patches)
        writer = DynamoDbStore(*TABLES)
        fill(writer, patches, reviews)
        # Metered from here on: a store on a session of its own whose calls the meter sees.
        session = boto3.session.Session()
        meter = Meter({TABLES[0]: PATCHES, TABLES[1]: DISCUSSIONS})
        meter.install(session)
        store = DynamoDbStore(*TABLES, client=session.client("dynamodb"))
        reference = SqliteStore(Path(tmp_path_factory.mktemp("ref")) / "ref.sqlite3")
        fill(reference, patches, reviews)
        meter.take()
        yield Big(store, QueryService(store), meter, QueryService(writer), reference)
        store.close()
        writer.close()
        reference.close()


@pytest.mark.parametrize("name", list(QUERIES))
def test_a_page_costs_at_most_50_units_and_lists_what_sqlite_lists(big: Big, name: str) -> None:
    query = QUERIES[name]
    big.meter.take()
    page = big.service.patches(query)
    units = big.meter.take()["read_units"]
    assert units <= LIMIT_UNITS, (name, units)

    expected = [p.id for p in big.reference.patches.page_patches(query, limit=31)]
    shown = [item.id for item in page.items]
    # The same patches in the same order as SQLite (and the walk of earlier versions, which
    # answered as SQLite does), or a shorter first page (the read budget ran out on entries
    # that do not match) that is a prefix of it and goes on with a cursor.
    assert shown == expected[: len(shown)], name
    assert len(shown) == min(30, len(expected)) or page.next_cursor is not None, name
    print(f"{name}: {units} read units")


@pytest.mark.parametrize("name", [name for name in QUERIES if name != "list without a project"])
def test_cursors_visit_every_match_once_in_order(big: Big, name: str) -> None:
    query = QUERIES[name]
    expected = [p.id for p in big.reference.patches.page_patches(query, limit=100_000)]
    assert expected, name
    ids: list[int] = []
    cursor = None
    while True:
        page = big.unmetered.patches(query, cursor=cursor)
        ids.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids == expected, name


def test_the_old_walk_costs_more_than_a_page_for_searches_and_statuses(big: Big) -> None:
    """What these tests guard against: the walk of earlier versions, on the same store."""
    costs = {}
    for name in ("a review status",):
        big.meter.take()
        old_page(big.store._db, QUERIES[name], None, 31)
        costs[name] = big.meter.take()["read_units"]
    assert all(units > LIMIT_UNITS for units in costs.values()), costs

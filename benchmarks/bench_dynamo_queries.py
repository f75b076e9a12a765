# SPDX-License-Identifier: GPL-2.0-or-later
"""Read units of one API page on DynamoDB, by the term indexes and by the walk they replace.

A store of ``LKML_QUERY_BENCH_PATCHES`` patches (default 10,000: the real netfilter-devel
titles and dates, dealt over ``LKML_QUERY_BENCH_PROJECTS`` projects, default 10; three in four
with a review record) on moto's server. For each kind of list: the read units of the API's
first page (the query service: index, patches, their review counts and statuses) and of the
same page read by the walk of earlier versions (``dynamo_queries.old_page``, the patch walk
alone, without the page's review counts), both by DynamoDB's billing rules applied to the real
items (``dynamo_units``). Target (issue 14): <= 50 units a page whatever the store holds.
Filling the store takes about 25 ms a patch on a shared 2-core machine (10,000: 4 minutes).
"""

from __future__ import annotations

import json
import os
import sys
import time

PATCHES = int(os.environ.get("LKML_QUERY_BENCH_PATCHES", "10000"))
PROJECTS = int(os.environ.get("LKML_QUERY_BENCH_PROJECTS", "10"))
TABLES = ("bench-q-patches", "bench-q-discussions")
TARGET = 50.0


def main() -> int:
    import boto3
    from tests.peers.moto_server import run_moto_server

    from benchmarks.dynamo_queries import fill, old_page, real_patches, reviews_for, spread
    from benchmarks.dynamo_units import Meter
    from lkml_assistant.repositories.base import PatchQuery
    from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
    from lkml_assistant.repositories.dynamodb.schema import DISCUSSIONS
    from lkml_assistant.repositories.dynamodb.schema import PATCHES as SCHEMA
    from lkml_assistant.services.queries.service import QueryService

    names = [f"proj{n:03d}" for n in range(PROJECTS)]
    queries = {
        "list, no project": PatchQuery(),
        "list of a project": PatchQuery(project=names[1]),
        "state, no project": PatchQuery(states=("changes-requested",)),
        "q=one word": PatchQuery(words=("netfilter",)),
        "q=rare word": PatchQuery(words=("conntrack",)),
        "q=two words": PatchQuery(words=("nf_tables", "fix")),
        "q=word, project": PatchQuery(project=names[2], words=("nft",)),
        "review_status=rejected": PatchQuery(review_states=("rejected",)),
        "review_status=unreviewed": PatchQuery(review_states=("unreviewed",)),
        "review_status, project": PatchQuery(project=names[1], review_states=("in-discussion",)),
    }
    with run_moto_server() as moto:
        os.environ.update(moto.environ())
        create_tables(boto3.client("dynamodb"), *TABLES)
        patches = spread(real_patches(PATCHES), names)
        started = time.monotonic()
        with DynamoDbStore(*TABLES) as writer:
            fill(writer, patches, reviews_for(patches))
        print(
            f"store: {PATCHES} patches in {PROJECTS} projects, {time.monotonic() - started:.0f} s"
        )
        session = boto3.session.Session()
        meter = Meter({TABLES[0]: SCHEMA, TABLES[1]: DISCUSSIONS})
        meter.install(session)
        store = DynamoDbStore(*TABLES, client=session.client("dynamodb"))
        service = QueryService(store)
        rows = {}
        print(f"{'page of 30':28} {'units now':>10} {'old walk':>10} {'items':>6}")
        for name, query in queries.items():
            meter.take()
            page = service.patches(query)
            now = meter.take()["read_units"]
            old_page(store._db, query, None, 31)
            old = meter.take()["read_units"]
            rows[name] = {"units": now, "old_walk_units": old, "items": len(page.items)}
            flag = "" if now <= TARGET else "  MISSED"
            print(f"{name:28} {now:>10.1f} {old:>10.1f} {len(page.items):>6}{flag}")
        store.close()
    worst = max(row["units"] for row in rows.values())
    print(
        json.dumps(
            {
                "bench": "dynamo_queries",
                "patches": PATCHES,
                "projects": PROJECTS,
                "worst_page_units": worst,
                "target": TARGET,
                "pages": rows,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

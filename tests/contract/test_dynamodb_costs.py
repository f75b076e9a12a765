# SPDX-License-Identifier: GPL-2.0-or-later
"""What the DynamoDB store sends for the reads whose cost must not grow with what it holds.

Counted on the wire (a botocore hook on the store's client), against moto's server: a list
of every project is one query of one index, however many projects there are; the thread
planner, with every patch's thread read, makes one empty query per project and reads no
patch and no discussion.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from lkml_assistant.models.domain import Patch
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from lkml_assistant.services.discussions import DiscussionSummary, ThreadWriter
from tests.contract.conftest import Sample

pytestmark = pytest.mark.integration

PROJECTS = ("netfilter-devel", "other-a", "other-b", "other-c")


class Calls:
    def __init__(self, store: DynamoDbStore) -> None:
        self.seen: Counter[str] = Counter()
        store.client.meta.events.register("provide-client-params.dynamodb", self._seen)

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        if name == "Query":
            name += f" {params.get('IndexName') or 'table'}"
        self.seen[name] += 1


@pytest.fixture
def store(aws) -> DynamoDbStore:
    create_tables(boto3.client("dynamodb"), "cost-patches", "cost-discussions")
    return DynamoDbStore("cost-patches", "cost-discussions")


def copies(sample: Sample) -> list[Patch]:
    """The sample's patches in every project (ids apart), so that there are many projects."""
    out = []
    for number, project in enumerate(PROJECTS):
        out += [
            p.model_copy(update={"id": p.id + number * 10_000_000, "project": project})
            for p in sample.patches[:60]
        ]
    return out


def test_a_list_of_every_project_is_one_query(store, sample):
    patches = copies(sample)
    store.patches.upsert_patches(patches)
    calls = Calls(store)
    page = store.patches.page_patches(PatchQuery(), limit=30)
    newest = sorted(patches, key=lambda p: (p.date, p.id), reverse=True)[:30]
    assert [p.id for p in page] == [p.id for p in newest]
    assert calls.seen == Counter({"Query by-date": 1}), calls.seen


def test_planning_threads_with_every_thread_read_reads_no_patch(store, sample):
    patches = copies(sample)
    store.patches.upsert_patches(patches)
    assert len(store.discussions.patches_without_discussion(projects=PROJECTS)) == len(patches)
    writer = ThreadWriter(store)
    summary = DiscussionSummary(job="cost")
    for patch in patches:
        writer.record_missing(patch, "netfilter-devel", summary)
    calls = Calls(store)
    assert store.discussions.patches_without_discussion(projects=PROJECTS) == []
    assert calls.seen == Counter({"Query table": len(PROJECTS)}), calls.seen
    # A new reply upstream marks one stale: it is planned again, alone.
    assert store.discussions.mark_stale([patches[5].id]) == 1
    assert store.discussions.patches_without_discussion(projects=PROJECTS) == [patches[5].id]

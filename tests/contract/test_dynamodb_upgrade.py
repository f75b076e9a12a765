# SPDX-License-Identifier: GPL-2.0-or-later
"""A DynamoDB store written before the by-date index and the "needs its thread" markers is
made whole by ``upgrade-store``: afterwards a list without a project shows every patch, and
the thread planner finds those whose thread was never read. Against moto's server."""

from __future__ import annotations

import boto3
import pytest

from lkml_assistant.cli import main
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.dynamodb import DynamoDbStore, create_tables
from tests.contract.conftest import ingest

pytestmark = pytest.mark.integration

PATCHES, DISCUSSIONS = "old-patches", "old-discussions"


def _as_an_earlier_version_wrote_it(client, patch_ids: list[int]) -> None:
    """Strip what this version adds to a patch: its by-date keys and its marker."""
    for patch_id in patch_ids:
        client.update_item(
            TableName=PATCHES,
            Key={"pk": {"S": f"PATCH#{patch_id}"}, "sk": {"S": "PATCH"}},
            UpdateExpression="REMOVE gsi6pk, gsi6sk",
        )
    markers = client.scan(
        TableName=DISCUSSIONS,
        FilterExpression="begins_with(pk, :need)",
        ExpressionAttributeValues={":need": {"S": "NEED#"}},
    )["Items"]
    for marker in markers:
        client.delete_item(TableName=DISCUSSIONS, Key={"pk": marker["pk"], "sk": marker["sk"]})


def test_upgrade_store_indexes_and_marks_what_an_earlier_version_wrote(
    aws, sample, monkeypatch, capsys
):
    client = boto3.client("dynamodb")
    create_tables(client, PATCHES, DISCUSSIONS)
    store = DynamoDbStore(PATCHES, DISCUSSIONS)
    # One thread read (its patches need nothing more), and 30 other patches not yet read.
    thread = sample.threads[0]
    about = [p for p in sample.patches if p.msgid in thread.messages]
    patches = about + [p for p in sample.patches if p not in about][:30]
    store.patches.upsert_patches(patches)
    store.series.upsert_series(sample.series)
    ingest(store, [thread])
    read = set(store.discussions.get_discussions(p.id for p in patches))
    assert read == {p.id for p in about}
    unread = sorted((p.id for p in patches if p.id not in read), reverse=True)
    planned = store.discussions.patches_without_discussion()

    # The first (read) patch and 24 unread ones, as an earlier version wrote them.
    old = [p.id for p in patches[:25]]
    _as_an_earlier_version_wrote_it(client, old)
    listed = {p.id for p in store.patches.page_patches(PatchQuery(), limit=100)}
    assert listed == {p.id for p in patches} - set(old)
    assert store.discussions.patches_without_discussion() == []

    monkeypatch.setenv("LKML_STORE", "dynamodb")
    monkeypatch.setenv("LKML_PATCHES_TABLE", PATCHES)
    monkeypatch.setenv("LKML_DISCUSSIONS_TABLE", DISCUSSIONS)
    assert main(["upgrade-store"]) == 0
    first = capsys.readouterr().out
    assert "25 patch items without the by-date index, 25 indexed" in first

    relisted = [p.id for p in store.patches.page_patches(PatchQuery(), limit=100)]
    assert sorted(relisted) == sorted(p.id for p in patches)
    assert set(store.discussions.patches_without_discussion()) == set(unread) & set(old)
    assert set(planned) == set(unread)

    # Run again: nothing left to do, nothing written twice.
    assert main(["upgrade-store"]) == 0
    assert "0 patch items without the by-date index, 0 indexed, 0" in capsys.readouterr().out


def _before_the_term_indexes(client) -> None:
    """Strip what the term indexes add: word items, unreviewed markers, the term keys."""
    items = client.scan(TableName=PATCHES)["Items"]
    for item in items:
        key = {"pk": item["pk"], "sk": item["sk"]}
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith(("W#", "UNREV#")):
            client.delete_item(TableName=PATCHES, Key=key)
        elif sk == "PATCH":
            client.update_item(TableName=PATCHES, Key=key, UpdateExpression="REMOVE gsi7pk, gsi7sk")
        elif sk == "REVIEW":
            client.update_item(
                TableName=PATCHES, Key=key, UpdateExpression="REMOVE gsi7pk, gsi7sk, gsi8pk, gsi8sk"
            )


def test_upgrade_store_backfills_word_and_review_status_entries(aws, sample, monkeypatch, capsys):
    from lkml_assistant.models.records import PatchReview

    client = boto3.client("dynamodb")
    create_tables(client, PATCHES, DISCUSSIONS)
    store = DynamoDbStore(PATCHES, DISCUSSIONS)
    patches = sample.patches[:40]
    store.patches.upsert_patches(patches)
    store.reviews.upsert_reviews(
        PatchReview(
            patch_id=p.id, project=p.project, date=p.date, status=("accepted", "rejected")[n % 2]
        )
        for n, p in enumerate(patches[:20])
    )
    word = next(w for w in ("netfilter", "nf_tables", "nft") if any(w in p.name for p in patches))
    queries = [
        PatchQuery(words=(word,)),
        PatchQuery(project=patches[0].project, words=(word,)),
        PatchQuery(review_states=("rejected",)),
        PatchQuery(review_states=("unreviewed",)),
        PatchQuery(project=patches[0].project, review_states=("accepted",)),
        PatchQuery(states=(patches[0].state,)),
    ]
    before = [[p.id for p in store.patches.page_patches(q, limit=100)] for q in queries]
    assert all(before), before
    _before_the_term_indexes(client)
    assert all(store.patches.page_patches(q, limit=100) == [] for q in queries)

    monkeypatch.setenv("LKML_STORE", "dynamodb")
    monkeypatch.setenv("LKML_PATCHES_TABLE", PATCHES)
    monkeypatch.setenv("LKML_DISCUSSIONS_TABLE", DISCUSSIONS)
    assert main(["upgrade-store"]) == 0
    out = capsys.readouterr().out
    assert "40 patch items given their word and state entries, 20 'unreviewed'" in out
    assert "20 review items given their status entries" in out
    after = [[p.id for p in store.patches.page_patches(q, limit=100)] for q in queries]
    assert after == before

    # A kill between a first review's two writes leaves its patch's "unreviewed" marker.
    left = patches[30]
    client.put_item(
        TableName=PATCHES,
        Item={"pk": {"S": f"UNREV#{patches[3].id}"}, "sk": {"S": "UNREV"}},
    )
    assert main(["upgrade-store"]) == 0
    again = capsys.readouterr().out
    assert "0 patch items given their word and state entries" in again
    assert "0 review items given their status entries; 1 outdated" in again
    assert left.id in before[3]

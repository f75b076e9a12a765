# SPDX-License-Identifier: GPL-2.0-or-later
"""Creating the two tables from :mod:`.schema`, for tests, benchmarks and local use.

On AWS the CDK app (``infra/``) creates them from the same schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lkml_assistant.repositories.dynamodb.schema import (
    DISCUSSIONS,
    PARTITION_KEY,
    PATCHES,
    SORT_KEY,
    TTL_ATTRIBUTE,
    Index,
    TableSchema,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def create_tables(
    client: DynamoDBClient,
    patches_table: str,
    discussions_table: str,
    *,
    wait: bool = True,
) -> None:
    """Create both tables (on-demand, TTL on ``expires_at``)."""
    for schema, name in ((PATCHES, patches_table), (DISCUSSIONS, discussions_table)):
        client.create_table(**_table_definition(schema, name))
    for name in (patches_table, discussions_table):
        if wait:
            client.get_waiter("table_exists").wait(TableName=name)
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


def _projection(index: Index) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.include:
        projection["NonKeyAttributes"] = list(index.include)
    return projection


def _table_definition(schema: TableSchema, name: str) -> dict[str, Any]:
    def key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
        keys = [{"AttributeName": partition, "KeyType": "HASH"}]
        if sort:
            keys.append({"AttributeName": sort, "KeyType": "RANGE"})
        return keys

    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in schema.attributes()
        ],
        "KeySchema": key_schema(PARTITION_KEY, SORT_KEY),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": _projection(index),
            }
            for index in schema.indexes
        ],
    }

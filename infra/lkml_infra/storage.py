# SPDX-License-Identifier: GPL-2.0-or-later
"""StorageConstruct: the Patches and Discussions DynamoDB tables.

Keys and indexes come from ``lkml_assistant.repositories.dynamodb.schema``, the definition the
store itself reads, so the deployed tables cannot drift from what the code queries.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct
from lkml_assistant.repositories.dynamodb.schema import (
    PARTITION_KEY,
    SORT_KEY,
    TABLES,
    TTL_ATTRIBUTE,
    TableSchema,
)

from lkml_infra.config import EnvConfig

TARGET_UTILIZATION_PERCENT = 70

# What the store calls (repositories/dynamodb): no Scan, no Streams, no ConditionCheckItem,
# no DescribeTable. Queries also go to the indexes, the only grant on ``<table>/index/*``.
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class StorageConstruct(Construct):
    """One table per schema in ``TABLES``; ``tables`` maps the logical name to the table."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.tables: dict[str, dynamodb.Table] = {
            schema.logical_name: self._table(schema) for schema in TABLES
        }

    def grant(self, grantee: iam.IGrantable, *, write: bool) -> None:
        """Exactly the store's calls on every table: reads, and writes if ``write``."""
        for table in self.tables.values():
            actions = [*READ_ACTIONS, *(WRITE_ACTIONS if write else ())]
            iam.Grant.add_to_principal(
                grantee=grantee, actions=actions, resource_arns=[table.table_arn]
            )
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["dynamodb:Query"],
                resource_arns=[f"{table.table_arn}/index/*"],
            )

    @property
    def patches(self) -> dynamodb.Table:
        return self.tables["patches"]

    @property
    def discussions(self) -> dynamodb.Table:
        return self.tables["discussions"]

    def _table(self, schema: TableSchema) -> dynamodb.Table:
        config = self._config
        provisioned = not config.on_demand
        read_capacity = config.min_read_capacity if provisioned else None
        write_capacity = config.min_write_capacity if provisioned else None
        # On demand, a ceiling per table and per index (docs/aws.md, "Prod capacity").
        max_reads = None if provisioned else config.max_read_request_units
        max_writes = None if provisioned else config.max_write_request_units
        table = dynamodb.Table(
            self,
            schema.logical_name.capitalize(),
            table_name=config.resource_name(schema.logical_name),
            partition_key=_string(PARTITION_KEY),
            sort_key=_string(SORT_KEY),
            billing_mode=(
                dynamodb.BillingMode.PROVISIONED
                if provisioned
                else dynamodb.BillingMode.PAY_PER_REQUEST
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.retain,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
            read_capacity=read_capacity,
            write_capacity=write_capacity,
            max_read_request_units=max_reads,
            max_write_request_units=max_writes,
        )
        for index in schema.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string(index.partition_key),
                sort_key=_string(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType[index.projection],
                non_key_attributes=list(index.include) or None,
                read_capacity=read_capacity,
                write_capacity=write_capacity,
                max_read_request_units=max_reads,
                max_write_request_units=max_writes,
            )
        if provisioned:
            self._autoscale(table, schema)
        return table

    def _autoscale(self, table: dynamodb.Table, schema: TableSchema) -> None:
        config = self._config
        reads = {"min_capacity": config.min_read_capacity, "max_capacity": config.max_read_capacity}
        writes = {
            "min_capacity": config.min_write_capacity,
            "max_capacity": config.max_write_capacity,
        }
        scalers = [
            table.auto_scale_read_capacity(**reads),
            table.auto_scale_write_capacity(**writes),
        ]
        for index in schema.indexes:
            scalers.append(
                table.auto_scale_global_secondary_index_read_capacity(index.name, **reads)
            )
            scalers.append(
                table.auto_scale_global_secondary_index_write_capacity(index.name, **writes)
            )
        for scaler in scalers:
            scaler.scale_on_utilization(target_utilization_percent=TARGET_UTILIZATION_PERCENT)

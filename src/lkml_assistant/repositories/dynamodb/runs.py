# SPDX-License-Identifier: GPL-2.0-or-later
"""Job runs in DynamoDB: ``RUN#<job>`` items, run ids from an atomic counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lkml_assistant.models.records import RunRecord
from lkml_assistant.repositories.base import RunRepository
from lkml_assistant.repositories.dynamodb.attributes import plain, wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import (
    RUN_COUNTER_KEY,
    run_key,
    run_partition,
    run_pointer_key,
)
from lkml_assistant.repositories.encoding import decode_run, encode_run_summary, utc_text


class DynamoRuns(RunRepository):
    """Run ids come from an atomic counter item (``ADD``); runs never expire.

    A run is ``RUN#<job>``/``<started>#<id>``; ``RUNID#<id>`` points to it for finish_run, and
    the counter item keeps the set of job names for last_runs.
    """

    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def start_run(self, job: str, started_at: datetime) -> int:
        response = self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire(RUN_COUNTER_KEY),
            UpdateExpression="ADD #n :one, #jobs :job",
            ExpressionAttributeNames={"#n": "n", "#jobs": "jobs"},
            ExpressionAttributeValues=wire({":one": 1, ":job": {job}}),
            ReturnValues="UPDATED_NEW",
        )
        run_id = int(plain(response["Attributes"])["n"])
        key = run_key(job, started_at, run_id)
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire(
                {
                    **key,
                    "id": run_id,
                    "job": job,
                    "started_at": utc_text(started_at),
                    "status": "running",
                    "summary": "{}",
                }
            ),
        )
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire({**run_pointer_key(run_id), "job": job, "run_sk": key["sk"]}),
        )
        return run_id

    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        pointer = self._db.get(self._db.patches, run_pointer_key(run_id))
        if pointer is None:
            return
        self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire({"pk": run_partition(pointer["job"]), "sk": pointer["run_sk"]}),
            UpdateExpression="SET #f = :f, #st = :st, #su = :su",
            ExpressionAttributeNames={"#f": "finished_at", "#st": "status", "#su": "summary"},
            ExpressionAttributeValues=wire(
                {
                    ":f": utc_text(finished_at),
                    ":st": status,
                    ":su": encode_run_summary(summary),
                }
            ),
        )

    def last_runs(self) -> dict[str, RunRecord]:
        counter = self._db.get(self._db.patches, RUN_COUNTER_KEY) or {}
        runs: dict[str, RunRecord] = {}
        for job in sorted(counter.get("jobs", set())):
            newest = next(
                self._db.query(
                    self._db.patches,
                    ("pk", run_partition(job)),
                    forward=False,
                    page=1,
                    consistent=True,
                ),
                None,
            )
            if newest is None:
                continue
            runs[job] = decode_run(newest)
        return runs

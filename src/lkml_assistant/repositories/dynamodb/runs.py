# SPDX-License-Identifier: GPL-2.0-or-later
"""Job runs in DynamoDB: ``RUN#<job>`` items, run ids from an atomic counter."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from lkml_assistant.models.records import RunRecord
from lkml_assistant.repositories.base import RunRepository
from lkml_assistant.repositories.dynamodb.attributes import Item, plain, wire
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import (
    RUN_COUNTER_KEY,
    run_key,
    run_partition,
    run_pointer_key,
    run_success_key,
)
from lkml_assistant.repositories.encoding import (
    INTERRUPTED,
    RUN_FIELDS,
    RUNNING,
    decode_run,
    encode_run_summary,
    utc_text,
)


class DynamoRuns(RunRepository):
    """Run ids come from an atomic counter item (``ADD``); runs never expire.

    A run is ``RUN#<job>``/``<started>#<id>``; ``RUNID#<id>`` points to it for finish_run. The
    counter item keeps the set of job names for last_runs and the ids of the runs not finished
    yet for running_runs; ``RUNOK#<job>`` is a copy of the job's newest run that ended ok.
    """

    def __init__(self, db: Dynamo) -> None:
        self._db = db
        # Where the runs this store started are: finishing one then needs no read of its
        # pointer (1 read unit a run, most of a quiet crawl's reads at 100 projects).
        self._started: dict[int, Item] = {}

    def start_run(
        self,
        job: str,
        started_at: datetime,
        *,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> int:
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
                    "status": RUNNING,
                    "summary": "{}",
                    "owner": owner,
                    "lease_until": utc_text(lease_until) if lease_until else None,
                }
            ),
        )
        self._db.client.put_item(
            TableName=self._db.patches,
            Item=wire({**run_pointer_key(run_id), "job": job, "run_sk": key["sk"]}),
        )
        self._running("ADD", run_id)
        self._started[run_id] = key
        return run_id

    def _running(self, action: str, run_id: int) -> None:
        """Add a run id to the counter's set of unfinished runs, or delete it from the set."""
        self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire(RUN_COUNTER_KEY),
            UpdateExpression=f"{action} #running :id",
            ExpressionAttributeNames={"#running": "running"},
            ExpressionAttributeValues=wire({":id": {str(run_id)}}),
        )

    def _run_key(self, run_id: int) -> Item | None:
        if run_id in self._started:
            return self._started[run_id]
        pointer = self._db.get(self._db.patches, run_pointer_key(run_id))
        if pointer is None:
            return None
        return {"pk": run_partition(pointer["job"]), "sk": pointer["run_sk"]}

    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        key = self._run_key(run_id)
        if key is None:
            return
        response = self._db.client.update_item(
            TableName=self._db.patches,
            Key=wire(key),
            UpdateExpression="SET #f = :f, #st = :st, #su = :su",
            ExpressionAttributeNames={"#f": "finished_at", "#st": "status", "#su": "summary"},
            ExpressionAttributeValues=wire(
                {
                    ":f": utc_text(finished_at),
                    ":st": status,
                    ":su": encode_run_summary(summary),
                }
            ),
            ReturnValues="ALL_NEW",
        )
        self._started.pop(run_id, None)
        self._running("DELETE", run_id)
        if status == "ok":
            run = plain(response["Attributes"])
            # Runs of one job may end out of order (two Lambda invocations): the newest wins.
            with contextlib.suppress(self._db.client.exceptions.ConditionalCheckFailedException):
                self._db.client.put_item(
                    TableName=self._db.patches,
                    Item=wire({**run, **run_success_key(run["job"])}),
                    ConditionExpression="attribute_not_exists(pk) OR started_at <= :s",
                    ExpressionAttributeValues=wire({":s": run["started_at"]}),
                )

    def interrupt_run(self, run_id: int, *, finished_at: datetime, reason: str) -> bool:
        key = self._run_key(run_id)
        if key is None:
            return False
        try:
            self._db.client.update_item(
                TableName=self._db.patches,
                Key=wire(key),
                UpdateExpression="SET #f = :f, #st = :st, #su = :su",
                ConditionExpression="#st = :running",
                ExpressionAttributeNames={"#f": "finished_at", "#st": "status", "#su": "summary"},
                ExpressionAttributeValues=wire(
                    {
                        ":f": utc_text(finished_at),
                        ":st": INTERRUPTED,
                        ":su": encode_run_summary({"interrupted": reason}),
                        ":running": RUNNING,
                    }
                ),
            )
        except self._db.client.exceptions.ConditionalCheckFailedException:
            return False
        self._running("DELETE", run_id)
        return True

    def running_runs(self) -> list[RunRecord]:
        # Eventually consistent (half the units; every recorded run asks, to close the runs of
        # gone processes): a run started or ended a second ago may be missed or still listed,
        # and a run a second old has not lost its process or lease anyway; closing one is a
        # conditional write on its status, so a stale listing closes nothing twice.
        counter = self._db.get(self._db.patches, RUN_COUNTER_KEY, consistent=False) or {}
        ids = sorted(int(text) for text in counter.get("running", set()))
        pointers = self._db.batch_get(
            self._db.patches, (run_pointer_key(i) for i in ids), consistent=False
        )
        keys = [
            {"pk": run_partition(pointer["job"]), "sk": pointer["run_sk"]}
            for pointer in pointers.values()
        ]
        found = self._db.batch_get(self._db.patches, keys, RUN_FIELDS, consistent=False)
        runs = [decode_run(item) for item in found.values() if item["status"] == RUNNING]
        return sorted(runs, key=lambda run: (run.started_at, run.id or 0))

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

    def last_successes(self) -> dict[str, RunRecord]:
        counter = self._db.get(self._db.patches, RUN_COUNTER_KEY) or {}
        jobs = sorted(counter.get("jobs", set()))
        found = self._db.batch_get(
            self._db.patches, (run_success_key(job) for job in jobs), consistent=True
        )
        runs = (decode_run(item) for item in found.values())
        return {run.job: run for run in sorted(runs, key=lambda run: run.job)}

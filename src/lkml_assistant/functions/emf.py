# SPDX-License-Identifier: GPL-2.0-or-later
"""What the handlers' metrics are called: one home for the names the alarms watch.

The handlers print these in CloudWatch's embedded metric format (EMF) through Powertools
(:mod:`.observability`); the CDK app (``infra/lkml_infra/monitoring.py``) builds its alarms and
dashboard from the same names and dimensions, so that an alarm cannot watch a metric nobody
emits. This module imports nothing, so the CDK app reads it without loading Powertools.

Every job run's figures go out as one EMF document with the dimensions ``service``
(``POWERTOOLS_SERVICE_NAME``, ``lkml-<env>`` on AWS), ``Job`` and ``Source``.
"""

from __future__ import annotations

NAMESPACE = "LkmlAssistant"

# Dimension names, as Powertools writes them (``service`` is its own default dimension).
SERVICE_DIMENSION = "service"
JOB_DIMENSION = "Job"
SOURCE_DIMENSION = "Source"

# Metric names.
API_CALLS = "ApiCalls"
"""Requests to the upstream (Patchwork, lore), or API requests served (Job ``api``)."""
API_LATENCY = "ApiLatency"
"""Milliseconds per upstream request (per API request for Job ``api``)."""
RECORDS_WRITTEN = "RecordsWritten"
ERRORS = "Errors"
"""Errors a run counted (a project, a list or a thread it could not read; an API 5xx)."""
FAILED_RUNS = "FailedRuns"
"""1 when a run could not do its work at all (every project failed): the handler raises."""
PARTIAL_RUNS = "PartialRuns"
"""1 when a run did part of its work (one project of several failed): it returns normally."""

JOB_METRICS = (API_CALLS, API_LATENCY, RECORDS_WRITTEN, ERRORS, FAILED_RUNS, PARTIAL_RUNS)

# Which upstream each job reads; review-intel reads only the store.
SOURCES = {
    "fetch-patches": "patchwork",
    "fetch-discussions": "lore",
    "refresh-discussions": "lore",
    "review-intel": "store",
    "api": "apigateway",
}

SCHEDULED_FETCHES = ("fetch-patches", "refresh-discussions")
"""The steps of the scheduled recipes that can fail in part (some projects, some lists).
fetch-discussions there only queues; the queue consumer's failed threads are retried by SQS and
end in the work DLQ, which has its own alarm."""


def source_of(job: str) -> str:
    return SOURCES.get(job, "store")

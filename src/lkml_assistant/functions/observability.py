# SPDX-License-Identifier: GPL-2.0-or-later
"""Powertools Logger, Metrics and Tracer for the Lambda functions, made once per cold start.

* Logger: JSON lines with the invocation's correlation id. The services log through the
  standard ``logging`` module; their loggers get the same JSON handler, so one record format
  covers the handlers and the service layer.
* Metrics: CloudWatch embedded metric format (EMF) on stdout, namespace ``LkmlAssistant``
  (``POWERTOOLS_METRICS_NAMESPACE`` overrides), dimensions ``Job`` and ``Source``; the
  metric names are :mod:`.emf`'s, the one list the alarms read too.
* Tracer: X-Ray segments when the function has tracing on. With ``POWERTOOLS_TRACE_DISABLED``
  (the dev and staging stacks, the tests) the X-Ray SDK is not even imported: it would cost
  about half a second of every cold start for segments nobody records.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from lkml_assistant.functions import emf
from lkml_assistant.services.summary import JobSummary

SERVICE = "lkml-assistant"
NAMESPACE = emf.NAMESPACE

logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
    level=os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LKML_LOG_LEVEL") or "INFO",
)
copy_config_to_registered_loggers(source_logger=logger, include={"lkml_assistant"})
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))
_F = TypeVar("_F", bound=Callable[..., Any])


class _HandlerTracer(Protocol):
    def capture_lambda_handler(self, lambda_handler: _F) -> _F: ...


class _NoTracer:
    """Tracing off: handlers are returned as they are."""

    def capture_lambda_handler(self, lambda_handler: _F) -> _F:
        return lambda_handler


def _tracer() -> _HandlerTracer:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes"}:
        return _NoTracer()
    from aws_lambda_powertools import Tracer

    tracer: _HandlerTracer = Tracer(service=SERVICE)  # type: ignore[assignment]
    return tracer


tracer = _tracer()


def add_job_dimensions(job: str) -> None:
    """The dimensions the alarms name: ``service`` (read now, not at import, so it is the
    function's whatever the import order; Powertools adds the same from the environment),
    ``Job`` and ``Source``."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE)
    metrics.add_dimension(name=emf.SERVICE_DIMENSION, value=service)
    metrics.add_dimension(name=emf.JOB_DIMENSION, value=job)
    metrics.add_dimension(name=emf.SOURCE_DIMENSION, value=emf.source_of(job))


def record_job(summary: JobSummary) -> None:
    """Add one job run's figures to the metrics flushed at the end of the invocation.

    A recipe runs several jobs in one invocation, each with its own ``Job`` dimension: the
    figures of the job before are flushed first, as their own EMF record. ``FailedRuns`` and
    ``PartialRuns`` say whether the run did its work (:attr:`JobSummary.status`); the names
    and dimensions are :mod:`.emf`'s, which the alarms read too."""
    if metrics.metric_set:
        metrics.flush_metrics()
    add_job_dimensions(summary.job)
    metrics.add_metric(name=emf.API_CALLS, unit=MetricUnit.Count, value=summary.requests)
    if summary.requests:
        latency = 1000 * summary.upstream_seconds / summary.requests
        metrics.add_metric(name=emf.API_LATENCY, unit=MetricUnit.Milliseconds, value=latency)
    metrics.add_metric(name=emf.RECORDS_WRITTEN, unit=MetricUnit.Count, value=summary.written)
    metrics.add_metric(name=emf.ERRORS, unit=MetricUnit.Count, value=summary.errors)
    metrics.add_metric(
        name=emf.FAILED_RUNS, unit=MetricUnit.Count, value=int(summary.status == "failed")
    )
    metrics.add_metric(
        name=emf.PARTIAL_RUNS, unit=MetricUnit.Count, value=int(summary.status == "partial")
    )

# SPDX-License-Identifier: GPL-2.0-or-later
"""Who runs a job, and how a later job tells that a run still "running" lost its process.

A killed process cannot close its run record, so the next job to start closes it instead
(:func:`close_gone_runs`, called by :func:`~lkml_assistant.services.summary.recorded_run`):

* Locally a run belongs to a process, ``pid N on HOST``. A run of this host whose pid no
  longer exists is gone. (A pid reused since keeps the run open until that process ends too:
  the rule may be late, never wrong about a live run.) A run of another host is left to a
  job on that host.
* On Lambda a pid means nothing (every execution environment has its own), so a run carries
  a lease instead: no invocation outlives Lambda's 15-minute limit, so a run still open after
  it is gone.
* A run recorded before runs had owners is taken for gone: the process that started it ran
  an older version, which this one replaced.

An interrupted run keeps its start; ``finished_at`` is when it was found gone.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from lkml_assistant.models.records import RunRecord
from lkml_assistant.repositories.base import RunRepository

log = logging.getLogger(__name__)

LAMBDA_LIMIT = timedelta(minutes=15)
"""The longest a Lambda invocation can run, whatever its configured timeout."""

_PROCESS = re.compile(r"pid (\d+) on (.+)")


@dataclass(frozen=True)
class RunOwner:
    """How a run record names who runs it, and for how long it may (None: as long as the
    process lives)."""

    name: str
    lease: timedelta | None = None

    def lease_until(self, started_at: datetime) -> datetime | None:
        return started_at + self.lease if self.lease is not None else None


def this_process() -> RunOwner:
    """The owner of the runs this process starts."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function:
        stream = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        return RunOwner(f"lambda {function} {stream}".rstrip(), LAMBDA_LIMIT)
    return RunOwner(f"pid {os.getpid()} on {socket.gethostname()}")


def why_gone(run: RunRecord, now: datetime) -> str | None:
    """Why a run still recorded as running has lost its process; None while it may be alive."""
    if run.lease_until is not None:
        if now < run.lease_until:
            return None
        return f"still running at the end of its lease ({run.lease_until.isoformat()})"
    if run.owner is None:
        return "started by a version that recorded no owner"
    process = _PROCESS.fullmatch(run.owner)
    if process is None or process[2] != socket.gethostname():
        return None
    if _alive(int(process[1])):
        return None
    return f"its process ({run.owner}) is gone"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def close_gone_runs(runs: RunRepository, now: datetime) -> list[RunRecord]:
    """Mark every run whose process is gone as interrupted; the runs closed."""
    closed = []
    for run in runs.running_runs():
        reason = why_gone(run, now)
        if reason is None or run.id is None:
            continue
        if runs.interrupt_run(run.id, finished_at=now, reason=reason):
            log.warning(
                "%s run %d of %s marked interrupted: %s", run.job, run.id, run.started_at, reason
            )
            closed.append(run)
    return closed


def interrupt_own_runs(runs: RunRepository, now: datetime, reason: str) -> list[RunRecord]:
    """Close the runs this process still has open: it is about to end without them."""
    owner = this_process().name
    closed = []
    for run in runs.running_runs():
        if run.owner != owner or run.id is None:
            continue
        if runs.interrupt_run(run.id, finished_at=now, reason=reason):
            closed.append(run)
    return closed

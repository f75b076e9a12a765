# SPDX-License-Identifier: GPL-2.0-or-later
"""Job summaries: what a run did, as one line for people and one JSON object for scripts.

The JSON keys are a contract (see README): ``job``, ``requests``, ``written``, ``unchanged``,
``skipped``, ``errors``, ``seconds``, plus each job's own counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, Field

from lkml_assistant.models.records import WriteResult
from lkml_assistant.services.runs import close_gone_runs, this_process

if TYPE_CHECKING:
    from lkml_assistant.repositories.base import Store
    from lkml_assistant.sources.http import HttpClient


class JobSummary(BaseModel):
    job: str
    status: str = Field(
        "ok", description="ok, partial (some projects failed, or out of time) or failed"
    )
    requests: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    seconds: float = 0.0
    upstream_seconds: float = Field(0.0, description="Time spent waiting for the upstream.")
    skip_reasons: dict[str, int] = Field(default_factory=dict)
    error_messages: list[str] = Field(default_factory=list)
    left: list[str] = Field(
        default_factory=list,
        description="What the run left to the next one for lack of time (projects, lists).",
    )

    # Fields shown in the one-line human summary, in order, with their labels.
    line_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __iadd__(self, result: WriteResult) -> Self:
        self.written += result.written
        self.unchanged += result.unchanged
        return self

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1

    def error(self, message: str) -> None:
        self.errors += 1
        self.error_messages.append(message)

    def out_of_time(self, left: Sequence[str]) -> None:
        """The deadline came before ``left`` was done: a run that stops cleanly, ``partial``
        (not ``failed``: what it did stands, and the next run does the rest)."""
        self.left.extend(left)
        if self.status == "ok":
            self.status = "partial"

    @property
    def completed(self) -> bool:
        return self.status == "ok"

    def failed_parts(self) -> list[JobSummary]:
        """The runs in this summary that could not do their work at all (``failed``); a
        ``partial`` run did some of it and is not among them."""
        return [self] if self.status == "failed" else []

    def raise_if_failed(self) -> None:
        """Raise :class:`JobFailedError` when a run could not do its work: called after the
        summary is recorded (run record, log, metrics), so that the caller's own failure
        handling applies too (on Lambda: Errors, async retries, the on-failure destination)."""
        failed = self.failed_parts()
        if failed:
            raise JobFailedError(self, failed)

    def as_dict(self) -> dict[str, Any]:
        data = self.model_dump()
        data["seconds"] = round(self.seconds, 3)
        data["upstream_seconds"] = round(self.upstream_seconds, 3)
        return data

    def line(self) -> str:
        parts = [f"{self.requests} requests"]
        parts += [f"{getattr(self, name)} {label}" for name, label in self.line_fields]
        parts += [
            f"{self.written} written",
            f"{self.unchanged} unchanged",
            f"{self.skipped} skipped",
            f"{self.errors} errors",
        ]
        status = "" if self.status == "ok" else f" [{self.status}]"
        return f"{self.job}: {', '.join(parts)} in {self.seconds:.1f} s{status}"


class JobFailedError(RuntimeError):
    """A job could not do its work (every project, list or thread it tried failed)."""

    def __init__(self, summary: JobSummary, failed: list[JobSummary]) -> None:
        self.summary = summary
        self.failed = failed
        reasons = "; ".join(m for part in failed for m in part.error_messages[:3])
        names = ", ".join(part.job for part in failed)
        super().__init__(f"{summary.job}: {names} failed: {reasons or 'see the run record'}")


@contextmanager
def recorded_run(
    store: Store, summary: JobSummary, http: HttpClient | None = None
) -> Iterator[JobSummary]:
    """Time a job, count its requests, and keep its run record, however the job ends.

    Runs left open by a process that is gone are closed first (:mod:`.runs`)."""
    started = time.monotonic()
    requests_before = http.stats.requests if http else 0
    waiting_before = http.stats.seconds_waiting if http else 0.0
    now = datetime.now(UTC)
    close_gone_runs(store.runs, now)
    owner = this_process()
    run_id = store.runs.start_run(
        summary.job, now, owner=owner.name, lease_until=owner.lease_until(now)
    )
    try:
        yield summary
    finally:
        if http is not None:
            summary.requests = http.stats.requests - requests_before
            summary.upstream_seconds = http.stats.seconds_waiting - waiting_before
        summary.seconds = time.monotonic() - started
        store.runs.finish_run(
            run_id, finished_at=datetime.now(UTC), status=summary.status, summary=summary.as_dict()
        )

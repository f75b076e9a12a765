# SPDX-License-Identifier: GPL-2.0-or-later
"""The in-process scheduler of `lkml-assistant serve`: cron schedules run on one worker thread.

* Schedules are cron expressions in UTC (croniter). Every schedule is a list of steps (one
  job each) that run one after the other on the scheduler's single thread, so no job ever
  overlaps another one, and no two jobs write the store at the same time.
* When a schedule last ran is kept in the store's run records (job ``schedule:NAME``), written
  once the schedule's steps have all ended. A schedule whose next slot has passed runs once,
  however many slots were missed (a laptop asleep, the process down), and its next run is the
  first slot after that catch-up run started.
* A schedule that was never run starts counting from the first start: nothing is "missed"
  before the service existed. A backfill, when one is needed, runs before anything else.
* The clock is injected: :class:`SystemClock` in service, :class:`ManualClock` in tests,
  which never sleep for real.
* :meth:`Scheduler.stop` lets the step in progress finish and abandons the steps after it.
  An abandoned schedule is not recorded, so it runs again at the next start; every job is safe
  to repeat (docs/sync.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from croniter import croniter  # type: ignore[import-untyped]  # no stubs in the lock

from lkml_assistant.repositories.base import RunRepository
from lkml_assistant.services.runs import this_process
from lkml_assistant.services.summary import JobSummary

log = logging.getLogger(__name__)

RECORD_PREFIX = "schedule:"
# The real clock is read again at least this often while waiting: the monotonic clock behind
# Event.wait stands still while a laptop sleeps, the wall clock does not.
MAX_NAP = 60.0


class Clock(Protocol):
    """What the scheduler needs of time: read it, and wait for a moment or a stop."""

    def now(self) -> datetime: ...

    def wait_until(self, moment: datetime, stop: threading.Event) -> None:
        """Return once ``moment`` has come or ``stop`` is set, whichever is first."""


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, moment: datetime, stop: threading.Event) -> None:
        while not stop.is_set():
            left = (moment - self.now()).total_seconds()
            if left <= 0:
                return
            stop.wait(min(left, MAX_NAP))


class ManualClock:
    """A clock that moves only when told to (tests and demos).

    :meth:`advance` moves it; :meth:`wait_for_idle` returns once the scheduler has done all
    that was due at the current time and waits for a later one, so a test can look at the
    results without sleeping or guessing.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start
        self._cond = threading.Condition()
        self._moves = 0
        # The value of _moves when the scheduler last went to sleep, None while it works.
        self._idle_at: int | None = None

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._cond:
            self._now += delta
            self._moves += 1
            self._cond.notify_all()
            return self._now

    def set(self, moment: datetime) -> None:
        with self._cond:
            self._now = moment
            self._moves += 1
            self._cond.notify_all()

    def wait_until(self, moment: datetime, stop: threading.Event) -> None:
        with self._cond:
            while self._now < moment and not stop.is_set():
                if self._idle_at != self._moves:
                    self._idle_at = self._moves
                    self._cond.notify_all()
                # A short timeout only to notice ``stop``, which is not tied to this condition.
                self._cond.wait(0.02)
            self._idle_at = None

    def wait_for_idle(self, timeout: float = 60.0) -> None:
        """Block until the scheduler sleeps with nothing due at the current time."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._idle_at == self._moves, timeout):
                raise TimeoutError(f"the scheduler was still busy after {timeout} s")


@dataclass(frozen=True)
class Step:
    """One job of a schedule: ``run(now)`` does it and returns its summary."""

    job: str
    run: Callable[[datetime], JobSummary]


@dataclass(frozen=True)
class Schedule:
    """Steps run together at the times a cron expression (UTC) names.

    ``covers`` names schedules whose work this one includes: when both are due together,
    only this one runs, and both count as done.
    """

    name: str
    cron: str
    steps: tuple[Step, ...]
    covers: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.cron):
            raise ValueError(f"schedule {self.name}: not a cron expression: {self.cron!r}")

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        nxt: datetime = croniter(self.cron, moment.astimezone(UTC)).get_next(datetime)
        return nxt.astimezone(UTC)


@dataclass(frozen=True)
class Backfill:
    """Work a start must do before the schedules: ``needed()`` says whether it must."""

    needed: Callable[[], bool]
    steps: tuple[Step, ...]
    name: str = "backfill"


@dataclass
class ScheduleRun:
    """One run of a schedule (or of the backfill), as the scheduler saw it."""

    name: str
    started_at: datetime
    finished_at: datetime | None = None
    summaries: list[JobSummary] = field(default_factory=list)
    status: str = "ok"
    abandoned: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "schedule": self.name,
            "jobs": [summary.as_dict() for summary in self.summaries],
        }


_STATUS_RANK = {"ok": 0, "partial": 1, "failed": 2}


class Scheduler:
    """Runs ``schedules`` on one thread until stopped. See the module docstring for the rules."""

    def __init__(
        self,
        runs: RunRepository,
        schedules: Sequence[Schedule],
        *,
        clock: Clock,
        backfill: Backfill | None = None,
    ) -> None:
        names = [schedule.name for schedule in schedules]
        if len(set(names)) != len(names):
            raise ValueError(f"schedule names repeat: {names}")
        self.runs = runs
        self.schedules = list(schedules)
        self.clock = clock
        self.backfill = backfill
        self.history: list[ScheduleRun] = []
        self.next_due: dict[str, datetime] = {}
        self.current_job: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- thread -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the scheduler is already running")
        # A daemon thread: a job still running when the grace period ends is abandoned with
        # the process (safe, see the module docstring) instead of holding the exit.
        self._thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it did within ``timeout``."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_forever(self) -> None:
        try:
            self.prepare()
            while not self._stop.is_set():
                self.run_pending()
                if self._stop.is_set():
                    break
                wake_at = min(self.next_due.values())
                log.debug("next run at %s", _when(wake_at))
                self.clock.wait_until(wake_at, self._stop)
        except Exception:
            # The API keeps serving; without schedules the store only ages, so say it loudly.
            log.exception("the scheduler stopped on an unexpected error; no job will run")
        finally:
            log.debug("scheduler stopped")

    # --- one pass ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Read when each schedule last ran, and run the backfill when one is needed."""
        now = self.clock.now()
        last = self.runs.last_runs()
        for schedule in self.schedules:
            record = last.get(RECORD_PREFIX + schedule.name)
            if record is None:
                # Never run here: count from now, and keep that so a restart counts from it too.
                self._record(ScheduleRun(schedule.name, now, now), note="first start")
                self.next_due[schedule.name] = schedule.next_after(now)
            else:
                self.next_due[schedule.name] = schedule.next_after(record.started_at)
            overdue = self.next_due[schedule.name] <= now
            log.info(
                "schedule %s (%s, UTC): %s",
                schedule.name,
                schedule.cron,
                "missed, runs now" if overdue else f"next at {_when(self.next_due[schedule.name])}",
            )
        if self.backfill is not None and self.backfill.needed():
            self._run_steps(self.backfill.name, self.backfill.steps, record=False)

    def run_pending(self) -> list[ScheduleRun]:
        """Run every schedule that is due, once each, and plan their next runs."""
        now = self.clock.now()
        due = [s for s in self.schedules if self.next_due[s.name] <= now]
        covered = set().union(*(s.covers for s in due)) if due else set()
        done: list[ScheduleRun] = []
        for schedule in due:
            if self._stop.is_set():
                break
            if schedule.name in covered:
                continue
            run = self._run_steps(schedule.name, schedule.steps, record=True)
            done.append(run)
            if run.abandoned:
                break
            names = [schedule.name, *sorted(schedule.covers & {s.name for s in due})]
            for name in names:
                if name != schedule.name:
                    covered_run = ScheduleRun(
                        name, run.started_at, run.finished_at, status=run.status
                    )
                    self._record(covered_run, note=f"covered by {schedule.name}")
                # The first slot after the run *started*: missed slots collapse into this run.
                self.next_due[name] = self._schedule(name).next_after(run.started_at)
        return done

    def _schedule(self, name: str) -> Schedule:
        return next(s for s in self.schedules if s.name == name)

    def _run_steps(self, name: str, steps: Sequence[Step], *, record: bool) -> ScheduleRun:
        run = ScheduleRun(name, self.clock.now())
        log.info("%s: starting (%s)", name, ", ".join(step.job for step in steps))
        for step in steps:
            if self._stop.is_set():
                run.abandoned = True
                break
            summary = self._run_step(name, step, run.started_at)
            run.summaries.append(summary)
            if _STATUS_RANK.get(summary.status, 2) > _STATUS_RANK[run.status]:
                run.status = summary.status
        run.finished_at = self.clock.now()
        with self._lock:
            self.history.append(run)
        if run.abandoned:
            log.info("%s: stopped before its end; it runs again at the next start", name)
            return run
        if record:
            self._record(run)
        if run.status != "ok":
            self._say_retry(run)
        return run

    def _run_step(self, name: str, step: Step, now: datetime) -> JobSummary:
        self.current_job = step.job
        try:
            summary = step.run(now)
        except Exception as exc:
            log.exception("%s: %s failed unexpectedly", name, step.job)
            summary = JobSummary(job=step.job, status="failed")
            summary.error(f"{type(exc).__name__}: {exc}")
        finally:
            self.current_job = None
        log.info("%s: %s", name, summary.line())
        return summary

    def _say_retry(self, run: ScheduleRun) -> None:
        """One line for an operator: what failed, that the API still serves, when we retry."""
        schedule = next((s for s in self.schedules if s.name == run.name), None)
        if schedule is not None:
            retry_at: datetime | None = schedule.next_after(run.started_at)
        else:
            retry_at = min(self.next_due.values(), default=None)
        failed = [s for s in run.summaries if s.status != "ok"]
        reason = next((m for s in failed for m in s.error_messages), "")
        log.warning(
            "%s: %s did not complete%s; the API keeps serving what the store holds; will retry %s",
            run.name,
            ", ".join(s.job for s in failed),
            f" ({reason})" if reason else "",
            f"at {_when(retry_at)}" if retry_at else "at the next start",
        )

    def _record(self, run: ScheduleRun, note: str | None = None) -> None:
        summary = run.record()
        if note:
            summary["note"] = note
        run_id = self.runs.start_run(
            RECORD_PREFIX + run.name, run.started_at, owner=this_process().name
        )
        self.runs.finish_run(
            run_id,
            finished_at=run.finished_at or run.started_at,
            status=run.status,
            summary=summary,
        )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

# SPDX-License-Identifier: GPL-2.0-or-later
"""The in-process scheduler, driven by a manual clock: when schedules run, catch-up after a
gap, one job at a time, and stopping. Nothing here sleeps for real or touches the network."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from lkml_assistant.config import load_settings
from lkml_assistant.local.scheduler import (
    RECORD_PREFIX,
    Backfill,
    ManualClock,
    Schedule,
    Scheduler,
    Step,
)
from lkml_assistant.local.service import standard_schedules
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services import jobs as service_jobs
from lkml_assistant.services.summary import JobSummary

# A Wednesday, mid-morning.
START = datetime(2025, 7, 2, 10, 17, tzinfo=UTC)


class Jobs:
    """Fake jobs that note when they ran, and how many ran at the same time."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail: set[str] = set()

    def step(self, job: str) -> Step:
        def run(now: datetime) -> JobSummary:
            with self.lock:
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
                self.calls.append((job, now))
            try:
                self.entered.set()
                if self.gate is not None:
                    assert self.gate.wait(30)
                if job in self.fail:
                    raise ConnectionError("upstream unreachable")
                return JobSummary(job=job)
            finally:
                with self.lock:
                    self.running -= 1

        return Step(job, run)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def schedules(jobs: Jobs) -> list[Schedule]:
    return [
        Schedule("hourly", "0 * * * *", (jobs.step("h-patches"), jobs.step("h-threads"))),
        Schedule("daily", "0 3 * * *", (jobs.step("d-full"),), covers=frozenset({"hourly"})),
        Schedule("weekly", "0 4 * * SUN", (jobs.step("w-refresh"),)),
    ]


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "store.sqlite3") as store:
        yield store


@pytest.fixture
def started(store):
    """Start a scheduler on ``store``; every scheduler started is stopped at the end."""
    made: list[Scheduler] = []

    def start(jobs: Jobs, clock: ManualClock, backfill: Backfill | None = None) -> Scheduler:
        scheduler = Scheduler(store.runs, schedules(jobs), clock=clock, backfill=backfill)
        made.append(scheduler)
        scheduler.start()
        clock.wait_for_idle()
        return scheduler

    yield start
    for scheduler in made:
        scheduler.stop()
        assert scheduler.join(10)


def test_standard_schedules_run_hourly_at_three_daily_and_sunday_mornings(tmp_path):
    settings = load_settings(store=f"sqlite:///{tmp_path}/s.sqlite3", projects=["p"])
    with SqliteStore(settings.sqlite_path) as store:
        found = {s.name: s for s in standard_schedules(service_jobs.Jobs(settings, store))}
    assert {name: s.cron for name, s in found.items()} == {
        "hourly": "0 * * * *",
        "daily": "0 3 * * *",
        "weekly": "0 4 * * SUN",
    }
    assert found["hourly"].next_after(START) == datetime(2025, 7, 2, 11, 0, tzinfo=UTC)
    # On the hour itself, the next slot is the one after.
    assert found["hourly"].next_after(START.replace(minute=0)) == START.replace(hour=11, minute=0)
    assert found["daily"].next_after(START) == datetime(2025, 7, 3, 3, 0, tzinfo=UTC)
    sunday = found["weekly"].next_after(START)
    assert sunday == datetime(2025, 7, 6, 4, 0, tzinfo=UTC)
    assert sunday.strftime("%A") == "Sunday"
    assert found["weekly"].next_after(sunday) == sunday + timedelta(days=7)
    # Daily includes the hourly work of its slot; the steps are the existing jobs.
    assert found["daily"].covers == {"hourly"}
    assert [s.job for s in found["hourly"].steps] == [
        "fetch-patches",
        "fetch-discussions",
        "review-intel",
    ]
    assert [s.job for s in found["daily"].steps] == [
        "refresh-discussions --changing",
        "fetch-patches --full",
        "fetch-discussions",
        "review-intel",
    ]
    assert [s.job for s in found["weekly"].steps] == ["refresh-discussions --full", "review-intel"]


def test_a_bad_cron_expression_is_refused():
    with pytest.raises(ValueError, match="not a cron expression"):
        Schedule("bad", "every hour", ())


def test_first_start_runs_nothing_until_the_next_hour(started):
    jobs, clock = Jobs(), ManualClock(START)
    scheduler = started(jobs, clock)
    assert jobs.calls == []
    assert scheduler.next_due["hourly"] == datetime(2025, 7, 2, 11, 0, tzinfo=UTC)

    clock.advance(timedelta(minutes=42))  # 10:59
    clock.wait_for_idle()
    assert jobs.calls == []

    clock.advance(timedelta(minutes=1))  # 11:00
    clock.wait_for_idle()
    assert jobs.names() == ["h-patches", "h-threads"]
    assert jobs.calls[0][1] == datetime(2025, 7, 2, 11, 0, tzinfo=UTC)


def test_daily_run_includes_the_hourly_one_of_three_oclock(started, store):
    jobs, clock = Jobs(), ManualClock(datetime(2025, 7, 3, 2, 30, tzinfo=UTC))
    started(jobs, clock)
    clock.advance(timedelta(minutes=30))  # 03:00: hourly and daily are both due
    clock.wait_for_idle()
    assert jobs.names() == ["d-full"]
    hourly = store.runs.last_runs()[RECORD_PREFIX + "hourly"]
    assert (hourly.started_at.hour, hourly.summary["note"]) == (3, "covered by daily")
    clock.advance(timedelta(hours=1))  # 04:00: hourly alone
    clock.wait_for_idle()
    assert jobs.names() == ["d-full", "h-patches", "h-threads"]


def test_sunday_morning_runs_the_weekly_refresh(started):
    jobs, clock = Jobs(), ManualClock(datetime(2025, 7, 6, 3, 30, tzinfo=UTC))  # a Sunday
    started(jobs, clock)
    clock.advance(timedelta(minutes=30))
    clock.wait_for_idle()
    assert jobs.names() == ["h-patches", "h-threads", "w-refresh"]
    clock.advance(timedelta(days=1))  # Monday 04:00: no weekly run
    clock.wait_for_idle()
    assert "w-refresh" not in jobs.names()[3:]


def test_a_long_sleep_is_caught_up_once_not_once_per_missed_slot(started):
    jobs, clock = Jobs(), ManualClock(START)
    scheduler = started(jobs, clock)
    # The laptop sleeps from Wednesday morning to the next Monday: 100+ hourly slots,
    # five daily ones and a Sunday one went by.
    clock.advance(timedelta(days=5))
    clock.wait_for_idle()
    assert sorted(jobs.names()) == ["d-full", "w-refresh"]  # daily covers hourly
    assert scheduler.next_due["hourly"] == clock.now().replace(minute=0) + timedelta(hours=1)
    assert scheduler.next_due["daily"] == datetime(2025, 7, 8, 3, 0, tzinfo=UTC)


def test_missed_runs_while_the_process_was_down_are_caught_up_once(started, store):
    jobs, clock = Jobs(), ManualClock(START)
    first = started(jobs, clock)
    clock.advance(timedelta(minutes=43))  # 11:00
    clock.wait_for_idle()
    assert jobs.names() == ["h-patches", "h-threads"]
    first.stop()
    assert first.join(5)

    # Down from 11:05 until 16:20: five hourly slots missed.
    later = Jobs()
    clock.set(datetime(2025, 7, 2, 16, 20, tzinfo=UTC))
    again = started(later, clock)
    assert later.names() == ["h-patches", "h-threads"]
    assert again.next_due["hourly"] == datetime(2025, 7, 2, 17, 0, tzinfo=UTC)
    # The run records keep the schedule's last run for the next start.
    record = store.runs.last_runs()[RECORD_PREFIX + "hourly"]
    assert record.started_at == datetime(2025, 7, 2, 16, 20, tzinfo=UTC)
    assert record.status == "ok"
    assert [job["job"] for job in record.summary["jobs"]] == ["h-patches", "h-threads"]


def test_jobs_never_overlap_and_slots_passing_during_a_run_give_one_more_run(started):
    jobs, clock = Jobs(), ManualClock(START)
    jobs.gate = threading.Event()
    scheduler = started(jobs, clock)
    clock.advance(timedelta(minutes=43))  # 11:00: hourly starts and blocks
    assert jobs.entered.wait(10)
    # Three more hourly slots pass while the first run is stuck in its first job.
    clock.advance(timedelta(hours=3))
    assert jobs.names() == ["h-patches"]
    jobs.gate.set()
    clock.wait_for_idle()
    assert jobs.most_at_once == 1
    # The 11:00 run, then a single catch-up for 12:00, 13:00 and 14:00.
    assert jobs.names() == ["h-patches", "h-threads"] * 2
    assert scheduler.next_due["hourly"] == datetime(2025, 7, 2, 15, 0, tzinfo=UTC)


def test_stop_lets_the_current_job_end_and_abandons_the_rest(started, store):
    jobs, clock = Jobs(), ManualClock(START)
    jobs.gate = threading.Event()
    scheduler = started(jobs, clock)
    clock.advance(timedelta(minutes=43))
    assert jobs.entered.wait(10)
    scheduler.stop()
    assert not scheduler.join(0.05)  # the job in progress is not killed …
    assert scheduler.current_job == "h-patches"
    jobs.gate.set()
    assert scheduler.join(10)  # … it ends, and the thread with it
    assert jobs.names() == ["h-patches"]
    assert scheduler.history[-1].abandoned
    # Not recorded as done: the next start runs it again.
    record = store.runs.last_runs()[RECORD_PREFIX + "hourly"]
    assert record.summary.get("note") == "first start"
    rerun = Jobs()
    started(rerun, clock)
    assert rerun.names() == ["h-patches", "h-threads"]


def test_stop_while_idle_returns_at_once(store):
    clock = ManualClock(START)
    scheduler = Scheduler(store.runs, schedules(Jobs()), clock=clock)
    scheduler.start()
    clock.wait_for_idle()
    scheduler.stop()
    assert scheduler.join(2)


def test_backfill_runs_first_when_needed_and_not_again(started):
    jobs, clock = Jobs(), ManualClock(START)
    needed = [True]
    backfill = Backfill(needed=lambda: needed[0], steps=(jobs.step("backfill"),))
    started(jobs, clock, backfill)
    assert jobs.names() == ["backfill"]
    needed[0] = False
    clock.advance(timedelta(hours=1))
    clock.wait_for_idle()
    assert jobs.names() == ["backfill", "h-patches", "h-threads"]


def test_a_failing_job_is_logged_retried_on_schedule_and_the_rest_still_runs(
    started, store, caplog
):
    jobs, clock = Jobs(), ManualClock(START)
    jobs.fail = {"h-patches"}
    caplog.set_level(logging.INFO, logger="lkml_assistant.local.scheduler")
    started(jobs, clock)
    clock.advance(timedelta(minutes=43))
    clock.wait_for_idle()
    assert jobs.names() == ["h-patches", "h-threads"]
    record = store.runs.last_runs()[RECORD_PREFIX + "hourly"]
    assert record.status == "failed"
    assert "will retry at 2025-07-02 12:00 UTC" in caplog.text
    jobs.fail = set()
    clock.advance(timedelta(hours=1))
    clock.wait_for_idle()
    assert jobs.names()[2:] == ["h-patches", "h-threads"]
    assert store.runs.last_runs()[RECORD_PREFIX + "hourly"].status == "ok"

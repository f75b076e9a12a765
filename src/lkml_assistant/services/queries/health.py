# SPDX-License-Identifier: GPL-2.0-or-later
"""Whether the store is kept current: each scheduled job's last success against its schedule.

A job is late once its last success is older than twice the period of the most frequent
scheduled recipe that runs it (:data:`~lkml_assistant.services.recipes.SCHEDULED`; the period
is read from the recipe's cron, never restated): one missed run is weather, two are a
monitor's business. A job that has never succeeded is late once it has tried and failed;
before its first run ends it is only "not yet". The answer says degraded, with the reasons,
and stays HTTP 200: the API still serves what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter  # type: ignore[import-untyped]  # no stubs in the lock

from lkml_assistant.models.api import JobHealthOut
from lkml_assistant.models.records import RunRecord
from lkml_assistant.services.recipes import SCHEDULED, Recipe

LATE_AFTER_PERIODS = 2


@dataclass(frozen=True)
class Expectation:
    """How often a job is meant to succeed: the recipe that runs it most often."""

    job: str
    recipe: Recipe
    period: timedelta

    @property
    def late_after(self) -> timedelta:
        return LATE_AFTER_PERIODS * self.period


def cron_period(cron: str, around: datetime) -> timedelta:
    """The time between the two slots of ``cron`` that follow ``around``."""
    slots = croniter(cron, around.astimezone(UTC))
    first: datetime = slots.get_next(datetime)
    second: datetime = slots.get_next(datetime)
    return second - first


def expectations(around: datetime) -> dict[str, Expectation]:
    """Each job of a scheduled recipe, with the shortest period among the recipes running it."""
    found: dict[str, Expectation] = {}
    for recipe in SCHEDULED:
        assert recipe.cron is not None
        period = cron_period(recipe.cron, around)
        for step in recipe.steps:
            job = str(step.job)
            if job not in found or period < found[job].period:
                found[job] = Expectation(job, recipe, period)
    return found


def job_health(
    expected: Expectation, success: RunRecord | None, last: RunRecord | None, now: datetime
) -> tuple[JobHealthOut, str | None]:
    """One job's standing, and the reason it degrades the service (None: it does not)."""
    late_after = expected.late_after
    schedule = f"{expected.recipe.name} ({expected.recipe.cron} UTC)"
    if success is not None:
        done = success.finished_at or success.started_at
        age = now - done
        late = age > late_after
        out = JobHealthOut(
            status="late" if late else "ok",
            last_success=done,
            age_seconds=round(age.total_seconds(), 3),
            schedule=schedule,
            late_after_seconds=late_after.total_seconds(),
        )
        reason = (
            f"{expected.job}: last success {_span(age)} ago, more than twice its schedule "
            f"{schedule}"
        )
        return out, reason if late else None
    failed = last is not None and last.status != "running"
    out = JobHealthOut(
        status="never" if failed else "not yet",
        last_success=None,
        age_seconds=None,
        schedule=schedule,
        late_after_seconds=late_after.total_seconds(),
    )
    if not failed:
        return out, None
    assert last is not None
    return out, f"{expected.job}: never succeeded; its last run ended {last.status}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 72 else f"{hours // 24} days"

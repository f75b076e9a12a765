# SPDX-License-Identifier: GPL-2.0-or-later
"""What runs when: the job recipes, defined once for every way of running LKML Assistant.

A recipe is a named list of steps with a cron expression (UTC). The local scheduler of
``serve``, the Lambda handlers, the CLI ``backfill`` and the EventBridge schedules of the CDK
app are all built from :data:`RECIPES`; none of them says on its own which job runs when, or
over which window. How a step is carried out is :meth:`lkml_assistant.services.jobs.Jobs.run_step`.

* ``hourly``, at minute 0: new and changed patches, the threads they need, review intelligence.
* ``daily`` at 03:00: the full refresh. Patches re-crawled over the backfill window, the
  threads they need, every thread of the refresh window re-read, review intelligence. It
  includes the hourly run of 03:00 (``covers``), which then does not run on its own.
* ``weekly``, Sundays at 04:00: every thread of the backfill window re-read, for late replies
  to patches older than the daily window, then review intelligence.
* ``backfill``, on no schedule: what a first start does on an empty store.

Windows are named, not counted here: ``backfill`` is ``LKML_BACKFILL_DAYS`` and ``refresh``
``LKML_REFRESH_DAYS``, read from the settings when a step runs. This module imports nothing
but pydantic, so the CDK app reads it without loading the services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class JobName(StrEnum):
    FETCH_PATCHES = "fetch-patches"
    FETCH_DISCUSSIONS = "fetch-discussions"
    REFRESH_DISCUSSIONS = "refresh-discussions"
    REVIEW_INTEL = "review-intel"


class Window(StrEnum):
    """A window of recent patches, by the setting that sizes it."""

    BACKFILL = "backfill"
    """``LKML_BACKFILL_DAYS``: what the store mirrors."""
    REFRESH = "refresh"
    """``LKML_REFRESH_DAYS``: whose threads the daily run re-reads."""


class RecipeStep(BaseModel):
    """One job of a recipe.

    ``full``: fetch-patches re-crawls the window instead of reading changes; refresh-discussions
    re-reads every thread of the window instead of asking lore what arrived.
    """

    model_config = ConfigDict(frozen=True)

    job: JobName
    full: bool = False
    window: Window = Window.BACKFILL

    @property
    def label(self) -> str:
        """How logs and run records name the step, as a command line would."""
        return f"{self.job} --full" if self.full else str(self.job)


class Recipe(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    cron: str | None = Field(
        description="Five-field cron expression in UTC; None for a recipe run on demand."
    )
    steps: tuple[RecipeStep, ...]
    covers: frozenset[str] = Field(
        frozenset(),
        description="Recipes whose work this one includes: when both are due at one moment, "
        "only this one runs.",
    )
    description: str

    @property
    def fetches(self) -> bool:
        """Whether a step reads upstream (review-intel reads the store alone)."""
        return any(step.job is not JobName.REVIEW_INTEL for step in self.steps)


_FETCH_PATCHES = RecipeStep(job=JobName.FETCH_PATCHES)
_FETCH_DISCUSSIONS = RecipeStep(job=JobName.FETCH_DISCUSSIONS)
_REVIEW_INTEL = RecipeStep(job=JobName.REVIEW_INTEL)

HOURLY = Recipe(
    name="hourly",
    cron="0 * * * *",
    steps=(_FETCH_PATCHES, _FETCH_DISCUSSIONS, _REVIEW_INTEL),
    description="new and changed patches, their threads, review status",
)
DAILY = Recipe(
    name="daily",
    cron="0 3 * * *",
    steps=(
        RecipeStep(job=JobName.FETCH_PATCHES, full=True),
        _FETCH_DISCUSSIONS,
        RecipeStep(job=JobName.REFRESH_DISCUSSIONS, full=True, window=Window.REFRESH),
        _REVIEW_INTEL,
    ),
    covers=frozenset({HOURLY.name}),
    description="the full refresh: patches re-crawled, recent threads re-read",
)
WEEKLY = Recipe(
    name="weekly",
    cron="0 4 * * SUN",
    steps=(RecipeStep(job=JobName.REFRESH_DISCUSSIONS, full=True), _REVIEW_INTEL),
    description="every thread of the backfill window re-read, for late replies",
)
BACKFILL = Recipe(
    name="backfill",
    cron=None,
    steps=(_FETCH_PATCHES, _FETCH_DISCUSSIONS, _REVIEW_INTEL),
    description="a first start: the backfill window's patches and threads",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (HOURLY, DAILY, WEEKLY, BACKFILL)}
SCHEDULED: tuple[Recipe, ...] = tuple(r for r in RECIPES.values() if r.cron is not None)


def due_at(moment: datetime) -> tuple[Recipe, ...]:
    """The scheduled recipes that run at ``moment`` (UTC), in :data:`RECIPES` order: those whose
    cron names it, less those another due recipe ``covers`` (hourly at 03:00, when daily runs).
    What the local scheduler and the EventBridge schedules do, for a caller that replays time.
    """
    from croniter import croniter  # type: ignore[import-untyped]  # no stubs; local mode has it

    due = [r for r in SCHEDULED if croniter.match(r.cron, moment.astimezone(UTC))]
    covered = {name for r in due for name in r.covers}
    return tuple(r for r in due if r.name not in covered)

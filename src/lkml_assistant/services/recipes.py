# SPDX-License-Identifier: GPL-2.0-or-later
"""What runs when: the job recipes, defined once for every way of running LKML Assistant.

A recipe is a named list of steps with a cron expression (UTC). The local scheduler of
``serve``, the Lambda handlers, the CLI ``backfill`` and the EventBridge schedules of the CDK
app are all built from :data:`RECIPES`; none of them says on its own which job runs when, or
over which window. How a step is carried out is :meth:`lkml_assistant.services.jobs.Jobs.run_step`.

* ``hourly``, at minute 0: new and changed patches, the threads they need, review intelligence.
* ``daily`` at 03:00: the full refresh. First the threads lore received mail for since the
  last refresh and those of the refresh window that can still change (``intel/liveness.py``:
  open patches, recent mail) re-read, then patches re-crawled over the backfill window, the
  threads they need, review intelligence. It includes the hourly run of 03:00 (``covers``),
  which then does not run on its own.
* ``weekly``, Sundays at 04:00: every thread of the backfill window re-read, for late replies
  to patches older than the daily window, then review intelligence.
* ``backfill``, on no schedule: what a first start does on an empty store.

A step works either per project (fetch-patches, fetch-discussions, review-intel: a
recipe's *project steps*, which on AWS run as one unit per project, fanned out through the
crawl queue) or over every list at once (refresh-discussions: a *list step*, run once per
recipe). A recipe's list steps come first: the project unit is then the whole rest of the
recipe, and nothing a list step needs waits for the units.

Windows are named, not counted here: ``backfill`` is ``LKML_BACKFILL_DAYS`` and ``refresh``
``LKML_REFRESH_DAYS``, read from the settings when a step runs. This module imports nothing
but pydantic, so the CDK app reads it without loading the services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JobName(StrEnum):
    FETCH_PATCHES = "fetch-patches"
    FETCH_DISCUSSIONS = "fetch-discussions"
    REFRESH_DISCUSSIONS = "refresh-discussions"
    REVIEW_INTEL = "review-intel"

    @property
    def per_project(self) -> bool:
        """Whether the job's work splits by project (refresh-discussions works per list)."""
        return self is not JobName.REFRESH_DISCUSSIONS


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
    ``changing``: refresh-discussions asks lore what arrived and also re-reads the threads of
    the window that can still change (:mod:`lkml_assistant.intel.liveness`), leaving the
    settled ones to a ``full`` step.
    """

    model_config = ConfigDict(frozen=True)

    job: JobName
    full: bool = False
    changing: bool = False
    window: Window = Window.BACKFILL

    @property
    def label(self) -> str:
        """How logs and run records name the step, as a command line would."""
        if self.full:
            return f"{self.job} --full"
        return f"{self.job} --changing" if self.changing else str(self.job)


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

    @model_validator(mode="after")
    def _list_steps_first(self) -> Recipe:
        kinds = [step.job.per_project for step in self.steps]
        if kinds != sorted(kinds):
            raise ValueError(f"{self.name}: a list step comes after a project step")
        return self

    @property
    def list_steps(self) -> tuple[RecipeStep, ...]:
        """The steps run once over every list, before the project steps."""
        return tuple(step for step in self.steps if not step.job.per_project)

    @property
    def project_steps(self) -> tuple[RecipeStep, ...]:
        """The steps run for each project, in order: the unit of fan-out on AWS."""
        return tuple(step for step in self.steps if step.job.per_project)

    @property
    def incremental(self) -> bool:
        """No full step: review-intel then looks only at what the steps before it changed."""
        return not any(step.full for step in self.steps)

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
        RecipeStep(job=JobName.REFRESH_DISCUSSIONS, changing=True, window=Window.REFRESH),
        RecipeStep(job=JobName.FETCH_PATCHES, full=True),
        _FETCH_DISCUSSIONS,
        _REVIEW_INTEL,
    ),
    covers=frozenset({HOURLY.name}),
    description="the full refresh: patches re-crawled, recent threads that can change re-read",
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

# SPDX-License-Identifier: GPL-2.0-or-later
"""What runs at a given hour, from the recipes' cron expressions and ``covers``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lkml_assistant.services.recipes import due_at


def names(moment: datetime) -> list[str]:
    return [recipe.name for recipe in due_at(moment)]


def test_a_weekday_runs_hourly_and_the_daily_run_instead_of_the_hourly_at_three() -> None:
    monday = datetime(2025, 11, 24, tzinfo=UTC)
    runs = [names(monday + timedelta(hours=h)) for h in range(24)]
    assert runs[3] == ["daily"]
    assert all(run == ["hourly"] for h, run in enumerate(runs) if h != 3)


def test_sunday_adds_the_weekly_run_at_four_and_nothing_runs_off_the_hour() -> None:
    sunday = datetime(2025, 11, 30, 4, tzinfo=UTC)
    assert names(sunday) == ["hourly", "weekly"]
    assert names(sunday + timedelta(minutes=30)) == []


def test_a_week_has_161_hourly_7_daily_and_1_weekly_run() -> None:
    monday = datetime(2025, 11, 24, tzinfo=UTC)
    counts: dict[str, int] = {}
    for hour in range(168):
        for name in names(monday + timedelta(hours=hour)):
            counts[name] = counts.get(name, 0) + 1
    assert counts == {"hourly": 161, "daily": 7, "weekly": 1}

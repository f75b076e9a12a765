# SPDX-License-Identifier: GPL-2.0-or-later
"""Progress of long crawls on a terminal (rich), silent when not attached to one.

One bar per Patchwork crawl (pages) and one for the lore threads of fetch-discussions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from lkml_assistant.sources.patchwork import Page


class RichProgress:
    """One bar per (project, kind), Patchwork's ``rel="last"`` link giving the page count, and
    one for the threads read from lore."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def page(self, project: str, what: str, page: Page) -> None:
        total = max(page.last or page.number, page.number)
        self._show(f"{project} {what}", page.number, total, "pages")

    def threads(self, done: int, total: int) -> None:
        self._show("lore", done, total, "threads")

    def _show(self, bar: str, done: int, total: int, unit: str) -> None:
        if bar not in self._tasks:
            self._tasks[bar] = self._progress.add_task(bar, total=total, unit=unit)
        self._progress.update(self._tasks[bar], completed=done, total=total)

    def done(self, project: str, what: str) -> None:
        task = self._tasks.get(f"{project} {what}")
        if task is not None:
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total)


class _Silent:
    def page(self, project: str, what: str, page: Page) -> None:
        return None

    def threads(self, done: int, total: int) -> None:
        return None

    def done(self, project: str, what: str) -> None:
        return None


@contextmanager
def terminal_progress(*, enabled: bool) -> Iterator[RichProgress | _Silent]:
    if not enabled:
        yield _Silent()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield RichProgress(progress)

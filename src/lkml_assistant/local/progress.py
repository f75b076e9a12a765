# SPDX-License-Identifier: GPL-2.0-or-later
"""Progress of long crawls on a terminal (rich), silent when not attached to one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from lkml_assistant.sources.patchwork import Page


class RichProgress:
    """One bar per (project, kind); Patchwork's ``rel="last"`` link gives the page count."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def page(self, project: str, what: str, page: Page) -> None:
        key = (project, what)
        total = max(page.last or page.number, page.number)
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(f"{project} {what}", total=total)
        self._progress.update(self._tasks[key], completed=page.number, total=total)

    def done(self, project: str, what: str) -> None:
        task = self._tasks.get((project, what))
        if task is not None:
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total)


class _Silent:
    def page(self, project: str, what: str, page: Page) -> None:
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
        TextColumn("pages"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield RichProgress(progress)

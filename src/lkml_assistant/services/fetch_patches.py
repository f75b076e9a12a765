# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchPatches: mirror a Patchwork project's patches, series and states into the store.

How one project is kept current (docs/sync.md has the reasoning):

* First run, or ``full``: check the project exists, note the newest event, then walk every
  patch and series (from ``since`` if given). Pages are written as they arrive.
* Later runs cost two requests when nothing changed: the events since the event cursor, and
  the patches whose submission date is at or after the patch cursor.
  - ``patch-state-changed`` / ``patch-delegated`` events are applied from their payload, in
    event order, to patches not re-read in this run (a fresh read is newer than the events).
  - ``patch-created`` for a patch we lack (mail that arrived late, dated before the cursor)
    and series events fetch just those objects.
  - Archiving raises no event in Patchwork, so archive flags are refreshed by full runs.
* Cursors are saved only once a project's pass has finished, so a run killed half-way simply
  repeats; every write is an idempotent upsert, and the result is the same. The save is
  conditional on the cursor the pass started from: of two overlapping runs, the one that
  finishes second saves nothing (``CursorMovedError``, a skip), so it cannot move it back.
* Given ``time_left`` (a Lambda invocation's remaining time), a crawl that runs short of time
  pauses after a whole page: the cursor records the next page (``SyncCursor.crawl``) and the
  next run resumes there instead of starting over. The summary says ``more`` and names the
  projects not finished in ``left`` (a pause is not ``partial``: resuming is the plan).
* Given ``request`` (when a fan-out task was asked for), a full crawl that finishes records
  it in the cursor, and a full crawl asked again for the same request (the task delivered
  twice, the schedule retried) only reads the changes: one full crawl per request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar, Protocol

from pydantic import Field

from lkml_assistant.models.domain import Patch, Person, Series
from lkml_assistant.models.records import CrawlCheckpoint, SyncCursor
from lkml_assistant.repositories.base import CursorMovedError, Store
from lkml_assistant.services.summary import JobSummary, recorded_run
from lkml_assistant.sources.http import UpstreamError
from lkml_assistant.sources.patchwork import Page, PatchworkClient
from lkml_assistant.sources.patchwork_mapping import (
    MappingError,
    format_server_time,
    map_patch,
    map_project,
    map_series,
    parse_server_time,
)

log = logging.getLogger(__name__)

JOB = "fetch-patches"
# Fetch series one by one up to this many; past it, one list walk is cheaper.
SERIES_DETAIL_LIMIT = 3
# A crawl pauses when fewer seconds than this are left: enough for one more page and the cursor.
PAUSE_MARGIN = 45.0


class FetchPatchesSummary(JobSummary):
    job: str = JOB
    projects: list[str] = Field(default_factory=list)
    pages: int = 0
    patches_seen: int = 0
    series_seen: int = 0
    events_seen: int = 0
    more: bool = Field(False, description="A crawl paused for lack of time; run again to go on.")
    threads_queued: int = Field(0, description="Threads sent to the work queue (AWS).")
    changed_projects: list[str] = Field(
        default_factory=list,
        description="Projects whose sync wrote something: what review-intel has to look at.",
    )

    line_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("pages", "pages"),
        ("patches_seen", "patches seen"),
    )


class Progress(Protocol):
    """Told about each page, so a terminal can show how far a long crawl has come."""

    def page(self, project: str, what: str, page: Page) -> None: ...

    def done(self, project: str, what: str) -> None: ...


class _NoProgress:
    def page(self, project: str, what: str, page: Page) -> None:
        return None

    def done(self, project: str, what: str) -> None:
        return None


class ProjectSyncError(Exception):
    """One project could not be synced; the others still are."""


class _Paused(Exception):
    """The crawl stopped after a whole page, for lack of time."""

    def __init__(self, checkpoint: CrawlCheckpoint) -> None:
        super().__init__("out of time")
        self.checkpoint = checkpoint


@dataclass
class _Latest:
    """The newest server timestamp seen, kept in the server's own spelling."""

    tz: tzinfo
    raw: str | None = None
    moment: datetime | None = None

    def see(self, raw: str) -> None:
        try:
            moment = parse_server_time(raw, self.tz)
        except ValueError:
            return
        if self.moment is None or moment > self.moment:
            self.raw, self.moment = raw, moment


@dataclass
class _EventPlan:
    """What the new events ask for, gathered before anything is fetched."""

    state_changes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    patches_to_fetch: set[int] = field(default_factory=set)
    series_to_fetch: dict[int, str | None] = field(default_factory=dict)
    commented_patches: set[int] = field(default_factory=set)
    commented_covers: set[str] = field(default_factory=set)
    newest: _Latest | None = None
    last_event_id: int = 0


class FetchPatches:
    def __init__(
        self,
        store: Store,
        client: PatchworkClient,
        *,
        server_tz: tzinfo,
        progress: Progress | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.tz = server_tz
        self.progress = progress or _NoProgress()
        self.time_left = time_left

    def _out_of_time(self) -> bool:
        return self.time_left is not None and self.time_left() < PAUSE_MARGIN

    def run(
        self,
        projects: Iterable[str],
        *,
        since: datetime | None = None,
        full: bool = False,
        request: datetime | None = None,
    ) -> FetchPatchesSummary:
        summary = FetchPatchesSummary(projects=list(projects))
        with recorded_run(self.store, summary, self.client.http):
            failed = 0
            for number, project in enumerate(summary.projects):
                if self._out_of_time():
                    log.info("out of time before %s; the next run goes on", project)
                    summary.more = True
                    summary.left.extend(summary.projects[number:])
                    break
                written = summary.written
                try:
                    self._sync_project(project, summary, since=since, full=full, request=request)
                except _Paused:
                    summary.more = True
                    summary.left.extend(summary.projects[number:])
                    self._note_change(project, written, summary)
                    break
                except CursorMovedError as exc:
                    # An overlapping run got there first; its cursor stands, ours is dropped.
                    log.warning("%s", exc)
                    summary.skip("cursor moved by another run")
                except (UpstreamError, ProjectSyncError) as exc:
                    failed += 1
                    log.error("%s: %s", project, exc)
                    summary.error(f"{project}: {exc}")
                self._note_change(project, written, summary)
            if failed:
                summary.status = "failed" if failed == len(summary.projects) else "partial"
        return summary

    @staticmethod
    def _note_change(project: str, written_before: int, summary: FetchPatchesSummary) -> None:
        if summary.written > written_before and project not in summary.changed_projects:
            summary.changed_projects.append(project)

    # -- one project -------------------------------------------------------------------------

    def _sync_project(
        self,
        project: str,
        summary: FetchPatchesSummary,
        *,
        since: datetime | None,
        full: bool,
        request: datetime | None = None,
    ) -> None:
        cursor = self.store.cursors.get_cursor(project)
        if full and _full_crawl_done(cursor, request):
            log.info("%s: the full crawl of this request is done; reading changes", project)
            summary.skip("full crawl already done for this request")
            full, since = False, None
        since_text = format_server_time(since, self.tz) if since else None
        if cursor is not None and cursor.crawl is not None:
            log.info(
                "%s: resuming the paused crawl at its page %d", project, cursor.crawl.next_page
            )
        if cursor is None or full or cursor.crawl is not None:
            resume = cursor.crawl if cursor is not None else None
            try:
                new_cursor = self._crawl_project(project, summary, since_text, resume)
            except _Paused as paused:
                kept = cursor or SyncCursor()
                self.store.cursors.replace_cursor(
                    project, kept.model_copy(update={"crawl": paused.checkpoint}), expected=cursor
                )
                log.info(
                    "%s: out of time, crawl paused before page %d of %s",
                    project,
                    paused.checkpoint.next_page,
                    paused.checkpoint.phase,
                )
                raise
            if cursor and cursor.patches_since and new_cursor.patches_since:
                latest = _Latest(self.tz)
                latest.see(cursor.patches_since)
                latest.see(new_cursor.patches_since)
                new_cursor = new_cursor.model_copy(update={"patches_since": latest.raw})
            done_for = request if full and request is not None else None
            if done_for is None and cursor is not None:
                done_for = cursor.full_crawl_for
            new_cursor = new_cursor.model_copy(update={"full_crawl_for": done_for})
        else:
            new_cursor = self._update_project(project, cursor, summary, since_text)
        if new_cursor == cursor:
            return  # nothing to save: a quiet run reads its cursor once and writes nothing
        # Conditional: a second crawl that overlapped this one cannot move the cursor back.
        self.store.cursors.replace_cursor(project, new_cursor, expected=cursor)

    def _crawl_project(
        self,
        project: str,
        summary: FetchPatchesSummary,
        since_text: str | None,
        resume: CrawlCheckpoint | None = None,
    ) -> SyncCursor:
        raw_project = self.client.project(project)
        if raw_project is None:
            raise ProjectSyncError(f"Patchwork has no project {project!r}")
        try:
            self.store.projects.upsert_projects([map_project(raw_project)])
        except MappingError as exc:
            raise ProjectSyncError(f"malformed project object: {exc.reason}") from exc
        latest = _Latest(self.tz)
        if resume is None:
            # Events that happen while we crawl are read on the next run.
            newest = self.client.newest_event(project)
            start = CrawlCheckpoint(
                since=since_text,
                next_page=1,
                events_since=str(newest["date"]) if newest else None,
                last_event_id=int(newest["id"]) if newest else 0,
            )
        else:
            start = resume
            since_text = resume.since
            if resume.latest:
                latest.see(resume.latest)
        if start.phase == "patches":
            pages = self._walk_patches(
                project, summary, since_text, latest, start_page=start.next_page
            )
            for page_number, _patches in pages:
                if self._out_of_time():
                    raise _Paused(
                        start.model_copy(
                            update={"next_page": page_number + 1, "latest": latest.raw}
                        )
                    )
        series_start = start.next_page if start.phase == "series" else 1
        for page_number in self._walk_series(project, summary, since_text, start_page=series_start):
            if self._out_of_time():
                raise _Paused(
                    start.model_copy(
                        update={
                            "phase": "series",
                            "next_page": page_number + 1,
                            "latest": latest.raw,
                        }
                    )
                )
        return SyncCursor(
            patches_since=latest.raw or since_text,
            events_since=start.events_since,
            last_event_id=start.last_event_id,
        )

    def _update_project(
        self,
        project: str,
        cursor: SyncCursor,
        summary: FetchPatchesSummary,
        since_text: str | None,
    ) -> SyncCursor:
        plan = self._read_events(project, cursor, summary)
        latest = _Latest(self.tz)
        fresh: set[int] = set()
        series_refs: dict[int, datetime] = {}
        for _page_number, patches in self._walk_patches(
            project, summary, since_text or cursor.patches_since, latest
        ):
            for patch in patches:
                fresh.add(patch.id)
                for ref in patch.series:
                    series_refs.setdefault(ref.id, ref.date)

        missing = plan.patches_to_fetch - fresh
        if missing:
            missing -= set(self.store.patches.get_patches(missing))
        for patch in self._fetch_patches(sorted(missing), summary):
            fresh.add(patch.id)
            for ref in patch.series:
                series_refs.setdefault(ref.id, ref.date)

        self._apply_state_events(plan.state_changes, fresh, summary)
        self._mark_discussions_stale(plan)

        unknown = set(series_refs) - self.store.series.known_series_ids(series_refs)
        wanted: dict[int, datetime | None] = {sid: series_refs[sid] for sid in unknown}
        for sid, raw_date in plan.series_to_fetch.items():
            moment = None
            if raw_date:
                try:
                    moment = parse_server_time(raw_date, self.tz)
                except ValueError:
                    moment = None
            wanted.setdefault(sid, moment)
        self._refresh_series(project, wanted, summary)

        latest.see(cursor.patches_since or "")
        newest = plan.newest
        return SyncCursor(
            patches_since=latest.raw or cursor.patches_since,
            events_since=(newest.raw if newest and newest.raw else cursor.events_since),
            last_event_id=max(cursor.last_event_id, plan.last_event_id),
            full_crawl_for=cursor.full_crawl_for,
        )

    # -- pieces ------------------------------------------------------------------------------

    def _walk_patches(
        self,
        project: str,
        summary: FetchPatchesSummary,
        since_text: str | None,
        latest: _Latest,
        *,
        start_page: int = 1,
    ) -> Iterator[tuple[int, list[Patch]]]:
        for page in self.client.patches(project, since=since_text, start_page=start_page):
            summary.pages += 1
            patches = self._map_page(page.items, summary, "patch")
            for raw in page.items:
                if isinstance(raw, dict) and isinstance(raw.get("date"), str):
                    latest.see(raw["date"])
            summary.patches_seen += len(page.items)
            summary += self.store.patches.upsert_patches(patches)
            self.progress.page(project, "patches", page)
            yield page.number, patches
        self.progress.done(project, "patches")

    def _map_page(self, items: list[Any], summary: FetchPatchesSummary, kind: str) -> list[Patch]:
        patches: list[Patch] = []
        for raw in items:
            try:
                patches.append(map_patch(raw, self.tz))
            except MappingError as exc:
                log.warning("skipping %s", exc)
                summary.skip(f"malformed {kind}")
        return patches

    def _walk_series(
        self,
        project: str,
        summary: FetchPatchesSummary,
        since_text: str | None,
        *,
        start_page: int = 1,
    ) -> Iterator[int]:
        for page in self.client.series_list(project, since=since_text, start_page=start_page):
            summary.pages += 1
            summary.series_seen += len(page.items)
            series = self._map_series(page.items, summary)
            summary += self.store.series.upsert_series(series)
            self.progress.page(project, "series", page)
            yield page.number
        self.progress.done(project, "series")

    def _map_series(self, items: list[Any], summary: FetchPatchesSummary) -> list[Series]:
        mapped: list[Series] = []
        for raw in items:
            try:
                mapped.append(map_series(raw, self.tz))
            except MappingError as exc:
                log.warning("skipping %s", exc)
                summary.skip("malformed series")
        return mapped

    def _read_events(
        self, project: str, cursor: SyncCursor, summary: FetchPatchesSummary
    ) -> _EventPlan:
        plan = _EventPlan(newest=_Latest(self.tz), last_event_id=cursor.last_event_id)
        events: dict[int, dict[str, Any]] = {}
        for page in self.client.events(project, since=cursor.events_since):
            summary.pages += 1
            for event in page.items:
                event_id = event.get("id") if isinstance(event, dict) else None
                if not isinstance(event_id, int) or not isinstance(event.get("date"), str):
                    log.warning("skipping malformed event in %s", page.url)
                    summary.skip("malformed event")
                    continue
                if event_id > cursor.last_event_id:
                    events[event_id] = event
            self.progress.page(project, "events", page)
        self.progress.done(project, "events")
        summary.events_seen += len(events)
        assert plan.newest is not None
        for event_id in sorted(events):
            event = events[event_id]
            plan.newest.see(event["date"])
            plan.last_event_id = max(plan.last_event_id, event_id)
            self._plan_event(event, plan, summary)
        return plan

    @staticmethod
    def _plan_event(event: dict[str, Any], plan: _EventPlan, summary: FetchPatchesSummary) -> None:
        category = event.get("category")
        payload = event.get("payload")
        if not isinstance(payload, dict):
            summary.skip("malformed event")
            return
        patch = payload.get("patch")
        patch_id = patch.get("id") if isinstance(patch, dict) else None
        series = payload.get("series")
        if (
            isinstance(series, dict)
            and isinstance(series.get("id"), int)
            and category in ("series-created", "series-completed", "patch-completed")
        ):
            date = series.get("date")
            plan.series_to_fetch[series["id"]] = date if isinstance(date, str) else None
        cover = payload.get("cover")
        if category == "cover-comment-created" and isinstance(cover, dict):
            msgid = cover.get("msgid")
            if isinstance(msgid, str):
                plan.commented_covers.add(msgid.strip("<>"))
        if not isinstance(patch_id, int):
            return
        if category == "patch-comment-created":
            plan.commented_patches.add(patch_id)
        elif category in ("patch-state-changed", "patch-delegated"):
            plan.state_changes.append((patch_id, event))
        elif category == "patch-created":
            plan.patches_to_fetch.add(patch_id)

    def _mark_discussions_stale(self, plan: _EventPlan) -> None:
        """Patchwork saw a new reply: the thread we hold is out of date."""
        patch_ids = set(plan.commented_patches)
        for msgid in plan.commented_covers:
            for series in self.store.series.series_by_cover_msgid(msgid):
                patch_ids.update(series.patch_ids)
        if patch_ids:
            marked = self.store.discussions.mark_stale(patch_ids)
            log.info("%d discussions have new replies upstream", marked)

    def _apply_state_events(
        self,
        changes: list[tuple[int, dict[str, Any]]],
        fresh: set[int],
        summary: FetchPatchesSummary,
    ) -> None:
        """Apply state and delegate events, oldest first, to patches not re-read this run."""
        ids = {patch_id for patch_id, _ in changes if patch_id not in fresh}
        if not ids:
            return
        known = self.store.patches.get_patches(ids)
        changed: dict[int, Patch] = {}
        to_fetch: set[int] = set()
        for patch_id, event in changes:
            if patch_id in fresh:
                continue
            patch = changed.get(patch_id) or known.get(patch_id)
            if patch is None:
                to_fetch.add(patch_id)
                continue
            payload = event["payload"]
            try:
                if event["category"] == "patch-state-changed":
                    state = payload.get("current_state")
                    if not isinstance(state, str):
                        raise ValueError("no current_state")
                    patch = Patch.model_validate({**patch.model_dump(), "state": state})
                else:
                    patch = patch.model_copy(
                        update={"delegate": _delegate(payload.get("current_delegate"))}
                    )
            except ValueError as exc:
                log.warning("skipping event %s for patch %s: %s", event["id"], patch_id, exc)
                summary.skip("malformed event")
                continue
            changed[patch_id] = patch
        summary += self.store.patches.upsert_patches(changed.values())
        if to_fetch:
            list(self._fetch_patches(sorted(to_fetch), summary))

    def _fetch_patches(self, patch_ids: list[int], summary: FetchPatchesSummary) -> Iterator[Patch]:
        for patch_id in patch_ids:
            raw = self.client.patch(patch_id)
            summary.patches_seen += 1
            if raw is None:
                log.info("patch %s is gone from Patchwork", patch_id)
                summary.skip("patch gone upstream")
                continue
            patches = self._map_page([raw], summary, "patch")
            summary += self.store.patches.upsert_patches(patches)
            yield from patches

    def _refresh_series(
        self,
        project: str,
        wanted: dict[int, datetime | None],
        summary: FetchPatchesSummary,
    ) -> None:
        if not wanted:
            return
        if len(wanted) > SERIES_DETAIL_LIMIT:
            dates = [moment for moment in wanted.values() if moment is not None]
            since = format_server_time(min(dates), self.tz) if dates else None
            seen: set[int] = set()
            for page in self.client.series_list(project, since=since):
                summary.pages += 1
                summary.series_seen += len(page.items)
                series = self._map_series(page.items, summary)
                seen.update(item.id for item in series)
                summary += self.store.series.upsert_series(series)
            wanted = {sid: when for sid, when in wanted.items() if sid not in seen}
        for series_id in sorted(wanted):
            raw = self.client.series(series_id)
            summary.series_seen += 1
            if raw is None:
                summary.skip("series gone upstream")
                continue
            summary += self.store.series.upsert_series(self._map_series([raw], summary))


def _full_crawl_done(cursor: SyncCursor | None, request: datetime | None) -> bool:
    """Whether a full crawl asked for ``request`` already finished (a crawl paused half-way
    has not: it resumes from its page)."""
    if cursor is None or request is None or cursor.crawl is not None:
        return False
    return cursor.full_crawl_for is not None and cursor.full_crawl_for >= request


def _delegate(raw: object) -> Person | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("email"), str):
        raise ValueError("malformed delegate")
    full = " ".join(str(raw[key]) for key in ("first_name", "last_name") if raw.get(key))
    user_id = raw.get("id")
    return Person(
        id=user_id if isinstance(user_id, int) else None,
        name=full or raw.get("username") or None,
        email=raw["email"],
    )

# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchDiscussions: the review thread of every tracked patch that has none yet, or a stale one.

Patches of one series share a thread, so the thread is fetched once, through the series'
cover letter when Patchwork knows one, and every tracked patch found in it is summarized.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from lkml_assistant.models.domain import Patch
from lkml_assistant.repositories.base import Store
from lkml_assistant.services.discussions import DiscussionSummary, ThreadReader
from lkml_assistant.services.summary import recorded_run
from lkml_assistant.sources.http import UpstreamError
from lkml_assistant.sources.lore import LoreClient

log = logging.getLogger(__name__)

JOB = "fetch-discussions"
# Consecutive threads that fail with no answer at all before we stop asking a dead server.
GIVE_UP_AFTER = 3


class FetchDiscussions:
    def __init__(self, store: Store, lore: LoreClient) -> None:
        self.store = store
        self.lore = lore
        self.reader = ThreadReader(store, lore)

    def run(
        self,
        *,
        patch_ids: Sequence[int] = (),
        projects: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> DiscussionSummary:
        summary = DiscussionSummary(job=JOB)
        with recorded_run(self.store, summary, self.lore.http):
            self._run(summary, patch_ids, projects, since, limit)
        return summary

    def _run(
        self,
        summary: DiscussionSummary,
        patch_ids: Sequence[int],
        projects: Sequence[str],
        since: datetime | None,
        limit: int,
    ) -> None:
        if patch_ids:
            found = self.store.patches.get_patches(patch_ids)
            for missing in sorted(set(patch_ids) - set(found)):
                log.warning("patch %s is not in the store; run fetch-patches first", missing)
                summary.skip("unknown patch")
            wanted = [found[pid] for pid in patch_ids if pid in found]
        else:
            ids = self.store.discussions.patches_without_discussion(
                projects=projects, since=since, limit=limit
            )
            wanted = list(self.store.patches.get_patches(ids).values())
        done: set[int] = set()
        failures_in_a_row = 0
        attempted = 0
        for list_name, anchor, patches in self._plan(wanted):
            if all(p.id in done for p in patches):
                continue
            attempted += 1
            try:
                result = self.reader.read(list_name, anchor, summary)
                own = [p for p in patches if p.msgid != anchor]
                if result.thread is None and own:
                    # The cover letter may not have reached lore; the patch itself may have.
                    result = self.reader.read(list_name, own[0].msgid, summary)
            except UpstreamError as exc:
                summary.error(f"{list_name}/{anchor}: {exc}")
                log.error("thread %s on %s: %s", anchor, list_name, exc)
                failures_in_a_row = failures_in_a_row + 1 if exc.status is None else 0
                if failures_in_a_row >= GIVE_UP_AFTER:
                    summary.error(f"giving up: {self.lore.base_url} does not answer")
                    break
                continue
            failures_in_a_row = 0
            done.update(result.patch_ids)
            for patch in patches:
                if patch.id not in done:
                    self.reader.record_missing(patch, list_name, summary)
                    done.add(patch.id)
        if summary.errors:
            summary.status = "failed" if summary.errors >= attempted else "partial"

    def _plan(self, patches: list[Patch]) -> list[tuple[str, str, list[Patch]]]:
        """Group patches by the thread to fetch: (list, anchor Message-ID, patches)."""
        series_ids = {p.series[0].id for p in patches if p.series}
        covers: dict[int, str] = {}
        for series_id in series_ids:
            series = self.store.series.get_series(series_id)
            if series is not None and series.cover_letter is not None:
                covers[series_id] = series.cover_letter.msgid
        groups: dict[tuple[str, str], list[Patch]] = {}
        for patch in patches:
            anchor = patch.msgid
            if patch.series and patch.series[0].id in covers:
                anchor = covers[patch.series[0].id]
            groups.setdefault((self.reader.list_for(patch), anchor), []).append(patch)
        return [(list_name, anchor, members) for (list_name, anchor), members in groups.items()]

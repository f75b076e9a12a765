# SPDX-License-Identifier: GPL-2.0-or-later
"""ReviewIntel: version chains and review status, derived from what the store holds.

No upstream request: it reads the patches, series and discussions the other jobs stored,
links the versions of each series (:mod:`lkml_assistant.intel.versions`), carries trailers
forward across unchanged patches and rolls the status up (:mod:`lkml_assistant.intel.status`),
computes the range-diff of each new version against the previous one (once: stored, and
recomputed only while some patch mail is missing; :mod:`lkml_assistant.services.range_diffs`),
and writes one :class:`SeriesLink` per series (with the series' status, so readers never
recompute it) and one :class:`PatchReview` per patch. As every upsert, an unchanged result
writes nothing, so running it after every fetch is cheap in writes.

It works over a window of recent patches (``since``): chains are linked among the series
of that window, which is what the store holds in the first place (``backfill_days``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from lkml_assistant.intel.patchid import patch_id as git_patch_id
from lkml_assistant.intel.queue import addressed, waiting_on
from lkml_assistant.intel.status import (
    PatchEvidence,
    SeriesEvidence,
    SeriesStatus,
    chain_status,
    series_status,
)
from lkml_assistant.intel.subjects import Submitter
from lkml_assistant.intel.version_candidates import candidate_from_patchwork
from lkml_assistant.intel.versions import link_versions
from lkml_assistant.models.domain import Patch, Series
from lkml_assistant.models.records import (
    CarriedReview,
    PatchDiscussion,
    PatchReview,
    SeriesLink,
)
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store
from lkml_assistant.services.fetch_patches import PAUSE_MARGIN
from lkml_assistant.services.mail_index import MailIndex
from lkml_assistant.services.range_diffs import range_diffs_for_chain
from lkml_assistant.services.summary import JobSummary, recorded_run

log = logging.getLogger(__name__)

JOB = "review-intel"
PAGE = 500


class ReviewIntelSummary(JobSummary):
    job: str = JOB
    series_seen: int = 0
    chains: int = 0
    linked: int = 0
    resends: int = 0
    reviews_written: int = 0
    range_diffs_written: int = 0
    more: bool = Field(False, description="Out of time: projects were left to the next run.")

    line_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("series_seen", "series"),
        ("chains", "chains"),
        ("reviews_written", "reviews changed"),
        ("range_diffs_written", "range-diffs"),
    )


class ReviewIntel:
    def __init__(self, store: Store, *, time_left: Callable[[], float] | None = None) -> None:
        self.store = store
        self.time_left = time_left

    def run(self, *, projects: Sequence[str], since: datetime | None) -> ReviewIntelSummary:
        summary = ReviewIntelSummary()
        with recorded_run(self.store, summary):
            for number, project in enumerate(projects):
                if self.time_left is not None and self.time_left() < PAUSE_MARGIN:
                    # As a crawl pauses: the projects left are done by the next run (on AWS
                    # the project's unit sends itself again, see services/jobs.py).
                    log.info("out of time: %d projects left", len(projects) - number)
                    summary.more = True
                    summary.out_of_time(projects[number:])
                    break
                self._project(project, since, summary)
        return summary

    # -- one project -------------------------------------------------------------------------

    def _project(self, project: str, since: datetime | None, summary: ReviewIntelSummary) -> None:
        patches = self._patches(project, since)
        by_series: dict[int, list[Patch]] = defaultdict(list)
        for patch in patches:
            if patch.series:
                by_series[patch.series[0].id].append(patch)
        stored = self.store.series.get_series_many(by_series)
        series: dict[int, Series] = {sid: stored[sid] for sid in sorted(stored)}
        for series_id in sorted(set(by_series) - set(stored)):
            log.info("series %s of %s is not stored yet; skipped", series_id, project)
            summary.skip("series not stored")
        summary.series_seen += len(series)
        mail = MailIndex(self.store)
        discussions = self.store.discussions.get_discussions(p.id for p in patches)
        hashes: dict[str, str | None] = {}
        bodies: dict[str, str] = {}
        candidates = []
        for series_id, record in series.items():
            members = by_series[series_id]
            cover = mail.message(record.cover_letter.msgid) if record.cover_letter else None
            for patch in members:
                body = mail.body(patch.msgid, discussions.get(patch.id))
                hashes[patch.msgid] = git_patch_id(body) if body else None
                bodies[patch.msgid] = body
            # Patch bodies too: a series without a cover speaks of its versions in patch 1's
            # notes, and the files touched tell a retitled version.
            candidates.append(
                candidate_from_patchwork(
                    record, members, cover=cover, patch_ids=hashes, patch_bodies=bodies
                )
            )
        links = link_versions(candidates)
        evidence = {
            str(sid): self._evidence(series[sid], by_series[sid], discussions, hashes)
            for sid in series
        }
        statuses: dict[int, SeriesStatus] = {}
        records: list[SeriesLink] = []
        in_chain: set[str] = set()
        for chain in links.chains:
            ids = chain.series_ids
            in_chain.update(ids)
            summary.chains += 1
            summary.linked += len(ids)
            for status in chain_status(chain, evidence):
                statuses[int(status.series_id)] = status
            first = int(ids[0])
            for position, link in enumerate(chain.links):
                records.append(
                    SeriesLink(
                        series_id=int(link.series_id),
                        project=project,
                        chain_id=first,
                        position=position,
                        version=link.version,
                        previous_id=int(ids[position - 1]) if position else None,
                        superseded_by=int(ids[position + 1]) if position + 1 < len(ids) else None,
                        rule=str(link.rule) if link.rule else None,
                        status=str(statuses[int(link.series_id)].status),
                    )
                )
        by_id = {r.series_id: r for r in records}
        for sid, record in series.items():
            key = str(sid)
            if key in in_chain:
                continue
            original = links.resend_of.get(key)
            later = links.superseded_by.get(key)
            statuses[sid] = series_status(evidence[key], superseded_by=later)
            if original is not None:
                summary.resends += 1
                base = by_id.get(int(original))
                records.append(
                    SeriesLink(
                        series_id=sid,
                        project=project,
                        chain_id=base.chain_id if base else int(original),
                        position=base.position if base else 0,
                        version=record.version,
                        previous_id=base.previous_id if base else None,
                        superseded_by=int(later) if later else None,
                        resend_of=int(original),
                        status=str(statuses[sid].status),
                    )
                )
            else:
                records.append(
                    SeriesLink(
                        series_id=sid,
                        project=project,
                        chain_id=sid,
                        position=0,
                        version=record.version,
                        superseded_by=int(later) if later else None,
                        status=str(statuses[sid].status),
                    )
                )
        summary += self.store.reviews.upsert_links(records)
        self._range_diffs(records, series, by_series, mail, summary)
        lists = tuple(p.list_email for p in self.store.projects.list_projects() if p.list_email)
        asked = _Asked(mail, discussions, lists)
        reviews = self._reviews(project, by_series, statuses, hashes, asked)
        result = self.store.reviews.upsert_reviews(reviews)
        summary.reviews_written += result.written
        summary += result

    def _range_diffs(
        self,
        links: list[SeriesLink],
        series: dict[int, Series],
        by_series: dict[int, list[Patch]],
        mail: MailIndex,
        summary: ReviewIntelSummary,
    ) -> None:
        """What changed between consecutive versions: computed once, when a version arrives."""
        # Every patch mail and cover letter this needs was read above (patch-ids, candidates):
        # look them up in what was read, with no further request to the store.
        diffs, done = range_diffs_for_chain(self.store, links, series, by_series, mail.by_id.get)
        summary.unchanged += done
        if diffs:
            written = self.store.range_diffs.upsert_range_diffs(diffs)
            summary.range_diffs_written += written.written
            summary += written

    def _patches(self, project: str, since: datetime | None) -> list[Patch]:
        query = PatchQuery(project=project, since=since)
        out: list[Patch] = []
        after: PageMark | None = None
        while True:
            page = self.store.patches.page_patches(query, after=after, limit=PAGE)
            out.extend(page)
            if len(page) < PAGE:
                return out
            after = PageMark(date=page[-1].date, id=page[-1].id)

    @staticmethod
    def _evidence(
        series: Series,
        members: list[Patch],
        discussions: dict[int, PatchDiscussion],
        hashes: dict[str, str | None],
    ) -> SeriesEvidence:
        order = {pid: n for n, pid in enumerate(series.patch_ids)}
        ordered = sorted(members, key=lambda p: (order.get(p.id, len(order)), p.date))
        evidence = []
        for patch in ordered:
            author = Submitter.of(patch.submitter.name or "", patch.submitter.email)
            discussion = discussions.get(patch.id)
            if discussion is not None:
                evidence.append(
                    PatchEvidence.from_summary(
                        discussion.summary,
                        author,
                        patch_id=hashes.get(patch.msgid),
                        patchwork_state=patch.state,
                        committed=bool(patch.commit_ref),
                    )
                )
            else:
                evidence.append(
                    PatchEvidence(
                        message_id=patch.msgid,
                        author=author,
                        patch_id=hashes.get(patch.msgid),
                        patchwork_state=patch.state,
                        committed=bool(patch.commit_ref),
                    )
                )
        return SeriesEvidence(
            series_id=str(series.id), version=series.version, patches=tuple(evidence)
        )

    @staticmethod
    def _reviews(
        project: str,
        by_series: dict[int, list[Patch]],
        statuses: dict[int, SeriesStatus],
        hashes: dict[str, str | None],
        asked: _Asked,
    ) -> list[PatchReview]:
        out: list[PatchReview] = []
        for sid, status in statuses.items():
            patches = {p.msgid: p for p in by_series[sid]}
            for patch_status in status.patches:
                patch = patches.get(patch_status.message_id)
                if patch is None:
                    continue
                carried = tuple(
                    CarriedReview(
                        trailer=c.trailer,
                        from_series=int(c.from_series),
                        from_version=c.from_version,
                    )
                    for c in patch_status.carried
                    if c.from_series.isdigit()
                )
                out.append(
                    PatchReview(
                        patch_id=patch.id,
                        project=project,
                        series_id=sid,
                        submitter_email=patch.submitter.email.casefold(),
                        date=patch.date,
                        status=str(patch_status.status),
                        reviewers=patch_status.reviewers,
                        given=patch_status.given,
                        carried=carried,
                        patch_hash=hashes.get(patch.msgid),
                        applied=patch_status.applied,
                    )
                )
                out[-1] = asked.fill(out[-1], patch)
        return out


class _Asked:
    """Who each patch mail asked, and who of them it still waits on (intel/queue.py)."""

    def __init__(
        self, mail: MailIndex, discussions: dict[int, PatchDiscussion], lists: tuple[str, ...]
    ) -> None:
        self.mail = mail
        self.discussions = discussions
        self.lists = lists

    def fill(self, review: PatchReview, patch: Patch) -> PatchReview:
        # The patch mails were read with their threads for the patch-ids: no new request.
        message = self.mail.by_id.get(patch.msgid)
        if message is None:
            return review
        asked = addressed(
            message.to, message.cc, author=patch.submitter.email, known_lists=self.lists
        )
        discussion = self.discussions.get(patch.id)
        answered = set(review.reviewers)
        if discussion is not None:
            summary = discussion.summary
            answered.update(summary.participants)
            answered.update(t.given_by_email for t in (*summary.trailers, *summary.naks))
        waiting = waiting_on(asked, answered=answered, status=review.status)
        return review.model_copy(update={"addressed": asked, "waiting_on": waiting})

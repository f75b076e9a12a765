# SPDX-License-Identifier: GPL-2.0-or-later
"""The questions the REST API asks, answered from a store.

Routes hand the request's parameters to :class:`QueryService`, which checks them
(:mod:`.validation`), asks the repositories (interfaces only) and maps what they hold to the
API shapes (:mod:`.mapping`). Bad input raises :class:`~.errors.InvalidRequestError`, unknown
ids :class:`~.errors.ResourceNotFoundError`.

Nothing here decides a review status: review-intel stores each patch's and each series', and
these answers read them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from lkml_assistant.intel.status import rollup
from lkml_assistant.models.api import (
    ChangeOut,
    ChangesOut,
    DiscussionOut,
    HealthOut,
    PatchDetail,
    PatchItem,
    PatchPage,
    PersonDetail,
    PersonReviewsOut,
    ProjectList,
    QueueOut,
    RangeDiffOut,
    ReviewGivenOut,
    SeriesDetail,
    StatsOut,
    VersionOut,
    VersionsOut,
)
from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import SeriesLink
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store
from lkml_assistant.repositories.encoding import Clock, utc_now
from lkml_assistant.services.queries.cursors import decode_cursor, encode_cursor
from lkml_assistant.services.queries.errors import ResourceNotFoundError, invalid
from lkml_assistant.services.queries.health import expectations, job_health
from lkml_assistant.services.queries.mapping import (
    message_tree,
    patch_detail,
    patch_item,
    person_out,
    project_out,
    run_out,
    series_detail,
    trailer_out,
)
from lkml_assistant.services.queries.queue import queue_items
from lkml_assistant.services.queries.rangediff import range_diff_out
from lkml_assistant.services.queries.validation import (
    DEFAULT_LIMIT,
    check_changes_request,
    check_email,
    check_id,
    check_limit,
)

# A person's patches waiting on reviewers.
PENDING_STATES = (ReviewStatus.IN_DISCUSSION, ReviewStatus.UNREVIEWED)


class QueryService:
    """Answers the API's questions from a store; one instance serves every request."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    def projects(self) -> ProjectList:
        return ProjectList(items=[project_out(p) for p in self.store.projects.list_projects()])

    def patches(
        self,
        query: PatchQuery,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> PatchPage:
        """One page of patches, newest first, and the cursor of the next page if any."""
        check_limit(limit)
        after = decode_cursor(cursor, query) if cursor is not None else None
        # One more than asked says whether a next page exists, so the last page has no cursor.
        found = self.store.patches.page_patches_bounded(query, after=after, limit=limit + 1)
        page = found.patches[:limit]
        next_cursor = None
        if len(found.patches) > limit:
            last = page[-1]
            next_cursor = encode_cursor(PageMark(date=last.date, id=last.id), query)
        elif found.scanned_to is not None:
            # The store stopped reading before the page was full: a shorter page, and the
            # next one starts where it stopped.
            next_cursor = encode_cursor(found.scanned_to, query)
        return PatchPage(items=self._items(page), next_cursor=next_cursor)

    def _items(self, patches: Sequence[Patch]) -> list[PatchItem]:
        counts = self.store.discussions.get_review_counts(p.id for p in patches)
        reviews = self.store.reviews.get_reviews(p.id for p in patches)
        return [patch_item(p, counts.get(p.id), reviews.get(p.id)) for p in patches]

    def person_patches(
        self, email: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> PatchPage:
        address = check_email(email, "path.email")
        return self.patches(PatchQuery(submitter=address), limit=limit, cursor=cursor)

    def patch(self, patch_id: int) -> PatchDetail:
        check_id(patch_id, "path.patch_id")
        patch = self.store.patches.get_patch(patch_id)
        if patch is None:
            raise ResourceNotFoundError(f"no patch {patch_id}")
        discussion = self.store.discussions.get_discussion(patch_id)
        review = self.store.reviews.get_reviews([patch_id]).get(patch_id)
        return patch_detail(patch, discussion, review)

    def discussion(self, patch_id: int) -> DiscussionOut:
        check_id(patch_id, "path.patch_id")
        discussion = self.store.discussions.get_discussion(patch_id)
        if discussion is None:
            if self.store.patches.get_patch(patch_id) is None:
                raise ResourceNotFoundError(f"no patch {patch_id}")
            raise ResourceNotFoundError(f"no discussion stored for patch {patch_id} yet")
        if discussion.thread_root is None:
            raise ResourceNotFoundError(f"lore has no thread for patch {patch_id}")
        messages = self.store.discussions.thread_messages(discussion.thread_root)
        if not messages:
            raise ResourceNotFoundError(f"the thread of patch {patch_id} is not stored")
        ids = {m.message_id for m in messages}
        root = discussion.thread_root
        if root not in ids:
            root = discussion.message_id if discussion.message_id in ids else messages[0].message_id
        return DiscussionOut(
            patch_id=patch_id,
            patch_message_id=discussion.message_id,
            thread_root=discussion.thread_root,
            list_name=discussion.list_name,
            message_count=len(messages),
            thread=message_tree(messages, root),
        )

    def series(self, series_id: int) -> SeriesDetail:
        check_id(series_id, "path.series_id")
        series = self.store.series.get_series(series_id)
        if series is None:
            raise ResourceNotFoundError(f"no series {series_id}")
        patches = self.store.patches.get_patches(series.patch_ids)
        reviews = self.store.reviews.get_reviews(series.patch_ids)
        return series_detail(series, patches, reviews, self._cover_body(series.patch_ids))

    def _cover_body(self, patch_ids: Sequence[int]) -> str | None:
        """The cover letter's text: the root of its patches' thread, when that is stored."""
        for patch_id in patch_ids[:1]:
            discussion = self.store.discussions.get_discussion(patch_id)
            if discussion is None or discussion.thread_root is None:
                return None
            for message in self.store.discussions.thread_messages(discussion.thread_root):
                if message.message_id == discussion.thread_root and not message.has_patch:
                    return message.body
        return None

    def versions(self, series_id: int) -> VersionsOut:
        """Every version of a series, oldest first, with the status review-intel gave each."""
        check_id(series_id, "path.series_id")
        link = self.store.reviews.get_links([series_id]).get(series_id)
        chain = self.store.reviews.chain(link.chain_id) if link is not None else []
        if not chain:
            series = self.store.series.get_series(series_id)
            if series is None:
                raise ResourceNotFoundError(f"no series {series_id}")
            # Not linked yet (review-intel has not run on it): a chain of one.
            chain = [
                SeriesLink(
                    series_id=series_id,
                    project=series.project,
                    chain_id=series_id,
                    position=0,
                    version=series.version,
                )
            ]
        chain.sort(key=lambda item: (item.position, item.resend_of is not None, item.series_id))
        out: list[VersionOut] = []
        every_series = self.store.series.get_series_many(item.series_id for item in chain)
        reviews = self.store.reviews.get_reviews(
            pid for series in every_series.values() for pid in series.patch_ids
        )
        for item in chain:
            series = every_series.get(item.series_id)
            patch_ids = series.patch_ids if series else ()
            statuses = [
                ReviewStatus(reviews[p].status) if p in reviews else ReviewStatus.UNREVIEWED
                for p in patch_ids
            ]
            if item.status is not None:
                status = ReviewStatus(item.status)
            else:
                # A link stored before series statuses were: the rule over the stored patches.
                status = rollup(statuses, superseded=item.superseded_by is not None)
            out.append(
                VersionOut(
                    series_id=item.series_id,
                    version=item.version,
                    name=series.name if series else None,
                    date=series.date if series else None,
                    submitter=person_out(series.submitter) if series else None,
                    rule=item.rule,
                    superseded_by=item.superseded_by,
                    resend_of=item.resend_of,
                    status=status,
                    patch_count=len(patch_ids),
                    status_counts=dict(sorted(Counter(statuses).items())),
                )
            )
        originals = [v for v in out if v.resend_of is None] or out
        return VersionsOut(
            series_id=series_id,
            chain_id=chain[0].chain_id,
            latest=originals[-1].series_id,
            versions=out,
        )

    def range_diff(self, series_id: int, against: int | None = None) -> RangeDiffOut:
        """What changed since the previous version (or ``against``, an earlier one)."""
        return range_diff_out(self.store, series_id, against)

    def changes(self, updated_since: str | None, *, limit: int = 500) -> ChangesOut:
        """What changed in the store after a cursor (None: a cursor at the newest change)."""
        check_changes_request(updated_since, limit)
        if updated_since is None:
            return ChangesOut(items=[], cursor=self.store.changes.latest_cursor(), more=False)
        try:
            page = self.store.changes.changes_since(updated_since, limit=limit)
        except ValueError as exc:
            raise invalid("query.updated_since", str(exc), "cursor_invalid") from exc
        return ChangesOut(
            items=[
                ChangeOut(kind=c.kind, key=c.key, changed_at=c.changed_at) for c in page.changes
            ],
            cursor=page.cursor,
            more=page.more,
        )

    def queue(self, email: str, *, limit: int = DEFAULT_LIMIT) -> QueueOut:
        """A reviewer's queue: open patches addressed to them that they have not answered."""
        address = check_email(email, "path.email")
        check_limit(limit)
        reviews = self.store.reviews.waiting_on(address.casefold(), limit=limit)
        patches = self.store.patches.get_patches(r.patch_id for r in reviews)
        items = {item.id: item for item in self._items(list(patches.values()))}
        now = self.clock()
        return QueueOut(email=address, now=now, items=queue_items(address, reviews, items, now))

    def person_reviews(self, email: str, *, limit: int = DEFAULT_LIMIT) -> PersonReviewsOut:
        """A person's patches still waiting on reviewers, and the reviews they gave."""
        address = check_email(email, "path.email")
        check_limit(limit)
        pending = self.store.patches.page_patches(
            PatchQuery(submitter=address, review_states=PENDING_STATES), limit=limit
        )
        given_reviews = self.store.reviews.reviews_given_by(address.casefold(), limit=limit)
        given = self.store.patches.get_patches(r.patch_id for r in given_reviews)
        return PersonReviewsOut(
            email=address,
            pending=self._items(pending),
            given=self._items([given[r.patch_id] for r in given_reviews if r.patch_id in given]),
        )

    def person(
        self, email: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> PersonDetail:
        """What a person submitted (paged), what of it waits on reviewers, the reviews they gave."""
        address = check_email(email, "path.email")
        check_limit(limit)
        submitted = self.patches(PatchQuery(submitter=address), limit=limit, cursor=cursor)
        pending = self.store.patches.page_patches(
            PatchQuery(submitter=address, review_states=PENDING_STATES), limit=limit
        )
        key = address.casefold()
        given_reviews = self.store.reviews.reviews_given_by(key, limit=limit)
        found = self.store.patches.get_patches(r.patch_id for r in given_reviews)
        reviewed = [found[r.patch_id] for r in given_reviews if r.patch_id in found]
        items = {item.id: item for item in self._items(reviewed)}
        given = []
        for review in given_reviews:
            if review.patch_id not in items:
                continue
            trailers = [
                *review.given,
                *(c.trailer for c in review.carried),
            ]
            mine = [t for t in trailers if (t.given_by_email or t.email).casefold() == key]
            given.append(
                ReviewGivenOut(
                    patch=items[review.patch_id], trailers=[trailer_out(t) for t in mine]
                )
            )
        name = next(
            (i.submitter.name for i in submitted.items if i.submitter.name),
            next((t.given_by_name for g in given for t in g.trailers if t.given_by_name), None),
        )
        return PersonDetail(
            email=address,
            name=name,
            submitted=submitted.items,
            next_cursor=submitted.next_cursor,
            pending=self._items(pending),
            given=given,
        )

    def stats(self) -> StatsOut:
        counts = self.store.stats.counts()
        by_project: dict[str, int] = defaultdict(int)
        by_state: dict[str, int] = defaultdict(int)
        for (project, state), n in counts.patches_by_project_state.items():
            by_project[project] += n
            by_state[state] += n
        return StatsOut(
            projects=counts.projects,
            patches=sum(by_project.values()),
            patches_by_project=dict(sorted(by_project.items())),
            patches_by_state=dict(sorted(by_state.items())),
            series=counts.series,
            messages=counts.messages,
            discussions=counts.discussions,
            last_runs={job: run_out(run) for job, run in self.store.runs.last_runs().items()},
        )

    def health(self) -> HealthOut:
        """Store reachability, and whether each scheduled job succeeds as often as planned."""
        now = self.clock()
        try:
            reachable = self.store.stats.ping()
            successes = self.store.runs.last_successes()
            last = self.store.runs.last_runs()
        except Exception:  # any failure of the store means "not reachable", never a 500
            return HealthOut(status="unavailable", store="unreachable")
        if not reachable:
            return HealthOut(status="unavailable", store="unreachable")
        jobs = {}
        reasons = []
        for job, expected in sorted(expectations(now).items()):
            jobs[job], reason = job_health(expected, successes.get(job), last.get(job), now)
            if reason is not None:
                reasons.append(reason)
        return HealthOut(
            status="degraded" if reasons else "ok", store="reachable", jobs=jobs, reasons=reasons
        )

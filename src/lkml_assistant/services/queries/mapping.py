# SPDX-License-Identifier: GPL-2.0-or-later
"""From what the store holds to what the API answers.

Domain objects and stored records map explicitly to the response shapes of
:mod:`lkml_assistant.models.api`, one function per shape, so a storage detail (a fingerprint,
a JSON column) can only reach a client by someone writing it here.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping

from lkml_assistant.models.api import (
    CarriedReviewOut,
    CoverLetterOut,
    MessageOut,
    PatchDetail,
    PatchItem,
    PersonOut,
    ProjectOut,
    ReviewBrief,
    ReviewStatusOut,
    ReviewSummaryOut,
    RunOut,
    SeriesDetail,
    SeriesPatchOut,
    SeriesRefOut,
    TrailerOut,
)
from lkml_assistant.models.discussion import Trailer
from lkml_assistant.models.domain import Patch, Person, Project, Series
from lkml_assistant.models.records import (
    PatchDiscussion,
    PatchReview,
    ReviewCounts,
    RunRecord,
    StoredMessage,
)
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.services.queries.reasons import status_reason


def person_out(person: Person) -> PersonOut:
    return PersonOut(name=person.name, email=person.email)


def project_out(project: Project) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        link_name=project.link_name,
        name=project.name,
        list_email=project.list_email,
        list_archive_url=project.list_archive_url,
    )


def _series_refs(patch: Patch) -> list[SeriesRefOut]:
    return [
        SeriesRefOut(id=s.id, name=s.name, version=s.version, date=s.date) for s in patch.series
    ]


def trailer_out(trailer: Trailer) -> TrailerOut:
    return TrailerOut(
        kind=str(trailer.kind),
        name=trailer.name,
        email=trailer.email,
        given_by_name=trailer.given_by_name,
        given_by_email=trailer.given_by_email,
        message_id=trailer.message_id,
        date=trailer.date,
        bare_statement=trailer.bare_statement,
    )


def _review_summary(discussion: PatchDiscussion) -> ReviewSummaryOut:
    summary = discussion.summary
    return ReviewSummaryOut(
        thread_root=discussion.thread_root,
        list_name=discussion.list_name,
        reply_count=summary.reply_count,
        series_reply_count=summary.series_reply_count,
        participants=list(summary.participants),
        last_activity=summary.last_activity,
        trailers=[trailer_out(t) for t in summary.trailers],
        naks=[trailer_out(t) for t in summary.naks],
        carried=[trailer_out(t) for t in summary.carried],
        fetched_at=discussion.fetched_at,
    )


def _review_status(patch: Patch, review: PatchReview) -> ReviewStatusOut:
    return ReviewStatusOut(
        status=ReviewStatus(review.status),
        reason=status_reason(patch, review),
        reviewers=list(review.reviewers),
        given=[trailer_out(t) for t in review.given],
        carried=[
            CarriedReviewOut(
                trailer=trailer_out(c.trailer),
                from_series=c.from_series,
                from_version=c.from_version,
            )
            for c in review.carried
        ],
        patch_hash=review.patch_hash,
    )


def patch_item(
    patch: Patch, counts: ReviewCounts | None, review: PatchReview | None = None
) -> PatchItem:
    return PatchItem(
        id=patch.id,
        project=patch.project,
        name=patch.name,
        state=patch.state,
        archived=patch.archived,
        date=patch.date,
        msgid=patch.msgid,
        submitter=person_out(patch.submitter),
        delegate=person_out(patch.delegate) if patch.delegate else None,
        series=_series_refs(patch),
        web_url=patch.web_url,
        list_archive_url=patch.list_archive_url,
        review=ReviewBrief(**counts.model_dump()) if counts else None,
        # No review record yet: review-intel has not seen the patch, so nobody reviewed it.
        review_status=ReviewStatus(review.status) if review else ReviewStatus.UNREVIEWED,
    )


def patch_detail(
    patch: Patch, discussion: PatchDiscussion | None, review: PatchReview | None
) -> PatchDetail:
    return PatchDetail(
        id=patch.id,
        project=patch.project,
        name=patch.name,
        state=patch.state,
        archived=patch.archived,
        date=patch.date,
        msgid=patch.msgid,
        hash=patch.hash,
        submitter=person_out(patch.submitter),
        delegate=person_out(patch.delegate) if patch.delegate else None,
        series=_series_refs(patch),
        commit_ref=patch.commit_ref,
        pull_url=patch.pull_url,
        web_url=patch.web_url,
        list_archive_url=patch.list_archive_url,
        review=_review_summary(discussion) if discussion else None,
        status=_review_status(patch, review) if review else None,
    )


def series_detail(
    series: Series,
    patches: Mapping[int, Patch],
    reviews: Mapping[int, PatchReview],
    cover_body: str | None = None,
) -> SeriesDetail:
    cover = series.cover_letter
    return SeriesDetail(
        id=series.id,
        project=series.project,
        name=series.name,
        version=series.version,
        date=series.date,
        total=series.total,
        received_total=series.received_total,
        received_all=series.received_all,
        submitter=person_out(series.submitter),
        cover_letter=CoverLetterOut(
            id=cover.id,
            msgid=cover.msgid,
            name=cover.name,
            date=cover.date,
            list_archive_url=cover.list_archive_url,
            body=cover_body,
        )
        if cover
        else None,
        patches=[
            SeriesPatchOut(
                id=p.id,
                name=p.name,
                state=p.state,
                review_status=ReviewStatus(reviews[p.id].status)
                if p.id in reviews
                else ReviewStatus.UNREVIEWED,
            )
            for _, p in sorted(patches.items())
        ],
        web_url=series.web_url,
    )


def run_out(run: RunRecord) -> RunOut:
    return RunOut(
        job=run.job,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        summary=run.summary,
    )


def message_tree(messages: list[StoredMessage], root_id: str) -> MessageOut:
    """Nest a thread's messages under its root, breadth first, oldest reply first.

    The store links every message to a parent inside its thread; a parent that is missing
    (the message was re-filed under another thread since) or a cycle hangs under the root,
    as the thread reader does, so every stored message appears exactly once.
    """
    by_id = {m.message_id: m for m in messages}
    replies: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        if message.message_id == root_id:
            continue
        parent = message.parent_id
        if parent is None or parent not in by_id or parent == message.message_id:
            parent = root_id
        replies[parent].append(message.message_id)
    depth = {root_id: 0}
    parent_of: dict[str, str | None] = {root_id: None}
    children: dict[str, list[str]] = defaultdict(list)
    order: list[str] = []
    queue = deque([root_id])

    def walk() -> None:
        while queue:
            current = queue.popleft()
            order.append(current)
            for child in replies[current]:
                if child not in depth:
                    depth[child] = depth[current] + 1
                    parent_of[child] = current
                    children[current].append(child)
                    queue.append(child)

    walk()
    for message in messages:
        if message.message_id not in depth:
            depth[message.message_id] = 1
            parent_of[message.message_id] = root_id
            children[root_id].append(message.message_id)
            queue.append(message.message_id)
            walk()
    built: dict[str, MessageOut] = {}
    for message_id in reversed(order):
        message = by_id[message_id]
        built[message_id] = MessageOut(
            message_id=message_id,
            subject=message.subject,
            author=PersonOut(name=message.author_name or None, email=message.author_email),
            date=message.date,
            parent=parent_of[message_id],
            depth=depth[message_id],
            link=message.link,
            has_patch=message.has_patch,
            trailers=[trailer_out(t) for t in message.trailers],
            body=message.body,
            quoted_lines=list(message.quoted_lines),
            children=[built[child] for child in children[message_id]],
        )
    return built[root_id]

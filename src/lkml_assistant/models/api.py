# SPDX-License-Identifier: GPL-2.0-or-later
"""Response shapes of the REST API.

These are a contract with API clients, mapped explicitly from the domain models by
:mod:`lkml_assistant.services.queries.mapping`; storage details (fingerprints, JSON columns, stale
flags) never reach them. Dates are ISO 8601 in UTC, Message-IDs have no angle brackets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.models.rangediff import PairVerdict
from lkml_assistant.models.review import ReviewStatus


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    loc: str = Field(description="Where the problem is, e.g. query.limit or path.patch_id.")
    msg: str
    type: str


class ErrorOut(_Out):
    error: str
    details: list[ErrorDetail] = Field(default_factory=list)


class PersonOut(_Out):
    name: str | None = None
    email: str


class ProjectOut(_Out):
    id: int
    link_name: str
    name: str
    list_email: str
    list_archive_url: str


class ProjectList(_Out):
    items: list[ProjectOut]


class SeriesRefOut(_Out):
    id: int
    name: str | None
    version: int
    date: datetime


class ReviewBrief(_Out):
    """The review state at a glance, as shown in lists."""

    reply_count: int
    series_reply_count: int
    participant_count: int
    reviewed_by: int = Field(description="Reviewed-by trailers given in replies.")
    acked_by: int
    tested_by: int
    naks: int
    last_activity: datetime | None


class PatchItem(_Out):
    id: int
    project: str
    name: str
    state: str
    archived: bool
    date: datetime = Field(description="Submission date (the mail's Date), UTC.")
    msgid: str
    submitter: PersonOut
    delegate: PersonOut | None
    series: list[SeriesRefOut]
    web_url: str | None
    list_archive_url: str | None
    review: ReviewBrief | None = Field(description="None until the thread was read from lore.")
    review_status: ReviewStatus = Field(
        ReviewStatus.UNREVIEWED, description="Across the versions of the series."
    )


class PatchPage(_Out):
    items: list[PatchItem]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= with the same filters for the next page; null at the end."
    )


class TrailerOut(_Out):
    kind: str = Field(description="reviewed-by, acked-by, tested-by, reported-by, …")
    name: str
    email: str
    given_by_name: str
    given_by_email: str
    message_id: str
    date: datetime | None
    bare_statement: bool = Field(description="A bare 'NAK' line rather than a trailer.")


class ReviewSummaryOut(_Out):
    thread_root: str | None = Field(description="None: lore has no thread for this patch.")
    list_name: str
    reply_count: int
    series_reply_count: int
    participants: list[str]
    last_activity: datetime | None
    trailers: list[TrailerOut] = Field(description="Given in replies (NAKs are in naks).")
    naks: list[TrailerOut]
    carried: list[TrailerOut] = Field(description="Trailers the patch carried when posted.")
    fetched_at: datetime


class CarriedReviewOut(_Out):
    trailer: TrailerOut
    from_series: int
    from_version: int


class AppliedOut(_Out):
    tree: str | None = Field(description="The tree or branch the reply named, if any.")
    commit: str | None = Field(description="The commit the patch became, if the reply named it.")
    by_name: str
    by_email: str
    message_id: str = Field(description="The reply that said so.")
    date: datetime | None


class ReviewStatusOut(_Out):
    status: ReviewStatus
    reason: str = Field(
        description="Why: the Patchwork state, commit, later version, NAK, review trailers "
        "or replies the status rests on."
    )
    reviewers: list[str] = Field(description="Who gave a review trailer or NAK, carried too.")
    given: list[TrailerOut] = Field(description="Review trailers and NAKs given to this patch.")
    carried: list[CarriedReviewOut] = Field(
        description="Trailers of an earlier version of the same patch (same git patch-id)."
    )
    patch_hash: str | None = Field(description="git patch-id --stable of the diff.")
    applied: AppliedOut | None = Field(
        None,
        description="accepted by an 'applied' reply (\"Applied to net-next, thanks!\", b4's "
        "thank-you, patchwork-bot) from someone other than the author: where and by whom.",
    )


class PatchDetail(_Out):
    id: int
    project: str
    name: str
    state: str
    archived: bool
    date: datetime
    msgid: str
    hash: str | None
    submitter: PersonOut
    delegate: PersonOut | None
    series: list[SeriesRefOut]
    commit_ref: str | None
    pull_url: str | None
    web_url: str | None
    list_archive_url: str | None
    review: ReviewSummaryOut | None
    status: ReviewStatusOut | None = Field(
        description="Review status across versions; None until review-intel ran on it."
    )


class MessageOut(_Out):
    message_id: str
    subject: str
    author: PersonOut
    date: datetime | None
    parent: str | None
    depth: int = Field(description="0 for the thread root.")
    link: str = Field(description="How the parent was found: root, in-reply-to, references, …")
    has_patch: bool
    trailers: list[TrailerOut] = Field(description="Trailers given in this mail.")
    body: str = Field(description="Decoded text, signature and list footer cut.")
    quoted_lines: list[int] = Field(
        description="0-based numbers of the lines of body (split on newlines) that quote "
        "an earlier mail."
    )
    children: list[MessageOut]


class DiscussionOut(_Out):
    patch_id: int
    patch_message_id: str
    thread_root: str
    list_name: str
    message_count: int
    thread: MessageOut = Field(description="The root message; replies nest in children.")


class SeriesPatchOut(_Out):
    id: int
    name: str
    state: str
    review_status: ReviewStatus = Field(
        ReviewStatus.UNREVIEWED, description="Across the versions of the series."
    )


class CoverLetterOut(_Out):
    id: int
    msgid: str
    name: str | None
    date: datetime | None
    list_archive_url: str | None
    body: str | None = Field(
        None, description="The cover letter's text, when its thread is stored."
    )


class SeriesDetail(_Out):
    id: int
    project: str
    name: str | None
    version: int
    date: datetime
    total: int
    received_total: int
    received_all: bool
    submitter: PersonOut
    cover_letter: CoverLetterOut | None
    patches: list[SeriesPatchOut] = Field(description="The series' patches we hold, by id.")
    web_url: str | None


class RunOut(_Out):
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: str = Field(description="running, ok, partial or failed")
    summary: dict[str, Any]


class StatsOut(_Out):
    projects: int
    patches: int
    patches_by_project: dict[str, int]
    patches_by_state: dict[str, int]
    series: int
    messages: int
    discussions: int
    last_runs: dict[str, RunOut] = Field(description="The newest run of each job.")


class JobHealthOut(_Out):
    status: str = Field(
        description="ok; late (last success older than twice its schedule); never (tried, "
        "never succeeded); not yet (its first run has not ended)"
    )
    last_success: datetime | None = Field(description="When its last successful run ended.")
    age_seconds: float | None = Field(description="How long ago that was.")
    schedule: str = Field(description="The recipe that runs it most often, and its cron.")
    late_after_seconds: float = Field(description="Twice that recipe's period.")


class HealthOut(_Out):
    status: str = Field(
        description="ok; degraded when a scheduled job is late (reasons say which); "
        "unavailable when the store does not answer."
    )
    store: str = Field(description="reachable or unreachable")
    jobs: dict[str, JobHealthOut] = Field(
        default_factory=dict, description="Each scheduled job's last success."
    )
    reasons: list[str] = Field(default_factory=list, description="Why it is not ok.")


class VersionOut(_Out):
    series_id: int
    version: int
    name: str | None
    date: datetime | None
    submitter: PersonOut | None
    rule: str | None = Field(
        description="How it was linked to the previous version: change-id, in-reply-to, "
        "lore-link, subject, changelog (a retitled version), patch-id (an unchanged patch) or "
        "same-author (another address, or a re-spin crediting the author); None for the first."
    )
    superseded_by: int | None
    resend_of: int | None = Field(description="Set on a RESEND of an earlier posting.")
    status: ReviewStatus = Field(
        description="The series' review status, rolled up from its patches."
    )
    patch_count: int
    status_counts: dict[ReviewStatus, int] = Field(description="Patches per review status.")


class VersionsOut(_Out):
    series_id: int = Field(description="The series asked about.")
    chain_id: int = Field(description="The first series of the chain.")
    latest: int = Field(description="The newest version's series id.")
    versions: list[VersionOut] = Field(description="Oldest first; RESENDs follow their original.")


class ChangeOut(_Out):
    kind: str = Field(description="patch, series, discussion, message, review or link")
    key: str = Field(description="Patch or series id, or a Message-ID.")
    changed_at: datetime


class ChangesOut(_Out):
    items: list[ChangeOut]
    cursor: str = Field(description="Pass back as updated_since to get what changed next.")
    more: bool = Field(description="More changes are ready: ask again at once.")


class PersonReviewsOut(_Out):
    email: str
    pending: list[PatchItem] = Field(
        description="The person's own patches still waiting: unreviewed or in discussion."
    )
    given: list[PatchItem] = Field(
        description="Patches the person gave a Reviewed-by, Acked-by, Tested-by or NAK to."
    )


class ReviewGivenOut(_Out):
    patch: PatchItem
    trailers: list[TrailerOut] = Field(
        description="What the person gave this patch: Reviewed-by, Acked-by, Tested-by, NAK "
        "(carried from an earlier version too)."
    )


class PersonDetail(_Out):
    """Everything about one person at once: the twin of the ``/people/{email}`` page."""

    email: str
    name: str | None = Field(description="As their newest mail gives it, if any.")
    submitted: list[PatchItem] = Field(description="Their patches, newest first.")
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page of submitted; null at the end."
    )
    pending: list[PatchItem] = Field(
        description="Their own patches still waiting: unreviewed or in discussion."
    )
    given: list[ReviewGivenOut] = Field(description="Reviews they gave, newest first.")


class RangePatchRef(_Out):
    index: int = Field(description="1-based position of the patch in its version.")
    msgid: str = Field(description="The patch mail's Message-ID.")
    patch_id: int | None = Field(description="Patchwork's patch id, when the patch is stored.")
    title: str


class RangePairOut(_Out):
    verdict: PairVerdict = Field(
        description="unchanged (=), changed (!), added (>) or dropped (<), as git range-diff."
    )
    mark: str = Field(description="git range-diff's mark: =, !, > or <.")
    old: RangePatchRef | None = Field(description="The patch in the earlier version.")
    new: RangePatchRef | None = Field(description="The patch in this version.")
    same_code: bool = Field(description="Same git patch-id: only the commit message changed.")
    interdiff: str = Field(
        description="For changed: the diff of the two patches (message and code), git "
        "range-diff's diff of diffs."
    )
    notes: str = Field(description="The newer patch's notes below its '---' line.")
    carried: list[CarriedReviewOut] = Field(
        description="Trailers of earlier versions that carry forward to this unchanged patch."
    )


class RangeDiffOut(_Out):
    series_id: int
    version: int
    against_id: int = Field(description="The earlier version compared against.")
    against_version: int
    chain_id: int
    previous: bool = Field(description="against_id is the version just before this one.")
    stored: bool = Field(
        description="Computed by review-intel when the version arrived (else: just now)."
    )
    complete: bool = Field(description="False when some patch mails were not stored.")
    changelog: str = Field(description="The author's changelog for this version.")
    counts: dict[PairVerdict, int] = Field(description="Pairs per verdict.")
    pairs: list[RangePairOut] = Field(description="In git range-diff's order.")


class QueueItemOut(_Out):
    patch: PatchItem
    waiting_since: datetime = Field(description="When the patch was posted (its latest version).")
    waited_seconds: int = Field(description="How long it has waited, from the request's now.")
    waited: str = Field(description="The same, as people say it: '3 days', '5 hours'.")
    asked: list[str] = Field(description="Everyone its To:/Cc: asked (lists left out).")
    still_waiting_on: list[str] = Field(description="Those of them who have not answered yet.")
    reviewed_by_others: list[str] = Field(
        description="Who else gave it a Reviewed-by, Acked-by, Tested-by or NAK."
    )


class QueueOut(_Out):
    """A reviewer's queue: the twin of the ``/people/{email}/queue`` page and feed."""

    email: str
    now: datetime = Field(description="The moment waiting times are counted to.")
    items: list[QueueItemOut] = Field(
        description="Open patches whose To:/Cc: named the address and that it has not "
        "answered (no reply, no trailer) since their latest version; oldest first."
    )

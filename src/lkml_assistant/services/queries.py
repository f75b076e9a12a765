# SPDX-License-Identifier: GPL-2.0-or-later
"""The read side behind the REST API: lists, details, threads and counts.

Routes hand the request's parameters to :class:`QueryService`, which checks them, asks the
repositories (interfaces only) and maps domain objects to the API shapes of
:mod:`lkml_assistant.models.api`. Bad input raises :class:`InvalidRequestError`, unknown ids
:class:`ResourceNotFoundError`; the route layer turns those into 400 and 404.

Lists are paged by keyset: a cursor names the last patch served, (date, id), so patches that
arrive between two requests neither shift nor repeat what follows. A cursor also carries a hash
of the filters it was made for and is refused with other filters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from lkml_assistant.models.api import (
    CarriedReviewOut,
    ChangeOut,
    ChangesOut,
    CoverLetterOut,
    DiscussionOut,
    ErrorDetail,
    HealthOut,
    MessageOut,
    PatchDetail,
    PatchItem,
    PatchPage,
    PersonOut,
    PersonReviewsOut,
    ProjectList,
    ProjectOut,
    ReviewBrief,
    ReviewStatusOut,
    ReviewSummaryOut,
    RunOut,
    SeriesDetail,
    SeriesPatchOut,
    SeriesRefOut,
    StatsOut,
    TrailerOut,
    VersionOut,
    VersionsOut,
)
from lkml_assistant.models.discussion import Trailer
from lkml_assistant.models.domain import Patch, Person
from lkml_assistant.models.records import (
    PatchDiscussion,
    PatchReview,
    ReviewCounts,
    SeriesLink,
    StoredMessage,
)
from lkml_assistant.repositories.base import PageMark, PatchQuery, Store

DEFAULT_LIMIT = 30
MAX_LIMIT = 200
MAX_ID = 2**63 - 1  # SQLite's INTEGER; larger ids cannot exist and would not bind
MAX_STATES = 20
MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 16
MAX_EMAIL_LENGTH = 254
MAX_CURSOR_LENGTH = 256
MAX_CHANGES = 1000
UNREVIEWED = "unreviewed"
REVIEW_STATES = (
    "accepted",
    "superseded",
    "changes-requested",
    "reviewed",
    "in-discussion",
    UNREVIEWED,
)
# A person's patches waiting on reviewers.
PENDING_STATES = ("in-discussion", UNREVIEWED)

_T = TypeVar("_T")


class InvalidRequestError(ValueError):
    """The request asks for something malformed; ``details`` say what, one entry per problem."""

    def __init__(self, details: Sequence[ErrorDetail]) -> None:
        super().__init__("; ".join(f"{d.loc}: {d.msg}" for d in details))
        self.details = list(details)


class ResourceNotFoundError(LookupError):
    """No such patch, series or discussion in the store."""


def _invalid(loc: str, msg: str, kind: str = "value_error") -> InvalidRequestError:
    return InvalidRequestError([ErrorDetail(loc=loc, msg=msg, type=kind)])


def check_email(email: str, loc: str) -> str:
    address = email.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(address) > MAX_EMAIL_LENGTH
        or any(ch.isspace() for ch in address)
    ):
        raise _invalid(loc, "must be an e-mail address such as name@example.org")
    return address


def _check_id(value: int, loc: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise _invalid(loc, f"must be between 1 and {MAX_ID}")
    return value


def _state(value: str) -> str:
    slug = value.strip().lower()
    if not slug or len(slug) > 64 or not all(ch.isalnum() or ch == "-" for ch in slug):
        raise _invalid("query.state", f"not a state slug such as new or under-review: {value!r}")
    return slug


def _words(q: str) -> tuple[str, ...]:
    if len(q) > MAX_QUERY_LENGTH:
        raise _invalid("query.q", f"at most {MAX_QUERY_LENGTH} characters")
    # A word with no letter or digit ("-", "[") would be an empty phrase to the index.
    words = tuple(dict.fromkeys(w.casefold() for w in q.split() if any(c.isalnum() for c in w)))
    if not words:
        raise _invalid("query.q", "names no word to search for")
    if len(words) > MAX_QUERY_WORDS:
        raise _invalid("query.q", f"at most {MAX_QUERY_WORDS} words")
    return words


def _utc(moment: datetime, loc: str) -> datetime:
    """Naive times are taken as UTC; the store keeps UTC text with four-digit years."""
    try:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _invalid(loc, "date out of range") from exc
    if not 1 <= utc.year <= 9998:
        raise _invalid(loc, "date out of range")
    return utc


def build_patch_query(
    *,
    project: str | None = None,
    state: Sequence[str] = (),
    submitter: str | None = None,
    series: int | None = None,
    q: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    review_status: Sequence[str] = (),
) -> PatchQuery:
    """Check list filters and normalise them; every problem found is reported at once."""
    problems: list[ErrorDetail] = []

    def checked(check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except InvalidRequestError as exc:
            problems.extend(exc.details)
            return None

    if project is not None:
        project = project.strip()
        if not project or len(project) > 100:
            problems.append(
                ErrorDetail(loc="query.project", msg="empty or longer than 100", type="value_error")
            )
    if len(state) > MAX_STATES:
        problems.append(
            ErrorDetail(loc="query.state", msg=f"at most {MAX_STATES} states", type="value_error")
        )
    states = [checked(functools.partial(_state, value)) for value in state[:MAX_STATES]]
    address = (
        checked(lambda: check_email(submitter, "query.submitter"))
        if submitter is not None
        else None
    )
    if series is not None:
        checked(lambda: _check_id(series, "query.series"))
    words = checked(lambda: _words(q)) if q is not None else ()
    since_utc = checked(lambda: _utc(since, "query.since")) if since is not None else None
    until_utc = checked(lambda: _utc(until, "query.until")) if until is not None else None
    if since_utc is not None and until_utc is not None and since_utc >= until_utc:
        problems.append(
            ErrorDetail(loc="query.until", msg="must be after since", type="value_error")
        )
    review_states = {value.strip().casefold() for value in review_status}
    for value in sorted(review_states - set(REVIEW_STATES)):
        problems.append(
            ErrorDetail(
                loc="query.review_status",
                msg=f"{value!r} is not one of {', '.join(REVIEW_STATES)}",
                type="value_error",
            )
        )
    if problems:
        raise InvalidRequestError(problems)
    return PatchQuery(
        project=project,
        states=tuple(sorted({s for s in states if s is not None})),
        submitter=address,
        series_id=series,
        words=words or (),
        since=since_utc,
        until=until_utc,
        review_states=tuple(sorted(review_states)),
    )


def _filters_hash(query: PatchQuery) -> str:
    canonical = json.dumps(
        [
            query.project,
            list(query.states),
            query.submitter.casefold() if query.submitter else None,
            query.series_id,
            list(query.words),
            query.since.isoformat() if query.since else None,
            query.until.isoformat() if query.until else None,
            *([list(query.review_states)] if query.review_states else []),
        ]
    )
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def encode_cursor(mark: PageMark, query: PatchQuery) -> str:
    payload = json.dumps([mark.date.isoformat(), mark.id, _filters_hash(query)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query: PatchQuery) -> PageMark:
    """The position a cursor names; 400 for anything not made by :func:`encode_cursor`."""
    bad = _invalid("query.cursor", "not a cursor this API gave out", "cursor_invalid")
    text = cursor.strip()
    if not text or len(text) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        date_text, patch_id, digest = json.loads(raw)
        if not (isinstance(date_text, str) and isinstance(digest, str)):
            raise bad
        if type(patch_id) is not int or not 0 <= patch_id <= MAX_ID:
            raise bad
        date = datetime.fromisoformat(date_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise bad from exc
    if date.tzinfo is None:
        raise bad
    if digest != _filters_hash(query):
        raise _invalid(
            "query.cursor", "was made for other filters: repeat the same filters", "cursor_mismatch"
        )
    return PageMark(date=date, id=patch_id)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid("query.limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def _person(person: Person) -> PersonOut:
    return PersonOut(name=person.name, email=person.email)


def _series_refs(patch: Patch) -> list[SeriesRefOut]:
    return [
        SeriesRefOut(id=s.id, name=s.name, version=s.version, date=s.date) for s in patch.series
    ]


def _trailer(trailer: Trailer) -> TrailerOut:
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


def _brief(counts: ReviewCounts) -> ReviewBrief:
    return ReviewBrief(**counts.model_dump())


def _review(discussion: PatchDiscussion) -> ReviewSummaryOut:
    summary = discussion.summary
    return ReviewSummaryOut(
        thread_root=discussion.thread_root,
        list_name=discussion.list_name,
        reply_count=summary.reply_count,
        series_reply_count=summary.series_reply_count,
        participants=list(summary.participants),
        last_activity=summary.last_activity,
        trailers=[_trailer(t) for t in summary.trailers],
        naks=[_trailer(t) for t in summary.naks],
        carried=[_trailer(t) for t in summary.carried],
        fetched_at=discussion.fetched_at,
    )


def _item(
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
        submitter=_person(patch.submitter),
        delegate=_person(patch.delegate) if patch.delegate else None,
        series=_series_refs(patch),
        web_url=patch.web_url,
        list_archive_url=patch.list_archive_url,
        review=_brief(counts) if counts else None,
        review_status=review.status if review else UNREVIEWED,
    )


def _status(review: PatchReview) -> ReviewStatusOut:
    return ReviewStatusOut(
        status=review.status,
        reviewers=list(review.reviewers),
        given=[_trailer(t) for t in review.given],
        carried=[
            CarriedReviewOut(
                trailer=_trailer(c.trailer), from_series=c.from_series, from_version=c.from_version
            )
            for c in review.carried
        ],
        patch_hash=review.patch_hash,
    )


def _rollup(statuses: Sequence[str]) -> str:
    """A series' status from its patches' (the rule of :func:`intel.status.series_status`)."""
    present = set(statuses)
    if not statuses:
        return UNREVIEWED
    if present == {"accepted"}:
        return "accepted"
    if "superseded" in present:
        return "superseded"
    if "changes-requested" in present:
        return "changes-requested"
    if present <= {"reviewed", "accepted"}:
        return "reviewed"
    if present - {UNREVIEWED}:
        return "in-discussion"
    return UNREVIEWED


def _message_tree(messages: list[StoredMessage], root_id: str) -> MessageOut:
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
            trailers=[_trailer(t) for t in message.trailers],
            body=message.body,
            quoted_lines=list(message.quoted_lines),
            children=[built[child] for child in children[message_id]],
        )
    return built[root_id]


class QueryService:
    """Answers the API's questions from a store; one instance serves every request."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def projects(self) -> ProjectList:
        return ProjectList(
            items=[
                ProjectOut(
                    id=p.id,
                    link_name=p.link_name,
                    name=p.name,
                    list_email=p.list_email,
                    list_archive_url=p.list_archive_url,
                )
                for p in self.store.projects.list_projects()
            ]
        )

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
        found = self.store.patches.page_patches(query, after=after, limit=limit + 1)
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last = page[-1]
            next_cursor = encode_cursor(PageMark(date=last.date, id=last.id), query)
        return PatchPage(items=self._items(page), next_cursor=next_cursor)

    def _items(self, patches: Sequence[Patch]) -> list[PatchItem]:
        counts = self.store.discussions.get_review_counts(p.id for p in patches)
        reviews = self.store.reviews.get_reviews(p.id for p in patches)
        return [_item(p, counts.get(p.id), reviews.get(p.id)) for p in patches]

    def person_patches(
        self, email: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> PatchPage:
        address = check_email(email, "path.email")
        return self.patches(PatchQuery(submitter=address), limit=limit, cursor=cursor)

    def patch(self, patch_id: int) -> PatchDetail:
        _check_id(patch_id, "path.patch_id")
        patch = self.store.patches.get_patch(patch_id)
        if patch is None:
            raise ResourceNotFoundError(f"no patch {patch_id}")
        discussion = self.store.discussions.get_discussion(patch_id)
        review = self.store.reviews.get_reviews([patch_id]).get(patch_id)
        return PatchDetail(
            id=patch.id,
            project=patch.project,
            name=patch.name,
            state=patch.state,
            archived=patch.archived,
            date=patch.date,
            msgid=patch.msgid,
            hash=patch.hash,
            submitter=_person(patch.submitter),
            delegate=_person(patch.delegate) if patch.delegate else None,
            series=_series_refs(patch),
            commit_ref=patch.commit_ref,
            pull_url=patch.pull_url,
            web_url=patch.web_url,
            list_archive_url=patch.list_archive_url,
            review=_review(discussion) if discussion else None,
            status=_status(review) if review else None,
        )

    def discussion(self, patch_id: int) -> DiscussionOut:
        _check_id(patch_id, "path.patch_id")
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
            thread=_message_tree(messages, root),
        )

    def series(self, series_id: int) -> SeriesDetail:
        _check_id(series_id, "path.series_id")
        series = self.store.series.get_series(series_id)
        if series is None:
            raise ResourceNotFoundError(f"no series {series_id}")
        patches = self.store.patches.get_patches(series.patch_ids)
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
            submitter=_person(series.submitter),
            cover_letter=CoverLetterOut(
                id=cover.id,
                msgid=cover.msgid,
                name=cover.name,
                date=cover.date,
                list_archive_url=cover.list_archive_url,
            )
            if cover
            else None,
            patches=[
                SeriesPatchOut(id=p.id, name=p.name, state=p.state)
                for _, p in sorted(patches.items())
            ],
            web_url=series.web_url,
        )

    def versions(self, series_id: int) -> VersionsOut:
        """Every version of a series, oldest first, with each one's rolled-up status."""
        _check_id(series_id, "path.series_id")
        link = self.store.reviews.get_links([series_id]).get(series_id)
        if link is None:
            if self.store.series.get_series(series_id) is None:
                raise ResourceNotFoundError(f"no series {series_id}")
            link = None
        chain: list[SeriesLink] = (
            self.store.reviews.chain(link.chain_id) if link is not None else []
        )
        if not chain:
            series = self.store.series.get_series(series_id)
            assert series is not None
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
        for item in chain:
            series = self.store.series.get_series(item.series_id)
            patch_ids = series.patch_ids if series else ()
            reviews = self.store.reviews.get_reviews(patch_ids)
            statuses = [reviews[p].status if p in reviews else UNREVIEWED for p in patch_ids]
            counts: dict[str, int] = defaultdict(int)
            for status in statuses:
                counts[status] += 1
            out.append(
                VersionOut(
                    series_id=item.series_id,
                    version=item.version,
                    name=series.name if series else None,
                    date=series.date if series else None,
                    submitter=_person(series.submitter) if series else None,
                    rule=item.rule,
                    superseded_by=item.superseded_by,
                    resend_of=item.resend_of,
                    status="superseded" if item.superseded_by is not None else _rollup(statuses),
                    patch_count=len(patch_ids),
                    status_counts=dict(sorted(counts.items())),
                )
            )
        originals = [v for v in out if v.resend_of is None] or out
        return VersionsOut(
            series_id=series_id,
            chain_id=chain[0].chain_id,
            latest=originals[-1].series_id,
            versions=out,
        )

    def changes(self, updated_since: str | None, *, limit: int = 500) -> ChangesOut:
        """What changed in the store after a cursor (None: a cursor at the newest change)."""
        if not 1 <= limit <= MAX_CHANGES:
            raise _invalid("query.limit", f"must be between 1 and {MAX_CHANGES}")
        if updated_since is None:
            return ChangesOut(items=[], cursor=self.store.changes.latest_cursor(), more=False)
        if not updated_since.strip() or len(updated_since) > MAX_CURSOR_LENGTH:
            raise _invalid(
                "query.updated_since", "not a cursor this API gave out", "cursor_invalid"
            )
        try:
            page = self.store.changes.changes_since(updated_since, limit=limit)
        except ValueError as exc:
            raise _invalid("query.updated_since", str(exc), "cursor_invalid") from exc
        return ChangesOut(
            items=[
                ChangeOut(kind=c.kind, key=c.key, changed_at=c.changed_at) for c in page.changes
            ],
            cursor=page.cursor,
            more=page.more,
        )

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

    def stats(self) -> StatsOut:
        counts = self.store.stats.counts()
        by_project: dict[str, int] = defaultdict(int)
        by_state: dict[str, int] = defaultdict(int)
        for (project, state), n in counts.patches_by_project_state.items():
            by_project[project] += n
            by_state[state] += n
        runs = self.store.runs.last_runs()
        return StatsOut(
            projects=counts.projects,
            patches=sum(by_project.values()),
            patches_by_project=dict(sorted(by_project.items())),
            patches_by_state=dict(sorted(by_state.items())),
            series=counts.series,
            messages=counts.messages,
            discussions=counts.discussions,
            last_runs={
                job: RunOut(
                    job=run.job,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    status=run.status,
                    summary=run.summary,
                )
                for job, run in runs.items()
            },
        )

    def health(self) -> HealthOut:
        try:
            reachable = self.store.stats.ping()
        except Exception:  # any failure of the store means "not reachable", never a 500
            reachable = False
        return HealthOut(
            status="ok" if reachable else "unavailable",
            store="reachable" if reachable else "unreachable",
        )

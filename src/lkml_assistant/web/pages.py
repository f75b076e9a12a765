# SPDX-License-Identifier: GPL-2.0-or-later
"""The pages for people, as one Powertools Router beside the JSON API's.

Each page lives at the path of its JSON twin without the ``/api`` prefix and answers the same
query from the same :class:`QueryService` call (``/`` is the twin of ``/api/patches``); the
page links its twin (``<link rel="alternate" type="application/json">``). A form's empty fields
mean "no filter": such a query is redirected to the same query without them, so the page's URL
and its twin's always carry the same parameters.
"""

# No `from __future__ import annotations`: Powertools reads the route signatures at runtime.

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from lkml_assistant.api.params import (
    AgainstFilter,
    Cursor,
    Email,
    Limit,
    MsgidFilter,
    PatchId,
    ProjectFilter,
    ReviewStatusFilter,
    SeriesFilter,
    SeriesId,
    SinceFilter,
    StateFilter,
    SubmitterFilter,
    UntilFilter,
    WordsFilter,
)
from lkml_assistant.models.api import RangeDiffOut
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.services.queries.errors import ResourceNotFoundError
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.queries.validation import DEFAULT_LIMIT, build_patch_query
from lkml_assistant.sources.lore import message_url
from lkml_assistant.web import render, views
from lkml_assistant.web.trailers import trailer_rows

API_PREFIX = "/api"
# The filters the list page's form offers, in its order.
FORM_FIELDS = ("q", "project", "state", "review_status", "submitter")
# What the Atom feed does not take of the list's query.
NOT_IN_FEED = frozenset({"cursor", "since", "until"})


def base_path(event: BaseProxyEvent) -> str:
    """What precedes our paths in the browser's URL: API Gateway's stage (``/v1``), or nothing.

    The proxy event's ``path`` has no stage, ``requestContext.path`` has it; a custom domain
    or the local server give the same path twice."""
    path = event.path
    context = event.raw_event.get("requestContext") or {}
    seen = str(context.get("path") or path)
    if path == "/":
        seen = seen.rstrip("/") + "/"
    if seen != path and seen.endswith(path):
        return seen[: len(seen) - len(path)].rstrip("/")
    return ""


class _Pages:
    """Request helpers shared by the page routes."""

    def __init__(self, router: Router, service: QueryService, lore_url: str) -> None:
        self.router = router
        self.service = service
        self.lore_url = lore_url

    @property
    def event(self) -> BaseProxyEvent:
        return self.router.current_event

    def query(self) -> dict[str, list[str]]:
        return dict(self.event.resolved_query_string_parameters or {})

    def render(self, template: str, **context: Any) -> Response[str]:
        base = base_path(self.event)
        params = views.flat(self.query())
        twin_path = context.pop("twin_path", self.event.path)
        twin = f"{base}{API_PREFIX}{twin_path}{views.query_string(params)}"
        return render.page(template, base=base, twin=twin, **context)


def build_pages(service: QueryService, *, lore_url: str) -> Router:
    """The page routes, answering from ``service``; messages link to ``lore_url``."""
    router = Router()  # type: ignore[no-untyped-call]
    pages = _Pages(router, service, lore_url)
    _queue_page(router, pages, service)

    def patch_list(
        *,
        project: ProjectFilter = None,
        state: StateFilter = None,
        submitter: SubmitterFilter = None,
        series: SeriesFilter = None,
        q: WordsFilter = None,
        since: SinceFilter = None,
        until: UntilFilter = None,
        review_status: ReviewStatusFilter = None,
        msgid: MsgidFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Response[str]:
        raw = pages.query()
        given = views.non_empty(raw)
        base = base_path(pages.event)
        if len(given) != len(views.flat(raw)):
            return render.redirect(f"{base}{pages.event.path}{views.query_string(given)}")
        query = build_patch_query(
            project=project,
            state=state or (),
            submitter=submitter,
            series=series,
            q=q,
            since=since,
            until=until,
            review_status=review_status or (),
            msgid=msgid,
        )
        found = service.patches(query, limit=limit, cursor=cursor)
        kept = [(k, v) for k, v in given if k != "cursor"]
        next_url = None
        if found.next_cursor is not None:
            next_query = views.query_string([*kept, ("cursor", found.next_cursor)])
            next_url = f"{base}{pages.event.path}{next_query}"
        feed = [(k, v) for k, v in given if k not in NOT_IN_FEED]
        return pages.render(
            "patches.html",
            twin_path="/patches",
            title="Patches",
            page=found,
            projects=service.projects().items,
            statuses=[str(s) for s in ReviewStatus],
            filters={name: raw.get(name, []) for name in FORM_FIELDS},
            other_filters=[(k, v) for k, v in kept if k not in FORM_FIELDS],
            paged=cursor is not None,
            first_url=f"{base}{pages.event.path}{views.query_string(kept)}",
            next_url=next_url,
            feed_url=f"{base}{API_PREFIX}/patches.atom{views.query_string(feed)}",
        )

    router.get("/", include_in_schema=False)(patch_list)
    router.get("/patches", include_in_schema=False)(patch_list)

    @router.get("/patches/<patch_id>", include_in_schema=False)
    def patch_page(patch_id: PatchId) -> Response[str]:
        detail = service.patch(patch_id)
        try:
            discussion = service.discussion(patch_id)
            missing = None
        except ResourceNotFoundError as exc:
            discussion, missing = None, str(exc)
        list_name = (
            discussion.list_name
            if discussion
            else (detail.review.list_name if detail.review else "")
        )
        thread: views.MessageView | None = None
        anchors: dict[str, str] = {}
        if discussion is not None:
            thread, anchors = views.thread_view(
                discussion.thread,
                lore_url=lore_url,
                list_name=discussion.list_name,
                patch_message_id=discussion.patch_message_id,
            )
        lore = detail.list_archive_url or (
            message_url(lore_url, list_name, detail.msgid) if list_name else None
        )
        return pages.render(
            "patch.html",
            title=detail.name,
            patch=detail,
            lore=lore,
            trailers=trailer_rows(detail, anchors, lore_url=lore_url, list_name=list_name),
            thread=thread,
            message_count=discussion.message_count if discussion else 0,
            missing=missing,
        )

    @router.get("/series/<series_id>", include_in_schema=False)
    def series_page(series_id: SeriesId, against: AgainstFilter = None) -> Response[str]:
        series = service.series(series_id)
        versions = service.versions(series_id)
        range_diff = _range_diff(service, series_id, against)
        return pages.render(
            "series.html",
            title=series.name or f"series {series.id}",
            series=series,
            versions=versions,
            range_diff=range_diff,
        )

    @router.get("/people/<email>", include_in_schema=False)
    def person_page(email: Email, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Any:
        person = service.person(email, limit=limit, cursor=cursor)
        base = base_path(pages.event)
        here = f"{base}/people/{views.segment(person.email)}"
        kept = [(k, v) for k, v in views.flat(pages.query()) if k != "cursor"]
        next_url = None
        if person.next_cursor is not None:
            next_url = here + views.query_string([*kept, ("cursor", person.next_cursor)])
        return pages.render(
            "person.html",
            title=person.name or person.email,
            person=person,
            next_url=next_url,
            first_url=here + views.query_string(kept) if cursor is not None else None,
        )

    @router.get("/static/<name>", include_in_schema=False)
    def static(name: str) -> Response[str]:
        found = render.static_files().get(name)
        if found is None:
            raise ResourceNotFoundError(f"no file {name}")
        content, media_type = found
        headers = {**render.PAGE_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(status_code=200, content_type=media_type, body=content, headers=headers)

    return router


def _queue_page(router: Router, pages: _Pages, service: QueryService) -> None:
    @router.get("/people/<email>/queue", include_in_schema=False)
    def queue_page(email: Email, limit: Limit = DEFAULT_LIMIT) -> Response[str]:
        queue = service.queue(email, limit=limit)
        return pages.render("queue.html", title=f"waiting on {queue.email}", queue=queue)


def _range_diff(service: QueryService, series_id: int, against: int | None) -> RangeDiffOut | None:
    """The series' range-diff; None for a first version (nothing to compare with)."""
    try:
        return service.range_diff(series_id, against)
    except ResourceNotFoundError:
        return None


def is_page(path: str) -> bool:
    """Paths answered in HTML (errors too); the JSON API and /health answer JSON."""
    return not (path == API_PREFIX or path.startswith(f"{API_PREFIX}/") or path == "/health")


__all__: Sequence[str] = ("API_PREFIX", "base_path", "build_pages", "is_page")

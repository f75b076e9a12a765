# SPDX-License-Identifier: GPL-2.0-or-later
"""Every route of the REST API, as one Powertools Router shared by local mode and Lambda.

:func:`build_router` binds the routes to a :class:`QueryService`; :func:`install` adds them
under ``/api`` to an ``APIGatewayRestResolver`` (on Lambda, and behind
:mod:`lkml_assistant.api.app` locally) with ``/api/openapi.json``, the ``/api/docs`` page,
``/health`` at the root too, the pages for people (:mod:`lkml_assistant.web.pages`) and the
error mapping: JSON under ``/api``, an HTML page elsewhere. Routes only translate HTTP to
service calls: checks and queries live in the :mod:`lkml_assistant.services.queries` package.

Errors are JSON ``{"error": ..., "details": [...]}``: 400 for any bad parameter (Powertools
answers 422 by default), an unknown query parameter or a control character in any parameter
(:func:`~lkml_assistant.services.queries.validation.check_parameters`, run for every route by
:func:`_strict_parameters`), 404 for unknown ids and routes, 500 without internals otherwise.
"""

# No `from __future__ import annotations`: Powertools reads the route signatures at runtime.

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from lkml_assistant import __version__
from lkml_assistant.api.feed import MEDIA_TYPE as ATOM_MEDIA_TYPE
from lkml_assistant.api.feed import atom_feed
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
from lkml_assistant.models.api import (
    ChangesOut,
    DiscussionOut,
    ErrorDetail,
    ErrorOut,
    HealthOut,
    PatchDetail,
    PatchPage,
    PersonDetail,
    PersonReviewsOut,
    ProjectList,
    QueueItemOut,
    QueueOut,
    RangeDiffOut,
    SeriesDetail,
    StatsOut,
    VersionsOut,
)
from lkml_assistant.services.queries.errors import InvalidRequestError, ResourceNotFoundError
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.queries.validation import (
    DEFAULT_LIMIT,
    MAX_CHANGES,
    MAX_CURSOR_LENGTH,
    build_patch_query,
    check_parameters,
    check_text,
)
from lkml_assistant.web.pages import API_PREFIX, base_path, build_pages, is_page
from lkml_assistant.web.render import error_page

log = logging.getLogger(__name__)

DOCS_PATH = f"{API_PREFIX}/docs"
DEFAULT_LORE_URL = "https://lore.kernel.org"

API_TITLE = "LKML Assistant"
API_DESCRIPTION = (
    "Linux kernel patches mirrored from Patchwork and their review discussions from lore. "
    "Ids are Patchwork's; messages are addressed by Message-ID without angle brackets. "
    "A query parameter a route does not take, or a control character in any parameter, "
    "is refused with 400."
)
JSON = "application/json"

_ERRORS: dict[int, OpenAPIResponse] = {
    400: {
        "description": "A parameter is malformed; details say which and why.",
        "content": {JSON: {"model": ErrorOut}},
    },
}
_ERRORS_404: dict[int, OpenAPIResponse] = {
    **_ERRORS,
    404: {"description": "No such object.", "content": {JSON: {"model": ErrorOut}}},
}


def _answers(model: type[BaseModel], *, not_found: bool = True) -> dict[int, OpenAPIResponse]:
    """The documented answers of a route: its model, 400 and (unless it has none) 404.

    Powertools documents only what ``responses`` lists once it is given, so 200 is named too.
    """
    answers: dict[int, OpenAPIResponse] = {
        200: {"description": "Successful response", "content": {JSON: {"model": model}}},
        **_ERRORS,
    }
    if not_found:
        answers[404] = _ERRORS_404[404]
    return answers


def _patch_lists(router: Router, service: QueryService) -> None:
    """``/patches`` and its Atom twin: the same filters, one as JSON pages, one as a feed."""

    @router.get(
        "/patches",
        summary="Patches, newest first",
        description="Filters combine with AND. Paged by cursor: pass next_cursor back as "
        "cursor with the same filters; patches arriving meanwhile skip or repeat nothing.",
        tags=["patches"],
        responses=_answers(PatchPage, not_found=False),
    )
    def list_patches(
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
    ) -> PatchPage:
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
        return service.patches(query, limit=limit, cursor=cursor)

    @router.get(
        "/patches.atom",
        summary="Any patch list as an Atom feed",
        description="The filters of /patches; the newest `limit` patches, each updated at its "
        "last activity.",
        tags=["patches"],
        responses={
            200: {"description": "An Atom 1.0 feed", "content": {ATOM_MEDIA_TYPE: {}}},
            **_ERRORS,
        },
    )
    def patches_feed(
        *,
        project: ProjectFilter = None,
        state: StateFilter = None,
        submitter: SubmitterFilter = None,
        series: SeriesFilter = None,
        q: WordsFilter = None,
        review_status: ReviewStatusFilter = None,
        msgid: MsgidFilter = None,
        limit: Limit = 50,
    ) -> Response[bytes]:
        query = build_patch_query(
            project=project,
            state=state or (),
            submitter=submitter,
            series=series,
            q=q,
            review_status=review_status or (),
            msgid=msgid,
        )
        page = service.patches(query, limit=limit)
        event = router.current_event
        params = sorted((event.query_string_parameters or {}).items())
        described = urlencode([(k, v) for k, v in params if k != "limit"])
        body = atom_feed(
            page.items,
            title="LKML Assistant: patches" + (f" ({described})" if described else ""),
            self_url=event.path + (f"?{urlencode(params)}" if params else ""),
            feed_id=f"urn:lkml-assistant:patches:{described}",
        )
        return Response(status_code=200, content_type=ATOM_MEDIA_TYPE, body=body)


def _health(router: Router, service: QueryService, *, documented: bool = True) -> None:
    """``/health``: under ``/api`` with the rest, and at the root for load balancers."""

    @router.get(
        "/health",
        include_in_schema=documented,
        summary="Store reachability, and each scheduled job's last success",
        description="status is degraded (still 200) once a job's last success is older than "
        "twice its schedule; reasons say which. 503 when the store does not answer.",
        responses={
            200: {
                "description": "Store reachable (ok or degraded)",
                "content": {JSON: {"model": HealthOut}},
            },
            **_ERRORS,
            503: {"description": "Store unreachable", "content": {JSON: {"model": HealthOut}}},
        },
    )
    def health() -> Response[HealthOut]:
        result = service.health()
        # A load balancer must see a store outage without parsing the body.
        return Response(
            status_code=503 if result.status == "unavailable" else 200,
            content_type=JSON,
            body=result,
        )


def _queue_summary(item: QueueItemOut, email: str) -> str:
    others = item.reviewed_by_others
    reviewed = "reviewed by " + ", ".join(others) if others else "no review yet"
    return f"waiting {item.waited} on {email}; {reviewed}"


def _what_changed_and_waits(router: Router, service: QueryService) -> None:
    """``/series/{id}/range-diff`` and a reviewer's ``/people/{email}/queue`` (and its feed)."""

    @router.get(
        "/series/<series_id>/range-diff",
        summary="What changed since the previous version: each patch unchanged, changed, "
        "added or dropped, as git range-diff",
        description="against: any earlier version of the same chain (400 if it is not one); "
        "404 for a series with no earlier version.",
        tags=["series"],
        responses=_answers(RangeDiffOut),
    )
    def series_range_diff(series_id: SeriesId, against: AgainstFilter = None) -> RangeDiffOut:
        return service.range_diff(series_id, against)

    @router.get(
        "/people/<email>/queue",
        summary="A reviewer's queue: open patches whose To:/Cc: named the address that it has "
        "not answered since their latest version, oldest first",
        description="Lists are never in a queue (see docs/review-intelligence.md). waited_* are "
        "counted to the moment of the request.",
        tags=["people"],
        responses=_answers(QueueOut),
    )
    def person_queue(email: Email, limit: Limit = DEFAULT_LIMIT) -> QueueOut:
        return service.queue(email, limit=limit)

    @router.get(
        "/people/<email>/queue.atom",
        summary="A reviewer's queue as an Atom feed",
        tags=["people"],
        responses={
            200: {"description": "An Atom 1.0 feed", "content": {ATOM_MEDIA_TYPE: {}}},
            **_ERRORS_404,  # an address no route accepts (a '/') matches no route
        },
    )
    def person_queue_feed(email: Email, limit: Limit = 50) -> Response[bytes]:
        queue = service.queue(email, limit=limit)
        event = router.current_event
        body = atom_feed(
            [item.patch for item in queue.items],
            title=f"LKML Assistant: waiting on {queue.email}",
            self_url=event.path,
            feed_id=f"urn:lkml-assistant:queue:{queue.email.casefold()}",
            summaries={item.patch.id: _queue_summary(item, queue.email) for item in queue.items},
        )
        return Response(status_code=200, content_type=ATOM_MEDIA_TYPE, body=body)


def build_router(service: QueryService) -> Router:
    """The API's routes, answering from ``service``."""
    router = Router()  # type: ignore[no-untyped-call]

    @router.get(
        "/projects",
        summary="Projects followed",
        tags=["projects"],
        responses=_answers(ProjectList, not_found=False),
    )
    def list_projects() -> ProjectList:
        return service.projects()

    _patch_lists(router, service)
    _what_changed_and_waits(router, service)

    @router.get(
        "/changes",
        summary="What changed in the store since a cursor",
        description="Without updated_since: an empty page and the cursor of the newest change, "
        "to start from. Then pass the cursor back as updated_since after every poll; each "
        "change names a record to read again (patch, series, discussion, message, review or "
        "link). Nothing is skipped or repeated.",
        tags=["changes"],
        responses=_answers(ChangesOut, not_found=False),
    )
    def changes(
        updated_since: Annotated[
            str | None, Query(max_length=MAX_CURSOR_LENGTH, description="cursor of the last poll")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CHANGES, description="changes per page")] = 500,
    ) -> ChangesOut:
        return service.changes(updated_since, limit=limit)

    @router.get(
        "/series/<series_id>/versions",
        summary="Every version of a series (v1 ... vN), each with its review status",
        tags=["series"],
        responses=_answers(VersionsOut),
    )
    def series_versions(series_id: SeriesId) -> VersionsOut:
        return service.versions(series_id)

    @router.get(
        "/people/<email>/reviews",
        summary="A person's patches waiting on reviewers, and the reviews they gave",
        tags=["people"],
        responses=_answers(PersonReviewsOut),
    )
    def person_reviews(
        email: Email,
        limit: Limit = DEFAULT_LIMIT,
    ) -> PersonReviewsOut:
        return service.person_reviews(email, limit=limit)

    @router.get(
        "/patches/<patch_id>",
        summary="A patch with its series and review summary",
        tags=["patches"],
        responses=_answers(PatchDetail),
    )
    def get_patch(patch_id: PatchId) -> PatchDetail:
        return service.patch(patch_id)

    @router.get(
        "/patches/<patch_id>/discussion",
        summary="The review thread of a patch, as a tree",
        description="404 when no thread is stored for the patch (not fetched yet, or not on lore).",
        tags=["patches"],
        responses=_answers(DiscussionOut),
    )
    def get_discussion(patch_id: PatchId) -> DiscussionOut:
        return service.discussion(patch_id)

    @router.get(
        "/series/<series_id>",
        summary="A series with its patches and cover letter",
        tags=["series"],
        responses=_answers(SeriesDetail),
    )
    def get_series(series_id: SeriesId) -> SeriesDetail:
        return service.series(series_id)

    @router.get(
        "/people/<email>/patches",
        summary="A submitter's patches, newest first",
        tags=["patches"],
        # 404: an address with characters no route accepts (e.g. "/") matches no route.
        responses=_answers(PatchPage),
    )
    def person_patches(
        email: Email,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PatchPage:
        return service.person_patches(email, limit=limit, cursor=cursor)

    @router.get(
        "/people/<email>",
        summary="A person: their patches (paged), those waiting on reviewers, reviews given",
        tags=["people"],
        responses=_answers(PersonDetail),
    )
    def person(
        email: Email,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PersonDetail:
        return service.person(email, limit=limit, cursor=cursor)

    @router.get(
        "/stats",
        summary="What the store holds and the last run of each job",
        responses=_answers(StatsOut, not_found=False),
    )
    def stats() -> StatsOut:
        return service.stats()

    _health(router, service)

    return router


def _json_error(status: int, error: str, details: list[ErrorDetail] | None = None) -> Response[str]:
    body = ErrorOut(error=error, details=details or [])
    return Response(status_code=status, content_type=JSON, body=body.model_dump_json())


def _validation_details(exc: RequestValidationError) -> list[ErrorDetail]:
    details = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error.get("loc", ()))
        details.append(
            ErrorDetail(loc=loc, msg=str(error.get("msg", "invalid")), type=str(error["type"]))
        )
    return details


def _strict_parameters(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every documented route takes only the query parameters its signature declares.

    The pages for people are held to it too; only the page Powertools serves (``/api/docs``
    reads ``format``) is not. Control characters are refused everywhere."""
    route = app.context.get("_route")
    query = app.current_event.resolved_query_string_parameters or {}
    if route is None:
        accepted, path = set(query), {}
    else:
        accepted = {field.alias for field in route.dependant.query_params}
        if route.path == DOCS_PATH:
            accepted |= set(query)
        # After validation the route's arguments hold the query's values too.
        arguments = app.context.get("_route_args") or {}
        names = [(f.alias, f.name) for f in route.dependant.path_params]
        path = {alias: arguments[name] for alias, name in names if name in arguments}
    check_parameters(query, path, accepted)
    return next_middleware(app)


def _offline_swagger(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Keep the docs page self-contained: Powertools inlines Swagger UI's script and styles,
    but Swagger UI would still fetch a validity badge from validator.swagger.io."""
    response = next_middleware(app)
    if isinstance(response.body, str) and "withCredentials: true," in response.body:
        response.body = response.body.replace(
            "withCredentials: true,", "withCredentials: true,\n    validatorUrl: null,", 1
        )
    return response


def install(
    app: ApiGatewayResolver, service: QueryService, *, lore_url: str = DEFAULT_LORE_URL
) -> None:
    """Add the JSON routes under /api (with /api/openapi.json and /api/docs), /health at the
    root too, the pages for people, and the error mapping: JSON under /api, pages elsewhere."""
    app.use(middlewares=[_strict_parameters])
    app.include_router(build_router(service), prefix=API_PREFIX)
    root = Router()  # type: ignore[no-untyped-call]
    _health(root, service, documented=False)
    app.include_router(root)
    app.include_router(build_pages(service, lore_url=lore_url))

    def _error(status: int, error: str, details: list[ErrorDetail] | None = None) -> Response[str]:
        event = app.current_event
        if is_page(event.path):
            return error_page(status, error, details, base=base_path(event))
        return _json_error(status, error, details)

    def invalid_parameters(exc: RequestValidationError) -> Response[str]:
        return _error(400, "invalid request", _validation_details(exc))

    def invalid_request(exc: InvalidRequestError) -> Response[str]:
        return _error(400, "invalid request", exc.details)

    def unknown_object(exc: ResourceNotFoundError) -> Response[str]:
        return _error(404, str(exc))

    @app.not_found
    def unknown_route(exc: NotFoundError) -> Response[str]:
        event = app.current_event
        try:
            # No route takes a control character, so none matched: say that, not 404.
            check_text(event.path, "path")
        except InvalidRequestError as invalid:
            return invalid_request(invalid)
        return _error(404, f"no route {event.http_method} {event.path}")

    def failure(exc: Exception) -> Response[str]:
        # Logged in full for the operator; the client learns nothing about the internals.
        log.error("request failed", exc_info=exc)
        return _error(500, "internal error")

    handlers: list[tuple[type[Exception], Any]] = [
        (RequestValidationError, invalid_parameters),
        (InvalidRequestError, invalid_request),
        (ResourceNotFoundError, unknown_object),
        (Exception, failure),
    ]
    for exc_class, handler in handlers:
        app.exception_handler(exc_class)(handler)

    schema: list[str] = []

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        if not schema:  # built once: the routes do not change after start-up
            schema.append(
                app.get_openapi_json_schema(
                    title=API_TITLE, version=__version__, description=API_DESCRIPTION
                )
            )
        return Response(status_code=200, content_type=JSON, body=schema[0])

    app.enable_swagger(
        path=DOCS_PATH,
        title=API_TITLE,
        version=__version__,
        description=API_DESCRIPTION,
        middlewares=[_offline_swagger],
    )

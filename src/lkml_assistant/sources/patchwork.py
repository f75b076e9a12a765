# SPDX-License-Identifier: GPL-2.0-or-later
"""Patchwork REST API client (https://patchwork.readthedocs.io/en/latest/api/rest/).

Paging follows the ``Link: rel="next"`` header, since Patchwork returns bare lists and no
total count; a page past the end is a 404 ("Invalid page."), which simply ends the walk.
The API version is pinned in every path. Filters are passed as Patchwork spells them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from lkml_assistant.sources.http import HttpClient, UpstreamError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page of a Patchwork list: its objects, its number and, when known, the last number."""

    items: list[Any]
    url: str
    number: int
    last: int | None


class _JsonBody:
    """Validates an answer as JSON of one type and keeps what it parsed, so it is parsed once.

    A body that is not JSON, or not of the expected type, raises ValueError: the HTTP client
    counts that as a failed attempt and asks again (a truncated page is not to be trusted).
    """

    def __init__(self, expected: type[list[Any]] | type[dict[str, Any]]) -> None:
        self.expected = expected
        self.value: Any = None

    def __call__(self, response: httpx.Response) -> None:
        try:
            body = json.loads(response.content)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg} at byte {exc.pos})") from exc
        if not isinstance(body, self.expected):
            raise ValueError(f"expected a JSON {self.expected.__name__}, got {type(body).__name__}")
        self.value = body


def _page_number(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get("page")
    if values and values[0].isdigit():
        return int(values[0])
    return None


class PatchworkClient:
    """Reads one Patchwork instance. ``api_url`` is e.g. ``https://patchwork.kernel.org/api/1.3``."""

    def __init__(self, http: HttpClient, api_url: str, *, page_size: int = 250) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.page_size = page_size
        parts = urlsplit(self.api_url)
        self._origin = (parts.scheme, parts.netloc)

    def _same_origin(self, url: str) -> str:
        """Keep ``next`` links on the server we were pointed at.

        Patchwork builds absolute links from the Host it saw, which behind a proxy or a
        mirror may name another origin; following it blindly would leave the configured server.
        """
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            parts = parts._replace(scheme=self._origin[0], netloc=self._origin[1])
        return urlunsplit(parts)

    def iter_pages(
        self, path: str, params: list[tuple[str, Any]], *, start_page: int = 1
    ) -> Iterator[Page]:
        url: str | None = f"{self.api_url}/{path.strip('/')}/"
        query: list[tuple[str, Any]] | None = [*params, ("per_page", self.page_size)]
        number = start_page
        while url is not None:
            body = _JsonBody(list)
            response = self.http.get(url, params=query, validate=body)
            if response.status_code == 404:
                # Past the last page (the list shrank while we walked it): nothing more to read.
                log.info("%s answered 404, taking it as the end of the list", response.url)
                return
            items: list[Any] = body.value
            links = response.links
            last_link = links.get("last", {}).get("url")
            last = _page_number(last_link) if last_link else None
            page_number = _page_number(str(response.url)) or number
            yield Page(items=items, url=str(response.url), number=page_number, last=last or None)
            next_link = links.get("next", {}).get("url")
            url = self._same_origin(next_link) if next_link else None
            query = None  # the next link carries the whole query
            number = page_number + 1

    def _get_object(self, path: str) -> dict[str, Any] | None:
        url = f"{self.api_url}/{path.strip('/')}/"
        body = _JsonBody(dict)
        response = self.http.get(url, validate=body)
        if response.status_code == 404:
            return None
        found: dict[str, Any] = body.value
        return found

    def project(self, link_name: str) -> dict[str, Any] | None:
        return self._get_object(f"projects/{link_name}")

    def patch(self, patch_id: int) -> dict[str, Any] | None:
        return self._get_object(f"patches/{patch_id}")

    def series(self, series_id: int) -> dict[str, Any] | None:
        return self._get_object(f"series/{series_id}")

    def patches(
        self, project: str, *, since: str | None = None, start_page: int = 1
    ) -> Iterator[Page]:
        params: list[tuple[str, Any]] = [("project", project), ("order", "id")]
        if since:
            params.append(("since", since))
        if start_page > 1:
            params.append(("page", start_page))
        return self.iter_pages("patches", params, start_page=start_page)

    def series_list(
        self, project: str, *, since: str | None = None, start_page: int = 1
    ) -> Iterator[Page]:
        params: list[tuple[str, Any]] = [("project", project), ("order", "id")]
        if since:
            params.append(("since", since))
        if start_page > 1:
            params.append(("page", start_page))
        return self.iter_pages("series", params, start_page=start_page)

    def events(self, project: str, *, since: str | None = None) -> Iterator[Page]:
        """Events newest first, as Patchwork serves them; callers de-duplicate by id."""
        params: list[tuple[str, Any]] = [("project", project)]
        if since:
            params.append(("since", since))
        return self.iter_pages("events", params)

    def newest_event(self, project: str) -> dict[str, Any] | None:
        url = f"{self.api_url}/events/"
        body = _JsonBody(list)
        response = self.http.get(url, params=[("project", project), ("per_page", 1)], validate=body)
        if response.status_code == 404:
            return None
        items: list[Any] = body.value
        if not items:
            return None
        first = items[0]
        if not isinstance(first, dict):
            raise UpstreamError(url, "malformed event in answer", response.status_code)
        return first

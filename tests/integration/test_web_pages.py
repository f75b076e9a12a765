# SPDX-License-Identifier: GPL-2.0-or-later
"""The pages for people over HTTP: HTML with a strict CSP, each page's JSON twin, errors as
pages, hostile mail escaped, and the same pages from the Lambda handler behind a stage."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest

from lkml_assistant.functions import api as lambda_api
from tests.integration.test_api import rest_event
from tests.integration.web_fixtures import HOSTILE_PATCH, WebSite, web, web_site
from tests.lambda_runtime import InvocationContext

pytestmark = pytest.mark.integration
__all__ = ["web", "web_site"]  # session fixtures, shared with the browser tests

REVIEWER = "pablo@netfilter.org"


class Page(HTMLParser):
    """What a test reads of a page: links, the JSON twin, cells of the first table, tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.twin: str | None = None
        self.tags: set[str] = set()
        self.attrs_seen: list[tuple[str, str | None]] = []
        self.row_names: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._in_name = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs_seen.extend(attrs)
        found = dict(attrs)
        if tag == "link" and found.get("type") == "application/json":
            self.twin = found.get("href")
        if tag == "a":
            self._href, self._text = found.get("href"), []
        if tag == "td" and found.get("class") == "name":
            self._in_name = True
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None
        if tag == "td" and self._in_name:
            self.row_names.append("".join(self._text).strip())
            self._in_name = False

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def test_pages_answer_html_with_a_strict_policy(web, web_site: WebSite) -> None:
    series = web.get("/api/patches/182").json()["series"][0]["id"]
    for path in ("/", "/patches", "/patches/182", f"/series/{series}", f"/people/{REVIEWER}"):
        response = web.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy
        assert "<script" not in response.text
        page = Page(response.text)
        assert page.twin == f"/api{path if path != '/' else '/patches'}"
        twin = web.get(page.twin)
        assert twin.status_code == 200 and twin.headers["content-type"] == "application/json"
        # No link leaves for another origin but lore's and Patchwork's pages (never fetched).
        for href, _ in page.links:
            assert href.startswith(("/", "#", "http://127.0.0.1", "https://lore.kernel.org"))
    css = web.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "prefers-color-scheme: dark" in css.text
    assert web.get("/static/nothing.js").status_code == 404


def test_the_list_shows_what_its_twin_says_and_pages_by_its_cursor(web) -> None:
    query = "review_status=reviewed&limit=10"
    page = Page(web.get(f"/?{query}").text)
    assert page.twin == f"/api/patches?{query}"
    twin = web.get(page.twin).json()
    assert page.row_names == [item["name"] for item in twin["items"]]
    nexts = [href for href, text in page.links if text == "Next page"]
    assert nexts == [f"/?{query}&cursor={quote(twin['next_cursor'], safe='')}"]
    second = Page(web.get(nexts[0]).text)
    later = web.get(second.twin).json()
    assert second.row_names == [item["name"] for item in later["items"]]
    assert not set(second.row_names) & set(page.row_names) or len(later["items"]) == 0
    feeds = [href for href, text in page.links if text == "Atom feed of this list"]
    assert feeds == [f"/api/patches.atom?{query}"]
    assert web.get(feeds[0]).headers["content-type"].startswith("application/atom+xml")


def test_empty_form_fields_mean_no_filter(web) -> None:
    response = web.get("/?q=&project=&state=&review_status=reviewed&submitter=")
    assert response.status_code == 303
    assert response.headers["location"] == "/?review_status=reviewed"


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/patches/abc", 400, "path.patch_id"),
        ("/patches/0", 400, "path.patch_id"),
        ("/?limit=0", 400, "query.limit"),
        ("/?review_status=lgtm", 400, "&#39;lgtm&#39; is not one of"),
        ("/?submitter=nobody", 400, "query.submitter"),
        ("/?per_page=5", 400, "query.per_page"),
        ("/people/nobody", 400, "path.email"),
        ("/patches/123456789", 404, "no patch 123456789"),
        ("/series/123456789", 404, "no series 123456789"),
        ("/no/such/page", 404, "no route GET /no/such/page"),
    ],
)
def test_bad_requests_and_unknown_ids_answer_pages_that_say_why(web, path, status, says) -> None:
    response = web.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-security-policy" in response.headers
    assert says in response.text
    assert "Traceback" not in response.text


def test_the_json_api_lives_under_api_only(web) -> None:
    for old in ("/stats", "/projects", "/changes", "/openapi.json", "/docs", "/patches.atom"):
        response = web.get(old)
        assert response.status_code == 404, old
        assert response.headers["content-type"].startswith("text/html"), old
    assert web.get("/patches").headers["content-type"].startswith("text/html")
    schema = web.get("/api/openapi.json").json()
    assert schema["paths"] and all(path.startswith("/api/") for path in schema["paths"])
    assert "/api/people/{email}" in schema["paths"]
    assert web.get("/api/docs").status_code == 200
    assert web.get("/health").json()["store"] == "reachable"
    assert web.get("/api/health").json()["store"] == "reachable"
    unknown = web.get("/api/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"] == "no route GET /api/nothing"


def test_hostile_mail_is_text_on_every_page(web) -> None:
    for path in (
        f"/patches/{HOSTILE_PATCH}",
        "/?submitter=mallory@evil.example",
        "/people/mallory@evil.example",
    ):
        response = web.get(path)
        assert response.status_code == 200, path
        page = Page(response.text)
        assert not page.tags & {"script", "img", "iframe", "object"}, path
        assert not [name for name, _ in page.attrs_seen if name.startswith("on")], path
        assert not [h for h, _ in page.links if h.lower().lstrip().startswith("javascript")]
        assert "&lt;script&gt;" in response.text, path
    detail = web.get(f"/patches/{HOSTILE_PATCH}").text
    assert "window.__pwned=&#39;body&#39;" in detail
    # The patch's javascript: URLs are dropped, not linked.
    assert "on Patchwork" not in detail
    assert "on lore</a></li>" not in detail


@pytest.fixture
def lambda_handler(monkeypatch, web_site: WebSite):
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{web_site.store.path}")
    monkeypatch.setattr(lambda_api, "_app", None)
    return lambda_api.handler


def test_lambda_serves_the_same_pages_behind_its_stage(lambda_handler, web) -> None:
    answer = lambda_handler(rest_event("/patches/182"), InvocationContext())
    assert answer["statusCode"] == 200
    headers = {k.lower(): v[-1] for k, v in answer["multiValueHeaders"].items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'none'" in headers["content-security-policy"]
    page = Page(answer["body"])
    assert page.twin == "/prod/api/patches/182"
    ours = [h for h, _ in page.links if not urlsplit(h).scheme and not h.startswith("#")]
    assert ours and all(h.startswith("/prod/") for h in ours)
    # The same page as the local server's, but for the stage in front of every path.
    assert answer["body"].replace('="/prod/', '="/') == web.get("/patches/182").text
    twin = lambda_handler(rest_event("/api/patches/182"), InvocationContext())
    assert json.loads(twin["body"]) == web.get("/api/patches/182").json()
    missing = lambda_handler(rest_event("/series/123456789"), InvocationContext())
    assert missing["statusCode"] == 404 and "no series 123456789" in missing["body"]


def test_a_patch_mail_with_an_empty_subject_still_has_a_visible_link(web) -> None:
    # Patch 1321 of the dump was sent with an empty Subject: line; its JSON name is "".
    assert web.get("/api/patches/1321").json()["name"] == ""
    assert "<h1>(no subject)</h1>" in web.get("/patches/1321").text
    listed = Page(web.get("/?submitter=zhtfdev@gmail.com").text)
    assert "(no subject)" in listed.row_names

# SPDX-License-Identifier: GPL-2.0-or-later
"""The pages in a real browser: Debian's chromium, driven by Playwright, on the recorded data.

A reader opens the patch list, filters it, follows a patch, its series, another version and
a reviewer by clicking links, with JavaScript off; every page shows what its JSON twin says,
logs no console error and asks nothing of another origin. The hostile mail, with JavaScript
on, renders as text and runs nothing. Screenshots of every page at desktop and phone widths
are saved as artefacts (the directory is printed; ``LKML_SCREENSHOTS`` picks another).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.integration.web_fixtures import (
    HOSTILE_NAME,
    HOSTILE_PATCH,
    HOSTILE_SUBJECT,
    WebSite,
    web,
    web_site,
)
from tests.peers.browser import DESKTOP, PHONE, browser

pytestmark = pytest.mark.integration
__all__ = ["browser", "web", "web_site"]


@dataclass
class Watch:
    """What the pages of one browser context did that they should not have."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._request)
        context.on("page", self._page)

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.origin):
            self.foreign.append(request.url)

    def _page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._error)
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _error(self, error: Any) -> None:
        self.errors.append(str(error))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    chosen = os.environ.get("LKML_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nscreenshots of the pages: {folder}")
    return folder


@pytest.fixture(scope="module")
def reader(browser: Browser, web_site: WebSite) -> Iterator[tuple[Page, Watch]]:
    """A desktop reader with JavaScript off: every page must work without it."""
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    watch = Watch(web_site.url)
    watch.attach(context)
    page = context.new_page()
    yield page, watch
    context.close()


def twin_of(page: Page, web: httpx.Client) -> Any:
    href = page.locator('link[rel="alternate"][type="application/json"]').get_attribute("href")
    assert href is not None
    answer = web.get(href)
    assert answer.status_code == 200, href
    return answer.json()


def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def shoot(browser: Browser, folder: Path, name: str, url: str, phone_at: str = "") -> None:
    """The page at desktop and phone widths; ``phone_at`` (``#id``) scrolls the phone's to
    what its name says, when a phone's first screen would show only what comes before it."""
    for width, viewport, fragment in (("desktop", DESKTOP, ""), ("phone", PHONE, phone_at)):
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        page = context.new_page()
        page.goto(url + fragment)
        page.screenshot(path=str(folder / f"{name}-{width}.png"))
        context.close()


def test_a_reader_clicks_from_the_list_to_a_patch_its_series_versions_and_a_reviewer(
    reader, web, web_site: WebSite, browser: Browser, artefacts: Path
) -> None:
    page, watch = reader
    visited: dict[str, str] = {}

    page.goto(f"{web_site.url}/")
    twin = twin_of(page, web)
    assert texts(page, "table.patches td.name") == [i["name"] for i in twin["items"]]
    assert len(twin["items"]) == 30
    visited["patches"] = page.url

    # Filter with the form: the empty fields vanish from the URL, the twin says the same.
    page.select_option("#review_status", "reviewed")
    page.fill("#q", "netfilter")
    page.click("form.filters button[type=submit]")
    assert page.url == f"{web_site.url}/?q=netfilter&review_status=reviewed"
    twin = twin_of(page, web)
    assert twin["items"]
    assert texts(page, "table.patches td.name") == [i["name"] for i in twin["items"]]
    assert set(texts(page, "table.patches .status")) == {"reviewed"}
    assert page.input_value("#q") == "netfilter"

    # A patch: title, statuses and reason, trailers; the diff and quotes start folded.
    # The newest reviewed patch whose series has more than one version.
    item = next(
        i
        for i in twin["items"]
        if i["series"]
        and len(web.get(f"/api/series/{i['series'][0]['id']}/versions").json()["versions"]) > 1
    )
    page.click(f'table.patches td.name a[href="/patches/{item["id"]}"]')
    detail = twin_of(page, web)
    assert page.locator("h1").inner_text() == detail["name"] == item["name"]
    facts = page.locator("dl.facts").inner_text()
    assert detail["status"]["status"] == "reviewed"
    assert detail["status"]["reason"] in facts and detail["state"] in facts
    table = page.locator("table.trailers").inner_text()
    for trailer in detail["status"]["given"]:
        assert (trailer["given_by_name"] or trailer["given_by_email"]) in table
    for carried in detail["status"]["carried"]:
        assert f"carried from v{carried['from_version']}" in table
    for folded in page.locator("details.diff, details.quoted").all():
        assert folded.get_attribute("open") is None
        assert not folded.locator("pre").is_visible()
    visited["patch"] = page.url
    patch_url = page.url

    # Its series: patches with their statuses, the versions, this one marked.
    page.click("dl.facts a[href^='/series/']")
    series = twin_of(page, web)
    versions = web.get(f"/api/series/{series['id']}/versions").json()
    assert page.locator("h1").inner_text().endswith(f"v{series['version']}")
    assert texts(page, "table.series-patches td.name") == [p["name"] for p in series["patches"]]
    assert texts(page, "table.series-patches .status") == [
        p["review_status"] for p in series["patches"]
    ]
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == len(versions["versions"])
    assert texts(page, "table.versions .status") == [v["status"] for v in versions["versions"]]
    current = page.locator('table.versions tr[aria-current="page"]').inner_text()
    assert current.startswith(f"v{series['version']}") and "this page" in current
    visited["series"] = page.url

    # Another version, by its link in the history.
    other = next(v for v in versions["versions"] if v["series_id"] != series["id"])
    page.click(f'table.versions a[href="/series/{other["series_id"]}"]')
    assert twin_of(page, web)["id"] == other["series_id"]
    current = page.locator('table.versions tr[aria-current="page"]').inner_text()
    assert current.startswith(f"v{other['version']}")

    # Back on the patch, its reviewer's page: what they gave, what waits on reviewers.
    page.goto(patch_url)
    reviewer = page.locator("table.trailers tbody tr td:nth-child(3) a").first
    reviewer.click()
    person = twin_of(page, web)
    assert person["email"] in page.locator("h1").inner_text()
    given = texts(page, "table.given td.name")
    assert given == [g["patch"]["name"] for g in person["given"]]
    assert item["name"] in given
    pending = page.locator("section[aria-labelledby=pending] table.patches td.name")
    assert pending.all_inner_texts() == [p["name"] for p in person["pending"]]
    visited["person"] = page.url

    page.goto(f"{web_site.url}/patches/123456789")
    assert "no patch 123456789" in page.locator("main").inner_text()

    for name, url in visited.items():
        shoot(browser, artefacts, name, url)
    # The deliberate 404 above is the only failed load the console saw.
    assert [e for e in watch.errors if "404" not in e] == []
    assert len(watch.errors) <= 1
    assert watch.foreign == []


def test_hostile_mail_renders_as_text_and_runs_nothing(
    browser: Browser, web_site: WebSite, artefacts: Path
) -> None:
    # JavaScript on: nothing may run even so.
    context = browser.new_context(viewport=DESKTOP)
    watch = Watch(web_site.url)
    watch.attach(context)
    page = context.new_page()
    for path in (
        f"/patches/{HOSTILE_PATCH}",
        "/people/mallory@evil.example",
        "/?submitter=mallory@evil.example",
    ):
        response = page.goto(f"{web_site.url}{path}")
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy
        for folded in page.locator("details").all():
            folded.locator("summary").click()
        assert page.locator("script, img, iframe, object").count() == 0
        hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
        assert not [h for h in hrefs if not h.startswith(("http:", "https:", "mailto:"))]
        assert page.evaluate("typeof window.__pwned") == "undefined"
    page.goto(f"{web_site.url}/patches/{HOSTILE_PATCH}")
    assert page.locator("h1").inner_text() == HOSTILE_SUBJECT
    assert "Mallory" in page.locator("dl.facts").inner_text()
    assert HOSTILE_NAME in page.locator("dl.facts").inner_text()
    body = page.locator("article.message pre.body").first.inner_text()
    assert "<script>window.__pwned='body'</script>" in body
    assert "javascript:alert(1)" in body
    page.screenshot(path=str(artefacts / "hostile-desktop.png"))
    context.close()
    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.foreign == []


# v13 of "conntrack: bridge: add double vlan, pppoe and pppoe-in-q" (v10 … v17 in the dump),
# and the IPVS maintainer, whose queue tests/data/queue/ja-ssi-bg.json lists by hand.
RANGE_DIFF_SERIES = 429
QUEUE_REVIEWER = "ja@ssi.bg"


def test_a_reader_sees_what_changed_since_the_previous_version_and_opens_a_diff(
    reader, web, web_site: WebSite, browser: Browser, artefacts: Path
) -> None:
    page, watch = reader
    twin = web.get(f"/api/series/{RANGE_DIFF_SERIES}/range-diff").json()
    page.goto(f"{web_site.url}/series/{RANGE_DIFF_SERIES}")
    assert page.locator("h2#range-diff").inner_text() == f"Changes since v{twin['against_version']}"
    assert texts(page, "table.range-diff td.mark") == [p["mark"] for p in twin["pairs"]]
    changed = page.locator("details.interdiff")
    assert changed.count() == twin["counts"]["changed"] > 0
    first = changed.first
    assert not first.locator("pre").is_visible()
    first.locator("summary").click()  # a <details>: opens without JavaScript
    assert first.locator("pre").is_visible()
    shown = first.locator("pre").inner_text()
    interdiff = next(p["interdiff"] for p in twin["pairs"] if p["verdict"] == "changed")
    assert shown.strip() == interdiff.strip()
    page.screenshot(path=str(artefacts / "range-diff-open-desktop.png"), full_page=True)
    shoot(browser, artefacts, "range-diff", page.url, phone_at="#range-diff")
    assert watch.foreign == []


def test_a_reviewer_reads_their_queue(
    reader, web, web_site: WebSite, browser: Browser, artefacts: Path
) -> None:
    page, watch = reader
    twin = web.get(f"/api/people/{QUEUE_REVIEWER}/queue").json()
    assert twin["items"]
    page.goto(f"{web_site.url}/people/{QUEUE_REVIEWER}")
    page.click(f'a[href="/people/{QUEUE_REVIEWER}/queue"]')
    assert page.locator("h1").inner_text() == f"Waiting on {QUEUE_REVIEWER}"
    assert texts(page, "table.queue td.name") == [i["patch"]["name"] for i in twin["items"]]
    # How long each waited is counted to the server's clock (pinned in test_review_intel.py).
    assert all(texts(page, "table.queue td.date"))
    page.click("table.queue td.name a >> nth=0")
    assert twin_of(page, web)["id"] == twin["items"][0]["patch"]["id"]
    shoot(browser, artefacts, "queue", f"{web_site.url}/people/{QUEUE_REVIEWER}/queue")
    assert watch.foreign == []


# Each body cell of a table as the browser shows it: its column's header, the label the
# stylesheet puts before it (the computed ::before content, "none" without one) and where
# the cell is on the page.
CELLS_AS_SHOWN = """tables => tables.flatMap(table => {
  const heads = [...table.querySelectorAll(':scope > thead th')].map(th => th.textContent.trim());
  return [...table.querySelectorAll(':scope > tbody > tr')]
    .filter(row => !row.querySelector(':scope > td[colspan]'))
    .flatMap((row, r) => [...row.children].map((cell, c) => {
      const label = getComputedStyle(cell, '::before');
      const box = cell.getBoundingClientRect();
      return {
        table: table.className, row: r, column: heads[c], text: cell.innerText.trim(),
        label: label.content, shown: label.display !== 'none' && label.visibility !== 'hidden',
        top: box.top, bottom: box.bottom,
      };
    }));
})"""


def cells_as_shown(page: Page) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = page.locator("main table").evaluate_all(CELLS_AS_SHOWN)
    return cells


def test_at_phone_width_every_stacked_value_carries_its_column_label(
    browser: Browser, web, web_site: WebSite
) -> None:
    """On a phone the header row leaves the screen and each row stacks its cells: each value
    is then led by its column's label ("Reviewed by others: nobody yet", not a bare "nobody
    yet"). At desktop width the header row is there and no cell repeats it."""
    person = web.get(f"/api/people/{QUEUE_REVIEWER}").json()
    reviewed = person["given"][0]["patch"]["id"]  # a patch with trailers in its table
    pages = {
        "list": "/",
        "queue": f"/people/{QUEUE_REVIEWER}/queue",
        "series": f"/series/{RANGE_DIFF_SERIES}",
        "person": f"/people/{QUEUE_REVIEWER}",
        "patch": f"/patches/{reviewed}",
    }
    phone = browser.new_context(viewport=PHONE, java_script_enabled=False)
    desktop = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    on_phone, on_desktop = phone.new_page(), desktop.new_page()
    tables_seen: set[str] = set()
    for name, path in pages.items():
        on_phone.goto(f"{web_site.url}{path}")
        cells = cells_as_shown(on_phone)
        assert cells, name
        # Stacked: each cell of a row below the one before it, as on a phone.
        for before, cell in pairwise(cells):
            if (before["table"], before["row"]) == (cell["table"], cell["row"]):
                assert cell["top"] >= before["bottom"] - 1, (name, before, cell)
        unlabelled = [
            (c["table"], c["column"], c["label"], c["text"][:40])
            for c in cells
            if not (c["shown"] and c["label"] == f'"{c["column"]}"')
        ]
        assert unlabelled == [], name
        tables_seen |= {c["table"] for c in cells}
        on_desktop.goto(f"{web_site.url}{path}")
        assert {c["label"] for c in cells_as_shown(on_desktop)} == {"none"}, name
    assert tables_seen == {
        "patches",
        "queue",
        "versions",
        "range-diff",
        "series-patches",
        "given",
        "trailers",
    }

    # What a person reads in the queue: the reviewers column is labelled, and its
    # "nobody yet" is no longer a bare phrase.
    on_phone.goto(f"{web_site.url}{pages['queue']}")
    queue = [c for c in cells_as_shown(on_phone) if c["table"] == "queue"]
    assert {c["column"] for c in queue if c["text"] == "nobody yet"} <= {"Reviewed by others"}
    # Still a table with its column headers for a screen reader, stacked or not.
    tree = on_phone.locator("table.queue").aria_snapshot()
    assert 'columnheader "Reviewed by others"' in tree and "- cell" in tree
    phone.close()
    desktop.close()

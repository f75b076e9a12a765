# SPDX-License-Identifier: GPL-2.0-or-later
"""Review intelligence over the real netfilter-devel data, end to end.

fetch-patches (Patchwork test server, the real dump) → fetch-discussions (real public-inbox)
→ review-intel, on a SQLite store, then the API answers over HTTP: version chains, review
status filters, the per-person view, the Atom feed and the "changed since" cursor.
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from lkml_assistant.api.app import create_local_app
from lkml_assistant.config import load_settings
from lkml_assistant.intel.queue import is_list_address
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.jobs import Jobs
from tests.integration.test_api import Served
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"
# Eric Woudstra's "conntrack: bridge: add double vlan, pppoe and pppoe-in-q", v10 to v17 in
# the dump: one chain, each version superseded by the next.
VLAN_CHAIN = [150, 238, 386, 429, 439, 625, 720, 733]
# Pablo's "netfilter fixes for -stable" pull requests share one title and submitter but are
# different series (one per stable tree and week): they must not be chained. Series 161 is
# the real v2 of 160, posted the same day.
STABLE_PULLS = [323, 324, 326, 352, 752, 753, 754, 755, 756]
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def world(tmp_path_factory, public_inbox):
    path = tmp_path_factory.mktemp("intel") / "store.sqlite3"
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        settings = load_settings(
            patchwork_url=server.url,
            lore_url=public_inbox.url,
            projects=PROJECT,
            store=f"sqlite:///{path}",
            request_interval=0,
            backfill_days=400,
        )
        store = SqliteStore(path)
        # Just after the dump's last patch (2025-12-29): the window holds the whole year.
        now = datetime(2025, 12, 30, 12, tzinfo=UTC)
        jobs = Jobs(settings, store)
        jobs.fetch_patches(now)
        jobs.fetch_discussions(now)
        first = jobs.review_intel(now)
        again = jobs.review_intel(now)
        yield {"store": store, "settings": settings, "first": first, "again": again}
        store.close()


@pytest.fixture(scope="module")
def http(world):
    with (
        Served(create_local_app(world["store"], world["settings"])) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        yield client


def test_review_intel_links_versions_and_a_rerun_writes_nothing(world):
    first, again = world["first"], world["again"]
    assert first.status == "ok" and first.series_seen > 800
    assert first.chains > 20 and first.written > first.series_seen
    assert again.written == 0 and again.unchanged == first.written + first.unchanged


def test_a_long_chain_is_linked_in_order_and_older_versions_are_superseded(world):
    store = world["store"]
    links = store.reviews.get_links(VLAN_CHAIN)
    assert set(links) == set(VLAN_CHAIN)
    chain_ids = {link.chain_id for link in links.values()}
    assert len(chain_ids) == 1
    chain = [link.series_id for link in store.reviews.chain(chain_ids.pop())]
    assert [sid for sid in chain if sid in VLAN_CHAIN] == VLAN_CHAIN
    for older, newer in itertools.pairwise(VLAN_CHAIN):
        assert links[older].superseded_by == newer
    assert links[VLAN_CHAIN[-1]].superseded_by is None
    # Every patch of a superseded version is superseded, unless Patchwork says accepted.
    older = store.series.get_series(VLAN_CHAIN[0])
    assert older is not None
    reviews = store.reviews.get_reviews(older.patch_ids)
    assert reviews and {r.status for r in reviews.values()} <= {"superseded", "accepted"}


def test_same_titled_pull_requests_are_not_versions_of_each_other(world):
    links = world["store"].reviews.get_links([*STABLE_PULLS, 160, 161])
    chains = {links[sid].chain_id for sid in STABLE_PULLS if sid in links}
    assert len(chains) == len([sid for sid in STABLE_PULLS if sid in links])
    assert links[160].superseded_by == 161


def test_reviewed_means_a_review_from_someone_else(world):
    store = world["store"]
    page = store.patches.page_patches(PatchQuery(project=PROJECT), limit=5000)
    reviews = store.reviews.get_reviews(p.id for p in page)
    patches = {p.id: p for p in page}
    reviewed = [r for r in reviews.values() if r.status == "reviewed"]
    assert reviewed
    for review in reviewed:
        submitter = patches[review.patch_id].submitter.email.casefold()
        assert any(who != submitter for who in review.reviewers)
    # Patch 55 got a Reviewed-by from Pablo in reply Z32-jODK1oDsAYRp@calendula.
    assert "pablo@netfilter.org" in reviews[55].reviewers


def test_versions_route_lists_the_chain_with_statuses(http):
    answer = http.get(f"/api/series/{VLAN_CHAIN[3]}/versions")
    assert answer.status_code == 200
    body = answer.json()
    ids = [v["series_id"] for v in body["versions"] if v["resend_of"] is None]
    assert [sid for sid in ids if sid in VLAN_CHAIN] == VLAN_CHAIN
    assert body["latest"] == VLAN_CHAIN[-1]
    by_id = {v["series_id"]: v for v in body["versions"]}
    assert by_id[VLAN_CHAIN[0]]["status"] == "superseded"
    assert by_id[VLAN_CHAIN[1]]["rule"] in {"change-id", "in-reply-to", "lore-link", "subject"}
    assert http.get("/api/series/99999999/versions").status_code == 404


def test_versions_route_states_the_series_status_review_intel_stored(http, world):
    links = world["store"].reviews.get_links(VLAN_CHAIN)
    assert all(link.status is not None for link in links.values())
    body = http.get(f"/api/series/{VLAN_CHAIN[-1]}/versions").json()
    by_id = {v["series_id"]: v["status"] for v in body["versions"]}
    assert {sid: by_id[sid] for sid in VLAN_CHAIN} == {sid: links[sid].status for sid in VLAN_CHAIN}
    assert set(by_id.values()) - {"superseded", "accepted"}, "the newest version is open"


def test_review_status_filter_pages_only_matching_patches(http):
    seen = []
    cursor = None
    for _ in range(20):
        params = {"project": PROJECT, "review_status": "reviewed", "limit": "50"}
        if cursor:
            params["cursor"] = cursor
        body = http.get("/api/patches", params=params).json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen and {item["review_status"] for item in seen} == {"reviewed"}
    assert len({item["id"] for item in seen}) == len(seen)
    bad = http.get("/api/patches", params={"review_status": "lgtm"})
    assert bad.status_code == 400 and "review_status" in bad.text


def test_person_view_lists_given_reviews(http, world):
    body = http.get("/api/people/pablo@netfilter.org/reviews", params={"limit": "200"}).json()
    assert any(item["id"] == 55 for item in body["given"])
    assert all(item["review_status"] in {"unreviewed", "in-discussion"} for item in body["pending"])
    assert http.get("/api/people/not-an-address/reviews").status_code == 400


def test_atom_feed_of_a_filtered_list_is_valid_atom(http):
    answer = http.get("/api/patches.atom", params={"project": PROJECT, "limit": "20"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 20
    for entry in entries:
        for child in ("id", "title", "updated", "author", "link", "summary"):
            assert entry.find(f"{ATOM}{child}") is not None, child
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 20
    assert http.get("/api/patches.atom", params={"review_status": "nope"}).status_code == 400


def test_changes_cursor_flows_from_latest(http, world):
    start = http.get("/api/changes").json()
    assert start["items"] == [] and start["cursor"]
    quiet = http.get("/api/changes", params={"updated_since": start["cursor"]}).json()
    assert quiet["items"] == [] and quiet["cursor"] == start["cursor"]
    # A state change made in the store shows up once, then never again.
    store = world["store"]
    patch = store.patches.get_patch(55)
    assert patch is not None
    store.patches.upsert_patches([patch.model_copy(update={"state": "accepted"})])
    moved = http.get("/api/changes", params={"updated_since": start["cursor"]}).json()
    assert [(c["kind"], c["key"]) for c in moved["items"]] == [("patch", "55")]
    after = http.get("/api/changes", params={"updated_since": moved["cursor"]}).json()
    assert after["items"] == []
    garbage = http.get("/api/changes", params={"updated_since": "not-a-cursor"})
    assert garbage.status_code == 400


def test_review_intel_stores_each_versions_range_diff_once(world):
    store, first, again = world["store"], world["first"], world["again"]
    assert first.range_diffs_written > 20 and again.range_diffs_written == 0
    links = store.reviews.get_links(VLAN_CHAIN)
    for older, newer in itertools.pairwise(VLAN_CHAIN):
        assert links[newer].previous_id == older
        record = store.range_diffs.get_range_diff(newer, older)
        assert record is not None and (record.version, record.against_version) == (
            links[newer].version,
            links[older].version,
        )
        new_series = store.series.get_series(newer)
        assert new_series is not None
        # Every patch of the newer version is in exactly one pair.
        assert sorted(p.new_index for p in record.pairs if p.new_index is not None) == list(
            range(len(new_series.patch_ids))
        )


def test_range_diff_route_against_the_previous_and_an_earlier_version(http, world):
    newer, older, oldest = VLAN_CHAIN[3], VLAN_CHAIN[2], VLAN_CHAIN[0]
    body = http.get(f"/api/series/{newer}/range-diff").json()
    assert (body["against_id"], body["previous"], body["stored"]) == (older, True, True)
    assert sum(body["counts"].values()) == len(body["pairs"])
    for pair in body["pairs"]:
        assert (
            pair["mark"]
            == {"unchanged": "=", "changed": "!", "added": ">", "dropped": "<"}[pair["verdict"]]
        )
        assert bool(pair["interdiff"]) == (pair["verdict"] == "changed")
    far = http.get(f"/api/series/{newer}/range-diff", params={"against": oldest}).json()
    assert (far["against_id"], far["previous"], far["stored"]) == (oldest, False, False)
    # The same rule on the spot as stored: against the previous version, built again.
    store = world["store"]
    from lkml_assistant.services.range_diffs import range_diff_from_store

    built = range_diff_from_store(
        store, store.series.get_series(newer), store.series.get_series(older)
    )
    assert built == store.range_diffs.get_range_diff(newer, older)


def test_range_diff_route_rejects_what_is_not_an_earlier_version(http):
    newer = VLAN_CHAIN[3]
    for against in (VLAN_CHAIN[5], newer, STABLE_PULLS[0]):
        answer = http.get(f"/api/series/{newer}/range-diff", params={"against": against})
        assert answer.status_code == 400, against
    assert http.get(f"/api/series/{newer}/range-diff?against=abc").status_code == 400
    assert http.get("/api/series/99999999/range-diff").status_code == 404
    assert http.get(f"/api/series/{STABLE_PULLS[0]}/range-diff").status_code == 404


def test_series_page_shows_each_pairs_verdict_and_the_changed_ones_diffs(http):
    newer = VLAN_CHAIN[3]
    body = http.get(f"/api/series/{newer}/range-diff").json()
    page = http.get(f"/series/{newer}")
    assert page.status_code == 200
    html = page.text
    assert f"Changes since v{body['against_version']}" in html
    assert html.count('<tr class="pair pair-') == len(body["pairs"])
    for verdict, count in body["counts"].items():
        assert html.count(f'<tr class="pair pair-{verdict}">') == count
    changed = sum(1 for p in body["pairs"] if p["verdict"] == "changed")
    assert html.count('<details class="diff interdiff">') == changed
    far = http.get(f"/series/{newer}", params={"against": VLAN_CHAIN[0]}).text
    assert "(not the previous version)" in far
    first = http.get(f"/series/{STABLE_PULLS[0]}").text
    assert "Changes since" not in first


QUEUE_DATA = Path(__file__).parent.parent / "data" / "queue" / "ja-ssi-bg.json"


@pytest.fixture(scope="module")
def pinned_http(world):
    """The API with its clock pinned: how long a patch has waited is counted to NOW."""
    app = create_local_app(world["store"], world["settings"], clock=lambda: NOW)
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


NOW = datetime(2025, 12, 30, 12, tzinfo=UTC)


def test_a_reviewers_queue_is_the_hand_built_list_from_the_mail(pinned_http):
    expected = json.loads(QUEUE_DATA.read_text())
    reviewer = expected["reviewer"]
    body = pinned_http.get(f"/api/people/{reviewer}/queue", params={"limit": 100}).json()
    assert [item["patch"]["id"] for item in body["items"]] == expected["expected"]
    assert body["now"].startswith("2025-12-30T12:00:00")
    for item in body["items"]:
        posted = datetime.fromisoformat(item["waiting_since"])
        assert item["waited_seconds"] == int((NOW - posted).total_seconds())
        assert reviewer in item["still_waiting_on"] and reviewer in item["asked"]
        assert reviewer not in item["reviewed_by_others"]
        assert not any(is_list_address(a) for a in item["asked"])
        assert item["patch"]["review_status"] not in {"accepted", "rejected", "superseded"}


def test_the_queue_page_and_feed_list_the_same_patches(pinned_http):
    expected = json.loads(QUEUE_DATA.read_text())
    reviewer = expected["reviewer"]
    page = pinned_http.get(f"/people/{reviewer}/queue")
    assert page.status_code == 200
    assert page.text.count('<tr class="waiting">') == len(expected["expected"])
    for patch_id in expected["expected"]:
        assert f'/patches/{patch_id}"' in page.text
    feed = pinned_http.get(f"/api/people/{reviewer}/queue.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    assert [int((i or "").rpartition(":")[2]) for i in ids] == expected["expected"]
    assert all(
        "waiting" in (e.findtext(f"{ATOM}summary") or "") for e in root.findall(f"{ATOM}entry")
    )
    assert pinned_http.get("/api/people/not-an-address/queue").status_code == 400
    # A list is asked on every patch and waits for none.
    assert (
        pinned_http.get("/api/people/netfilter-devel@vger.kernel.org/queue").json()["items"] == []
    )

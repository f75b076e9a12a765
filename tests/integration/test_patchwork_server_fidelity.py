# SPDX-License-Identifier: GPL-2.0-or-later
"""The Patchwork test server answers like the real Patchwork 3.2.1 whose answers were recorded."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.peers.patchwork_server import RECORDED_ORIGIN, PatchworkData, run_patchwork_server
from tests.shared_data import patchwork_dump

pytestmark = pytest.mark.integration
REQUESTS = patchwork_dump() / "requests"


def recorded(name: str) -> tuple[int, dict[str, str], bytes]:
    head = (REQUESTS / f"{name}.headers.txt").read_text().replace("\r\n", "\n").split("\n")
    status = int(head[0].split()[1])
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return status, headers, (REQUESTS / f"{name}.json").read_bytes()


@pytest.fixture(scope="module")
def server():
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        yield server


@pytest.fixture
def get(server):
    with httpx.Client(base_url=server.url) as client:

        def fetch(path: str) -> httpx.Response:
            return client.get(path, headers={"Accept": "application/json"})

        yield fetch


def same_as_recorded(server, response: httpx.Response, name: str) -> None:
    status, headers, body = recorded(name)
    assert response.status_code == status
    ours = response.content.replace(server.url.encode(), RECORDED_ORIGIN.encode())
    if name.startswith("cover-"):
        # The cover detail's headers and content come from mail the dump does not keep.
        mine, theirs = json.loads(ours), json.loads(body)
        assert set(mine) == set(theirs)
        assert {k: v for k, v in mine.items() if k not in ("headers", "content")} == {
            k: v for k, v in theirs.items() if k not in ("headers", "content")
        }
    elif body.startswith((b"[", b"{")):
        assert json.loads(ours) == json.loads(body)
    if "Link" in headers:
        assert response.headers["Link"].replace(server.url, RECORDED_ORIGIN) == headers["Link"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/1.3/patches/?project=netfilter-devel", "patches-page1"),
        ("/api/1.3/patches/?project=netfilter-devel&since=2025-07-09T03:07:57", "patches-since"),
        ("/api/1.3/patches/?project=netfilter-devel&state=accepted", "patches-state"),
        ("/api/1.3/patches/?project=netfilter-devel&state=new", "patches-state-new"),
        (
            "/api/1.3/patches/?project=netfilter-devel&msgid=20250702174725.11371-1-phil@nwl.cc",
            "patches-msgid",
        ),
        ("/api/1.3/patches/?project=netfilter-devel&page=70", "patches-page70-404"),
        ("/api/1.3/patches/?project=netfilter-devel&per_page=1000", "patches-perpage-1000"),
        ("/api/1.3/patches/999999/", "patch-999999-404"),
        ("/api/1.3/series/373/", "series-373"),
        ("/api/1.3/covers/69/", "cover-69"),
        (
            "/api/1.3/events/?project=netfilter-devel&category=patch-state-changed",
            "events-patch-state-changed",
        ),
    ],
)
def test_answers_match_the_recordings(server, get, path, name):
    same_as_recorded(server, get(path), name)


def test_aware_since_is_a_500_like_django(get):
    status, _, body = recorded("patches-since-tz")
    response = get("/api/1.3/patches/?project=netfilter-devel&since=2025-07-09T03:07:57Z")
    assert response.status_code == status == 500
    assert b"Server Error (500)" in response.content and b"Server Error (500)" in body


def test_events_page_like_the_server(get):
    _, headers, _ = recorded("events-since")
    response = get("/api/1.3/events/?project=netfilter-devel&since=2026-11-25T09:08:02")
    assert response.status_code == 200
    assert "page=133&" in headers["Link"] and "page=133&" in response.headers["Link"]
    dates = [event["date"] for event in response.json()]
    assert dates == sorted(dates, reverse=True)


def test_unknown_project_is_an_empty_list_and_people_need_a_login(get):
    assert get("/api/1.3/patches/?project=nope").json() == []
    assert get("/api/1.3/people/").status_code == 403


def test_detail_view_adds_the_fields_the_list_leaves_out(get):
    listed = get("/api/1.3/patches/?project=netfilter-devel&per_page=1").json()[0]
    detail = get(f"/api/1.3/patches/{listed['id']}/").json()
    assert {"headers", "content", "diff", "prefixes"} <= set(detail) - set(listed)


def test_maintainer_actions_raise_events_like_patchwork(server, get):
    try:
        server.data.set_state(5, "accepted")
        server.data.set_archived(6, True)
        events = get("/api/1.3/events/?project=netfilter-devel&per_page=2").json()
        assert events[0]["category"] == "patch-state-changed"
        assert events[0]["payload"]["previous_state"] == "new"
        assert events[0]["payload"]["current_state"] == "accepted"
        assert events[0]["payload"]["patch"]["id"] == 5
        assert (
            events[1]["category"] != "patch-state-changed"
            or events[1]["payload"]["patch"]["id"] != 6
        )
        assert get("/api/1.3/patches/6/").json()["archived"] is True
    finally:
        server.data.reset()


@pytest.mark.parametrize("kind", ["429", "502", "503", "malformed"])
def test_faults_fire_the_given_number_of_times(server, get, kind):
    server.faults.add(r"/api/1\.3/projects/", kind, times=2, retry_after=3)
    first, second, third = (get("/api/1.3/projects/") for _ in range(3))
    assert third.status_code == 200 and third.json()[0]["link_name"] == "netfilter-devel"
    if kind == "malformed":
        with pytest.raises(json.JSONDecodeError):
            json.loads(first.content)
    else:
        assert first.status_code == second.status_code == int(kind)
    if kind == "429":
        assert first.headers["Retry-After"] == "3"

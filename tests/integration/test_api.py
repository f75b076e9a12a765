# SPDX-License-Identifier: GPL-2.0-or-later
"""The REST API end to end: the local app served by uvicorn on loopback, queried with httpx,
and the Lambda handler fed real-shaped API Gateway REST proxy events; both must answer alike."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from lkml_assistant.api.app import create_local_app
from lkml_assistant.config import load_settings
from lkml_assistant.functions import api as lambda_api
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.queries.validation import build_patch_query
from tests.lambda_runtime import InvocationContext
from tests.unit.test_queries import seeded_store

pytestmark = pytest.mark.integration


class Served:
    """An ASGI app run by uvicorn in a thread, on an ephemeral loopback port."""

    def __init__(self, app) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with seeded_store(tmp_path_factory, "api") as store:
        yield store


@pytest.fixture(scope="module")
def settings(store):
    return load_settings(store=f"sqlite:///{store.path}", cors_origins="https://ui.example.org")


@pytest.fixture(scope="module")
def http(store, settings):
    with (
        Served(create_local_app(store, settings)) as served,
        httpx.Client(base_url=served.url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def lambda_handler(monkeypatch, store):
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{store.path}")
    monkeypatch.setattr(lambda_api, "_app", None)
    return lambda_api.handler


def rest_event(path: str, params: Sequence[tuple[str, str]] = ()) -> dict:
    """An API Gateway REST proxy event as the service sends it (stage prod, {proxy+})."""
    multi: dict[str, list[str]] = {}
    for key, value in params:
        multi.setdefault(key, []).append(value)
    headers = {"Accept": "application/json", "Host": "abc123.execute-api.eu-west-1.amazonaws.com"}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "test"},
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": 1767225600000,
        },
        "body": None,
        "isBase64Encoded": False,
    }


def test_lists_and_pages_match_the_service(http, store):
    first = http.get("/api/patches", params={"limit": 50})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/json")
    expected = QueryService(store).patches(build_patch_query(), limit=50)
    assert first.json() == expected.model_dump(mode="json")
    seen = [item["id"] for item in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = http.get("/api/patches", params={"limit": 200, "cursor": cursor}).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 2060


def test_filters_over_http(http):
    body = http.get("/api/patches", params=[("state", "accepted"), ("state", "rejected")]).json()
    assert len(body["items"]) == 8
    hits = http.get("/api/patches", params={"q": "nft_set_rbtree", "limit": 200}).json()["items"]
    assert hits and all("rbtree" in item["name"].lower() for item in hits)
    email = hits[0]["submitter"]["email"]
    mine = http.get(f"/api/people/{quote(email)}/patches", params={"limit": 200}).json()["items"]
    assert mine and {item["submitter"]["email"].lower() for item in mine} == {email.lower()}
    june = http.get(
        "/api/patches",
        params={"since": "2025-06-01T00:00:00Z", "until": "2025-07-01", "limit": 200},
    ).json()["items"]
    assert june and all("2025-06" in item["date"] for item in june)


def test_details_discussion_series_stats_health(http, store):
    with_thread = next(
        d for d in store.discussions.get_discussions(range(1, 2061)).values() if d.thread_root
    )
    detail = http.get(f"/api/patches/{with_thread.patch_id}").json()
    assert detail["review"]["thread_root"] == with_thread.thread_root
    discussion = http.get(f"/api/patches/{with_thread.patch_id}/discussion").json()
    assert discussion["thread"]["depth"] == 0
    assert discussion["message_count"] >= 1
    series = http.get(f"/api/series/{detail['series'][0]['id']}").json()
    assert with_thread.patch_id in [p["id"] for p in series["patches"]]
    stats = http.get("/api/stats").json()
    assert stats["patches"] == 2060 and stats["patches_by_project"] == {"netfilter-devel": 2060}
    health = http.get("/api/health")
    # Whether ok or degraded depends on when the seed's runs ended (tests/unit/test_queries.py
    # pins "now"); either is 200, with every scheduled job accounted for.
    assert health.status_code == 200 and health.json()["store"] == "reachable"
    assert set(health.json()["jobs"]) == {
        "fetch-patches",
        "fetch-discussions",
        "refresh-discussions",
        "review-intel",
    }
    assert http.get("/api/projects").json()["items"][0]["link_name"] == "netfilter-devel"


@pytest.mark.parametrize(
    ("path", "params", "status", "loc"),
    [
        ("/api/patches/abc", {}, 400, "path.patch_id"),
        ("/api/patches/0", {}, 400, "path.patch_id"),
        ("/api/patches/99999999999999999999999", {}, 400, "path.patch_id"),
        ("/api/patches", {"limit": "0"}, 400, "query.limit"),
        ("/api/patches", {"limit": "201"}, 400, "query.limit"),
        ("/api/patches", {"limit": "ten"}, 400, "query.limit"),
        ("/api/patches", {"since": "yesterday"}, 400, "query.since"),
        ("/api/patches", {"until": "2025-13-45"}, 400, "query.until"),
        ("/api/patches", {"cursor": "%%%garbage"}, 400, "query.cursor"),
        ("/api/patches", {"series": "x"}, 400, "query.series"),
        ("/api/patches", {"submitter": "nobody"}, 400, "query.submitter"),
        ("/api/patches", {"q": "-"}, 400, "query.q"),
        ("/api/people/nobody/patches", {}, 400, "path.email"),
        ("/api/series/-3", {}, 400, "path.series_id"),
        ("/api/patches/123456789", {}, 404, None),
        ("/api/patches/123456789/discussion", {}, 404, None),
        ("/api/series/123456789", {}, 404, None),
        ("/api/no/such/route", {}, 404, None),
        # Control characters in any text parameter: a 400, never the title search's 500.
        ("/api/patches", {"q": "a\x00b"}, 400, "query.q"),
        ("/api/patches.atom", {"q": "a\x00b"}, 400, "query.q"),
        ("/api/patches", {"project": "net\x1bfilter"}, 400, "query.project"),
        ("/api/patches", {"q": "a\tb"}, 400, "query.q"),
        ("/api/patches", {"state": "new\x7f"}, 400, "query.state"),
        ("/api/changes", {"updated_since": "\x00"}, 400, "query.updated_since"),
        ("/api/people/a%00b@example.org/patches", {}, 400, "path"),
        # Unknown parameters are named, not silently ignored.
        ("/api/patches", {"status": "reviewed"}, 400, "query.status"),
        ("/api/patches", {"per_page": "5"}, 400, "query.per_page"),
        ("/api/patches.atom", {"cursor": "x"}, 400, "query.cursor"),
        ("/api/patches/1", {"limit": "5"}, 400, "query.limit"),
        ("/api/stats", {"verbose": "1"}, 400, "query.verbose"),
        ("/api/health", {"x": ""}, 400, "query.x"),
        ("/api/patches", {"msgid": "<>"}, 400, "query.msgid"),
    ],
)
def test_bad_input_is_a_json_error(http, path, params, status, loc):
    response = http.get(path, params=params)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "details"} and body["error"]
    if loc:
        assert loc in [d["loc"] for d in body["details"]]
    assert "Traceback" not in response.text


def test_unknown_parameters_are_named(http):
    response = http.get(
        "/api/patches", params={"status": "reviewed", "per_page": "5", "limit": "3"}
    )
    assert response.status_code == 400
    body = response.json()
    assert [d["loc"] for d in body["details"]] == ["query.per_page", "query.status"]
    assert "unknown parameter" in body["details"][0]["msg"]


def test_a_control_character_is_refused_with_a_clear_message(http):
    response = http.get("/api/patches", params={"q": "a\x00b"})
    assert response.status_code == 400
    (detail,) = response.json()["details"]
    assert detail == {
        "loc": "query.q",
        "msg": "must not contain control characters (found U+0000)",
        "type": "value_error",
    }


@pytest.mark.parametrize("spelling", ["{}", "<{}>", " <{}> "])
def test_msgid_finds_the_patch_with_or_without_angle_brackets(http, store, spelling):
    patch = store.patches.get_patch(985)
    assert patch is not None
    body = http.get("/api/patches", params={"msgid": spelling.format(patch.msgid)}).json()
    assert [item["id"] for item in body["items"]] == [985]
    assert body["items"][0]["msgid"] == patch.msgid
    feed = http.get("/api/patches.atom", params={"msgid": spelling.format(patch.msgid)})
    assert feed.status_code == 200 and feed.text.count("<entry>") == 1


def test_msgid_combines_with_the_other_filters(http, store):
    patch = store.patches.get_patch(985)
    assert patch is not None
    same = {"msgid": patch.msgid, "project": patch.project, "state": patch.state}
    assert [item["id"] for item in http.get("/api/patches", params=same).json()["items"]] == [985]
    other = {"msgid": patch.msgid, "state": "no-such-state"}
    assert http.get("/api/patches", params=other).json()["items"] == []
    unknown = {"msgid": "no-such-message@example.org"}
    assert http.get("/api/patches", params=unknown).json() == {"items": [], "next_cursor": None}


def test_unknown_state_is_an_empty_list(http):
    response = http.get("/api/patches", params={"state": "no-such-state"})
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}


def test_a_cursor_with_other_filters_is_refused(http):
    cursor = http.get("/api/patches", params={"limit": 5}).json()["next_cursor"]
    response = http.get("/api/patches", params={"limit": 5, "cursor": cursor, "state": "new"})
    assert response.status_code == 400
    assert response.json()["details"][0]["type"] == "cursor_mismatch"


def test_cors_only_for_configured_origins(http, store):
    allowed = http.get("/api/health", headers={"Origin": "https://ui.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example.org"
    other = http.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    settings = load_settings(store=f"sqlite:///{store.path}", cors_origins="")
    with Served(create_local_app(store, settings)) as served:
        plain = httpx.get(f"{served.url}/api/health", headers={"Origin": "https://ui.example.org"})
    assert not [h for h in plain.headers if h.startswith("access-control")]


def test_openapi_and_an_offline_docs_page(http):
    schema = http.get("/api/openapi.json").json()
    assert {
        "/api/projects",
        "/api/patches",
        "/api/patches/{patch_id}",
        "/api/patches/{patch_id}/discussion",
        "/api/series/{series_id}",
        "/api/people/{email}/patches",
        "/api/stats",
        "/api/health",
    } <= set(schema["paths"])
    assert "400" in schema["paths"]["/api/patches"]["get"]["responses"]
    assert "PatchPage" in schema["components"]["schemas"]
    page = http.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Script and styles are inline, and the validator badge (a request to
    # validator.swagger.io) is switched off: the page works on a machine without network.
    # (Powertools writes <script src='…'> and <link rel='stylesheet' …> when it links them.)
    assert "<script src='" not in page.text and "<link rel='stylesheet'" not in page.text
    assert "<style>" in page.text
    assert "validatorUrl: null" in page.text


def test_concurrent_requests(http):
    results: list[int] = []

    def fetch():
        for _ in range(10):
            results.append(http.get("/api/patches", params={"limit": 20}).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 60


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/patches", [("limit", "7"), ("state", "accepted"), ("state", "new")]),
        ("/api/patches/100", []),
        ("/api/patches", [("q", "netfilter conntrack"), ("limit", "3")]),
        ("/api/stats", []),
        ("/api/patches/abc", []),
        ("/api/nowhere", []),
        ("/api/patches", [("per_page", "5")]),
        ("/api/patches", [("q", "a\x00b")]),
    ],
)
def test_lambda_answers_like_the_local_server(http, lambda_handler, path, params):
    local = http.get(path, params=params)
    response = lambda_handler(rest_event(path, params), InvocationContext())
    assert response["statusCode"] == local.status_code
    assert json.loads(response["body"]) == local.json()


def test_lambda_discussion_and_person_routes(http, lambda_handler, store):
    with_thread = next(
        d for d in store.discussions.get_discussions(range(1, 2061)).values() if d.thread_root
    )
    path = f"/api/patches/{with_thread.patch_id}/discussion"
    response = lambda_handler(rest_event(path), InvocationContext())
    assert json.loads(response["body"]) == http.get(path).json()
    email = store.patches.get_patch(with_thread.patch_id).submitter.email
    response = lambda_handler(
        rest_event(f"/api/people/{email}/patches", [("limit", "3")]), InvocationContext()
    )
    assert response["statusCode"] == 200
    assert (
        json.loads(response["body"])
        == http.get(f"/api/people/{quote(email)}/patches", params={"limit": 3}).json()
    )

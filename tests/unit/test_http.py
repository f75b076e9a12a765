# SPDX-License-Identifier: GPL-2.0-or-later
"""The shared HTTP client: backoff, Retry-After, pacing and the error when retries run out."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from lkml_assistant.sources.http import (
    CircuitBreaker,
    CircuitOpenError,
    HttpClient,
    RetryPolicy,
    UpstreamError,
    parse_retry_after,
    user_agent,
)


class Recorder:
    """A transport that answers from a script and remembers what it was asked."""

    def __init__(self, answers: list[httpx.Response | Exception]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(answers, *, retries=3, sleeps=None, **kwargs) -> tuple[HttpClient, Recorder]:
    recorder = Recorder(answers)
    sleeps = sleeps if sleeps is not None else []
    client = HttpClient(
        policy=RetryPolicy(retries=retries, backoff_base=1.0, backoff_max=30.0),
        interval=0,
        sleep=sleeps.append,
        rng=random.Random(1),
        transport=httpx.MockTransport(recorder),
        **kwargs,
    )
    return client, recorder


def test_retries_server_errors_then_succeeds():
    sleeps: list[float] = []
    client, recorder = make_client(
        [httpx.Response(502), httpx.Response(503), httpx.Response(200, json=[])], sleeps=sleeps
    )
    response = client.get("http://pw.test/api/1.3/patches/")
    assert response.status_code == 200
    assert len(recorder.requests) == 3
    assert client.stats.requests == 3 and client.stats.retries == 2
    # Exponential: the second wait's range (1..2 s) lies above the first's (0.5..1 s).
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_honours_retry_after_seconds_and_dates():
    sleeps: list[float] = []
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    client, _ = make_client(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(429, headers={"Retry-After": later}),
            httpx.Response(200, json=[]),
        ],
        sleeps=sleeps,
    )
    client.get("http://pw.test/x")
    assert sleeps[0] >= 7
    assert 18 <= sleeps[1] <= 21


def test_retry_after_beyond_our_patience_fails_clearly():
    client, recorder = make_client([httpx.Response(429, headers={"Retry-After": "3600"})])
    with pytest.raises(UpstreamError) as caught:
        client.get("http://pw.test/x")
    assert caught.value.status == 429
    assert "3600" in str(caught.value)
    assert len(recorder.requests) == 1


def test_gives_up_with_url_and_last_status():
    client, recorder = make_client([httpx.Response(502)] * 4, retries=3)
    with pytest.raises(UpstreamError) as caught:
        client.get("http://pw.test/api/1.3/events/")
    assert len(recorder.requests) == 4
    assert caught.value.status == 502
    assert "http://pw.test/api/1.3/events/" in str(caught.value)
    assert "4 attempts" in str(caught.value)


def test_timeouts_and_connection_errors_are_retried():
    request = httpx.Request("GET", "http://pw.test/x")
    client, recorder = make_client(
        [
            httpx.ReadTimeout("slow", request=request),
            httpx.ConnectError("refused", request=request),
            httpx.Response(200, json={}),
        ]
    )
    assert client.get("http://pw.test/x").status_code == 200
    assert len(recorder.requests) == 3


def test_client_errors_are_not_retried_and_404_is_returned():
    client, recorder = make_client([httpx.Response(404, json={"detail": "Invalid page."})])
    assert client.get("http://pw.test/x").status_code == 404
    client, recorder = make_client([httpx.Response(403, json={"detail": "no"})])
    with pytest.raises(UpstreamError) as caught:
        client.get("http://pw.test/people/")
    assert caught.value.status == 403 and len(recorder.requests) == 1


def test_malformed_body_is_fetched_again():
    def must_be_json(response: httpx.Response) -> None:
        json.loads(response.content)

    client, recorder = make_client(
        [httpx.Response(200, content=b'[{"id": 1, "na'), httpx.Response(200, json=[{"id": 1}])]
    )
    response = client.get("http://pw.test/x", validate=must_be_json)
    assert response.json() == [{"id": 1}]
    assert len(recorder.requests) == 2


def test_persistently_malformed_body_is_an_error():
    def must_be_json(response: httpx.Response) -> None:
        json.loads(response.content)

    client, _ = make_client([httpx.Response(200, content=b"<html>")] * 2, retries=1)
    with pytest.raises(UpstreamError, match="malformed answer"):
        client.get("http://pw.test/x", validate=must_be_json)


def test_user_agent_names_us_and_the_operator_suffix():
    client, recorder = make_client([httpx.Response(200)], user_agent_extra="(ops@example.org)")
    client.get("http://pw.test/x")
    agent = recorder.requests[0].headers["User-Agent"]
    assert agent.startswith("lkml-assistant/")
    assert agent.endswith("(ops@example.org)")
    assert user_agent().startswith("lkml-assistant/")


def test_pacing_spaces_requests():
    sleeps: list[float] = []
    recorder = Recorder([httpx.Response(200)] * 3)
    client = HttpClient(interval=5.0, sleep=sleeps.append, transport=httpx.MockTransport(recorder))
    for _ in range(3):
        client.get("http://pw.test/x")
    # The first request goes at once; the others wait for their slot.
    assert len(sleeps) == 2 and all(4.0 < s <= 10.0 for s in sleeps)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("12", 12.0), ("soon", None)]
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_a_breaker_stops_asking_after_requests_in_a_row_failed_for_good():
    breaker = CircuitBreaker(threshold=2)
    # Every attempt of two requests is a 429: both fail for good, after their retries.
    client, recorder = make_client([httpx.Response(429) for _ in range(4)], retries=1)
    client.breaker = breaker
    for _ in range(2):
        with pytest.raises(UpstreamError):
            client.get("http://lore.test/netdev/a@b/t.mbox.gz")
    assert breaker.open
    with pytest.raises(CircuitOpenError) as raised:
        client.get("http://lore.test/netdev/c@d/t.mbox.gz")
    assert len(recorder.requests) == 4  # the third was not sent
    assert str(raised.value).startswith(
        "stopped asking http://lore.test for this run: 2 requests in a row failed, the last: "
        "http://lore.test/netdev/a@b/t.mbox.gz"
    )
    assert raised.value.status == 429


def test_an_answer_starts_the_count_again():
    answers = [httpx.Response(503), httpx.Response(404), httpx.Response(503), httpx.Response(403)]
    client, recorder = make_client([*answers, httpx.Response(503), httpx.Response(200)], retries=0)
    client.breaker = CircuitBreaker(threshold=2)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            client.get("http://lore.test/x")  # 503, given up at once
        # Not found and forbidden are answers, not an upstream failing: the count restarts.
        try:
            client.get("http://lore.test/y")
        except UpstreamError as exc:
            assert exc.status == 403
    with pytest.raises(UpstreamError):
        client.get("http://lore.test/x")
    assert client.get("http://lore.test/z").status_code == 200
    assert len(recorder.requests) == 6 and not client.breaker.open

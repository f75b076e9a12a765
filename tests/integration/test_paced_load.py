# SPDX-License-Identifier: GPL-2.0-or-later
"""The fixed-rate load client of `make bench` (tests/peers/paced_load.py) against uvicorn on
loopback: it sends exactly rate x seconds requests round-robin over its paths, reads answers
framed by Content-Length and chunked alike on keep-alive connections, counts each status, and
merges its client processes' figures. (How fast is for the benchmark, not asserted here.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.peers.api_server import serve_in_thread
from tests.peers.paced_load import PacedResult, merge, run_one, run_paced

pytestmark = pytest.mark.integration


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    path = scope["path"]
    body = path.encode() * 100
    headers = [(b"content-type", b"text/plain")]
    if path == "/sized":
        headers.append((b"content-length", str(len(body)).encode()))
    status = 404 if path == "/missing" else 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    # Two pieces: uvicorn sends chunked framing when no length is given.
    await send({"type": "http.response.body", "body": body[:50], "more_body": True})
    await send({"type": "http.response.body", "body": body[50:]})


def test_a_fixed_rate_run_sends_every_request_and_counts_every_answer():
    with serve_in_thread(app) as url:
        result = run_one(
            url, ["/sized", "/chunked", "/missing", "/sized"], rate=50, seconds=1, connections=4
        )
        assert result.sent == 50
        assert result.statuses == {200: 38, 404: 12}  # the paths in turn, from the first
        assert result.errors == {}
        assert result.failures == 12 and result.answered == 50
        assert len(result.latencies_ms) == 50

        both = run_paced(url, ["/sized", "/chunked"], rate=40, seconds=1, processes=2)
        assert both.sent == 40 and both.statuses == {200: 40} and both.failures == 0


def test_load_only_against_loopback():
    with pytest.raises(ValueError, match="loopback"):
        run_one("http://192.0.2.1:80", ["/"], rate=1, seconds=1)


def test_merged_figures_add_up():
    a = PacedResult(rate=10, seconds=2, sent=20, answered=19, elapsed=2.1, statuses={200: 19})
    a.errors, a.latencies_ms = {"timeout": 1}, [1.0] * 19
    b = PacedResult(rate=10, seconds=2, sent=20, answered=20, elapsed=2.0, statuses={200: 18})
    b.statuses[500] = 2
    b.latencies_ms = [3.0] * 20
    both = merge([a, b])
    assert (both.rate, both.sent, both.answered, both.elapsed) == (20, 40, 39, 2.1)
    assert both.statuses == {200: 37, 500: 2} and both.errors == {"timeout": 1}
    assert both.failures == 3
    assert both.percentile_ms(0.5) == 3.0 and both.percentile_ms(0.0) == 1.0

# SPDX-License-Identifier: GPL-2.0-or-later
"""The API as an ASGI application for the one-machine mode (``serve`` runs it in uvicorn).

Each HTTP request is turned into the API Gateway REST proxy event Lambda would receive and
answered by the very resolver class the Lambda function uses (``APIGatewayRestResolver``), so
the local server and AWS run the same routes, validation and error mapping.

Why not Powertools' ``HttpResolverLocal``: it runs sync middleware (validation) in worker
threads that then wait on the event loop for the next step. Past a handful of concurrent
requests every pool thread waits and the server stops answering for good (seen with 16 wrk
connections on 2 cores), and the two thread hops per request were most of a patch detail's
latency. Here the resolver runs in the event loop itself, one request at a time: every route
answers in milliseconds, and `serve` uses the other cores with more processes, each with a
store connection of its own (:mod:`lkml_assistant.local.workers`), not with threads.
"""

from __future__ import annotations

import base64
import gc
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic_core import to_json

from lkml_assistant.api.cache import Answer, ResponseCache
from lkml_assistant.api.routes import install
from lkml_assistant.config import Settings
from lkml_assistant.repositories.base import Store
from lkml_assistant.repositories.encoding import Clock, utc_now
from lkml_assistant.services.queries.service import QueryService


def json_text(body: Any) -> str:
    """The JSON text of an answer: pydantic's serializer (Rust), several times faster than
    ``json.dumps`` on a 200-patch page; non-ASCII characters are written as UTF-8, unescaped."""
    return to_json(body).decode()


def new_resolver(settings: Settings) -> APIGatewayRestResolver:
    """The resolver the routes are installed on, the same on Lambda and in local mode."""
    return APIGatewayRestResolver(
        cors=cors_config(settings), enable_validation=True, serializer=json_text
    )


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS headers only for the configured origins; none configured, none sent."""
    if not settings.cors_origins:
        return None
    first, *others = settings.cors_origins
    return CORSConfig(allow_origin=first, extra_origins=others or None, max_age=600)


def proxy_event(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for one ASGI HTTP request."""
    path: str = scope["path"]
    method: str = scope["method"]
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        headers.setdefault(raw_name.decode("latin-1").lower(), []).append(
            raw_value.decode("latin-1")
        )
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
        query.setdefault(name, []).append(value)
    client = scope.get("client") or ("127.0.0.1", 0)
    text_body: str | None = None
    encoded = False
    if body:
        try:
            text_body = body.decode()
        except UnicodeDecodeError:
            text_body, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {name: ", ".join(values) for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": client[0]},
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }


# Answers that carry no body, and so no Content-Length (RFC 9110, 8.6).
_NO_CONTENT = frozenset({204, 304})
# No Lambda runtime here: the routes never read the context.
_LOCAL_CONTEXT = LambdaContext()


class LocalApi:
    """ASGI front of an ``APIGatewayRestResolver``, with the answers it may keep (:mod:`.cache`)."""

    def __init__(
        self, resolver: APIGatewayRestResolver, *, cache: ResponseCache | None = None
    ) -> None:
        self.resolver = resolver
        self.cache = cache

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        key = token = None
        if self.cache is not None:
            origin = next((v for n, v in scope.get("headers", []) if n.lower() == b"origin"), None)
            key = self.cache.key(
                scope["method"], scope["path"], scope.get("query_string", b""), origin
            )
        if key is not None and self.cache is not None:
            kept, token = self.cache.lookup(key)
            if kept is not None:
                await _send(send, kept)
                return
        answer = self._answer(scope, body)
        if key is not None and self.cache is not None:
            self.cache.put(key, token, answer)
        await _send(send, answer)

    def _answer(self, scope: dict[str, Any], body: bytes) -> Answer:
        answer = self.resolver.resolve(proxy_event(scope, body), _LOCAL_CONTEXT)
        headers: list[tuple[bytes, bytes]] = []
        for name, value in (answer.get("headers") or {}).items():
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers.extend(
                (name.lower().encode("latin-1"), str(value).encode("latin-1")) for value in values
            )
        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        status = answer["statusCode"]
        if status not in _NO_CONTENT and not any(name == b"content-length" for name, _ in headers):
            # A length, not chunked framing: uvicorn then sends the body as it is, uncopied.
            headers.append((b"content-length", str(len(data)).encode()))
        return Answer(status, headers, data, time.monotonic())


async def _send(send: Any, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})


def create_local_app(store: Store, settings: Settings, *, clock: Clock = utc_now) -> LocalApi:
    """An ASGI app answering from ``store``; the caller keeps the store open while it runs.
    ``clock`` is the service's now (how long a reviewer's queue has waited)."""
    resolver = new_resolver(settings)
    install(resolver, QueryService(store, clock=clock), lore_url=settings.lore_url)
    freeze_long_lived_objects()
    cache = None
    if settings.api_cache_seconds > 0 and store.change_token() is not None:
        cache = ResponseCache(store.change_token, max_age=settings.api_cache_seconds)
    return LocalApi(resolver, cache=cache)


def freeze_long_lived_objects() -> None:
    """Take what start-up built (modules, schemas, routes) out of the collector's sight.

    Those objects live as long as the process; left in the oldest generation, every full
    collection walks them all, which was most of the p99 of a 200-patch list (30 ms -> 15 ms
    with them frozen, measured on the 100,000-patch benchmark store).
    """
    gc.collect()
    gc.freeze()

# SPDX-License-Identifier: GPL-2.0-or-later
"""A fault-injecting HTTP proxy: put it in front of a real server to see how clients cope.

The proxy forwards every request to ``upstream`` and passes the answer back, unless a
:class:`Fault` matches the request path; then the answer is spoiled the way real networks and
overloaded servers spoil them:

* ``truncate``: the body cut to half, delivered as if whole (a well-delimited short body,
  as when the server's own stream breaks off);
* ``corrupt``: the body at full length with a run of its middle bytes overwritten;
* ``cut``: the full length announced, half the body sent, then the connection closed;
* ``status``: no forwarding at all, an error status (503 by default, optional Retry-After).

A fault hits ``times`` matching requests (every one while it is in place, when None), so "503
for a while, then good" is ``Fault("status", times=3)``. ``requests`` logs what was asked and
which fault, if any, answered it.

    with FaultProxy(public_inbox.url) as proxy:
        proxy.add(Fault("truncate", match="t.mbox.gz"))
        ...  # point the client at proxy.url
"""

from __future__ import annotations

import http.client
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, Self
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultKind", "FaultProxy", "ProxiedRequest"]

FaultKind = Literal["truncate", "corrupt", "cut", "status"]
# Headers passed on both ways; hop-by-hop ones (Connection, Transfer-Encoding) are not.
_REQUEST_HEADERS = ("accept", "accept-encoding", "user-agent", "content-type")
_RESPONSE_HEADERS = ("content-type", "content-encoding", "retry-after", "location")


@dataclass
class Fault:
    kind: FaultKind
    match: str = ""
    """A substring of the request path (with its query); "" matches every request."""
    times: int | None = None
    """How many matching requests it spoils; None: every one until removed."""
    status: int = 503
    retry_after: str | None = None

    def take(self, path: str) -> bool:
        """Whether this fault spoils a request for ``path``, counting it if so."""
        if self.match not in path or self.times == 0:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    path: str
    fault: FaultKind | None


class FaultProxy:
    """A threaded proxy on 127.0.0.1 in front of ``upstream`` (an ``http://host:port`` origin)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"an http:// origin is needed, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.requests: list[ProxiedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        """No more faults: from now on every answer is the upstream's own."""
        with self._lock:
            self._faults.clear()

    def faulted(self, kind: FaultKind | None = None) -> list[ProxiedRequest]:
        """The requests a fault answered (of one kind, if given)."""
        return [r for r in self.requests if r.fault is not None and kind in (None, r.fault)]

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            fault = next((f for f in self._faults if f.take(path)), None)
            self.requests.append(ProxiedRequest(method, path, fault.kind if fault else None))
        return fault

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() in _RESPONSE_HEADERS]
            return response.status, kept, data
        finally:
            connection.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            self._proxy()

        def do_POST(self) -> None:
            self._proxy()

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy._fault_for(self.command, self.path)
            if fault is not None and fault.kind == "status":
                self._send(
                    fault.status,
                    [("Content-Type", "text/plain")],
                    b"fault injected\n",
                    retry_after=fault.retry_after,
                )
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() in _REQUEST_HEADERS}
            status, kept, data = proxy._forward(self.command, self.path, headers, body)
            if fault is None or not data:
                self._send(status, kept, data)
            elif fault.kind == "truncate":
                self._send(status, kept, data[: len(data) // 2])
            elif fault.kind == "corrupt":
                middle = len(data) // 2
                spoiled = min(64, len(data) - middle)
                self._send(
                    status, kept, data[:middle] + b"\xff" * spoiled + data[middle + spoiled :]
                )
            else:  # cut
                self._send(status, kept, data[: len(data) // 2], announced=len(data))
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

        def _send(
            self,
            status: int,
            headers: list[tuple[str, str]],
            body: bytes,
            *,
            retry_after: str | None = None,
            announced: int | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", str(len(body) if announced is None else announced))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

    return Handler

# SPDX-License-Identifier: GPL-2.0-or-later
"""The REST API served by uvicorn on 127.0.0.1, for tests and benchmarks.

- :func:`serve_in_thread`: uvicorn in a daemon thread of this process (tests, fuzzing).
- :func:`serve_in_process`: uvicorn in a child interpreter, so load and latency figures are not
  skewed by sharing the GIL with the client. ``python -m tests.peers.api_server --store PATH``
  is that child: it binds an ephemeral port, prints it on one line, then serves.

Both wait for ``/health`` before returning the base URL, and stop the server on exit.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from lkml_assistant.config import load_settings
from lkml_assistant.repositories.base import Store

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 60.0


def _bound_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it small chunked answers wait ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def make_app(
    store: Store,
    store_url: str = "sqlite:////nonexistent/unused.sqlite3",
    *,
    cache_seconds: float = 0,
) -> Any:
    """The local app on ``store``; without the answer cache unless asked, so that what the
    benchmarks time is the work of each request, not memory."""
    from lkml_assistant.api.app import create_local_app

    settings = load_settings(
        store=store_url, api_host="127.0.0.1", api_port=8000, api_cache_seconds=cache_seconds
    )
    return create_local_app(store, settings)


def wait_healthy(base_url: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health", timeout=5).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"API at {base_url} not healthy within {timeout} s: {last}")


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` from a thread of this process; yields the base URL."""
    sock = _bound_socket()
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        wait_healthy(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_in_process(store_path: Path) -> Iterator[str]:
    """Serve the store at ``store_path`` from a child interpreter; yields the base URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.api_server", "--store", str(store_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"API server did not start (said {line!r})")
        base_url = f"http://127.0.0.1:{line}"
        wait_healthy(base_url)
        yield base_url
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Serve the API over one SQLite store.")
    parser.add_argument("--store", required=True, type=Path)
    args = parser.parse_args(argv)
    from lkml_assistant.repositories.sqlite import SqliteStore

    store = SqliteStore(args.store)
    app = make_app(store, f"sqlite:///{args.store.resolve()}")
    sock = _bound_socket()
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(_config(app)).run(sockets=[sock])
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

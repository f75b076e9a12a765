# SPDX-License-Identifier: GPL-2.0-or-later
"""moto's server on loopback: the AWS peer for DynamoDB, SQS and CloudWatch.

moto is installed with the dev dependencies (``moto[server]``), so nothing outside the project
is needed. The server runs in its own process, as the real services would be, and boto3 reaches
it through its standard endpoint variable ``AWS_ENDPOINT_URL``.

Run it by hand with ``python -m tests.peers.moto_server [PORT]``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

REGION = "us-east-1"

# Credentials moto accepts; boto3 refuses to sign without some.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's documented dummy value
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class MotoServer:
    endpoint: str

    def environ(self) -> dict[str, str]:
        """The variables that point boto3 (and our code through it) at this server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_moto_server(
    port: int | None = None, *, startup_timeout: float = 30.0, module: str | None = None
) -> Iterator[MotoServer]:
    """moto's server on loopback for a ``with`` block; ``module``: run ``python -m module
    PORT`` instead of moto's own entry point (a server built on moto's, such as the
    benchmarks' patched one)."""
    port = port or _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The moto_server entry point of the same environment as this interpreter.
    cmd = [
        sys.executable,
        "-c",
        "from moto.server import main; main()",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    if module is not None:
        cmd = [sys.executable, "-m", module, str(port)]
    env = {**os.environ, **FAKE_CREDENTIALS}
    env.pop("AWS_ENDPOINT_URL", None)
    # The server logs every request to stderr: a file, not a pipe nobody reads, which would
    # fill up after a few thousand requests and block the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"moto server exited with {proc.returncode}: {err[-2000:]}")
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer on {endpoint}") from None
                time.sleep(0.1)
        yield MotoServer(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    with run_moto_server(int(sys.argv[1]) if len(sys.argv) > 1 else 5000) as server:
        print(f"moto on {server.endpoint}; Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

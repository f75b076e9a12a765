# SPDX-License-Identifier: GPL-2.0-or-later
"""`make demo`: LKML Assistant on real data, offline, in one command.

Starts three processes on loopback and stops them together on Ctrl-C (or SIGTERM):

1. the Patchwork API test server with the recorded netfilter-devel dump;
2. a real public-inbox serving the same list's 2025 mail (imported once, then cached in .run/);
3. ``lkml-assistant serve`` pointed at both, with its store in ``.run/demo/``: its first start
   backfills the whole dump, later starts only catch up.

It prints the URLs to open once the API answers, and says when the sample discussion is in.

    python -m tests.peers.demo [--port 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / ".run" / "demo"
PROJECT = "netfilter-devel"
# The patch with the longest review thread of the dump (28 replies).
SAMPLE_PATCH = 985
# v13 of Eric Woudstra's "conntrack: bridge: add double vlan, pppoe and pppoe-in-q" (v10 … v17
# in the dump): its page shows what changed since v12.
SAMPLE_SERIES, SAMPLE_SERIES_VERSION = 429, 13  # noqa: RUF100
# The IPVS maintainer: a short queue of real patches sent to him (tests/data/queue/).
SAMPLE_REVIEWER = "ja@ssi.bg"
START_TIMEOUT = 120.0


class DemoError(Exception):
    """A process of the demo did not start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Demo:
    def __init__(self, api_port: int) -> None:
        self.api_port = api_port
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        # serve logs to the terminal; the peers to their own files under .run/demo/.
        log = None if name == "serve" else (DEMO_DIR / f"{name}.log").open("wb")
        try:
            proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=log,
                # Their own session: Ctrl-C reaches only us, and we stop them in order.
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()
        self.procs.append((name, proc))

    def wait_for(self, name: str, url: str) -> None:
        proc = dict(self.procs)[name]
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url):
            if self.stopping:
                raise KeyboardInterrupt
            if proc.poll() is not None:
                raise DemoError(
                    f"{name} exited with status {proc.returncode}; see {self.log(name)}"
                )
            if time.monotonic() > deadline:
                raise DemoError(f"{name} did not answer at {url}; see {self.log(name)}")
            time.sleep(0.2)

    @staticmethod
    def log(name: str) -> str:
        return "its log above" if name == "serve" else str(DEMO_DIR / f"{name}.log")

    def start(self) -> None:
        started = time.monotonic()
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        pw_port, pi_port = _free_port(), _free_port()
        patchwork, lore = f"http://127.0.0.1:{pw_port}", f"http://127.0.0.1:{pi_port}"
        workdir = DEMO_DIR / "public-inbox"
        shutil.rmtree(workdir, ignore_errors=True)  # a fresh copy from the import cache
        print(f"starting the Patchwork test server and public-inbox (logs in {DEMO_DIR}) …")
        self.spawn(
            "public-inbox",
            ["-m", "tests.peers.public_inbox", "serve", "--port", str(pi_port),
             "--workdir", str(workdir)],
        )  # fmt: skip
        self.spawn(
            "patchwork",
            ["-m", "tests.peers.patchwork_server", "--port", str(pw_port), "--lore-url", lore],
        )
        self.wait_for("patchwork", f"{patchwork}/api/1.3/projects/{PROJECT}/")
        self.wait_for("public-inbox", f"{lore}/{PROJECT}/")
        api = f"http://127.0.0.1:{self.api_port}"
        env = {
            "LKML_PATCHWORK_URL": patchwork,
            "LKML_LORE_URL": lore,
            "LKML_PROJECTS": PROJECT,
            "LKML_STORE": f"sqlite:///{DEMO_DIR / 'lkml-assistant.sqlite3'}",
            # The dump is from 2025: reach back far enough for all of it.
            "LKML_BACKFILL_DAYS": "3650",
            "LKML_REQUEST_INTERVAL": "0",
            "LKML_CONFIG": str(DEMO_DIR / "config.toml"),
        }
        (DEMO_DIR / "config.toml").write_text("# the demo's settings come from its environment\n")
        self.spawn(
            "serve",
            ["-m", "lkml_assistant", "serve", "--host", "127.0.0.1", "--port", str(self.api_port)],
            env,
        )
        self.wait_for("serve", f"{api}/health")
        print(
            f"""
LKML Assistant is serving the netfilter-devel dump (Patchwork {patchwork}, lore {lore}):

  web pages      {api}/
  sample patch   {api}/patches/{SAMPLE_PATCH}
  API docs       {api}/api/docs
  OpenAPI        {api}/api/openapi.json
  patches, JSON  {api}/api/patches?project={PROJECT}&limit=5
  a patch, JSON  {api}/api/patches/{SAMPLE_PATCH}
  its review     {api}/api/patches/{SAMPLE_PATCH}/discussion
  store stats    {api}/api/stats
  what changed   {api}/series/{SAMPLE_SERIES}  (v{SAMPLE_SERIES_VERSION}: since the previous)
  range-diff     {api}/api/series/{SAMPLE_SERIES}/range-diff
  a queue        {api}/people/{SAMPLE_REVIEWER}/queue
  queue, JSON    {api}/api/people/{SAMPLE_REVIEWER}/queue  (Atom: .../queue.atom)

The first start backfills the whole dump (about ten seconds); Ctrl-C stops everything.
""",
            flush=True,
        )
        self.wait_for_backfill(api)
        print(
            f"demo ready in {time.monotonic() - started:.0f} s: the store holds the dump",
            flush=True,
        )

    def wait_for_backfill(self, api: str) -> None:
        """Until the last discussion job has finished (the one of this start, or an earlier)."""
        proc = dict(self.procs)["serve"]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if self.stopping:
                raise KeyboardInterrupt
            with contextlib.suppress(httpx.HTTPError, ValueError):
                runs = httpx.get(f"{api}/api/stats", timeout=5).json()["last_runs"]
                last = runs.get("fetch-discussions")
                if last and last["status"] != "running":
                    return
            time.sleep(0.5)

    def watch(self) -> None:
        while not self.stopping:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    print(f"{name} exited with status {proc.returncode}; stopping the demo")
                    return
            time.sleep(0.5)

    def stop(self) -> None:
        # serve first, so that no job runs against peers that are already gone.
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop in 20 s; killing it")
                    proc.kill()
                    proc.wait()
        print("demo stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.demo", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LKML_API_PORT", "8000")),
        help="port of the API (default: LKML_API_PORT or 8000)",
    )
    args = parser.parse_args(argv)
    demo = Demo(args.port)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        demo.stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    status = 0
    try:
        demo.start()
        demo.watch()
    except KeyboardInterrupt:
        pass
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        status = 1
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            demo.stop()
    return status


if __name__ == "__main__":
    raise SystemExit(main())

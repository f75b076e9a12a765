# SPDX-License-Identifier: GPL-2.0-or-later
"""`make demo`: LKML Assistant on real data, offline, in one command.

Starts three processes on loopback and stops them together on Ctrl-C (or SIGTERM):

1. the Patchwork API test server with the recorded netfilter-devel dump;
2. a real public-inbox serving the same list's 2025 mail (imported once, then cached in .run/);
3. ``lkml-assistant serve`` pointed at both, with its store in ``.run/demo/``: its first start
   backfills the whole dump, later starts only catch up.

A first start on a busy machine can take minutes (public-inbox's import of 4,604 messages
took 111 s on a loaded two-core machine), so the demo has no fixed deadline: it shows how far
each step has come, waits as long as that moves on, and gives up, saying which process and
where to look, only when a process dies or makes no progress for :data:`STALL_SECONDS`. Once
the store holds the dump it prints the web page's URL first, then the others.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
from tests.peers.public_inbox_serve import read_progress

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / ".run" / "demo"
PROJECT = "netfilter-devel"
# The patch with the longest review thread of the dump (28 replies).
SAMPLE_PATCH = 985
API = "/api"  # the JSON API's prefix; the pages for people are at the same paths without it
# A step that shows no progress for this long is stuck (a process that tells nothing of its
# progress, such as the Patchwork test server starting, gets this long in all).
STALL_SECONDS = 120.0
POLL_SECONDS = 0.5
# v13 of Eric Woudstra's "conntrack: bridge: add double vlan, pppoe and pppoe-in-q" (v10 … v17
# in the dump): its page shows what changed since v12.
SAMPLE_SERIES, SAMPLE_SERIES_VERSION = 429, 13
# The IPVS maintainer: a short queue of real patches sent to him (tests/data/queue/).
SAMPLE_REVIEWER = "ja@ssi.bg"


class DemoError(Exception):
    """A process of the demo did not start."""


# --- waiting while something progresses ---------------------------------------------------


@dataclass(frozen=True)
class Look:
    """What one look at a starting process shows."""

    ready: bool
    status: str = ""  # how far it has come, for a person
    mark: Any = None  # changes whenever it has made progress


class StatusLine:
    """Progress on one line of a terminal, rewritten in place; elsewhere (a log, a pipe) a
    line whenever the status changes, at most every ``every`` seconds."""

    def __init__(
        self, out: TextIO, *, clock: Callable[[], float] = time.monotonic, every: float = 10.0
    ) -> None:
        self.out = out
        self.clock = clock
        self.every = every
        self.tty = out.isatty()
        self._shown = ""
        self._at = -every

    def show(self, text: str) -> None:
        if text == self._shown:
            return
        if self.tty:
            self.out.write(f"\r\x1b[K{text}")
        elif self.clock() - self._at >= self.every:
            self.out.write(f"{text}\n")
            self._at = self.clock()
        else:
            return
        self._shown = text
        self.out.flush()

    def clear(self) -> None:
        if self.tty and self._shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
        self._shown = ""


@dataclass
class Waiter:
    """Waits until a process is ready, for as long as it makes progress.

    ``look`` tells how far it has come, ``exit_status`` whether it has died (None while it
    runs), ``stopping`` whether the demo is asked to stop. The clock and the pause between two
    looks are injected, so that a test can wait for hours in no time.
    """

    name: str
    look: Callable[[], Look]
    exit_status: Callable[[], int | None]
    log: str
    line: StatusLine
    stopping: Callable[[], bool] = lambda: False
    stall_after: float = STALL_SECONDS
    clock: Callable[[], float] = time.monotonic
    pause: Callable[[float], None] = time.sleep

    def wait(self) -> None:
        """Return once ready; DemoError when the process dies or stops making progress."""
        mark: Any = object()  # unlike any mark a look returns
        since = self.clock()
        try:
            while True:
                if self.stopping():
                    raise KeyboardInterrupt
                seen = self.look()
                if seen.ready:
                    return
                status = self.exit_status()
                if status is not None:
                    raise DemoError(
                        f"{self.name} exited with status {status}"
                        + (f" while {seen.status}" if seen.status else "")
                        + f"; see {self.log}"
                    )
                now = self.clock()
                if seen.mark != mark:
                    mark, since = seen.mark, now
                elif now - since > self.stall_after:
                    raise DemoError(
                        f"{self.name} made no progress in {self.stall_after:.0f} s"
                        + (f" ({seen.status})" if seen.status else "")
                        + f"; see {self.log}"
                    )
                if seen.status:
                    self.line.show(f"{self.name}: {seen.status}")
                self.pause(POLL_SECONDS)
        finally:
            self.line.clear()


# --- what each process shows ------------------------------------------------------------------


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def _answers(url: str) -> bool:
    response = _get(url)
    return response is not None and response.status_code == 200


def import_look(progress: dict[str, Any] | None, ready: bool) -> Look:
    """public-inbox's start, from its progress file (:mod:`tests.peers.public_inbox_serve`)."""
    if ready:
        return Look(True)
    if progress is None:
        return Look(False, "starting", None)
    step, inbox = progress.get("step"), progress.get("inbox")
    done, total = progress.get("done", 0), progress.get("total", 0)
    if step == "importing":
        status = f"importing {inbox}: {done:,} of {total:,} messages (once: then it is cached)"
        if done >= total:
            status = f"importing {inbox}: indexing the last of {total:,} messages"
    elif step == "preparing":
        status = f"preparing {inbox}"
    else:
        status = f"{step}"
    return Look(False, status, (step, inbox, done))


def backfill_look(stats: dict[str, Any] | None) -> Look:
    """serve's first start, from ``/api/stats``: done once the discussion job has ended."""
    if stats is None:
        return Look(False, "starting", None)
    runs = stats.get("last_runs") or {}
    last = runs.get("fetch-discussions")
    if last and last.get("status") != "running":
        return Look(True)
    counts = (stats.get("patches", 0), stats.get("messages", 0), stats.get("discussions", 0))
    running = sorted(job for job, run in runs.items() if run.get("status") == "running")
    status = (
        f"backfill{' (' + ', '.join(running) + ')' if running else ''}: {counts[0]:,} patches, "
        f"{counts[1]:,} messages, {counts[2]:,} discussions"
    )
    # A run that starts or ends is progress too, as is every page or thread written.
    return Look(
        False, status, (counts, tuple((job, run.get("status")) for job, run in runs.items()))
    )


# --- the demo ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Demo:
    def __init__(self, api_port: int, out: TextIO = sys.stdout) -> None:
        self.api_port = api_port
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False
        self.line = StatusLine(out)
        self.out = out

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        # Each logs to its own file under .run/demo/: the terminal shows the demo's progress.
        log = (DEMO_DIR / f"{name}.log").open("wb")
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
            log.close()
        self.procs.append((name, proc))

    def wait_for(self, name: str, look: Callable[[], Look]) -> None:
        proc = dict(self.procs)[name]
        log = DEMO_DIR / f"{name}.log"
        waiter = Waiter(name, look, proc.poll, str(log), self.line, stopping=lambda: self.stopping)
        try:
            waiter.wait()
        except DemoError as exc:
            raise DemoError(f"{exc}; its last lines:\n{_tail(log)}") from None

    def start(self) -> None:
        started = time.monotonic()
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        pw_port, pi_port = _free_port(), _free_port()
        patchwork, lore = f"http://127.0.0.1:{pw_port}", f"http://127.0.0.1:{pi_port}"
        workdir = DEMO_DIR / "public-inbox"
        progress = DEMO_DIR / "public-inbox.progress.json"
        shutil.rmtree(workdir, ignore_errors=True)  # a fresh copy from the import cache
        progress.unlink(missing_ok=True)
        print(f"starting the Patchwork test server, public-inbox and serve (logs in {DEMO_DIR}) …")
        self.spawn(
            "public-inbox",
            ["-m", "tests.peers.public_inbox_serve", "--port", str(pi_port),
             "--workdir", str(workdir), "--progress", str(progress)],
        )  # fmt: skip
        self.spawn(
            "patchwork",
            ["-m", "tests.peers.patchwork_server", "--port", str(pw_port), "--lore-url", lore],
        )
        project = f"{patchwork}/api/1.3/projects/{PROJECT}/"
        self.wait_for("patchwork", lambda: Look(_answers(project), "starting"))
        inbox = f"{lore}/{PROJECT}/"
        self.wait_for("public-inbox", lambda: import_look(read_progress(progress), _answers(inbox)))
        base = f"http://127.0.0.1:{self.api_port}"
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
        self.wait_for("serve", lambda: Look(_answers(f"{base}/health"), "starting"))
        self.wait_for("serve", lambda: backfill_look(_json(f"{base}{API}/stats")))
        self.ready(base, patchwork, lore, time.monotonic() - started)

    def ready(self, base: str, patchwork: str, lore: str, seconds: float) -> None:
        print(
            f"""
{base}/  LKML Assistant on the netfilter-devel dump, ready in {seconds:.0f} s

  patches        {base}/?project={PROJECT}
  sample patch   {base}/patches/{SAMPLE_PATCH} (its review: 28 replies)
  what changed   {base}/series/{SAMPLE_SERIES} (v{SAMPLE_SERIES_VERSION}: since the last version)
  a queue        {base}/people/{SAMPLE_REVIEWER}/queue
  API docs       {base}{API}/docs
  OpenAPI        {base}{API}/openapi.json
  patches, JSON  {base}{API}/patches?project={PROJECT}&limit=5
  a patch, JSON  {base}{API}/patches/{SAMPLE_PATCH}
  its review     {base}{API}/patches/{SAMPLE_PATCH}/discussion
  range-diff     {base}{API}/series/{SAMPLE_SERIES}/range-diff
  queue, JSON    {base}{API}/people/{SAMPLE_REVIEWER}/queue (Atom: .../queue.atom)
  store stats    {base}{API}/stats
  upstreams      Patchwork {patchwork}, lore {lore}

Ctrl-C stops everything.
""",
            file=self.out,
            flush=True,
        )

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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def _json(url: str) -> dict[str, Any] | None:
    response = _get(url)
    if response is None or response.status_code != 200:
        return None
    with contextlib.suppress(ValueError):
        data = response.json()
        return data if isinstance(data, dict) else None
    return None


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

# SPDX-License-Identifier: GPL-2.0-or-later
"""Stopping `serve` during a slow job, the ways a user and a supervisor do it: Ctrl-C on
`make run` in a terminal (a pty, so the terminal sends SIGINT to the foreground group), and
SIGINT or SIGTERM sent to a whole process group. Every way ends with exit status 0 within the
grace period and the job's run record closed, never left "running".

The job is slow because the Patchwork test server answers every request two seconds late.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lkml_assistant.local.service import SHUTDOWN_GRACE
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SLOW = 2.0  # seconds of delay on every Patchwork answer
# Exit within the grace period, plus the interpreter's own start and end.
DEADLINE = SHUTDOWN_GRACE + 5


@pytest.fixture(scope="module")
def patchwork():
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        yield server


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def serve_env(tmp_path: Path, patchwork_url: str) -> dict[str, str]:
    (tmp_path / "config.toml").write_text("")
    env = {
        **os.environ,
        "LKML_CONFIG": str(tmp_path / "config.toml"),
        "LKML_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "LKML_PATCHWORK_URL": patchwork_url,
        "LKML_LORE_URL": "http://127.0.0.1:9",
        "LKML_PROJECTS": "netfilter-devel",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_API_PORT": str(free_port()),
        # The dump is from 2025: a window of ten years, in pages of 20, is a long crawl.
        "LKML_BACKFILL_DAYS": "3650",
        "LKML_PAGE_SIZE": "20",
        "PYTHONFAULTHANDLER": "1",
    }
    env.pop("VIRTUAL_ENV", None)  # uv warns when it names another environment
    return env


def wait_for_the_crawl(tmp_path: Path, timeout: float = 60) -> None:
    """Until fetch-patches has opened its run record: the signal must find it under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            conn = sqlite3.connect(f"file:{tmp_path / 'store.sqlite3'}?mode=ro", uri=True)
            try:
                if conn.execute("SELECT 1 FROM runs WHERE job = 'fetch-patches'").fetchone():
                    return
            finally:
                conn.close()
        time.sleep(0.1)
    raise AssertionError("fetch-patches did not start")


def fetch_patches_run(tmp_path: Path):
    with SqliteStore(tmp_path / "store.sqlite3") as store:
        return store.runs.last_runs()["fetch-patches"]


class Terminal:
    """A command on a pty of its own, as a terminal would run it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: never returns
            os.chdir(REPO_ROOT)
            os.execvpe(argv[0], argv, env)
        self.output = b""

    def read_until(self, text: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in:\n{self.output.decode(errors='replace')}"
            if select.select([self.fd], [], [], min(left, 0.2))[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the pty closed: every process on it has ended
                    chunk = b""
                assert chunk, f"ended before {text!r}:\n{self.output.decode(errors='replace')}"
                self.output += chunk

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                return os.waitstatus_to_exitcode(with_status[1])
            if select.select([self.fd], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):  # the pty closed
                    self.output += os.read(self.fd, 65536)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"still running after {timeout} s:\n{self.text}")

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_ctrl_c_on_make_run_exits_0_and_closes_the_run(patchwork, tmp_path):
    patchwork.reset()
    patchwork.faults.add("/api/", "slow", times=10_000, delay=SLOW)
    try:
        terminal = Terminal(["make", "run"], serve_env(tmp_path, patchwork.url))
        terminal.read_until(b"backfill: starting", timeout=120)
        wait_for_the_crawl(tmp_path)
        os.write(terminal.fd, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group
        pressed = time.monotonic()
        status = terminal.wait(timeout=DEADLINE + 10)
        took = time.monotonic() - pressed
    finally:
        patchwork.reset()
    assert status == 0, terminal.text
    assert took < DEADLINE, terminal.text
    assert "SIGINT: stopping" in terminal.text
    assert "Traceback" not in terminal.text and "Interrupt" not in terminal.text
    run = fetch_patches_run(tmp_path)
    assert run.status == "ok" and run.finished_at is not None, run
    # It paused at a page and kept the place: the next start resumes there.
    assert "crawl paused before page" in terminal.text


def _serve_in_group(env: dict[str, str]) -> subprocess.Popen[str]:
    """`uv run lkml-assistant serve` leading a process group of its own (uv, then python)."""
    uv = shutil.which("uv") or "uv"
    return subprocess.Popen(
        [uv, "run", "--frozen", "lkml-assistant", "serve"],
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _exit_output(proc: subprocess.Popen[str], timeout: float) -> str:
    """The rest of serve's stderr once it exits; if it has not within ``timeout``, kill the
    group and fail with what it printed, so that the failure says where it was stuck."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        # With PYTHONFAULTHANDLER set (serve_env), SIGABRT makes serve write every thread's
        # stack before it dies: the failure shows where it was stuck.
        os.killpg(proc.pid, signal.SIGABRT)
        try:
            rest = proc.communicate(timeout=5)[1]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rest = proc.communicate()[1]
        raise AssertionError(f"serve did not exit within {timeout:.0f} s:\n{rest}") from None


def _wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} in:\n{''.join(lines)}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_stops_serve_cleanly(patchwork, tmp_path, signum):
    patchwork.reset()
    patchwork.faults.add("/api/", "slow", times=10_000, delay=SLOW)
    proc = _serve_in_group(serve_env(tmp_path, patchwork.url))
    try:
        lines = _wait_for_line(proc, "backfill: starting", timeout=120)
        wait_for_the_crawl(tmp_path)
        os.killpg(proc.pid, signum)  # uv and python both get it, as from `kill -- -PGID`
        pressed = time.monotonic()
        rest = _exit_output(proc, timeout=DEADLINE + 15)
        took = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        patchwork.reset()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert took < DEADLINE, output
    assert f"{signal.Signals(signum).name}: stopping" in output
    assert "Traceback" not in output
    assert fetch_patches_run(tmp_path).status == "ok"


def test_a_job_past_the_grace_period_is_abandoned_with_its_run_closed(patchwork, tmp_path):
    """A request that outlasts the grace period cannot be waited for: serve still exits 0,
    and the run record says interrupted instead of staying "running"."""
    patchwork.reset()
    patchwork.faults.add("/api/", "slow", times=10_000, delay=SHUTDOWN_GRACE + 20)
    env = serve_env(tmp_path, patchwork.url)
    env["LKML_HTTP_TIMEOUT"] = str(SHUTDOWN_GRACE + 30)
    proc = _serve_in_group(env)
    try:
        lines = _wait_for_line(proc, "backfill: starting", timeout=120)
        wait_for_the_crawl(tmp_path)
        os.killpg(proc.pid, signal.SIGTERM)
        pressed = time.monotonic()
        rest = _exit_output(proc, timeout=DEADLINE + 15)
        took = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        patchwork.reset()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert SHUTDOWN_GRACE <= took < DEADLINE, output
    assert "abandoning fetch-patches" in output
    run = fetch_patches_run(tmp_path)
    assert run.status == "interrupted", run
    assert "abandoned at shutdown" in run.summary["interrupted"]


def test_a_stop_that_hangs_ends_by_the_watchdog_with_every_stack_shown():
    """Whatever hangs after the grace period (a worker, the store), serve's stop is bounded: the
    watchdog writes each thread's stack to stderr and exits 1, for the operator to read."""
    script = (
        "import threading, time\n"
        "from lkml_assistant.local.service import _stop_watchdog\n"
        "threading.Thread(target=time.sleep, args=(60,), name='stuck-job', daemon=True).start()\n"
        "assert _stop_watchdog(0.5)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert time.monotonic() - started < 20
    assert done.returncode == 1, done.stderr
    assert "Timeout" in done.stderr
    assert done.stderr.count('File "<string>", line') >= 1, done.stderr
    assert "Thread 0x" in done.stderr and done.stderr.count("Thread 0x") >= 2, done.stderr

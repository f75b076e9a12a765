# SPDX-License-Identifier: GPL-2.0-or-later
"""The HTTP worker processes of `serve`: the API answered by several interpreters at once.

One Python process answers one request at a time (the GIL, and the resolver runs in the event
loop), so on a machine of N cores `serve` starts N workers. serve binds the listening socket;
each worker (``python -m lkml_assistant.local.workers --fd N``) inherits it, opens a store of
its own (its own SQLite connection: in WAL mode readers run beside the one writer, the jobs,
which stay in serve), runs uvicorn on it, and the kernel hands each new connection to one of
them. The jobs still run once: only serve holds the job lock and runs the scheduler.

Control is the worker's stdin: serve writes the settings as one JSON line, then keeps the pipe
open. EOF (serve closed it to stop the worker, or serve died, even by SIGKILL) makes the
worker finish the requests in flight and exit. Workers run in a session of their own, so a
terminal's Ctrl-C or a signal to serve's process group reaches serve alone, which then stops
them (docs/local-service.md, "Shutdown"). A worker prints ``ready`` on stdout once it accepts
connections, and nothing else there.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn

from lkml_assistant.config import Settings

log = logging.getLogger(__name__)

READY = b"ready\n"
# The default worker count is one per CPU, at most this many (each holds its own interpreter,
# schema and caches: about 80 MB).
MAX_DEFAULT_WORKERS = 8
# Seconds a worker may take to finish its requests in flight once told to stop.
GRACEFUL_SECONDS = 3


def cpu_count() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def worker_count(settings: Settings) -> int:
    """How many HTTP workers serve runs: the setting, or one per CPU when it is 0 (auto)."""
    if settings.api_workers:
        return settings.api_workers
    return max(1, min(cpu_count(), MAX_DEFAULT_WORKERS))


def uvicorn_config(app: Any) -> uvicorn.Config:
    """How serve runs uvicorn, in its own process or in a worker."""
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,  # our logging setup, not uvicorn's
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


class WorkerError(RuntimeError):
    """A worker did not start."""


class WorkerPool:
    """``count`` worker processes serving the API on ``sock``: ``start()``, then ``stop()``."""

    def __init__(
        self, settings: Settings, sock: socket.socket, count: int, *, start_timeout: float = 60.0
    ) -> None:
        if count < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {count}")
        self.settings = settings
        self.sock = sock
        self.count = count
        self.start_timeout = start_timeout
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Start every worker; returns once all of them accept connections."""
        try:
            self._spawn()
            self._wait_ready(time.monotonic() + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        log.debug("%d API workers: pids %s", self.count, [p.pid for p in self.procs])

    def _spawn(self) -> None:
        line = self.settings.model_dump_json().encode() + b"\n"
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        for _ in range(self.count):
            proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                [
                    sys.executable,
                    "-m",
                    "lkml_assistant.local.workers",
                    "--fd",
                    str(self.sock.fileno()),
                    "--log-level",
                    str(level),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=[self.sock.fileno()],
                start_new_session=True,
            )
            self.procs.append(proc)
            assert proc.stdin is not None
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except BrokenPipeError:
                pass  # it died at once: _wait_ready says so

    def _wait_ready(self, deadline: float) -> None:
        waiting = {proc.stdout: proc for proc in self.procs if proc.stdout is not None}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerError(
                    f"{len(waiting)} of {self.count} API workers did not start "
                    f"in {self.start_timeout:.0f} s"
                )
            readable, _, _ = select.select(list(waiting), [], [], min(left, 0.5))
            for stream in readable:
                proc = waiting.pop(stream)
                said = stream.readline()
                if said != READY:
                    proc.wait()
                    raise WorkerError(
                        f"an API worker (pid {proc.pid}) exited with status {proc.returncode} "
                        "before it was ready; its log is above"
                    )

    def exited(self) -> list[tuple[int, int]]:
        """(pid, exit status) of each worker that is no longer running."""
        return [(proc.pid, proc.returncode) for proc in self.procs if proc.poll() is not None]

    def begin_stop(self) -> None:
        """Tell every worker to stop taking requests (EOF on its stdin); returns at once."""
        for proc in self.procs:
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(OSError):
                    proc.stdin.close()

    def stop(self, timeout: float = GRACEFUL_SECONDS + 7) -> None:
        """Stop the workers, waiting for their requests in flight; kill the ones that hang."""
        self.begin_stop()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("API worker %d did not stop in %.0f s; killing it", proc.pid, timeout)
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs = []


# --- the worker process ------------------------------------------------------------------------


def _stop_at_eof(fd: int, server: uvicorn.Server) -> None:
    """Block on the control pipe; at EOF (or a read error) ask uvicorn to stop.

    os.read, not sys.stdin: a daemon thread blocked inside a buffered reader holds its lock,
    and an interpreter that ends meanwhile (a worker failing to start) aborts on it."""
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass
    server.should_exit = True


def _say_ready(server: uvicorn.Server, thread: threading.Thread) -> None:
    while not server.started:
        if server.should_exit or not thread.is_alive():
            return
        time.sleep(0.01)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()


def run_worker(fd: int, settings: Settings) -> int:
    """Serve the API on the inherited listening socket ``fd`` until stdin ends."""
    from lkml_assistant.api.app import create_local_app
    from lkml_assistant.repositories import open_store

    sock = socket.socket(fileno=fd)
    store = open_store(settings)
    try:
        server = uvicorn.Server(uvicorn_config(create_local_app(store, settings)))
        main = threading.current_thread()
        threading.Thread(
            target=_stop_at_eof, args=(sys.stdin.fileno(), server), name="control", daemon=True
        ).start()
        threading.Thread(target=_say_ready, args=(server, main), name="ready", daemon=True).start()
        server.run(sockets=[sock])
    finally:
        store.close()
        sock.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lkml_assistant.local.workers")
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    from lkml_assistant.cli import setup_logging

    setup_logging(args.log_level)
    # The settings serve resolved (arguments, environment, config file), exactly: validated
    # again, but not read from the environment a second time. Read unbuffered, byte by byte up
    # to the newline, so that nothing after it is left in a buffer the control thread skips.
    line = bytearray()
    while not line.endswith(b"\n") and (byte := os.read(sys.stdin.fileno(), 1)):
        line += byte
    settings = Settings.model_validate_json(bytes(line))
    return run_worker(args.fd, settings)


if __name__ == "__main__":
    raise SystemExit(main())

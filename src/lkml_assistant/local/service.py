# SPDX-License-Identifier: GPL-2.0-or-later
"""`lkml-assistant serve`: the scheduled jobs and the REST API.

The jobs run in this process, on the scheduler's single worker thread. The API is answered by
HTTP worker processes (:mod:`.workers`, one per CPU by default), each on a store connection of
its own, all on one listening socket; with ``api_workers=1`` it is answered from a thread of
this process instead, on the jobs' store. Signals are handled here, in the main thread, so that
SIGTERM and Ctrl-C stop both cleanly, however often they arrive (a signal to the process group
reaches serve once from the terminal and again from each wrapper that forwards it): the API
stops taking requests, the job in progress gets a grace period to end, and the exit status is
0. A crawl told that the grace period has begun pauses after its current page and keeps a
checkpoint (``time_left``), so the next start resumes it. A job still running when the grace
period ends is abandoned (safe to repeat) and its run record closed as interrupted.

What runs when is :mod:`lkml_assistant.services.recipes` (hourly, daily at 03:00, Sundays at
04:00, and the backfill of a first start); every thread is fetched in this process. A
project that was never synced is backfilled (``backfill_days``) instead of crawled from its
beginning: at start, and by any later run until that succeeds.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import FrameType
from typing import IO, Any

import uvicorn

from lkml_assistant.config import Settings
from lkml_assistant.repositories import open_store
from lkml_assistant.repositories.base import Store, StoreOpenError
from lkml_assistant.services.jobs import Jobs
from lkml_assistant.services.recipes import BACKFILL, SCHEDULED, Recipe
from lkml_assistant.services.runs import interrupt_own_runs

from .scheduler import Backfill, Clock, Schedule, Scheduler, Step, SystemClock
from .terminal import foreground_of_own
from .workers import WorkerError, WorkerPool, uvicorn_config, worker_count

log = logging.getLogger(__name__)

# Seconds a job in progress may take to end after a stop was asked for.
SHUTDOWN_GRACE = 10.0
# Seconds past the grace period after which a stop that is still not done (the API workers,
# closing the store) is given up: every thread's stack is written to stderr and the process
# exits with status 1. A supervisor's stop is bounded whatever hangs.
STOP_WATCHDOG = 10.0
# Seconds between two looks of the main thread at the signals noted and the API's health.
SIGNAL_POLL = 0.2


class JobsBusyError(RuntimeError):
    """Another process runs the jobs of this store."""


class ApiStartError(RuntimeError):
    """The API did not start (a worker died or hung on its way up)."""


# --- the recipes as schedules ------------------------------------------------------------------


def _steps(jobs: Jobs, recipe: Recipe) -> tuple[Step, ...]:
    return tuple(Step(step.label, partial(jobs.run_step, step)) for step in recipe.steps)


def standard_schedules(jobs: Jobs) -> list[Schedule]:
    """The scheduled recipes, each a schedule of the local scheduler."""
    return [
        Schedule(
            recipe.name,
            recipe.cron or "",
            _steps(jobs, recipe),
            covers=recipe.covers,
            description=recipe.description,
        )
        for recipe in SCHEDULED
    ]


def standard_backfill(jobs: Jobs) -> Backfill:
    return Backfill(needed=lambda: bool(jobs.projects_never_synced()), steps=_steps(jobs, BACKFILL))


# --- one job runner per store ------------------------------------------------------------------


@contextlib.contextmanager
def jobs_lock(settings: Settings) -> Iterator[None]:
    """Hold the store's job lock, so two processes never run jobs on one store together.

    The lock is a file beside the SQLite file, released by the kernel when the process dies.
    """
    if not settings.store.startswith("sqlite:///"):
        yield
        return
    path = settings.sqlite_path.with_name(settings.sqlite_path.name + ".jobs.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = path.open("a")
    except OSError as exc:
        raise StoreOpenError(f"cannot open the store's job lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobsBusyError(
                f"another lkml-assistant process runs the jobs of this store (lock {path})"
            ) from None
        yield
    finally:
        handle.close()


# --- the service -------------------------------------------------------------------------------


@dataclass
class _ApiThread:
    """The API answered from a thread of this process (``api_workers=1``)."""

    server: uvicorn.Server
    thread: threading.Thread

    def failure(self) -> str | None:
        return None if self.thread.is_alive() else "the API server stopped unexpectedly"

    def begin_stop(self) -> None:
        self.server.should_exit = True

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class _ApiWorkers:
    """The API answered by worker processes."""

    pool: WorkerPool

    def failure(self) -> str | None:
        exited = self.pool.exited()
        if not exited:
            return None
        pid, status = exited[0]
        return f"an API worker (pid {pid}) exited unexpectedly with status {status}"

    def begin_stop(self) -> None:
        self.pool.begin_stop()

    def stop(self) -> None:
        self.pool.stop()


class LocalService:
    """Scheduler and API on one store. ``start()``, then ``stop()``; or ``run()`` until a signal.

    ``port=0`` picks a free port; :attr:`url` says which after ``start()``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        host: str | None = None,
        port: int | None = None,
        store: Store | None = None,
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.host = host if host is not None else settings.api_host
        self.port = port if port is not None else settings.api_port
        self.shutdown_grace = shutdown_grace
        self._own_store = store is None
        self.store: Store = store if store is not None else open_store(settings)
        self._stop_deadline: float | None = None
        self.jobs = Jobs(settings, self.store, time_left=self._time_left)
        self.scheduler = Scheduler(
            self.store.runs,
            standard_schedules(self.jobs),
            clock=self.clock,
            backfill=standard_backfill(self.jobs),
        )
        self.url = ""
        self.workers = worker_count(settings)
        self._api: _ApiThread | _ApiWorkers | None = None
        self._sock: socket.socket | None = None
        self._lock: contextlib.ExitStack | None = None

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the API workers (none when the API runs in this process)."""
        if isinstance(self._api, _ApiWorkers):
            return [proc.pid for proc in self._api.pool.procs]
        return []

    # --- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Serve the API (returns once it accepts connections), then start the schedules."""
        self._start_api()
        self._lock = contextlib.ExitStack()
        try:
            self._lock.enter_context(jobs_lock(self.settings))
        except JobsBusyError as exc:
            log.warning("%s; serving the API only", exc)
            return
        self.scheduler.start()

    def _start_api(self) -> None:
        sock = _listen(self.host, self.port)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{_url_host(host)}:{port}"
        try:
            self._api = self._api_thread(sock) if self.workers == 1 else self._api_workers(sock)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        how = "1 process" if self.workers == 1 else f"{self.workers} worker processes"
        log.info("API at %s (OpenAPI at %s/openapi.json; %s)", self.url, self.url, how)

    def _api_thread(self, sock: socket.socket) -> _ApiThread:
        from lkml_assistant.api.app import create_local_app

        server = uvicorn.Server(uvicorn_config(create_local_app(self.store, self.settings)))
        # In a thread of its own, uvicorn leaves the signals to us.
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="api", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise ApiStartError(f"the API did not start on {self.url}")
            time.sleep(0.01)
        return _ApiThread(server, thread)

    def _api_workers(self, sock: socket.socket) -> _ApiWorkers:
        pool = WorkerPool(self.settings, sock, self.workers)
        try:
            pool.start()
        except WorkerError as exc:
            raise ApiStartError(f"the API did not start on {self.url}: {exc}") from None
        return _ApiWorkers(pool)

    # --- stop -------------------------------------------------------------------------------

    def _time_left(self) -> float:
        """What a job has left to run: unbounded until a stop, then the grace period's rest."""
        if self._stop_deadline is None:
            return math.inf
        return max(0.0, self._stop_deadline - time.monotonic())

    def stop(self) -> bool:
        """Stop the schedules and the API; True when no job had to be abandoned."""
        self._stop_deadline = time.monotonic() + self.shutdown_grace
        self.scheduler.stop()
        if self._api is not None:
            self._api.begin_stop()
        clean = self.scheduler.join(0.1)
        if not clean:
            log.info(
                "waiting up to %.0f s for %s to end",
                self.shutdown_grace,
                self.scheduler.current_job,
            )
            clean = self.scheduler.join(self.shutdown_grace)
        if not clean:
            log.warning(
                "abandoning %s: it is safe to repeat, and runs again at the next start",
                self.scheduler.current_job or "the job in progress",
            )
            interrupt_own_runs(
                self.store.runs,
                datetime.now(UTC),
                f"abandoned at shutdown, {self.shutdown_grace:.0f} s after the stop",
            )
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        # A job still running uses the store: leave it to the end of the process.
        if clean and self._own_store:
            self.store.close()
        return clean

    def run(self) -> int:
        """Start, serve until SIGTERM or Ctrl-C, stop. Returns the exit status (0).

        Under a wrapper on a terminal (``make run``), the terminal's foreground is taken for
        serve alone (:mod:`.terminal`), so that Ctrl-C does not end the wrappers by signal."""
        stopping: list[str] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # Only note it, taking no lock: the handler runs in the main thread between two
            # bytecodes, maybe while that thread holds a lock the handler would need. Logging
            # could re-enter the handler's lock; threading.Event.set() takes the Event's own
            # (not reentrant) lock, which the main thread holds for an instant each time its
            # wait() begins and ends: a signal then hung serve for good, never logging it (seen
            # under load). A list append takes none. A repeated signal (the group's, a
            # wrapper's, a second Ctrl-C) is the same request: the grace period bounds the wait.
            stopping.append(signal.Signals(signum).name)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with foreground_of_own():
                self.start()
                while not stopping:
                    failure = self._api.failure() if self._api is not None else None
                    if failure:
                        log.error("%s; stopping", failure)
                        break
                    time.sleep(SIGNAL_POLL)  # so a signal is acted on within SIGNAL_POLL
                if stopping:
                    log.info("%s: stopping", stopping[0])
                watchdog = _stop_watchdog(self.shutdown_grace + STOP_WATCHDOG)
                clean = self.stop()
                if watchdog:
                    faulthandler.cancel_dump_traceback_later()
                if len(stopping) > 1:
                    log.info("stopped once for %s", ", ".join(stopping))
                log.info("stopped%s", "" if clean else " (a job was abandoned)")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not clean:
            # The abandoned job's thread may be inside SQLite or a socket read; ending the
            # process here, rather than through interpreter teardown around it, cannot crash.
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return 0


def _stop_watchdog(seconds: float) -> bool:
    """Dump every thread's stack to stderr and exit 1 if the process is alive in ``seconds``."""
    stderr = sys.__stderr__
    try:
        faulthandler.dump_traceback_later(seconds, exit=True, file=stderr)  # type: ignore[arg-type]
    except (AttributeError, ValueError, OSError, TypeError):  # no stderr with a descriptor
        return False
    return True


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(1024)
    return sock


def _url_host(host: Any) -> str:
    text = str(host)
    return f"[{text}]" if ":" in text else text

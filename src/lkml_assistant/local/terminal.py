# SPDX-License-Identifier: GPL-2.0-or-later
"""Ctrl-C for `serve` alone when a wrapper started it (``make run``, ``uv run``, a script).

A terminal sends SIGINT to its whole foreground process group: under ``make run`` that is
make, uv and serve. serve stops cleanly and exits 0, but GNU make, on SIGINT, waits for its
child and then kills itself with the same signal, so ``make run`` ended with status 130
whatever serve did (measured with make 4.3 in a pty; uv waits for its child and returns its
status). So serve does what a shell does for a job: it moves into a process group of its own,
makes it the terminal's foreground group while it runs, and gives the terminal back before it
ends. Ctrl-C then reaches serve alone, and the wrappers return its exit status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def foreground_of_own() -> Iterator[bool]:
    """Hold the terminal's foreground in a process group of our own; yields whether it did.

    Nothing changes when stdin is no terminal, when we are not in its foreground group (a
    background job, a service manager), or when we lead our group already (started by a
    shell): the signals then reach whom they are meant for.
    """
    try:
        fd = sys.stdin.fileno()
        wrapped = os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp() and os.getpgrp() != os.getpid()
    except (OSError, ValueError):
        wrapped = False
    if not wrapped:
        yield False
        return
    previous = os.getpgrp()
    os.setpgid(0, 0)
    _set_foreground(fd, os.getpgrp())
    # Ctrl-Z would stop serve alone, with no shell waiting to resume it: ignored meanwhile.
    suspend = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        yield True
    finally:
        signal.signal(signal.SIGTSTP, suspend)
        with contextlib.suppress(OSError):  # the terminal may be gone (hang-up)
            _set_foreground(fd, previous)


def _set_foreground(fd: int, group: int) -> None:
    # A process outside the foreground group that changes it gets SIGTTOU (and stops) unless
    # it blocks the signal, as shells do.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

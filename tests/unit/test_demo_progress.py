# SPDX-License-Identifier: GPL-2.0-or-later
"""`make demo` on a slow machine: it waits for as long as the start makes progress, shows how
far it has come, and fails clearly when a process dies or stops moving, never on a fixed
deadline. The clock is a fake one that each pause moves on: an import of many minutes takes
no time here.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable

import pytest

from tests.peers.demo import (
    STALL_SECONDS,
    DemoError,
    Look,
    StatusLine,
    Waiter,
    backfill_look,
    import_look,
)
from tests.peers.public_inbox import MessageCounter
from tests.peers.public_inbox_serve import ProgressFile, read_progress


class FakeTime:
    """A clock that only the waiter's pauses move, by ``step`` seconds each."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def clock(self) -> float:
        return self.now

    def pause(self, _seconds: float) -> None:
        self.now += self.step


def waiter(
    looks: Iterable[Look],
    exit_status: Callable[[], int | None] = lambda: None,
    *,
    step: float = 30.0,
    out: io.StringIO | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> tuple[FakeTime, Waiter]:
    time = FakeTime(step)
    line = StatusLine(out or io.StringIO(), clock=time.clock, every=0)
    iterator = iter(looks)
    return time, Waiter(
        "public-inbox",
        lambda: next(iterator),
        exit_status,
        "public-inbox.log",
        line,
        stopping=stopping,
        clock=time.clock,
        pause=time.pause,
    )


def importing(done: int, total: int = 4604) -> Look:
    progress = {"step": "importing", "inbox": "netfilter-devel", "done": done, "total": total}
    return import_look(progress, ready=False)


def test_an_import_slower_than_the_old_fixed_timeout_is_waited_for_and_shown():
    # 100 messages per look, 30 s between looks: 23 minutes, where the demo used to give up
    # after 120 s.
    looks = [importing(n) for n in range(0, 4604, 100)] + [import_look(None, ready=True)]
    out = io.StringIO()
    time, wait = waiter(looks, out=out)
    wait.wait()
    assert time.now > 20 * 60
    shown = out.getvalue()
    assert "public-inbox: importing netfilter-devel: 2,300 of 4,604 messages" in shown
    assert shown.count("\n") == len(looks) - 1  # one line per change, none once ready


def test_an_import_that_stops_moving_fails_once_it_has_stalled_for_the_stall_period():
    looks = itertools.chain([importing(10), importing(20)], itertools.repeat(importing(20)))
    time, wait = waiter(looks, step=1.0)
    with pytest.raises(DemoError) as failed:
        wait.wait()
    message = str(failed.value)
    assert message.startswith(f"public-inbox made no progress in {STALL_SECONDS:.0f} s")
    assert "(importing netfilter-devel: 20 of 4,604 messages" in message
    assert message.endswith("see public-inbox.log")
    # It gave up the first look after the stall period, counted from the last progress.
    assert time.now == 1.0 + STALL_SECONDS + 1.0


def test_a_start_that_tells_nothing_gets_the_stall_period_in_all():
    time, wait = waiter(itertools.repeat(Look(False, "starting")), step=1.0)
    with pytest.raises(DemoError, match="made no progress in 120 s"):
        wait.wait()
    assert time.now == STALL_SECONDS + 1.0


def test_a_process_that_dies_fails_at_once_saying_what_it_was_doing():
    statuses = iter([None, None, 1])
    _, wait = waiter(itertools.repeat(importing(500)), lambda: next(statuses))
    with pytest.raises(DemoError) as failed:
        wait.wait()
    assert str(failed.value) == (
        "public-inbox exited with status 1 while importing netfilter-devel: 500 of 4,604 "
        "messages (once: then it is cached); see public-inbox.log"
    )


def test_ctrl_c_while_waiting_stops_the_wait():
    asked = iter([False, False, True])
    _, wait = waiter(itertools.repeat(importing(1)), stopping=lambda: next(asked))
    with pytest.raises(KeyboardInterrupt):
        wait.wait()


def test_a_terminal_gets_one_line_rewritten_a_log_a_line_every_so_often():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    line = StatusLine(tty)
    line.show("a: 1 of 3")
    line.show("a: 2 of 3")
    line.clear()
    assert tty.getvalue() == "\r\x1b[Ka: 1 of 3\r\x1b[Ka: 2 of 3\r\x1b[K"

    now = [0.0]
    log = io.StringIO()
    line = StatusLine(log, clock=lambda: now[0], every=10)
    for second, text in enumerate(["x 1", "x 2", "x 3"] + ["x 4"] * 10 + ["x 5"]):
        now[0] = float(second)
        line.show(text)
    # Seconds 0 and 10: what it says then; changes in between are left out.
    assert log.getvalue() == "x 1\nx 4\n"


def test_the_backfill_is_done_when_the_discussion_job_has_ended():
    running = {"fetch-patches": {"status": "running"}}
    first = backfill_look({"patches": 30, "messages": 0, "discussions": 0, "last_runs": running})
    later = backfill_look({"patches": 60, "messages": 0, "discussions": 0, "last_runs": running})
    assert not first.ready and first.mark != later.mark
    assert first.status == "backfill (fetch-patches): 30 patches, 0 messages, 0 discussions"
    done = {**running, "fetch-discussions": {"status": "partial"}}
    assert backfill_look({"last_runs": done}).ready
    assert not backfill_look(None).ready


def test_messages_are_counted_across_any_chunk_boundary():
    stream = b"From a\nbody\n>From quoted\nFrom b\n\nFrom c\nx\n"
    for cut in range(len(stream) + 1):
        for second in range(cut, len(stream) + 1):
            counter = MessageCounter()
            for chunk in (stream[:cut], stream[cut:second], stream[second:]):
                counter.feed(chunk)
            assert counter.count == 3, (cut, second)


def test_the_progress_file_holds_the_last_step(tmp_path):
    path = tmp_path / "progress.json"
    assert read_progress(path) is None
    report = ProgressFile(path, every=3600)
    report.write("preparing", inbox="linux-pwm")
    report.importing("linux-pwm", 10, 1031)  # within `every` of the last write: not written
    assert read_progress(path) == {"step": "preparing", "inbox": "linux-pwm", "done": 0, "total": 0}
    report.importing("linux-pwm", 1031, 1031)  # the last one always is
    assert read_progress(path) == {
        "step": "importing",
        "inbox": "linux-pwm",
        "done": 1031,
        "total": 1031,
    }

# SPDX-License-Identifier: GPL-2.0-or-later
"""A real public-inbox import tells how far it has come, as `make demo` shows it: messages sent
to the import of all the messages of its files, rising to the total, which is what the inbox
then holds; and `public_inbox_serve --progress` keeps a file saying so until it serves."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.peers.public_inbox import PublicInbox, archives_dir, count_messages
from tests.peers.public_inbox_fixtures import require_public_inbox
from tests.peers.public_inbox_serve import read_progress

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_an_import_reports_its_progress_up_to_the_messages_it_holds(tmp_path):
    require_public_inbox()
    mbox = archives_dir() / "threads" / "pwm-th1520-v1-v3.mbox"
    seen: list[tuple[str, int, int]] = []
    with PublicInbox(tmp_path, cache_dir=None) as pi:
        inbox = pi.create_inbox("linux-pwm", [mbox], progress=lambda *report: seen.append(report))
    total = count_messages([mbox])
    assert total == 21
    assert seen and {name for name, _, _ in seen} == {"linux-pwm"}
    assert {t for _, _, t in seen} == {total}
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == total == inbox.messages


def test_serve_keeps_a_progress_file_until_it_serves(tmp_path):
    """From the cache (the fixtures' import), so quick: preparing each inbox, then serving."""
    require_public_inbox()
    progress = tmp_path / "progress.json"
    command = ["-m", "tests.peers.public_inbox_serve", "--workdir", str(tmp_path / "pi")]
    proc = subprocess.Popen(
        [sys.executable, *command, "--progress", str(progress)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        origin = ""
        deadline = time.monotonic() + 600  # a first import on a busy machine takes minutes
        while not origin and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "public_inbox_serve ended before it served"
            if line.startswith("serving "):
                origin = line.split()[1].rsplit("/", 2)[0]
        assert read_progress(progress) == {"step": "serving", "inbox": "", "done": 0, "total": 0}
        assert httpx.get(f"{origin}/netfilter-devel/", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    shutil.rmtree(tmp_path / "pi", ignore_errors=True)

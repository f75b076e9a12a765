# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input to the command line ends in one line on stderr and exit status 2, never a
traceback: the command is run as a user runs it, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
# Nothing listens on the discard port of loopback: no case may get as far as asking upstream.
UNREACHABLE = "http://127.0.0.1:9"


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lkml_assistant", *args],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _store(tmp: Path, case: str) -> str:
    if case == "directory":
        (tmp / "store.sqlite3").mkdir()
    elif case == "not-sqlite":
        (tmp / "store.sqlite3").write_text("From: someone\nSubject: not a database\n\n" * 50)
    elif case == "unwritable":
        # No file can be created in /proc, whoever runs the test (root too).
        return "sqlite:////proc/self/lkml-assistant.sqlite3"
    return f"sqlite:///{tmp / 'store.sqlite3'}"


@pytest.mark.parametrize(
    ("args", "store", "config", "says"),
    [
        (["fetch-discussions", "--patch", str(10**30)], "fine", "", "--patch"),
        (["fetch-discussions", "--patch", "99999999999999999999"], "fine", "", "--patch"),
        (["refresh-discussions", "--days", "99999999"], "fine", "", "--days"),
        (["review-intel", "--days", "99999999"], "fine", "", "--days"),
        (["backfill", "--days", str(10**30)], "fine", "", "--days"),
        (["review-intel"], "unwritable", "", "cannot open the store"),
        (["backfill"], "unwritable", "", "cannot open the store's job lock"),
        (["review-intel"], "directory", "", "is a directory"),
        (["review-intel"], "not-sqlite", "", "not a SQLite database"),
        (["review-intel"], "fine", "projects = [\n", "not valid TOML"),
    ],
    ids=[
        "patch-1e30",
        "patch-20-digits",
        "refresh-days",
        "intel-days",
        "backfill-days-1e30",
        "store-unwritable",
        "backfill-store-unwritable",
        "store-directory",
        "store-not-sqlite",
        "config-invalid-toml",
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, store, config, says):
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    result = run_cli(
        [*args, "-q"],
        {
            "LKML_CONFIG": str(config_file),
            "LKML_STORE": _store(tmp_path, store),
            "LKML_PATCHWORK_URL": UNREACHABLE,
            "LKML_LORE_URL": UNREACHABLE,
            "LKML_HTTP_RETRIES": "0",
        },
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # argparse prints its usage before the one line that says what is wrong.
    problem = lines[-1]
    assert problem.startswith("lkml-assistant"), result.stderr
    assert says in problem, result.stderr
    if "usage:" not in result.stderr:
        assert len(lines) == 1, result.stderr

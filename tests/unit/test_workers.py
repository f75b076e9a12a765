# SPDX-License-Identifier: GPL-2.0-or-later
"""How many HTTP workers `serve` runs: LKML_API_WORKERS / --workers, validated; 0 is one per
CPU this process may use, at most 8."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from lkml_assistant.cli import main
from lkml_assistant.config import load_settings
from lkml_assistant.local import workers
from lkml_assistant.local.workers import MAX_DEFAULT_WORKERS, cpu_count, worker_count


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No LKML_* variable or config file of the machine's."""
    for name in list(os.environ):
        if name.startswith("LKML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def settings(**extra: object):
    return load_settings(store="sqlite:////nonexistent/store.sqlite3", **extra)


def test_by_default_one_worker_per_cpu_at_most_eight(monkeypatch):
    assert settings().api_workers == 0
    assert worker_count(settings()) == min(cpu_count(), MAX_DEFAULT_WORKERS)
    monkeypatch.setattr(workers, "cpu_count", lambda: 64)
    assert worker_count(settings()) == MAX_DEFAULT_WORKERS
    monkeypatch.setattr(workers, "cpu_count", lambda: 1)
    assert worker_count(settings()) == 1


def test_a_chosen_count_is_kept(monkeypatch):
    monkeypatch.setenv("LKML_API_WORKERS", "3")
    assert worker_count(settings()) == 3
    assert worker_count(settings(api_workers=1)) == 1


@pytest.mark.parametrize("bad", [-1, 65, "many"])
def test_a_count_out_of_range_is_refused(bad):
    with pytest.raises(ValidationError, match="api_workers"):
        settings(api_workers=bad)


def test_serve_refuses_a_bad_worker_count_before_starting(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    assert main(["serve", "--workers", "65"]) == 2
    assert "LKML_API_WORKERS: Input should be less than or equal to 64" in capsys.readouterr().err
    assert not (tmp_path / "store.sqlite3").exists()

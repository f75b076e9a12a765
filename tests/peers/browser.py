# SPDX-License-Identifier: GPL-2.0-or-later
"""Debian's chromium driven by Playwright, for the tests of the pages.

Playwright launches the system binary (``executable_path``); it downloads no browser, and
nothing here runs ``playwright install``. ``tests/peers/chromium.sh`` installs the package.
Without it the browser tests skip, except under ``CI=true``, where a missing peer fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = Path(__file__).with_name("chromium.sh")
# Quiet and offline: no first-run, sync, component or background traffic of its own.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_chromium() -> None:
    """Install chromium when missing; skip when impossible, or fail under CI=true."""
    if CHROMIUM.exists():
        return
    try:
        done = subprocess.run(
            [str(INSTALL_SCRIPT), "ensure-installed"],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        message = (done.stderr or done.stdout).strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        message = str(err)
    if CHROMIUM.exists():
        return
    reason = f"chromium is not installed and could not be installed: {message}"
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: a missing test peer is an error)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module. Playwright gives each launch a fresh, temporary profile
    (user-data-dir) and each context its own cookies and cache."""
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield launched
        finally:
            launched.close()

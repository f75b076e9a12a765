# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the shared test data lies: LKML_SHARED_DIR, by default the sibling ../shared."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    return Path(os.environ.get("LKML_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def patchwork_dump() -> Path:
    return shared_dir() / "peers" / "patchwork-3.2.1" / "netfilter-devel"


def patchwork_recordings() -> Path:
    return shared_dir() / "peers" / "patchwork-3.2.1"

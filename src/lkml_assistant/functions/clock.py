# SPDX-License-Identifier: GPL-2.0-or-later
"""The Lambda handlers' "now", in one place, so that tests can pin it for every handler."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)

# SPDX-License-Identifier: GPL-2.0-or-later
"""A Patchwork of many projects for the Patchwork test server: each project a list of its own
(``<name>@vger.kernel.org``, archived on lore under ``<name>``), each with series built from the
recorded dump's patches as :meth:`PatchworkData._synthetic_series` builds them. The fan-out
tests and the scale replay both build theirs here."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.peers.patchwork_server import LORE_ORIGIN, PatchworkData
from tests.shared_data import patchwork_dump


def project_record(number: int, name: str) -> dict[str, Any]:
    """A Patchwork project as the API lists it, for the list ``name``."""
    return {
        "id": number,
        "url": f"http://patchwork.test/api/projects/{number}/",
        "name": f"Project {name}",
        "link_name": name,
        "list_id": f"{name}.vger.kernel.org",
        "list_email": f"{name}@vger.kernel.org",
        "web_url": "",
        "scm_url": "",
        "webscm_url": "",
        "maintainers": [],
        "subject_match": "",
        "list_archive_url": f"{LORE_ORIGIN}/{name}/",
        "list_archive_url_format": f"{LORE_ORIGIN}/{name}/{{}}/",
        "commit_url_format": "",
    }


def many_projects(
    names: list[str],
    *,
    patches_per_project: int,
    start: datetime,
    days: float,
    series_size: Callable[[random.Random], int],
    seed: int = 14,
) -> PatchworkData:
    """``names`` as projects, each with ``patches_per_project`` patches in series of
    ``series_size(rng)`` patches, posted at random (seeded) in the ``days`` after ``start``."""
    templates = json.loads((patchwork_dump() / "patches.json").read_bytes())
    projects = [project_record(number, name) for number, name in enumerate(names, start=1)]
    data = PatchworkData(projects=projects, mail=None)
    rng = random.Random(seed)
    with data.lock:
        serial = 0
        for project in projects:
            remaining = patches_per_project
            while remaining > 0:
                size = min(remaining, series_size(rng))
                remaining -= size
                serial += 1
                arrival = start + timedelta(days=days) * rng.random()
                data._synthetic_series(rng, templates, project, serial, size, arrival, 0.5, 0.0)
        data._initial = data._s.copy()
    return data

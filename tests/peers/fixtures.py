# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures for the Patchwork API test server (registered from ``tests/conftest.py``).

* ``patchwork_data`` (session): the real netfilter-devel dump, loaded once.
* ``patchwork_server``: a server on loopback serving it. One server runs for the whole session
  and is reset before and after every test (data, faults, request log, settings), which costs
  microseconds, so no test sees another's maintainer actions, new mail or faults.

Change data through ``patchwork_server.data``; changes made to ``patchwork_data`` without
the ``patchwork_server`` fixture are not undone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.peers.patchwork_server import PatchworkData, PatchworkServer, run_patchwork_server

__all__ = ["patchwork_data", "patchwork_server", "patchwork_session_server"]


@pytest.fixture(scope="session")
def patchwork_data() -> PatchworkData:
    return PatchworkData.from_dump()


@pytest.fixture(scope="session")
def patchwork_session_server(patchwork_data: PatchworkData) -> Iterator[PatchworkServer]:
    """The one server of the session; prefer ``patchwork_server``, which resets it."""
    with run_patchwork_server(patchwork_data) as server:
        yield server


@pytest.fixture
def patchwork_server(patchwork_session_server: PatchworkServer) -> Iterator[PatchworkServer]:
    patchwork_session_server.reset()
    yield patchwork_session_server
    patchwork_session_server.reset()

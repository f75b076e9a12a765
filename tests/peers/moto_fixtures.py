# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures for moto's server (registered from ``tests/conftest.py``).

* ``moto_session_server`` (session): one server process for the whole run.
* ``aws``: that server, emptied before the test, with boto3's environment variables pointing
  at it for the duration of the test (and restored after).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.peers.moto_server import MotoServer, run_moto_server

__all__ = ["aws", "moto_session_server"]


@pytest.fixture(scope="session")
def moto_session_server() -> Iterator[MotoServer]:
    with run_moto_server() as server:
        yield server


@pytest.fixture
def aws(moto_session_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    moto_session_server.reset()
    for name, value in moto_session_server.environ().items():
        monkeypatch.setenv(name, value)
    return moto_session_server

# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures shared by the whole suite: the real test peers."""

pytest_plugins = [
    "tests.peers.public_inbox_fixtures",
    "tests.peers.fixtures",
    "tests.peers.moto_fixtures",
]

# SPDX-License-Identifier: GPL-2.0-or-later
"""LKML Assistant: follow Linux kernel patches and their review discussions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lkml-assistant")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

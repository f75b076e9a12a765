# SPDX-License-Identifier: GPL-2.0-or-later
"""LKML Assistant: follow Linux kernel patches and their review discussions."""

# The one place the version is written (pyproject.toml reads it): a constant, because asking
# importlib.metadata costs a Lambda cold start some 60 ms.
__version__ = "0.1.0"

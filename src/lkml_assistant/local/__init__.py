# SPDX-License-Identifier: GPL-2.0-or-later
"""The one-machine mode: terminal progress, scheduler and local HTTP server."""

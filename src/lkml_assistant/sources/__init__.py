# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients of other people's services (Patchwork, lore) and the mail parser."""

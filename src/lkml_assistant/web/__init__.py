# SPDX-License-Identifier: GPL-2.0-or-later
"""Pages for people: server-rendered HTML beside the JSON API, from the same service layer."""

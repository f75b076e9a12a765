# SPDX-License-Identifier: GPL-2.0-or-later
"""Pydantic models, one set per boundary: domain, stored records and API shapes."""

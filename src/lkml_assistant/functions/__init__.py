# SPDX-License-Identifier: GPL-2.0-or-later
"""Thin Lambda entry points: parse the event, call one service, return its summary.

No HTTP, storage or business rules live here; Powertools' logger, metrics and tracer are
added with the AWS deployment.
"""

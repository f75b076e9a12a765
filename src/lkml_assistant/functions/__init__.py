# SPDX-License-Identifier: GPL-2.0-or-later
"""Thin Lambda entry points: parse the event, call the service layer, return its summary.

No HTTP, storage or business rules live here: ``jobs`` runs a recipe of
:mod:`lkml_assistant.services.recipes`, ``consumer`` the queued thread fetches, ``api`` the
REST API. Powertools' logger, metrics and tracer are made once, in ``observability``.
"""

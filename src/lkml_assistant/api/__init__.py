# SPDX-License-Identifier: GPL-2.0-or-later
"""The REST API: one set of routes served by uvicorn locally and by API Gateway on AWS."""

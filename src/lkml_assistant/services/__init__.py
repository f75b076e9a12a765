# SPDX-License-Identifier: GPL-2.0-or-later
"""The jobs and queries, shared by the Lambda functions and the one-machine mode."""

# SPDX-License-Identifier: GPL-2.0-or-later
"""The store contract: every repository interface behaves the same on SQLite and DynamoDB."""

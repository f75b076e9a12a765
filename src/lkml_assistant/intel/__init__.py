# SPDX-License-Identifier: GPL-2.0-or-later
"""Review intelligence: subjects, patch-ids, version chains and review status (pure, no I/O)."""

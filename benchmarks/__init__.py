# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmarks run by `make bench`; each prints its figures beside a baseline from the same run."""

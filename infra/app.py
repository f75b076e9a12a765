#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The CDK app: ``python app.py`` synthesizes one environment's stack into ``cdk.out``.

The environment comes from ``-c env=dev|staging|prod`` or ``LKML_ENV`` (default dev). The
Lambda code is the bundle ``make bundle`` writes to ``dist/lambda`` (or ``-c bundle_dir=DIR``).
Optional context: ``projects`` (LKML_PROJECTS), ``alarm_email``. cdk-nag's AWS Solutions checks
run on every synthesis and fail it on any unacknowledged finding.
"""

from __future__ import annotations

import os
import sys

from lkml_infra.app import build_app, default_bundle_dir


def _context(argv: list[str]) -> dict[str, str]:
    """``-c key=value`` pairs, as the cdk CLI takes them, for ``python app.py`` run by hand."""
    context: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-c", "--context"):
            key, sep, value = next(args, "").partition("=")
            if not sep:
                raise ValueError(f"{arg} takes key=value")
            context[key] = value
        else:
            raise ValueError(f"unknown argument {arg!r}: use -c key=value")
    return context


def main(argv: list[str]) -> int:
    try:
        app, _stack = build_app(os.environ, default_bundle_dir(), context=_context(argv))
    except ValueError as error:
        print(f"app.py: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

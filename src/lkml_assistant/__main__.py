# SPDX-License-Identifier: GPL-2.0-or-later
"""`python -m lkml_assistant` runs the command-line interface."""

from lkml_assistant.cli import main

raise SystemExit(main())

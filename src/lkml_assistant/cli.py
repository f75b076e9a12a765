# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line interface: ``lkml-assistant COMMAND`` (also ``python -m lkml_assistant``).

Exit status: 0 when the run completed (items skipped with reasons included), 1 when it could
not complete (an upstream unreachable after retries, an unknown project), 2 for bad input or
settings. Errors are one line on stderr; ``--json`` puts the summary on stdout's last line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from lkml_assistant import __version__
from lkml_assistant.config import ConfigFileMissingError, Settings, load_settings
from lkml_assistant.repositories import open_store
from lkml_assistant.repositories.factory import StoreUnavailableError
from lkml_assistant.services.summary import JobSummary
from lkml_assistant.wiring import lore_client, patchwork_client

PROG = "lkml-assistant"
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line or in the settings."""


def _iso_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO date or time: {value!r} (try 2025-01-31 or 2025-01-31T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        name = f"LKML_{where.upper()}" if where else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "bad settings: " + "; ".join(problems)


def _load(args: argparse.Namespace, **overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise UsageError(_settings_error(exc)) from exc
    except ConfigFileMissingError as exc:
        raise UsageError(str(exc)) from exc


def _setup_logging(level: str, verbose: int, quiet: bool) -> None:
    if quiet:
        level = "ERROR"
    elif verbose:
        level = "DEBUG"
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; our own summary says enough.
    logging.getLogger("httpx").setLevel(logging.WARNING if not verbose else logging.DEBUG)


def _report(summary: JobSummary, as_json: bool) -> int:
    for message in summary.error_messages:
        print(f"{PROG}: error: {message}", file=sys.stderr)
    print(summary.to_json() if as_json else summary.line(), flush=True)
    return EXIT_OK if summary.completed else EXIT_INCOMPLETE


def cmd_fetch_patches(args: argparse.Namespace) -> int:
    from lkml_assistant.local.progress import terminal_progress
    from lkml_assistant.services.fetch_patches import FetchPatches

    settings = _load(args, projects=args.project or None)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    with (
        open_store(settings) as store,
        patchwork_client(settings) as client,
        terminal_progress(enabled=sys.stderr.isatty() and not args.quiet) as progress,
    ):
        job = FetchPatches(store, client, server_tz=settings.patchwork_tz, progress=progress)
        summary = job.run(settings.projects, since=args.since, full=args.full)
    return _report(summary, args.json)


def cmd_fetch_discussions(args: argparse.Namespace) -> int:
    from lkml_assistant.services.fetch_discussions import FetchDiscussions

    settings = _load(args, projects=args.project or None)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    with open_store(settings) as store, lore_client(settings) as lore:
        projects = settings.projects if not args.patch else []
        summary = FetchDiscussions(store, lore).run(patch_ids=args.patch or [], projects=projects)
    return _report(summary, args.json)


def cmd_refresh_discussions(args: argparse.Namespace) -> int:
    from lkml_assistant.services.refresh_discussions import RefreshDiscussions

    settings = _load(args)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    with open_store(settings) as store, lore_client(settings) as lore:
        summary = RefreshDiscussions(store, lore).run(days=args.days, full=args.full)
    return _report(summary, args.json)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Follow Linux kernel patches (Patchwork) and their reviews (lore).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the summary as JSON")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    common.add_argument("-q", "--quiet", action="store_true", help="log errors only")

    fetch = commands.add_parser(
        "fetch-patches",
        parents=[common],
        help="mirror patches, series and states from Patchwork",
        description="Mirror patches, series and states of the configured Patchwork projects. "
        "Incremental unless --full.",
    )
    fetch.add_argument(
        "--project",
        action="append",
        metavar="P",
        help="Patchwork project link name (repeatable; default: LKML_PROJECTS)",
    )
    fetch.add_argument(
        "--since",
        type=_iso_moment,
        metavar="ISO",
        help="read patches submitted at or after this time (naive means UTC)",
    )
    fetch.add_argument("--full", action="store_true", help="re-crawl instead of reading changes")
    fetch.set_defaults(handler=cmd_fetch_patches)

    discussions = commands.add_parser(
        "fetch-discussions",
        parents=[common],
        help="read the review threads of tracked patches from lore",
        description="Fetch the lore thread of every tracked patch that has none yet or a stale "
        "one, and extract replies and trailers.",
    )
    discussions.add_argument(
        "--patch",
        action="append",
        type=_positive_int,
        metavar="ID",
        help="Patchwork patch id (repeatable); default: every patch that needs it",
    )
    discussions.add_argument(
        "--project",
        action="append",
        metavar="P",
        help="only patches of this project (repeatable; default: LKML_PROJECTS)",
    )
    discussions.set_defaults(handler=cmd_fetch_discussions)

    refresh = commands.add_parser(
        "refresh-discussions",
        parents=[common],
        help="bring the threads of recent patches up to date",
        description="Ask lore which messages arrived since the last refresh and re-fetch only "
        "the threads they belong to.",
    )
    refresh.add_argument(
        "--days",
        type=_positive_int,
        default=14,
        metavar="N",
        help="threads of patches submitted in the last N days (default 14)",
    )
    refresh.add_argument(
        "--full", action="store_true", help="re-fetch every recent thread (the safety net)"
    )
    refresh.set_defaults(handler=cmd_refresh_discussions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailableError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

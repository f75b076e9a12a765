# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line interface: ``lkml-assistant COMMAND`` (also ``python -m lkml_assistant``).

Exit status: 0 when the run completed (items skipped with reasons included), 1 when it could
not complete (an upstream unreachable after retries, an unknown project), 2 for bad input or
settings. Errors are one line on stderr; ``--json`` puts the summary on stdout's last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pydantic import ValidationError

from lkml_assistant import __version__
from lkml_assistant.config import MAX_DAYS, ConfigFileError, Settings, load_settings
from lkml_assistant.repositories import open_store
from lkml_assistant.repositories.base import StoreOpenError
from lkml_assistant.services.jobs import Jobs, RecipeSummary
from lkml_assistant.services.queries.validation import MAX_ID
from lkml_assistant.services.recipes import BACKFILL, JobName
from lkml_assistant.services.summary import JobSummary

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
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from exc


def _setup_logging(level: str, verbose: int, quiet: bool) -> None:
    if quiet:
        level = "ERROR"
    elif verbose:
        level = "DEBUG"
    setup_logging(level)


def setup_logging(level: str) -> None:
    """The log format of every command, and of serve's API workers."""
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; our own summary says enough.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


def _report(summary: JobSummary, as_json: bool, *, review_intel: JobSummary | None = None) -> int:
    """Errors on stderr, the one summary line on stdout, the exit status.

    ``review_intel``: the pass that followed a fetch. Its errors and status count too; its
    line is logged, and with ``--json`` nested under ``review_intel``."""
    parts = [summary, *([review_intel] if review_intel is not None else [])]
    for part in parts:
        for message in part.error_messages:
            print(f"{PROG}: error: {message}", file=sys.stderr)
    if review_intel is not None:
        logging.getLogger(__name__).info("%s", review_intel.line())
    if as_json:
        data = summary.as_dict()
        if review_intel is not None:
            data["review_intel"] = review_intel.as_dict()
        print(json.dumps(data, sort_keys=True), flush=True)
    else:
        print(summary.line(), flush=True)
    return EXIT_OK if all(part.completed for part in parts) else EXIT_INCOMPLETE


@contextmanager
def _jobs(settings: Settings, *, progress: bool = False) -> Iterator[Jobs]:
    from lkml_assistant.local.progress import terminal_progress

    with (
        open_store(settings) as store,
        terminal_progress(enabled=progress) as bars,
    ):
        yield Jobs(settings, store, progress=bars)


def _with_review_intel(jobs: Jobs, fetched: JobSummary, now: datetime, as_json: bool) -> int:
    """Report a fetch after leaving the review intelligence current for what it wrote."""
    return _report(fetched, as_json, review_intel=jobs.then_review_intel(fetched, now))


def cmd_fetch_patches(args: argparse.Namespace) -> int:
    settings = _load(args, projects=args.project or None)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    now = datetime.now(UTC)
    with _jobs(settings, progress=sys.stderr.isatty() and not args.quiet) as jobs:
        summary = jobs.fetch_patches(now, full=args.full, since=args.since, windowed=False)
        return _with_review_intel(jobs, summary, now, args.json)


def cmd_fetch_discussions(args: argparse.Namespace) -> int:
    settings = _load(args, projects=args.project or None)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    now = datetime.now(UTC)
    with _jobs(settings, progress=sys.stderr.isatty() and not args.quiet) as jobs:
        summary = jobs.fetch_discussions(now, patch_ids=args.patch or (), any_age=True)
        return _with_review_intel(jobs, summary, now, args.json)


def cmd_refresh_discussions(args: argparse.Namespace) -> int:
    settings = _load(args)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    now = datetime.now(UTC)
    with _jobs(settings) as jobs:
        summary = jobs.refresh_discussions(
            now, days=args.days, full=args.full, changing=args.changing
        )
        return _with_review_intel(jobs, summary, now, args.json)


def cmd_review_intel(args: argparse.Namespace) -> int:
    settings = _load(args, projects=args.project or None)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    with _jobs(settings) as jobs:
        summary = jobs.review_intel(datetime.now(UTC), days=args.days)
    return _report(summary, args.json)


def cmd_upgrade_store(args: argparse.Namespace) -> int:
    settings = _load(args)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    if settings.store != "dynamodb":
        print(f"{PROG}: upgrade-store: nothing to do, SQLite migrates itself when opened")
        return 0
    from lkml_assistant.repositories.dynamodb import DynamoDbStore

    with open_store(settings) as store:
        assert isinstance(store, DynamoDbStore)
        print(store.upgrade())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lkml_assistant.local.service import ApiStartError, LocalService

    # --port 0 (any free port) is for tests and scripts, so it is not a setting.
    settings = _load(args, api_host=args.host, api_workers=args.workers)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    try:
        service = LocalService(settings, port=args.port)
    except OSError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    try:
        return service.run()
    except (OSError, ApiStartError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE


def cmd_backfill(args: argparse.Namespace) -> int:
    from lkml_assistant.local.service import JobsBusyError, jobs_lock

    settings = _load(args)
    _setup_logging(settings.log_level, args.verbose, args.quiet)
    days = args.days or settings.backfill_days
    show = sys.stderr.isatty() and not args.quiet
    now = datetime.now(UTC)
    parts: list[JobSummary] = []
    try:
        with jobs_lock(settings), _jobs(settings, progress=show) as jobs:
            for step in BACKFILL.steps:
                # Pages and threads show as progress bars; the other steps get a spinner.
                spin = show and step.job not in {JobName.FETCH_PATCHES, JobName.FETCH_DISCUSSIONS}
                with _status(f"{step.label}: {STEP_ACTIVITY[step.job]}", enabled=spin):
                    parts.append(jobs.run_step(step, now, days=days))
                if not args.json:
                    print(parts[-1].line(), flush=True)
    except JobsBusyError as exc:
        print(f"{PROG}: {exc}; stop it, or let it do the backfill", file=sys.stderr)
        return EXIT_INCOMPLETE
    summary = RecipeSummary.of(BACKFILL.name, parts, days)
    if not args.json:
        for message in summary.error_messages:
            print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_OK if summary.completed else EXIT_INCOMPLETE
    return _report(summary, True)


STEP_ACTIVITY = {
    JobName.FETCH_PATCHES: "reading patches from Patchwork",
    JobName.FETCH_DISCUSSIONS: "reading the review threads from lore",
    JobName.REFRESH_DISCUSSIONS: "asking lore for new mail",
    JobName.REVIEW_INTEL: "linking versions and deriving review status",
}


@contextmanager
def _status(message: str, *, enabled: bool) -> Iterator[None]:
    """A spinner on the terminal while a job without page counts runs."""
    if not enabled:
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}")
    return number


def _whole_number(largest: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``largest``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if not 1 <= number <= largest:
            raise argparse.ArgumentTypeError(f"must be from 1 to {largest}: {value!r}")
        return number

    return parse


_patch_id = _whole_number(MAX_ID)
_days = _whole_number(MAX_DAYS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Follow Linux kernel patches (Patchwork) and their reviews (lore).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    logging_options = argparse.ArgumentParser(add_help=False)
    logging_options.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    logging_options.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    common = argparse.ArgumentParser(add_help=False, parents=[logging_options])
    common.add_argument("--json", action="store_true", help="print the summary as JSON")

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
        type=_patch_id,
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
        type=_days,
        metavar="N",
        help="threads of patches submitted in the last N days (default: LKML_REFRESH_DAYS, 14)",
    )
    mode = refresh.add_mutually_exclusive_group()
    mode.add_argument(
        "--full", action="store_true", help="re-fetch every recent thread (the safety net)"
    )
    mode.add_argument(
        "--changing",
        action="store_true",
        help="also re-fetch the recent threads that can still change: open patches, recent "
        "mail (the daily run; LKML_REFRESH_SETTLED_DAYS)",
    )
    refresh.set_defaults(handler=cmd_refresh_discussions)

    intel = commands.add_parser(
        "review-intel",
        parents=[common],
        help="link series versions and derive review status, from the store alone",
        description="Link the versions of each series (v1 -> vN), mark older ones superseded "
        "and derive every patch's review status, carrying trailers forward across unchanged "
        "patches. Reads only the store; `serve` runs it after every fetch.",
    )
    intel.add_argument(
        "--project", action="append", metavar="P", help="only this project (repeatable)"
    )
    intel.add_argument(
        "--days",
        type=_days,
        metavar="N",
        help="patches of the last N days (default: LKML_BACKFILL_DAYS, 30)",
    )
    intel.set_defaults(handler=cmd_review_intel)

    upgrade = commands.add_parser(
        "upgrade-store",
        parents=[common],
        help="once after upgrading: rewrite DynamoDB items an earlier version wrote",
        description="Give DynamoDB patch items written by an earlier version the by-date "
        "index and their 'needs its thread' marker (docs/aws.md). Safe to run again or beside "
        "the jobs; a Scan, so run it with an operator's credentials. SQLite needs nothing.",
    )
    upgrade.set_defaults(handler=cmd_upgrade_store)

    serve = commands.add_parser(
        "serve",
        parents=[logging_options],
        help="run the scheduled jobs and the REST API until stopped",
        description="Serve the REST API and run the jobs on schedule (UTC): hourly new patches "
        "and threads, daily at 03:00 the full refresh, Sundays at 04:00 the threads of the "
        "whole backfill window. A first start backfills LKML_BACKFILL_DAYS. Stops cleanly on "
        "SIGTERM or Ctrl-C.",
    )
    serve.add_argument("--host", metavar="H", help="address to listen on (default: LKML_API_HOST)")
    serve.add_argument(
        "--port", type=_port, metavar="P", help="port (default: LKML_API_PORT; 0 picks one)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="HTTP worker processes, 1 to 64, or 0 for one per CPU (default: LKML_API_WORKERS, "
        "0); 1 answers from serve's own process",
    )
    serve.set_defaults(handler=cmd_serve)

    backfill = commands.add_parser(
        "backfill",
        parents=[common],
        help="mirror the last N days of patches and their threads, once",
        description="Fetch the patches submitted in the last N days (Patchwork), then their "
        "review threads (lore). What `serve` does on its first start.",
    )
    backfill.add_argument(
        "--days",
        type=_days,
        metavar="N",
        help="how far back (default: LKML_BACKFILL_DAYS, 30)",
    )
    backfill.set_defaults(handler=cmd_backfill)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UsageError, StoreOpenError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

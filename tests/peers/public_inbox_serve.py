# SPDX-License-Identifier: GPL-2.0-or-later
"""The standard inboxes (:func:`tests.peers.public_inbox.standard_specs`) served until
interrupted, for the demo and by hand:

    python -m tests.peers.public_inbox_serve [--port P] [--workdir DIR] [--progress FILE]

A first start imports the mail into the cache (minutes on a busy machine), later starts copy
it. With ``--progress FILE`` it keeps FILE saying how far it has come (:class:`ProgressFile`),
so that whoever waits for it can show that, and tell a slow import from a stuck one.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.peers.public_inbox import PublicInbox, standard_specs


class ProgressFile:
    """One JSON object ``{"step", "inbox", "done", "total"}``, replaced whole (written aside,
    then renamed) at every step, and at most every *every* seconds while an import runs.

    Steps: ``preparing`` (an inbox: from the cache, or its import about to start),
    ``importing`` (``done`` of ``total`` messages sent to the import), ``starting`` (the HTTP
    server), ``serving``.
    """

    def __init__(self, path: Path, every: float = 0.5) -> None:
        self.path = path
        self.every = every
        self._written = -math.inf

    def write(self, step: str, *, inbox: str = "", done: int = 0, total: int = 0) -> None:
        data = {"step": step, "inbox": inbox, "done": done, "total": total}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data) + "\n")
        tmp.replace(self.path)
        self._written = time.monotonic()

    def importing(self, inbox: str, done: int, total: int) -> None:
        if time.monotonic() - self._written >= self.every or done >= total:
            self.write("importing", inbox=inbox, done=done, total=total)


def read_progress(path: Path) -> dict[str, Any] | None:
    """What a :class:`ProgressFile` holds now; None before it is written."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def serve(workdir: Path, port: int, report: ProgressFile | None) -> int:
    with PublicInbox(workdir) as pi:
        for spec in standard_specs():
            if report is not None:
                report.write("preparing", inbox=spec.name)
            inbox = pi.create_inbox(
                spec.name,
                spec.mbox_paths,
                address=spec.address,
                progress=report.importing if report is not None else None,
            )
            how = "from cache" if inbox.from_cache else f"imported in {inbox.import_seconds:.1f} s"
            print(f"{inbox.name}: {inbox.messages} messages ({how})", flush=True)
        if report is not None:
            report.write("starting")
        origin = pi.start_httpd(port=port)
        if report is not None:
            report.write("serving")
        for name in pi.inboxes:
            print(f"serving {origin}/{name}/", flush=True)
        stopping: list[int] = []
        # Explicit handlers: a background job starts with SIGINT ignored.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: stopping.append(signum))
        while pi.running and not stopping:
            time.sleep(0.2)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", help="scratch folder (default: a new temporary one)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--progress", help="keep a JSON file saying how far the start has come")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pi-"))
    report = ProgressFile(Path(args.progress)) if args.progress else None
    return serve(workdir, args.port, report)


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: GPL-2.0-or-later
"""The connection the SQLite repositories share, and its query helpers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import StoreOpenError
from lkml_assistant.repositories.encoding import Clock, utc_text
from lkml_assistant.repositories.sqlite.migrations import migrate

# Keys of an IN list go in batches of this many, well under SQLite's limit on bound parameters.
IN_BATCH = 500


class Db:
    """One connection shared by the repositories, serialised by a lock.

    SQLite allows one writer at a time anyway; a lock keeps the API threads and the scheduler
    from interleaving statements on the same connection. ``clock`` stamps ``updated_at``.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.lock = threading.RLock()
        if path.is_dir():
            raise StoreOpenError(f"cannot open the store {path}: it is a directory, not a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreOpenError(f"cannot open the store {path}: {_reason(exc)}") from None
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=10000")
            self.conn.execute("PRAGMA foreign_keys=ON")
            with self.lock:
                migrate(self.conn)
        except sqlite3.Error as exc:
            self.conn.close()
            raise StoreOpenError(f"cannot open the store {path}: {_reason(exc)}") from None

    def now(self) -> str:
        """Now as the ``updated_at`` text of a row written now."""
        return utc_text(self.clock())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            cursor = self.conn.execute(sql, params)
            rows: list[sqlite3.Row] = cursor.fetchall()
            return rows

    def query_in(self, sql: str, keys: Iterable[Any]) -> list[sqlite3.Row]:
        """Run ``sql`` whose ``{marks}`` stands for an IN list, over many keys, in batches."""
        unique = sorted(set(keys))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(unique), IN_BATCH):
            chunk = unique[start : start + IN_BATCH]
            rows.extend(self.query(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return rows

    def upsert(self, sql: str, rows: list[tuple[Any, ...]]) -> WriteResult:
        """Run an ``INSERT … ON CONFLICT DO UPDATE … WHERE fingerprint differs`` for many rows."""
        if not rows:
            return WriteResult()
        with self.transaction() as conn:
            # rowcount sums each statement's own changes; total_changes would also count the
            # rows the search-index and counter triggers touch.
            written = conn.executemany(sql, rows).rowcount
        return WriteResult(written=written, unchanged=len(rows) - written)

    def change_token(self) -> tuple[int, int]:
        """SQLite's data_version (moves when another connection, in any process, commits)
        with this connection's own count of changed rows (which data_version leaves out)."""
        with self.lock:
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            return int(version), self.conn.total_changes

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _reason(exc: OSError | sqlite3.Error) -> str:
    """What an operator can act on, in place of SQLite's terse wording."""
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return "the file is not a SQLite database"
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return "the file cannot be created or opened here (is the folder writable?)"
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        return "the file is read-only"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        return f"{exc.filename} is a file, not a folder"
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)

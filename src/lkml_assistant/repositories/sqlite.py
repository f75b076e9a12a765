# SPDX-License-Identifier: GPL-2.0-or-later
"""The embedded store: one SQLite file in WAL mode.

Each object is kept as its domain JSON plus the columns its access patterns filter or sort on
(see docs/data-model.md). An upsert writes only when the object's fingerprint changed, so a
steady-state run writes nothing. ``updated_at`` records when our copy last changed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lkml_assistant.models.domain import Patch, Project, Series
from lkml_assistant.models.records import (
    Change,
    ChangePage,
    LoreCursor,
    PatchDiscussion,
    PatchReview,
    ReviewCounts,
    RunRecord,
    SeriesLink,
    StoredMessage,
    SyncCursor,
    WriteResult,
)
from lkml_assistant.repositories.base import (
    ChangeRepository,
    CursorRepository,
    DiscussionRepository,
    PageMark,
    PatchQuery,
    PatchRepository,
    ProjectRepository,
    ReviewRepository,
    RunRepository,
    SeriesRepository,
    StatsRepository,
    Store,
    StoreCounts,
)


def _change_log_triggers(*tables: tuple[str, str, str]) -> str:
    """For each (table, change kind, key column): the triggers that append one change to
    ``changes`` on every insert, and on every update that changed the row's fingerprint."""
    triggers = []
    for table, kind, key in tables:
        logged = (
            f"INSERT INTO changes (kind, key, changed_at) "  # noqa: S608 - our own names
            f"VALUES ('{kind}', new.{key}, new.updated_at);"
        )
        triggers.append(
            f"CREATE TRIGGER {table}_change_insert AFTER INSERT ON {table} BEGIN\n"
            f"    {logged}\nEND;\n"
            f"CREATE TRIGGER {table}_change_update AFTER UPDATE ON {table}\n"
            f"WHEN old.fingerprint IS NOT new.fingerprint BEGIN\n    {logged}\nEND;\n"
        )
    return "".join(triggers)


# Each entry upgrades the schema by one version (PRAGMA user_version); never edit a shipped one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE projects (
        link_name   TEXT PRIMARY KEY,
        id          INTEGER NOT NULL,
        data        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE patches (
        id              INTEGER PRIMARY KEY,
        project         TEXT NOT NULL,
        date            TEXT NOT NULL,
        state           TEXT NOT NULL,
        archived        INTEGER NOT NULL,
        submitter_email TEXT NOT NULL COLLATE NOCASE,
        msgid           TEXT NOT NULL,
        series_id       INTEGER,
        name            TEXT NOT NULL,
        data            TEXT NOT NULL,
        fingerprint     TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX patches_project_date ON patches (project, date DESC, id DESC);
    CREATE INDEX patches_state_date ON patches (state, project, date DESC, id DESC);
    CREATE INDEX patches_submitter_date ON patches (submitter_email, date DESC, id DESC);
    CREATE INDEX patches_series ON patches (series_id, id);
    CREATE INDEX patches_msgid ON patches (msgid);
    CREATE INDEX patches_updated ON patches (updated_at);
    CREATE TABLE series (
        id              INTEGER PRIMARY KEY,
        project         TEXT NOT NULL,
        date            TEXT NOT NULL,
        version         INTEGER NOT NULL,
        submitter_email TEXT NOT NULL COLLATE NOCASE,
        cover_msgid     TEXT,
        data            TEXT NOT NULL,
        fingerprint     TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX series_project_date ON series (project, date DESC, id DESC);
    CREATE INDEX series_submitter ON series (submitter_email, date DESC);
    CREATE INDEX series_cover_msgid ON series (cover_msgid);
    CREATE TABLE sync_cursors (
        project    TEXT PRIMARY KEY,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        job         TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL,
        summary     TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_job_started ON runs (job, started_at DESC);
    """,
    """
    CREATE TABLE messages (
        message_id   TEXT PRIMARY KEY,
        list_name    TEXT NOT NULL,
        thread_root  TEXT NOT NULL,
        parent_id    TEXT,
        author_email TEXT NOT NULL COLLATE NOCASE,
        date         TEXT,
        data         TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX messages_thread ON messages (thread_root, date);
    CREATE INDEX messages_author ON messages (author_email, date DESC);
    CREATE TABLE discussions (
        patch_id    INTEGER PRIMARY KEY,
        message_id  TEXT NOT NULL,
        list_name   TEXT NOT NULL,
        thread_root TEXT,
        stale       INTEGER NOT NULL DEFAULT 0,
        fetched_at  TEXT NOT NULL,
        data        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX discussions_thread ON discussions (thread_root);
    CREATE INDEX discussions_stale ON discussions (stale) WHERE stale = 1;
    CREATE TABLE lore_cursors (
        list_name  TEXT PRIMARY KEY,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # Read side of the API: unfiltered and state-only lists newest first, title search, and
    # counters kept by triggers so that /stats never counts a million messages.
    """
    CREATE INDEX patches_date ON patches (date DESC, id DESC);
    CREATE INDEX patches_state_only_date ON patches (state, date DESC, id DESC);
    CREATE VIRTUAL TABLE patches_fts USING fts5 (
        name, content = 'patches', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO patches_fts (patches_fts) VALUES ('rebuild');
    CREATE TRIGGER patches_fts_insert AFTER INSERT ON patches BEGIN
        INSERT INTO patches_fts (rowid, name) VALUES (new.id, new.name);
    END;
    CREATE TRIGGER patches_fts_delete AFTER DELETE ON patches BEGIN
        INSERT INTO patches_fts (patches_fts, rowid, name) VALUES ('delete', old.id, old.name);
    END;
    CREATE TRIGGER patches_fts_update AFTER UPDATE OF name ON patches
    WHEN old.name IS NOT new.name BEGIN
        INSERT INTO patches_fts (patches_fts, rowid, name) VALUES ('delete', old.id, old.name);
        INSERT INTO patches_fts (rowid, name) VALUES (new.id, new.name);
    END;
    CREATE TABLE patch_counts (
        project TEXT NOT NULL,
        state   TEXT NOT NULL,
        n       INTEGER NOT NULL,
        PRIMARY KEY (project, state)
    ) WITHOUT ROWID;
    INSERT INTO patch_counts (project, state, n)
        SELECT project, state, COUNT(*) FROM patches GROUP BY project, state;
    CREATE TRIGGER patch_counts_insert AFTER INSERT ON patches BEGIN
        INSERT INTO patch_counts (project, state, n) VALUES (new.project, new.state, 1)
            ON CONFLICT (project, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER patch_counts_delete AFTER DELETE ON patches BEGIN
        UPDATE patch_counts SET n = n - 1 WHERE project = old.project AND state = old.state;
    END;
    CREATE TRIGGER patch_counts_update AFTER UPDATE OF project, state ON patches
    WHEN old.project IS NOT new.project OR old.state IS NOT new.state BEGIN
        UPDATE patch_counts SET n = n - 1 WHERE project = old.project AND state = old.state;
        INSERT INTO patch_counts (project, state, n) VALUES (new.project, new.state, 1)
            ON CONFLICT (project, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TABLE row_counts (
        name TEXT PRIMARY KEY,
        n    INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO row_counts (name, n) VALUES
        ('projects', (SELECT COUNT(*) FROM projects)),
        ('series', (SELECT COUNT(*) FROM series)),
        ('messages', (SELECT COUNT(*) FROM messages)),
        ('discussions', (SELECT COUNT(*) FROM discussions));
    CREATE TRIGGER projects_count_insert AFTER INSERT ON projects BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'projects';
    END;
    CREATE TRIGGER projects_count_delete AFTER DELETE ON projects BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'projects';
    END;
    CREATE TRIGGER series_count_insert AFTER INSERT ON series BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'series';
    END;
    CREATE TRIGGER series_count_delete AFTER DELETE ON series BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'series';
    END;
    CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'messages';
    END;
    CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'messages';
    END;
    CREATE TRIGGER discussions_count_insert AFTER INSERT ON discussions BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'discussions';
    END;
    CREATE TRIGGER discussions_count_delete AFTER DELETE ON discussions BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'discussions';
    END;
    """,
    # Review intelligence: version chains of series, the review status of each patch (with
    # its reviewers, for a person's given reviews), and the change log that "what changed
    # since" reads. Every insert or real update of a record appends one change in the same
    # transaction (triggers: the upserts already skip identical rows, so they add nothing).
    "\n".join(
        (
            """
    CREATE TABLE series_links (
        series_id   INTEGER PRIMARY KEY,
        project     TEXT NOT NULL,
        chain_id    INTEGER NOT NULL,
        position    INTEGER NOT NULL,
        data        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX series_links_chain ON series_links (chain_id, position, series_id);
    CREATE TABLE reviews (
        patch_id    INTEGER PRIMARY KEY,
        project     TEXT NOT NULL,
        series_id   INTEGER,
        status      TEXT NOT NULL,
        date        TEXT NOT NULL,
        data        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX reviews_status ON reviews (status, project, date DESC, patch_id DESC);
    CREATE TABLE reviewers (
        email    TEXT NOT NULL COLLATE NOCASE,
        patch_id INTEGER NOT NULL,
        date     TEXT NOT NULL,
        PRIMARY KEY (email, patch_id)
    ) WITHOUT ROWID;
    CREATE INDEX reviewers_email_date ON reviewers (email, date DESC, patch_id DESC);
    CREATE INDEX reviewers_patch ON reviewers (patch_id);
    CREATE TRIGGER reviewers_insert AFTER INSERT ON reviews BEGIN
        INSERT OR IGNORE INTO reviewers (email, patch_id, date)
            SELECT lower(value), new.patch_id, new.date FROM json_each(new.data, '$.reviewers');
    END;
    CREATE TRIGGER reviewers_update AFTER UPDATE ON reviews
    WHEN old.fingerprint IS NOT new.fingerprint BEGIN
        DELETE FROM reviewers WHERE patch_id = old.patch_id;
        INSERT OR IGNORE INTO reviewers (email, patch_id, date)
            SELECT lower(value), new.patch_id, new.date FROM json_each(new.data, '$.reviewers');
    END;
    CREATE TABLE changes (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL,
        key        TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    INSERT INTO changes (kind, key, changed_at)
        SELECT kind, key, changed_at FROM (
            SELECT 'series' AS kind, CAST(id AS TEXT) AS key, updated_at AS changed_at,
                   1 AS rank FROM series
            UNION ALL SELECT 'patch', CAST(id AS TEXT), updated_at, 2 FROM patches
            UNION ALL SELECT 'message', message_id, updated_at, 3 FROM messages
            UNION ALL SELECT 'discussion', CAST(patch_id AS TEXT), updated_at, 4 FROM discussions
        ) ORDER BY changed_at, rank, key;
    """,
            _change_log_triggers(
                ("patches", "patch", "id"),
                ("series", "series", "id"),
                ("discussions", "discussion", "patch_id"),
                ("messages", "message", "message_id"),
                ("reviews", "review", "patch_id"),
                ("series_links", "link", "series_id"),
            ),
        )
    ),
)


# Below this many title hits a search sorts its hits; above, it walks the date index.
FTS_FEW_HITS = 2000


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements; a trigger body holds semicolons of its own."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\n;"):
                yield buffer
            buffer = ""


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in indexes."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return utc_text(datetime.now(UTC))


def fts_match(words: Sequence[str]) -> str:
    """An FTS5 query where every word must occur: each word is a quoted phrase, so that
    punctuation in it (nft_set_rbtree, v2/3) is tokenised like the titles, never parsed as
    query syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def fingerprint(data: str) -> str:
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


class _Db:
    """One connection shared by the repositories, serialised by a lock.

    SQLite allows one writer at a time anyway; a lock keeps the API threads and the scheduler
    from interleaving statements on the same connection.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self.lock:
            (version,) = self.conn.execute("PRAGMA user_version").fetchone()
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(script):
                        self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version={number}")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")

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
        """Run ``sql`` whose ``{marks}`` stands for an IN list, over many keys.

        Keys go in batches of 500, well under SQLite's limit on bound parameters.
        """
        unique = sorted(set(keys))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
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

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class SqliteProjects(ProjectRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def upsert_projects(self, projects: Iterable[Project]) -> WriteResult:
        now = _now()
        rows = []
        for project in projects:
            data = project.model_dump_json()
            rows.append((project.link_name, project.id, data, fingerprint(data), now))
        return self._db.upsert(
            """INSERT INTO projects (link_name, id, data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (link_name) DO UPDATE SET id = excluded.id, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE projects.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_project(self, link_name: str) -> Project | None:
        rows = self._db.query("SELECT data FROM projects WHERE link_name = ?", (link_name,))
        return Project.model_validate_json(rows[0][0]) if rows else None

    def list_projects(self) -> list[Project]:
        rows = self._db.query("SELECT data FROM projects ORDER BY link_name")
        return [Project.model_validate_json(row[0]) for row in rows]


class SqlitePatches(PatchRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult:
        now = _now()
        rows = []
        for patch in patches:
            data = patch.model_dump_json()
            rows.append(
                (
                    patch.id,
                    patch.project,
                    utc_text(patch.date),
                    patch.state,
                    int(patch.archived),
                    patch.submitter.email,
                    patch.msgid,
                    patch.series[0].id if patch.series else None,
                    patch.name,
                    data,
                    fingerprint(data),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO patches (id, project, date, state, archived, submitter_email, msgid,
                                    series_id, name, data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET
                   project = excluded.project, date = excluded.date, state = excluded.state,
                   archived = excluded.archived, submitter_email = excluded.submitter_email,
                   msgid = excluded.msgid, series_id = excluded.series_id, name = excluded.name,
                   data = excluded.data, fingerprint = excluded.fingerprint,
                   updated_at = excluded.updated_at
               WHERE patches.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_patch(self, patch_id: int) -> Patch | None:
        rows = self._db.query("SELECT data FROM patches WHERE id = ?", (patch_id,))
        return Patch.model_validate_json(rows[0][0]) if rows else None

    def get_patches(self, patch_ids: Iterable[int]) -> dict[int, Patch]:
        rows = self._db.query_in("SELECT data FROM patches WHERE id IN ({marks})", patch_ids)
        patches = (Patch.model_validate_json(row[0]) for row in rows)
        return {patch.id: patch for patch in patches}

    def patches_by_msgid(self, msgid: str) -> list[Patch]:
        rows = self._db.query("SELECT data FROM patches WHERE msgid = ? ORDER BY id", (msgid,))
        return [Patch.model_validate_json(row[0]) for row in rows]

    def patches_by_msgids(self, msgids: Iterable[str]) -> list[Patch]:
        rows = self._db.query_in(
            "SELECT data FROM patches WHERE msgid IN ({marks}) ORDER BY id", msgids
        )
        return [Patch.model_validate_json(row[0]) for row in rows]

    def list_patches(
        self,
        *,
        project: str | None = None,
        state: Sequence[str] = (),
        submitter: str | None = None,
        series_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Patch]:
        where: list[str] = []
        params: list[Any] = []
        if project is not None:
            where.append("project = ?")
            params.append(project)
        if state:
            where.append(f"state IN ({','.join('?' * len(state))})")
            params.extend(state)
        if submitter is not None:
            where.append("submitter_email = ?")
            params.append(submitter)
        if series_id is not None:
            where.append("series_id = ?")
            params.append(series_id)
        if since is not None:
            where.append("date >= ?")
            params.append(utc_text(since))
        if until is not None:
            where.append("date < ?")
            params.append(utc_text(until))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.query(
            f"SELECT data FROM patches {clause} ORDER BY date DESC, id DESC LIMIT ?",  # noqa: S608 - fixed fragments, values bound
            [*params, limit],
        )
        return [Patch.model_validate_json(row[0]) for row in rows]

    def count_patches(self, project: str | None = None) -> int:
        if project is None:
            rows = self._db.query("SELECT COUNT(*) FROM patches")
        else:
            rows = self._db.query("SELECT COUNT(*) FROM patches WHERE project = ?", (project,))
        return int(rows[0][0])

    def page_patches(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> list[Patch]:
        if len(query.states) <= 1:
            return self._page(query, query.states, after, limit)
        # One ordered index range per state, merged: SQLite cannot walk several IN values of
        # (state, date, id) in date order, and sorting every match of a broad state is slow.
        runs = [self._page(query, (state,), after, limit) for state in sorted(set(query.states))]
        merged = heapq.merge(*runs, key=lambda patch: (patch.date, patch.id), reverse=True)
        return list(itertools.islice(merged, limit))

    def _page(
        self, query: PatchQuery, states: Sequence[str], after: PageMark | None, limit: int
    ) -> list[Patch]:
        where: list[str] = []
        params: list[Any] = []
        if query.project is not None:
            where.append("project = ?")
            params.append(query.project)
        if states:
            where.append("state = ?")
            params.append(states[0])
        if query.submitter is not None:
            where.append("submitter_email = ?")
            params.append(query.submitter)
        if query.series_id is not None:
            where.append("series_id = ?")
            params.append(query.series_id)
        if query.review_states:
            # One primary-key lookup in reviews per patch walked (a LEFT JOIN in effect); a
            # patch without a review record counts as unreviewed.
            marks = ",".join("?" * len(query.review_states))
            status = "(SELECT r.status FROM reviews AS r WHERE r.patch_id = patches.id)"
            where.append(f"COALESCE({status}, 'unreviewed') IN ({marks})")
            params.extend(query.review_states)
        few_hits = False
        if query.words:
            match = fts_match(query.words)
            few_hits = self._fts_hits(match) < FTS_FEW_HITS
            # Few hits: look them up by id and sort them. Many: walk the date order and test
            # each entry against the hits (the unary + keeps SQLite from the id lookups),
            # which stops after one page instead of sorting thousands of patches.
            column = "id" if few_hits else "+id"
            where.append(f"{column} IN (SELECT rowid FROM patches_fts WHERE patches_fts MATCH ?)")  # noqa: S608 - fixed fragments
            params.append(match)
        if query.since is not None:
            where.append("date >= ?")
            params.append(utc_text(query.since))
        if query.until is not None:
            where.append("date < ?")
            params.append(utc_text(query.until))
        if after is not None:
            # A row value compares (date, id) at once and is served by the same index range.
            where.append("(date, id) < (?, ?)")
            params.extend((utc_text(after.date), after.id))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "ORDER BY date DESC, id DESC"
        sql = f"SELECT data FROM patches {clause} {order} LIMIT ?"  # noqa: S608 - fixed fragments, values bound
        if few_hits:
            # Sort the hits' (date, id) alone, then read the JSON of one page only.
            sql = (
                f"SELECT data FROM patches WHERE id IN "  # noqa: S608 - fixed fragments, values bound
                f"(SELECT id FROM patches {clause} {order} LIMIT ?) {order}"
            )
        rows = self._db.query(sql, [*params, limit])
        return [Patch.model_validate_json(row[0]) for row in rows]

    def _fts_hits(self, match: str) -> int:
        """How many titles match, counted up to FTS_FEW_HITS only."""
        rows = self._db.query(
            "SELECT COUNT(*) FROM "
            "(SELECT rowid FROM patches_fts WHERE patches_fts MATCH ? LIMIT ?)",
            (match, FTS_FEW_HITS),
        )
        return int(rows[0][0])


class SqliteSeries(SeriesRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def upsert_series(self, series: Iterable[Series]) -> WriteResult:
        now = _now()
        rows = []
        for item in series:
            data = item.model_dump_json()
            rows.append(
                (
                    item.id,
                    item.project,
                    utc_text(item.date),
                    item.version,
                    item.submitter.email,
                    item.cover_letter.msgid if item.cover_letter else None,
                    data,
                    fingerprint(data),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO series (id, project, date, version, submitter_email, cover_msgid,
                                   data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET
                   project = excluded.project, date = excluded.date, version = excluded.version,
                   submitter_email = excluded.submitter_email,
                   cover_msgid = excluded.cover_msgid, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE series.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_series(self, series_id: int) -> Series | None:
        rows = self._db.query("SELECT data FROM series WHERE id = ?", (series_id,))
        return Series.model_validate_json(rows[0][0]) if rows else None

    def series_by_cover_msgid(self, msgid: str) -> list[Series]:
        rows = self._db.query("SELECT data FROM series WHERE cover_msgid = ? ORDER BY id", (msgid,))
        return [Series.model_validate_json(row[0]) for row in rows]

    def known_series_ids(self, series_ids: Iterable[int]) -> set[int]:
        rows = self._db.query_in("SELECT id FROM series WHERE id IN ({marks})", series_ids)
        return {int(row[0]) for row in rows}


class SqliteCursors(CursorRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def get_cursor(self, project: str) -> SyncCursor | None:
        rows = self._db.query("SELECT data FROM sync_cursors WHERE project = ?", (project,))
        return SyncCursor.model_validate_json(rows[0][0]) if rows else None

    def save_cursor(self, project: str, cursor: SyncCursor) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                """INSERT INTO sync_cursors (project, data, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (project) DO UPDATE SET data = excluded.data,
                       updated_at = excluded.updated_at
                   WHERE sync_cursors.data != excluded.data""",
                (project, cursor.model_dump_json(), _now()),
            )

    def get_lore_cursor(self, list_name: str) -> LoreCursor | None:
        rows = self._db.query("SELECT data FROM lore_cursors WHERE list_name = ?", (list_name,))
        return LoreCursor.model_validate_json(rows[0][0]) if rows else None

    def save_lore_cursor(self, list_name: str, cursor: LoreCursor) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                """INSERT INTO lore_cursors (list_name, data, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (list_name) DO UPDATE SET data = excluded.data,
                       updated_at = excluded.updated_at
                   WHERE lore_cursors.data != excluded.data""",
                (list_name, cursor.model_dump_json(), _now()),
            )


class SqliteDiscussions(DiscussionRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def upsert_messages(self, messages: Iterable[StoredMessage]) -> WriteResult:
        now = _now()
        rows = []
        for message in messages:
            data = message.model_dump_json()
            rows.append(
                (
                    message.message_id,
                    message.list_name,
                    message.thread_root,
                    message.parent_id,
                    message.author_email,
                    utc_text(message.date) if message.date else None,
                    data,
                    fingerprint(data),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO messages (message_id, list_name, thread_root, parent_id, author_email,
                                     date, data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (message_id) DO UPDATE SET
                   list_name = excluded.list_name, thread_root = excluded.thread_root,
                   parent_id = excluded.parent_id, author_email = excluded.author_email,
                   date = excluded.date, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE messages.fingerprint != excluded.fingerprint""",
            rows,
        )

    def thread_messages(self, thread_root: str) -> list[StoredMessage]:
        rows = self._db.query(
            "SELECT data FROM messages WHERE thread_root = ? ORDER BY date, message_id",
            (thread_root,),
        )
        return [StoredMessage.model_validate_json(row[0]) for row in rows]

    def known_message_ids(self, message_ids: Iterable[str]) -> dict[str, str]:
        rows = self._db.query_in(
            "SELECT message_id, thread_root FROM messages WHERE message_id IN ({marks})",
            message_ids,
        )
        return {row[0]: row[1] for row in rows}

    def upsert_discussions(self, discussions: Iterable[PatchDiscussion]) -> WriteResult:
        now = _now()
        rows = []
        for item in discussions:
            # fetched_at is bookkeeping: a re-fetch that found the same thread changes nothing.
            data = item.model_dump_json()
            stable = item.model_dump_json(exclude={"fetched_at"})
            rows.append(
                (
                    item.patch_id,
                    item.message_id,
                    item.list_name,
                    item.thread_root,
                    utc_text(item.fetched_at),
                    data,
                    fingerprint(stable),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO discussions (patch_id, message_id, list_name, thread_root, stale,
                                        fetched_at, data, fingerprint, updated_at)
               VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)
               ON CONFLICT (patch_id) DO UPDATE SET
                   message_id = excluded.message_id, list_name = excluded.list_name,
                   thread_root = excluded.thread_root, stale = 0,
                   fetched_at = excluded.fetched_at, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE discussions.fingerprint != excluded.fingerprint OR discussions.stale = 1""",
            rows,
        )

    def get_discussion(self, patch_id: int) -> PatchDiscussion | None:
        rows = self._db.query("SELECT data FROM discussions WHERE patch_id = ?", (patch_id,))
        return PatchDiscussion.model_validate_json(rows[0][0]) if rows else None

    def get_discussions(self, patch_ids: Iterable[int]) -> dict[int, PatchDiscussion]:
        rows = self._db.query_in(
            "SELECT data FROM discussions WHERE patch_id IN ({marks})", patch_ids
        )
        items = (PatchDiscussion.model_validate_json(row[0]) for row in rows)
        return {item.patch_id: item for item in items}

    def get_review_counts(self, patch_ids: Iterable[int]) -> dict[int, ReviewCounts]:
        # SQLite's JSON functions count inside the stored summary, so a page of 200 patches
        # does not parse 200 whole summaries (trailers and all) in Python.
        rows = self._db.query_in(
            """SELECT patch_id,
                       json_extract(data, '$.summary.reply_count'),
                       json_extract(data, '$.summary.series_reply_count'),
                       json_array_length(data, '$.summary.participants'),
                       (SELECT COUNT(*) FROM json_each(data, '$.summary.trailers')
                        WHERE json_extract(value, '$.kind') = 'reviewed-by'),
                       (SELECT COUNT(*) FROM json_each(data, '$.summary.trailers')
                        WHERE json_extract(value, '$.kind') = 'acked-by'),
                       (SELECT COUNT(*) FROM json_each(data, '$.summary.trailers')
                        WHERE json_extract(value, '$.kind') = 'tested-by'),
                       json_array_length(data, '$.summary.naks'),
                       json_extract(data, '$.summary.last_activity')
               FROM discussions WHERE patch_id IN ({marks})""",
            patch_ids,
        )
        return {
            int(row[0]): ReviewCounts(
                reply_count=row[1] or 0,
                series_reply_count=row[2] or 0,
                participant_count=row[3] or 0,
                reviewed_by=row[4],
                acked_by=row[5],
                tested_by=row[6],
                naks=row[7] or 0,
                last_activity=datetime.fromisoformat(row[8]) if row[8] else None,
            )
            for row in rows
        }

    def patches_without_discussion(
        self, *, projects: Sequence[str] = (), since: datetime | None = None, limit: int = 10_000
    ) -> list[int]:
        where = ["(d.patch_id IS NULL OR d.stale = 1)"]
        params: list[Any] = []
        if projects:
            where.append(f"p.project IN ({','.join('?' * len(projects))})")
            params.extend(projects)
        if since is not None:
            where.append("p.date >= ?")
            params.append(utc_text(since))
        rows = self._db.query(
            f"""SELECT p.id FROM patches AS p LEFT JOIN discussions AS d ON d.patch_id = p.id
                WHERE {" AND ".join(where)} ORDER BY p.date DESC, p.id DESC LIMIT ?""",  # noqa: S608 - fixed fragments, values bound
            [*params, limit],
        )
        return [int(row[0]) for row in rows]

    def mark_stale(self, patch_ids: Iterable[int]) -> int:
        ids = sorted(set(patch_ids))
        changed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self._db.transaction() as conn:
                cursor = conn.execute(
                    f"UPDATE discussions SET stale = 1 WHERE stale = 0 AND patch_id IN ({marks})",  # noqa: S608 - placeholders only
                    chunk,
                )
                changed += cursor.rowcount
        return changed

    def recent_thread_roots(self, since: datetime) -> dict[str, str]:
        rows = self._db.query(
            """SELECT DISTINCT d.thread_root, d.list_name FROM discussions AS d
               JOIN patches AS p ON p.id = d.patch_id
               WHERE d.thread_root IS NOT NULL AND p.date >= ?""",
            (utc_text(since),),
        )
        return {row[0]: row[1] for row in rows}


class SqliteReviews(ReviewRepository):
    """Series links and patch reviews; the ``reviewers`` rows follow the reviews by trigger."""

    def __init__(self, db: _Db) -> None:
        self._db = db

    def upsert_links(self, links: Iterable[SeriesLink]) -> WriteResult:
        now = _now()
        rows = []
        for link in links:
            data = link.model_dump_json()
            rows.append(
                (
                    link.series_id,
                    link.project,
                    link.chain_id,
                    link.position,
                    data,
                    fingerprint(data),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO series_links (series_id, project, chain_id, position, data,
                                         fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (series_id) DO UPDATE SET
                   project = excluded.project, chain_id = excluded.chain_id,
                   position = excluded.position, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE series_links.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_links(self, series_ids: Iterable[int]) -> dict[int, SeriesLink]:
        rows = self._db.query_in(
            "SELECT data FROM series_links WHERE series_id IN ({marks})", series_ids
        )
        links = (SeriesLink.model_validate_json(row[0]) for row in rows)
        return {link.series_id: link for link in links}

    def chain(self, chain_id: int) -> list[SeriesLink]:
        rows = self._db.query(
            "SELECT data FROM series_links WHERE chain_id = ? ORDER BY position, series_id",
            (chain_id,),
        )
        return [SeriesLink.model_validate_json(row[0]) for row in rows]

    def upsert_reviews(self, reviews: Iterable[PatchReview]) -> WriteResult:
        now = _now()
        rows = []
        for review in reviews:
            data = review.model_dump_json()
            rows.append(
                (
                    review.patch_id,
                    review.project,
                    review.series_id,
                    review.status,
                    utc_text(review.date),
                    data,
                    fingerprint(data),
                    now,
                )
            )
        return self._db.upsert(
            """INSERT INTO reviews (patch_id, project, series_id, status, date, data,
                                    fingerprint, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (patch_id) DO UPDATE SET
                   project = excluded.project, series_id = excluded.series_id,
                   status = excluded.status, date = excluded.date, data = excluded.data,
                   fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
               WHERE reviews.fingerprint != excluded.fingerprint""",
            rows,
        )

    def get_reviews(self, patch_ids: Iterable[int]) -> dict[int, PatchReview]:
        rows = self._db.query_in("SELECT data FROM reviews WHERE patch_id IN ({marks})", patch_ids)
        reviews = (PatchReview.model_validate_json(row[0]) for row in rows)
        return {review.patch_id: review for review in reviews}

    def reviews_given_by(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        rows = self._db.query(
            """SELECT r.data FROM reviewers AS g JOIN reviews AS r ON r.patch_id = g.patch_id
               WHERE g.email = ? ORDER BY g.date DESC, g.patch_id DESC LIMIT ?""",
            (email.lower(), limit),
        )
        return [PatchReview.model_validate_json(row[0]) for row in rows]


class SqliteChanges(ChangeRepository):
    """The ``changes`` log the triggers append to; a cursor is the text of a ``seq``."""

    def __init__(self, db: _Db) -> None:
        self._db = db

    def _last_seq(self) -> int:
        rows = self._db.query("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return int(rows[0][0]) if rows else 0

    def _parse(self, cursor: str | None) -> int:
        if cursor is None:
            return 0
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
            raise ValueError(f"not a change cursor of this store: {cursor[:40]!r}")
        seq = int(cursor)
        if seq > self._last_seq():
            raise ValueError(f"change cursor {seq} is beyond this store's newest change")
        return seq

    def changes_since(self, cursor: str | None, *, limit: int = 500) -> ChangePage:
        after = self._parse(cursor)
        rows = self._db.query(
            "SELECT seq, kind, key, changed_at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, max(limit, 0) + 1),
        )
        more = len(rows) > limit
        changes = tuple(
            Change(
                kind=row[1],
                key=row[2],
                changed_at=datetime.fromisoformat(row[3]),
                cursor=str(row[0]),
            )
            for row in rows[:limit]
        )
        return ChangePage(
            changes=changes, cursor=changes[-1].cursor if changes else str(after), more=more
        )

    def latest_cursor(self) -> str:
        return str(self._last_seq())


class SqliteRuns(RunRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    def start_run(self, job: str, started_at: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (job, started_at, status) VALUES (?, ?, 'running')",
                (job, utc_text(started_at)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_run(
        self, run_id: int, *, finished_at: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (utc_text(finished_at), status, json.dumps(summary, sort_keys=True), run_id),
            )

    def last_runs(self) -> dict[str, RunRecord]:
        rows = self._db.query(
            """SELECT id, job, started_at, finished_at, status, summary FROM runs AS r
               WHERE id = (SELECT id FROM runs WHERE job = r.job ORDER BY started_at DESC, id DESC
                           LIMIT 1)
               ORDER BY job"""
        )
        return {
            row[1]: RunRecord(
                id=row[0],
                job=row[1],
                started_at=datetime.fromisoformat(row[2]),
                finished_at=datetime.fromisoformat(row[3]) if row[3] else None,
                status=row[4],
                summary=json.loads(row[5]),
            )
            for row in rows
        }


class SqliteStats(StatsRepository):
    """Counts read from the counter tables the migration's triggers keep current."""

    def __init__(self, db: _Db) -> None:
        self._db = db

    def counts(self) -> StoreCounts:
        rows = self._db.query("SELECT name, n FROM row_counts")
        named = {str(row[0]): int(row[1]) for row in rows}
        patch_rows = self._db.query("SELECT project, state, n FROM patch_counts WHERE n > 0")
        return StoreCounts(
            projects=named.get("projects", 0),
            series=named.get("series", 0),
            messages=named.get("messages", 0),
            discussions=named.get("discussions", 0),
            patches_by_project_state={(row[0], row[1]): int(row[2]) for row in patch_rows},
        )

    def ping(self) -> bool:
        try:
            return bool(self._db.query("SELECT 1")[0][0] == 1)
        except sqlite3.Error:
            return False


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        self._db = _Db(path)
        self.path = path
        self.projects = SqliteProjects(self._db)
        self.patches = SqlitePatches(self._db)
        self.series = SqliteSeries(self._db)
        self.cursors = SqliteCursors(self._db)
        self.runs = SqliteRuns(self._db)
        self.discussions = SqliteDiscussions(self._db)
        self.stats = SqliteStats(self._db)
        self.reviews = SqliteReviews(self._db)
        self.changes = SqliteChanges(self._db)

    def close(self) -> None:
        self._db.close()

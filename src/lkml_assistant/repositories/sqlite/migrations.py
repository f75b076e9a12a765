# SPDX-License-Identifier: GPL-2.0-or-later
"""The SQLite schema as numbered migrations, and how a store file is brought up to date.

Each entry of :data:`MIGRATIONS` upgrades the schema by one version (``PRAGMA user_version``);
they run on open, one transaction each. The tables, indexes and access patterns are described
in ``docs/data-model.md``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from lkml_assistant.models.records import PatchDiscussion
from lkml_assistant.repositories.encoding import review_counts


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
    # The review counts a patch list shows, stored beside each discussion as DynamoDB does:
    # one derivation (encoding.review_counts) for both stores, and a page of patches reads
    # small JSON instead of counting inside every summary. Existing rows are filled by the
    # same Python rule, through a function registered on the connection.
    """
    ALTER TABLE discussions ADD COLUMN counts TEXT;
    UPDATE discussions SET counts = review_counts(data);
    """,
    # Who runs a run, so that a later job can tell a run whose process is gone from one still
    # going (services/runs.py); the runs still going, and each job's last success, by index.
    """
    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until TEXT;
    CREATE INDEX runs_running ON runs (started_at) WHERE status = 'running';
    CREATE INDEX runs_job_status ON runs (job, status, started_at DESC);
    """,
    # Range-diffs between versions of a series (review-intel computes each once).
    """
    CREATE TABLE range_diffs (
        series_id   INTEGER NOT NULL,
        against_id  INTEGER NOT NULL,
        project     TEXT NOT NULL,
        complete    INTEGER NOT NULL,
        data        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (series_id, against_id)
    );
    """,
    # A reviewer's queue: one row per (address, open patch still waiting on it), kept by
    # trigger from each review's waiting_on, as reviewers is from its reviewers; oldest first.
    """
    CREATE TABLE waiting (
        email    TEXT NOT NULL COLLATE NOCASE,
        patch_id INTEGER NOT NULL,
        date     TEXT NOT NULL,
        PRIMARY KEY (email, patch_id)
    ) WITHOUT ROWID;
    CREATE INDEX waiting_email_date ON waiting (email, date, patch_id);
    CREATE INDEX waiting_patch ON waiting (patch_id);
    CREATE TRIGGER waiting_insert AFTER INSERT ON reviews BEGIN
        INSERT OR IGNORE INTO waiting (email, patch_id, date)
            SELECT lower(value), new.patch_id, new.date FROM json_each(new.data, '$.waiting_on');
    END;
    CREATE TRIGGER waiting_update AFTER UPDATE ON reviews
    WHEN old.fingerprint IS NOT new.fingerprint BEGIN
        DELETE FROM waiting WHERE patch_id = old.patch_id;
        INSERT OR IGNORE INTO waiting (email, patch_id, date)
            SELECT lower(value), new.patch_id, new.date FROM json_each(new.data, '$.waiting_on');
    END;
    """,
)


def _review_counts(data: str) -> str:
    return review_counts(PatchDiscussion.model_validate_json(data)).model_dump_json()


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements; a trigger body holds semicolons of its own."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\n;"):
                yield buffer
            buffer = ""


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file has not had yet, each in its own transaction."""
    conn.create_function("review_counts", 1, _review_counts, deterministic=True)
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

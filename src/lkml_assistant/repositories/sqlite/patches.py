# SPDX-License-Identifier: GPL-2.0-or-later
"""Patches in SQLite: the ``patches`` table, its date-ordered indexes and the title search
(``patches_fts``, FTS5)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import PageMark, PatchQuery, PatchRepository
from lkml_assistant.repositories.encoding import encode, utc_text
from lkml_assistant.repositories.sqlite.db import Db

# Below this many title hits a search sorts its hits; above, it walks the date index.
FTS_FEW_HITS = 2000


def fts_match(words: Sequence[str]) -> str:
    """An FTS5 query where every word must occur: each word is a quoted phrase, so that
    punctuation in it (nft_set_rbtree, v2/3) is tokenised like the titles, never parsed as
    query syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


class SqlitePatches(PatchRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult:
        now = self._db.now()
        rows = []
        for patch in patches:
            record = encode(patch)
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
                    record.data,
                    record.fingerprint,
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

    def patches_by_msgids(self, msgids: Iterable[str]) -> list[Patch]:
        rows = self._db.query_in(
            "SELECT data FROM patches WHERE msgid IN ({marks}) ORDER BY id", msgids
        )
        return [Patch.model_validate_json(row[0]) for row in rows]

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
        if query.msgid is not None:
            where.append("msgid = ?")
            params.append(query.msgid)
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

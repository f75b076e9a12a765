# SPDX-License-Identifier: GPL-2.0-or-later
"""Review intelligence in SQLite: ``series_links`` (version chains) and ``reviews`` (each
patch's derived status), with the ``reviewers`` rows their triggers keep."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.records import PatchReview, SeriesLink, WriteResult
from lkml_assistant.repositories.base import ReviewRepository
from lkml_assistant.repositories.encoding import encode, utc_text
from lkml_assistant.repositories.sqlite.db import Db


class SqliteReviews(ReviewRepository):
    """Series links and patch reviews; the ``reviewers`` rows follow the reviews by trigger."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_links(self, links: Iterable[SeriesLink]) -> WriteResult:
        now = self._db.now()
        rows = []
        for link in links:
            record = encode(link)
            rows.append(
                (
                    link.series_id,
                    link.project,
                    link.chain_id,
                    link.position,
                    record.data,
                    record.fingerprint,
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
        now = self._db.now()
        rows = []
        for review in reviews:
            record = encode(review)
            rows.append(
                (
                    review.patch_id,
                    review.project,
                    review.series_id,
                    review.status,
                    utc_text(review.date),
                    record.data,
                    record.fingerprint,
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

    def waiting_on(self, email: str, *, limit: int = 100) -> list[PatchReview]:
        rows = self._db.query(
            """SELECT r.data FROM waiting AS w JOIN reviews AS r ON r.patch_id = w.patch_id
               WHERE w.email = ? ORDER BY w.date, w.patch_id LIMIT ?""",
            (email.lower(), limit),
        )
        return [PatchReview.model_validate_json(row[0]) for row in rows]

# SPDX-License-Identifier: GPL-2.0-or-later
"""Patchwork projects in SQLite (``projects``, keyed by link name)."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.domain import Project
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import ProjectRepository
from lkml_assistant.repositories.encoding import encode
from lkml_assistant.repositories.sqlite.db import Db


class SqliteProjects(ProjectRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    def upsert_projects(self, projects: Iterable[Project]) -> WriteResult:
        now = self._db.now()
        rows = []
        for project in projects:
            record = encode(project)
            rows.append((project.link_name, project.id, record.data, record.fingerprint, now))
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

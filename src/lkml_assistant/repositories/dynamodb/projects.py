# SPDX-License-Identifier: GPL-2.0-or-later
"""Patchwork projects in DynamoDB: ``PROJECTS``/``<link name>`` in the patches table."""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.domain import Project
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import ProjectRepository
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row
from lkml_assistant.repositories.dynamodb.keys import project_key
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.encoding import encode


class DynamoProjects(ProjectRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def upsert_projects(self, projects: Iterable[Project]) -> WriteResult:
        rows = []
        for project in projects:
            record = encode(project)
            item: Item = {
                **project_key(project.link_name),
                "fp": record.fingerprint,
                "cnt": "projects",
            }
            parts = pack(item, record.data, f"X#PROJECTS#{project.link_name}")
            rows.append(Row(item, parts))
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        return result

    def get_project(self, link_name: str) -> Project | None:
        item = self._db.get(self._db.patches, project_key(link_name), consistent=False)
        if item is None:
            return None
        return Project.model_validate_json(self._db.unpack(self._db.patches, [item])[0])

    def list_projects(self) -> list[Project]:
        items = list(self._db.query(self._db.patches, ("pk", "PROJECTS"), consistent=True))
        texts = self._db.unpack(self._db.patches, items)
        return [Project.model_validate_json(text) for text in texts]

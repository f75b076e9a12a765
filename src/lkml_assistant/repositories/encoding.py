# SPDX-License-Identifier: GPL-2.0-or-later
"""How every store encodes records: the one home of what SQLite and DynamoDB write alike.

A record is kept as its domain JSON plus a fingerprint of that JSON; an upsert whose
fingerprint equals the stored one writes nothing. Dates in keys and indexes are fixed-width
UTC text, so that text order is time order. What a fingerprint leaves out (bookkeeping that
is no change) and what a list's review counts are derived from are decided here, once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from lkml_assistant.models.records import PatchDiscussion, ReviewCounts, RunRecord

Clock = Callable[[], datetime]
"""What a store asks for "now" (an aware datetime); tests pass a fake one instead of sleeping."""


def utc_now() -> datetime:
    """The default :data:`Clock`: the wall clock, in UTC."""
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in indexes and sort keys."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_from_text(text: str) -> datetime:
    """The moment :func:`utc_text` wrote."""
    return datetime.fromisoformat(text)


def fingerprint(data: str) -> str:
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Encoded:
    """A record as a store keeps it: its JSON and the fingerprint an upsert compares."""

    data: str
    fingerprint: str


def encode(record: BaseModel) -> Encoded:
    data = record.model_dump_json()
    return Encoded(data, fingerprint(data))


def encode_discussion(discussion: PatchDiscussion) -> Encoded:
    """A discussion's fingerprint leaves out ``fetched_at``: it is bookkeeping, so a re-fetch
    that found the same thread changes nothing (and logs no change)."""
    return Encoded(
        discussion.model_dump_json(),
        fingerprint(discussion.model_dump_json(exclude={"fetched_at"})),
    )


def review_counts(discussion: PatchDiscussion) -> ReviewCounts:
    """The numbers a patch list shows of a discussion, stored beside it so that a page of
    patches reads them without loading every summary (trailers and all)."""
    summary = discussion.summary
    kinds = Counter(str(trailer.kind) for trailer in summary.trailers)
    return ReviewCounts(
        reply_count=summary.reply_count,
        series_reply_count=summary.series_reply_count,
        participant_count=len(summary.participants),
        reviewed_by=kinds["reviewed-by"],
        acked_by=kinds["acked-by"],
        tested_by=kinds["tested-by"],
        naks=len(summary.naks),
        last_activity=summary.last_activity,
    )


def encode_run_summary(summary: dict[str, Any]) -> str:
    """A run's summary as stored: JSON with sorted keys, so equal summaries are equal text."""
    return json.dumps(summary, sort_keys=True)


RUN_FIELDS = (
    "id",
    "job",
    "started_at",
    "finished_at",
    "status",
    "summary",
    "owner",
    "lease_until",
)
"""What a store keeps of a run, by these names: the dates as :func:`utc_text`, the summary as
:func:`encode_run_summary` wrote them."""

RUNNING = "running"
INTERRUPTED = "interrupted"
"""The status of a run found still running after its process had gone."""


def decode_run(stored: Mapping[str, Any]) -> RunRecord:
    """A run record from the :data:`RUN_FIELDS` a store read (an unfinished run has no
    ``finished_at``; runs recorded before owners were have no ``owner`` nor lease)."""
    finished_at = stored.get("finished_at")
    lease_until = stored.get("lease_until")
    return RunRecord(
        id=stored["id"],
        job=stored["job"],
        started_at=utc_from_text(stored["started_at"]),
        finished_at=utc_from_text(finished_at) if finished_at else None,
        status=stored["status"],
        summary=json.loads(stored["summary"]),
        owner=stored.get("owner"),
        lease_until=utc_from_text(lease_until) if lease_until else None,
    )

# SPDX-License-Identifier: GPL-2.0-or-later
"""The primary keys of every kind of item (the layouts are in ``docs/data-model.md``).

Numbers in sort keys are zero padded and dates fixed-width UTC text, so that string order is
numeric and time order.
"""

from __future__ import annotations

from datetime import datetime

from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.encoding import utc_text

STATS_KEY: Item = {"pk": "STATS", "sk": "COUNTS"}
"""The counters item of earlier versions (every counter in one item); still read and summed."""
STATS_PARTITION = "STATS"
# The store-wide counters (series, messages …) are spread over this many items, each ADD to
# one of them, so that no single item takes every write.
COUNTER_SHARDS = 8
RUN_COUNTER_KEY: Item = {"pk": "COUNTER", "sk": "RUN"}


def pad(number: int) -> str:
    return f"{number:010d}"


def date_key(moment: datetime, patch_id: int) -> str:
    """The sort key of a patch in every date-ordered index: date DESC, id DESC by string."""
    return f"{utc_text(moment)}#{pad(patch_id)}"


def project_key(link_name: str) -> Item:
    return {"pk": "PROJECTS", "sk": link_name}


def patch_key(patch_id: int) -> Item:
    return {"pk": f"PATCH#{patch_id}", "sk": "PATCH"}


def series_key(series_id: int) -> Item:
    return {"pk": f"SERIES#{series_id}", "sk": "SERIES"}


def series_id_of(key: tuple[str, str]) -> int:
    return int(key[0].removeprefix("SERIES#"))


def cursor_key(name: str) -> Item:
    return {"pk": "CURSOR", "sk": name}


def review_key(patch_id: int) -> Item:
    return {"pk": f"REVIEW#{patch_id}", "sk": "REVIEW"}


def link_key(series_id: int) -> Item:
    return {"pk": f"LINK#{series_id}", "sk": "LINK"}


def given_key(email: str, date: str, patch_id: int) -> Item:
    """One (reviewer, patch) index item: ``date`` is the patch's, as :func:`utc_text` wrote it."""
    return {"pk": f"GIVEN#{email}", "sk": f"{date}#{pad(patch_id)}"}


def member_key(chain_id: int, position: int, series_id: int) -> Item:
    return {"pk": f"CHAIN#{chain_id}", "sk": f"{pad(position)}#{pad(series_id)}"}


def run_partition(job: str) -> str:
    """The partition of one job's runs, newest last by sort key."""
    return f"RUN#{job}"


def run_key(job: str, started_at: datetime, run_id: int) -> Item:
    return {"pk": run_partition(job), "sk": f"{utc_text(started_at)}#{pad(run_id)}"}


def run_pointer_key(run_id: int) -> Item:
    return {"pk": f"RUNID#{run_id}", "sk": "RUN"}


def run_success_key(job: str) -> Item:
    """A copy of the newest run of ``job`` that ended ok."""
    return {"pk": f"RUNOK#{job}", "sk": "RUN"}


def message_key(root: str, message_id: str) -> Item:
    return {"pk": f"T#{root}", "sk": f"M#{message_id}"}


def discussion_key(patch_id: int) -> Item:
    return {"pk": f"D#{patch_id}", "sk": "D"}


def needs_thread_key(project: str, date_sort_key: str) -> Item:
    """A patch whose thread is still to be read (none yet, or stale): a marker in the
    discussions table, a project's markers in one partition by date."""
    return {"pk": f"NEED#{project}", "sk": date_sort_key}


def counter_shard_key(shard: int) -> Item:
    return {"pk": STATS_PARTITION, "sk": f"COUNTS#{shard}"}


def project_counter_key(project: str) -> Item:
    """A project's patch counters (``pc#<project>#<state>``), one item per project."""
    return {"pk": STATS_PARTITION, "sk": f"P#{project}"}


def word_key(word: str, date_sort_key: str) -> Item:
    """One (title word, patch) item: a word's patches newest first, every project."""
    return {"pk": f"W#{word}", "sk": date_sort_key}


def unreviewed_key(patch_id: int) -> Item:
    """The marker of a patch with no review record yet (listed as ``unreviewed``)."""
    return {"pk": f"UNREV#{patch_id}", "sk": "UNREV"}

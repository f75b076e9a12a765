# SPDX-License-Identifier: GPL-2.0-or-later
"""The two DynamoDB tables, keys and indexes: one definition for the store, the tests and CDK.

Plain data with no boto3 import, so the CDK app (``infra/``) and the Lambda cold start can both
read it cheaply. Every key attribute is a string; the patches table's indexes project ALL
attributes (the store filters index pages on them and reads patches from them), the
discussions table's one index only what its lookup reads. The item layouts and the access
patterns with their cost in units are in ``docs/data-model.md``.

Patches table (patches, series, projects, cursors, runs: everything Patchwork-shaped):

- ``pk``/``sk``: ``PATCH#<id>``/``PATCH``, ``SERIES#<id>``/``SERIES``, ``PROJECTS``/``<link>``,
  ``CURSOR``/``patchwork#<project>`` or ``lore#<list>``, ``RUN#<job>``/``<started>#<id>``,
  ``RUNID#<id>``/``RUN`` (where a run is), ``COUNTER``/``RUN`` (run ids), ``STATS``/``COUNTS#<n>``
  (counters, sharded) and ``STATS``/``P#<project>`` (a project's patches by state), ``W#<word>``/
  ``<date>#<id>`` (title words), ``UNREV#<id>``/``UNREV`` (a patch not reviewed yet),
  ``X#<owner>``/``<fingerprint>#<n>`` (parts of a payload too large for one item; both
  tables).
- ``by-project-date``: a project's patches newest first (``P#<project>``, ``<date>#<id>``).
- ``by-submitter``: a person's patches (``U#<email>``, ``<date>#<id>``).
- ``by-series``: a series' patches (``S#<series id>``, ``<id>``, zero padded).
- ``by-state``: a project's patches in one state (``ST#<project>#<state>``, ``<date>#<id>``).
- ``by-msgid``: from a mail to its patch or series (``M#<msgid>``, ``<kind>#<id>``).
- ``by-date``: every project's patches newest first (``ALL``, ``<date>#<id>``): a list without
  a project is one query, not one per project merged. One partition: at ~3,000 new patches a
  week its writes are far below a partition's 1,000 units a second, so no date sharding.
- ``by-term`` (keys only, ``<date>#<id>`` sort key): every project's patches in one Patchwork
  state (``ST#<state>``, on patch items) or one review status (``RS#<status>``, on review
  items and on the ``UNREV#<patch>`` marker of a patch with no review yet).
- ``by-project-term`` (keys, ``name``, ``state``): one project's patches in one review status
  (``RS#<project>#<status>``) or with one title word (``W#<project>#<word>``, on the word
  items ``W#<word>``/``<date>#<id>``, one per distinct word of a title).

Discussions table (what lore holds):

- ``pk``/``sk``: a message is ``T#<thread root>``/``M#<msgid>`` (one item per Message-ID, the
  thread's messages under one partition key); a patch's discussion is ``D#<patch id>``/``D``.
- ``NEED#<project>``/``<date>#<patch id>``: a patch whose thread is still to be read (new, or
  its discussion stale); the thread planner reads one partition per project, newest first.
- ``by-message-id``: which thread holds a Message-ID (``M#<msgid>``; keys, root and TTL).
  (``by-author``, ``by-thread`` and ``stale`` were written and never read: dropped.)
"""

from __future__ import annotations

from dataclasses import dataclass

TTL_ATTRIBUTE = "expires_at"
PARTITION_KEY = "pk"
SORT_KEY = "sk"


@dataclass(frozen=True)
class Index:
    """A global secondary index. ``projection`` is ``ALL``, ``KEYS_ONLY`` or ``INCLUDE`` (the
    keys and ``include``): an index holds what its queries read, since every write of an item
    is written again, at its projected size, to each index the item is in."""

    name: str
    partition_key: str
    sort_key: str | None = None
    projection: str = "ALL"
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSchema:
    logical_name: str
    indexes: tuple[Index, ...]

    def attributes(self) -> tuple[str, ...]:
        """Every key attribute of the table and its indexes (all strings)."""
        names = [PARTITION_KEY, SORT_KEY]
        for index in self.indexes:
            names.append(index.partition_key)
            if index.sort_key:
                names.append(index.sort_key)
        return tuple(dict.fromkeys(names))


PATCHES = TableSchema(
    logical_name="patches",
    indexes=(
        Index("by-project-date", "gsi1pk", "gsi1sk"),
        Index("by-submitter", "gsi2pk", "gsi2sk"),
        Index("by-series", "gsi3pk", "gsi3sk"),
        Index("by-state", "gsi4pk", "gsi4sk"),
        Index("by-msgid", "gsi5pk", "gsi5sk"),
        Index("by-date", "gsi6pk", "gsi6sk"),
        # Overloaded, small entries: a patch's Patchwork state, a patch's review status.
        Index("by-term", "gsi7pk", "gsi7sk", projection="KEYS_ONLY"),
        # Overloaded: a project's review statuses and its title words (with what a search
        # checks on each entry: the title and the state).
        Index(
            "by-project-term",
            "gsi8pk",
            "gsi8sk",
            projection="INCLUDE",
            include=("name", "state"),
        ),
    ),
)

DISCUSSIONS = TableSchema(
    logical_name="discussions",
    indexes=(
        # Which thread holds a Message-ID: the keys, the root and the TTL are all it reads.
        Index("by-message-id", "gsi1pk", projection="INCLUDE", include=("root", TTL_ATTRIBUTE)),
    ),
)

TABLES = (PATCHES, DISCUSSIONS)

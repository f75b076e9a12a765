# SPDX-License-Identifier: GPL-2.0-or-later
"""Patches in DynamoDB (``PATCH#<id>``) and how a :class:`PatchQuery` walks their indexes."""

from __future__ import annotations

import heapq
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from lkml_assistant.models.domain import Patch
from lkml_assistant.models.records import WriteResult
from lkml_assistant.repositories.base import PageMark, PatchQuery, PatchRepository
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo, Row, patch_counter
from lkml_assistant.repositories.dynamodb.keys import (
    date_key,
    needs_thread_key,
    pad,
    patch_key,
    review_key,
)
from lkml_assistant.repositories.dynamodb.payload import pack
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.encoding import encode, utc_text

# Independent index queries (one per Message-ID) run this many at once.
READ_THREADS = 8
_TOKEN = re.compile(r"[^\W_]+")
# The one partition of by-date: every patch of every project.
ALL_PATCHES = "ALL"


def title_tokens(text: str) -> list[str]:
    """Words as SQLite's FTS5 unicode61 tokenizer sees them: letters and digits, case and
    diacritics folded; everything else (``_``, ``/``, ``-`` …) separates words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _TOKEN.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def title_matches(name: str, words: Sequence[str]) -> bool:
    """Every word occurs in the title as whole words (a word of several tokens, such as
    ``nft_set_rbtree``, as a phrase)."""
    tokens = title_tokens(name)
    for word in words:
        wanted = title_tokens(word)
        size = len(wanted)
        if not size or not any(
            tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1)
        ):
            return False
    return True


class DynamoPatches(PatchRepository):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    def _row(self, patch: Patch) -> Row:
        record = encode(patch)
        key = date_key(patch.date, patch.id)
        email = patch.submitter.email.lower()
        item: Item = {
            **patch_key(patch.id),
            "id": patch.id,
            "dk": key,
            "project": patch.project,
            "state": patch.state,
            "email": email,
            "name": patch.name,
            "gsi1pk": f"P#{patch.project}",
            "gsi1sk": key,
            "gsi2pk": f"U#{email}",
            "gsi2sk": key,
            "gsi4pk": f"ST#{patch.project}#{patch.state}",
            "gsi4sk": key,
            "gsi5pk": f"M#{patch.msgid}",
            "gsi5sk": f"patch#{pad(patch.id)}",
            "gsi6pk": ALL_PATCHES,
            "gsi6sk": key,
            "fp": record.fingerprint,
            "cnt": patch_counter(patch.project, patch.state),
            TTL_ATTRIBUTE: self._db.expires_at(patch.date),
        }
        if patch.series:
            item["series_id"] = patch.series[0].id
            item["gsi3pk"] = f"S#{patch.series[0].id}"
            item["gsi3sk"] = pad(patch.id)
        parts = pack(item, record.data, f"X#PATCH#{patch.id}")
        return Row(item, parts, ("patch", str(patch.id)))

    def upsert_patches(self, patches: Iterable[Patch]) -> WriteResult:
        rows, skipped = self._db.live([self._row(patch) for patch in patches])
        result, deltas, _ = self._db.upsert(self._db.patches, rows)
        self._db.add_counts(deltas)
        # A new patch needs its thread read: a marker the planner finds by project and date.
        markers = [needs_marker(row.item) for row in rows if row.created]
        if markers:
            self._db.batch_write(self._db.discussions, markers, [])
        result.unchanged += skipped
        return result

    def _patches(self, items: list[Item]) -> list[Patch]:
        texts = self._db.unpack(self._db.patches, items)
        return [Patch.model_validate_json(text) for text in texts]

    def get_patch(self, patch_id: int) -> Patch | None:
        item = self._db.get(self._db.patches, patch_key(patch_id), consistent=False)
        return self._patches([item])[0] if item else None

    def get_patches(self, patch_ids: Iterable[int]) -> dict[int, Patch]:
        keys = [patch_key(patch_id) for patch_id in set(patch_ids)]
        items = list(self._db.batch_get(self._db.patches, keys).values())
        return {patch.id: patch for patch in self._patches(items)}

    def patches_by_msgids(self, msgids: Iterable[str]) -> list[Patch]:
        """One Query of the by-msgid index per Message-ID (an index has no batch read), a few
        at once: a thread of 25 messages costs the latency of about three."""
        wanted = sorted(set(msgids))

        def lookup(msgid: str) -> list[Item]:
            return list(
                self._db.query(
                    self._db.patches,
                    ("gsi5pk", f"M#{msgid}"),
                    index="by-msgid",
                    sort=("gsi5sk", "begins_with(#s, :s0)", ("patch#",)),
                )
            )

        if len(wanted) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
                found = list(pool.map(lookup, wanted))
        else:
            found = [lookup(msgid) for msgid in wanted]
        items = [item for items in found for item in items]
        items.sort(key=lambda item: item["id"])
        return self._patches(items)

    def page_patches(
        self, query: PatchQuery, *, after: PageMark | None = None, limit: int = 30
    ) -> list[Patch]:
        if limit <= 0:
            return []
        items: list[Item] = []
        walker = walk_patches(self._db, query, after, page=min(max(limit + 1, 25), 500))
        if not query.review_states:
            items.extend(itertools.islice(walker, limit))
            return self._patches(items)
        # Filtered while walking: the review status of each chunk of patches is batch-read;
        # a patch without a review record counts as unreviewed.
        wanted = set(query.review_states)
        while len(items) < limit:
            chunk = list(itertools.islice(walker, min(max(limit, 25), 100)))
            if not chunk:
                break
            statuses = {
                int(found["patch_id"]): found["status"]
                for found in self._db.batch_get(
                    self._db.patches,
                    (review_key(int(item["id"])) for item in chunk),
                    ("patch_id", "status", TTL_ATTRIBUTE),
                ).values()
            }
            for item in chunk:
                if statuses.get(int(item["id"]), "unreviewed") in wanted:
                    items.append(item)
                    if len(items) == limit:
                        break
        return self._patches(items)


def needs_marker(patch_item: Item) -> Item:
    """The "needs its thread" marker of a stored patch item (its project, date key and TTL)."""
    marker: Item = {
        **needs_thread_key(patch_item["project"], patch_item["dk"]),
        "patch_id": int(patch_item["id"]),
    }
    if patch_item.get(TTL_ATTRIBUTE) is not None:
        marker[TTL_ATTRIBUTE] = patch_item[TTL_ATTRIBUTE]
    return marker


def _partitions(
    db: Dynamo, project: str | None, submitter: str | None, states: set[str]
) -> list[tuple[str, str, str]]:
    """The index partitions (index, key attribute, value) that hold a query's patches."""
    if submitter is not None:
        return [("by-submitter", "gsi2pk", f"U#{submitter}")]
    if project is None and not states:
        return [("by-date", "gsi6pk", ALL_PATCHES)]
    projects = [project] if project is not None else sorted({p for p, _ in db.patch_counts()})
    if states:
        return [
            ("by-state", "gsi4pk", f"ST#{name}#{state}")
            for name in projects
            for state in sorted(states)
        ]
    return [("by-project-date", "gsi1pk", f"P#{name}") for name in projects]


def walk_patches(
    db: Dynamo, query: PatchQuery, after: PageMark | None, *, page: int = 100
) -> Iterator[Item]:
    """The patch items matching ``query``, newest first (date DESC, id DESC), after ``after``.

    One index partition is read in date order, or several merged (a project's states, every
    project); what the key cannot express is filtered on the items read, page by page.
    """
    lower = utc_text(query.since) if query.since else None
    uppers = []
    if query.until:
        uppers.append(utc_text(query.until))
    if after:
        uppers.append(date_key(after.date, after.id))
    upper = min(uppers) if uppers else None
    states = set(query.states)
    submitter = query.submitter.lower() if query.submitter else None

    def wanted(item: Item) -> bool:
        key = item["dk"]
        return (
            (lower is None or key >= lower)
            and (upper is None or key < upper)
            and (query.project is None or item["project"] == query.project)
            and (not states or item["state"] in states)
            and (submitter is None or item["email"] == submitter)
            and (query.series_id is None or item.get("series_id") == query.series_id)
            and (not query.words or title_matches(item["name"], query.words))
        )

    if query.msgid is not None:
        # A Message-ID names one patch (a few, if Patchwork holds a mail twice).
        items = db.query(
            db.patches,
            ("gsi5pk", f"M#{query.msgid}"),
            index="by-msgid",
            sort=("gsi5sk", "begins_with(#s, :s0)", ("patch#",)),
        )
        yield from sorted(filter(wanted, items), key=lambda item: item["dk"], reverse=True)
        return
    if query.series_id is not None:
        # A series is a few dozen patches at most: read it whole and sort it.
        items = db.query(db.patches, ("gsi3pk", f"S#{query.series_id}"), index="by-series")
        yield from sorted(filter(wanted, items), key=lambda item: item["dk"], reverse=True)
        return

    partitions = _partitions(db, query.project, submitter, states)
    sort_attribute = {
        "by-submitter": "gsi2sk",
        "by-state": "gsi4sk",
        "by-project-date": "gsi1sk",
        "by-date": "gsi6sk",
    }

    def run(index: str, attribute: str, value: str) -> Iterator[Item]:
        sort: tuple[str, str, Sequence[str]] | None = None
        name = sort_attribute[index]
        if lower and upper:
            sort = (name, "#s BETWEEN :s0 AND :s1", (lower, upper))
        elif lower:
            sort = (name, "#s >= :s0", (lower,))
        elif upper:
            sort = (name, "#s < :s0", (upper,))
        items = db.query(
            db.patches, (attribute, value), index=index, sort=sort, forward=False, page=page
        )
        return filter(wanted, items)

    runs = [run(*partition) for partition in partitions]
    if len(runs) == 1:
        yield from runs[0]
    else:
        yield from heapq.merge(*runs, key=lambda item: str(item["dk"]), reverse=True)

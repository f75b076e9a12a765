# SPDX-License-Identifier: GPL-2.0-or-later
"""How a :class:`PatchQuery` is read: which index, and how a page stops.

Every source yields *entries* newest first (date DESC, id DESC by the ``<date>#<id>`` sort
key): patch items from the date-ordered indexes of patches (``by-project-date``, ``by-date``,
``by-state``, ``by-submitter``; a series' or a Message-ID's few), or small index entries that
name a patch (title words, review statuses, a state across projects: :mod:`.terms`), whose
patches are then batch-read a page's worth at a time. Every patch read is checked against the
whole query, so an outdated index entry is dropped, never shown.

A page for one API request (:func:`page_items` with a budget) stops early when it has passed
over more than ``budget`` read units of entries that did not match (a filter no index holds:
a state in a title search, two common words seldom together): it returns what it found and
where it stopped, and the next page starts there.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from lkml_assistant.repositories.base import PageMark, PatchQuery
from lkml_assistant.repositories.dynamodb.attributes import Item
from lkml_assistant.repositories.dynamodb.client import Dynamo
from lkml_assistant.repositories.dynamodb.keys import date_key, patch_key, review_key
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.dynamodb.terms import UNREVIEWED, state_term, status_term
from lkml_assistant.repositories.dynamodb.terms import word_term as project_word_term
from lkml_assistant.repositories.dynamodb.titles import title_matches, title_tokens
from lkml_assistant.repositories.encoding import utc_from_text, utc_text

# The one partition of by-date: every patch of every project.
ALL_PATCHES = "ALL"
# Read units an API page may spend on entries it passes over before it stops (issue 14:
# a list or search page costs <= 50 units, of which the page's own reads take about 46).
PASS_OVER_BUDGET = 2.0
# Entries per Query request of an index of small entries (about 12 KB: 1.5 units).
ENTRY_PAGE = 50
# A title search first reads this many entries of each of its words, and walks the word
# whose entries reach furthest back (the rarest recently).
PROBE = 10
READ_THREADS = 8


@dataclass
class Entry:
    """One step of a walk: a patch (its item, or only its id), and what reading it cost."""

    sort_key: str
    patch_id: int
    cost: float
    item: Item | None = None
    passed: bool = True
    """False when the entry itself shows the patch does not match (no patch read)."""


def units(item: Item) -> float:
    """About what an item costs within a query, eventually consistent (0.5 per 4 KB)."""
    size = sum(len(name) + len(str(value)) for name, value in item.items())
    return size / 8192


def mark_of(sort_key: str) -> PageMark:
    date, _, patch_id = sort_key.rpartition("#")
    return PageMark(date=utc_from_text(date), id=int(patch_id))


def _bounds(query: PatchQuery, after: PageMark | None) -> tuple[str | None, str | None]:
    lower = utc_text(query.since) if query.since else None
    uppers = []
    if query.until:
        uppers.append(utc_text(query.until))
    if after:
        uppers.append(date_key(after.date, after.id))
    return lower, (min(uppers) if uppers else None)


def _sort_condition(
    name: str, lower: str | None, upper: str | None
) -> tuple[str, str, Sequence[str]] | None:
    if lower and upper:
        return (name, "#s BETWEEN :s0 AND :s1", (lower, upper))
    if lower:
        return (name, "#s >= :s0", (lower,))
    if upper:
        return (name, "#s < :s0", (upper,))
    return None


def matcher(query: PatchQuery, after: PageMark | None) -> Callable[[Item], bool]:
    """Whether a patch item matches every criterion of ``query`` held on it (not its review
    status, which is in the review item) and comes after ``after``."""
    lower, upper = _bounds(query, after)
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
            and (query.msgid is None or item.get("gsi5pk") == f"M#{query.msgid}")
            and (not query.words or title_matches(item["name"], query.words))
        )

    return wanted


# --- patch items from the date-ordered indexes of patches -----------------------------------


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


_SORT_ATTRIBUTE = {
    "by-submitter": "gsi2sk",
    "by-state": "gsi4sk",
    "by-project-date": "gsi1sk",
    "by-date": "gsi6sk",
}


def patch_items(
    db: Dynamo, query: PatchQuery, after: PageMark | None, *, page: int = 100
) -> Iterator[Item]:
    """The patch items of the partitions that hold ``query``'s patches, newest first, within
    its date range and after ``after``; what the key cannot express is not checked here."""
    lower, upper = _bounds(query, after)
    if query.msgid is not None:
        # A Message-ID names one patch (a few, if Patchwork holds a mail twice).
        items = db.query(
            db.patches,
            ("gsi5pk", f"M#{query.msgid}"),
            index="by-msgid",
            sort=("gsi5sk", "begins_with(#s, :s0)", ("patch#",)),
        )
        yield from sorted(items, key=lambda item: item["dk"], reverse=True)
        return
    if query.series_id is not None:
        # A series is a few dozen patches at most: read it whole and sort it.
        items = db.query(db.patches, ("gsi3pk", f"S#{query.series_id}"), index="by-series")
        yield from sorted(items, key=lambda item: item["dk"], reverse=True)
        return
    submitter = query.submitter.lower() if query.submitter else None
    partitions = _partitions(db, query.project, submitter, set(query.states))

    def run(index: str, attribute: str, value: str) -> Iterator[Item]:
        sort = _sort_condition(_SORT_ATTRIBUTE[index], lower, upper)
        return db.query(
            db.patches, (attribute, value), index=index, sort=sort, forward=False, page=page
        )

    runs = [run(*partition) for partition in partitions]
    if len(runs) == 1:
        yield from runs[0]
    else:
        yield from heapq.merge(*runs, key=lambda item: str(item["dk"]), reverse=True)


def walk_patches(
    db: Dynamo, query: PatchQuery, after: PageMark | None, *, page: int = 100
) -> Iterator[Item]:
    """The patch items matching ``query`` (all but its review states), newest first, after
    ``after``, from the date-ordered indexes of patches alone; what the key cannot express
    is filtered on the items read. (The walk of every list before the term indexes.)"""
    return filter(matcher(query, after), patch_items(db, query, after, page=page))


# --- small entries that name a patch ---------------------------------------------------------


def _entries(
    db: Dynamo,
    partitions: Sequence[tuple[str | None, str, str, str]],
    bounds: tuple[str | None, str | None],
    *,
    patch_id: Callable[[Item], int],
    passed: Callable[[Item], bool] = lambda entry: True,
) -> Iterator[Entry]:
    """Entries of several partitions (index or None for the table, key attribute, value,
    sort attribute), merged newest first."""
    lower, upper = bounds

    def run(index: str | None, attribute: str, value: str, sort_name: str) -> Iterator[Entry]:
        found = db.query(
            db.patches,
            (attribute, value),
            index=index,
            sort=_sort_condition(sort_name, lower, upper),
            forward=False,
            page=ENTRY_PAGE,
        )
        for raw in found:
            yield Entry(str(raw[sort_name]), patch_id(raw), units(raw), passed=passed(raw))

    runs = [run(*partition) for partition in partitions]
    if len(runs) == 1:
        return runs[0]
    return heapq.merge(*runs, key=lambda entry: entry.sort_key, reverse=True)


def _id_in_sort_key(entry: Item, name: str) -> int:
    return int(str(entry[name]).rpartition("#")[2])


def _id_in_partition_key(entry: Item) -> int:
    return int(str(entry["pk"]).partition("#")[2])


def _rarest_word(db: Dynamo, project: str | None, words: Sequence[str], upper: str | None) -> str:
    """Of the words' tokens, the one whose newest entries reach furthest back."""
    tokens = sorted({token for word in words for token in title_tokens(word)})
    if len(tokens) == 1:
        return tokens[0]

    def reach(token: str) -> tuple[int, str]:
        index, attribute, value, sort_name = _word_partition(project, token)
        found = list(
            itertools.islice(
                db.query(
                    db.patches,
                    (attribute, value),
                    index=index,
                    sort=_sort_condition(sort_name, None, upper),
                    forward=False,
                    page=PROBE,
                ),
                PROBE,
            )
        )
        # Fewer entries than asked: the word is that rare; else the oldest of them.
        return (len(found), str(found[-1][sort_name]) if found else "")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(tokens))) as pool:
        reaches = dict(zip(tokens, pool.map(reach, tokens), strict=True))
    return min(tokens, key=lambda token: (reaches[token], token))


def _word_partition(project: str | None, token: str) -> tuple[str | None, str, str, str]:
    if project is None:
        return (None, "pk", f"W#{token}", "sk")
    return ("by-project-term", "gsi8pk", project_word_term(token, project), "gsi8sk")


def entries(db: Dynamo, query: PatchQuery, after: PageMark | None) -> Iterator[Entry] | None:
    """The entries of a query an index of small entries serves, or None if none does."""
    if query.msgid is not None or query.series_id is not None or query.submitter is not None:
        return None  # a few patches, or one person's: their own partitions are small
    lower, upper = _bounds(query, after)
    if query.words:
        token = _rarest_word(db, query.project, query.words, upper)
        states = set(query.states)
        name = _word_partition(query.project, token)[3]

        def passed(entry: Item) -> bool:
            return (not states or entry["state"] in states) and title_matches(
                entry["name"], query.words
            )

        return _entries(
            db,
            [_word_partition(query.project, token)],
            (lower, upper),
            patch_id=lambda entry: _id_in_sort_key(entry, name),
            passed=passed,
        )
    if query.review_states:
        if query.project is None:
            partitions = [
                ("by-term", "gsi7pk", status_term(status), "gsi7sk")
                for status in query.review_states
            ]
        else:
            partitions = [
                ("by-project-term", "gsi8pk", status_term(status, query.project), "gsi8sk")
                for status in query.review_states
            ]
        return _entries(db, partitions, (lower, upper), patch_id=_id_in_partition_key)
    if query.states and query.project is None:
        partitions = [("by-term", "gsi7pk", state_term(state), "gsi7sk") for state in query.states]
        return _entries(db, partitions, (lower, upper), patch_id=_id_in_partition_key)
    return None


# --- a page ----------------------------------------------------------------------------------


def _review_statuses(db: Dynamo, patch_ids: Sequence[int]) -> dict[int, str]:
    """Each patch's review status; a patch without a review record is unreviewed."""
    found = db.batch_get(
        db.patches, (review_key(pid) for pid in patch_ids), ("patch_id", "status", TTL_ATTRIBUTE)
    )
    statuses = {int(item["patch_id"]): str(item["status"]) for item in found.values()}
    return {pid: statuses.get(pid, UNREVIEWED) for pid in patch_ids}


def page_items(
    db: Dynamo,
    query: PatchQuery,
    after: PageMark | None,
    limit: int,
    *,
    budget: float | None = None,
) -> tuple[list[Item], PageMark | None]:
    """Up to ``limit`` patch items matching ``query``, newest first, after ``after``, and the
    mark where the walk stopped if ``budget`` ran out first (None: not bounded)."""
    wanted = matcher(query, after)
    walk = entries(db, query, after)
    # An index of review statuses answers them; any other walk checks the review items.
    check_reviews = bool(query.review_states) and (walk is None or bool(query.words))
    if walk is None:
        walk = (
            Entry(str(item["dk"]), int(item["id"]), units(item), item)
            for item in patch_items(db, query, after, page=min(max(limit + 1, 25), 500))
        )
    statuses = set(query.review_states)
    items: list[Item] = []
    seen: set[int] = set()
    passed_over = 0.0
    while len(items) < limit:
        taken = list(itertools.islice(walk, max(limit - len(items), 10)))
        if not taken:
            break
        chunk = []
        for entry in taken:  # a patch listed twice (an entry left by a kill) counts once
            if entry.patch_id not in seen:
                seen.add(entry.patch_id)
                chunk.append(entry)
        fetch = [e.patch_id for e in chunk if e.passed and e.item is None]
        fetched = _patch_items(db, fetch)
        candidates = {e.patch_id: e.item or fetched.get(e.patch_id) for e in chunk if e.passed}
        matching = [pid for pid, item in candidates.items() if item is not None and wanted(item)]
        reviewed = _review_statuses(db, matching) if check_reviews else {}
        for entry in chunk:
            item = candidates.get(entry.patch_id)
            if (
                item is not None
                and entry.patch_id in matching
                and (not check_reviews or reviewed[entry.patch_id] in statuses)
            ):
                items.append(item)
                if len(items) == limit:
                    return items, None
                continue
            passed_over += entry.cost + (0.5 if entry.patch_id in fetched else 0.0)
            passed_over += 0.5 if entry.patch_id in reviewed else 0.0
            if budget is not None and passed_over > budget:
                return items, mark_of(entry.sort_key)
    return items, None


def _patch_items(db: Dynamo, patch_ids: Sequence[int]) -> dict[int, Item]:
    if not patch_ids:
        return {}
    found = db.batch_get(db.patches, (patch_key(pid) for pid in patch_ids))
    return {int(item["id"]): item for item in found.values()}

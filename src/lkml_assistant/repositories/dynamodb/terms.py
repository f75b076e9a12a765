# SPDX-License-Identifier: GPL-2.0-or-later
"""The small index entries that let a list read only its page: title words, review statuses.

- A patch's title words: one item ``W#<word>``/``<date>#<id>`` per distinct word of its title
  (``title_tokens``, the words SQLite's FTS5 sees), holding the title and the state a search
  checks, and in ``by-project-term`` under ``W#<project>#<word>``. Written beside the patch
  item by its upsert (new ones before it, outdated ones deleted after it), so a title or
  state change rewrites them and a kill leaves at worst an outdated one, which a search drops
  when it reads the patch.
- A patch's review status: ``by-term`` ``RS#<status>`` and ``by-project-term``
  ``RS#<project>#<status>``, both keyed by the patch's date key. Carried by the review item
  itself (so it changes with it, atomically), and, while a patch has no review record, by its
  marker ``UNREV#<patch>``/``UNREV`` (written when the patch is first stored, deleted after its
  first review is written).
- A patch's Patchwork state across projects: ``by-term`` ``ST#<state>`` on the patch item.
"""

from __future__ import annotations

from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.keys import pad, unreviewed_key, word_key
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE
from lkml_assistant.repositories.dynamodb.titles import title_tokens

UNREVIEWED = "unreviewed"
# What a patch item's upsert reads of the stored one to tell its outdated word items.
WORD_SOURCE = ("name", "state", "project", "dk")


def state_term(state: str) -> str:
    return f"ST#{state}"


def status_term(status: str, project: str | None = None) -> str:
    return f"RS#{project}#{status}" if project is not None else f"RS#{status}"


def word_term(word: str, project: str) -> str:
    return f"W#{project}#{word}"


def status_attributes(status: str, project: str, date_sort_key: str) -> Item:
    """The two index keys that list an item under a review status."""
    return {
        "gsi7pk": status_term(status),
        "gsi7sk": date_sort_key,
        "gsi8pk": status_term(status, project),
        "gsi8sk": date_sort_key,
    }


def unreviewed_marker(patch_item: Item) -> Item:
    """The marker that lists a stored patch as ``unreviewed`` until its review is written."""
    return {
        **unreviewed_key(int(patch_item["id"])),
        **status_attributes(UNREVIEWED, patch_item["project"], patch_item["dk"]),
        TTL_ATTRIBUTE: patch_item.get(TTL_ATTRIBUTE),
    }


def review_date_key(review_item: Item) -> str:
    """A review item's patch date key, as the patch item has it (``date`` is the patch's)."""
    return f"{review_item['date']}#{pad(int(review_item['patch_id']))}"


def word_items(patch_item: Item) -> list[Item]:
    """The word items a patch item needs (none for a stored item read without its title)."""
    if patch_item.get("name") is None:
        return []
    key = patch_item["dk"]
    return [
        {
            **word_key(word, key),
            "name": patch_item["name"],
            "state": patch_item["state"],
            "gsi8pk": word_term(word, patch_item["project"]),
            "gsi8sk": key,
            TTL_ATTRIBUTE: patch_item.get(TTL_ATTRIBUTE),
        }
        for word in sorted(set(title_tokens(patch_item["name"])))
    ]


def word_changes(item: Item, old: Item | None) -> tuple[list[Item], list[Item]]:
    """The word items to put (new or different) and those to delete (no longer the title's)."""
    new = {item_key(entry): entry for entry in word_items(item)}
    before = {item_key(entry): entry for entry in word_items(old)} if old else {}
    puts = [entry for key, entry in new.items() if before.get(key) != entry]
    deletes = [{"pk": pk, "sk": sk} for pk, sk in before.keys() - new.keys()]
    return puts, sorted(deletes, key=item_key)

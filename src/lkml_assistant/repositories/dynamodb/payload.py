# SPDX-License-Identifier: GPL-2.0-or-later
"""Where a record's JSON goes in its item: inline, zlib-compressed, or split over part items.

An item is 400 KB at most (attribute names and keys included). Nothing is rejected for size:
a payload too large even compressed is split into part items ``X#…``/``<fp>#0000``….
"""

from __future__ import annotations

import zlib

from lkml_assistant.repositories.dynamodb.attributes import Item, item_key
from lkml_assistant.repositories.dynamodb.schema import TTL_ATTRIBUTE

# Payloads up to this size stay readable JSON; larger ones are zlib-compressed.
INLINE_LIMIT = 16_000
# Compressed payloads larger than this are split into parts of this size.
PART_SIZE = 350_000


def pack(item: Item, text: str, part_pk: str) -> list[Item]:
    """Put ``text`` into ``item`` (JSON, zlib or parts) and return the part items."""
    raw = text.encode()
    if len(raw) <= INLINE_LIMIT:
        item["data"] = text
        return []
    packed = zlib.compress(raw, 6)
    if len(packed) <= PART_SIZE:
        item["dataz"] = packed
        return []
    chunks = [packed[at : at + PART_SIZE] for at in range(0, len(packed), PART_SIZE)]
    item["parts"] = len(chunks)
    item["ppk"] = part_pk
    # Parts are keyed by the fingerprint: a reader of the previous version still finds
    # its own parts until the main item is replaced.
    return [
        {
            "pk": part_pk,
            "sk": f"{item['fp']}#{number:04d}",
            "blob": chunk,
            TTL_ATTRIBUTE: item.get(TTL_ATTRIBUTE),
        }
        for number, chunk in enumerate(chunks)
    ]


def part_keys(item: Item) -> list[Item]:
    """The keys of the part items a split payload was written to (none if not split)."""
    if not item.get("parts"):
        return []
    return [
        {"pk": item["ppk"], "sk": f"{item['fp']}#{number:04d}"} for number in range(item["parts"])
    ]


def payload_text(item: Item, parts: dict[tuple[str, str], Item]) -> str:
    """The JSON an item holds; ``parts`` are its part items, read by the caller."""
    if "data" in item:
        return str(item["data"])
    if "dataz" in item:
        return zlib.decompress(item["dataz"]).decode()
    blob = b"".join(parts[item_key(key)]["blob"] for key in part_keys(item))
    return zlib.decompress(blob).decode()

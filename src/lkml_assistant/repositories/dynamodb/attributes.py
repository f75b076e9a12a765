# SPDX-License-Identifier: GPL-2.0-or-later
"""DynamoDB attribute values: plain Python values to the wire format and back."""

from __future__ import annotations

from typing import Any

Item = dict[str, Any]
"""An item as plain Python values: str, int, bytes, bool, set[str]."""


def _wire_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def wire(item: Item) -> dict[str, Any]:
    return {name: _wire_value(value) for name, value in item.items() if value is not None}


def plain(item: Any) -> Item:
    """The Python values of a DynamoDB item; numbers are all integers here (no Decimal)."""
    out: Item = {}
    for name, value in item.items():
        if "S" in value:
            out[name] = value["S"]
        elif "N" in value:
            out[name] = int(value["N"])
        elif "B" in value:
            out[name] = bytes(value["B"])
        elif "BOOL" in value:
            out[name] = bool(value["BOOL"])
        elif "SS" in value:
            out[name] = set(value["SS"])
        else:
            out[name] = None
    return out


def item_key(item: Item) -> tuple[str, str]:
    """The primary key (``pk``, ``sk``) of an item."""
    return (item["pk"], item["sk"])

# SPDX-License-Identifier: GPL-2.0-or-later
"""moto's server for the scale replay, with two of its costs taken out, same answers.

At 100 projects the replay spent most of its time inside moto: moto 5.2's ``Table.query``
builds and sorts a list of *every* item of the table for each query (then filters it by the
partition and sorts the result again), and the server logs every request. Profiled with
py-spy at 20 projects: 26 % of moto's CPU in ``query`` (most of it in that sort), 8 % in the
request log, and the share of ``query`` grows with the table. This module patches the two
loops of ``Table.query`` that read every item: a table query reads its partition's items
(moto keeps them in ``items[hash_key]``), an index query reads the items unsorted (both paths
sort their results themselves afterwards, so the answer is the same), and turns the request
log off. If moto's source no longer has those lines, the server runs unpatched and says so.

``python -m benchmarks.fast_moto PORT``; :func:`run_fast_moto` starts one for a ``with`` block.
"""

from __future__ import annotations

import inspect
import logging
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TABLE_LOOP = """                for item in self.all_items()
                if isinstance(item, Item) and item.hash_key == hash_key"""
TABLE_FAST = """                for item in self._lkml_partition(hash_key)
                if isinstance(item, Item) and item.hash_key == hash_key"""
INDEX_LOOP = """            for item in self.all_items():
                if not isinstance(item, Item):"""
INDEX_FAST = """            for item in self._lkml_unsorted():
                if not isinstance(item, Item):"""


def _query_source() -> str | None:
    """moto's ``Table.query`` source, indented as the loops are written, if both are in it."""
    from moto.dynamodb.models import table as module

    source = textwrap.dedent(inspect.getsource(module.Table.query))
    indented = textwrap.indent(source, "    ")
    if TABLE_LOOP not in indented or INDEX_LOOP not in indented:
        return None
    return indented


def patch_moto() -> bool:
    """Patch ``moto.dynamodb.models.table.Table.query`` in this process; whether it could."""
    from moto.dynamodb.models import table as module

    indented = _query_source()
    if indented is None:
        return False
    fast = indented.replace(TABLE_LOOP, TABLE_FAST).replace(INDEX_LOOP, INDEX_FAST)
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(fast), module.__dict__, namespace)  # moto's own source, two loops changed

    def partition(self: Any, hash_key: Any) -> list[Any]:
        found = self.items.get(hash_key)
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    def unsorted(self: Any) -> list[Any]:
        if self.range_key_attr:
            return [item for group in self.items.values() for item in group.values()]
        return list(self.items.values())

    table: Any = module.Table
    table._lkml_partition = partition
    table._lkml_unsorted = unsorted
    table.query = namespace["query"]
    return True


@contextmanager
def run_fast_moto(port: int | None = None) -> Iterator[Any]:
    """The patched server on loopback, by :func:`tests.peers.moto_server.run_moto_server`."""
    from tests.peers.moto_server import run_moto_server

    if _query_source() is None:
        print("moto runs unpatched (its query loops changed): slower, same figures")
    with run_moto_server(port, module="benchmarks.fast_moto") as server:
        yield server


def main(argv: list[str]) -> None:
    from moto.server import main as moto_main

    if not patch_moto():
        print("moto unpatched", file=sys.stderr, flush=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_main(["-H", "127.0.0.1", "-p", argv[0] if argv else "5000"])


if __name__ == "__main__":
    main(sys.argv[1:])

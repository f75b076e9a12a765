# SPDX-License-Identifier: GPL-2.0-or-later
"""Title words as the stores see them: SQLite's FTS5 and DynamoDB's word items agree."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_TOKEN = re.compile(r"[^\W_]+")


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

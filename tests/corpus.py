# SPDX-License-Identifier: GPL-2.0-or-later
"""The shared mail corpus (read in place, never copied): paths and raw mbox bytes."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from lkml_assistant.sources.mail import split_mboxrd
from tests.shared_data import shared_dir

__all__ = ["corpus_path", "mbox_messages", "read_mbox", "shared_dir", "threads_path"]


def corpus_path(*parts: str) -> Path:
    return shared_dir().joinpath("corpus", *parts)


def threads_path(name: str) -> Path:
    """A whole-thread file under ``mbox/linux-mailinglist-archives/threads/``."""
    return corpus_path("mbox", "linux-mailinglist-archives", "threads", name)


def read_mbox(path: Path) -> bytes:
    """The file's bytes, gunzipped if its name ends in ``.gz``."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@cache
def mbox_messages(path: Path) -> tuple[bytes, ...]:
    """The raw messages of an mbox file (cached: several tests read the same threads)."""
    return tuple(split_mboxrd(read_mbox(path)))

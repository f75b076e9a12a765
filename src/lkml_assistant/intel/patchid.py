# SPDX-License-Identifier: GPL-2.0-or-later
"""A stable patch-id, computed as ``git patch-id --stable`` does, from the diff in a mail.

Two postings of the same change (a RESEND, an unchanged patch in the next version of a series)
have the same patch-id even when their commit messages, hunk positions, whitespace, blob ids or
file order differ. The algorithm follows git's ``builtin/patch-id.c``:

- everything before the first ``diff `` line (the commit message, the diffstat) is skipped;
- ``index`` lines and the line numbers of ``@@`` hunk headers are dropped, and all whitespace
  is removed from the other lines before hashing;
- each file's lines are hashed with SHA-1 on their own and the per-file digests are added as
  little-endian 160-bit numbers, so the order of the files does not matter (``--stable``);
- the diff ends where a hunk is complete and the next line starts neither a hunk nor a file
  (the ``-- `` signature of git-send-email, a list footer).

One extension: a diff without ``diff `` headers (quilt, plain ``diff -u``) starts at its first
``--- ``/``+++ `` pair, where git would find no patch at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from lkml_assistant.models.discussion import MailMessage

_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_WHITESPACE = re.compile(rb"[ \t\n\v\f\r]+")  # C isspace(), as git's remove_space()
_DIGEST_SIZE = 20


class _Accumulator:
    def __init__(self) -> None:
        self.total = [0] * _DIGEST_SIZE
        self.hasher = hashlib.sha1(usedforsecurity=False)
        self.length = 0  # bytes hashed from diff lines; git prints no id when it is 0

    def update(self, line: str) -> None:
        squeezed = _WHITESPACE.sub(b"", line.encode("utf-8", "surrogateescape"))
        self.hasher.update(squeezed)
        self.length += len(squeezed)

    def update_raw(self, text: str) -> None:
        self.hasher.update(text.encode("ascii", "replace"))

    def flush(self) -> None:
        digest = self.hasher.digest()
        carry = 0
        for i in range(_DIGEST_SIZE):
            carry += self.total[i] + digest[i]
            self.total[i] = carry & 0xFF
            carry >>= 8
        self.hasher = hashlib.sha1(usedforsecurity=False)

    def hexdigest(self) -> str:
        return bytes(self.total).hex()


def _hunk_sizes(line: str) -> tuple[int, int] | None:
    found = _HUNK.match(line)
    if found is None:
        return None
    before = int(found.group(1)) if found.group(1) is not None else 1
    after = int(found.group(2)) if found.group(2) is not None else 1
    return before, after


def _diff_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if any(line.startswith("diff ") for line in lines):
        return lines
    # No 'diff ' header: start at the first '--- '/'+++ ' pair, given a header of its own.
    for number in range(len(lines) - 1):
        if lines[number].startswith("--- ") and lines[number + 1].startswith("+++ "):
            out: list[str] = []
            for line in lines[number:]:
                if line.startswith("--- "):
                    out.append("diff ")  # a file boundary, as git's header would be
                out.append(line)
            return out
    return []


class _DiffScan:
    """git's line-by-line reading of one diff: file headers, hunks, binary files."""

    def __init__(self) -> None:
        self.acc = _Accumulator()
        # Lines left in the current hunk, old and new side; -1 while in a file's header.
        self.before = self.after = -1
        self.binary = False
        self.blobs = ("", "")

    def feed(self, line: str) -> bool:
        """Take one line; False where the diff has ended."""
        if self.before == -1:
            taken = self._header(line)
            if taken is not None:
                return taken
        if self.binary:
            if line.startswith("diff "):
                self.binary = False  # git skips this header line itself
                self.before = -1
            return True
        if self.before == 0 and self.after == 0:
            sizes = _hunk_sizes(line) if line.startswith("@@ -") else None
            if sizes is not None:
                self.before, self.after = sizes
                return True
            if not line.startswith("diff "):
                return False
            self.acc.flush()
            self.before = self.after = -1
        if line[:1] in ("-", " "):
            self.before -= 1
        if line[:1] in ("+", " "):
            self.after -= 1
        self.acc.update(line)
        return True

    def _header(self, line: str) -> bool | None:
        """A line of a file's header: True if taken here, False if the diff ended, else None."""
        if line.startswith(("GIT binary patch", "Binary files")):
            # Binary files count by their blob ids, as git does.
            self.binary = True
            self.before = 0
            self.acc.update_raw(self.blobs[0])
            self.acc.update_raw(self.blobs[1])
            self.acc.flush()
            return True
        if line.startswith("index "):
            old, sep, rest = line[6:].partition("..")
            if sep:
                self.blobs = (old, rest.split(" ", 1)[0])
            return True
        if line.startswith("--- "):
            self.before = self.after = 1
        elif not line[:1].isalpha():
            return False
        return None


def patch_id(diff_text: str) -> str | None:
    """The stable patch-id of the diff in ``diff_text`` (a mail body is fine), or None."""
    scan = _DiffScan()
    started = False
    for line in _diff_lines(diff_text.replace("\r\n", "\n")):
        if line.startswith("\\ ") and len(line) > 12:
            continue  # "\ No newline at end of file"
        if not started:
            if not line.startswith("diff "):
                continue
            started = True
        if not scan.feed(line):
            break
    if not started or scan.acc.length == 0:
        return None
    scan.acc.flush()  # unconditional, as in git (after a binary file it adds the empty digest)
    return scan.acc.hexdigest()


def message_diffs(message: MailMessage) -> str:
    """The diff text of a posted patch: the inline body, then any attached diffs."""
    return "\n".join((message.body, *message.attached_diffs))


def mail_patch_id(message: MailMessage) -> str | None:
    """The patch-id of a posted patch, or None if it carries no diff."""
    if not message.has_patch:
        return None
    return patch_id(message_diffs(message))


def same_patches(first: Iterable[str | None], second: Iterable[str | None]) -> bool:
    """Two postings hold the same changes (every patch has an id and the sets are equal)."""
    left, right = list(first), list(second)
    if not left or None in left or None in right:
        return False
    return sorted(left, key=str) == sorted(right, key=str)

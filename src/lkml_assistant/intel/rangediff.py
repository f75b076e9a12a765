# SPDX-License-Identifier: GPL-2.0-or-later
"""Range-diff: what changed between two versions of a series, from the patch mails alone.

The same idea as ``git range-diff`` (and b4 diff, which runs it), without a repository:

1. Each patch becomes one text (:attr:`RangePatch.text`): its author, its commit message (the
   subject's title and the body above ``---``) and its diff with ``index`` lines, ``---``/``+++``
   headers and hunk line numbers left out, so a rebase that only moves lines is no change.
2. Patches with identical diffs pair first (git's exact matches), then patches with the same
   git patch-id (the same code up to whitespace and line numbers).
3. The rest pair by least cost, solved as an assignment problem as git does: the cost of a pair
   is the size of the diff of their texts, the cost of leaving a patch unpaired (``added`` or
   ``dropped``) is ``creation_factor`` percent (60, git's default) of its own size. Equal titles
   break ties.
4. A pair whose texts (message included) are identical is ``unchanged``; else it is
   ``changed`` and keeps the diff of the two texts (the "diff of diffs"), commit message
   changes included; ``same_code`` says only the message changed (same patch-id).

Checked against ``git range-diff`` itself on the corpus's multi-version threads
(tests/unit/test_rangediff_git.py): the same pairs and marks, pair by pair.

The author's changelog for a version is the cover letter's text (:func:`changelog_of`), or,
with no cover, the notes each patch carries below its ``---`` line.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from lkml_assistant.intel.patchid import patch_id
from lkml_assistant.intel.subjects import parse_subject
from lkml_assistant.models.rangediff import PairVerdict, RangePair

CREATION_FACTOR = 60
"""Percent of a patch's size that leaving it unpaired costs (``git range-diff`` default)."""

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_DIFFSTAT = re.compile(
    r"^\s*(?:\S.*\|\s+(?:\d+|Bin\b).*"
    r"|\d+ files? changed.*"
    r"|(?:create|delete) mode \d+ .*"
    r"|(?:rename|copy) .*\(\d+%\)"
    r"|mode change \d+ => \d+ .*)$"
)
_EXTENDED_HEADER = (
    "old mode",
    "new mode",
    "deleted file mode",
    "new file mode",
    "copy from",
    "copy to",
    "rename from",
    "rename to",
    "similarity index",
    "dissimilarity index",
    "index ",
    "Binary files",
    "GIT binary patch",
)
_CHANGELOG_START = re.compile(
    r"^\s*(?:changes|changelog|change log|revision history|history)\b"
    r"|^\s*(?:-+\s*)?v\d+\s*(?:->|\.\.|→|vs\.?|to|:|-)\s*(?:v\d+)?",
    re.IGNORECASE,
)


# --- reading a patch mail ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class FileDiff:
    """One file of a diff: its paths (None for /dev/null), extended headers and hunks."""

    old_path: str | None
    new_path: str | None
    headers: tuple[str, ...] = ()
    hunks: tuple[Hunk, ...] = ()
    binary: bool = False

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def _strip_prefix(path: str) -> str | None:
    path = path.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def _diff_start(lines: Sequence[str]) -> int | None:
    for number, line in enumerate(lines):
        if line.startswith("diff "):
            return number
    for number in range(len(lines) - 1):
        if lines[number].startswith("--- ") and lines[number + 1].startswith("+++ "):
            return number
    return None


@dataclass
class _FileBuilder:
    old_path: str | None = None
    new_path: str | None = None
    headers: list[str] = field(default_factory=list)
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False

    def build(self) -> FileDiff:
        return FileDiff(
            self.old_path, self.new_path, tuple(self.headers), tuple(self.hunks), self.binary
        )


def _git_paths(line: str) -> tuple[str | None, str | None]:
    rest = line[len("diff --git ") :]
    if rest.startswith("a/") and " b/" in rest:
        old, _, new = rest[2:].partition(" b/")
        return old, new
    return None, None


def _header_line(current: _FileBuilder, line: str) -> bool:
    """Take one line of a file's header into ``current``; False if it is not one."""
    if current.hunks:
        return False
    if line.startswith("--- "):
        current.old_path = _strip_prefix(line[4:])
    elif line.startswith("+++ "):
        current.new_path = _strip_prefix(line[4:])
    elif line.startswith(_EXTENDED_HEADER):
        current.headers.append(line)
        current.binary = current.binary or line.startswith(("Binary files", "GIT binary patch"))
        if line.startswith("new file mode"):
            current.old_path = None
        if line.startswith("deleted file mode"):
            current.new_path = None
    else:
        return False
    return True


def parse_diff(text: str) -> list[FileDiff]:
    """The files and hunks of the diff in ``text`` (a mail body is fine); it ends where a hunk
    is complete and the next line starts neither a hunk nor a file (the ``-- `` signature)."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = _diff_start(lines)
    if start is None:
        return []
    files: list[FileDiff] = []
    current = _FileBuilder()
    number = start
    while number < len(lines):
        line = lines[number]
        new_file = line.startswith("diff ") or (line.startswith("--- ") and current.hunks)
        if new_file and number > start:
            files.append(current.build())
            current = _FileBuilder()
        if line.startswith("diff "):
            if line.startswith("diff --git "):
                current.old_path, current.new_path = _git_paths(line)
            number += 1
            continue
        found = _HUNK.match(line)
        if found is not None:
            hunk, number = _read_hunk(lines, number, found)
            current.hunks.append(hunk)
            continue
        if not _header_line(current, line) and not (
            current.binary and line and not line.startswith("-- ")
        ):
            break  # the end of the diff (a binary patch's base85 lines are skipped above)
        number += 1
    files.append(current.build())
    return files


def _read_hunk(lines: Sequence[str], number: int, found: re.Match[str]) -> tuple[Hunk, int]:
    old_len = int(found.group(2)) if found.group(2) is not None else 1
    new_len = int(found.group(4)) if found.group(4) is not None else 1
    before, after = old_len, new_len
    body: list[str] = []
    number += 1
    while number < len(lines) and (before > 0 or after > 0):
        line = lines[number]
        if line.startswith("\\"):
            body.append(line)
            number += 1
            continue
        kind = line[:1] or " "  # a blank line in mail is an empty context line
        if kind not in " +-":
            break
        if kind in " -":
            before -= 1
        if kind in " +":
            after -= 1
        body.append(kind + line[1:])
        number += 1
    if number < len(lines) and lines[number].startswith("\\"):
        body.append(lines[number])
        number += 1
    hunk = Hunk(
        int(found.group(1)), old_len, int(found.group(3)), new_len, found.group(5), tuple(body)
    )
    return hunk, number


def split_patch_body(body: str) -> tuple[str, str, str]:
    """(commit message body, notes below ``---`` without the diffstat, diff text)."""
    lines = body.replace("\r\n", "\n").split("\n")
    start = _diff_start(lines)
    end = len(lines) if start is None else start
    separator = next((n for n in range(end) if lines[n].rstrip() == "---"), None)
    message = lines[: separator if separator is not None else end]
    notes_lines = lines[separator + 1 : end] if separator is not None else []
    notes = "\n".join(line for line in notes_lines if not _DIFFSTAT.match(line)).strip("\n")
    diff = "\n".join(lines[start:]) if start is not None else ""
    return "\n".join(message).strip("\n"), notes.strip(), diff


def _section_header(diff: FileDiff) -> str:
    if diff.old_path is None:
        return f"## {diff.new_path} (new) ##"
    if diff.new_path is None:
        return f"## {diff.old_path} (deleted) ##"
    if diff.old_path != diff.new_path:
        return f"## {diff.old_path} => {diff.new_path} ##"
    return f"## {diff.path} ##"


def normalized_diff(files: Sequence[FileDiff]) -> list[str]:
    """The diff as range-diff compares it: no index lines, no ---/+++ lines, no line numbers."""
    out: list[str] = []
    for diff in files:
        out.append(_section_header(diff))
        for hunk in diff.hunks:
            out.append(f"@@ {diff.path}: {hunk.section}".rstrip())
            out.extend(hunk.lines)
    return out


@dataclass(frozen=True)
class RangePatch:
    """One patch of one version: its Message-ID, title, author, commit message, notes, diff."""

    key: str
    title: str
    author: str = ""
    message: str = ""
    diff: str = ""
    notes: str = ""

    @classmethod
    def from_mail(
        cls,
        key: str,
        subject: str,
        body: str,
        *,
        author: str = "",
        attached_diffs: Sequence[str] = (),
    ) -> RangePatch:
        message, notes, diff = split_patch_body(body)
        if not diff and attached_diffs:
            diff = "\n".join(attached_diffs)
        return cls(
            key=key,
            title=parse_subject(subject).title,
            author=author,
            message=message,
            diff=diff,
            notes=notes,
        )

    @cached_property
    def files(self) -> list[FileDiff]:
        return parse_diff(self.diff)

    @cached_property
    def commit_message(self) -> str:
        """Title, blank line, body: the commit message ``git am`` would make."""
        body = "\n".join(line.rstrip() for line in self.message.split("\n")).strip("\n")
        return f"{self.title}\n\n{body}" if body else self.title

    @cached_property
    def diff_lines(self) -> tuple[str, ...]:
        """The code part of :attr:`lines`: what pairs patches and what their cost is made of."""
        return tuple(normalized_diff(self.files))

    @cached_property
    def lines(self) -> tuple[str, ...]:
        """The patch as range-diff compares it (git's layout: metadata, message, files)."""
        out = ["## Metadata ##", f"Author: {self.author}", "", "## Commit message ##"]
        out.extend(f"    {line}".rstrip() for line in self.commit_message.split("\n"))
        out.append("")
        out.extend(self.diff_lines)
        return tuple(out)

    @cached_property
    def patch_id(self) -> str | None:
        return patch_id(self.diff) if self.diff else None

    @property
    def size(self) -> int:
        """Lines of code diff, the measure of what leaving the patch unpaired costs."""
        return len(self.diff_lines)


def changelog_of(cover_body: str) -> str:
    """The changelog in a cover letter: from a "Changes in v3:"/"v2 -> v3:" style line on;
    the whole text (without its diffstat and trailing signature) when there is none."""
    message, _, _ = split_patch_body(cover_body)
    kept = []
    for line in message.split("\n"):
        if line in ("-- ", "--"):
            break
        if _DIFFSTAT.match(line):
            continue
        kept.append(line)
    text = "\n".join(kept).strip()
    for number, line in enumerate(kept):
        if _CHANGELOG_START.match(line):
            return "\n".join(kept[number:]).strip()
    return text


def notes_changelog(patches: Sequence[RangePatch]) -> str:
    """A version's changelog with no cover letter: each patch's notes, under its title."""
    parts = [f"{p.title}:\n{p.notes}" if len(patches) > 1 else p.notes for p in patches if p.notes]
    return "\n\n".join(parts)


# --- pairing ------------------------------------------------------------------------------------

_CONTEXT = 3


def _edit_script(old: Sequence[str], new: Sequence[str]) -> list[tuple[bool, int, int]]:
    """A minimal edit script (as git's xdiff finds one, not difflib's approximation): runs of
    (equal?, old lines, new lines), from a longest common subsequence."""
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < len(old) - head and tail < len(new) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    a, b = old[head : len(old) - tail], new[head : len(new) - tail]
    rows, cols = len(a), len(b)
    # lcs[i][j]: length of the longest common subsequence of a[i:] and b[j:].
    lcs = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        below, here, ai = lcs[i + 1], lcs[i], a[i]
        for j in range(cols - 1, -1, -1):
            here[j] = below[j + 1] + 1 if ai == b[j] else max(below[j], here[j + 1])
    runs: list[tuple[bool, int, int]] = [(True, head, head)] if head else []

    def add(equal: bool, removed: int, added: int) -> None:
        if runs and runs[-1][0] == equal:
            last = runs[-1]
            runs[-1] = (equal, last[1] + removed, last[2] + added)
        else:
            runs.append((equal, removed, added))

    i = j = 0
    while i < rows or j < cols:
        if i < rows and j < cols and a[i] == b[j] and lcs[i][j] == lcs[i + 1][j + 1] + 1:
            add(True, 1, 1)
            i, j = i + 1, j + 1
        elif i < rows and (j == cols or lcs[i + 1][j] >= lcs[i][j + 1]):
            add(False, 1, 0)
            i += 1
        else:
            add(False, 0, 1)
            j += 1
    if tail:
        add(True, tail, tail)
    return runs


def diff_size(old: Sequence[str], new: Sequence[str]) -> int:
    """Lines of a unified diff of ``old`` and ``new`` with 3 lines of context, hunk headers
    included, without building it: what git counts as the cost of a pair."""
    runs = _edit_script(old, new)
    if all(equal for equal, _, _ in runs):
        return 0
    count = 0
    for number, (equal, removed, added) in enumerate(runs):
        if not equal:
            count += removed + added
            continue
        first, last = number == 0, number == len(runs) - 1
        if first or last:
            count += min(removed, _CONTEXT)
        elif removed > 2 * _CONTEXT:
            count += 2 * _CONTEXT + 1  # the context closing one hunk, the next one's header
        else:
            count += removed
    return count + 1


def _lower_bound(old: Counter[str], new: Counter[str]) -> int:
    """Changed lines of any diff of the two are at least their multiset difference."""
    return sum(((old - new) + (new - old)).values())


def _assign(cost: list[list[float]]) -> list[int]:
    """Hungarian method on a square matrix: the column of each row, least total cost."""
    size = len(cost)
    u = [0.0] * (size + 1)
    v = [0.0] * (size + 1)
    owner = [0] * (size + 1)
    way = [0] * (size + 1)
    for row in range(1, size + 1):
        owner[0] = row
        col0 = 0
        least = [float("inf")] * (size + 1)
        used = [False] * (size + 1)
        while owner[col0] != 0:
            used[col0] = True
            col0 = _augment_step(cost, col0, u=u, v=v, owner=owner, way=way, least=least, used=used)
        while col0:
            col1 = way[col0]
            owner[col0] = owner[col1]
            col0 = col1
    result = [0] * size
    for col in range(1, size + 1):
        if owner[col]:
            result[owner[col] - 1] = col - 1
    return result


def _augment_step(
    cost: list[list[float]],
    col0: int,
    *,
    u: list[float],
    v: list[float],
    owner: list[int],
    way: list[int],
    least: list[float],
    used: list[bool],
) -> int:
    """One step of the shortest augmenting path search; the next column to visit."""
    row0 = owner[col0]
    delta = float("inf")
    col1 = 0
    costs = cost[row0 - 1]
    for col in range(1, len(owner)):
        if used[col]:
            continue
        current = costs[col - 1] - u[row0] - v[col]
        if current < least[col]:
            least[col] = current
            way[col] = col0
        if least[col] < delta:
            delta = least[col]
            col1 = col
    for col in range(len(owner)):
        if used[col]:
            u[owner[col]] += delta
            v[col] -= delta
        else:
            least[col] -= delta
    return col1


def _exact_matches(
    old: Sequence[RangePatch], new: Sequence[RangePatch], key: str
) -> dict[int, int]:
    """old index → new index for patches equal by ``key`` ("diff_lines" or "patch_id")."""
    waiting: dict[object, list[int]] = {}
    for number, patch in enumerate(new):
        value = getattr(patch, key)
        if value:
            waiting.setdefault(value, []).append(number)
    found: dict[int, int] = {}
    for number, patch in enumerate(old):
        value = getattr(patch, key)
        candidates = waiting.get(value) if value else None
        if candidates:
            same_title = next((c for c in candidates if new[c].title == patch.title), None)
            chosen = same_title if same_title is not None else candidates[0]
            candidates.remove(chosen)
            found[number] = chosen
    return found


def _match_rest(
    old: Sequence[RangePatch],
    new: Sequence[RangePatch],
    matched: dict[int, int],
    creation_factor: int,
) -> None:
    left = [i for i in range(len(old)) if i not in matched]
    taken = set(matched.values())
    right = [j for j in range(len(new)) if j not in taken]
    if not left or not right:
        return
    size = len(left) + len(right)
    never = float(10**9)
    create_old = [old[i].size * creation_factor // 100 for i in left]
    create_new = [new[j].size * creation_factor // 100 for j in right]
    counts_old = [Counter(old[i].diff_lines) for i in left]
    counts_new = [Counter(new[j].diff_lines) for j in right]
    cost = [[0.0] * size for _ in range(size)]
    for a, i in enumerate(left):
        for b, j in enumerate(right):
            limit = create_old[a] + create_new[b]
            if _lower_bound(counts_old[a], counts_new[b]) > limit:
                cost[a][b] = never
                continue
            # Between equally distant candidates the earlier one wins, and a pair costing
            # just what leaving both unpaired costs is a pair, as in git.
            distance = diff_size(old[i].diff_lines, new[j].diff_lines)
            cost[a][b] = distance - 1e-3 + (a + b) * 1e-7
        for b in range(len(right), size):
            cost[a][b] = create_old[a]
    for b in range(len(right)):
        for a in range(len(left), size):
            cost[a][b] = create_new[b]
    for a, b in enumerate(_assign(cost)):
        if a < len(left) and b < len(right) and cost[a][b] < never:
            matched[left[a]] = right[b]


def interdiff(old: RangePatch, new: RangePatch) -> str:
    """The diff of the two patches' range-diff texts (message and code), without file headers."""
    lines = difflib.unified_diff(old.lines, new.lines, lineterm="", n=_CONTEXT)
    return "\n".join(line for line in lines if not line.startswith(("--- ", "+++ ")))


def _pair(
    verdict: PairVerdict,
    old: RangePatch | None,
    new: RangePatch | None,
    i: int | None,
    j: int | None,
) -> RangePair:
    changed = verdict is PairVerdict.CHANGED and old is not None and new is not None
    return RangePair(
        verdict=verdict,
        old_index=i,
        new_index=j,
        old_key=old.key if old else None,
        new_key=new.key if new else None,
        old_title=old.title if old else "",
        new_title=new.title if new else "",
        same_code=bool(changed and old and new and old.patch_id and old.patch_id == new.patch_id),
        interdiff=interdiff(old, new) if changed and old and new else "",
        notes=new.notes if new else "",
    )


def range_diff(
    old: Sequence[RangePatch],
    new: Sequence[RangePatch],
    *,
    creation_factor: int = CREATION_FACTOR,
) -> tuple[RangePair, ...]:
    """Pair the patches of two versions; the pairs in ``git range-diff``'s output order."""
    matched = _exact_matches(old, new, "diff_lines")
    remaining_old = [p if i not in matched else RangePatch("", "") for i, p in enumerate(old)]
    taken = set(matched.values())
    remaining_new = [p if j not in taken else RangePatch("", "") for j, p in enumerate(new)]
    for i, j in _exact_matches(remaining_old, remaining_new, "patch_id").items():
        matched[i] = j
    _match_rest(old, new, matched, creation_factor)
    by_new = {j: i for i, j in matched.items()}
    out: list[RangePair] = []
    shown: set[int] = set()
    i = j = 0
    while i < len(old) or j < len(new):
        if i < len(old) and (i in shown or i not in matched):
            if i not in shown:
                out.append(_pair(PairVerdict.DROPPED, old[i], None, i, None))
            i += 1
            continue
        if j < len(new):
            partner = by_new.get(j)
            if partner is None:
                out.append(_pair(PairVerdict.ADDED, None, new[j], None, j))
            else:
                same = old[partner].lines == new[j].lines
                verdict = PairVerdict.UNCHANGED if same else PairVerdict.CHANGED
                out.append(_pair(verdict, old[partner], new[j], partner, j))
                shown.add(partner)
            j += 1
            continue
        i += 1
    return tuple(out)

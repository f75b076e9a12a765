# SPDX-License-Identifier: GPL-2.0-or-later
"""Run the real ``git range-diff`` (Debian's git) on patch mails, to check ours against it.

No kernel tree is at hand, so each patch is applied on a preimage made from its own hunks:
every file the patch changes is written with the context and removed lines at the positions
the hunk headers name (filler lines elsewhere), ``git apply`` applies the mail's diff to it,
and the result becomes one commit whose parent is a merge commit holding that preimage. As
``git range-diff`` reads its ranges with ``--no-merges``, each range holds exactly the patch
commits, each with the diff of its mail. A patch git cannot apply (a binary diff, a hunk that
does not fit) is left out of both sides, with the reason logged.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lkml_assistant.intel.rangediff import FileDiff, RangePatch

log = logging.getLogger(__name__)

_LINE = re.compile(r"^\s*(\d+|-):\s+(?:[0-9a-f]+|-+)\s+([=!<>])\s+(\d+|-):\s+(?:[0-9a-f]+|-+)\s")
_ENV = {
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.org",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C",
}


def _preimage(diff: FileDiff) -> str | None:
    """A file the hunks of ``diff`` apply to exactly; None for a new file."""
    if diff.old_path is None:
        return None
    lines: list[str] = []
    no_newline = False
    for hunk in diff.hunks:
        start = max(hunk.old_start - 1, 0) if hunk.old_len else hunk.old_start
        while len(lines) < start:
            # Indented, so that git finds no function name in a filler line; the line just
            # above the hunk is the section heading the mail's hunk header names, so that
            # git's regenerated header says what the mail's said.
            lines.append(f"\tfiller line {len(lines) + 1}")
        if hunk.section and len(lines) == start and start > 0 and lines[-1].startswith("\tf"):
            lines[-1] = hunk.section
        previous = ""
        for line in hunk.lines:
            if line.startswith("\\"):
                if previous[:1] in (" ", "-"):
                    no_newline = True
                continue
            if line[:1] in (" ", "-"):
                lines.append(line[1:])
            previous = line
    if "deleted file mode" not in " ".join(diff.headers):
        lines.extend(f"filler tail {n}" for n in range(3))
        no_newline = False
    text = "\n".join(lines)
    return text if no_newline or not lines else text + "\n"


@dataclass
class Applied:
    patches: list[RangePatch]
    skipped: list[tuple[str, str]]


class GitRangeDiff:
    """One scratch repository; :meth:`version` turns patches into a branch of commits."""

    def __init__(self, root: Path, *, algorithm: str = "histogram") -> None:
        # git range-diff compares the diffs git makes of the commits, not the mails' text:
        # with the diff algorithm the authors used (the kernel's pwm maintainer sends with
        # histogram), git makes again the very diffs of the mails.
        self.algorithm = algorithm
        self.root = root
        self.repo = root / "repo"
        self.git("init", "-q", "--bare", str(self.repo), cwd=root)
        empty = self.git("hash-object", "-t", "tree", "-w", "--stdin", stdin="").strip()
        self.base_root = self.git("commit-tree", empty, "-m", "root", stdin="").strip()
        self.base = self.git("commit-tree", empty, "-p", self.base_root, "-m", "base").strip()
        self._branch = "scratch"

    def git(self, *args: str, stdin: str | bytes | None = None, cwd: Path | None = None) -> str:
        env = dict(_ENV, GIT_DIR=str(self.repo)) if cwd is None else dict(_ENV)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        done = subprocess.run(
            ["git", *args],
            input=data,
            capture_output=True,
            cwd=cwd or self.root,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]}: {done.stderr.decode(errors='replace')[:500]}")
        return done.stdout.decode(errors="replace")

    def _apply(self, patch: RangePatch) -> tuple[dict[str, str], dict[str, str]] | str:
        """(preimage files, postimage files), or why the patch cannot be applied."""
        if not patch.files:
            return "no diff"
        if any(f.binary for f in patch.files):
            return "binary diff"
        pre: dict[str, str] = {}
        for diff in patch.files:
            content = _preimage(diff)
            if content is not None and diff.old_path is not None:
                pre[diff.old_path] = content
        with tempfile.TemporaryDirectory(dir=self.root) as scratch:
            work = Path(scratch)
            for path, content in pre.items():
                target = work / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            try:
                self.git("apply", "--whitespace=nowarn", "-", stdin=patch.diff + "\n", cwd=work)
            except RuntimeError as exc:
                return f"git apply failed: {exc}"
            post = {
                str(p.relative_to(work)): p.read_text()
                for p in sorted(work.rglob("*"))
                if p.is_file()
            }
        return pre, post

    def version(self, name: str, patches: Sequence[RangePatch]) -> Applied:
        """Commit ``patches`` in order as branch ``name``; those git cannot apply are skipped."""
        self._branch = name
        stream: list[bytes] = []
        applied: list[RangePatch] = []
        skipped: list[tuple[str, str]] = []
        mark = 0
        previous = self.base
        for patch in patches:
            result = self._apply(patch)
            if isinstance(result, str):
                log.info("skipped %s (%s): %s", patch.key, patch.title, result)
                skipped.append((patch.key, result))
                continue
            pre, post = result
            mark += 2
            stream.append(self._commit(f":{mark - 1}", previous, pre, "preimage", merge=True))
            stream.append(
                self._commit(f":{mark}", f":{mark - 1}", post, patch.commit_message, patch)
            )
            previous = f":{mark}"
            applied.append(patch)
        if previous == self.base:
            stream.append(f"reset refs/heads/{name}\nfrom {previous}\n\n".encode())
        self.git("fast-import", "--quiet", "--done", stdin=b"".join([*stream, b"done\n"]))
        return Applied(applied, skipped)

    def _commit(
        self,
        mark: str,
        parent: str,
        files: dict[str, str],
        message: str,
        patch: RangePatch | None = None,
        *,
        merge: bool = False,
    ) -> bytes:
        author = patch.author if patch and patch.author else "Nobody <nobody@example.org>"
        out = [
            f"commit refs/heads/{self._branch}\nmark {mark}\n".encode(),
            f"author {author} 1700000000 +0000\n".encode(),
            b"committer Tester <tester@example.org> 1700000000 +0000\n",
            _data(message.encode()),
            f"from {parent}\n".encode(),
        ]
        if merge:
            out.append(f"merge {self.base_root}\n".encode())
        out.append(b"deleteall\n")
        for path, content in sorted(files.items()):
            out.append(f"M 100644 inline {path}\n".encode())
            out.append(_data(content.encode()))
        out.append(b"\n")
        return b"".join(out)

    def range_diff(self, old: str, new: str) -> list[tuple[int | None, str, int | None]]:
        """git's pairs: (old position, mark, new position), 1-based, None for '-'."""
        text = self.git(
            "-c",
            f"diff.algorithm={self.algorithm}",
            "range-diff",
            "--no-color",
            "-s",
            f"{self.base}..{old}",
            f"{self.base}..{new}",
        )
        pairs = []
        for line in text.splitlines():
            found = _LINE.match(line)
            if found:
                left, mark, right = found.groups()
                pairs.append(
                    (
                        None if left == "-" else int(left),
                        mark,
                        None if right == "-" else int(right),
                    )
                )
        return pairs


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"

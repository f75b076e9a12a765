# SPDX-License-Identifier: GPL-2.0-or-later
"""What a posting's own words say about its earlier versions.

Read from the cover letter, or from the first patch when a series has none (the notes below
``---`` and b4's footer after the diff, where single patches carry them):

- :func:`change_id`: b4's ``change-id: <id>`` line;
- :func:`predecessor_message_ids`: Message-IDs in lore / ``patch.msgid.link`` URLs that stand
  in a version context (``v1: <url>``, ``Link to v2: <url>``, ``V1 Link: <url>``, ``previous
  version: <url>``, a URL on the line after ``Changes in v2:``, a numbered reference ``[1]``
  cited as ``v1 [1]`` or ``a follow-up on the RFC [1]``, a cover's ``Link:`` beside its
  changelog), never those in a dependency list (``depends on``, ``based on``,
  ``prerequisite-message-id``, a numbered reference cited for anything else);
- :func:`changelog_versions`: the earlier versions a changelog names (``v4 -> v5:``,
  ``Changes since v2:``, ``Changes in v3:``, ``v2:``);
- :func:`touched_files` and :func:`notes_text`: the files a diff touches, and a patch mail
  without its diff;
- :func:`credited_addresses`: who a patch names as its authors (the in-body ``From:``,
  ``Signed-off-by:``, ``Co-developed-by:``), which a re-spin by someone else keeps;
- :func:`send_stem`: the part of a Message-ID that every mail of one ``git send-email`` or b4
  run shares.

Pure functions on text; :mod:`lkml_assistant.intel.versions` decides what they link.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

_CHANGE_ID = re.compile(r"^change-id:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_MSGID_LINK = re.compile(
    r"(?:https?://|\b)(?:lore\.kernel\.org(?:/[\w.+-]+)?|patch\.msgid\.link|lkml\.kernel\.org)"
    r"/(?:r/)?([^\s/<>\"')\]]+(?:@|%40)[^\s/<>\"')\]]+)",
    re.IGNORECASE,
)
_VERSION_WORD = r"(?:v|ver|version|rev|revision|take|iteration|round|spin)\s*\.?\s*\d+"
# Words that make a link a predecessor: a version (v1, version 2, RFC), "previous", "prior",
# "earlier", "older", "last version/posting", "supersedes", "Changes in vN".
_VERSION_CUE = re.compile(
    r"\b(?:" + _VERSION_WORD + r"|rfc(?:v\d+)?|previous(?:ly)?|prior|earlier|older|supersed\w*"
    r"|last\s+(?:version|revision|series|posting|submission|spin|round|iteration|attempt)"
    r"|(?:original|first|old)\s+(?:version|revision|series|posting|submission|patch(?:set|es)?)"
    r"|(?:already|previously)\s+(?:sent|posted|submitted)|sent\s+before|resend\w*|repost\w*"
    r")\b",
    re.IGNORECASE,
)
# Words that make a link something else: a dependency, a base, a report, a discussion.
_DEPENDENCY_CUE = re.compile(
    r"\b(?:depend\w*|based\s+(?:on|upon)|prerequisite\w*|pre-?req\w*|on\s+top\s+of|requires?"
    r"|needs?|applies\s+(?:on|to)|apply\s+(?:on|to)|base-commit"
    r"|reported|closes|suggested|discussion|discussed|comments?|feedback|fixes|see\s+also"
    r"|split\s+(?:out|off|from)|part\s+of)\b",
    re.IGNORECASE,
)
# A changelog header: "v1 -> v2", "v2..v3", "Changes in v3", "Changes since v2", "v2:",
# "V2 changes", "Changes from v1 to v2", "Major changes from v0 to v1".
_STEP = re.compile(r"\bv\s*(\d{1,3})\s*(?:->|=>|-->|\.\.\.?|→|to)\s*v?\s*(\d{1,3})\b", re.I)
_SINCE = re.compile(r"\b(?:since|from|over|vs\.?|against|relative\s+to)\s+v\s*(\d{1,3})\b", re.I)
_IN = re.compile(r"\b(?:changes?|changelog|updates?)\s+(?:in|for)\s+v\s*(\d{1,3})\b", re.I)
_HEADER = re.compile(
    r"^\s*[-*]?\s*(?:changes?\s+)?v\s*(\d{1,3})\s*(?:changes?|changelog)?\s*:", re.IGNORECASE
)
_NUMBERED_REF = re.compile(r"^\s*\[(\d{1,3})\]\s*:?\s*")
_CITED = re.compile(r"\[(\d{1,3})\]")
_DIFF_START = re.compile(r"^(?:diff --git |Index: |--- \S)", re.MULTILINE)
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.MULTILINE)
_PLAIN_FILE = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.MULTILINE)
_CREDIT = re.compile(
    r"^(?:signed-off-by|co-developed-by|from)[ \t]*:[^\n<]*<\s*([^<>\s@]+@[^<>\s]+?)\s*>",
    re.IGNORECASE | re.MULTILINE,
)
_CREDIT_BARE = re.compile(
    r"^(?:signed-off-by|co-developed-by|from)[ \t]*:[ \t]*([^<>\s@\"(),;]+@[\w.-]+\.\w+)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Message-IDs of one send: git send-email "<YYYYMMDDhhmmss>.<pid>-<n>-<addr>", older
# "<epoch>-<pid>-<n>-git-send-email-<addr>", b4 "<date>-<slug>-v<N>-<n>-<hash>@<host>", and
# git format-patch --thread "cover.<epoch>.git.<addr>" / "<sha>.<epoch>.git.<addr>".
_STEMS = (
    re.compile(r"^(\d{14}\.\d+)-\d+-(.+@.+)$"),
    re.compile(r"^(\d{9,11}-\d+)-\d+-git-send-email-(.+@.+)$"),
    re.compile(r"^(\d{8}-[\w.+-]+?-v\d+)-\d+-([0-9a-f]{12}@.+)$"),
    re.compile(r"^(?:cover|[0-9a-f]{40})\.(\d{9,11})\.git\.(.+@.+)$"),
)
_B4_FOOTER = re.compile(r"^(?:base-commit|change-id|prerequisite-[\w-]+):.*$", re.I | re.M)


def notes_text(body: str) -> str:
    """A patch mail without its diff: the commit message, the notes below ``---`` and b4's
    footer lines (``base-commit:``, ``change-id:``, ``prerequisite-…:``) after the diff."""
    found = _DIFF_START.search(body)
    if found is None:
        return body
    footer = _B4_FOOTER.findall(body[found.start() :])
    return body[: found.start()] + "\n".join(footer)


def change_id(text: str) -> str | None:
    found = _CHANGE_ID.findall(text)
    return found[-1] if found else None


def _message_ids(line: str) -> list[str]:
    return [urllib.parse.unquote(m).strip(".,;:") for m in _MSGID_LINK.findall(line)]


def _version_context(text: str) -> bool:
    return _VERSION_CUE.search(text) is not None and _DEPENDENCY_CUE.search(text) is None


def _cited_for_versions(lines: list[str]) -> set[str]:
    """Reference numbers cited on a line that speaks of a version: "v1 [1]", "RFC[2]"."""
    cited: set[str] = set()
    previous = ""
    for line in lines:
        if _NUMBERED_REF.match(line) or _MSGID_LINK.search(line):
            previous = ""
            continue
        for found in _CITED.finditer(line):
            # The sentence that cites it, which may start on the line before.
            if _version_context((previous + " " + line[: found.start()])[-160:]):
                cited.add(found.group(1))
        previous = line
    return cited


def predecessor_message_ids(text: str, *, cover: bool = True) -> tuple[str, ...]:
    """Message-IDs of lore links that name an earlier version (see the module docstring).

    ``cover`` is False for a patch's own text, whose ``Link:`` trailers name discussions.
    """
    lines = text.splitlines()
    cited = _cited_for_versions(lines)
    has_changelog = cover and bool(changelog_versions(text))
    out: list[str] = []
    previous = ""  # the last non-blank line without a link
    for line in lines:
        if not line.strip():
            continue
        if line.lstrip().startswith(">"):
            continue  # a quoted reply
        ids = _message_ids(line)
        if not ids:
            previous = line
            continue
        numbered = _NUMBERED_REF.match(line)
        before = line[: _MSGID_LINK.search(line).start()]  # type: ignore[union-attr]
        if numbered is not None:
            if numbered.group(1) in cited and not _DEPENDENCY_CUE.search(before):
                out.extend(ids)
            continue
        if _DEPENDENCY_CUE.search(before):
            continue
        lead = before.strip(" \t-*:(<[").casefold()
        if (
            _VERSION_CUE.search(before)
            or (lead in ("", "link", "links", "lore") and _version_context(previous))
            # A cover's lone "Link: <url>" beside its changelog ("Major changes from v0 to v1").
            or (lead == "link" and has_changelog)
        ):
            out.extend(ids)
    return tuple(dict.fromkeys(out))


def changelog_versions(text: str) -> frozenset[int]:
    """The earlier versions a changelog names: A of "vA -> vB", N of "since vN", N - 1 of
    "Changes in vN" and of a "vN:" header."""
    found: set[int] = set()
    for line in text.splitlines():
        if line.lstrip().startswith(">"):
            continue
        found.update(int(m.group(1)) for m in _STEP.finditer(line))
        found.update(int(m.group(1)) for m in _SINCE.finditer(line))
        found.update(int(m.group(1)) - 1 for m in _IN.finditer(line))
        header = _HEADER.match(line)
        if header is not None:
            found.add(int(header.group(1)) - 1)
    found.discard(-1)
    return frozenset(found)


def credited_addresses(text: str) -> frozenset[str]:
    """Addresses a patch credits as its authors: its in-body ``From:`` and its
    ``Signed-off-by:`` / ``Co-developed-by:`` lines (casefolded; quoted lines never match)."""
    found = _CREDIT.findall(text) + _CREDIT_BARE.findall(text)
    return frozenset(address.casefold().rstrip(".") for address in found)


def send_stem(message_id: str) -> str | None:
    """What every Message-ID of one send shares (see ``_STEMS``), or None for another form."""
    for pattern in _STEMS:
        found = pattern.match(message_id)
        if found is not None:
            return f"{found.group(1)} {found.group(2).casefold()}"
    return None


def touched_files(bodies: Iterable[str]) -> frozenset[str]:
    """The paths the diffs in these mail bodies change."""
    files: set[str] = set()
    for body in bodies:
        pairs = _DIFF_FILE.findall(body)
        if pairs:
            files.update(new for _, new in pairs)
        else:
            files.update(p for p in _PLAIN_FILE.findall(body) if p != "/dev/null")
    return frozenset(files)

# SPDX-License-Identifier: GPL-2.0-or-later
"""'Applied' replies: a maintainer saying a patch went into a tree (pure, no I/O).

Most kernel maintainers never touch Patchwork; they answer the patch. Recognized, on a line
of the reply's own text (not quoted), at the start of the line or of a sentence in it:

* "Applied, thanks!", "Series applied.", "Patch applied to nf-next", "Queued up for
  hyperv-next, thanks!", "thanks, applied to" (the tree on the next lines), "Applied the
  series to pci/hv for v5.7.";
* "I applied / I've applied / I have applied … to|into|for <tree>" (a tree must be named);
* patchwork-bot's "This series was applied to netdev/net-next.git (main)".

Look-alikes are not: "applied … on top of", "applied it locally", "I applied your patch on
commit …", "with this patch applied", "I applied that and see this:", "should not be applied",
"before applying". b4's thank-you and patchwork-bot list what went in, one patch per entry
(``[1/3] subject`` or ``- [net-next,1/3] subject``) with its ``commit: <sha>`` or commit URL:
those entries say which patches of a series were taken (``(subset)``), and with which commit.
Whether the writer is someone other than the patch's author is the caller's question
(:func:`~lkml_assistant.intel.reviews.summarize_reviews`). The labelled sample in
tests/data/labels/applied.json measures the rule (``make versions-report``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import normalize_body

_VERB = r"(?:applied|queued(?:\s+up)?|picked\s+up)"
_OBJECT = (
    r"(?:(?:the\s+)?(?:whole\s+|entire\s+)?(?:patch\s*set|patchset|series|patches|patch|"
    r"changes?|commits?)|both(?:\s+patches)?|all(?:\s+(?:patches|of\s+them))?|"
    r"(?:this|these|it|them|v\d+)(?:\s+(?:patch\s*set|patchset|series|patches|patch|one))?)"
)
_THANKS = r"(?:(?:thanks|thank\s+you|ok(?:ay)?|great|nice)[,.!]*\s+)"
_LEADING_THANKS = re.compile(rf"^{_THANKS}", re.IGNORECASE)
# "Applied, thanks!", "Series applied to x", "thanks, applied to", "Queued up for x".
_PASSIVE = re.compile(
    rf"^{_THANKS}?(?:{_OBJECT}\s+)?(?:now\s+|finally\s+)?{_VERB}\b(?P<rest>.*)$",
    re.IGNORECASE,
)
# "I applied this patch series already to net-next", "I've applied this patch to x".
_FIRST_PERSON = re.compile(
    rf"^{_THANKS}?I(?:'ve|\s+have)?\s+(?:now\s+|just\s+|also\s+|finally\s+)?{_VERB}\s+"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)
# patchwork-bot: "This series was applied to netdev/net-next.git (main)".
_BOT = re.compile(
    r"^This\s+(?:patch|series)\s+was\s+applied\s+to\s+(?P<tree>\S+(?:\s+\([^)]*\))?)",
    re.IGNORECASE,
)
# What turns a statement into a description of someone's test, a wish or a plan.
_LOOKALIKE = re.compile(
    r"\b(?:on\s+top|locally|on\s+commit|and\s+(?:see|get|got|saw|tested|test)|to\s+test|"
    r"for\s+testing|the\s+following|the\s+above|another|not|never|hope|please|would|could|"
    r"should|will|can|cannot|if|when|while|before|after|once|cleanly|fine|ok)\b|n't\b",
    re.IGNORECASE,
)
_TREE_AFTER = re.compile(r"\b(?:to|into|for|in)\s+(?P<tree>.+)$", re.IGNORECASE)
_TREE_STOP = re.compile(r",|\.(?:\s|$)|!|\s+(?:with|and|for|thanks|thank|as|so|which)\b")
_SERIES = re.compile(r"\b(?:series|patch\s*set|patchset|both|all|these|them)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LISTED = re.compile(
    r"^\s*(?:-\s+)?\[(?P<tags>[^\]]*?)(?P<n>\d+)/(?P<m>\d+)\]\s+(?P<subject>\S.*)$"
)
_COMMIT = re.compile(
    r"^\s*(?:commit:\s+(?P<sha>[0-9a-f]{7,40})|https?://\S+/c/(?P<url_sha>[0-9a-f]{7,40}))\b"
)


@dataclass(frozen=True, slots=True)
class ListedPatch:
    """One entry of a thank-you's list: ``[n/m] subject`` and the commit it became."""

    index: int
    total: int
    subject: str
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedReading:
    """An 'applied' statement: where it stands, the tree named, what it lists."""

    line: int
    tree: str | None = None
    commit: str | None = None
    listed: tuple[ListedPatch, ...] = ()
    whole_series: bool = False


def _clean_tree(text: str) -> str | None:
    text = text.strip()
    stop = _TREE_STOP.search(text)
    # A parenthesised branch ("linux.git (v6.3/arm64-dt)") belongs to the tree.
    if stop is not None and not text[: stop.start()].count("(") > text[: stop.start()].count(")"):
        text = text[: stop.start()]
    text = text.strip().rstrip(".:;,!").strip()
    return text or None


def _drop_thanks(text: str) -> str:
    return _LEADING_THANKS.sub("", text.strip())


def _continues(previous: str) -> bool:
    """Whether a line goes on with the previous line's sentence (a greeting does not)."""
    text = previous.strip()
    if not text or text.startswith(">") or text.endswith((".", "!", "?", ":")):
        return False
    return not (text.endswith(",") and len(text.split()) <= 4)  # "Hi Uwe,"


def _statement(line: str, *, continued: bool = False) -> tuple[str | None] | None:
    """``(tree,)`` when a line of own text states that the patch was applied, else None.

    ``continued``: the line goes on with the previous line's sentence, so its first
    sentence starts nothing ("… the driver with the fix\napplied, the device …").
    """
    sentences = _SENTENCE.split(line.strip())
    for sentence in sentences[1:] if continued else sentences:
        bot = _BOT.match(sentence)
        if bot is not None:
            return (_clean_tree(bot.group("tree")),)
        passive = _PASSIVE.match(sentence)
        found = passive or _FIRST_PERSON.match(sentence)
        if found is None:
            continue
        head = _drop_thanks(sentence).split(",")[0]  # the clause that says it
        if _LOOKALIKE.search(head):
            continue
        tree = _TREE_AFTER.search(found.group("rest").split(",")[0])
        if passive is None and tree is None:
            continue  # "I applied that …": a tester's words, unless a tree is named
        return (_clean_tree(tree.group("tree")) if tree else None,)
    return None


def _listing(lines: list[str], start: int) -> tuple[tuple[ListedPatch, ...], str | None]:
    """The ``[n/m] subject`` entries after the statement, each with its commit, and a commit
    given alone (a single patch's thank-you)."""
    listed: list[ListedPatch] = []
    lone_commit: str | None = None
    pending: ListedPatch | None = None
    for line in lines[start:]:
        if line.lstrip().startswith(">"):
            continue
        entry = _LISTED.match(line)
        if entry is not None:
            if pending is not None:
                listed.append(pending)
            pending = ListedPatch(
                int(entry.group("n")), int(entry.group("m")), entry.group("subject").strip()
            )
            continue
        commit = _COMMIT.match(line)
        if commit is not None:
            sha = commit.group("sha") or commit.group("url_sha")
            if pending is not None:
                listed.append(ListedPatch(pending.index, pending.total, pending.subject, sha))
                pending = None
            elif lone_commit is None:
                lone_commit = sha
    if pending is not None:
        listed.append(pending)
    return tuple(listed), lone_commit


def read_applied(message: MailMessage) -> AppliedReading | None:
    """The 'applied' statement of a reply, with the tree and commits it names, or None."""
    body = message.body
    if not any(word in body for word in ("pplied", "ueued", "icked up")):
        return None
    own = normalize_body(body).own_text
    lines = own.split("\n")
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith((">", "[", "+", "-", "|")):
            continue
        found = _statement(stripped, continued=_continues(lines[number - 1] if number else ""))
        if found is None:
            continue
        (tree,) = found
        if tree is None or tree.lower() in {"it", "this", "them"}:
            following = next((t.strip() for t in lines[number + 1 :] if t.strip()), "")
            if stripped.rstrip().lower().endswith((" to", " into", " to:")) and following:
                tree = _clean_tree(following) if not following.startswith(">") else None
        listed, commit = _listing(lines, number + 1)
        if commit is None and len(listed) == 1:
            commit = listed[0].commit
        return AppliedReading(
            line=number,
            tree=tree,
            commit=commit,
            listed=listed,
            whole_series=_SERIES.search(stripped) is not None,
        )
    return None

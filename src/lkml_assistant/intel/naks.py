# SPDX-License-Identifier: GPL-2.0-or-later
"""NAKs written in prose: which lines of a reply's own text reject the patch (pure, no I/O).

A NAK is recognized as the writer's own verdict, never as a mention of the word:

* a sentence that opens with it ("NAK.", "Nack, don't deviate …", "Strong NAK here:",
  "Obviously still nack from me.", "This is just wrong. NAK."), the word followed by the end
  of the sentence, a comma or one of a few words ("on", "for", "from", "to", "as", …);
* a verdict phrase in the middle of a sentence: "that's a clear NAK", "consider this a NAK",
  "I would say NAK", "I have to NAK …", "… NACK from my side", "… NACK to your patch".

Rejected: quoted lines, the word inside double quotes (a string in code, a quotation),
a negation before it in its clause ("isn't a NAK", "I won't nack"), a question ("is this
a Nack for …?"), and sentences about a bus or protocol (I2C, SMBus, ACK/NAK, an address,
a packet, a mailbox …), where NAK is the other meaning. "NAKs"/"NAKing"/"nacked by" are not
verdicts. Sentences are read across the lines of a paragraph, so a word that starts a line
in the middle of a sentence ("… in the case of a\\nnack the previous address …") is not taken
as its beginning. The labelled sample in tests/data/labels/naks.json measures the rule
(``make versions-report``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_WORD = r"(?:NAK|NACK|Nak|Nack|nak|nack)"
# Not part of a longer word, a path, a code name or a pair such as ACK/NACK.
_TOKEN = re.compile(rf"(?<![\w/\-]){_WORD}(?:ed)?(?![\w/\-])")
_HINTS = ("NAK", "NACK", "Nak", "Nack", "nak", "nack")

_ADJECTIVE = r"(?:clear|strong|formal|hard|firm|big|definite|obvious|final|explicit|full)"
_INTENSIFIER = (
    r"(?:so|still|hence|thus|strong(?:ly)?|obvious(?:ly)?|clear(?:ly)?|formal(?:ly)?|hard|firm|"
    r"big|final|also|then|sorry|and|but|yes|well|ok(?:ay)?|anyway|again|nope|no)"
)
_FOLLOWER = (
    r"(?:on|to|for|from|as|here|again|too|also|until|unless|because|since|anyway|this|that|"
    r"it|in\s+(?:its|this|the)\s+current\s+form|the\s+(?:whole|entire|series|patch\w*))"
)
# The word opens its sentence, alone or followed by punctuation or a fitting word.
_OPENING = re.compile(
    rf"^[\s\"'(*_]*(?:{_INTENSIFIER}[\s,]+)*{_WORD}(?:ed)?"
    rf"(?=\s*(?:$|[.,;:!)*_\-]|{_FOLLOWER}\b))",
    re.IGNORECASE,
)
# Verdict phrases anywhere in a sentence (case-insensitive around the word itself).
_VERDICTS = (
    rf"\b(?:this|that|it|here)(?:'s|\s+is)\s+(?:(?:a|my)\s+)?(?:{_ADJECTIVE}\s+)*{_WORD}\b",
    rf"\bconsider\s+(?:this|it|that)\s+(?:(?:a|my)\s+)?(?:{_ADJECTIVE}\s+)*{_WORD}\b",
    rf"\b(?:take|treat|count)\s+(?:this|it)\s+as\s+(?:a|my)\s+(?:{_ADJECTIVE}\s+)*{_WORD}\b",
    rf"\bI(?:'d|\s+would|\s+will|'ll)?\s+say\s+(?:(?:a|my)\s+)?(?:{_ADJECTIVE}\s+)*{_WORD}\b",
    rf"\bI(?:\s+(?:have|need)\s+to|\s+must|'ll\s+have\s+to|\s+will\s+have\s+to|'m\s+going\s+to"
    rf"|\s+am\s+going\s+to)\s+{_WORD}\b",
    rf"\bmy\s+(?:{_ADJECTIVE}\s+)*{_WORD}\b",
    rf"\b{_WORD}\s+from\s+(?:me|my\s+side|our\s+side|us)\b",
    rf"\b{_WORD}\s+to\s+(?:this|the|your|these)\s+(?:\w+\s+)?"
    r"(?:patch\w*|series|change\w*|approach|idea|proposal|set)\b",
)
_VERDICT = re.compile("|".join(_VERDICTS), re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:not|no|never|without|neither|nor|cannot)\b|n't\b|n’t\b", re.IGNORECASE
)
# The other meaning: a bus, a protocol, a device answering. Case matters for ACK.
_PROTOCOL = re.compile(
    r"\b(?:i2c|smbus|spi|usb|tcp|udp|arp|dhcp|bus|slave|address|byte|packet|frame|handshake|"
    r"register|mailbox|opcode|protocol|transfer|xfer|firmware|timeout|transaction)s?\b"
    r"|\bACK\b|\back/|/ack\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=:)\s+(?=[A-Z])")


def _paragraphs(lines: list[str]) -> Iterator[list[tuple[int, str]]]:
    """Runs of the author's own non-empty lines (quoted and diff lines end a run)."""
    run: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith((">", "+", "-", "@@", "|")):
            if run:
                yield run
            run = []
            continue
        run.append((number, stripped))
    if run:
        yield run


def _sentences(run: list[tuple[int, str]]) -> Iterator[tuple[str, list[tuple[int, int]]]]:
    """The sentences of a paragraph, each with (offset, line number) marks to place a match."""
    text = ""
    marks: list[tuple[int, int]] = []
    for number, line in run:
        if text:
            text += " "
        marks.append((len(text), number))
        text += line
    start = 0
    for end in [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        sentence = text[start:end]
        if sentence.strip():
            local = [(offset - start, number) for offset, number in marks]
            yield sentence, local
        start = end
        while start < len(text) and text[start].isspace():
            start += 1


def _line_of(offset: int, marks: list[tuple[int, int]]) -> int:
    found = marks[0][1]
    for start, number in marks:
        if start <= offset:
            found = number
    return found


def _is_verdict(sentence: str, at: int) -> bool:
    """Whether the NAK word at ``at`` is the writer's own verdict in this sentence."""
    before = sentence[:at]
    if before.count('"') % 2 or before.count("“") > before.count("”"):
        return False  # inside a quotation or a string in code
    clause = re.split(r"[,;]", before)[-1]  # "… is not acceptable, so this is a NACK"
    if _NEGATION.search(clause) or sentence.rstrip().endswith("?"):
        return False
    if _PROTOCOL.search(sentence):
        return False
    opening = _OPENING.match(sentence)
    if opening is not None and opening.end() > at:
        return True
    window = sentence[max(0, at - 60) : at + 40]
    return _VERDICT.search(window) is not None


def nak_lines(own_text: str) -> list[int]:
    """The numbers of the lines of ``own_text`` that state a NAK (see the module docstring).

    ``own_text`` is a reply's own text (signature and unprefixed quote cut); its ``>`` lines
    are skipped here.
    """
    if not any(hint in own_text for hint in _HINTS):
        return []
    found: list[int] = []
    for run in _paragraphs(own_text.split("\n")):
        for sentence, marks in _sentences(run):
            for token in _TOKEN.finditer(sentence):
                if _is_verdict(sentence, token.start()):
                    line = _line_of(token.start(), marks)
                    if line not in found:
                        found.append(line)
                    break
    return found


def states_nak(own_text: str) -> bool:
    """Whether a reply's own text states a NAK anywhere."""
    return bool(nak_lines(own_text))

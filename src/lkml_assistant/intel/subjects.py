# SPDX-License-Identifier: GPL-2.0-or-later
"""Patch subjects and submitters: what a subject says a mail is, and who posted a series.

This is the one home of what a reply subject is. :func:`parse_subject` splits
``Re: [Intel-wired-lan] [PATCH net-next v3 2/5] ice: fix foo`` into its parts: reply prefixes,
bracket tags (list names, trees such as ``net-next``), the version, the ``n/m`` numbering, the
RFC and RESEND flags and the bare title; :func:`is_reply_subject` is its reply verdict alone,
without building the model, and :func:`is_patch_submission` tells a posted patch from a reply
about one. :func:`title_key` is the form two titles are compared in. :class:`Submitter` sees
through the "Name via List" From rewriting of lists that mitigate DMARC (the address itself is
resolved by :mod:`lkml_assistant.sources.mail`, which reads Reply-To and X-Original-From).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.models.discussion import MailMessage

# Reply and forward prefixes that mail clients write, each seen in real use: Re (RFC 5322),
# Aw (German Antwort), Sv (Danish, Norwegian, Swedish Svar), Antw (Dutch Antwoord),
# Vs (Finnish Vastaus), Odp (Polish Odpowiedz), R (Italian Outlook's Risposta), Fw/Fwd,
# Wg (German Weitergeleitet), Tr (French Transfere). Some clients count replies: "Re[2]:"
# (mutt's reply_regex, Majordomo) and "Re^2:" (Majordomo, Elm). A bare "Re2:" is not read: no
# client is known to write it, and it would make "r8169: ..." a reply. b4 reads Re/Aw/Fwd
# and any two or three letters before a colon and a bracket; the list here is explicit, so that
# "net: [PATCH ...]" stays a posting.
_REPLY_WORD = r"(?:re|aw|sv|antw|vs|odp|r|fwd?|wg|tr)\s*(?:\[\d+\]|\^\d+)?\s*:"
_REPLY_PREFIX = re.compile(_REPLY_WORD + r"\s*", re.IGNORECASE)
_BRACKET = re.compile(r"\[([^\[\]]*)\]\s*")
# Without brackets some senders write "RESEND: [PATCH …" or "RESEND [PATCH …".
_BARE_FLAG = re.compile(r"(RESEND|RFC|PATCH)\b\s*:?\s*(?=\[)", re.IGNORECASE)
_VERSION = re.compile(r"v0*(\d{1,3})", re.IGNORECASE)
_NUMBERING = re.compile(r"0*(\d{1,4})/0*(\d{1,4})")
# "decruft the vmalloc API v2": a version written after a tag-less title.
# Only for a subject without any patch tag, and only as a separate word ("…-v2" is a name).
_TRAILING_VERSION = re.compile(r"\s[(\[]?v0*(\d{1,3})[)\]]?$", re.IGNORECASE)
# A reply prefix behind other words ("REGRESSION: Re: [patch V2 00/46] …").
_INNER_REPLY = re.compile(r"^[^\[]{0,40}?\b" + _REPLY_WORD + r"\s*\[", re.IGNORECASE)
_TRAILING_PUNCT = re.compile(r"[\s.,;:!]+$")
# "foo()" and "foo", "\"Hyper-V\"" and "Hyper-V": the same title in two versions.
_TITLE_NOISE = re.compile(r"\(\s*\)|[\"'`\u2018\u2019\u201c\u201d]")
_VIA_LIST = re.compile(r"^(.*?)\s+via\s+\S.*$", re.IGNORECASE | re.DOTALL)


class ParsedSubject(BaseModel):
    """What a patch subject says about the posting it names."""

    model_config = ConfigDict(frozen=True)

    raw: str
    title: str = Field(description="The subject without prefixes and bracket tags.")
    tags: tuple[str, ...] = Field(
        default=(), description="Other bracket words: list names, trees, 'nft', 'S22' …"
    )
    version: int = Field(default=1, ge=0, description="1 when the subject names none.")
    explicit_version: bool = False
    index: int | None = Field(default=None, description="n of n/m; 0 is a cover letter.")
    total: int | None = None
    rfc: bool = False
    resend: bool = False
    is_reply: bool = Field(default=False, description="Re:/Aw:/Fwd: …: a reply, not a posting.")
    patch_tag: bool = Field(
        default=False, description="A bracket group names PATCH, RFC, a version or n/m."
    )

    @property
    def key(self) -> str:
        return title_key(self.title)

    @property
    def is_cover(self) -> bool:
        return self.index == 0


def title_key(title: str) -> str:
    """Titles as compared: case-folded, whitespace collapsed, trailing punctuation, empty
    ``()`` and quote marks dropped."""
    return _TRAILING_PUNCT.sub("", " ".join(_TITLE_NOISE.sub("", title).split()).casefold())


def _read_group(words: list[str], state: dict[str, object], tags: list[str]) -> bool:
    """Interpret one bracket group; True if it is a patch tag (PATCH, RFC, vN or n/m)."""
    patchish = False
    for word in words:
        lower = word.casefold()
        if lower in ("patch", "patches", "patchv"):
            patchish = True
        elif lower == "rfc":
            state["rfc"] = patchish = True
        elif lower in ("resend", "resent", "repost"):
            state["resend"] = patchish = True
        elif (found := _VERSION.fullmatch(word)) is not None:
            state["version"] = int(found.group(1))
            patchish = True
        elif (found := _NUMBERING.fullmatch(word)) is not None:
            state["index"], state["total"] = int(found.group(1)), int(found.group(2))
            patchish = True
        elif lower.startswith("patch") and _VERSION.fullmatch(lower[5:]):
            state["version"] = int(lower[6:])  # "PATCHv2"
            patchish = True
        elif lower.startswith("rfc") and _VERSION.fullmatch(lower[3:]):
            state["version"], state["rfc"] = int(lower[4:]), True
            patchish = True
        elif word:
            tags.append(word)
    return patchish


def _read_head(text: str, state: dict[str, object], tags: list[str]) -> tuple[int, bool, bool]:
    """Read the prefixes and tags before the title of a whitespace-collapsed subject.

    Returns where the title starts, whether the subject is a reply and whether a patch tag was
    read. A reply prefix counts before the first patch tag only: in "[PATCH] Re: foo" the patch
    answers a thread it names, and "[PATCH] tr: …" could be a subsystem's name.
    """
    inner = _INNER_REPLY.match(text)
    is_reply = inner is not None
    patch_tag = False
    pos = inner.end() - 1 if inner is not None else 0
    while pos < len(text):
        if (found := _REPLY_PREFIX.match(text, pos)) is not None:
            is_reply = is_reply or not patch_tag
        elif (found := _BRACKET.match(text, pos)) is not None:
            words = found.group(1).replace(",", " ").split()
            patch_tag = _read_group(words, state, tags) or patch_tag
        elif (found := _BARE_FLAG.match(text, pos)) is not None:
            patch_tag = _read_group([found.group(1)], state, tags) or patch_tag
        else:
            break
        pos = found.end()
    return pos, is_reply, patch_tag


def is_reply_subject(subject: str) -> bool:
    """``Re:``/``AW:``/``Odp:``/``WG:``/``Re[2]:``/``Re^2:`` …, also behind a list tag such as
    ``[Intel-wired-lan]``: the verdict of :func:`parse_subject`, without building it."""
    if ":" not in subject:
        return False
    text = " ".join(subject.split())
    # Most replies start with their prefix: no need to read their tags.
    return _REPLY_PREFIX.match(text) is not None or _read_head(text, {}, [])[1]


def parse_subject(subject: str) -> ParsedSubject:
    """Split a subject into prefixes, tags, version, numbering, flags and the bare title."""
    text = " ".join(subject.split())
    state: dict[str, object] = {}
    tags: list[str] = []
    pos, is_reply, patch_tag = _read_head(text, state, tags)
    title = text[pos:].strip()
    trailing = None if patch_tag else _TRAILING_VERSION.search(title)
    if trailing is not None and trailing.start() > 0:
        state["version"] = int(trailing.group(1))
        title = title[: trailing.start()].rstrip()
    version = state.get("version")
    index = state.get("index")
    total = state.get("total")
    return ParsedSubject(
        raw=subject,
        title=title,
        tags=tuple(tags),
        version=version if isinstance(version, int) else 1,
        explicit_version=isinstance(version, int),
        index=index if isinstance(index, int) else None,
        total=total if isinstance(total, int) else None,
        rfc=bool(state.get("rfc")),
        resend=bool(state.get("resend")),
        is_reply=is_reply,
        patch_tag=patch_tag,
    )


# --- postings ---------------------------------------------------------------------------------

_PATCH_TAG = re.compile(r"\[[^\]]*\b(?:patch|rfc)\b[^\]]*\]", re.IGNORECASE)
# "[PATCH 0/5]", "[patch V2 00/46]", "[PATCH 0/2 v3]", "[v5 0/5]": a series' cover letter.
_COVER_TAG = re.compile(r"\[[^\]]*\b0+/\d+\b[^\]]*\]")


def is_patch_submission(message: MailMessage) -> bool:
    """A posted patch or cover letter, as opposed to a reply about one.

    A diff in a mail whose subject is not a reply marks a patch; a cover letter has no diff
    but a ``0/n`` number (some series drop the word PATCH). A ``[PATCH]`` mail that answers
    another and has no diff is a reply whose sender dropped the "Re:".
    """
    subject = message.subject
    if is_reply_subject(subject):
        return False
    if message.has_patch or _COVER_TAG.search(subject):
        return True
    if _PATCH_TAG.search(subject) is None:
        return False
    return not message.in_reply_to and not message.references


# --- submitters -------------------------------------------------------------------------------


def strip_via(name: str) -> str:
    """'Jane Doe via Intel-wired-lan' -> 'Jane Doe' (a list's DMARC From rewrite)."""
    name = " ".join(name.split()).strip('"').strip()
    found = _VIA_LIST.match(name)
    return found.group(1).strip().strip('"').strip() if found else name


def list_address(list_id: str | None) -> str | None:
    """The posting address of a list from its List-Id: 'linux-pwm.vger.kernel.org' ->
    'linux-pwm@vger.kernel.org'."""
    if not list_id or "." not in list_id:
        return None
    local, _, domain = list_id.partition(".")
    return f"{local}@{domain}".casefold()


class Submitter(BaseModel):
    """Who posted a series, compared across a rewritten and a non-rewritten From.

    ``email_known`` is False when the address is the list's own (a DMARC rewrite whose real
    author could not be found); the name, with " via <list>" stripped, is compared then.
    """

    model_config = ConfigDict(frozen=True)

    name: str = ""
    email: str = ""
    rewritten: bool = False
    email_known: bool = True

    @classmethod
    def of(
        cls, name: str, email: str, *, rewritten: bool = False, list_email: str | None = None
    ) -> Submitter:
        via = _VIA_LIST.match(" ".join(name.split())) is not None
        address = email.strip().casefold()
        known = bool(address) and not (via and not rewritten)
        if list_email and address == list_email.casefold():
            known = False
        return cls(
            name=strip_via(name), email=address, rewritten=rewritten or via, email_known=known
        )

    @classmethod
    def from_mail(cls, message: MailMessage) -> Submitter:
        """The real author as :mod:`~lkml_assistant.sources.mail` resolved it."""
        return cls.of(
            message.author_name,
            message.author_email,
            rewritten=message.from_rewritten,
            list_email=list_address(message.list_id),
        )

    @property
    def name_key(self) -> str:
        return " ".join(self.name.split()).casefold()

    def same_as(self, other: Submitter) -> bool:
        """The same person: by address when both are known, else by name."""
        if self.email_known and other.email_known:
            return self.email == other.email
        return bool(self.name_key) and self.name_key == other.name_key

    @property
    def label(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.name or self.email

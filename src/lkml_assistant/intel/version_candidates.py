# SPDX-License-Identifier: GPL-2.0-or-later
"""What version linking knows of one posted series: :class:`SeriesCandidate`, built from raw
mail (:func:`candidates_from_mail`: the mail of one send grouped into one posting, whatever its
tags say or what it answers) or from Patchwork records (:func:`candidate_from_patchwork`).

The rules that link candidates into chains are in :mod:`lkml_assistant.intel.versions`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.intel.patchid import mail_patch_id
from lkml_assistant.intel.subjects import (
    ParsedSubject,
    Submitter,
    is_patch_submission,
    parse_subject,
    title_key,
)
from lkml_assistant.intel.threads import dedupe_messages
from lkml_assistant.intel.version_notes import (
    change_id,
    changelog_versions,
    credited_addresses,
    notes_text,
    predecessor_message_ids,
    send_stem,
    touched_files,
)
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.models.domain import Patch, Series
from lkml_assistant.models.records import StoredMessage


class SeriesCandidate(BaseModel):
    """One posted series (or single patch), as the version linking needs it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    project: str = Field(description="Patchwork project or mailing list.")
    submitter: Submitter
    date: datetime | None = None
    version: int = Field(default=1, ge=0)
    subject: str = Field(description="Subject of the cover letter, else of the first patch.")
    title_key: str = ""
    rfc: bool = False
    resend: bool = False
    total: int | None = None
    has_cover: bool = False
    message_id: str = Field(description="Message-ID of the cover letter, else of the first patch.")
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    cover_body: str = ""
    notes: str = Field(
        default="", description="Without a cover: patch 1's mail without its diff (its notes)."
    )
    files: frozenset[str] = Field(default=frozenset(), description="Paths the patches touch.")
    patch_message_ids: tuple[str, ...] = ()
    patch_subjects: tuple[str, ...] = ()
    patch_ids: tuple[str | None, ...] = Field(default=(), description="git patch-id per patch.")
    credits: frozenset[str] = Field(
        default=frozenset(),
        description="Addresses its patches credit: in-body From, Signed-off-by, Co-developed-by.",
    )

    @property
    def message_ids(self) -> frozenset[str]:
        return frozenset((self.message_id, *self.patch_message_ids))

    @property
    def own_words(self) -> str:
        """Where a posting speaks of its versions: the cover letter, else patch 1's notes."""
        return self.cover_body or self.notes

    @property
    def change_id(self) -> str | None:
        return change_id(self.own_words)

    @property
    def linked_message_ids(self) -> tuple[str, ...]:
        """Message-IDs of earlier versions named by lore links in a version context."""
        return predecessor_message_ids(self.own_words, cover=bool(self.cover_body))

    @property
    def changelog_versions(self) -> frozenset[int]:
        return changelog_versions(self.own_words)

    @property
    def partial(self) -> bool:
        """Some patches never reached the list (or the slice)."""
        if self.total is None or self.total <= 1:
            return False
        return len(self.patch_message_ids) < self.total

    def title_keys(self, *, every_patch: bool = False) -> frozenset[str]:
        """Titles this series is known by: the cover's and patch 1's, or every patch's too."""
        keys = {self.title_key or title_key(parse_subject(self.subject).title)}
        subjects = self.patch_subjects if every_patch else self.patch_subjects[:1]
        keys.update(parse_subject(s).key for s in subjects)
        keys.discard("")
        return frozenset(keys)

    def shares_title(self, other: SeriesCandidate) -> bool:
        """The same title (cover or patch 1); any common patch title if one is partial."""
        if self.title_keys() & other.title_keys():
            return True
        if not (self.partial or other.partial):
            return False
        return bool(self.title_keys(every_patch=True) & other.title_keys(every_patch=True))


# --- candidates from raw mail -----------------------------------------------------------------


@dataclass
class _Posting:
    key: str  # message id, or message id + '#n' for a later copy reusing it
    message: MailMessage
    parsed: ParsedSubject
    submitter: Submitter
    cover_like: bool
    tagless: bool = False


@dataclass
class _Group:
    anchor: _Posting
    members: list[_Posting] = field(default_factory=list)


def _unique_postings(messages: Iterable[MailMessage]) -> list[_Posting]:
    """Postings in arrival order; a copy reusing a Message-ID for another subject is kept apart."""
    postings: list[_Posting] = []
    seen: dict[tuple[str, str], None] = {}
    copies: dict[str, int] = {}
    listed = list(messages)
    unique, _ = dedupe_messages(listed)
    answered = {m.in_reply_to for m in listed if m.in_reply_to} | {
        r for m in listed for r in m.references
    }
    for message in listed:
        parsed = parse_subject(message.subject)
        identity = (message.message_id, message.subject)
        if identity in seen:
            continue
        seen[identity] = None
        if parsed.is_reply:
            continue
        posting = is_patch_submission(message)
        # A cover letter without any tag ("decruft the vmalloc API"): a thread start that
        # patches answer; it is used only if some patch names it.
        tagless_cover = (
            not posting
            and not message.in_reply_to
            and not message.references
            and message.message_id in answered
            and unique.get(message.message_id) is message
        )
        if not posting and not tagless_cover:
            continue
        count = copies.get(message.message_id, 0)
        copies[message.message_id] = count + 1
        key = message.message_id if count == 0 else f"{message.message_id}#{count + 1}"
        postings.append(
            _Posting(
                key=key,
                message=message,
                parsed=parsed,
                submitter=Submitter.from_mail(message),
                cover_like=parsed.is_cover or tagless_cover or (posting and not message.has_patch),
                tagless=tagless_cover,
            )
        )
    return postings


def _same_submission(child: _Posting, parent: _Posting) -> bool:
    return (
        # A tag-less cover may name a version its patches do not ("decruft the vmalloc API v2").
        (parent.parsed.version == child.parsed.version or parent.tagless)
        and (parent.parsed.resend or not child.parsed.resend)
        and parent.submitter.same_as(child.submitter)
        and (parent.cover_like or parent.parsed.index is not None)
        and child.parsed.index != 0
    )


def _send_covers(postings: list[_Posting]) -> dict[str, _Posting]:
    """The cover letter of each send (by Message-ID stem, see
    :func:`~lkml_assistant.intel.version_notes.send_stem`)."""
    covers: dict[str, _Posting] = {}
    for posting in postings:
        if posting.parsed.index != 0 and not posting.tagless:
            continue
        stem = send_stem(posting.message.message_id)
        if stem is not None and not posting.message.has_patch:
            covers.setdefault(stem, posting)
    return covers


def _parent_of(
    posting: _Posting, by_msgid: Mapping[str, list[_Posting]], covers: Mapping[str, _Posting]
) -> _Posting | None:
    """The posting a patch belongs with: its send's cover, else the nearest one it answers."""
    # The cover sent in the same run, whatever the patch answers or its tags say (a stale
    # template cover "[PATCH 0/7] ***" with "[PATCH v5 n/6]", a "v2 00/14" cover with
    # untagged "01/14" patches, "[PATCH v1 n/43]" sent in reply to an April posting).
    stem = send_stem(posting.message.message_id)
    cover = covers.get(stem) if stem is not None else None
    if cover is not None and cover.submitter.same_as(posting.submitter):
        return cover
    message = posting.message
    targets = [message.in_reply_to] if message.in_reply_to else []
    targets.extend(reversed(message.references))
    for target in targets:
        parents = [p for p in by_msgid.get(target, ()) if _same_submission(posting, p)]
        if parents:
            # Among copies under one id, the one with the same RESEND flag.
            return next(
                (p for p in parents if p.parsed.resend == posting.parsed.resend), parents[0]
            )
    return None


def _group_postings(postings: list[_Posting]) -> list[_Group]:
    by_msgid: dict[str, list[_Posting]] = {}
    for posting in postings:
        by_msgid.setdefault(posting.message.message_id, []).append(posting)
    covers = _send_covers(postings)
    anchor_of: dict[str, _Posting] = {}

    def anchor(posting: _Posting, depth: int = 0) -> _Posting:
        if posting.key in anchor_of:
            return anchor_of[posting.key]
        result = posting
        if depth < 50 and posting.parsed.index != 0:
            parent = _parent_of(posting, by_msgid, covers)
            if parent is not None and parent is not posting:
                result = anchor(parent, depth + 1)
        anchor_of[posting.key] = result
        return result

    groups: dict[str, _Group] = {}
    for posting in postings:
        head = anchor(posting)
        key = head.key
        message = head.message
        if head is posting and posting.parsed.index and (posting.parsed.total or 0) > 1:
            # Numbered patches whose cover never reached the list: they share its Message-ID.
            root = message.references[0] if message.references else message.in_reply_to
            if root is not None and root not in by_msgid:
                key = f"\0{root}\0{posting.parsed.version}\0{posting.submitter.email}"
        group = groups.setdefault(key, _Group(anchor=head))
        group.members.append(posting)
        if (group.anchor.parsed.index or 0) > (posting.parsed.index or 0):
            group.anchor = posting
    # A tag-less thread start that no patch joined is not a posting.
    return [
        g
        for g in groups.values()
        if len(g.members) > 1 or is_patch_submission(g.anchor.message) or g.anchor.parsed.patch_tag
    ]


def _candidate(group: _Group, list_name: str) -> SeriesCandidate:
    head = group.anchor
    has_cover = head.cover_like and not head.message.has_patch
    patches = [p for p in group.members if not (has_cover and p is head)]
    patches.sort(key=lambda p: (p.parsed.index if p.parsed.index is not None else 0, p.key))
    unique: dict[str, _Posting] = {}
    for patch in patches:
        unique.setdefault(patch.message.message_id, patch)
    patches = list(unique.values())
    first = head if has_cover or not patches else patches[0]
    # The version most of its mails name (a cover and its patches may disagree), else v1.
    named = Counter(p.parsed.version for p in group.members if p.parsed.explicit_version)
    version = named.most_common(1)[0][0] if named else 1
    totals = [p.parsed.total for p in group.members if p.parsed.total is not None]
    return SeriesCandidate(
        id=head.key,
        project=list_name,
        submitter=head.submitter,
        date=head.message.date,
        version=version,
        subject=first.message.subject,
        title_key=first.parsed.key,
        rfc=any(p.parsed.rfc for p in group.members),
        resend=any(p.parsed.resend for p in group.members),
        total=max(totals) if totals else None,
        has_cover=has_cover,
        message_id=head.message.message_id,
        in_reply_to=head.message.in_reply_to,
        references=head.message.references,
        cover_body=head.message.body if has_cover else "",
        notes="" if has_cover or not patches else notes_text(patches[0].message.body),
        files=touched_files(p.message.body for p in patches),
        patch_message_ids=tuple(p.message.message_id for p in patches),
        patch_subjects=tuple(p.message.subject for p in patches),
        patch_ids=tuple(mail_patch_id(p.message) for p in patches),
        credits=_credits(p.message.body for p in patches),
    )


def _credits(bodies: Iterable[str]) -> frozenset[str]:
    return frozenset(a for body in bodies for a in credited_addresses(notes_text(body)))


def candidates_from_mail(messages: Iterable[MailMessage], list_name: str) -> list[SeriesCandidate]:
    """Group raw list mail into posted series, as Patchwork would.

    A patch joins the series of the posting it answers (In-Reply-To, else the nearest
    References entry that is a posting) when both have the same version, RESEND flag and
    submitter; a cover letter (``0/n``, or a tag-less thread start that patches answer) starts
    a series; a patch answering no posting of its own submission is a series of one. Replies
    (``Re:`` …) are not postings. A repost reusing a Message-ID under another subject (a
    RESEND) is kept as a series of its own, with ``#2`` appended to its id.
    """
    groups = _group_postings(_unique_postings(messages))
    return [_candidate(group, list_name) for group in groups]


# --- candidates from Patchwork records --------------------------------------------------------


def candidate_from_patchwork(
    series: Series,
    patches: Sequence[Patch],
    *,
    cover: StoredMessage | MailMessage | None = None,
    patch_ids: Mapping[str, str | None] | None = None,
    patch_bodies: Mapping[str, str] | None = None,
) -> SeriesCandidate:
    """A candidate from Patchwork's series and patches (ordered as ``series.patch_ids``).

    ``cover`` is the cover letter's mail as our store keeps it, for its body (change-id, lore
    links) and its In-Reply-To; ``patch_ids`` maps patch Message-IDs to git patch-ids, and
    ``patch_bodies`` to the patch mails' bodies (patch 1's notes speak for a series without a
    cover letter; the diffs tell the files touched).
    """
    order = {pid: n for n, pid in enumerate(series.patch_ids)}
    ordered = sorted(patches, key=lambda p: (order.get(p.id, len(order)), p.date))
    first = ordered[0] if ordered else None
    subject = (
        series.cover_letter.name
        if series.cover_letter and series.cover_letter.name
        else (first.name if first else series.name or "")
    )
    message_id = (
        series.cover_letter.msgid if series.cover_letter else (first.msgid if first else "")
    )
    in_reply_to: str | None = None
    body = ""
    if isinstance(cover, StoredMessage):
        in_reply_to, body = cover.parent_id, cover.body
    elif isinstance(cover, MailMessage):
        in_reply_to, body = cover.in_reply_to, cover.body
    parsed = parse_subject(subject)
    ids = patch_ids or {}
    bodies = patch_bodies or {}
    notes = ""
    if series.cover_letter is None and first is not None:
        notes = notes_text(bodies.get(first.msgid, ""))
    return SeriesCandidate(
        id=str(series.id),
        project=series.project,
        submitter=Submitter.of(series.submitter.name or "", series.submitter.email),
        date=series.date,
        version=series.version or parsed.version,
        subject=subject,
        title_key=parsed.key,
        rfc=parsed.rfc,
        resend=parsed.resend,
        total=series.total or None,
        has_cover=series.cover_letter is not None,
        message_id=message_id or f"series-{series.id}",
        in_reply_to=in_reply_to,
        cover_body=body,
        notes=notes,
        files=touched_files(bodies.get(p.msgid, "") for p in ordered),
        patch_message_ids=tuple(p.msgid for p in ordered),
        patch_subjects=tuple(p.name for p in ordered),
        patch_ids=tuple(ids.get(p.msgid) for p in ordered),
        credits=_credits(bodies.get(p.msgid, "") for p in ordered),
    )

# SPDX-License-Identifier: GPL-2.0-or-later
"""Models of the mail side of a review: messages, threads, trailers and per-patch review signals.

A :class:`MailMessage` is what :func:`lkml_assistant.sources.mail.parse_message` makes of one
raw mail; :func:`lkml_assistant.intel.threads.build_thread` links messages into a
:class:`Thread`; trailers (``Reviewed-by:`` …) and bare NAK statements become :class:`Trailer`
objects, and :class:`PatchReviewSummary` is what a maintainer wants to know about one patch.
Message-IDs are kept without angle brackets everywhere, as lore and Patchwork use them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MailMessage(_Frozen):
    """One mail as the review logic needs it: threading headers, who wrote it, decoded text."""

    message_id: str = Field(min_length=1)
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    author_name: str = ""
    author_email: str = ""
    date: datetime | None = Field(
        default=None, description="Timezone-aware UTC; None if unparseable."
    )
    body: str = Field(default="", description="Decoded text of the inline text parts.")
    attached_diffs: tuple[str, ...] = Field(
        default=(),
        description="Decoded attachments (text/x-patch, octet-stream …) that hold a diff.",
    )
    has_patch: bool = Field(
        default=False, description="A diff outside quoted text, inline or attached."
    )
    list_id: str | None = None
    to: tuple[str, ...] = Field(default=(), description="To: addresses, lowercase, in order.")
    cc: tuple[str, ...] = Field(default=(), description="Cc: addresses, lowercase, in order.")
    from_rewritten: bool = Field(
        default=False,
        description="From was a list's DMARC rewrite ('Name via List'); the author came from "
        "Reply-To or X-Original-From.",
    )
    raw_size: int = Field(default=0, ge=0)


class TrailerKind(StrEnum):
    """The review trailers that carry a signal about a patch (Signed-off-by is authorship)."""

    REVIEWED_BY = "reviewed-by"
    ACKED_BY = "acked-by"
    TESTED_BY = "tested-by"
    REPORTED_BY = "reported-by"
    SUGGESTED_BY = "suggested-by"
    NACKED_BY = "nacked-by"


class Trailer(_Frozen):
    """One trailer: whom it names (name, email) and who wrote it (given_by_*), in which mail."""

    kind: TrailerKind
    name: str = ""
    email: str = ""
    given_by_name: str = ""
    given_by_email: str = ""
    message_id: str
    date: datetime | None = None
    bare_statement: bool = Field(
        default=False, description="A 'NAK.' line rather than a 'Nacked-by:' trailer."
    )

    @property
    def mismatched(self) -> bool:
        """The trailer names someone else than its sender (b4 flags these for a human to check)."""
        if not self.email or not self.given_by_email:
            return False
        return self.email.casefold() != self.given_by_email.casefold()


class TrailerScan(_Frozen):
    """The trailers of one message, split by when they were given.

    ``given`` were written in this mail (a reply); ``carried`` stood in a patch's own commit
    message, i.e. were collected before the patch was posted.
    """

    given: tuple[Trailer, ...] = ()
    carried: tuple[Trailer, ...] = ()
    series_wide: tuple[Trailer, ...] = Field(
        default=(), description="Those of ``given`` said to be for the whole series."
    )


class ParentLink(StrEnum):
    """How a message got its place in the thread."""

    ROOT = "root"
    REFERENCES = "references"
    IN_REPLY_TO = "in-reply-to"
    ORPHAN = "orphan"
    """It answers a message missing from the set: attached to the root as a best guess."""
    UNRELATED = "unrelated"
    """It references nothing but is not the root (another thread start): attached to the root."""


class ThreadNode(_Frozen):
    message_id: str
    parent_id: str | None = None
    link: ParentLink
    children: tuple[str, ...] = ()
    depth: int = Field(default=0, ge=0)

    @property
    def header_linked(self) -> bool:
        """The parent came from the message's own headers, not from a guess."""
        return self.link in (ParentLink.REFERENCES, ParentLink.IN_REPLY_TO)


class DroppedMessage(_Frozen):
    message_id: str
    reason: str


class Thread(_Frozen):
    """A tree of messages under one root; every other message has exactly one parent."""

    root_id: str
    nodes: dict[str, ThreadNode]
    messages: dict[str, MailMessage]
    dropped: tuple[DroppedMessage, ...] = ()

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.nodes

    def parent(self, message_id: str) -> str | None:
        return self.nodes[message_id].parent_id

    def ancestors(self, message_id: str) -> list[str]:
        """Parent, grandparent … up to the root."""
        chain: list[str] = []
        parent = self.nodes[message_id].parent_id
        while parent is not None:
            chain.append(parent)
            parent = self.nodes[parent].parent_id
        return chain

    def descendants(self, message_id: str) -> list[str]:
        """Every message below ``message_id``, depth first in arrival order."""
        found: list[str] = []
        stack = list(reversed(self.nodes[message_id].children))
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(reversed(self.nodes[current].children))
        return found


class AppliedNote(_Frozen):
    """A reply saying the patch went into a tree ("Applied to net-next, thanks!", b4's
    thank-you, patchwork-bot): who said so, where, and the commit when it is named."""

    tree: str | None = Field(default=None, description="The tree or branch named, if any.")
    commit: str | None = Field(default=None, description="The commit the patch became, if named.")
    by_name: str = ""
    by_email: str = ""
    message_id: str
    date: datetime | None = None


class PatchReviewSummary(_Frozen):
    """What the replies say about one patch (series-wide replies to the cover letter included)."""

    patch_message_id: str
    reply_count: int = Field(default=0, ge=0, description="Replies below the patch itself.")
    series_reply_count: int = Field(
        default=0, ge=0, description="Replies below the cover letter, which concern every patch."
    )
    participants: tuple[str, ...] = Field(
        default=(), description="Distinct e-mail addresses of everyone who replied, sorted."
    )
    last_activity: datetime | None = None
    trailers: tuple[Trailer, ...] = Field(
        default=(), description="Trailers given in replies (NAKs are in naks)."
    )
    naks: tuple[Trailer, ...] = ()
    carried: tuple[Trailer, ...] = Field(
        default=(), description="Trailers the patch already carried when it was posted."
    )
    applied: AppliedNote | None = Field(
        default=None, description="A reply from someone else than the author saying it was applied."
    )

    def given(self, kind: TrailerKind) -> tuple[Trailer, ...]:
        return tuple(trailer for trailer in self.trailers if trailer.kind is kind)

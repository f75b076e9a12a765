# SPDX-License-Identifier: GPL-2.0-or-later
"""Follow-up trailers per (patch, kind, email) as b4 reads them and as LKML Assistant does.

b4 (kernel.org's own tool, a test dependency) is driven through its Python API on each
conversation of a corpus file: ``b4.LoreMailbox`` gets every message, ``get_series`` gives
each revision's patches with their ``followup_trailers`` (sloppy: a trailer naming another
address than the sender's is kept, as ``b4 am -S`` does; no lore look-ups), and a cover
letter's follow-ups count for every patch, as ``b4 am`` applies them. Ours:
:func:`~lkml_assistant.intel.reviews.summarize_reviews` on the same conversation, for the
patches and cover letter b4 found, so only trailer reading and attribution are compared.
"""

from __future__ import annotations

import email
import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lkml_assistant.intel.reviews import summarize_reviews
from lkml_assistant.intel.threads import build_threads
from lkml_assistant.models.discussion import MailMessage, Thread
from lkml_assistant.sources.mail import MailParseError, parse_message

KINDS = frozenset(
    {"reviewed-by", "acked-by", "tested-by", "reported-by", "suggested-by", "nacked-by"}
)

Triple = tuple[str, str, str]  # (patch Message-ID, trailer kind, email), lowercase kind/email


@dataclass(frozen=True)
class Comparison:
    ours: frozenset[Triple]
    b4: frozenset[Triple]

    @property
    def only_ours(self) -> frozenset[Triple]:
        return self.ours - self.b4

    @property
    def only_b4(self) -> frozenset[Triple]:
        return self.b4 - self.ours


def _conversations(raws: Iterable[bytes]) -> Iterator[tuple[Thread, dict[str, bytes]]]:
    parsed: dict[str, tuple[MailMessage, bytes]] = {}
    for raw in raws:
        try:
            message = parse_message(raw)
        except MailParseError:
            continue
        parsed.setdefault(message.message_id, (message, raw))
    for thread in build_threads(message for message, _ in parsed.values()):
        yield thread, {mid: parsed[mid][1] for mid in thread.messages}


B4Series = tuple[list[str], str | None, set[Triple]]


def _b4_reading(thread: Thread, raw_of: dict[str, bytes]) -> list[B4Series]:
    """b4's series in one conversation: (patch Message-IDs, cover, its trailer triples)."""
    import b4  # a test dependency only

    mailbox = b4.LoreMailbox()
    for raw in raw_of.values():
        mailbox.add_message(email.message_from_bytes(raw, policy=b4.emlpolicy))
    for loaded in mailbox.msgid_map.values():
        # No carry-over to later revisions (that is review status's business, compared
        # elsewhere) and so no `git patch-id` process per patch.
        loaded._git_patch_id = ""
    found: list[B4Series] = []
    for revision in sorted(mailbox.series):
        series = mailbox.get_series(revision, sloppytrailers=True, codereview_trailers=False)
        if series is None:
            continue
        patches = [p for p in series.patches[1:] if p is not None and p.msgid in thread.messages]
        if not patches:
            continue
        cover = series.patches[0] if series.has_cover else None
        cover_trailers = cover.followup_trailers if cover is not None else []
        triples = {
            (patch.msgid, given.lname, given.addr[1].lower())
            for patch in patches
            for given in (*patch.followup_trailers, *cover_trailers)
            if given.lname in KINDS and given.addr and given.addr[1]
        }
        cover_id = cover.msgid if cover is not None and cover.msgid in thread.messages else None
        found.append(([p.msgid for p in patches], cover_id, triples))
    return found


def compare(raws: Iterable[bytes], *, sample: int = 1) -> Comparison:
    """Both readings of the conversations in ``raws``; ``sample`` > 1 keeps one conversation
    in ``sample`` (by a stable hash of its root), for large slices."""
    logging.getLogger("b4").setLevel(logging.CRITICAL)
    ours: set[Triple] = set()
    theirs: set[Triple] = set()
    for thread, raw_of in _conversations(raws):
        if sample > 1 and zlib.crc32(thread.root_id.encode()) % sample:
            continue
        for patch_ids, cover_id, triples in _b4_reading(thread, raw_of):
            theirs |= triples
            for patch_id, summary in summarize_reviews(thread, patch_ids, cover_id).items():
                given = (*summary.trailers, *(n for n in summary.naks if not n.bare_statement))
                ours.update((patch_id, str(t.kind), t.email.lower()) for t in given if t.email)
    return Comparison(frozenset(ours), frozenset(theirs))

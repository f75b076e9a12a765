# SPDX-License-Identifier: GPL-2.0-or-later
"""Version chains: which series are v1, v2 … vN of one piece of work, and which are RESENDs.

Input is a list of :class:`SeriesCandidate` (built from raw mail or from Patchwork records in
:mod:`lkml_assistant.intel.version_candidates`);
:func:`link_versions` returns the chains, the ``superseded_by`` marks and the unlinked series.
The rules, tried in this order for each series against the series posted before it:

1. ``change-id``: b4 writes ``change-id: <id>`` at the end of the cover letter; same id, same work.
2. ``in-reply-to``: the cover (or first patch) answers, or references, a message of an earlier
   series (``git send-email --in-reply-to`` the previous version).
3. ``lore-link``: the cover's changelog links an earlier series' message
   (``v1: https://lore.kernel.org/r/<msgid>``, ``patch.msgid.link``).
4. ``subject``: the same normalized title (cover, or patch 1; any patch title for a partial
   series) from the same submitter on the same list, with a higher version, or the same version
   posted later, within :data:`SUBJECT_WINDOW`.

Then the weak pass, for series still unlinked, against earlier series nothing continues:

5. ``changelog``: same submitter, a changelog naming the earlier version, overlapping work
   (a patch-id, the same slot of an ``n/m`` series, or the touched files and a title word).
6. ``patch-id``: same submitter, a patch carried unchanged (the same git patch-id).
7. ``same-author``: the earlier submitter under another address (the same display name) or
   credited by the later patches (in-body From, Signed-off-by, Co-developed-by), with the
   same title, or the evidence of rule 5 or 6.

Rules 2 and 3 need a higher version, or the same title, and never link two series of one
send (the same Message-ID stem). Before linking, a RESEND is folded into
the posting it repeats (the same Message-IDs, or the same version and the same patch-ids, or a
RESEND-tagged repost of the same version and title), so it never becomes a phantom vN+1. A
series that names no version is v1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lkml_assistant.intel.patchid import same_patches
from lkml_assistant.intel.subjects import (
    parse_subject,
    title_key,
)
from lkml_assistant.intel.version_candidates import (
    SeriesCandidate,
)
from lkml_assistant.intel.version_notes import (
    send_stem,
)

SUBJECT_WINDOW = timedelta(days=365)
"""How far apart two versions linked by subject alone may be."""
RETITLE_OVERLAP = 0.5
"""The share of touched files (intersection over union) a retitled version must have in
common with its predecessor when no patch-id is the same."""

BROKEN_SEND_GAP = timedelta(hours=1)
"""How soon after a send that broke off its missing patches, sent on their own without
threading, still count as the same posting."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LinkRule(StrEnum):
    """The rule that linked a series to its previous version."""

    CHANGE_ID = "change-id"
    IN_REPLY_TO = "in-reply-to"
    LORE_LINK = "lore-link"
    SUBJECT = "subject"
    CHANGELOG = "changelog"
    PATCH_ID = "patch-id"
    SAME_AUTHOR = "same-author"


class ChainLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    series_id: str
    version: int
    rule: LinkRule | None = Field(description="How it was linked to the previous link.")
    resends: tuple[str, ...] = Field(default=(), description="RESENDs of this very version.")


class VersionChain(BaseModel):
    model_config = ConfigDict(frozen=True)

    links: tuple[ChainLink, ...]

    @property
    def series_ids(self) -> tuple[str, ...]:
        return tuple(link.series_id for link in self.links)

    @property
    def latest(self) -> str:
        return self.links[-1].series_id


class VersionLinks(BaseModel):
    """The outcome: chains of two or more versions, supersession, RESENDs, the unlinked."""

    model_config = ConfigDict(frozen=True)

    chains: tuple[VersionChain, ...]
    superseded_by: dict[str, str] = Field(
        description="Every older version (and its RESENDs) -> the next version's series id."
    )
    resend_of: dict[str, str] = Field(description="A RESEND -> the series it repeats.")
    unlinked: tuple[str, ...] = Field(description="Series in no chain (RESENDs excluded).")

    def chain_of(self, series_id: str) -> VersionChain | None:
        for chain in self.chains:
            if series_id in chain.series_ids or any(
                series_id in link.resends for link in chain.links
            ):
                return chain
        return None


# --- linking ----------------------------------------------------------------------------------


def _when(candidate: SeriesCandidate) -> datetime:
    return candidate.date or _EPOCH


def _is_resend(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    if later.project != earlier.project:
        return False
    if later.message_ids & earlier.message_ids:
        return True
    if later.version != earlier.version:
        return False
    if same_patches(later.patch_ids, earlier.patch_ids) and _same_trees(later, earlier):
        return True
    if not later.submitter.same_as(earlier.submitter):
        return False
    return (later.resend and later.shares_title(earlier)) or _completes_broken_send(later, earlier)


def _completes_broken_send(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """A send that broke off (a cover and some of its n patches reached the list) and the
    missing patches, or the whole series, sent again under the same version, threaded to it
    (or, unthreaded, exactly the missing patches within :data:`BROKEN_SEND_GAP`): one posting,
    not a new version. The caller checked the version and the submitter."""
    if not (earlier.partial or later.partial):
        return False
    if earlier.total is not None and later.total is not None and earlier.total != later.total:
        return False
    threaded = {later.in_reply_to, *later.references} & earlier.message_ids
    if threaded:
        return True
    # Not threaded: exactly the patches the earlier send lacks, sent right after it.
    mine, theirs = _indices(later), _indices(earlier)
    whole = set(range(1, (earlier.total or 0) + 1))
    fills = bool(mine) and not (mine & theirs) and mine | theirs == whole
    return fills and timedelta(0) <= _when(later) - _when(earlier) <= BROKEN_SEND_GAP


def _indices(candidate: SeriesCandidate) -> set[int]:
    """The n of its "n/m" patches."""
    found = (parse_subject(s).index for s in candidate.patch_subjects)
    return {n for n in found if n}


def _trees(candidate: SeriesCandidate) -> set[str]:
    """The bracket tags of its patches (trees such as net-next or -stable,6.1), casefolded."""
    return {
        tag.casefold()
        for subject in (candidate.subject, *candidate.patch_subjects)
        for tag in parse_subject(subject).tags
    }


def _same_trees(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """The same changes for another tree (a backport to 5.15 and to 6.1, a stable AUTOSEL
    copy) are no RESEND; a re-posting that only adds the tree tag ([PATCH] -> [PATCH
    net-next]) still is."""
    mine, theirs = _trees(later), _trees(earlier)
    return not mine or not theirs or mine == theirs


def _same_send(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """Mail of one ``git send-email`` or b4 run (the same Message-ID stem): pieces of one
    posting (a stale cover letter sent along with new patches), never two versions."""
    stem = send_stem(later.message_id)
    return stem is not None and stem == send_stem(earlier.message_id)


def _plausible_successor(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """An explicit link must point back to an older version (or one of the same title)."""
    if later.version > earlier.version:
        return True
    return later.version == earlier.version and later.shares_title(earlier)


@dataclass
class _State:
    by_id: dict[str, SeriesCandidate]
    owner: dict[str, str] = field(default_factory=dict)  # message id -> canonical series id
    previous: dict[str, tuple[str, LinkRule]] = field(default_factory=dict)
    next: dict[str, str] = field(default_factory=dict)


def _pick(candidates: Iterable[SeriesCandidate], state: _State) -> SeriesCandidate | None:
    """Of several possible predecessors, the latest version not yet followed by another."""
    free = [c for c in candidates if c.id not in state.next]
    if not free:
        return None
    return max(free, key=lambda c: (c.version, _when(c), c.id))


def _predecessor(
    current: SeriesCandidate, earlier: Sequence[SeriesCandidate], state: _State
) -> tuple[SeriesCandidate, LinkRule] | None:
    change_id = current.change_id
    if change_id is not None:
        found = _pick((c for c in earlier if c.change_id == change_id), state)
        if found is not None:
            return found, LinkRule.CHANGE_ID

    def by_message_ids(ids: Iterable[str]) -> list[SeriesCandidate]:
        owners = {state.owner[mid] for mid in ids if mid in state.owner}
        owners.discard(current.id)
        return [
            state.by_id[o]
            for o in owners
            if _when(state.by_id[o]) <= _when(current)
            and _plausible_successor(current, state.by_id[o])
            and not _same_send(current, state.by_id[o])
        ]

    replied = [current.in_reply_to] if current.in_reply_to else []
    found = _pick(by_message_ids([*replied, *current.references]), state)
    if found is not None:
        return found, LinkRule.IN_REPLY_TO
    found = _pick(by_message_ids(current.linked_message_ids), state)
    if found is not None:
        return found, LinkRule.LORE_LINK

    by_subject = [
        c
        for c in earlier
        if c.project == current.project
        and c.submitter.same_as(current.submitter)
        # A higher version only: the same title at the same version, with no RESEND tag and
        # no link back, is another series (a maintainer's weekly "fixes" pull request).
        and c.version < current.version
        and _when(c) <= _when(current)
        and _when(current) - _when(c) <= SUBJECT_WINDOW
        and (current.shares_title(c) or _same_summary(current, c))
    ]
    found = _pick(by_subject, state)
    if found is not None and found.version < current.version - 1:
        # v1 "foo", v2 retitled "bar", v3 back to "foo": v3 continues v2, not v1.
        pool = _weak_pool(current, earlier, state)
        closer = _retitled(current, [c for c in pool if c.submitter.same_as(current.submitter)])
        if closer is not None and closer.version > found.version and _when(closer) >= _when(found):
            return closer, LinkRule.CHANGELOG
    if found is not None:
        return found, LinkRule.SUBJECT
    return None


_WORD = re.compile(r"[a-z0-9_]{4,}")
_COMMON_WORDS = frozenset(
    [
        "with",
        "from",
        "when",
        "into",
        "that",
        "this",
        "than",
        "them",
        "they",
        "unused",
        "support",
        "driver",
        "drivers",
        "patch",
        "series",
        "make",
        "more",
        "some",
        "fixes",
    ]
)


def _summary(candidate: SeriesCandidate) -> str:
    """Its title after the subsystem prefixes, if long enough to identify the work."""
    key = candidate.title_key or title_key(parse_subject(candidate.subject).title)
    summary = key.rpartition(": ")[2]
    return summary if len(summary.split()) >= 4 else ""


def _same_summary(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """The same title but for the subsystem prefix ("nf_tables:" -> "nft_objref:"), and a
    file in common ("Add the support of hibernation" is the title of many drivers' patches)."""
    mine = _summary(later)
    return bool(mine) and mine == _summary(earlier) and bool(later.files & earlier.files)


def _summary_words(candidate: SeriesCandidate) -> set[str]:
    """The words of its titles after the subsystem prefixes ("netfilter: nf_tables: …")."""
    words: set[str] = set()
    for key in candidate.title_keys(every_patch=True):
        words.update(_WORD.findall(key.rpartition(": ")[2]))
    return words - _COMMON_WORDS


def _same_slot(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """One patch of a series posted again alone ("[PATCH S23 v2 14/15]" after "[PATCH S23
    01/15]" … "15/15"): the same count of patches, the same tree tags, and its files among
    those the earlier series touched."""
    if not later.partial or later.total != earlier.total or not later.files:
        return False
    return later.files <= earlier.files and _trees(later) == _trees(earlier)


def _same_changes(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """Overlapping work: a patch-id in common, the same slot of the same series, or mostly the
    same files touched and a word of the title in common (one busy file, such as
    nf_tables_api.c, is touched by many series)."""
    if _common_patch_ids(later, earlier):
        return True
    if _same_slot(later, earlier):
        return True
    union = later.files | earlier.files
    if not union or len(later.files & earlier.files) / len(union) < RETITLE_OVERLAP:
        return False
    return bool(_summary_words(later) & _summary_words(earlier))


def _common_patch_ids(later: SeriesCandidate, earlier: SeriesCandidate) -> int:
    return len(set(filter(None, later.patch_ids)) & set(filter(None, earlier.patch_ids)))


def _same_author(later: SeriesCandidate, earlier: SeriesCandidate) -> bool:
    """The earlier version's submitter under another address, or credited by the later one:
    the same display name (two words or more), or the earlier submitter's address in the later
    patches' in-body ``From:``, ``Signed-off-by:`` or ``Co-developed-by:`` (a maintainer
    re-spinning a contributor's patch keeps them; so does a colleague taking a series over)."""
    if later.submitter.same_as(earlier.submitter):
        return False
    name = earlier.submitter.name_key
    if len(name.split()) >= 2 and name == later.submitter.name_key:
        return True
    return earlier.submitter.email_known and earlier.submitter.email in later.credits


def _unique_best(
    fits: list[SeriesCandidate], key: Callable[[SeriesCandidate], object]
) -> SeriesCandidate | None:
    """The one best fit, or None when two tie (too weak to choose)."""
    if not fits:
        return None
    best = max(key(c) for c in fits)  # type: ignore[type-var]
    top = [c for c in fits if key(c) == best]
    return top[0] if len(top) == 1 else None


def _retitled(current: SeriesCandidate, pool: Sequence[SeriesCandidate]) -> SeriesCandidate | None:
    """A retitled version: a changelog naming the earlier version, and overlapping patch-ids,
    slot or touched files; only when exactly one series of the latest such version fits.
    ``pool`` holds the earlier, free series of the same list and of an acceptable person."""
    named = current.changelog_versions
    if not named:
        return None
    fits = [c for c in pool if c.version in named and _same_changes(current, c)]
    return _unique_best(fits, lambda c: c.version)


def _same_patch(
    current: SeriesCandidate, pool: Sequence[SeriesCandidate]
) -> SeriesCandidate | None:
    """A higher version carrying a patch unchanged (the same git patch-id) from an earlier
    series: the one sharing most patches, then the latest version; None on a tie."""
    fits = [c for c in pool if _common_patch_ids(current, c)]
    return _unique_best(fits, lambda c: (_common_patch_ids(current, c), c.version))


def _weak_pool(
    current: SeriesCandidate, earlier: Sequence[SeriesCandidate], state: _State
) -> list[SeriesCandidate]:
    """Earlier series a weak rule may link: same list, lower version, nothing continues them
    yet, posted before and within :data:`SUBJECT_WINDOW`."""
    return [
        c
        for c in earlier
        if c.project == current.project
        and c.version < current.version
        and c.id not in state.next
        and _when(c) <= _when(current)
        and _when(current) - _when(c) <= SUBJECT_WINDOW
    ]


def _weak_predecessor(
    current: SeriesCandidate, earlier: Sequence[SeriesCandidate], state: _State
) -> tuple[SeriesCandidate, LinkRule] | None:
    """The rules without an explicit link or the same title from the same address, strongest
    first: another address of the same author with the same title; a changelog with
    overlapping changes; an unchanged patch; another address of the same author with either."""
    pool = _weak_pool(current, earlier, state)
    mine = [c for c in pool if c.submitter.same_as(current.submitter)]
    others = [c for c in pool if _same_author(current, c)]
    titled = [c for c in others if current.shares_title(c) or _same_summary(current, c)]
    found = _pick(titled, state)
    if found is not None:
        return found, LinkRule.SAME_AUTHOR
    found = _retitled(current, mine)
    if found is not None:
        return found, LinkRule.CHANGELOG
    found = _same_patch(current, mine)
    if found is not None:
        return found, LinkRule.PATCH_ID
    found = _retitled(current, others) or _same_patch(current, others)
    if found is not None:
        return found, LinkRule.SAME_AUTHOR
    return None


def link_versions(candidates: Iterable[SeriesCandidate]) -> VersionLinks:
    """Link the versions of each series; see the module docstring for the rules."""
    ordered = sorted(candidates, key=lambda c: (_when(c), c.version, c.id))
    state = _State(by_id={c.id: c for c in ordered})
    resend_of: dict[str, str] = {}
    canonical: list[SeriesCandidate] = []
    for current in ordered:
        original = next((c for c in reversed(canonical) if _is_resend(current, c)), None)
        if original is not None:
            resend_of[current.id] = original.id
            for mid in current.message_ids:
                state.owner.setdefault(mid, original.id)
            continue
        earlier = [c for c in canonical if _when(c) <= _when(current)]
        found = _predecessor(current, earlier, state)
        if found is not None:
            previous, rule = found
            state.previous[current.id] = (previous.id, rule)
            state.next[previous.id] = current.id
        canonical.append(current)
        for mid in current.message_ids:
            state.owner.setdefault(mid, current.id)
    # The weak rules last, once every explicit link and title has had its say: they take only
    # a predecessor that nothing else continues.
    for current in canonical:
        if current.id in state.previous:
            continue
        earlier = [c for c in canonical if c.id != current.id and _when(c) <= _when(current)]
        weak = _weak_predecessor(current, earlier, state)
        if weak is not None:
            state.previous[current.id] = (weak[0].id, weak[1])
            state.next[weak[0].id] = current.id
    return _chains(canonical, state, resend_of)


def _chains(
    canonical: list[SeriesCandidate], state: _State, resend_of: dict[str, str]
) -> VersionLinks:
    """The links found, as chains from their heads; every older version superseded."""
    resends: dict[str, list[str]] = {}
    for resend, original_id in resend_of.items():
        resends.setdefault(original_id, []).append(resend)
    chains: list[VersionChain] = []
    superseded_by: dict[str, str] = {}
    unlinked: list[str] = []
    for candidate in canonical:
        if candidate.id in state.previous:
            continue  # not a chain head
        ids = [candidate.id]
        while ids[-1] in state.next:
            ids.append(state.next[ids[-1]])
        if len(ids) == 1:
            unlinked.append(candidate.id)
            continue
        links = []
        for position, series_id in enumerate(ids):
            link_rule: LinkRule | None = state.previous[series_id][1] if position else None
            links.append(
                ChainLink(
                    series_id=series_id,
                    version=state.by_id[series_id].version,
                    rule=link_rule,
                    resends=tuple(resends.get(series_id, ())),
                )
            )
            if position + 1 < len(ids):
                for older in (series_id, *resends.get(series_id, ())):
                    superseded_by[older] = ids[position + 1]
        chains.append(VersionChain(links=tuple(links)))
    return VersionLinks(
        chains=tuple(chains),
        superseded_by=superseded_by,
        resend_of=resend_of,
        unlinked=tuple(unlinked),
    )

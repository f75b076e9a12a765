# SPDX-License-Identifier: GPL-2.0-or-later
"""Range-diffs of stored series: the patch mails the store holds, paired by intel/rangediff.py.

Review-intel calls :func:`range_diffs_for_chain` once per chain it links and stores what was
not stored yet (or was incomplete: a patch mail arrived since); the API reads the stored one
and, for a pair of versions review-intel does not store (``?against=`` an older version),
builds it with :func:`build_range_diff` on the spot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from lkml_assistant.intel.rangediff import RangePatch, changelog_of, notes_changelog, range_diff
from lkml_assistant.models.domain import Patch, Series
from lkml_assistant.models.rangediff import RangeDiffRecord
from lkml_assistant.models.records import SeriesLink, StoredMessage
from lkml_assistant.repositories.base import PatchQuery, Store
from lkml_assistant.services.mail_index import MailIndex

MessageOf = Callable[[str], StoredMessage | None]


def ordered_patches(series: Series, patches: Sequence[Patch]) -> list[Patch]:
    """A series' patches in their order (Patchwork's patch list, then date)."""
    order = {pid: n for n, pid in enumerate(series.patch_ids)}
    return sorted(patches, key=lambda p: (order.get(p.id, len(order)), p.date, p.id))


def version_patches(
    series: Series, patches: Sequence[Patch], message_of: MessageOf
) -> tuple[list[RangePatch], bool]:
    """The range-diff patches of one version, and whether every patch mail was stored."""
    out: list[RangePatch] = []
    complete = True
    for patch in ordered_patches(series, patches):
        mail = message_of(patch.msgid)
        if mail is None:
            complete = False
            continue
        author = f"{mail.author_name} <{mail.author_email}>"
        subject = mail.subject or patch.name
        out.append(RangePatch.from_mail(patch.msgid, subject, mail.body, author=author))
    if series.total and len(patches) < series.total:
        complete = False
    return out, complete


def build_range_diff(
    new: tuple[Series, Sequence[Patch]],
    old: tuple[Series, Sequence[Patch]],
    message_of: MessageOf,
) -> RangeDiffRecord:
    """The range-diff of ``new`` against ``old``, each a series with its stored patches."""
    new_series, new_patches = new
    old_series, old_patches = old
    after, complete_after = version_patches(new_series, new_patches, message_of)
    before, complete_before = version_patches(old_series, old_patches, message_of)
    cover = message_of(new_series.cover_letter.msgid) if new_series.cover_letter else None
    changelog = changelog_of(cover.body) if cover is not None else notes_changelog(after)
    return RangeDiffRecord(
        series_id=new_series.id,
        against_id=old_series.id,
        project=new_series.project,
        version=new_series.version,
        against_version=old_series.version,
        pairs=range_diff(before, after),
        changelog=changelog,
        complete=complete_after and complete_before,
    )


def range_diffs_for_chain(
    store: Store,
    links: Sequence[SeriesLink],
    series: Mapping[int, Series],
    patches: Mapping[int, Sequence[Patch]],
    message_of: MessageOf,
) -> tuple[list[RangeDiffRecord], int]:
    """The range-diffs of each version against the previous one that are not stored yet, or
    were stored incomplete (some patch mail was missing then); and how many were stored
    complete already (not computed again)."""
    wanted = [
        (link.series_id, link.previous_id)
        for link in links
        if link.previous_id is not None and link.resend_of is None
    ]
    stored = store.range_diffs.range_diff_states(wanted)
    out: list[RangeDiffRecord] = []
    done = 0
    for series_id, previous_id in wanted:
        if stored.get((series_id, previous_id)):
            done += 1
            continue
        new, old = series.get(series_id), series.get(previous_id)
        if new is None or old is None:
            continue
        out.append(
            build_range_diff(
                (new, patches.get(series_id, ())), (old, patches.get(previous_id, ())), message_of
            )
        )
    return out, done


def series_patches(store: Store, series: Series) -> list[Patch]:
    """The stored patches of one series (those Patchwork listed, else by series filter)."""
    found = store.patches.get_patches(series.patch_ids)
    if found:
        return list(found.values())
    return store.patches.page_patches(PatchQuery(series_id=series.id), limit=1000)


def range_diff_from_store(store: Store, new: Series, old: Series) -> RangeDiffRecord:
    """Build a range-diff from what the store holds, without storing it."""
    mail = MailIndex(store)
    return build_range_diff(
        (new, series_patches(store, new)), (old, series_patches(store, old)), mail.message
    )

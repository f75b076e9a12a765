# SPDX-License-Identifier: GPL-2.0-or-later
"""Version links from a posting's own words, on real mail of the bulk list slices (issue 12).

Each test picks the few messages of one story out of a slice by Message-ID, groups them with
``candidates_from_mail`` and links them; the facts asserted were read in the mail.
"""

from __future__ import annotations

import re
from functools import cache

from lkml_assistant.intel.subjects import title_key
from lkml_assistant.intel.version_notes import (
    changelog_versions,
    notes_text,
    predecessor_message_ids,
)
from lkml_assistant.intel.versions import (
    LinkRule,
    VersionLinks,
    candidates_from_mail,
    link_versions,
)
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import parse_message
from tests.corpus import corpus_path, mbox_messages

_MESSAGE_ID = re.compile(rb"^message-id:\s*<([^>]+)>", re.IGNORECASE | re.MULTILINE)


@cache
def _by_id(name: str) -> dict[str, bytes]:
    path = corpus_path("mbox", "linux-mailinglist-archives", f"{name}.mbox.gz")
    out: dict[str, bytes] = {}
    for raw in mbox_messages(path):
        found = _MESSAGE_ID.search(raw[: raw.find(b"\n\n")])
        if found is not None:
            out.setdefault(found.group(1).decode("ascii", "replace"), raw)
    return out


def mail(name: str, *ids: str) -> list[MailMessage]:
    index = _by_id(name)
    return [parse_message(index[i]) for i in ids]


def link(name: str, *ids: str) -> VersionLinks:
    return link_versions(candidates_from_mail(mail(name, *ids), name))


def previous(links: VersionLinks, series_id: str) -> tuple[str, LinkRule | None] | None:
    chain = links.chain_of(series_id)
    if chain is None or series_id not in chain.series_ids:
        return None
    position = chain.series_ids.index(series_id)
    if position == 0:
        return None
    return chain.series_ids[position - 1], chain.links[position].rule


PWM, HYPERV, NETFILTER, IWL = (
    "linux-pwm-2023-2024",
    "linux-hyperv-2019-2020",
    "netfilter-devel-2025",
    "intel-wired-lan-2019",
)


# --- 1. version links in a single patch, without a cover letter ---------------------------


def test_single_patch_b4_notes_link_it_to_its_predecessor_series() -> None:
    # Lorenzo Bianconi's v10 is the one pwm patch left of the 6-patch v9; its notes below
    # "---" say "Link to v9: https://lore.kernel.org/r/<v9 cover>" and b4's change-id follows
    # the diff. The titles differ, so nothing else links them.
    v9 = "20241023-en7581-pinctrl-v9-0-afb0cbcab0ec@kernel.org"
    v10 = "20241103-en7581-pinctrl-v10-1-1990fb6996a0@kernel.org"
    links = link(PWM, v9, v10)
    assert previous(links, v10) == (v9, LinkRule.CHANGE_ID)
    notes = notes_text(mail(PWM, v10)[0].body)
    assert v9 in predecessor_message_ids(notes, cover=False)


def test_squashed_single_patch_v2_follows_its_20_patch_v1() -> None:
    # Luca Ceresoli squashed "[PATCH 00/20] Simplify of_property_for_each_u32()" into one
    # patch; v2's notes: "- Link to v1: https://lore.kernel.org/r/<v1 cover>".
    v1 = "20240703-of_property_for_each_u32-v1-0-42c1fc0b82aa@bootlin.com"
    v2 = "20240717-of_property_for_each_u32-v2-1-4060990f49c9@bootlin.com"
    assert previous(link(PWM, v1, v2), v2) == (v1, LinkRule.CHANGE_ID)


def test_scheme_less_v1_link_in_a_single_patch() -> None:
    # Dmitry Safonov's PATCHv2 was retitled; its notes say "v1 link: lkml.kernel.org/r/<v1>".
    v1 = "20190611212003.26382-1-dima@arista.com"
    v2 = "20190617163955.25659-1-dima@arista.com"
    assert previous(link(HYPERV, v1, v2), v2) == (v1, LinkRule.LORE_LINK)


def test_commit_message_link_trailer_is_no_version_link() -> None:
    # Florian Westphal's v2 has "Link: <the June 0/4>" among its trailers: a discussion it
    # fixes, not a changelog entry naming an earlier version.
    body = mail(NETFILTER, "20250716183917.7309-1-fw@strlen.de")[0].body
    assert predecessor_message_ids(notes_text(body), cover=False) == ()


# --- 2. a lore link is a predecessor only in a version context ------------------------------


def test_dependency_links_in_a_cover_are_not_predecessors() -> None:
    # Uwe Kleine-König's v4 000/115 cover: "This series is based on ..." and four lore links to
    # the series it depends on, among them a one-patch "pwm: crc" cleanup. Before, v4 was
    # chained after that cleanup (and the cleanup marked superseded); v4 continues v3.
    v3 = "20231121134901.208535-1-u.kleine-koenig@pengutronix.de"
    crc = "20231130074133.969806-1-u.kleine-koenig@pengutronix.de"
    v4 = "cover.1701860672.git.u.kleine-koenig@pengutronix.de"
    cover = mail(PWM, v4)[0].body
    assert crc not in predecessor_message_ids(cover)
    links = link(PWM, v3, crc, v4)
    assert previous(links, v4) == (v3, LinkRule.SUBJECT)
    assert crc not in links.superseded_by


def test_numbered_reference_to_someone_elses_patch_is_no_predecessor() -> None:
    # Alexander Duyck's v2 0/2 cites "[1]: <link>" to the report patch of another author;
    # its v1 is his own 0/2 of three days before.
    theirs = "1570121672-12172-1-git-send-email-zdai@linux.vnet.ibm.com"
    v1 = "20191008210639.4575.44144.stgit@localhost.localdomain"
    v2 = "20191011153219.22313.60179.stgit@localhost.localdomain"
    assert previous(link(IWL, theirs, v1, v2), v2) == (v1, LinkRule.SUBJECT)


def test_numbered_reference_cited_for_a_version_counts() -> None:
    # "This is a follow-up on the RFC submission [1]" ... "[1] https://lkml.kernel.org/r/<rfc>"
    rfc = "20200325225505.23998-1-parri.andrea@gmail.com"
    cover = mail(HYPERV, "20200406001514.19876-1-parri.andrea@gmail.com")[0].body
    assert predecessor_message_ids(cover) == (rfc,)


# --- 3. retitled series ---------------------------------------------------------------------


def test_retitled_series_linked_by_its_changelog_and_files() -> None:
    # Michael Kelley's v4 "Drivers: hv: Move Hyper-V clock/timer code to separate clocksource
    # driver" became v5 "clocksource/drivers: Create new Hyper-V clocksource driver"
    # ("Changes in v5:", the same files, no link).
    v4 = [f"1561746758-23216-{n}-git-send-email-mikelley@microsoft.com" for n in (1, 2, 3)]
    v5 = [f"1561955054-1838-{n}-git-send-email-mikelley@microsoft.com" for n in (1, 2, 3)]
    links = link(HYPERV, *v4, *v5)
    assert previous(links, v5[0]) == (v4[0], LinkRule.CHANGELOG)
    assert 4 in changelog_versions(mail(HYPERV, v5[0])[0].body)


def test_same_file_and_a_changelog_are_not_enough_without_a_common_word() -> None:
    # Florian Westphal's "v2: rename attributes" patch touches nf_tables_api.c, as does his
    # unrelated v1 "don't unregister hook when table is dormant" of a week before.
    other = "20250401123651.29379-1-fw@strlen.de"
    v2 = "20250408135556.21431-1-fw@strlen.de"
    assert previous(link(NETFILTER, other, v2), v2) is None


def test_v3_back_to_the_v1_title_continues_the_retitled_v2() -> None:
    # "src: add refcount asserts" v1, "src: add and use refcount assert helper" v2 ("v2: Use a
    # generic helper"), "src: add refcount asserts" v3: v1 -> v2 -> v3, not v1 -> v3.
    v1 = "20251017081355.23152-1-fw@strlen.de"
    v2 = "20251020072937.1938-1-fw@strlen.de"
    v3 = "20251023121932.12812-1-fw@strlen.de"
    links = link(NETFILTER, v1, v2, v3)
    assert previous(links, v2) == (v1, LinkRule.CHANGELOG)
    assert previous(links, v3) == (v2, LinkRule.CHANGELOG)


# --- 4. the last version a single patch; titles that differ by () or quotes --------------------


def test_chain_reaches_the_single_patch_v10() -> None:
    v8 = "20241018-en7581-pinctrl-v8-0-b676b966a1d1@kernel.org"
    v9 = "20241023-en7581-pinctrl-v9-0-afb0cbcab0ec@kernel.org"
    v10 = "20241103-en7581-pinctrl-v10-1-1990fb6996a0@kernel.org"
    chain = link(PWM, v8, v9, v10).chain_of(v8)
    assert chain is not None
    assert chain.series_ids == (v8, v9, v10)


def test_titles_differing_by_parentheses_or_quotes_compare_equal() -> None:
    # Real subjects of the pwm and hyperv slices; a re-post dropping the "()" or the quotes
    # names the same work. (The slices hold no such pair; the variants are written here.)
    assert title_key("pwm: add missing MODULE_DESCRIPTION() macros") == title_key(
        "pwm: add missing MODULE_DESCRIPTION macros"
    )
    assert title_key('x86/hyperv: Set pv_info.name to "Hyper-V"') == title_key(
        "x86/hyperv: Set pv_info.name to Hyper-V"
    )


# --- 5. a broken send re-posted under the same version ----------------------------------------


def test_broken_send_reposted_under_the_same_version_is_one_posting() -> None:
    # Heiner Kallweit's "[PATCH v5 0/6]": only patches 4-6 went out with the cover; 1-3 came
    # again as "[PATCH v5 RESEND n/6]", threaded to that cover. One v5, not four series (and
    # RESEND 1/6 is no v5 of the earlier single patch of its title).
    cover = "aa498590-261c-4ada-63ff-8d7aaeec0932@gmail.com"
    sent = [
        "63e33220-0765-0e04-ef34-fea81e8fa347@gmail.com",
        "db973d29-1b8d-85f8-5e81-88e200def596@gmail.com",
        "8970e813-1fd8-edbd-afe0-7ebf94b31044@gmail.com",
    ]
    again = [
        "2f376c8b-32a9-a3a7-3454-4a864ab8ab44@gmail.com",
        "404a7747-298c-683f-e32c-5f009fff744f@gmail.com",
        "c6d59480-df25-9244-82ec-fcd26dbe5022@gmail.com",
    ]
    v3_single = "23fe625e-dc23-4db8-3dce-83167cd3b206@gmail.com"
    links = link(PWM, v3_single, cover, *sent, *again)
    assert {links.resend_of.get(r) for r in again} == {cover}
    assert previous(links, again[0]) is None


def test_repost_tag_and_link_fold_into_the_original() -> None:
    # Jakub Kicinski's "[PATCH net repost]" with "v1: <link>": the same patch again.
    v1 = "20251002015245.3209033-1-kuba@kernel.org"
    repost = "20251003205736.1019673-1-kuba@kernel.org"
    assert link(NETFILTER, v1, repost).resend_of == {repost: v1}

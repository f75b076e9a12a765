# SPDX-License-Identifier: GPL-2.0-or-later
"""Version links from a posting's own words, on real mail of the bulk list slices (issue 12).

Each test picks the few messages of one story out of a slice by Message-ID, groups them with
``candidates_from_mail`` and links them; the facts asserted were read in the mail.
"""

from __future__ import annotations

import re
from functools import cache

from lkml_assistant.intel.subjects import title_key
from lkml_assistant.intel.version_candidates import candidates_from_mail
from lkml_assistant.intel.version_notes import (
    changelog_versions,
    credited_addresses,
    notes_text,
    predecessor_message_ids,
    send_stem,
)
from lkml_assistant.intel.versions import LinkRule, VersionLinks, link_versions
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


def send(name: str, prefix: str) -> list[str]:
    """Message-IDs of one git send-email run: ``<stem>-<n>-<address>`` for every n."""
    return sorted(i for i in _by_id(name) if i.startswith(prefix))


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


# --- versions posted by someone else, or from another address ----------------------------------


def test_maintainer_respin_of_a_contributors_patch_is_linked() -> None:
    # Gustavo A. R. Silva's "[PATCH][next] iavf: use struct_size() helper"; six weeks later
    # Jeff Kirsher posts "[next v2]" of it ("v2: Fixed up patch to apply cleanly"), keeping
    # Gustavo's in-body From: and Signed-off-by. The patch-ids differ (rebased).
    v1 = "20190501171759.GA3494@embeddedor"
    v2 = "20190614232320.9752-1-jeffrey.t.kirsher@intel.com"
    assert "gustavo@embeddedor.com" in credited_addresses(notes_text(mail(IWL, v2)[0].body))
    assert previous(link(IWL, v1, v2), v2) == (v1, LinkRule.SAME_AUTHOR)


def test_series_taken_over_by_a_colleague_is_linked() -> None:
    # Andrea Parri continues Andres Beltran's "vmbus_requestor data structure" v6 as v7, six
    # weeks later, with the same cover title; the patches keep Andres's From: and
    # Signed-off-by.
    v6 = send(HYPERV, "20200722223904.2801-")
    v7 = send(HYPERV, "20200907161920.71460-")
    links = link(HYPERV, *v6, *v7)
    assert previous(links, v7[0]) == (v6[0], LinkRule.SAME_AUTHOR)


def test_same_author_from_another_address_and_no_changelog_skip() -> None:
    # Chi Song sent v1 ("RX/TX indirection table") and v3 from song.chi@microsoft.com, but
    # v2 (the same title as v3) from chisong@linux.microsoft.com. Before, v3 skipped v2 and
    # was chained to v1 by its changelog; v3 follows v2, v2 follows v1.
    v1 = "HK0P153MB027502644323A21B09F6DA60987C0@HK0P153MB0275.APCP153.PROD.OUTLOOK.COM"
    v2 = (
        "alpine.LRH.2.23.451.2007192357400.30908@linuxonhyperv3.guj3yctzbm1etfxqx2vob5hsef.xx.inter"
    )
    v3 = "HK0P153MB0275B086FDE4B26D39E41059987B0@HK0P153MB0275.APCP153.PROD.OUTLOOK.COM"
    links = link(HYPERV, v1, v2, v3)
    assert previous(links, v3) == (v2, LinkRule.SAME_AUTHOR)
    assert previous(links, v2) == (v1, LinkRule.SAME_AUTHOR)


def test_someone_else_with_the_same_title_but_not_credited_stays_apart() -> None:
    # Kevin Laatz's "[PATCH bpf-next] i40e: fix xdp handle calculations" and, a week later,
    # Ciara Loftus's "[PATCH bpf-next v2 0/3] AF_XDP fixes ...", whose 1/3 has that title:
    # her own fix (another diff), crediting Kevin nowhere. Not one work.
    kevin = "20190905011144.3513-1-kevin.laatz@intel.com"
    ciara = send(IWL, "20190913103948.32053-")
    assert previous(link(IWL, kevin, *ciara), ciara[0]) is None
    # Florian Westphal's v1 and Pablo Neira's v2 of "nf_tables: don't unregister hook when
    # table is dormant" keep Florian's authorship: linked.
    fw = "20250401123651.29379-1-fw@strlen.de"
    pablo = "20250402113427.53530-1-pablo@netfilter.org"
    assert previous(link(NETFILTER, fw, pablo), pablo) == (fw, LinkRule.SAME_AUTHOR)


# --- an unchanged patch, and one slot of a series ----------------------------------------------


def test_unchanged_patch_links_a_retitled_v2_without_changelog() -> None:
    # Radoslaw Tyl's "ixgbevf: Removing limit of 10 entries ..." and, five hours later,
    # "[PATCH v2] ixgbevf: Remove limit ...": no changelog, the very same diff (patch-id).
    v1 = "20191125095533.40157-1-radoslawx.tyl@intel.com"
    v2 = "20191125142452.21819-1-radoslawx.tyl@intel.com"
    assert previous(link(IWL, v1, v2), v2) == (v1, LinkRule.PATCH_ID)


# --- one send is one posting -------------------------------------------------------------------


def test_stale_template_cover_and_its_v5_patches_are_one_posting() -> None:
    # Antoniu Miclaus sent an old "[PATCH 0/7] *** Add support for AD485x DAS Family ***"
    # template with "[PATCH v5 n/6]" in one git send-email run. Before, every patch was a
    # series of its own, and v5 1/6 was chained "in reply to" that cover as a later version.
    v4 = send(PWM, "20241018104210.51659-")
    v5 = send(PWM, "20241101112358.22996-")
    assert send_stem(v5[0]) == send_stem(v5[-1]) != send_stem(v4[0])
    candidates = candidates_from_mail(mail(PWM, *v4, *v5), PWM)
    assert len(candidates) == 2
    v5_series = next(c for c in candidates if c.id == v5[0])
    assert v5_series.version == 5
    assert len(v5_series.patch_message_ids) == 6
    links = link_versions(candidates)
    assert previous(links, v5[0]) == (v4[0], LinkRule.SUBJECT)


def test_pull_request_cover_with_untagged_patches_is_one_series() -> None:
    # Pablo Neira's "[PATCH net-next,v2 00/14] Netfilter updates for net-next" and its
    # "[PATCH net-next 01/14]" … "14/14": one send, one series (before: fifteen).
    pr = send(NETFILTER, "20250119172051.8261-")
    candidates = candidates_from_mail(mail(NETFILTER, *pr), NETFILTER)
    assert [(c.id, c.version, len(c.patch_message_ids)) for c in candidates] == [(pr[0], 2, 14)]


def test_patches_answering_an_old_posting_join_their_own_sends_cover() -> None:
    # ep93xx: "[PATCH v1 00/43]" of June 1 and its "v1 15/43", "v1 16/43", sent in reply to
    # the April "[PATCH 00/43]". Before, the June patches were grouped into the April posting.
    april = "20230424123522.18302-1-nikita.shubin@maquefel.me"
    april_patch = "20230424123522.18302-16-nikita.shubin@maquefel.me"
    june = send(PWM, "20230601053546.9574-")
    candidates = {c.id: c for c in candidates_from_mail(mail(PWM, april, april_patch, *june), PWM)}
    assert set(candidates[june[0]].patch_message_ids) == set(june[1:])
    assert candidates[april].patch_message_ids == (april_patch,)


def test_missing_patch_sent_alone_right_after_completes_the_send() -> None:
    # Tony Nguyen's "[PATCH S23 v2 01/15]" send carried 14 of 15 patches; 16 seconds later
    # "v2 14/15" went out alone, unthreaded: one v2 posting, not a later version of v1.
    v2 = send(IWL, "20190628150332.59155-")
    missing = "20190628150348.59202-1-anthony.l.nguyen@intel.com"
    links = link(IWL, *v2, missing)
    assert links.resend_of == {missing: v2[0]}

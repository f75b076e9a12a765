# SPDX-License-Identifier: GPL-2.0-or-later
"""Version chains, supersession and review status over whole real threads from the corpus.

The expected values were established by reading the mail; each is written as a fact about
the thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest

from lkml_assistant.intel.status import (
    SeriesStatus,
    chain_status,
    evidence_from_thread,
    series_status,
    threads_by_message,
)
from lkml_assistant.intel.threads import build_threads
from lkml_assistant.intel.version_candidates import SeriesCandidate, candidates_from_mail
from lkml_assistant.intel.versions import LinkRule, VersionLinks, link_versions
from lkml_assistant.models.review import ReviewStatus
from lkml_assistant.sources.mail import parse_message
from tests.corpus import mbox_messages, threads_path

SUPERSEDED = ReviewStatus.SUPERSEDED
SUBJECT, IRT, LORE = LinkRule.SUBJECT, LinkRule.IN_REPLY_TO, LinkRule.LORE_LINK


@dataclass(frozen=True)
class Analysed:
    candidates: dict[str, SeriesCandidate]
    links: VersionLinks
    statuses: dict[str, SeriesStatus]


@cache
def analyse(name: str) -> Analysed:
    messages = [parse_message(raw) for raw in mbox_messages(threads_path(name))]
    candidates = candidates_from_mail(messages, "test-list")
    links = link_versions(candidates)
    index = threads_by_message(build_threads(messages))
    evidence = {c.id: evidence_from_thread(c, index[c.message_id]) for c in candidates}
    statuses: dict[str, SeriesStatus] = {}
    for chain in links.chains:
        for status in chain_status(chain, evidence):
            statuses[status.series_id] = status
    for series_id in links.unlinked:
        statuses[series_id] = series_status(evidence[series_id])
    return Analysed({c.id: c for c in candidates}, links, statuses)


def chain_with(result: Analysed, message_id: str) -> list[tuple[int, LinkRule | None, str]]:
    chain = result.links.chain_of(message_id)
    assert chain is not None, f"{message_id} is in no chain"
    return [(link.version, link.rule, link.series_id) for link in chain.links]


def test_th1520_v1_v2_v3_linked_by_subject_and_v3_reviewed_by_uwe() -> None:
    result = analyse("pwm-th1520-v1-v3.mbox")
    v1 = "20230928170254.413-1-jszhang@kernel.org"
    v2 = "20231004092731.1362-1-jszhang@kernel.org"
    v3 = "20231005130519.3864-1-jszhang@kernel.org"
    # The covers neither answer each other nor link the older version: the title decides.
    assert chain_with(result, v1) == [(1, None, v1), (2, SUBJECT, v2), (3, SUBJECT, v3)]
    assert result.links.superseded_by == {v1: v2, v2: v3}
    assert [result.statuses[s].status for s in (v1, v2)] == [SUPERSEDED, SUPERSEDED]
    # v3: Uwe Kleine-König gave a Reviewed-by on the driver patch, the binding got replies only.
    v3_status = result.statuses[v3]
    assert v3_status.counts[ReviewStatus.REVIEWED] == 1
    assert v3_status.status is ReviewStatus.IN_DISCUSSION
    assert any("Kleine-K" in t.given_by_name for p in v3_status.patches for t in p.reviews)
    # v2's binding patch had Rob Herring's review: superseded still wins over reviewed.
    assert any(
        t.given_by_name == "Rob Herring" for p in result.statuses[v2].patches for t in p.reviews
    )


def test_ma35d1_resend_of_v2_is_not_a_version_and_v2_was_nacked() -> None:
    result = analyse("pwm-ma35d1-v1-v3-resend-nak.mbox")
    v1 = "20241018034857.568-1-cwweng.linux@gmail.com"
    v2 = "20241023111841.158049-1-cwweng.linux@gmail.com"
    resend = "20241024104309.169510-1-cwweng.linux@gmail.com"
    v3 = "20241206085501.2623772-1-cwweng.linux@gmail.com"
    assert chain_with(result, v1) == [(1, None, v1), (2, SUBJECT, v2), (3, SUBJECT, v3)]
    assert result.links.resend_of == {resend: v2}
    assert result.links.superseded_by[resend] == v3
    # Krzysztof Kozlowski answered v2's binding with "NAK." (and superseded wins in v2's status).
    naks = [t.given_by_name for p in result.statuses[v2].patches for t in p.naks]
    assert naks == ["Krzysztof Kozlowski"]
    assert result.statuses[v2].status is SUPERSEDED
    # v3: Trevor Gamblin reviewed the driver; the binding has no trailer: not every patch.
    assert result.statuses[v3].status is ReviewStatus.IN_DISCUSSION
    assert result.statuses[v3].counts[ReviewStatus.REVIEWED] == 1


def test_axi_pwmgen_suffix_versions_chain_through_changelog_links() -> None:
    result = analyse("pwm-axi-pwmgen-v1-v6-suffix-version.mbox")
    ids = {
        1: "20240115201222.1423626-1-tgamblin@baylibre.com",
        2: "20240123220515.279439-1-tgamblin@baylibre.com",
        3: "20240131214042.1335251-1-tgamblin@baylibre.com",
        4: "20240301173343.1086332-1-tgamblin@baylibre.com",
        5: "20240424125850.4189116-1-tgamblin@baylibre.com",
        6: "20240605165644.3221716-1-tgamblin@baylibre.com",
    }
    resend = "20240605203507.1934434-1-tgamblin@baylibre.com"
    # [PATCH 0/2 v3]: the version after the numbering. v2-v4 and v6 link the previous version
    # on lore in their changelog; v5's changelog does not, so its title links it.
    assert chain_with(result, ids[1]) == [
        (1, None, ids[1]),
        (2, LORE, ids[2]),
        (3, LORE, ids[3]),
        (4, LORE, ids[4]),
        (5, SUBJECT, ids[5]),
        (6, LORE, ids[6]),
    ]
    # "[RESEND][PATCH 0/2 v6]" the same day, patches without the RESEND tag: a resend of v6.
    assert result.links.resend_of == {resend: ids[6]}
    assert len(result.candidates[resend].patch_message_ids) == 2
    assert result.links.unlinked == ()
    # Krzysztof Kozlowski reviewed the v2 binding; v3 reposted it unchanged: carried from v2.
    carried = [c for p in result.statuses[ids[3]].patches for c in p.carried]
    assert [(c.trailer.name, c.from_version) for c in carried] == [("Krzysztof Kozlowski", 2)]
    assert result.statuses[ids[6]].status is ReviewStatus.UNREVIEWED


def test_u64_resends_reusing_message_ids_make_no_phantom_versions() -> None:
    result = analyse("pwm-u64-period-v1-v7-resend.mbox")
    chain = chain_with(result, "1571191899-6150-1-git-send-email-gurus@codeaurora.org")
    # v1 … v13 with v12 never on this list; from v8 on only the last patch reached it.
    assert [version for version, _, _ in chain] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert {rule for _, rule, _ in chain[1:]} == {SUBJECT}
    v3 = "cover.1573851299.git.gurus@codeaurora.org"
    # The first "RESEND PATCH v3" reuses the v3 cover's Message-ID, the second has a new one.
    assert result.links.resend_of == {
        f"{v3}#2": v3,
        "cover.1575501920.git.gurus@codeaurora.org": v3,
        "cover.1581533161.git.gurus@codeaurora.org": "cover.1579896984.git.gurus@codeaurora.org",
        "cover.1582573840.git.gurus@codeaurora.org": "cover.1581706694.git.gurus@codeaurora.org",
        "cover.1583177501.git.gurus@codeaurora.org": "cover.1581706694.git.gurus@codeaurora.org",
    }
    statuses = [result.statuses[series_id].status for _, _, series_id in chain]
    # Thierry Reding answered v1 "Applied, thanks." (it was dropped again later, hence v2 …
    # v13): an 'applied' reply from someone else makes it accepted, whatever came after.
    assert statuses[0] is ReviewStatus.ACCEPTED
    v1_patch = result.statuses[chain[0][2]].patches[0]
    assert v1_patch.applied is not None
    assert v1_patch.applied.by_email == "thierry.reding@gmail.com"
    assert statuses[1:-1] == [SUPERSEDED] * 10
    # v13 11/11 got Uwe Kleine-König's Acked-by.
    assert statuses[-1] is ReviewStatus.REVIEWED
    # v1's Reviewed-by from Uwe carries to v5's patch only where the diff is unchanged.
    v5 = result.statuses["cover.1579896984.git.gurus@codeaurora.org"]
    assert {c.from_version for p in v5.patches for c in p.carried} == {1}


def test_aspeed_no_patch_word_two_runs_and_naks_on_the_second() -> None:
    result = analyse("aspeed-pwm-tach-no-patch-prefix-nak.mbox.gz")
    first = chain_with(result, "20210414104939.1093-1-billy_tsai@aspeedtech.com")
    # "[v2 0/2]" … "[v14 0/2]" (2021) have no "PATCH": the title links them.
    assert [v for v, _, _ in first] == list(range(2, 15))
    second = chain_with(result, "20221101095156.30591-1-billy_tsai@aspeedtech.com")
    # In 2022 the numbering restarts at v2 with another title ("upport pwm/tach …"): a new
    # chain, whose v3 is linked by the shared patch-1 title.
    assert [v for v, _, _ in second] == [2, 3, 4, 5, 6]
    v6 = "20230608021839.12769-1-billy_tsai@aspeedtech.com"
    assert result.statuses[v6].status is ReviewStatus.CHANGES_REQUESTED
    naks = {t.given_by_name for p in result.statuses[v6].patches for t in p.naks}
    assert naks == {"Krzysztof Kozlowski"}
    # Uwe Kleine-König's own later hwmon series are not versions of Billy Tsai's work.
    assert len(result.links.unlinked) == 2


def test_tglx_quilt_rfc_to_v2_linked_by_lore_link_with_carried_reviews() -> None:
    result = analyse("hyperv-tglx-device-msi-rfc-v2-quilt.mbox.gz")
    rfc = "20200821002424.119492231@linutronix.de"
    v2 = "20200826111628.794979401@linutronix.de"
    assert chain_with(result, rfc) == [(1, None, rfc), (2, LORE, v2)]
    assert result.candidates[rfc].rfc
    assert len(result.candidates[rfc].patch_message_ids) == 38
    assert len(result.candidates[v2].patch_message_ids) == 46
    # The quilt patches have References but no In-Reply-To; reviews on unchanged RFC patches
    # (Jürgen Groß, Bjorn Helgaas) carry into V2.
    carried = {c.trailer.name for p in result.statuses[v2].patches for c in p.carried}
    assert {"Bjorn Helgaas"} <= carried
    assert result.statuses[v2].counts[ReviewStatus.REVIEWED] == 16


def test_decruft_tagless_cover_and_trailing_version() -> None:
    result = analyse("hyperv-decruft-vmalloc-no-prefix.mbox")
    v1 = "20200408115926.1467567-1-hch@lst.de"
    v2 = "20200414131348.444715-1-hch@lst.de"
    assert chain_with(result, v1) == [(1, None, v1), (2, SUBJECT, v2)]
    assert result.candidates[v2].has_cover
    assert len(result.candidates[v2].patch_message_ids) == 29
    assert result.statuses[v2].counts[ReviewStatus.REVIEWED] == 23


def test_root_partition_rfc_v1_to_v3() -> None:
    result = analyse("hyperv-root-partition-rfc-v1-v3.mbox.gz")
    v1 = "20200914112802.80611-1-wei.liu@kernel.org"
    v2 = "20201105165814.29233-1-wei.liu@kernel.org"
    v3 = "20201124170744.112180-1-wei.liu@kernel.org"
    assert chain_with(result, v1) == [(1, None, v1), (2, SUBJECT, v2), (3, SUBJECT, v3)]
    # Vitaly Kuznetsov's and Daniel Lezcano's v2 reviews carry to unchanged v3 patches.
    carried = {
        (c.trailer.name, c.from_version) for p in result.statuses[v3].patches for c in p.carried
    }
    assert {("Vitaly Kuznetsov", 2), ("Daniel Lezcano", 2)} <= carried


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6])
def test_pwm_chips_lifetime_six_versions(version: int) -> None:
    result = analyse("pwm-chips-lifetime-v1-v6.mbox.gz")
    chain = chain_with(result, "20230808171931.944154-1-u.kleine-koenig@pengutronix.de")
    assert [v for v, _, _ in chain] == [1, 2, 3, 4, 5, 6]
    # v5 renamed the series ("Improve lifetime tracking"); its cover links v4 on lore.
    assert chain[4][1] is LORE
    status = result.statuses[chain[version - 1][2]]
    assert status.status is (SUPERSEDED if version < 6 else ReviewStatus.IN_DISCUSSION)


def test_dmarc_rewritten_submitters_chain_their_versions() -> None:
    result = analyse("intel-wired-lan-dmarc-via-from.mbox.gz")
    # Every From here reads "Name via Intel-wired-lan"; chains still need the same person.
    igb = chain_with(result, "20251220114936.140473-1-vivek.behera@siemens.com")
    assert [v for v, _, _ in igb] == [3, 4, 5, 6, 7, 8]
    # "[PATCH net-next v3]" → "[PATCH iwl-next v4]": the tree tag changed, the title did not.
    idpf = chain_with(result, "20251218022948.3288897-1-almasrymina@google.com")
    assert [v for v, _, _ in idpf] == [2, 3, 4]
    for chain in result.links.chains:
        people = {result.candidates[link.series_id].submitter.email for link in chain.links}
        assert len(people) == 1
        assert not any(p.endswith("osuosl.org") for p in people)

# SPDX-License-Identifier: GPL-2.0-or-later
"""Review fidelity on real mail from the corpus: NAKs in prose, 'applied' replies, trailers
with a lost '>', enclosed patches and series-wide reviews, and the rejected status.

The labelled samples (tests/data/labels/) were made by reading the mail; the thresholds are
the targets of issue 12 ("Fidelity"), and ``make versions-report`` prints the same figures.
"""

from __future__ import annotations

import pytest
from benchmarks.report_review import Score, applied_predicted, nak_predicted, score

from lkml_assistant.intel.applied import read_applied
from lkml_assistant.intel.reviews import summarize_reviews
from lkml_assistant.intel.status import PatchEvidence, patch_status, rollup
from lkml_assistant.intel.subjects import Submitter
from lkml_assistant.intel.trailers import extract_trailers
from lkml_assistant.models.discussion import Thread, TrailerKind
from lkml_assistant.models.review import ReviewStatus
from tests.labelled import corpus_message, corpus_thread, load_labels

NETFILTER = "netfilter-devel-2025.mbox.gz"
PWM = "linux-pwm-2023-2024.mbox.gz"
HYPERV = "linux-hyperv-2019-2020.mbox.gz"


def _status(thread: Thread, patches: list[str], cover: str | None = None, **kwargs: object):
    summaries = summarize_reviews(thread, patches, cover)
    return {
        mid: patch_status(
            PatchEvidence.from_summary(
                summary,
                Submitter.from_mail(thread.messages[mid]),
                **kwargs,  # type: ignore[arg-type]
            )
        )
        for mid, summary in summaries.items()
    }


# --- the labelled samples -------------------------------------------------------------------


def test_the_nak_sample_meets_its_targets() -> None:
    labels = load_labels("naks.json")
    assert len(labels) >= 50
    # Both meanings are in the sample: NAKs, and the bus/protocol word.
    assert sum(label.label for label in labels) >= 30
    assert sum("protocol" in label.reason for label in labels) >= 6
    result, notes = score(labels, nak_predicted)
    assert result.precision >= 0.95, notes
    assert result.recall >= 0.90, notes


def test_the_applied_sample_meets_its_target() -> None:
    labels = load_labels("applied.json")
    assert len(labels) >= 40
    result, notes = score(labels, applied_predicted)
    assert result.precision >= 0.98, notes
    assert result.recall >= 0.90, notes


def test_score_counts_each_kind_of_answer() -> None:
    labels = load_labels("applied.json")[:3]
    assert score(labels, lambda label: True)[0] == Score(true_positive=3)
    assert score(labels, lambda label: False)[0] == Score(false_negative=3)


# --- NAKs in prose -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reply", "author"),
    [
        # "Applying a ruleset partially due to failures is not an\nacceptable behaviour, so
        # this is a NACK to your patch from my side."
        (NETFILTER, "Z919bGfvp6scBYLi@orbyte.nwl.cc", "phil@nwl.cc"),
        # "Consider this a NAK from me."
        (
            "intel-wired-lan-2019.mbox.gz",
            "CAKgT0UdzUChE36pYEj4x72vjMkBhjqWd33_B75FhmaYePSgDUw@mail.gmail.com",
            "alexander.duyck@gmail.com",
        ),
        # "So a clear NACK from my side."
        (HYPERV, "ca6b21a3-efdc-5f7f-7b62-22a07a33c424@redhat.com", "david@redhat.com"),
        # "This is just wrong. NAK."
        (PWM, "eb95e27d-f408-4e25-bd53-37ff88474537@linaro.org", "krzysztof.kozlowski@linaro.org"),
    ],
)
def test_a_nak_in_the_middle_of_a_sentence_is_a_nak(source: str, reply: str, author: str) -> None:
    naks = [
        t
        for t in extract_trailers(corpus_message(source, reply))
        if t.kind is TrailerKind.NACKED_BY
    ]
    assert [(t.email, t.bare_statement) for t in naks] == [(author, True)]


def test_a_maintainers_nack_in_prose_requests_changes() -> None:
    # Phil Sutter's NACK of "[PATCH iptables]: xtables: tolerate DNS lookup failures" sits in
    # the middle of his sentence; the patch stayed in-discussion.
    patch = "1741354928.22595.4.camel@trentalancia.com"
    thread = corpus_thread(NETFILTER, patch)
    status = _status(thread, [patch])[patch]
    assert status.status is ReviewStatus.CHANGES_REQUESTED
    assert [t.given_by_email for t in status.naks] == ["phil@nwl.cc"]


@pytest.mark.parametrize(
    ("source", "reply"),
    [
        # "Please, take this comment as a suggestion, isn't a NAK from me."
        (PWM, "20684378-cf3e-0299-d390-287b7bafbda5@baylibre.com"),
        # dev_err(pbs->dev, "NACK from PBS for bit %u\n", bit_pos); in a smatch report
        (PWM, "85e4f0ef-baf8-4588-a10c-d64821c8c518@kadam.mountain"),
        # "Fine for me. I assume this is a Nack for Sergey's patch?"
        (
            "threads/platform-get-irq-optional-nak.mbox.gz",
            "20220118091819.zzxpffrxbckoxiys@pengutronix.de",
        ),
        # Spam from "Mr. Frank Nack".
        (HYPERV, "1513752212.2819432.1593152229939@mail.yahoo.com"),
    ],
)
def test_look_alike_and_protocol_naks_are_not_naks(source: str, reply: str) -> None:
    found = extract_trailers(corpus_message(source, reply), is_patch=False)
    assert [t for t in found if t.kind is TrailerKind.NACKED_BY] == []


# --- trailers ------------------------------------------------------------------------------


def test_a_trailer_whose_address_lost_its_closing_bracket_is_kept() -> None:
    # "Acked-by: John Fastabend <john.fastabend@gmail.com." (no '>')
    reply = corpus_message(NETFILTER, "20250711173915.xcq4vnb7esqg7gtz@gmail.com")
    acks = [(t.kind, t.name, t.email) for t in extract_trailers(reply)]
    assert acks == [(TrailerKind.ACKED_BY, "John Fastabend", "john.fastabend@gmail.com")]


def test_the_trailers_of_a_patch_enclosed_in_a_reply_are_not_given_by_the_reply() -> None:
    # Christoph Hellwig answers with a whole patch of his own ("From a5ee278f… Mon Sep 17 …",
    # commit message, "Reported-by: Dexuan Cui", "---", diff): Dexuan reported that patch, he
    # did not report anything in this thread.
    reply = corpus_message(HYPERV, "20200616095549.GA27917@lst.de")
    assert extract_trailers(reply) == []


def test_a_review_for_this_series_given_on_one_patch_counts_for_every_patch() -> None:
    # Pablo Neira Ayuso, in reply to [nft PATCH v5 1/3]: "For this series:\n\nReviewed-by: …"
    cover = "20250731222945.27611-1-phil@nwl.cc"
    patches = [f"20250731222945.27611-{n}-phil@nwl.cc" for n in (2, 3, 4)]
    thread = corpus_thread(NETFILTER, cover)
    summaries = summarize_reviews(thread, patches, cover)
    for patch in patches:
        reviewers = [t.email for t in summaries[patch].given(TrailerKind.REVIEWED_BY)]
        assert "pablo@netfilter.org" in reviewers, patch


# --- 'applied' replies ---------------------------------------------------------------------


def test_patchwork_bot_applying_a_series_accepts_each_patch_with_its_commit() -> None:
    # "This series was applied to netdev/net-next.git (main) by Pablo Neira Ayuso", in reply
    # to 1/7, listing each patch with its https://git.kernel.org/netdev/net-next/c/<sha>.
    cover = "20250505234151.228057-1-pablo@netfilter.org"
    patches = [f"20250505234151.228057-{n}-pablo@netfilter.org" for n in range(2, 9)]
    thread = corpus_thread(NETFILTER, cover, patches[0])
    present = [p for p in patches if p in thread.messages]
    assert len(present) == 7
    statuses = _status(thread, present, cover, patchwork_state="new")
    commits = set()
    for patch in present:
        status = statuses[patch]
        assert status.status is ReviewStatus.ACCEPTED, patch
        assert status.applied is not None
        assert status.applied.tree == "netdev/net-next.git (main)"
        assert status.applied.by_email == "patchwork-bot+netdevbpf@kernel.org"
        commits.add(status.applied.commit)
    assert len(commits) == 7 and None not in commits


def test_a_b4_thank_you_names_the_patch_and_its_commit() -> None:
    # Lee Jones, "(subset) [PATCH 2/4]": "Applied, thanks!\n\n[2/4] dt-bindings: …\n
    #       commit: abbb729360a50ce949de94a983cb56b15b82018e"
    reading = read_applied(
        corpus_message(PWM, "169710526675.1167576.9872640040047520620.b4-ty@kernel.org")
    )
    assert reading is not None
    assert reading.commit == "abbb729360a50ce949de94a983cb56b15b82018e"
    assert [(e.index, e.total) for e in reading.listed] == [(2, 4)]
    patch = "20231006045317.1056625-3-quic_devipriy@quicinc.com"
    status = _status(corpus_thread(PWM, patch), [patch])[patch]
    assert status.status is ReviewStatus.ACCEPTED
    assert status.applied is not None and status.applied.commit == reading.commit


def test_a_thank_you_for_a_subset_accepts_only_the_listed_patches() -> None:
    # Neil Armstrong answers the cover of "[PATCH 0/8] soc: amlogic: …" twice with b4: first
    # "(subset)" [2/8] into v6.3/arm64-dt, months later [1/8] into v6.5/drivers. The other six
    # went elsewhere or nowhere: not accepted by these replies.
    cover = "cb62dfc0-cb3d-beba-6d0b-8db18583dda0@gmail.com"
    thread = corpus_thread(PWM, cover)
    patches = [
        mid
        for mid, m in thread.messages.items()
        if m.subject.startswith("[PATCH ") and "/8]" in m.subject and mid != cover
    ]
    assert len(patches) == 8
    statuses = _status(thread, patches, cover)
    accepted = {
        thread.messages[mid].subject[:11]: (status.applied.commit, status.applied.tree)
        for mid, status in statuses.items()
        if status.applied is not None
    }
    tree = "https://git.kernel.org/pub/scm/linux/kernel/git/amlogic/linux.git"
    assert accepted == {
        "[PATCH 1/8]": ("6b0139b372d40bd5dafc140b6618b57d13211168", f"{tree} (v6.5/drivers)"),
        "[PATCH 2/8]": ("1be13a5091bf71627aa1a3d35360b039510f42f3", f"{tree} (v6.3/arm64-dt)"),
    }
    assert sum(s.status is ReviewStatus.ACCEPTED for s in statuses.values()) == 2


def test_applied_on_top_of_is_not_applied() -> None:
    # Uwe Kleine-König to Thierry Reding: "Nice cleanup. Applied on top of 53a2eaaf19c4 (i.e.
    # your current for-next branch) there is one instance you missed:"
    patch = "20231129162847.568780-1-thierry.reding@gmail.com"
    status = _status(corpus_thread(PWM, patch), [patch])[patch]
    assert status.status is not ReviewStatus.ACCEPTED
    assert status.applied is None


def test_the_authors_own_applied_reply_does_not_accept() -> None:
    # Uwe Kleine-König applying his own "[PATCH] pwm: Don't check pointer …": the rule asks
    # for someone other than the author (Patchwork's state says the rest).
    patch = "20240329101648.544155-2-u.kleine-koenig@pengutronix.de"
    reading = read_applied(
        corpus_message(PWM, "5ly72cm6hruwdblgxiecxxf3gcnplhy762vlrlxgbvlg7xyotl@y6tzrlholow7")
    )
    assert reading is not None
    assert (
        reading.tree
        == "https://git.kernel.org/pub/scm/linux/kernel/git/ukleinek/linux.git pwm/for-next"
    )
    status = _status(corpus_thread(PWM, patch), [patch])[patch]
    assert status.applied is None


# --- rejected ------------------------------------------------------------------------------


def test_rejected_is_a_final_status_of_its_own() -> None:
    patch = "1741354928.22595.4.camel@trentalancia.com"
    thread = corpus_thread(NETFILTER, patch)
    status = _status(thread, [patch], patchwork_state="rejected")[patch]
    assert status.status is ReviewStatus.REJECTED
    assert rollup([ReviewStatus.REJECTED]) is ReviewStatus.REJECTED
    assert rollup([], patchwork_state="rejected") is ReviewStatus.REJECTED
    # Some patches taken, the others rejected: the series is done, what landed landed.
    assert rollup([ReviewStatus.ACCEPTED, ReviewStatus.REJECTED]) is ReviewStatus.ACCEPTED
    # One rejected while others are still open: the series needs changes.
    assert rollup([ReviewStatus.REJECTED, ReviewStatus.REVIEWED]) is ReviewStatus.CHANGES_REQUESTED

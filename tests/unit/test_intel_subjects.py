# SPDX-License-Identifier: GPL-2.0-or-later
"""Subject parsing and submitter identity, on real subjects from the corpus and generated ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lkml_assistant.intel.subjects import (
    Submitter,
    is_reply_subject,
    parse_subject,
    strip_via,
    title_key,
)
from lkml_assistant.sources.mail import parse_message
from tests.corpus import corpus_path, mbox_messages, threads_path

# (subject, version, index, total, rfc, resend, reply, title): all seen on the lists.
REAL = [
    ("[PATCH v3 0/2] pwm: add driver for T-THEAD TH1520 SoC", 3, 0, 2, False, False, False,
     "pwm: add driver for T-THEAD TH1520 SoC"),
    ("[PATCH 1/2 v3] dt-bindings: pwm: Add AXI PWM generator", 3, 1, 2, False, False, False,
     "dt-bindings: pwm: Add AXI PWM generator"),
    ("[v14 0/2] Support pwm driver for aspeed ast26xx", 14, 0, 2, False, False, False,
     "Support pwm driver for aspeed ast26xx"),
    ("[patch V2 00/46] x86, PCI, XEN, genirq ...: Prepare for device MSI", 2, 0, 46, False,
     False, False, "x86, PCI, XEN, genirq ...: Prepare for device MSI"),
    ("[patch RFC 00/38] x86, PCI, XEN, genirq ...: Prepare for device MSI", 1, 0, 38, True,
     False, False, "x86, PCI, XEN, genirq ...: Prepare for device MSI"),
    ("[RESEND PATCH v3 0/1] Convert period and duty cycle to u64", 3, 0, 1, False, True, False,
     "Convert period and duty cycle to u64"),
    ("[RESEND v5 1/2] pwm: Convert drivers to use 64-bit period and duty cycle", 5, 1, 2, False,
     True, False, "pwm: Convert drivers to use 64-bit period and duty cycle"),
    ("[RESEND][PATCH 0/2 v6] pwm: add axi-pwm-gen driver", 6, 0, 2, False, True, False,
     "pwm: add axi-pwm-gen driver"),
    ("[PATCH RFC v1 00/18] Introducing Linux root partition support for Microsoft Hypervisor",
     1, 0, 18, True, False, False,
     "Introducing Linux root partition support for Microsoft Hypervisor"),
    ("[Intel-wired-lan] [PATCH net-next v3] idpf: export RX hardware timestamping information "
     "to XDP", 3, None, None, False, False, False,
     "idpf: export RX hardware timestamping information to XDP"),
    ("Re: [Intel-wired-lan] [PATCH iwl-net v9] igc: Fix trigger of incorrect irq in "
     "igc_xsk_wakeup function", 9, None, None, False, False, True,
     "igc: Fix trigger of incorrect irq in igc_xsk_wakeup function"),
    ("[Intel-wired-lan] [RFC PATCHv2 0/1] idpf: IDPF + SWIOTLB Bug", 2, 0, 1, True, False, False,
     "idpf: IDPF + SWIOTLB Bug"),
    ("AW: [PATCH v02 3/5] foo: bar", 2, 3, 5, False, False, True, "foo: bar"),
    ("decruft the vmalloc API v2", 2, None, None, False, False, False, "decruft the vmalloc API"),
    ("REGRESSION: Re: [patch V2 00/46] x86, PCI, XEN, genirq ...: Prepare for device MSI", 2, 0,
     46, False, False, True, "x86, PCI, XEN, genirq ...: Prepare for device MSI"),
    ("[PATCH] dt-bindings: drop type for operating-points-v2", 1, None, None, False, False,
     False, "dt-bindings: drop type for operating-points-v2"),
    ("[PATCH 00/27 5.10.y] netfilter backports", 1, 0, 27, False, False, False,
     "netfilter backports"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("subject", "version", "index", "total", "rfc", "resend", "reply", "title"), REAL
)
def test_real_subjects(
    subject: str,
    version: int,
    index: int | None,
    total: int | None,
    rfc: bool,
    resend: bool,
    reply: bool,
    title: str,
) -> None:
    parsed = parse_subject(subject)
    assert (parsed.version, parsed.index, parsed.total) == (version, index, total)
    assert (parsed.rfc, parsed.resend, parsed.is_reply) == (rfc, resend, reply)
    assert parsed.title == title


def test_list_and_tree_tags_are_kept_apart_from_the_title() -> None:
    parsed = parse_subject("[Intel-wired-lan] [PATCH net-next v3 2/5] ice: fix foo")
    assert parsed.tags == ("Intel-wired-lan", "net-next")
    assert parsed.explicit_version
    assert not parse_subject("[PATCH] pwm: fix foo").explicit_version


# Reply and forward prefixes: the thread code and the version linker once read these apart
# (WG:, Odp: and Re^2: were replies to one and postings to the other). The corpus has no
# subject of those shapes; its localized ones are "AW: AW: [PATCH] Input: pwm-beeper …"
# (linux-pwm) and "[Intel-wired-lan] Fw: [Bug 203843] …".
REPLIES = [
    "Re: [PATCH] x",
    "RE: [Intel-wired-lan] [PATCH] x",
    "[Intel-wired-lan] Re: [PATCH] x",
    "Aw: Fwd: x",
    "AW: AW: [PATCH] Input: pwm-beeper - Support volume setting via sysfs",
    "[Intel-wired-lan] Fw: [Bug 203843] New: e1000e crash when ethernet is plugged in",
    "WG: [PATCH] pwm: fix foo",  # German Outlook: weitergeleitet
    "Odp: [PATCH v2 1/2] pwm: fix foo",  # Polish Outlook: odpowiedz
    "Re^2: [PATCH] pwm: fix foo",
    "Re[2]: [PATCH] pwm: fix foo",
    "SV: [PATCH] pwm: fix foo",
    "Antw: [PATCH] pwm: fix foo",
    "VS: [PATCH] pwm: fix foo",
    "TR: [PATCH] pwm: fix foo",  # French Outlook: transfere
    "R: [PATCH] pwm: fix foo",  # Italian Outlook: risposta
    "RE : [PATCH] pwm: fix foo",  # French typography
    "REGRESSION: Re: [patch V2 00/46] x86, PCI, XEN, genirq ...: Prepare for device MSI",
]
POSTINGS = [
    "[PATCH] Re-add the thing",
    "[PATCH net-next 2/3] r8169: use new helper tcp_v6_gso_csum_prep",  # linux-hyperv
    "[PATCH] tr: fix foo",  # after the patch tag it is the title's subsystem
    "[PATCH v2] Re: pwm: fix foo",
    "Refactor the pwm core",
    "net: [PATCH] fix foo",
]


@pytest.mark.parametrize("subject", REPLIES)
def test_reply_and_forward_prefixes(subject: str) -> None:
    assert is_reply_subject(subject)
    assert parse_subject(subject).is_reply


@pytest.mark.parametrize("subject", POSTINGS)
def test_postings_are_not_replies(subject: str) -> None:
    assert not is_reply_subject(subject)
    assert not parse_subject(subject).is_reply


def test_counted_and_localized_prefixes_leave_the_same_title() -> None:
    keys = {parse_subject(s).key for s in REPLIES[6:16]}
    assert keys == {"pwm: fix foo"}


def test_the_corpus_subjects_get_one_reply_verdict() -> None:
    """is_reply_subject is parse_subject's verdict, on every real subject."""
    seen = replies = 0
    for name in ("intel-wired-lan-2019", "linux-pwm-2023-2024", "linux-hyperv-2019-2020"):
        path = corpus_path("mbox", "linux-mailinglist-archives", f"{name}.mbox.gz")
        for raw in mbox_messages(path):
            subject = parse_message(raw).subject
            reply = is_reply_subject(subject)
            assert reply == parse_subject(subject).is_reply, subject
            seen += 1
            replies += reply
    assert seen > 5000 and 0 < replies < seen


def test_title_key_ignores_case_spacing_and_trailing_punctuation() -> None:
    assert title_key("dt-bindings: Add bindings for aspeed pwm-tach.") == title_key(
        "dt-bindings:  add bindings for Aspeed pwm-tach"
    )


def test_every_posting_in_the_threads_parses_to_the_version_its_tag_names() -> None:
    """Over the real threads: a vN tag anywhere in brackets is the version, else 1."""
    import re

    seen = 0
    for name in ("pwm-u64-period-v1-v7-resend.mbox", "pwm-axi-pwmgen-v1-v6-suffix-version.mbox"):
        for raw in mbox_messages(threads_path(name)):
            subject = parse_message(raw).subject
            found = re.search(r"\[[^\]]*\bv(\d+)\b[^\]]*\]", subject)
            assert parse_subject(subject).version == (int(found.group(1)) if found else 1)
            seen += 1
    assert seen > 100


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz:-_ ", min_size=1, max_size=30).filter(
    lambda s: s.strip() and not s.strip().endswith(":")
)


@given(
    title=_words,
    version=st.integers(min_value=2, max_value=99),
    index=st.integers(min_value=0, max_value=40),
    total=st.integers(min_value=1, max_value=40),
    order=st.sampled_from(
        ["{p} v{v} {n}/{m}", "{p} {n}/{m} v{v}", "v{v} {n}/{m}", "{p} V{v} {n:02d}/{m}"]
    ),
    patch=st.sampled_from(["PATCH", "patch", "RFC PATCH", "PATCH RESEND", "PATCH net-next"]),
    list_tag=st.booleans(),
    reply=st.sampled_from(["", "Re: ", "RE: ", "Fwd: ", "AW: "]),
)
def test_generated_subjects_round_trip(
    title: str,
    version: int,
    index: int,
    total: int,
    order: str,
    patch: str,
    list_tag: bool,
    reply: str,
) -> None:
    tag = order.format(p=patch, v=version, n=index, m=total)
    subject = reply + ("[Intel-wired-lan] " if list_tag else "") + f"[{tag}] {title}"
    parsed = parse_subject(subject)
    assert parsed.version == version
    assert (parsed.index, parsed.total) == (index, total)
    assert parsed.is_reply == bool(reply)
    assert parsed.key == title_key(title)
    assert parsed.resend == ("RESEND" in tag)
    assert parsed.rfc == ("RFC" in tag)


@given(st.text(max_size=80))
def test_any_text_parses_without_error(subject: str) -> None:
    parsed = parse_subject(subject)
    assert parsed.version >= 0
    assert parsed.key == title_key(parsed.title)
    assert parsed.is_reply == is_reply_subject(subject)


def test_dmarc_rewritten_and_plain_from_are_the_same_submitter() -> None:
    """intel-wired-lan rewrites From to 'Name via Intel-wired-lan <list>'; the mail parser takes
    the real address from Reply-To. The same person posting without the rewrite matches."""
    rewritten = [
        parse_message(raw)
        for raw in mbox_messages(threads_path("intel-wired-lan-dmarc-via-from.mbox.gz"))
    ]
    first = next(m for m in rewritten if m.from_rewritten)
    assert "@osuosl.org" not in first.author_email
    via = Submitter.from_mail(first)
    plain = Submitter.of(first.author_name, first.author_email.upper())
    assert via.same_as(plain)
    # When the real address is unknown (From kept the list's), the name decides.
    unknown = Submitter.of(f"{first.author_name} via Intel-wired-lan", "intel-wired-lan@osuosl.org")
    assert not unknown.email_known
    assert unknown.same_as(plain)
    assert not unknown.same_as(Submitter.of("Someone Else", "else@example.org"))


def test_strip_via() -> None:
    assert strip_via('"Jane Doe via Intel-wired-lan"') == "Jane Doe"
    assert strip_via("Jane Doe") == "Jane Doe"

# SPDX-License-Identifier: GPL-2.0-or-later
"""Threads, trailers and per-patch review summaries, on hand-made mail and real list threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from lkml_assistant.intel.reviews import read_download, summarize_reviews
from lkml_assistant.intel.subjects import is_patch_submission
from lkml_assistant.intel.threads import build_thread, build_threads, conversation
from lkml_assistant.intel.trailers import extract_trailers, read_message, scan_trailers
from lkml_assistant.models.discussion import (
    MailMessage,
    ParentLink,
    Thread,
    Trailer,
    TrailerKind,
)
from lkml_assistant.sources.mail import parse_message
from tests.corpus import corpus_path, mbox_messages, threads_path

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def msg(
    message_id: str,
    *,
    refs: tuple[str, ...] = (),
    irt: str | None = None,
    minutes: int = 0,
    subject: str = "Re: [PATCH] x",
    body: str = "",
    author: str = "Rev Iewer <rev@example.org>",
    has_patch: bool = False,
) -> MailMessage:
    name, _, email = author.partition(" <")
    return MailMessage(
        message_id=message_id,
        references=refs,
        in_reply_to=irt,
        date=T0 + timedelta(minutes=minutes),
        subject=subject,
        body=body,
        author_name=name,
        author_email=email.rstrip(">"),
        has_patch=has_patch,
    )


@cache
def parsed(path: Path) -> tuple[MailMessage, ...]:
    return tuple(parse_message(raw) for raw in mbox_messages(path))


def thread_of(name: str) -> Thread:
    return build_thread(parsed(threads_path(name)))


def assert_is_a_tree(thread: Thread) -> None:
    root = thread.nodes[thread.root_id]
    assert root.parent_id is None and root.link is ParentLink.ROOT and root.depth == 0
    for message_id, node in thread.nodes.items():
        if message_id == thread.root_id:
            continue
        assert node.parent_id in thread.nodes, message_id
        assert node.depth == thread.nodes[node.parent_id].depth + 1
        assert message_id in thread.nodes[node.parent_id].children
        chain = thread.ancestors(message_id)  # terminates: no cycles
        assert chain[-1] == thread.root_id
        assert len(chain) == node.depth
        if node.link in (ParentLink.ORPHAN, ParentLink.UNRELATED):
            assert node.parent_id == thread.root_id
    assert sorted(thread.descendants(thread.root_id)) == sorted(
        set(thread.nodes) - {root.message_id}
    )


# --- threading --------------------------------------------------------------------------------


def test_parent_is_in_reply_to_else_the_last_present_reference() -> None:
    thread = build_thread(
        [
            msg("root", subject="[PATCH 0/2] s", minutes=0),
            msg("p1", refs=("root",), irt="root", minutes=1),
            msg("r1", refs=("root", "p1", "missing"), irt="missing", minutes=2),
            msg("r2", irt="r1", minutes=3),
            msg("r3", refs=("gone",), irt="p1", minutes=4),
            msg("r4", refs=("p1", "root"), irt="p1", minutes=5),  # References out of order
        ]
    )
    assert thread.root_id == "root"
    assert thread.parent("p1") == "root"
    assert thread.parent("r1") == "p1"
    assert thread.nodes["r1"].link is ParentLink.REFERENCES
    assert thread.parent("r2") == "r1"
    assert thread.nodes["r2"].link is ParentLink.IN_REPLY_TO
    assert thread.parent("r3") == "p1"
    assert thread.parent("r4") == "p1"
    assert thread.nodes["r1"].depth == 2
    assert_is_a_tree(thread)


def test_a_download_keeps_the_anchors_conversation_and_orphans_only() -> None:
    # public-inbox joined two postings of one subject; a reply to a lost message came along.
    download = [
        msg("october", subject="[PATCH net 0/2] updates for net", minutes=-90_000),
        msg("october-1", refs=("october",), subject="[PATCH net 1/2] a", minutes=-89_999),
        msg("december", subject="[PATCH net 0/2] updates for net"),
        msg("december-1", refs=("december",), subject="[PATCH net 1/2] b", minutes=1),
        msg("december-2", refs=("december", "lost-reply"), irt="lost-reply", minutes=5),
        msg("orphan", irt="never-arrived", minutes=7),
    ]
    for anchor in ("december", "december-1", "december-2"):
        kept = [m.message_id for m in conversation(download, anchor)]
        assert kept == ["december", "december-1", "december-2", "orphan"], anchor
    assert [m.message_id for m in conversation(download, "october-1")] == [
        "october",
        "october-1",
        "orphan",
    ]
    # One conversation, or an anchor the download lacks: everything stays.
    assert conversation(download[2:], "december") == download[2:]
    assert conversation(download, "not-there") == download


def test_orphans_and_other_starts_hang_from_the_root() -> None:
    thread = build_thread(
        [
            msg("orphan", refs=("never-arrived",), minutes=-5),
            msg("late-start", minutes=10),
            msg("start", minutes=0),
            msg("child", refs=("orphan",), minutes=11),
        ]
    )
    # The oldest message that answers nothing is the root, even if an orphan is older.
    assert thread.root_id == "start"
    assert thread.nodes["orphan"].link is ParentLink.ORPHAN
    assert thread.nodes["late-start"].link is ParentLink.UNRELATED
    assert thread.parent("orphan") == thread.parent("late-start") == "start"
    assert thread.parent("child") == "orphan"
    assert_is_a_tree(thread)


def test_root_choice_is_deterministic() -> None:
    same_time = [msg("b", minutes=0), msg("a", minutes=0), msg("c", minutes=-1, refs=("x",))]
    assert build_thread(same_time).root_id == "a"
    assert build_thread(list(reversed(same_time))).root_id == "a"
    only_orphans = [msg("o2", refs=("x",), minutes=2), msg("o1", refs=("y",), minutes=1)]
    assert build_thread(only_orphans).root_id == "o1"
    undated = MailMessage(message_id="undated")
    assert build_thread([undated, msg("dated", minutes=50)]).root_id == "dated"


def test_reference_cycles_are_cut() -> None:
    thread = build_thread(
        [
            msg("a", refs=("c",), minutes=1),
            msg("b", refs=("a",), minutes=2),
            msg("c", refs=("b",), minutes=3),
            msg("self", refs=("self",), minutes=4),
        ]
    )
    assert thread.root_id == "a"
    assert thread.parent("b") == "a" and thread.parent("c") == "b"
    assert thread.parent("self") == "a"
    assert_is_a_tree(thread)


def test_duplicate_message_ids_keep_the_first_seen() -> None:
    first = msg("dup", subject="[PATCH v3 0/1] x", body="original")
    resend = msg("dup", subject="[RESEND PATCH v3 0/1] x", body="original", minutes=60)
    copy = msg("dup", subject="[PATCH v3 0/1] x", body="original")
    thread = build_thread([first, resend, copy])
    assert len(thread) == 1
    assert thread.messages["dup"] is first
    reasons = [entry.reason for entry in thread.dropped]
    assert "reused for different content" in reasons[0]
    assert "copy" in reasons[1]


def test_build_thread_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="no messages"):
        build_thread([])


THREAD_FILES = [
    "pwm-th1520-v1-v3.mbox",
    "pwm-ma35d1-v1-v3-resend-nak.mbox",
    "pwm-axi-pwmgen-v1-v6-suffix-version.mbox",
    "pwm-u64-period-v1-v7-resend.mbox",
    "platform-get-irq-optional-nak.mbox.gz",
    "aspeed-pwm-tach-no-patch-prefix-nak.mbox.gz",
    "hyperv-tglx-device-msi-rfc-v2-quilt.mbox.gz",
    "hyperv-decruft-vmalloc-no-prefix.mbox",
    "hyperv-root-partition-rfc-v1-v3.mbox.gz",
    "intel-wired-lan-dmarc-via-from.mbox.gz",
    "edge-cases.mbox.gz",
]


@pytest.mark.parametrize("name", THREAD_FILES)
def test_real_threads_form_trees(name: str) -> None:
    messages = parsed(threads_path(name))
    thread = build_thread(messages)
    assert_is_a_tree(thread)
    assert len(thread) + len(thread.dropped) == len(messages)
    conversations = build_threads(messages)
    assert sum(len(part) for part in conversations) == len(thread)
    for part in conversations:
        assert_is_a_tree(part)


def test_the_very_long_lifetime_threads_form_trees() -> None:
    messages = parsed(threads_path("pwm-chips-lifetime-v1-v6.mbox.gz"))
    conversations = build_threads(messages)
    assert len(conversations) == 6  # v1 … v6, each its own thread
    assert all(len(part) > 100 for part in conversations)
    assert max(len(part) for part in conversations) == 193
    for part in conversations:
        assert_is_a_tree(part)


def test_th1520_splits_into_its_three_versions() -> None:
    roots = [part.root_id for part in build_threads(parsed(threads_path("pwm-th1520-v1-v3.mbox")))]
    assert roots == [
        "20230928170254.413-1-jszhang@kernel.org",
        "20231004092731.1362-1-jszhang@kernel.org",
        "20231005130519.3864-1-jszhang@kernel.org",
    ]


def test_resend_with_the_same_message_id_is_dropped_with_a_reason() -> None:
    thread = thread_of("pwm-u64-period-v1-v7-resend.mbox")
    dropped = {entry.message_id: entry.reason for entry in thread.dropped}
    assert set(dropped) == {
        "cover.1573851299.git.gurus@codeaurora.org",
        "7876b13fbd7302c45253336e246542535db2b712.1573851299.git.gurus@codeaurora.org",
    }
    assert all("reused for different content" in reason for reason in dropped.values())
    kept = thread.messages["cover.1573851299.git.gurus@codeaurora.org"]
    assert not kept.subject.startswith("[RESEND")


def test_orphans_in_a_real_thread_hang_from_the_root() -> None:
    thread = thread_of("aspeed-pwm-tach-no-patch-prefix-nak.mbox.gz")
    orphans = [n for n in thread.nodes.values() if n.link is ParentLink.ORPHAN]
    assert orphans
    assert all(node.parent_id == thread.root_id for node in orphans)


# --- subjects ---------------------------------------------------------------------------------


def test_postings_and_replies() -> None:
    assert is_patch_submission(msg("c", subject="[PATCH v2 00/46] quilt"))
    assert is_patch_submission(msg("c", subject="[v5 0/5] no PATCH tag"))
    assert is_patch_submission(msg("p", subject="[PATCH] x", has_patch=True, irt="c"))
    assert not is_patch_submission(msg("r", subject="[PATCH] x", irt="p"))  # reply without Re:
    assert not is_patch_submission(msg("r", subject="Re: [PATCH] x", has_patch=True))
    # A German Outlook forward of a patch is no posting of it (the diff came along).
    assert not is_patch_submission(msg("f", subject="WG: [PATCH] x", has_patch=True))


# --- trailers ---------------------------------------------------------------------------------


def test_trailers_come_only_from_the_authors_own_lines() -> None:
    reply = msg(
        "r",
        body=(
            "> Reviewed-by: Quoted Person <quoted@example.org>\n"
            ">> Acked-by: Deeper <deeper@example.org>\n"
            "    Tested-by: Indented Example <indented@example.org>\n"
            "Looks good.\n\n"
            "reviewed-BY: Rev Iewer <rev@example.org>\n"
            "Acked-by: Rev Iewer <rev@example.org>  # for the DT part\n"
            "Tested-by: rev@example.org\n"
            "Suggested-by: Someone Else (Corp) <else@example.org>\n"
            'Reported-by: "Doe, Jane" <jane@example.org>\n'
            "Reviewed-by: whoever maintains this\n"
            "Signed-off-by: Not A Review <sob@example.org>\n"
            "-- \nSignature\nAcked-by: In Sig <sig@example.org>\n"
        ),
    )
    found = [(t.kind, t.name, t.email) for t in extract_trailers(reply)]
    assert found == [
        (TrailerKind.REVIEWED_BY, "Rev Iewer", "rev@example.org"),
        (TrailerKind.ACKED_BY, "Rev Iewer", "rev@example.org"),
        (TrailerKind.TESTED_BY, "Rev Iewer", "rev@example.org"),
        (TrailerKind.SUGGESTED_BY, "Someone Else (Corp)", "else@example.org"),
        (TrailerKind.REPORTED_BY, "Doe, Jane", "jane@example.org"),
    ]
    first = extract_trailers(reply)[0]
    assert (first.given_by_email, first.message_id, first.date) == ("rev@example.org", "r", T0)
    assert not first.mismatched
    assert extract_trailers(reply)[3].mismatched


def test_name_only_trailer_counts_only_for_the_sender() -> None:
    own = msg("r", body="Acked-by: Rev Iewer\n")
    assert [(t.name, t.email) for t in extract_trailers(own)] == [("Rev Iewer", "rev@example.org")]


def test_outlook_quoted_original_gives_no_trailers() -> None:
    reply = msg(
        "r",
        body="Tested-by: Val Idation <val@example.org>\n\n-----Original Message-----\n"
        "From: Dev\nSent: Monday\n\nReviewed-by: Earlier <earlier@example.org>\n",
        author="Val Idation <val@example.org>",
    )
    assert [t.email for t in extract_trailers(reply)] == ["val@example.org"]


def test_a_patch_carries_its_commit_message_trailers() -> None:
    patch = msg(
        "p",
        subject="[PATCH 1/2] pwm: x",
        has_patch=True,
        body=(
            "Fix it.\n\nReported-by: Bot <bot@example.org>\nReviewed-by: Old <old@example.org>\n"
            "Signed-off-by: Dev <dev@example.org>\n---\nv2: Acked-by: Notes <n@example.org>\n\n"
            "diff --git a/f b/f\n"
        ),
        author="Dev <dev@example.org>",
    )
    scan = scan_trailers(patch)
    assert scan.given == ()
    assert [t.email for t in scan.carried] == ["bot@example.org", "old@example.org"]
    assert extract_trailers(patch) == []
    # Read as a reply it is a patch enclosed whole: its commit message's trailers stay its own.
    assert extract_trailers(patch, is_patch=False) == []


@pytest.mark.parametrize(
    "statement",
    ["NAK.", "Nack", "NACKed, sorry.", "   Strong NAK here:", "NAK as well. Reasons below.", "nak"],
)
def test_bare_nak_statements(statement: str) -> None:
    (nak,) = extract_trailers(msg("r", body=f"> the patch\n\n{statement}\n\nThanks\n"))
    assert nak.kind is TrailerKind.NACKED_BY
    assert nak.bare_statement
    assert (nak.name, nak.email) == ("Rev Iewer", "rev@example.org")


@pytest.mark.parametrize(
    "text",
    [
        "> NAK.",
        "I assume this is a Nack for the patch?",
        "Naked pointers are fine here.",
        "NAKs are rare.",
        "I will start NAKing such patches.",
    ],
)
def test_not_nak_statements(text: str) -> None:
    assert extract_trailers(msg("r", body=f"{text}\n")) == []


def test_nacked_by_trailer_is_not_doubled_by_the_statement() -> None:
    body = "NAK.\n\nNacked-by: Rev Iewer <rev@example.org>\n"
    assert len(extract_trailers(msg("r", body=body))) == 1


# --- b4's follow-up trailer fixtures ----------------------------------------------------------


def b4_thread(name: str) -> Thread:
    return build_thread(parsed(corpus_path("mbox", "b4", name)))


def given(summary_trailers: tuple[Trailer, ...]) -> list[tuple[str, str, str, str]]:
    return [(t.kind.value, t.name, t.email, t.given_by_email) for t in summary_trailers]


def test_b4_single_followups() -> None:
    summary = summarize_reviews(
        b4_thread("trailers-followup-single.mbox"), ["orig-message@example.com"]
    )["orig-message@example.com"]
    assert given(summary.trailers) == [
        ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com",
         "followup-reviewer1@example.com"),
        # Reviewer2 quotes Reviewer1's trailer (ignored) and adds their own.
        ("tested-by", "Followup Reviewer2", "followup-reviewer2@example.com",
         "followup-reviewer2@example.com"),
        # Sent from .com, names .net: b4 would ask a human; the trailer is still given.
        ("reviewed-by", "Mismatched Reviewer1", "mismatched-reviewer1@example.net",
         "mismatched-reviewer1@example.com"),
    ]  # fmt: skip
    assert [t.mismatched for t in summary.trailers] == [False, False, True]
    assert [t.email for t in summary.carried] == ["original-reviewer@example.com"]
    assert summary.reply_count == 3
    assert summary.participants == (
        "followup-reviewer1@example.com",
        "followup-reviewer2@example.com",
        "mismatched-reviewer1@example.com",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("trailers-followup-name-parens.mbox", [
            ("reviewed-by", "Followup Reviewer1 (corporate)", "followup-reviewer1@example.com"),
            ("tested-by", "Followup Reviewer2", "followup-reviewer2@example.com"),
            ("reviewed-by", "Mismatched Reviewer1", "mismatched-reviewer1@example.net"),
            ("tested-by", "Followup Tester1 [corporate]", "followup-tester1@example.com"),
            ("tested-by", "Tester2, Followup", "followup-tester2@example.com"),
        ]),
        ("trailers-followup-htmljunk.mbox", [
            ("reviewed-by", "HTML Junker", "html-junker@example.com"),
        ]),
        ("trailers-followup-stripped-lines.mbox", [
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
        ]),
        ("trailers-followup-nore.mbox", [  # a reply whose subject lost its "Re:"
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
        ]),
        ("trailers-followup-with-diffstat.mbox", [
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
        ]),
        ("trailers-followup-non-git-patch.mbox", [
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
        ]),
        ("trailers-followup-non-git-patch-with-comments.mbox", [
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
        ]),
        ("trailers-followup-custody.mbox", [
            ("reviewed-by", "Followup Reviewer1", "followup-reviewer1@example.com"),
            ("tested-by", "Followup Reviewer2", "followup-reviewer2@example.com"),
        ]),
        # Miguel's indented "I would suggest this ordering" block names no new trailer.
        ("trailers-followup-already-present.mbox", [
            ("tested-by", "Someone Else", "someone-else@example.com"),
        ]),
    ],
)  # fmt: skip
def test_b4_followup_fixtures(name: str, expected: list[tuple[str, str, str]]) -> None:
    thread = b4_thread(name)
    summary = summarize_reviews(thread, ["orig-message@example.com"])["orig-message@example.com"]
    assert [(t.kind.value, t.name, t.email) for t in summary.trailers] == expected
    assert summary.naks == ()
    assert summary.carried  # every fixture patch carries its original trailers


def test_b4_bare_address_in_the_patch_is_not_a_review_trailer() -> None:
    thread = b4_thread("trailers-followup-bare-address.mbox")
    summary = summarize_reviews(thread, ["orig-message@example.com"])["orig-message@example.com"]
    assert [t.email for t in summary.carried] == ["original-reviewer@example.com"]  # Cc: is not
    assert [t.email for t in summary.trailers] == [
        "followup-reviewer1@example.com",
        "followup-reviewer2@example.com",
        "mismatched-reviewer1@example.net",
    ]


def test_b4_cover_letter_trailers_apply_to_every_patch() -> None:
    thread = b4_thread("trailers-followup-with-cover.mbox")
    patches = ["patch-1-message@example.com", "patch-2-message@example.com"]
    summaries = summarize_reviews(thread, patches, "cover-message@example.com")
    first, second = summaries[patches[0]], summaries[patches[1]]
    # Reviewer1 reviewed patch 2 directly, and the whole series through the cover letter.
    assert [(t.email, t.message_id) for t in second.trailers] == [
        ("followup-reviewer1@example.com", "fwup-message-1@example.com")
    ]
    assert [(t.name, t.message_id) for t in first.trailers] == [
        ("Coverletter Reviewer1", "fwup-message-2@example.com")
    ]
    assert (first.reply_count, first.series_reply_count) == (0, 1)
    assert (second.reply_count, second.series_reply_count) == (1, 1)


def test_b4_partial_reroll_is_not_a_reply_to_the_old_patch() -> None:
    thread = b4_thread("trailers-followup-partial-reroll.mbox")
    summaries = summarize_reviews(
        thread,
        ["patch-1-message@example.com", "patch-2-message@example.com"],
        "cover-message@example.com",
    )
    old_two = summaries["patch-2-message@example.com"]
    # The v3 of patch 2, threaded below v2 2/2, is a posting, not a reply carrying trailers.
    assert old_two.reply_count == 1
    assert [t.message_id for t in old_two.trailers] == ["fwup-message-1@example.com"]
    rerolled = summarize_reviews(thread, ["patch-v3-2-message@example.com"])
    assert rerolled["patch-v3-2-message@example.com"].trailers == ()


def test_b4_thread_with_cover_followup() -> None:
    thread = b4_thread("trailers-thread-with-cover-followup.mbox")
    patches = [f"20221025-test1-v1-{n}-e4f28f57990c@linuxfoundation.org" for n in (1, 2, 3, 4)]
    summaries = summarize_reviews(thread, patches, patches[0].replace("-1-", "-0-"))
    for patch_id in patches[:3]:
        assert given(summaries[patch_id].trailers) == [
            ("reviewed-by", "Cover Upper", "cover.upper@example.org", "cover.upper@example.org")
        ]
    assert [t.kind.value for t in summaries[patches[3]].trailers] == ["tested-by", "reviewed-by"]


def test_unknown_patches_get_an_empty_summary() -> None:
    thread = b4_thread("trailers-followup-single.mbox")
    summary = summarize_reviews(thread, ["not-here@example.com"])["not-here@example.com"]
    assert (summary.reply_count, summary.trailers, summary.last_activity) == (0, (), None)


# --- real threads -----------------------------------------------------------------------------

TH1520_V2 = "20231004092731.1362-{}-jszhang@kernel.org"
TH1520_V3 = "20231005130519.3864-{}-jszhang@kernel.org"


def test_a_read_thread_is_summarized_without_reading_a_message_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The discussion jobs read every message once; the summary reuses that reading."""
    messages = parsed(threads_path("pwm-th1520-v1-v3.mbox"))
    anchor = TH1520_V3.format(1)
    reading = read_download(messages, anchor)
    for read in reading.messages.values():
        assert read.trailers == scan_trailers(read.message)
        assert read == read_message(read.message)
    postings = [mid for mid, read in reading.messages.items() if read.posting]
    expected = summarize_reviews(reading.thread, postings, anchor)
    assert any(s.trailers or s.carried for s in expected.values())

    def read_again(*_: object, **__: object) -> None:
        raise AssertionError("a message was read a second time")

    monkeypatch.setattr("lkml_assistant.intel.reviews.scan_trailers", read_again)
    monkeypatch.setattr("lkml_assistant.intel.reviews.is_patch_submission", read_again)
    again = summarize_reviews(reading.thread, postings, anchor, readings=reading.messages)
    assert again == expected


def test_th1520_v2_rob_reviewed_the_binding() -> None:
    thread = thread_of("pwm-th1520-v1-v3.mbox")
    patches = [TH1520_V2.format(2), TH1520_V2.format(3)]
    summaries = summarize_reviews(thread, patches, TH1520_V2.format(1))
    binding, driver = summaries[patches[0]], summaries[patches[1]]
    assert given(binding.trailers) == [
        ("reviewed-by", "Rob Herring", "robh@kernel.org", "robh@kernel.org")
    ]
    assert binding.reply_count == 2  # Uwe and Rob
    assert driver.trailers == ()
    assert driver.reply_count == 2  # Uwe, and Jisheng answering him


def test_th1520_v3_ack_test_and_carried_review() -> None:
    thread = thread_of("pwm-th1520-v1-v3.mbox")
    patches = [TH1520_V3.format(2), TH1520_V3.format(3)]
    summaries = summarize_reviews(thread, patches, TH1520_V3.format(1))
    binding, driver = summaries[patches[0]], summaries[patches[1]]

    assert given(binding.trailers) == [
        ("acked-by", "Uwe Kleine-König", "u.kleine-koenig@pengutronix.de",
         "u.kleine-koenig@pengutronix.de")
    ]  # fmt: skip
    assert binding.trailers[0].message_id == "20231113213739.xu4pi3akhxdgjjcb@pengutronix.de"
    assert [(t.kind.value, t.email) for t in binding.carried] == [
        ("reviewed-by", "robh@kernel.org")  # given on v2, carried into v3
    ]
    assert given(driver.trailers) == [
        ("tested-by", "Thomas Bonnefille", "thomas.bonnefille@bootlin.com",
         "thomas.bonnefille@bootlin.com")
    ]  # fmt: skip
    assert driver.carried == ()
    assert (driver.reply_count, driver.series_reply_count) == (2, 2)
    assert driver.participants == (
        "jszhang@kernel.org",
        "thomas.bonnefille@bootlin.com",
        "u.kleine-koenig@pengutronix.de",
    )
    assert driver.last_activity == datetime(2024, 4, 15, 11, 48, 48, tzinfo=UTC)
    assert binding.last_activity == datetime(2023, 11, 13, 21, 37, 39, tzinfo=UTC)


MA35D1_V2 = "20241023111841.158049-{}-cwweng.linux@gmail.com"
MA35D1_RESEND = "20241024104309.169510-{}-cwweng.linux@gmail.com"
MA35D1_V3 = "20241206085501.2623772-{}-cwweng.linux@gmail.com"


def test_ma35d1_nak_of_the_fake_tags() -> None:
    thread = thread_of("pwm-ma35d1-v1-v3-resend-nak.mbox")
    summaries = summarize_reviews(
        thread, [MA35D1_V2.format(2), MA35D1_V2.format(3)], MA35D1_V2.format(1)
    )
    driver = summaries[MA35D1_V2.format(3)]
    # The v2 driver carried three Reviewed-by nobody had given; Krzysztof NAKed it for that.
    assert [t.email for t in driver.carried] == [
        "krzysztof.kozlowski@linaro.org",
        "sean@mess.org",
        "ukleinek@kernel.org",
    ]
    assert driver.trailers == ()
    (nak,) = driver.naks
    assert (nak.kind, nak.given_by_email, nak.bare_statement) == (
        TrailerKind.NACKED_BY,
        "krzysztof.kozlowski@linaro.org",
        True,
    )
    # Later replies quote "> NAK." without adding one.
    all_naks = [
        t
        for m in thread.messages.values()
        for t in extract_trailers(m)
        if t.kind is TrailerKind.NACKED_BY
    ]
    assert [t.message_id for t in all_naks] == [nak.message_id]


def test_ma35d1_resend_and_v3_reviews() -> None:
    thread = thread_of("pwm-ma35d1-v1-v3-resend-nak.mbox")
    resend = summarize_reviews(thread, [MA35D1_RESEND.format(2)], MA35D1_RESEND.format(1))
    (review,) = resend[MA35D1_RESEND.format(2)].trailers
    # Sent from his kernel.org address, naming his linaro.org one.
    assert (review.email, review.given_by_email, review.mismatched) == (
        "krzysztof.kozlowski@linaro.org",
        "krzk@kernel.org",
        True,
    )
    v3 = summarize_reviews(thread, [MA35D1_V3.format(2), MA35D1_V3.format(3)], MA35D1_V3.format(1))
    assert [t.email for t in v3[MA35D1_V3.format(3)].trailers] == ["tgamblin@baylibre.com"]
    assert v3[MA35D1_V3.format(2)].reply_count == 0


def test_platform_get_irq_optional_nak() -> None:
    thread = thread_of("platform-get-irq-optional-nak.mbox.gz")
    naks = [
        (m.message_id, t)
        for m in thread.messages.values()
        for t in extract_trailers(m)
        if t.kind is TrailerKind.NACKED_BY
    ]
    assert [(mid, t.given_by_email) for mid, t in naks] == [
        ("6370798a-7a7e-243d-99f9-09bf772ddbac@omp.ru", "s.shtylyov@omp.ru")
    ]
    # Sergey NAKs Uwe's counter-proposals in the thread of his own patch: not a NAK of it.
    patch = "20220110195449.12448-2-s.shtylyov@omp.ru"
    summary = summarize_reviews(thread, [patch])[patch]
    assert summary.naks == ()
    assert summary.reply_count > 50


def test_aspeed_naks_land_on_the_patches_they_answer() -> None:
    thread = thread_of("aspeed-pwm-tach-no-patch-prefix-nak.mbox.gz")
    v5 = [f"20230606094535.5388-{n}-billy_tsai@aspeedtech.com" for n in range(2, 7)]
    summaries = summarize_reviews(thread, v5, "20230606094535.5388-1-billy_tsai@aspeedtech.com")
    nakked = {pid: [t.given_by_email for t in s.naks] for pid, s in summaries.items() if s.naks}
    assert nakked == {pid: ["krzysztof.kozlowski@linaro.org"] for pid in v5[2:]}
    v6 = [f"20230608021839.12769-{n}-billy_tsai@aspeedtech.com" for n in range(2, 6)]
    v6_summaries = summarize_reviews(thread, v6)
    assert [pid for pid in v6 if v6_summaries[pid].naks] == v6[:2]


def test_dmarc_rewritten_authors_give_their_trailers_under_their_own_address() -> None:
    messages = parsed(threads_path("intel-wired-lan-dmarc-via-from.mbox.gz"))
    givers = {t.given_by_email for m in messages for t in extract_trailers(m)}
    assert givers
    assert "intel-wired-lan@osuosl.org" not in givers

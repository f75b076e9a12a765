# SPDX-License-Identifier: GPL-2.0-or-later
"""mboxrd splitting, lenient gunzip and tolerant parsing, on hand-made mail and the corpus."""

from __future__ import annotations

import csv
import gzip
import re
import textwrap
import zlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import (
    MailParseError,
    decode_header_words,
    decode_text,
    gunzip_lenient,
    normalize_body,
    parse_message,
    read_mbox_archive,
    split_mboxrd,
)
from tests.corpus import corpus_path, mbox_messages, read_mbox, threads_path


def mail(headers: str, body: str = "Hello.\n", *, raw_body: bytes | None = None) -> bytes:
    head = textwrap.dedent(headers).strip("\n")
    return head.encode("utf-8") + b"\n\n" + (raw_body if raw_body is not None else body.encode())


# --- mboxrd -----------------------------------------------------------------------------------


def test_split_mboxrd_separates_messages_and_unquotes_from_lines() -> None:
    data = (
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        b"Message-ID: <a@x>\n\n"
        b">From here on\n"
        b">>From a quoted line\n"
        b"> >From not mboxrd quoting\n"
        b"\n"
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        b"Message-ID: <b@x>\n\nsecond\n\n"
    )
    first, second = split_mboxrd(data)
    assert first == (
        b"Message-ID: <a@x>\n\nFrom here on\n>From a quoted line\n> >From not mboxrd quoting\n"
    )
    assert second == b"Message-ID: <b@x>\n\nsecond\n"


def test_split_mboxrd_accepts_a_bare_message_and_nothing() -> None:
    bare = b"\n\nMessage-ID: <a@x>\nSubject: hi\n\n>From stays quoted in a bare message\n"
    assert list(split_mboxrd(bare)) == [bare.lstrip(b"\n")]
    assert list(split_mboxrd(b"")) == []
    assert list(split_mboxrd(b"\n\n")) == []
    assert list(split_mboxrd(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n\n")) == []


def test_split_mboxrd_handles_crlf_files() -> None:
    data = b"From x@y Mon Jan  1 00:00:00 2001\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n\r\n"
    (only,) = split_mboxrd(data)
    assert parse_message(only).body == "body\n"


@pytest.mark.parametrize(
    "name",
    ["pwm-th1520-v1-v3.mbox", "pwm-ma35d1-v1-v3-resend-nak.mbox", "edge-cases.mbox.gz"],
)
def test_split_matches_the_corpus_counts(name: str) -> None:
    counts = {"pwm-th1520-v1-v3.mbox": 21, "pwm-ma35d1-v1-v3-resend-nak.mbox": 34}
    counts["edge-cases.mbox.gz"] = 189
    assert len(mbox_messages(threads_path(name))) == counts[name]


# --- gzip -------------------------------------------------------------------------------------


def _separator_offsets(data: bytes) -> list[int]:
    return [found.start() for found in re.finditer(rb"^From ", data, re.MULTILINE)]


def _decompressed_length(compressed: bytes) -> int:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    return len(inflater.decompress(compressed))


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.55, 0.8, 0.97])
def test_truncated_gzip_keeps_every_complete_message(fraction: float) -> None:
    original = read_mbox(threads_path("pwm-ma35d1-v1-v3-resend-nak.mbox"))
    everything = list(split_mboxrd(original))
    compressed = gzip.compress(original)
    cut = compressed[: int(len(compressed) * fraction)]

    archive = read_mbox_archive(cut)

    assert not archive.complete
    assert "truncated" in archive.problems[0]
    # A message is complete when the next separator line has started within what was read.
    readable = _decompressed_length(cut)
    expected = sum(1 for offset in _separator_offsets(original) if offset < readable) - 1
    assert list(archive.messages) == everything[:expected]
    if expected < len(everything):
        assert any("last message dropped" in problem for problem in archive.problems)


def test_corrupt_gzip_keeps_what_came_before_the_damage() -> None:
    original = read_mbox(threads_path("pwm-th1520-v1-v3.mbox"))
    everything = list(split_mboxrd(original))
    compressed = bytearray(gzip.compress(original))
    middle = len(compressed) // 2
    compressed[middle : middle + 64] = bytes(64)  # a zeroed run: deflate goes astray, then fails

    archive = read_mbox_archive(bytes(compressed))

    assert not archive.complete
    assert "corrupt" in archive.problems[0]
    # Deflate may emit garbage between the damage and the error it detects, so only the
    # messages that end before the damaged input are certain.
    intact = _decompressed_length(bytes(compressed[:middle]))
    certain = sum(1 for offset in _separator_offsets(original) if offset < intact) - 1
    assert certain > 0
    assert len(archive.messages) >= certain
    assert list(archive.messages[:certain]) == everything[:certain]


def test_gunzip_lenient_reads_multi_member_streams() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second") + b"\0\0\0"
    unpacked = gunzip_lenient(data)
    assert unpacked.complete
    assert unpacked.data == b"first second"
    assert not gunzip_lenient(b"not gzip at all").complete


def test_uncompressed_archives_are_read_whole() -> None:
    archive = read_mbox_archive(read_mbox(threads_path("pwm-th1520-v1-v3.mbox")))
    assert archive.complete
    assert len(archive.messages) == 21


# --- headers ----------------------------------------------------------------------------------


def test_message_id_is_required() -> None:
    with pytest.raises(MailParseError, match="no Message-ID"):
        parse_message(mail("Subject: hi\nFrom: a@b.c"))
    with pytest.raises(MailParseError, match="holds no id"):
        parse_message(mail("Message-ID: <>\nSubject: hi"))
    with pytest.raises(MailParseError, match="empty"):
        parse_message(b"  \n")


def test_threading_headers_are_cleaned() -> None:
    message = parse_message(
        mail(
            """
            Message-ID: <own@example.org> (added by postmaster@example.org)
            In-Reply-To: <parent@example.org> (Jane Doe's message of "Fri,
             20 Nov 2020 17:09:58 -0800")
            References: <root@example.org>
             <parent@example.org> <own@example.org> <root@example.org>
            """
        )
    )
    assert message.message_id == "own@example.org"
    assert message.in_reply_to == "parent@example.org"
    assert message.references == ("root@example.org", "parent@example.org")


def test_outlook_message_id_on_a_continuation_line() -> None:
    message = parse_message(mail("Message-ID:\n <AM0PR04MB1234@eurprd04.prod.outlook.com>"))
    assert message.message_id == "AM0PR04MB1234@eurprd04.prod.outlook.com"


def test_references_without_in_reply_to_and_junk_in_reply_to() -> None:
    only_refs = parse_message(mail("Message-ID: <a@x>\nReferences: <r@x>"))
    assert only_refs.in_reply_to is None
    assert only_refs.references == ("r@x",)
    prose = parse_message(mail("Message-ID: <a@x>\nIn-Reply-To: your message of yesterday"))
    assert prose.in_reply_to is None
    bare = parse_message(mail("Message-ID: a@x\nIn-Reply-To: b@x"))
    assert (bare.message_id, bare.in_reply_to) == ("a@x", "b@x")


def test_encoded_words_are_decoded_and_joined() -> None:
    # "é" split over two encoded-words: the bytes must be joined before decoding.
    assert decode_header_words("=?utf-8?q?Caf=C3?= =?utf-8?q?=A9_au_lait?=") == "Café au lait"
    assert decode_header_words("Re: =?UTF-8?B?4oKsIDEwMA==?= Euro") == "Re: € 100 Euro"
    assert decode_header_words("=?iso-8859-1?q?Kleine-K=F6nig?=") == "Kleine-König"
    assert decode_header_words("=?x-bogus?q?caf=E9?=") == "café"
    assert decode_header_words("=?utf-8?b?!!!?=") == ""
    assert decode_header_words("plain =?not an encoded word") == "plain =?not an encoded word"


def test_raw_8bit_headers_are_decoded() -> None:
    utf8 = parse_message(mail("Message-ID: <a@x>\nFrom: Rafał Miłecki <r@x>\nSubject: Zürich"))
    assert (utf8.author_name, utf8.subject) == ("Rafał Miłecki", "Zürich")
    latin1 = parse_message(
        b"Message-ID: <a@x>\nFrom: Ren\xe9 <r@x>\nSubject: caf\xe9 cr\xe8me\n\nbody\n"
    )
    assert (latin1.author_name, latin1.subject) == ("René", "café crème")


def test_dates_are_utc_or_none() -> None:
    zoned = parse_message(mail("Message-ID: <a@x>\nDate: Thu, 5 Oct 2023 21:05:19 +0800"))
    assert zoned.date == datetime(2023, 10, 5, 13, 5, 19, tzinfo=UTC)
    unknown_zone = parse_message(mail("Message-ID: <a@x>\nDate: Thu, 5 Oct 2023 21:05:19 -0000"))
    assert unknown_zone.date == datetime(2023, 10, 5, 21, 5, 19, tzinfo=UTC)
    for junk in ("yesterday", "Mon, 1 Jan 99999 00:00:00 +0000", "Mon, 31 Feb 2020 25:61:00"):
        assert parse_message(mail(f"Message-ID: <a@x>\nDate: {junk}")).date is None


def test_dmarc_rewritten_from_takes_the_author_from_reply_to() -> None:
    message = parse_message(
        mail(
            """
            Message-ID: <a@x>
            From: "Doe, Jane via Intel-wired-lan" <intel-wired-lan@osuosl.org>
            Reply-To: "Doe, Jane" <jane.doe@example.com>
            """
        )
    )
    assert (message.author_name, message.author_email) == ("Doe, Jane", "jane.doe@example.com")
    assert message.from_rewritten
    original = parse_message(
        mail(
            """
            Message-ID: <a@x>
            From: Jane Doe via Some-list <some-list@lists.example.org>
            Reply-To: some-list@lists.example.org
            X-Original-From: Jane Doe <jane@example.com>
            """
        )
    )
    assert (original.author_name, original.author_email) == ("Jane Doe", "jane@example.com")
    plain = parse_message(mail("Message-ID: <a@x>\nFrom: Jane via Bar <j@example.com>"))
    assert (plain.author_email, plain.from_rewritten) == ("j@example.com", False)


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["y", "yes", "a", "binary", "x-unknown", "unknown-8bit", "\0"])
def test_bogus_charsets_fall_back_to_utf8(charset: str) -> None:
    message = parse_message(
        mail(
            f'Message-ID: <a@x>\nContent-Type: text/plain; charset="{charset}"',
            "Uwe Kleine-König\n",
        )
    )
    assert message.body == "Uwe Kleine-König\n"


def test_undecodable_text_falls_back_to_cp1252() -> None:
    assert decode_text(b"caf\xe9 \x93quoted\x94", "utf-8") == "café “quoted”"
    assert decode_text(b"caf\xe9", "us-ascii") == "café"
    # Mostly UTF-8 with one stray byte stays UTF-8.
    assert decode_text("Grüße aus München \xff".encode("utf-8", "surrogateescape")[:-1] + b"\xff")[
        :17
    ] == ("Grüße aus München")
    assert decode_text(b"\x1b$B$3$s$K$A$O\x1b(B", "iso-2022-jp") == "こんにちは"


def test_transfer_encodings_including_invalid_ones() -> None:
    eight_bit = parse_message(
        mail(
            "Message-ID: <a@x>\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8-bit",
            "Signed-off-by: Thomas Gleixner <tglx@linutronix.de>\n",
        )
    )
    assert eight_bit.body.startswith("Signed-off-by")
    base64_bad_padding = parse_message(
        mail(
            "Message-ID: <a@x>\nContent-Transfer-Encoding: base64",
            raw_body=b"SGVsbG8sIHdvcmxkIQ\n",
        )
    )
    assert base64_bad_padding.body.startswith("Hello, world")
    quoted_printable = parse_message(
        mail(
            "Message-ID: <a@x>\nContent-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: quoted-printable",
            "K=F6nig wrote a very long line that was wrapped by quoted-printa=\nble.\n",
        )
    )
    assert (
        quoted_printable.body
        == "König wrote a very long line that was wrapped by quoted-printable.\n"
    )


def test_multipart_signed_yields_the_text_not_the_signature() -> None:
    raw = mail(
        "Message-ID: <a@x>\nContent-Type: multipart/signed; micalg=pgp-sha512;\n"
        ' protocol="application/pgp-signature"; boundary="sig"',
        "--sig\nContent-Type: multipart/mixed; boundary=inner\n\n"
        "--inner\nContent-Type: text/plain; charset=utf-8\n\nReviewed-by: A <a@x>\n"
        "--inner\nContent-Type: text/x-patch; name=fix.patch\n"
        "Content-Disposition: attachment; filename=fix.patch\n\n"
        "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
        "--inner--\n"
        "--sig\nContent-Type: application/pgp-signature\n\n"
        "-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n--sig--\n",
    )
    message = parse_message(raw)
    assert message.body.strip() == "Reviewed-by: A <a@x>"
    assert message.has_patch
    assert message.attached_diffs and message.attached_diffs[0].startswith("diff --git")


def test_html_only_mail_is_flattened() -> None:
    message = parse_message(
        mail("Message-ID: <a@x>\nContent-Type: text/html", "<p>Acked&nbsp;by me<br>Bye</p>")
    )
    assert message.body == "Acked\xa0by me\nBye\n"


def test_quoted_and_outlook_quoted_diffs_are_not_patches() -> None:
    quoted = parse_message(mail("Message-ID: <a@x>", "> diff --git a/f b/f\n> --- a/f\n"))
    assert not quoted.has_patch
    outlook = parse_message(
        mail(
            "Message-ID: <a@x>",
            "ACK\n\n-----Original Message-----\nFrom: A\nSent: today\n\n"
            "diff --git a/f b/f\n--- a/f\n+++ b/f\n",
        )
    )
    assert not outlook.has_patch
    inline = parse_message(mail("Message-ID: <a@x>", "text\n---\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n"))
    assert inline.has_patch


def test_normalize_body_marks_quotes_and_cuts_signature_and_footer() -> None:
    normalized = normalize_body(
        "On Monday Jane wrote:\n> quoted\n> > deeper\n  > indented quote\nmine\n"
        "Reviewed-by: Me <me@x>\n-- \nMy signature\nReviewed-by: Not <me@sig>\n"
    )
    assert normalized.lines[:5] == (
        "On Monday Jane wrote:",
        "> quoted",
        "> > deeper",
        "  > indented quote",
        "mine",
    )
    assert normalized.quoted[:5] == (False, True, True, True, False)
    assert normalized.quoted_line_numbers == (1, 2, 3)
    assert "My signature" not in normalized.text
    assert [line for _, line in normalized.unquoted_lines()][-2:] == [
        "Reviewed-by: Me <me@x>",
        "",
    ]
    footer = normalize_body(
        "ACK\n_______________________________________________\n"
        "Intel-wired-lan mailing list\nIntel-wired-lan@osuosl.org\n"
    )
    assert footer.text == "ACK\n"
    outlook = normalize_body("Tested-by: T <t@x>\n\n-----Original Message-----\nFrom: A\nbody\n")
    assert outlook.own_text == "Tested-by: T <t@x>\n\n"
    assert outlook.quoted == (False, False, True, True, True, True)
    assert outlook.quoted_line_numbers == (2, 3, 4, 5)


# --- the corpus -------------------------------------------------------------------------------


@cache
def edge_cases() -> list[tuple[int, frozenset[str], str, bytes]]:
    index = threads_path("edge-cases.index.tsv")
    with index.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    raws = mbox_messages(threads_path("edge-cases.mbox.gz"))
    assert len(rows) == len(raws)
    return [
        (int(row[0]), frozenset(row[1].split(",")), row[2].strip("<>"), raw)
        for row, raw in zip(rows, raws, strict=True)
    ]


@cache
def parsed_edge_cases() -> dict[int, MailMessage]:
    return {number: parse_message(raw) for number, _, _, raw in edge_cases()}


def in_category(category: str) -> list[tuple[int, MailMessage]]:
    parsed = parsed_edge_cases()
    return [(number, parsed[number]) for number, cats, _, _ in edge_cases() if category in cats]


def test_every_edge_case_parses_with_its_indexed_message_id() -> None:
    parsed = parsed_edge_cases()
    for number, _, message_id, raw in edge_cases():
        message = parsed[number]
        assert message.message_id == message_id
        assert message.raw_size == len(raw)
        assert message.date is not None, number


@pytest.mark.parametrize(
    ("category", "expected_text"),
    [
        ("charset-iso-8859-1", "ö"),
        ("charset-iso-8859-2", "ł"),
        ("charset-iso-8859-7", "‘"),
        ("charset-gb2312", "月"),
    ],
)
def test_charset_bodies_decode_to_readable_text(category: str, expected_text: str) -> None:
    messages = in_category(category)
    assert messages
    for number, message in messages:
        assert "\ufffd" not in message.body, number
        assert "\r" not in message.body, number
    assert any(expected_text in message.body for _, message in messages)


def test_other_charsets_have_no_replacement_characters() -> None:
    for category in (
        "charset-windows-1251",
        "charset-windows-1252",
        "charset-iso-8859-15",
        "charset-iso-2022-jp",
        "bogus-charset",
    ):
        for number, message in in_category(category):
            assert message.body.strip(), number
            assert "\ufffd" not in message.body, number
    cyrillic = [message for _, message in in_category("text-base64") if "Најмила" in message.body]
    assert cyrillic


def test_encoded_word_subjects_and_names_decode() -> None:
    for category in ("subject-encoded-word-B", "subject-encoded-word-Q"):
        for number, message in in_category(category):
            assert "=?" not in message.subject, number
            assert message.subject, number
    subjects = {message.subject for _, message in in_category("subject-encoded-word-B")}
    assert "Re: € 2,000,000.00 Euro" in subjects
    for number, message in in_category("from-encoded-word-non-utf8"):
        assert "=?" not in message.author_name, number
    names = {message.author_name for _, message in in_category("from-encoded-word-non-utf8")}
    assert {"Uwe Kleine-König", "Michał Mirosław"} <= names


def test_signed_mail_yields_its_text() -> None:
    for category in ("application-pgp-signature", "application-pkcs7-signature"):
        for number, message in in_category(category):
            assert len(message.body) > 50, number
            assert "BEGIN PGP SIGNATURE" not in message.body, number
            assert not message.has_patch, number
    thierry = parsed_edge_cases()[1]
    assert thierry.body.startswith("On Mon, Apr 01, 2019 at 03:45:47PM -0700, Doug Anderson wrote:")


def test_mboxrd_quoted_from_lines_are_restored() -> None:
    for number, message in in_category("mboxrd-quoted-From"):
        lines = message.body.split("\n")
        assert any(line.startswith("From ") for line in lines), number
        assert not any(line.startswith(">From ") for line in lines), number


def test_threading_header_categories() -> None:
    for number, message in in_category("irt-trailing-junk"):
        assert message.in_reply_to is not None, number
        assert not re.search(r"[\s()<>\"]", message.in_reply_to), number
    assert parsed_edge_cases()[99].in_reply_to == "2177360.ElGaqSPkdT@zen.local"
    for number, message in in_category("irt-without-references"):
        assert message.in_reply_to is not None and not message.references, number
    for number, message in in_category("references-without-irt"):
        assert message.references and message.in_reply_to is None, number
    for number, message in in_category("re-without-irt-refs"):
        assert message.in_reply_to is None and not message.references, number
    for number, message in in_category("no-subject"):
        assert message.subject == "", number


def test_transfer_encoding_categories() -> None:
    tglx = in_category("invalid-cte")
    assert len(tglx) == 6
    for number, message in tglx[1:]:  # the five patches; the first one is the cover letter
        assert message.has_patch, number
        assert "Signed-off-by: Thomas Gleixner <tglx@linutronix.de>" in message.body
    for number, message in in_category("qp-patch"):
        assert "=3D" not in message.body, number
    assert all(message.has_patch for _, message in in_category("qp-patch")[1:])
    imx = parsed_edge_cases()[19]
    assert imx.has_patch and "Signed-off-by: Anson Huang" in imx.body


def test_attached_patches_are_found_and_other_attachments_ignored() -> None:
    for category in ("attachment-text-x-patch", "attachment-text-x-diff"):
        for number, message in in_category(category):
            assert message.has_patch, number
            assert message.attached_diffs, number
    for number, message in in_category("attachment-application-octet-stream"):
        assert not message.attached_diffs, number  # scripts, ACPI tables, a .docx


def test_multipart_alternative_prefers_plain_text() -> None:
    for number, message in in_category("mime-multipart-alternative"):
        assert message.body.strip(), number


def test_dmarc_via_from_resolves_to_the_real_author() -> None:
    raws = mbox_messages(threads_path("intel-wired-lan-dmarc-via-from.mbox.gz"))
    assert len(raws) == 124
    authors = set()
    for raw in raws:
        message = parse_message(raw)
        assert message.from_rewritten
        assert " via " not in message.author_name
        assert message.author_email != "intel-wired-lan@osuosl.org"
        authors.add((message.author_name, message.author_email))
    assert ("Jesse Brandeburg", "jbrandeburg@cloudflare.com") in authors
    assert ("Behera, VIVEK", "vivek.behera@siemens.com") in authors


FIXTURE_GLOBS = [
    "mbox/patchwork/fuzz/*.mbox",
    "mbox/patchwork/mail/*.mbox",
    "mbox/patchwork/series/*.mbox*",
    "mbox/patchew/*.gz",
    "mbox/public-inbox-t/*",
    "mbox/nipa/*.mbox",
    "mbox/b4/*.mbox",
]


def fixture_files() -> list[Path]:
    files: list[Path] = []
    for pattern in FIXTURE_GLOBS:
        files.extend(sorted(corpus_path().glob(pattern)))
    return files


def test_fixture_files_exist() -> None:
    assert len(fixture_files()) > 100


@pytest.mark.parametrize(
    "path", fixture_files(), ids=lambda path: f"{path.parent.name}/{path.name}"
)
def test_fixtures_parse_or_are_rejected_with_a_reason(path: Path) -> None:
    archive = read_mbox_archive(path.read_bytes())
    assert archive.complete
    for raw in archive.messages:
        try:
            message = parse_message(raw)
        except MailParseError as error:
            assert error.reason in ("no Message-ID header", "Message-ID header holds no id")
            continue
        assert message.message_id
        assert not any(char.isspace() for char in message.message_id)
        assert message.date is None or message.date.tzinfo is UTC


def fixture(name: str) -> MailMessage:
    (raw,) = read_mbox_archive(corpus_path("mbox", *name.split("/")).read_bytes()).messages
    return parse_message(raw)


def test_selected_fixtures_decode_as_a_reader_would_see_them() -> None:
    assert fixture("public-inbox-t/iso-2202-jp.eml").body.startswith("|けいじゅ＠今はフリー")
    alpine = fixture("public-inbox-t/x-unknown-alpine.eml")
    assert "• bullet point" in alpine.body
    embed = fixture("public-inbox-t/data_message_embed.eml")
    assert embed.body == "testing embedded message harder\n"
    attached = fixture("public-inbox-t/data_attached-mbox-with-utf8.eml")
    assert attached.has_patch and attached.attached_diffs
    assert fixture("patchwork/mail/0013-with-utf8-body.mbox").author_name == "Rafał Miłecki"
    assert fixture("patchwork/mail/0014-with-unencoded-utf8-headers.mbox").author_name == (
        "Rafał Miłecki"
    )
    assert fixture("patchwork/mail/0016-no-subject.mbox").subject == ""
    cvs = fixture("patchwork/mail/0007-cvs-format-diff.mbox")
    assert cvs.has_patch
    assert fixture("patchew/0038-octet-stream.mbox.gz").has_patch
    assert not fixture("patchwork/mail/0001-git-pull-request.mbox").has_patch
    assert fixture("patchwork/mail/0003-git-pull-request-with-diff.mbox").has_patch
    assert "艾尔帕提江" in fixture("patchew/0035-rfc2047-from.mbox.gz").author_name

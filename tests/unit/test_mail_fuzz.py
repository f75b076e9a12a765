# SPDX-License-Identifier: GPL-2.0-or-later
"""Mangled mail thrown at the mail layer: only MailParseError may ever escape."""

from __future__ import annotations

import gzip
import re
import zlib
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lkml_assistant.intel.reviews import read_thread, summarize_reviews
from lkml_assistant.intel.threads import build_thread
from lkml_assistant.intel.trailers import read_message, scan_trailers
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import (
    MailParseError,
    normalize_body,
    parse_message,
    read_mbox_archive,
    split_mboxrd,
)
from tests.corpus import corpus_path, mbox_messages, threads_path

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def real_messages() -> tuple[bytes, ...]:
    """A varied sample: every edge-case category, fuzzer output and MIME fixtures."""
    sample = list(mbox_messages(threads_path("edge-cases.mbox.gz")))
    for pattern in ("mbox/patchwork/fuzz/*.mbox", "mbox/public-inbox-t/*.eml"):
        for path in sorted(corpus_path().glob(pattern)):
            sample.extend(split_mboxrd(path.read_bytes()))
    return tuple(sample)


def parse_or_reject(raw: bytes) -> MailMessage | None:
    try:
        message = parse_message(raw)
    except MailParseError as error:
        assert error.reason
        return None
    assert message.message_id
    assert not any(char.isspace() for char in message.message_id)
    assert message.date is None or message.date.utcoffset() is not None
    body = normalize_body(message.body)
    assert body.quoted_line_numbers == tuple(n for n, flag in enumerate(body.quoted) if flag)
    assert read_message(message).trailers == scan_trailers(message)
    return message


def exercise_review(messages: list[MailMessage]) -> None:
    if not messages:
        return
    thread = build_thread(messages)
    patches = [m.message_id for m in messages[: len(messages) // 2]]
    cover = messages[-1].message_id
    # Messages read once up front say what they say when read on demand.
    readings = read_thread(thread).messages
    assert summarize_reviews(thread, patches, cover, readings=readings) == summarize_reviews(
        thread, patches, cover
    )


HEADER_NAMES = [
    "Message-ID", "Message-Id", "message-id", "In-Reply-To", "References", "Subject", "From",
    "Reply-To", "X-Original-From", "Date", "List-Id", "Content-Type",
    "Content-Transfer-Encoding", "MIME-Version", "X-Junk", "From ", ">From", "",
]  # fmt: skip
CHARSETS = [
    "utf-8", "y", "yes", "a", "binary", "x-unknown", "unknown-8bit", "iso-2022-jp", "utf-16",
    "utf-7", "base64", "rot13", "idna", "punycode", "gb2312", "\0", "", '"', "utf-8*en",
    "windows-1252", "latin1", "cp037",
]  # fmt: skip
ENCODINGS = ["base64", "quoted-printable", "8-bit", "8bit", "7bit", "binary", "x-uuencode", "junk"]

header_values = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=80).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda charset, kind, payload: f"=?{charset}?{kind}?{payload}?=".encode(
            "utf-8", "surrogatepass"
        ),
        st.sampled_from(CHARSETS),
        st.sampled_from(["q", "Q", "b", "B", "x"]),
        st.text(alphabet="=ABCDEF0123456789abc_/+?", max_size=30),
    ),
    st.sampled_from([b"<", b"<>", b"< a@b >", b"<a@b> junk <c@d>", b"\n", b"\n <x@y>"]),
)


@FUZZ
@given(st.text(alphabet=" \t>\n-_Oab", max_size=120))
def test_quoted_lines_are_those_starting_with_a_quote_mark(text: str) -> None:
    body = normalize_body(text)
    own = [re.match(r"[ \t]*>", line) is not None for line in body.own_text.split("\n")]
    flags = body.quoted
    if body.quoted_from is None:
        assert list(flags) == own
    assert body.quoted_line_numbers == tuple(n for n, flag in enumerate(flags) if flag)


@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    messages = [m for raw in split_mboxrd(data) if (m := parse_or_reject(raw)) is not None]
    exercise_review(messages)
    parse_or_reject(data)


@FUZZ
@given(st.data())
def test_truncated_real_messages(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(real_messages()))
    start = data.draw(st.integers(min_value=0, max_value=len(raw)))
    end = data.draw(st.integers(min_value=start, max_value=len(raw)))
    parse_or_reject(raw[:end])
    parse_or_reject(raw[start:end])


@FUZZ
@given(
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=12),
    st.binary(max_size=400),
)
def test_random_header_garbage(headers: list[tuple[str, bytes]], body: bytes) -> None:
    block = b"\n".join(name.encode() + b": " + value for name, value in headers)
    message = parse_or_reject(block + b"\n\n" + body)
    with_id = parse_or_reject(b"Message-ID: <fuzz@example.org>\n" + block + b"\n\n" + body)
    assert with_id is not None
    exercise_review([m for m in (message, with_id) if m is not None])


@FUZZ
@given(
    st.data(),
    st.sampled_from(CHARSETS),
    st.sampled_from(ENCODINGS),
    st.sampled_from(["text/plain", "text/html", "multipart/mixed", "application/octet-stream"]),
)
def test_wrong_charsets_and_encodings(
    data: st.DataObject, charset: str, encoding: str, content_type: str
) -> None:
    raw = data.draw(st.sampled_from(real_messages()))
    split = raw.find(b"\n\n")
    head, body = (raw, b"") if split < 0 else (raw[:split], raw[split:])
    kept = [
        line
        for line in head.split(b"\n")
        if not line.lower().startswith((b"content-type", b"content-transfer-encoding"))
    ]
    kept.append(f'Content-Type: {content_type}; charset="{charset}"; boundary="b"'.encode())
    kept.append(f"Content-Transfer-Encoding: {encoding}".encode())
    parse_or_reject(b"\n".join(kept) + body)


@FUZZ
@given(st.lists(st.sampled_from(real_messages()), min_size=1, max_size=8), st.randoms())
def test_real_messages_in_any_order_thread(raws: list[bytes], rng: object) -> None:
    messages = [m for raw in raws if (m := parse_or_reject(raw)) is not None]
    exercise_review(messages)


@FUZZ
@given(st.data())
def test_truncated_gzip_archives(data: st.DataObject) -> None:
    raws = data.draw(st.lists(st.sampled_from(real_messages()), min_size=1, max_size=5))
    mbox = b"".join(
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + raw.replace(b"\nFrom ", b"\n>From ") + b"\n\n"
        for raw in raws
    )
    compressed = gzip.compress(mbox)
    cut = data.draw(st.integers(min_value=2, max_value=len(compressed)))  # the magic stays
    archive = read_mbox_archive(compressed[:cut])
    assert archive.complete == (cut == len(compressed))
    # Whatever is returned is whole: a prefix of the messages that were written.
    everything = list(split_mboxrd(mbox))
    assert list(archive.messages) == everything[: len(archive.messages)]
    for raw in archive.messages:
        parse_or_reject(raw)


@FUZZ
@given(st.data())
def test_cut_mbox_text_never_yields_a_partial_message(data: st.DataObject) -> None:
    raws = data.draw(st.lists(st.sampled_from(real_messages()[:60]), min_size=1, max_size=4))
    mbox = b"".join(
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + raw.replace(b"\nFrom ", b"\n>From ") + b"\n\n"
        for raw in raws
    )
    everything = list(split_mboxrd(mbox))
    # Compress only a prefix, flushed: exactly that much text comes out, then the stream ends.
    cut = data.draw(st.integers(min_value=0, max_value=len(mbox) - 1))
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    stream = packer.compress(mbox[:cut]) + packer.flush(zlib.Z_SYNC_FLUSH)
    archive = read_mbox_archive(stream)
    assert not archive.complete
    assert list(archive.messages) == everything[: len(archive.messages)]
    assert len(archive.messages) < len(everything)

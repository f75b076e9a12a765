# SPDX-License-Identifier: GPL-2.0-or-later
"""Raw mail to :class:`~lkml_assistant.models.discussion.MailMessage`: mboxrd, gzip, MIME, bodies.

Real list traffic is messy (bogus charsets such as ``y`` typed at git-send-email's prompt, the
invalid transfer encoding ``8-bit``, Outlook folding a Message-ID onto its own line, Gnus
appending prose to In-Reply-To), so parsing degrades instead of failing: the only hard error
is a mail without a Message-ID, which nothing downstream could refer to.

Speed: the stdlib ``email`` parser feeds every line through a Python state machine, which is
wasted on the ~90 % of list mail that is a single text/plain part. Headers are therefore found
with one regular expression over the header block, and single-part bodies are decoded directly
with ``binascii``; only multipart mail goes through ``email.message_from_bytes`` with the
``compat32`` policy (``email.policy.default`` is 2.7 times slower on the bulk corpus, and its
header and content accessors raise on the fuzzed dates and unknown charsets of the fixtures).
See ``benchmarks/bench_mail.py``.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.utils
import html
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from functools import lru_cache

from lkml_assistant.models.discussion import MailMessage

log = logging.getLogger(__name__)


class MailParseError(ValueError):
    """A mail that cannot be used at all (no Message-ID); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- mbox -------------------------------------------------------------------------------------

_FROM_LINE = re.compile(rb"^From [^\n]*(?:\n|\Z)", re.MULTILINE)
# mboxrd adds one '>' to every body line matching ^>*From ; reading removes exactly one.
_MBOXRD_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def _skip_blank_lines(data: bytes) -> int:
    return len(data) - len(data.lstrip(b"\r\n"))


def _mbox_chunk(data: bytes, start: int, end: int) -> bytes | None:
    chunk = data[start:end]
    # The writer ends each message with one blank line of its own; it is not part of the mail.
    if chunk.endswith(b"\r\n\r\n"):
        chunk = chunk[:-2]
    elif chunk.endswith(b"\n\n"):
        chunk = chunk[:-1]
    if not chunk.strip():
        return None
    if b">From " in chunk:
        chunk = _MBOXRD_QUOTED_FROM.sub(rb"\1", chunk)
    return chunk


def split_mboxrd(data: bytes) -> Iterator[bytes]:
    """Yield the raw messages of an mboxrd file, with the ``>From`` quoting undone.

    Data whose first non-blank line is not a ``From `` separator is one bare RFC 822 message
    (several fixtures and ``git format-patch`` output without a From_ line look like that); it
    is yielded unchanged.
    """
    start = _skip_blank_lines(data)
    if start >= len(data):
        return
    if not data.startswith(b"From ", start):
        yield data[start:]
        return
    body_start: int | None = None
    for separator in _FROM_LINE.finditer(data, start):
        if body_start is not None:
            chunk = _mbox_chunk(data, body_start, separator.start())
            if chunk is not None:
                yield chunk
        body_start = separator.end()
    if body_start is not None:
        chunk = _mbox_chunk(data, body_start, len(data))
        if chunk is not None:
            yield chunk


@dataclass(frozen=True, slots=True)
class Gunzipped:
    """What could be decompressed; ``complete`` is False when the stream was cut or corrupt.

    ``corrupt``: damaged rather than cut short. Deflate can go on emitting plausible text after
    damage, even copies of earlier lines, so no part of what follows it can be trusted.
    """

    data: bytes
    complete: bool
    problem: str | None = None
    corrupt: bool = False


_GUNZIP_SLICE = 64 * 1024
_GUNZIP_RETRY_SLICE = 256


def _salvage(saved: zlib._Decompress, piece: bytes, out: list[bytes]) -> None:
    """zlib drops the output of the call that fails: replay that input in small steps from the
    state saved before it, keeping the output up to the failing step."""
    for offset in range(0, len(piece), _GUNZIP_RETRY_SLICE):
        try:
            out.append(saved.decompress(piece[offset : offset + _GUNZIP_RETRY_SLICE]))
        except zlib.error:
            return


def gunzip_lenient(data: bytes) -> Gunzipped:
    """Decompress a (possibly multi-member) gzip stream, keeping what precedes a cut or damage.

    After damage, deflate may emit some garbage before it notices; the caller drops the last
    (partial) message, but text just before the damage can still be garbled.
    """
    out: list[bytes] = []
    member_start = 0
    while member_start < len(data):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pos = member_start
        while pos < len(data) and not inflater.eof:
            piece = data[pos : pos + _GUNZIP_SLICE]
            saved = inflater.copy()
            try:
                out.append(inflater.decompress(piece))
            except zlib.error as exc:
                _salvage(saved, piece, out)
                problem = f"gzip stream corrupt in compressed bytes {pos}-{pos + len(piece)}: {exc}"
                return Gunzipped(b"".join(out), False, problem, corrupt=True)
            pos += len(piece)
        if not inflater.eof:
            out.append(inflater.flush())
            return Gunzipped(
                b"".join(out), False, f"gzip stream truncated after {len(data)} compressed bytes"
            )
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            break  # padding after the last member, as some writers leave
        member_start = len(data) - len(rest)
    return Gunzipped(b"".join(out), True)


@dataclass(frozen=True, slots=True)
class MboxArchive:
    """The messages of an mbox file; ``problems`` says what was lost and why, ``corrupt``
    whether the gzip stream was damaged (see :class:`Gunzipped`) rather than cut short."""

    messages: tuple[bytes, ...]
    complete: bool
    problems: tuple[str, ...] = ()
    corrupt: bool = False


def read_mbox_archive(data: bytes) -> MboxArchive:
    """Split an mboxrd file, gzipped or not; a cut-off last message is dropped with a reason."""
    if not data.startswith(b"\x1f\x8b"):
        return MboxArchive(tuple(split_mboxrd(data)), True)
    unpacked = gunzip_lenient(data)
    if unpacked.complete:
        return MboxArchive(tuple(split_mboxrd(unpacked.data)), True)
    text = unpacked.data
    problems = [unpacked.problem or "gzip stream incomplete"]
    start = _skip_blank_lines(text)
    if not text.startswith(b"From ", start):
        cut = start  # one bare message, and it is cut
    else:
        # Everything from the last From_ line on may be cut. A final partial line that can
        # only be the start of the next separator (after the blank line that ends a message)
        # means the message before it was written out whole.
        last_newline = text.rfind(b"\n")
        trailing = text[last_newline + 1 :]
        if trailing and b"From ".startswith(trailing[:5]) and text.endswith(b"\n\n" + trailing):
            cut = last_newline + 1
        else:
            found = text.rfind(b"\nFrom ")
            cut = found + 1 if found >= start else start
    head, tail = text[:cut], text[cut:]
    separator = _FROM_LINE.match(tail)
    partial = tail[separator.end() :] if separator else tail
    if partial.strip():
        problems.append(
            f"last message dropped: the stream ends inside it ({len(partial)} bytes of it read)"
        )
    return MboxArchive(tuple(split_mboxrd(head)), False, tuple(problems), unpacked.corrupt)


# --- headers ----------------------------------------------------------------------------------

# Patterns over whole headers or bodies start with a literal "\n" (the text gets one prepended)
# rather than "^" with re.MULTILINE: the engine then skips ahead to newlines instead of trying
# every position, which is three to ten times faster on list mail.
_WANTED_HEADER = re.compile(
    rb"\n(message-id|in-reply-to|references|subject|from|reply-to|x-original-from|date|list-id"
    rb"|to|cc|content-type|content-transfer-encoding)[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)",
    re.IGNORECASE,
)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ANGLE_ID = re.compile(r"<\s*([^<>\s][^<>]*)>")
_ANGLE_ADDRESS = re.compile(r'^\s*"?(.*?)"?\s*<\s*([^<>\s]*)\s*>\s*$', re.DOTALL)
_VIA_LIST = re.compile(r"^(.*?)\s+via\s+\S.*$", re.IGNORECASE | re.DOTALL)
_CHARSET_PARAM = re.compile(r'charset\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s;"]+))', re.IGNORECASE)

# Values seen in the wild that name no character set: 'y'/'yes' typed at git-send-email's
# 8-bit prompt, 'a' likewise, 'binary' confused with a transfer encoding, Alpine's X-UNKNOWN.
_BOGUS_CHARSETS = frozenset(
    {"y", "yes", "n", "no", "a", "binary", "x-unknown", "unknown", "unknown-8bit", "8bit",
     "7bit", "default", "none", "us", "x-user-defined", "charset"}
)  # fmt: skip
# Canonical codec names (codecs.lookup().name) whose bytes are not ASCII-compatible: ASCII
# input still has to go through the codec (ISO-2022-JP is 7-bit escapes).
_NOT_ASCII_COMPATIBLE = ("iso2022", "utf-7", "utf-16", "utf-32", "hz", "cp037", "cp500")
_CHARSET_SUBSTITUTES = {"gb2312": "gb18030", "gbk": "gb18030", "ks_c_5601-1987": "cp949"}


@lru_cache(maxsize=512)
def _codec(charset: str) -> tuple[str, bool] | None:
    """The codec for a declared charset and whether ASCII bytes decode as themselves."""
    name = charset.strip().strip("\"'").lower()
    if not name or name in _BOGUS_CHARSETS:
        return None
    name = _CHARSET_SUBSTITUTES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # unknown name, or NUL bytes in a fuzzed one
        return None
    # base64_codec, rot13 … are byte transforms, not character sets.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name, not info.name.startswith(_NOT_ASCII_COMPATIBLE)


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Bytes to text: the declared charset if it works, else UTF-8, else cp1252 with U+FFFD."""
    codec = _codec(charset) if charset else None
    if data.isascii() and (codec is None or codec[1]):
        return data.decode("ascii")
    if codec is not None and codec[0] != "ascii":
        try:
            return data.decode(codec[0])
        except (UnicodeError, ValueError, LookupError):
            log.debug("text does not decode as its declared charset %r", charset)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    as_utf8 = data.decode("utf-8", "replace")
    damaged = as_utf8.count("\ufffd")
    non_ascii = len(as_utf8) - len(as_utf8.encode("ascii", "ignore"))
    # Mostly valid UTF-8 with a few bad bytes stays UTF-8; otherwise it is an 8-bit charset.
    if non_ascii - damaged > damaged:
        return as_utf8
    return data.decode("cp1252", "replace")


def _decode_word_payload(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            padded = payload + "=" * (-len(payload) % 4)
            return binascii.a2b_base64(padded.encode("ascii", "ignore"))
        return binascii.a2b_qp(payload.encode("utf-8", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_header_words(text: str) -> str:
    """Decode RFC 2047 encoded-words; adjacent words in one charset are joined before decoding
    because a multi-byte character may be split across them."""
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    after_word = False
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_text(bytes(pending), pending_charset))
            pending.clear()
            pending_charset = None

    for word in _ENCODED_WORD.finditer(text):
        gap = text[pos : word.start()]
        # Whitespace between two encoded-words is folding, not text.
        if not (after_word and not gap.strip()):
            flush()
            out.append(gap)
        pos = word.end()
        decoded = _decode_word_payload(word.group(2), word.group(3))
        if decoded is None:
            flush()
            out.append(word.group(0))
            after_word = False
            continue
        charset = word.group(1).split("*", 1)[0].lower()
        if pending_charset is not None and charset != pending_charset:
            flush()
        pending.extend(decoded)
        pending_charset = charset
        after_word = True
    flush()
    out.append(text[pos:])
    return "".join(out)


def _header_text(raw: bytes) -> str:
    """A raw header value as text: unfolded, raw 8-bit bytes and encoded-words decoded."""
    raw = raw.replace(b"\n", b"")
    text = raw.decode("ascii") if raw.isascii() else decode_text(raw)
    return decode_header_words(text)


def _read_headers(block: bytes) -> dict[str, bytes]:
    headers: dict[str, bytes] = {}
    for name, value in _WANTED_HEADER.findall(b"\n" + block):
        # The first copy wins: later ones are usually added by relays or are fuzz.
        headers.setdefault(name.lower().decode("ascii"), value)
    return headers


def _first_id(value: str) -> str | None:
    found = _ANGLE_ID.search(value)
    if found:
        candidate = "".join(found.group(1).split())
    else:
        tokens = value.split()
        candidate = tokens[0].strip("<>") if tokens else ""
    return candidate or None


def _reply_target(value: str) -> str | None:
    found = _ANGLE_ID.search(value)
    if found:
        return "".join(found.group(1).split()) or None
    # Without angle brackets only a lone token that looks like an id is believable.
    tokens = value.split()
    if len(tokens) == 1 and "@" in tokens[0]:
        return tokens[0]
    return None


def _all_ids(value: str, own_id: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for found in _ANGLE_ID.finditer(value):
        candidate = "".join(found.group(1).split())
        if candidate and candidate != own_id:
            seen.setdefault(candidate, None)
    return tuple(seen)


def _split_address(raw: str) -> tuple[str, str]:
    """(display name, address) of one address header value, still RFC 2047 encoded."""
    found = _ANGLE_ADDRESS.match(raw)
    if found and "<" not in found.group(1) and ">" not in found.group(1):
        return found.group(1).replace('\\"', '"').strip(), found.group(2)
    try:
        name, address = email.utils.parseaddr(raw)
    except (ValueError, IndexError, TypeError):
        return raw.strip(), ""
    return name, address


def _address_list(raw: str) -> list[tuple[str, str]]:
    try:
        pairs = email.utils.getaddresses([raw])
    except (ValueError, IndexError, TypeError):
        return []
    return [(decode_header_words(name).strip(), address) for name, address in pairs if address]


def recipients(raw: str | None) -> tuple[str, ...]:
    """The addresses of a To:/Cc: header, lowercase, each once, in order (groups and
    undisclosed-recipients lists give none)."""
    if not raw:
        return ()
    found: dict[str, None] = {}
    for _, given in _address_list(" ".join(raw.split())):
        address = given.strip().strip("<>").casefold()
        if "@" in address and " " not in address:
            found.setdefault(address, None)
    return tuple(found)


def _author(
    from_raw: str, reply_to_raw: str | None, original_from_raw: str | None
) -> tuple[str, str, bool]:
    """The author's name and address, seeing through DMARC 'Name via List <list@…>' rewrites."""
    encoded_name, address = _split_address(" ".join(from_raw.split()))
    name = " ".join(decode_header_words(encoded_name).split())
    via = _VIA_LIST.match(name)
    if via is None or not (reply_to_raw or original_from_raw):
        return name, address, False
    real_name = via.group(1).strip().strip('"').strip()
    list_address = address.casefold()
    for raw in (original_from_raw, reply_to_raw):
        if not raw:
            continue
        candidates = [pair for pair in _address_list(raw) if pair[1].casefold() != list_address]
        if not candidates:
            continue
        # Reply-To may also name the list; prefer the entry whose name is the rewritten one.
        best = next((c for c in candidates if c[0].casefold() == real_name.casefold()), None)
        chosen = best or candidates[0]
        return chosen[0] or real_name, chosen[1], True
    return real_name, address, True


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # RFC 5322 '-0000' (no zone information) comes back naive; it means UTC.
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- bodies -----------------------------------------------------------------------------------

# A diff starts with one of these at the start of a line (quoted copies start with '>').
_DIFF_START = re.compile(
    r"\n(?:diff --git |diff -[a-zA-Z]|Index: \S|--- \S[^\n]*\n\+\+\+ \S|@@ -\d+(?:,\d+)? \+\d)"
)
# Outlook and Lotus quote the whole original unprefixed below this marker; the diff of the
# patch being answered must not count as this mail's own.
_UNPREFIXED_QUOTE = re.compile(
    r"\n(?:-{2,} ?Original Message ?-{2,}|_{20,}\nFrom: |From: [^\n]*\nSent: )", re.IGNORECASE
)
_HTML_BREAK = re.compile(r"<(?:br|/p|/div|/tr|/li)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>")
_HTML_DROP = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_DIFF_HINT = re.compile(rb"^(?:diff |Index: |--- |@@ -)", re.MULTILINE)
_NON_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_PATCH_ATTACHMENT_TYPES = frozenset(
    {"text/x-patch", "text/x-diff", "text/x-diff-file", "text/diff", "text/patch",
     "application/x-patch", "application/x-diff", "application/octet-stream", "text/plain",
     "text/x-log", "text/x-c", "application/mbox"}
)  # fmt: skip


def looks_like_diff(text: str) -> bool:
    """A diff (git, plain unified or CVS/SVN ``Index:``) outside quoted lines."""
    text = "\n" + text
    diff = _DIFF_START.search(text)
    if diff is None:
        return False
    return _UNPREFIXED_QUOTE.search(text, 0, diff.start() + 1) is None


def _decode_base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    cleaned = _NON_BASE64.sub(b"", data)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a lone sextet carries no whole byte
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:
        return data


def _decode_transfer(data: bytes, encoding: str) -> bytes:
    # Anything else ('7bit', '8bit', the invalid '8-bit', 'binary', junk) is taken as is.
    if encoding == "base64":
        return _decode_base64(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    return data


def _body_text(payload: bytes, charset: str | None) -> str:
    """Decoded text of a body part with Windows line ends (common inside base64) made Unix."""
    text = decode_text(payload, charset)
    return text.replace("\r\n", "\n") if "\r" in text else text


def html_to_text(markup: str) -> str:
    """Crude but safe HTML flattening, for mail that has no text/plain part."""
    markup = _HTML_DROP.sub("", markup)
    markup = _HTML_BREAK.sub("\n", markup)
    return html.unescape(_HTML_TAG.sub("", markup))


def _charset_of(content_type: str) -> str | None:
    found = _CHARSET_PARAM.search(content_type)
    if found is None:
        return None
    return found.group(1) or found.group(2) or found.group(3)


@dataclass(slots=True)
class _BodyParts:
    texts: list[str]
    htmls: list[str]
    diffs: list[str]


def _leaf_payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _collect_leaf(part: Message, found: _BodyParts) -> None:
    content_type = part.get_content_type()
    maintype, _, subtype = content_type.partition("/")
    if subtype in ("pgp-signature", "pkcs7-signature", "x-pkcs7-signature"):
        return
    disposition = part.get_content_disposition()
    try:
        charset = part.get_content_charset()
    except (LookupError, ValueError, UnicodeError):
        charset = None
    if content_type == "text/plain" and disposition != "attachment":
        found.texts.append(_body_text(_leaf_payload(part), charset))
        return
    if content_type == "text/html" and disposition != "attachment":
        found.htmls.append(html_to_text(_body_text(_leaf_payload(part), charset)))
        return
    if maintype == "multipart":
        # A multipart part whose boundary never appears: compat32 leaves its text as is.
        found.texts.append(_body_text(_leaf_payload(part), charset))
        return
    if content_type in _PATCH_ATTACHMENT_TYPES or content_type.endswith(("-patch", "-diff")):
        payload = _leaf_payload(part)
        # Most attachments are configs, logs or binaries: don't decode what cannot hold a diff.
        if _DIFF_HINT.search(payload) is None:
            return
        text = _body_text(payload, charset)
        if looks_like_diff(text):
            found.diffs.append(text)


def _multipart_body(content_type_raw: bytes, body: bytes) -> _BodyParts:
    found = _BodyParts([], [], [])
    # Only the body is handed to the stdlib parser: the long relay header block was read already.
    tree = email.message_from_bytes(b"Content-Type: " + content_type_raw + b"\n\n" + body)
    stack: list[Message] = [tree]
    while stack:
        part = stack.pop()
        try:
            if part.is_multipart():
                # An embedded message/rfc822 is someone else's mail, not this author's words.
                if part.get_content_maintype() == "message":
                    continue
                children = part.get_payload()
                if isinstance(children, list):
                    stack.extend(
                        reversed([child for child in children if isinstance(child, Message)])
                    )
                continue
            _collect_leaf(part, found)
        except Exception:  # the stdlib raises assorted errors on fuzzed MIME; skip that part
            log.debug("skipping an undecodable MIME part", exc_info=True)
    return found


def _single_part_body(content_type: str, transfer_encoding: str, body: bytes) -> _BodyParts:
    decoded = _decode_transfer(body, transfer_encoding)
    text = _body_text(decoded, _charset_of(content_type))
    maintype = content_type.split(";", 1)[0].strip().lower()
    if maintype == "text/html":
        return _BodyParts([], [html_to_text(text)], [])
    if not maintype or maintype.startswith("text/") or looks_like_diff(text):
        return _BodyParts([text], [], [])
    return _BodyParts([], [], [])


# --- the message ------------------------------------------------------------------------------


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    """The header block and the body of a raw mail (LF line ends, no From_ line)."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    start = _skip_blank_lines(raw)
    if raw.startswith(b"From ", start):  # a From_ line left on a bare message
        newline = raw.find(b"\n", start)
        start = len(raw) if newline < 0 else newline + 1
    end_of_headers = raw.find(b"\n\n", start)
    if end_of_headers < 0:
        return raw[start:], b""
    return raw[start : end_of_headers + 1], raw[end_of_headers + 2 :]


def _body_parts(headers: dict[str, bytes], body: bytes, message_id: str) -> _BodyParts:
    """The texts, HTML parts and attached diffs of a body, by its Content-Type."""
    content_type_raw = headers.get("content-type", b"").replace(b"\n", b"")
    content_type = content_type_raw.decode("ascii", "replace")
    if content_type.lstrip()[:10].lower() == "multipart/":
        try:
            return _multipart_body(content_type_raw, body)
        except Exception:  # a MIME tree the stdlib cannot walk: keep the raw text
            log.debug("multipart body of %s not parseable", message_id, exc_info=True)
            return _BodyParts([_body_text(body, None)], [], [])
    encoding = headers.get("content-transfer-encoding", b"").strip().lower()
    return _single_part_body(content_type, encoding.decode("ascii", "replace"), body)


def parse_message(raw: bytes) -> MailMessage:
    """Parse one raw mail; raises :class:`MailParseError` only if it has no usable Message-ID."""
    if not raw.strip():
        raise MailParseError("empty message")
    raw_size = len(raw)
    block, body = _split_head(raw)
    headers = _read_headers(block)

    raw_id = headers.get("message-id")
    if raw_id is None:
        raise MailParseError("no Message-ID header")
    message_id = _first_id(_header_text(raw_id))
    if message_id is None:
        raise MailParseError("Message-ID header holds no id")

    def text_of(name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else _header_text(value)

    irt_text = text_of("in-reply-to")
    in_reply_to = _reply_target(irt_text) if irt_text else None
    if in_reply_to == message_id:
        in_reply_to = None
    references_text = text_of("references")
    references = _all_ids(references_text, message_id) if references_text else ()
    subject = " ".join((text_of("subject") or "").split())

    # Address headers are split before their encoded-words are decoded: a decoded name may
    # hold a comma or angle brackets.
    def raw_text(name: str) -> str | None:
        value = headers.get(name)
        if value is None:
            return None
        value = value.replace(b"\n", b"")
        return value.decode("ascii") if value.isascii() else decode_text(value)

    author_name, author_email, rewritten = _author(
        raw_text("from") or "", raw_text("reply-to"), raw_text("x-original-from")
    )
    list_id_text = text_of("list-id")
    list_id: str | None = None
    if list_id_text:
        found = _ANGLE_ID.search(list_id_text)
        list_id = (found.group(1).strip() if found else list_id_text.strip()) or None

    parts = _body_parts(headers, body, message_id)
    text = "\n".join(parts.texts) if parts.texts else "\n".join(parts.htmls)
    return MailMessage(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        author_name=author_name,
        author_email=author_email,
        date=_parse_date(text_of("date")),
        body=text,
        attached_diffs=tuple(parts.diffs),
        has_patch=bool(parts.diffs) or looks_like_diff(text),
        list_id=list_id,
        to=recipients(raw_text("to")),
        cc=recipients(raw_text("cc")),
        from_rewritten=rewritten,
        raw_size=raw_size,
    )


@dataclass(frozen=True, slots=True)
class ParsedMbox:
    """The usable messages of an mbox file; ``problems`` says what the stream lost and
    ``unusable`` why each message that could not be parsed was left out. ``corrupt``: the
    gzip stream was damaged, so even the messages before the damage may be garbled."""

    messages: tuple[MailMessage, ...]
    complete: bool
    problems: tuple[str, ...] = ()
    unusable: tuple[str, ...] = ()
    corrupt: bool = False

    @property
    def seen(self) -> int:
        """Messages in the file, usable or not."""
        return len(self.messages) + len(self.unusable)


def parse_mbox(data: bytes) -> ParsedMbox:
    """Split an mboxrd file (gzipped or not) and parse every message in it."""
    archive = read_mbox_archive(data)
    messages: list[MailMessage] = []
    unusable: list[str] = []
    for raw in archive.messages:
        try:
            messages.append(parse_message(raw))
        except MailParseError as exc:
            unusable.append(exc.reason)
    return ParsedMbox(
        tuple(messages), archive.complete, archive.problems, tuple(unusable), archive.corrupt
    )


# --- body normalising for trailer extraction -------------------------------------------------

_SIGNATURE_SEPARATORS = ("\n-- \n", "\n--\n")
_LIST_FOOTER = re.compile(
    r"\n(?:_{10,}[ \t]*\n[^\n]*(?:\n[^\n]*)?mailing list"  # Mailman 2
    r"|(?:-=){5,}-?[ \t]*\n"  # groups.io
    r"|You received this message because you are subscribed to)",  # Google Groups
    re.IGNORECASE,
)


def _own_text_end(text: str) -> int:
    """Where the author's own text ends: the last signature separator or a list footer."""
    end = len(text)
    for separator in _SIGNATURE_SEPARATORS:
        found = text.rfind(separator)
        if found >= 0:
            end = min(end, found + 1)
    if text.endswith(("\n-- ", "\n--")):
        end = min(end, text.rfind("\n") + 1)
    footer = _LIST_FOOTER.search(text, 0, end)
    if footer is not None:
        end = footer.start() + 1
    return end


@dataclass(frozen=True, slots=True)
class NormalizedBody:
    """A body's own text, signature and list footer cut, with its quoted lines known.

    ``quoted_from`` is the offset where an unprefixed quote (Outlook's "Original Message")
    begins; every line from there on is quoted, as is every line starting with ``>``. Line
    flags are computed on demand: the trailer patterns only match at column 0, so they skip
    ``>`` lines by themselves and need just :attr:`own_text`.
    """

    text: str
    quoted_from: int | None = None

    @property
    def own_text(self) -> str:
        """The text before any unprefixed quote ('>' lines are still in it)."""
        return self.text if self.quoted_from is None else self.text[: self.quoted_from]

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.text.split("\n"))

    def _first_quoted_line(self, lines: list[str]) -> int:
        """The number of the line where the unprefixed quote starts (a line start)."""
        if self.quoted_from is None:
            return len(lines)
        return self.text.count("\n", 0, self.quoted_from)

    @property
    def quoted(self) -> tuple[bool, ...]:
        """One flag per line: inside the unprefixed quote, or starting with ``>``."""
        lines = self.text.split("\n")
        first = self._first_quoted_line(lines)
        # str methods rather than a regular expression: several times faster per line.
        return tuple(
            number >= first or line.lstrip(" \t").startswith(">")
            for number, line in enumerate(lines)
        )

    @property
    def quoted_line_numbers(self) -> tuple[int, ...]:
        """The numbers of the quoted lines, as a stored message keeps them."""
        lines = self.text.split("\n")
        first = self._first_quoted_line(lines)
        own = [n for n, line in enumerate(lines[:first]) if line.lstrip(" \t").startswith(">")]
        return (*own, *range(first, len(lines)))

    def unquoted_lines(self) -> Iterator[tuple[int, str]]:
        for number, (line, is_quoted) in enumerate(zip(self.lines, self.quoted, strict=True)):
            if not is_quoted:
                yield number, line


def normalize_body(body: str) -> NormalizedBody:
    """Cut the signature ("-- " line) and mailing-list footers, and find where quoting starts:
    ``>``/``> >`` lines, and Outlook's unprefixed 'Original Message' block."""
    if "\r" in body:
        body = body.replace("\r\n", "\n")
    text = body[: _own_text_end(body)]
    marker = _UNPREFIXED_QUOTE.search("\n" + text)
    return NormalizedBody(text, None if marker is None else marker.start())

# SPDX-License-Identifier: GPL-2.0-or-later
"""The public-inbox test peer answers like lore.kernel.org, and like the recorded 1.9 server.

A real public-inbox-httpd on loopback serves the netfilter-devel 2025 slice and the pwm
thread files.  Each answer is checked against the corpus it was imported from, and its shape
against the answers recorded from public-inbox 1.9 in ``shared/peers/public-inbox-1.9/``.
"""

from __future__ import annotations

import email.policy
import email.utils
import gzip
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from email.parser import BytesHeaderParser
from functools import cache
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.peers import public_inbox_fixtures
from tests.peers.lore_fake import LoreFake
from tests.peers.public_inbox import PublicInbox, archives_dir, shared_dir
from tests.peers.public_inbox_fixtures import PublicInboxPeer, require_public_inbox

pytestmark = pytest.mark.integration

NETFILTER = "netfilter-devel"
PWM = "linux-pwm"
MBOXRD_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
ATOM = "{http://www.w3.org/2005/Atom}"
TH1520_V1 = "20230928170254.413-1-jszhang@kernel.org"
TH1520_V3 = "20231005130519.3864-1-jszhang@kernel.org"
CHIPS_LIFETIME_V1 = "20230808171931.944154-1-u.kleine-koenig@pengutronix.de"
# Headers public-inbox drops on import (PublicInbox::Import, PublicInbox::MDA).
DROPPED_HEADERS = {"delivered-to", "x-original-to", "bytes", "lines", "content-length"}
DROPPED_HEADERS |= {"status", "x-status", "approved", "approve", "x-approved", "x-approve"}
DROPPED_HEADERS |= {"urgent"}


def pi_escape(msgid: str) -> str:
    """A Message-ID in a URL path as public-inbox writes it (MID_ESC): pchar kept, rest %XX."""
    return quote(msgid, safe="!$&'()*+,;=:@")


def recorded(name: str) -> Path:
    return shared_dir() / "peers" / "public-inbox-1.9" / name


# -- mboxrd helpers -----------------------------------------------------------------------


def split_mboxrd(data: bytes) -> list[bytes]:
    """Messages of an mboxrd stream: From_ lines and the blank line ending each one removed,
    one level of >From quoting undone."""
    parts = re.split(rb"(?m)^From mboxrd@z Thu Jan  1 00:00:00 1970\n", data)
    messages = [p[:-1] if p.endswith(b"\n\n") else p for p in parts if p.strip()]
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", m) for m in messages]


def headers(raw: bytes) -> Message:
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)


def msgid_of(raw: bytes) -> str:
    found = re.search(r"<([^>]+)>", str(headers(raw).get("Message-ID", "")))
    assert found, raw[:300]
    return found.group(1)


def msgids(data: bytes) -> list[str]:
    return [msgid_of(m) for m in split_mboxrd(data)]


def refs(header: Message) -> set[str]:
    text = f"{header.get('References', '')} {header.get('In-Reply-To', '')}"
    return set(re.findall(r"<([^>]+)>", text))


def read_mbox(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@cache
def corpus(path: Path) -> dict[str, bytes]:
    """Message-ID -> message bytes of a corpus file (first copy wins)."""
    result: dict[str, bytes] = {}
    for raw in split_mboxrd(read_mbox(path)):
        result.setdefault(msgid_of(raw), raw)
    return result


def netfilter_corpus() -> dict[str, bytes]:
    return corpus(archives_dir() / "netfilter-devel-2025.mbox.gz")


def thread_closure(messages: dict[str, bytes], root: str) -> set[str]:
    """The root and every message that refers to it, directly or through other replies."""
    parents = {mid: refs(headers(raw)) for mid, raw in messages.items()}
    found = {root}
    grew = True
    while grew:
        grew = False
        for mid, up in parents.items():
            if mid not in found and up & found:
                found.add(mid)
                grew = True
    return found


def without_dropped_headers(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode(errors="replace")
        skipping = name in DROPPED_HEADERS
        if not skipping:
            kept.append(line)
    return b"\n".join(kept) + sep + body


def utc_date(header: Message) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(str(header["Date"]))
    except (TypeError, ValueError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


RECEIVED_DATE = re.compile(
    r"([0-9]+\s+[a-zA-Z]+\s+[0-9]{2,4}\s+[0-9]+[^0-9][0-9]+(?:[^0-9][0-9]+)\s+[+-][0-9]+)"
)


def received_at(header: Message) -> datetime | None:
    """Received time as public-inbox takes it: the first Received header that holds a date."""
    for line in header.get_all("Received") or []:
        found = RECEIVED_DATE.search(str(line))
        if found:
            with_zone = email.utils.parsedate_to_datetime(found.group(1))
            return with_zone.astimezone(UTC)
    return None


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(public_inbox: PublicInboxPeer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=public_inbox.url, timeout=60, follow_redirects=False) as c:
        yield c


def search_mbox(client: httpx.Client, inbox: str, query: str, body: bytes = b"") -> httpx.Response:
    return client.post(f"/{inbox}/", params={"q": query, "x": "m"}, content=body)


# -- tests --------------------------------------------------------------------------------


def test_serves_the_imported_inboxes(public_inbox: PublicInboxPeer, client: httpx.Client) -> None:
    assert public_inbox.url.startswith("http://127.0.0.1:")
    assert set(public_inbox.names) == {NETFILTER, PWM}
    assert public_inbox.inboxes[NETFILTER].messages == 4604
    assert public_inbox.inboxes[PWM].messages == 1031
    for name in public_inbox.names:
        page = client.get(f"/{name}/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert public_inbox.inbox_url(name) == f"{public_inbox.url}/{name}/"


def test_raw_is_the_stored_message(client: httpx.Client) -> None:
    """``/<list>/<msgid>/raw``: one mboxrd message, the archived bytes minus delivery headers."""
    recorded_first_line = recorded("raw.eml").read_bytes().split(b"\n", 1)[0] + b"\n"
    messages = corpus(archives_dir() / "threads" / "pwm-th1520-v1-v3.mbox")
    assert len(messages) == 21
    for mid, raw in messages.items():
        answer = client.get(f"/{PWM}/{pi_escape(mid)}/raw")
        assert answer.status_code == 200, mid
        assert answer.headers["content-type"].startswith("text/plain; charset=")
        assert answer.content.startswith(recorded_first_line)
        (served,) = split_mboxrd(answer.content)
        assert served == without_dropped_headers(raw), mid


@pytest.mark.parametrize(
    ("root", "thread_file"),
    [
        (TH1520_V1, "pwm-th1520-v1-v3.mbox"),
        (CHIPS_LIFETIME_V1, "pwm-chips-lifetime-v1-v6.mbox.gz"),
    ],
)
def test_thread_mbox_gz_is_the_whole_thread(
    client: httpx.Client, root: str, thread_file: str
) -> None:
    """``/<list>/<msgid>/t.mbox.gz``: gzip mboxrd of the root and all its descendants."""
    expected = thread_closure(corpus(archives_dir() / "threads" / thread_file), root)
    answer = client.get(f"/{PWM}/{root}/t.mbox.gz")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/gzip"
    assert answer.content[:2] == b"\x1f\x8b"
    data = gzip.decompress(answer.content)
    recorded_data = gzip.decompress(recorded("thread.mbox.gz").read_bytes())
    assert data.split(b"\n", 1)[0] == recorded_data.split(b"\n", 1)[0] == MBOXRD_FROM.strip()
    served = msgids(data)
    assert len(served) == len(set(served))
    assert set(served) == expected
    # Asking from any message of the thread gives the same thread.
    reply = sorted(expected - {root})[0]
    again = gzip.decompress(client.get(f"/{PWM}/{reply}/t.mbox.gz").content)
    assert set(msgids(again)) == expected


def test_redirects_without_trailing_slash(
    public_inbox: PublicInboxPeer, client: httpx.Client
) -> None:
    answer = client.get(f"/{NETFILTER}")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{public_inbox.url}/{NETFILTER}/"
    mid = next(iter(netfilter_corpus()))
    answer = client.get(f"/{NETFILTER}/{mid}")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{public_inbox.url}/{NETFILTER}/{mid}/"
    assert client.get(answer.headers["location"]).status_code == 200
    # At the top level a Message-ID redirects (302) to the inbox holding it, by its PI_CONFIG url.
    answer = client.get(f"/{mid}/")
    assert answer.status_code == 302
    assert answer.headers["location"] == f"{public_inbox.url}/{NETFILTER}/{mid}/"


def test_the_lore_fake_serves_what_this_server_serves(client: httpx.Client) -> None:
    """The fast tests' lore (tests/peers/lore_fake.py) answers as this server does, for the
    thread file they use: the same thread from any of its messages, the same raw messages."""
    path = archives_dir() / "threads" / "pwm-th1520-v1-v3.mbox"
    messages = corpus(path)
    fake = LoreFake()
    fake.add_inbox(PWM, messages.values())
    with httpx.Client(transport=fake.transport(), base_url=fake.url) as lore:
        for mid in messages:
            url = f"/{PWM}/{pi_escape(mid)}/t.mbox.gz"
            real, ours = client.get(url), lore.get(url)
            assert (ours.status_code, ours.headers["content-type"]) == (200, "application/gzip")
            ours_ids = msgids(gzip.decompress(ours.content))
            assert sorted(ours_ids) == sorted(msgids(gzip.decompress(real.content))), mid
            (raw,) = split_mboxrd(lore.get(f"/{PWM}/{pi_escape(mid)}/raw").content)
            assert without_dropped_headers(raw) == without_dropped_headers(messages[mid])
        unknown = "no-such-message.1234@example.invalid"
        for suffix in ("raw", "t.mbox.gz"):
            assert lore.get(f"/{PWM}/{unknown}/{suffix}").status_code == 404
            assert lore.get(f"/{NETFILTER}/{TH1520_V1}/{suffix}").status_code == 404
        # An rt: search matching nothing is a 404 on both.
        future = f"rt:{int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())}.."
        assert search_mbox(client, PWM, future).status_code == 404
        assert search_mbox(lore, PWM, future).status_code == 404


def test_unknown_message_id(client: httpx.Client) -> None:
    """raw and t.mbox.gz answer 404; the HTML page suggests other sites with 300."""
    unknown = "no-such-message.1234@example.invalid"
    for suffix in ("raw", "t.mbox.gz"):
        assert client.get(f"/{NETFILTER}/{unknown}/{suffix}").status_code == 404
    assert client.get(f"/{NETFILTER}/{unknown}/").status_code == 300
    assert client.get(f"/{NETFILTER}/no-such-message-without-at/").status_code == 404
    # A message of another list is not in this one.
    assert client.get(f"/{NETFILTER}/{TH1520_V1}/raw").status_code == 404
    assert client.get(f"/{NETFILTER}/{TH1520_V1}/t.mbox.gz").status_code == 404


def test_search_atom_by_get(public_inbox: PublicInboxPeer, client: httpx.Client) -> None:
    """``GET /<list>/?q=...&x=A``: an Atom feed shaped like the recorded one."""
    query = "s:nftables d:20250301..20250331"
    answer = client.get(f"/{NETFILTER}/", params={"q": query, "x": "A"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml"
    feed = ET.fromstring(answer.content)
    sample = ET.fromstring(recorded("search-sample.atom").read_bytes())
    assert feed.tag == sample.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == f"{query} - search results"
    entries = feed.findall(f"{ATOM}entry")
    sample_entries = sample.findall(f"{ATOM}entry")
    assert entries and sample_entries
    required = set.intersection(*({child.tag for child in e} for e in sample_entries))
    allowed = set.union(*({child.tag for child in e} for e in sample_entries))
    allowed.add("{http://purl.org/syndication/thread/1.0}in-reply-to")  # replies carry it
    for entry in entries:
        assert required <= {child.tag for child in entry} <= allowed
    prefix = f"{public_inbox.url}/{NETFILTER}/"
    links = {e.find(f"{ATOM}link").get("href", "") for e in entries}  # type: ignore[union-attr]
    assert all(link.startswith(prefix) for link in links)
    # The same hits as the mbox download of the same query.
    hits = msgids(gzip.decompress(search_mbox(client, NETFILTER, query).content))
    assert {link[len(prefix) :].rstrip("/") for link in links} == {pi_escape(m) for m in hits}


def test_search_mbox_by_post(client: httpx.Client) -> None:
    """``POST /<list>/?q=...&x=m``: gzip mboxrd of the hits; ``x=full`` in the body: threads."""
    query = "s:nftables d:20250301..20250331"
    answer = search_mbox(client, NETFILTER, query)
    assert answer.status_code == 200
    recorded_head = recorded("post-hdr.txt").read_text()
    assert "Content-Type: application/gzip" in recorded_head
    assert "Content-Disposition: inline; filename=results-" in recorded_head
    assert answer.headers["content-type"] == "application/gzip"
    assert answer.headers["content-disposition"] == (
        "inline; filename=results-s-nftables-d-20250301.20250331.mbox.gz"
    )
    hits = msgids(gzip.decompress(answer.content))
    assert hits and len(hits) == len(set(hits))
    assert set(hits) <= set(netfilter_corpus())
    for mid in hits:
        assert "nftables" in str(headers(netfilter_corpus()[mid])["Subject"]).lower()

    # With x=full (any "x=" but "x=0") in the body, each hit brings its whole thread.
    root = "20250101192015.1577-1-egyszeregy@freemail.hu"
    one = search_mbox(client, NETFILTER, f"m:{root}")
    assert msgids(gzip.decompress(one.content)) == [root]
    threads = search_mbox(client, NETFILTER, f"m:{root}", body=b"x=full")
    assert threads.status_code == 200
    assert "filename=results-thread-" in threads.headers["content-disposition"]
    whole = client.get(f"/{NETFILTER}/{root}/t.mbox.gz")
    thread = set(msgids(gzip.decompress(whole.content)))
    assert len(thread) > 5
    assert set(msgids(gzip.decompress(threads.content))) == thread

    # GET ignores x=m and answers with the HTML results page.
    page = client.get(f"/{NETFILTER}/", params={"q": query, "x": "m"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")

    nothing = search_mbox(client, NETFILTER, "s:zzyzx-no-such-subject-anywhere")
    assert nothing.status_code == 404


def test_date_range_search(client: httpx.Client) -> None:
    """``d:YYYYMMDD..YYYYMMDD`` matches the Date header (UTC), both ends included."""
    first, last = date(2025, 3, 1), date(2025, 3, 8)
    answer = search_mbox(client, NETFILTER, f"d:{first:%Y%m%d}..{last:%Y%m%d}")
    assert answer.status_code == 200
    expected = {
        mid
        for mid, raw in netfilter_corpus().items()
        if (when := utc_date(headers(raw))) and first <= when.date() <= last
    }
    assert len(expected) > 100
    assert set(msgids(gzip.decompress(answer.content))) == expected


def test_received_time_search(client: httpx.Client) -> None:
    """``rt:EPOCH..EPOCH`` matches the time of the first Received header, both ends included."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    end = start + timedelta(days=7)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    answer = search_mbox(client, NETFILTER, f"rt:{lo}..{hi}")
    assert answer.status_code == 200
    expected = {
        mid
        for mid, raw in netfilter_corpus().items()
        if (when := received_at(headers(raw))) and lo <= when.timestamp() <= hi
    }
    assert len(expected) > 20
    assert set(msgids(gzip.decompress(answer.content))) == expected
    # Full UTC timestamps work as well as epoch seconds. (A bare date would not do: git's
    # approxidate, which public-inbox asks, reads "2025-06-01" at the current time of day.)
    by_date = search_mbox(
        client, NETFILTER, f"rt:{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}"
    )
    assert set(msgids(gzip.decompress(by_date.content))) == expected


def test_delivered_message_is_served_at_once(
    public_inbox: PublicInboxPeer, client: httpx.Client
) -> None:
    """deliver() goes through public-inbox-mda; the running server has it at once."""
    before = int(time.time()) - 1
    # '/' and '%' in a Message-ID must be escaped in the URL path; '+' and '@' may be.
    mid = f"a/b%c+d.{uuid.uuid4().hex}@peer.test"
    message = (
        "From: Reviewer <reviewer@peer.test>\n"
        f"To: {PWM}@vger.kernel.org\n"
        "Subject: Re: [PATCH v3 0/2] pwm: add driver for T-THEAD TH1520 SoC\n"
        f"Date: {email.utils.format_datetime(datetime.now(UTC))}\n"
        f"Message-ID: <{mid}>\n"
        f"In-Reply-To: <{TH1520_V3}>\n"
        f"References: <{TH1520_V3}>\n"
        "\n"
        "Reviewed-by: Reviewer <reviewer@peer.test>\n"
        "From here on, a line that mboxrd must quote.\n"
    ).encode()
    public_inbox.deliver(PWM, message)

    escaped = quote(mid, safe="")  # a/b%c+d.X@peer.test -> a%2Fb%25c%2Bd.X%40peer.test
    raw = client.get(f"/{PWM}/{escaped}/raw")
    assert raw.status_code == 200
    (served,) = split_mboxrd(raw.content)
    assert served.startswith(b"Received: from localhost by 127.0.0.1")
    served_head, _, served_body = served.partition(b"\n\n")
    head, _, body = message.partition(b"\n\n")
    assert served_body == body
    # public-inbox-mda adds a List-Id when there is none, as the list server would.
    assert served_head.split(b"\n")[1:] == [
        *head.split(b"\n"),
        b"List-Id: <linux-pwm.vger.kernel.org>",
    ]
    assert client.get(f"/{PWM}/{pi_escape(mid)}/raw").status_code == 200

    thread = gzip.decompress(client.get(f"/{PWM}/{TH1520_V3}/t.mbox.gz").content)
    assert mid in msgids(thread)

    found = search_mbox(client, PWM, f"rt:{before}..")
    assert found.status_code == 200
    assert mid in msgids(gzip.decompress(found.content))
    assert search_mbox(client, PWM, f"rt:{int(time.time()) + 3600}..").status_code == 404
    # The thread-scoped search (what a poller asks): only what arrived since, in that thread.
    scoped = client.post(f"/{PWM}/{TH1520_V3}/", params={"q": f"rt:{before}..", "x": "m"})
    assert scoped.status_code == 200
    assert msgids(gzip.decompress(scoped.content)) == [mid]
    atom = client.get(f"/{PWM}/", params={"q": f"rt:{before}..", "x": "A"})
    assert f'href="{public_inbox.url}/{PWM}/{pi_escape(mid)}/"' in atom.text


def test_import_of_bare_messages_and_cache(tmp_path: Path) -> None:
    """A file with one bare message imports; >From lines survive; a cached import is reused."""
    require_public_inbox()
    body = b"From the start of a line.\n>From quoted once.\n"
    bare = tmp_path / "bare.eml"
    bare.write_bytes(
        b"From: A <a@peer.test>\nTo: t@peer.test\nSubject: bare\n"
        b"Message-ID: <bare-1@peer.test>\nDate: Mon, 1 Sep 2025 10:00:00 +0000\n\n" + body
    )
    mbox = archives_dir() / "threads" / "pwm-th1520-v1-v3.mbox"
    cache_dir = tmp_path / "cache"
    with PublicInbox(tmp_path / "one", cache_dir=cache_dir) as first:
        made = first.create_inbox("test-list", [bare, mbox])
        assert not made.from_cache
        assert made.messages == 22
        origin = first.start_httpd()
        raw = httpx.get(f"{origin}/test-list/bare-1@peer.test/raw", timeout=30)
        assert raw.status_code == 200
        assert split_mboxrd(raw.content)[0].endswith(b"\n\n" + body)
    with PublicInbox(tmp_path / "two", cache_dir=cache_dir) as second:
        again = second.create_inbox("test-list", [bare, mbox])
        assert again.from_cache
        assert again.cache_key == made.cache_key
        assert again.messages == 22
        assert again.inboxdir != made.inboxdir
        other = second.create_inbox("other-list", [bare])
        assert not other.from_cache
    entries = sorted(p.name for p in cache_dir.iterdir() if not p.name.startswith("."))
    assert entries == sorted(
        [f"test-list-{made.cache_key[:24]}", f"other-list-{other.cache_key[:24]}"]
    )


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_missing_public_inbox_skips_outside_ci_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(public_inbox_fixtures, "is_installed", lambda: False)
    monkeypatch.setattr(public_inbox_fixtures, "ensure_installed", lambda: (False, "no apt-get"))
    with pytest.raises(outcome, match="could not be installed: no apt-get"):
        require_public_inbox()

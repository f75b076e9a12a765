# SPDX-License-Identifier: GPL-2.0-or-later
"""The pages' test data and server, shared by the HTTP and the browser tests (session scope).

The store is the recorded netfilter-devel data (tests/unit/test_queries.py builds it) with
review-intel run over it, plus one hostile patch: a mail whose subject, From name and body
carry ``<script>``, ``<img onerror>`` and ``javascript:`` links, and a patch record whose
Patchwork and lore URLs are ``javascript:`` ones. Served by uvicorn on loopback like the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from lkml_assistant.api.app import create_local_app
from lkml_assistant.config import load_settings
from lkml_assistant.models.domain import Person
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.discussions import DiscussionSummary, ThreadWriter
from lkml_assistant.services.review_intel import ReviewIntel
from lkml_assistant.sources.mail import parse_message
from tests.integration.test_api import Served
from tests.unit.test_queries import seeded_store

HOSTILE_PATCH = 990001
HOSTILE_MSGID = "hostile-1@evil.example"
HOSTILE_SUBJECT = (
    "[PATCH] <script>window.__pwned='subject'</script> fix <img src=x "
    'onerror="window.__pwned=\'img\'"> & "quotes"'
)
HOSTILE_NAME = "<img src=x onerror=\"window.__pwned='from'\">Mallory</script>"
HOSTILE_BODY = """\
Hello <script>window.__pwned='body'</script> list,

click <a href="javascript:window.__pwned='link'">here</a> or javascript:alert(1)
<img src=x onerror="window.__pwned='body-img'">

Signed-off-by: Mallory <mallory@evil.example>
---
 net/evil.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/net/evil.c b/net/evil.c
--- a/net/evil.c
+++ b/net/evil.c
@@ -1 +1,2 @@
 int x;
+<script>window.__pwned='diff'</script>
"""
HOSTILE_REPLY = """\
On Mon, Mallory wrote:
> Hello <script>window.__pwned='quote'</script> list,

Nice. <script>window.__pwned='reply'</script>

Reviewed-by: Eve <img src=x onerror=alert(1)> <eve@evil.example>
"""


def _mail(message_id: str, sender: str, subject: str, body: str, reply_to: str = "") -> bytes:
    head = [
        f"Message-ID: <{message_id}>",
        f"From: {sender}",
        "To: netfilter-devel@vger.kernel.org",
        f"Subject: {subject}",
        "Date: Tue, 30 Dec 2025 10:00:00 +0000",
        "List-Id: <netfilter-devel.vger.kernel.org>",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if reply_to:
        head += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"]
    return ("\n".join(head) + "\n\n" + body).encode()


def add_hostile_patch(store: SqliteStore) -> None:
    template = store.patches.page_patches(PatchQuery(), limit=1)[0]
    store.patches.upsert_patches(
        [
            template.model_copy(
                update={
                    "id": HOSTILE_PATCH,
                    "msgid": HOSTILE_MSGID,
                    "name": HOSTILE_SUBJECT,
                    "date": datetime(2025, 12, 30, 10, tzinfo=UTC),
                    "submitter": Person(name=HOSTILE_NAME, email="mallory@evil.example"),
                    "series": (),
                    "web_url": "javascript:window.__pwned='patchwork'",
                    "list_archive_url": "javascript:window.__pwned='lore'",
                    "state": "new",
                }
            )
        ]
    )
    mails = [
        _mail(
            HOSTILE_MSGID,
            f'"{HOSTILE_NAME}" <mallory@evil.example>',
            HOSTILE_SUBJECT,
            HOSTILE_BODY,
        ),
        _mail(
            "hostile-2@evil.example",
            '"Eve <script>window.__pwned=1</script>" <eve@evil.example>',
            "Re: " + HOSTILE_SUBJECT,
            HOSTILE_REPLY,
            reply_to=HOSTILE_MSGID,
        ),
    ]
    ThreadWriter(store).store_mail(
        "netfilter-devel", [parse_message(m) for m in mails], DiscussionSummary(job="test")
    )


@dataclass(frozen=True)
class WebSite:
    url: str
    store: SqliteStore


@pytest.fixture(scope="session")
def web_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The pages and the API on loopback, over the recorded data and the hostile patch."""
    store = seeded_store(tmp_path_factory, "web")
    with store:
        add_hostile_patch(store)
        ReviewIntel(store).run(projects=["netfilter-devel"], since=None)
        settings = load_settings(store=f"sqlite:///{store.path}")
        with Served(create_local_app(store, settings)) as served:
            yield WebSite(url=served.url, store=store)


@pytest.fixture(scope="session")
def web(web_site: WebSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_site.url, timeout=10) as client:
        yield client

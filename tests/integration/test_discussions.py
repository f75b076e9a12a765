# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchDiscussions and RefreshDiscussions against a real public-inbox server.

The patches come from the Patchwork test server (the real netfilter-devel dump), their threads
from public-inbox serving the same real mail, exactly as lore.kernel.org would.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from lkml_assistant.cli import main
from lkml_assistant.models.discussion import TrailerKind
from lkml_assistant.repositories.sqlite import SqliteStore
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration

PROJECT = "netfilter-devel"
# Patch 985 has the longest review thread of the dump (28 replies, no cover letter).
LONG_THREAD_PATCH = 985
LONG_THREAD_MSGID = "20250702174725.11371-1-phil@nwl.cc"
# Patch 55 got a Reviewed-by from Pablo in reply Z32-jODK1oDsAYRp@calendula.
REVIEWED_PATCH = 55


def run(monkeypatch, capsys, env: dict[str, str], *argv: str) -> tuple[int, dict]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main([*argv, "--json", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


@pytest.fixture(scope="module")
def patchwork():
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        yield server


@pytest.fixture(scope="module")
def mirrored(patchwork, tmp_path_factory):
    """A store holding the whole netfilter-devel project, as fetch-patches leaves it."""
    path = tmp_path_factory.mktemp("mirror") / "template.sqlite3"
    env = {
        "LKML_PATCHWORK_URL": patchwork.url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{path}",
        "LKML_REQUEST_INTERVAL": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert main(["fetch-patches", "-q"]) == 0
    return path


@pytest.fixture
def env(mirrored, public_inbox, tmp_path):
    store = tmp_path / "store.sqlite3"
    shutil.copy(mirrored, store)
    return {
        "LKML_LORE_URL": public_inbox.url,
        "LKML_PROJECTS": PROJECT,
        "LKML_STORE": f"sqlite:///{store}",
        "LKML_REQUEST_INTERVAL": "0",
        "LKML_BACKOFF_BASE": "0.05",
    }


def open_store(env: dict[str, str]) -> SqliteStore:
    return SqliteStore(Path(env["LKML_STORE"].removeprefix("sqlite://")))


def test_fetch_discussions_reads_each_thread_once(env, monkeypatch, capsys):
    code, summary = run(monkeypatch, capsys, env, "fetch-discussions")
    assert code == 0
    assert summary["job"] == "fetch-discussions"
    for key in (
        "requests",
        "written",
        "unchanged",
        "skipped",
        "errors",
        "seconds",
        "threads_fetched",
        "messages_written",
    ):
        assert key in summary
    # 2060 patches, far fewer threads: a series is one thread, fetched once.
    assert 500 < summary["threads_fetched"] < 1000
    assert summary["requests"] == summary["threads_fetched"]
    assert summary["messages_written"] > 4000
    assert summary["errors"] == 0

    with open_store(env) as store:
        long = store.discussions.get_discussion(LONG_THREAD_PATCH)
        assert long is not None and long.thread_root == LONG_THREAD_MSGID
        assert long.summary.reply_count == 28
        assert "fw@strlen.de" in long.summary.participants
        messages = store.discussions.thread_messages(LONG_THREAD_MSGID)
        assert len(messages) == 29
        ids = {m.message_id for m in messages}
        assert all(m.parent_id in ids for m in messages if m.message_id != LONG_THREAD_MSGID)

        reviewed = store.discussions.get_discussion(REVIEWED_PATCH)
        assert reviewed is not None
        given = reviewed.summary.given(TrailerKind.REVIEWED_BY)
        assert [(t.email, t.message_id) for t in given] == [
            ("pablo@netfilter.org", "Z32-jODK1oDsAYRp@calendula")
        ]

    # Nothing is left to fetch: the next run asks nothing.
    code, summary = run(monkeypatch, capsys, env, "fetch-discussions")
    assert code == 0 and summary["requests"] == 0 and summary["written"] == 0


def test_a_cover_letter_thread_serves_every_patch_of_its_series(env, monkeypatch, capsys):
    with open_store(env) as store:
        series = store.series.get_series(373)
    assert series is not None and series.cover_letter is not None
    code, summary = run(
        monkeypatch,
        capsys,
        env,
        "fetch-discussions",
        *(f"--patch={pid}" for pid in series.patch_ids),
    )
    assert code == 0
    assert summary["threads_fetched"] == 1
    with open_store(env) as store:
        for pid in series.patch_ids:
            discussion = store.discussions.get_discussion(pid)
            assert discussion is not None
            assert discussion.thread_root == series.cover_letter.msgid


def test_unknown_patch_ids_are_skipped_with_a_reason(env, monkeypatch, capsys):
    code, summary = run(monkeypatch, capsys, env, "fetch-discussions", "--patch", "99999999")
    assert code == 0
    assert summary["skip_reasons"] == {"unknown patch": 1}
    assert summary["requests"] == 0


def reply_to(parent_msgid: str, subject: str, body: str, *, author: str) -> tuple[str, bytes]:
    message = EmailMessage()
    msgid = make_msgid(idstring=uuid.uuid4().hex[:8], domain="review.test")
    message["Message-ID"] = msgid
    message["From"] = author
    message["To"] = "netfilter-devel@vger.kernel.org"
    message["Subject"] = f"Re: {subject}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["In-Reply-To"] = f"<{parent_msgid}>"
    message["References"] = f"<{parent_msgid}>"
    message.set_content(body)
    return msgid.strip("<>"), message.as_bytes()


def test_refresh_fetches_only_the_thread_that_got_a_new_reply(
    env, public_inbox, monkeypatch, capsys
):
    run(monkeypatch, capsys, env, "fetch-discussions")
    # The dump is from 2025: a window wide enough to cover it.
    code, _first = run(monkeypatch, capsys, env, "refresh-discussions", "--days", "3650")
    assert code == 0  # the first refresh of a list fetches every recent thread: the baseline
    code, idle = run(monkeypatch, capsys, env, "refresh-discussions", "--days", "3650")
    assert code == 0
    assert idle["requests"] == 1 and idle["threads_fetched"] == 0 and idle["written"] == 0

    with open_store(env) as store:
        patch = store.patches.get_patch(REVIEWED_PATCH)
        before = store.discussions.get_discussion(REVIEWED_PATCH)
    assert patch is not None and before is not None
    new_id, raw = reply_to(
        patch.msgid,
        patch.name,
        "Looks good to me.\n\nAcked-by: Test Reviewer <reviewer@review.test>\n",
        author="Test Reviewer <reviewer@review.test>",
    )
    public_inbox.deliver(PROJECT, raw)

    code, refresh = run(monkeypatch, capsys, env, "refresh-discussions", "--days", "3650")
    assert code == 0
    assert refresh["threads_fetched"] == 1
    assert refresh["requests"] == 2  # the search, then that one thread
    with open_store(env) as store:
        after = store.discussions.get_discussion(REVIEWED_PATCH)
        assert after is not None
        assert after.summary.reply_count == before.summary.reply_count + 1
        acks = after.summary.given(TrailerKind.ACKED_BY)
        assert [(t.email, t.message_id) for t in acks] == [("reviewer@review.test", new_id)]
        assert new_id in store.discussions.known_message_ids([new_id])


def test_a_reply_patchwork_saw_makes_the_next_fetch_read_that_thread_again(
    env, patchwork, public_inbox, monkeypatch, capsys
):
    run(monkeypatch, capsys, env, "fetch-discussions")
    with open_store(env) as store:
        patch = store.patches.get_patch(LONG_THREAD_PATCH)
        before = store.discussions.get_discussion(LONG_THREAD_PATCH)
    assert patch is not None and before is not None
    new_id, raw = reply_to(
        patch.msgid,
        patch.name,
        "Tested-by: Test Reviewer <reviewer@review.test>\n",
        author="Test Reviewer <reviewer@review.test>",
    )
    public_inbox.deliver(PROJECT, raw)
    patchwork.data.add_comment(LONG_THREAD_PATCH, new_id, "2026-01-01T00:00:00")
    try:
        pw_env = {**env, "LKML_PATCHWORK_URL": patchwork.url}
        code, _ = run(monkeypatch, capsys, pw_env, "fetch-patches")
        assert code == 0
        code, summary = run(monkeypatch, capsys, env, "fetch-discussions")
        assert code == 0
        assert summary["threads_fetched"] == 1 and summary["requests"] == 1
        with open_store(env) as store:
            after = store.discussions.get_discussion(LONG_THREAD_PATCH)
            assert after is not None
            assert after.summary.reply_count == before.summary.reply_count + 1
            assert [t.email for t in after.summary.given(TrailerKind.TESTED_BY)] == [
                "reviewer@review.test"
            ]
    finally:
        patchwork.data.reset()


def test_message_ids_with_path_characters_stay_inside_the_list(public_inbox):
    from lkml_assistant.sources.http import HttpClient
    from lkml_assistant.sources.lore import LoreClient

    odd = f"a/b%c+d?e#f.{uuid.uuid4().hex[:6]}@odd.test"
    message = EmailMessage()
    message["Message-ID"] = f"<{odd}>"
    message["From"] = "Odd Sender <odd@odd.test>"
    message["Subject"] = "[PATCH] odd: message id"
    message["Date"] = format_datetime(datetime.now(UTC))
    message.set_content("A patch with an awkward Message-ID.\n")
    public_inbox.deliver(PROJECT, message.as_bytes())
    with HttpClient(interval=0) as http:
        lore = LoreClient(http, public_inbox.url)
        data = lore.thread_mbox(PROJECT, odd)
        assert data is not None and odd.encode() in __import__("gzip").decompress(data)
        assert lore.thread_mbox(PROJECT, "..") is None
        assert lore.message_url(PROJECT, "..").endswith("/netfilter-devel/%2E%2E/")

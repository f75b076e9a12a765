# SPDX-License-Identifier: GPL-2.0-or-later
"""FetchDiscussions and RefreshDiscussions against a real public-inbox server.

The patches come from the Patchwork test server (the real netfilter-devel dump), their threads
from public-inbox serving the same real mail, exactly as lore.kernel.org would.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from lkml_assistant.cli import main
from lkml_assistant.config import Settings
from lkml_assistant.models.discussion import TrailerKind
from lkml_assistant.repositories.base import PatchQuery
from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.services.refresh_discussions import RefreshDiscussions
from lkml_assistant.wiring import lore_client
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server
from tests.peers.public_inbox import reply_mail

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
    return reply_mail(parent_msgid, subject, body, author=author, domain="review.test")


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


# Florian Westphal's pull request of 10 December 2025 ("[PATCH net 0/4] netfilter: updates
# for net", patches 2027-2031) shares its subject with his pull request of 8 October.
# public-inbox joins the two by subject, and which half a download holds depends on the
# message asked for: the December cover brings the October cover, a December patch does not.
DECEMBER_COVER = "20251210110754.22620-1-fw@strlen.de"
DECEMBER_PATCHES = range(2027, 2032)


def test_a_posting_joined_by_subject_keeps_its_own_thread(env, monkeypatch, capsys):
    code, first = run(monkeypatch, capsys, env, "fetch-discussions", "--patch", "2027")
    assert code == 0 and first["threads_fetched"] == 1
    with open_store(env) as store:
        found = store.discussions.get_discussions(DECEMBER_PATCHES)
        assert set(found) == set(DECEMBER_PATCHES)
        assert {d.thread_root for d in found.values()} == {DECEMBER_COVER}
        thread = {m.message_id for m in store.discussions.thread_messages(DECEMBER_COVER)}
        assert {f"20251210110754.22620-{n}-fw@strlen.de" for n in range(1, 6)} <= thread
        assert not any(mid.startswith("20251008125942.") for mid in thread)
        assert store.discussions.thread_messages("20251008125942.25056-1-fw@strlen.de") == []
    # Read again through one of its patches: the same thread, so nothing moves.
    code, again = run(monkeypatch, capsys, env, "fetch-discussions", "--patch", "2029")
    assert code == 0 and again["threads_fetched"] == 1
    assert again["written"] == 0 and again["messages_written"] == 0


def test_one_task_per_series_with_or_without_a_cover_letter(env):
    from lkml_assistant.services.fetch_discussions import plan_threads

    with open_store(env) as store:
        tasks = plan_threads(store, projects=[PROJECT])
        patches = store.patches.get_patches(pid for task in tasks for pid in task.patch_ids)
        assert sum(len(task.patch_ids) for task in tasks) == len(patches) > 2000
        series_of = {pid: p.series[0].id if p.series else None for pid, p in patches.items()}
        seen: set[int] = set()
        coverless = 0
        for task in tasks:
            series = {series_of[pid] for pid in task.patch_ids}
            assert len(series) == 1  # a task never mixes series
            (series_id,) = series
            if series_id is None:
                continue
            assert series_id not in seen  # nor does a series get two tasks
            seen.add(series_id)
            cover = store.series.get_series(series_id)
            assert cover is not None
            if cover.cover_letter is None:
                coverless += 1
                # Anchored at the series' first patch, which the others answer.
                assert task.anchor == patches[min(task.patch_ids)].msgid
        assert coverless > 100


def test_patches_sent_unthreaded_are_each_found_in_their_own_thread(
    env, patchwork, public_inbox, monkeypatch, capsys
):
    # A two-patch series sent without threading (no cover, 2/2 answers nothing): its task is
    # anchored at 1/2, whose thread does not hold 2/2, which is then read on its own.
    tag = uuid.uuid4().hex[:8]
    mails = []
    for number, title in ((1, "add a counter"), (2, "document the knob")):
        message = EmailMessage()
        msgid = make_msgid(f"unthreaded-{number}-{tag}", "unthreaded.test")
        message["Message-ID"] = msgid
        message["From"] = "Patch Sender <sender@unthreaded.test>"
        message["To"] = "netfilter-devel@vger.kernel.org"
        message["Subject"] = f"[PATCH {number}/2] nft: {title} {tag}"
        message["Date"] = format_datetime(datetime.now(UTC))
        message.set_content(f"{title}\n\nSigned-off-by: Patch Sender <sender@unthreaded.test>\n")
        public_inbox.deliver(PROJECT, message.as_bytes())
        mails.append((msgid.strip("<>"), message["Subject"]))
    first = patchwork.data.add_patch(project=PROJECT, name=mails[0][1], msgid=mails[0][0], total=2)
    series = patchwork.data.get_patch(first)["series"][0]["id"]
    second = patchwork.data.add_patch(
        project=PROJECT, name=mails[1][1], msgid=mails[1][0], series=series, number=2, total=2
    )
    try:
        code, _ = run(
            monkeypatch, capsys, {**env, "LKML_PATCHWORK_URL": patchwork.url}, "fetch-patches"
        )
        assert code == 0
        code, summary = run(
            monkeypatch,
            capsys,
            env,
            "fetch-discussions",
            "--patch",
            str(first),
            "--patch",
            str(second),
        )
        assert code == 0 and summary["requests"] == 2 and summary["skipped"] == 0
        with open_store(env) as store:
            found = store.discussions.get_discussions([first, second])
            assert {pid: d.thread_root for pid, d in found.items()} == {
                first: mails[0][0],
                second: mails[1][0],
            }
    finally:
        patchwork.data.reset()


def test_a_reply_to_a_year_old_patch_is_seen_by_the_refresh(env, public_inbox, monkeypatch, capsys):
    """A regression report answering an old patch: no thread is recent, yet the list is
    searched and the old thread read again (issue 12, point 9). "now" is pinned; the
    archive's received time (rt:) follows the pinned Received: stamp."""
    run(monkeypatch, capsys, env, "fetch-discussions")
    with open_store(env) as store:
        oldest = min(
            store.patches.page_patches(PatchQuery(project=PROJECT), limit=10_000),
            key=lambda p: (p.date, p.id),
        )
        before = store.discussions.get_discussion(oldest.id)
    assert before is not None and before.thread_root is not None
    now = oldest.date + timedelta(days=400)
    settings = Settings(lore_url=env["LKML_LORE_URL"], request_interval=0)
    with open_store(env) as store, lore_client(settings) as lore:
        first = RefreshDiscussions(store, lore).run(days=14, now=now)
        assert first.threads_fetched == 0  # no recent thread: nothing to re-read at first
        assert store.cursors.get_lore_cursor(PROJECT) is not None  # but the list is followed

    new_id, raw = reply_to(
        oldest.msgid,
        oldest.name,
        "This broke my setup after the upgrade.\n\nReported-by: Late User <late@review.test>\n",
        author="Late User <late@review.test>",
    )
    public_inbox.deliver(PROJECT, raw, received=now + timedelta(hours=1))
    with open_store(env) as store, lore_client(settings) as lore:
        later = RefreshDiscussions(store, lore).run(days=14, now=now + timedelta(hours=2))
        assert later.threads_fetched == 1
        assert later.requests == 2  # the search, then that one thread: K + 1
        after = store.discussions.get_discussion(oldest.id)
        assert after is not None
        assert after.summary.reply_count == before.summary.reply_count + 1
        reported = after.summary.given(TrailerKind.REPORTED_BY)
        assert [(t.email, t.message_id) for t in reported] == [("late@review.test", new_id)]


def test_the_daily_refresh_rereads_threads_that_can_change_and_the_weekly_the_settled_ones(
    env, public_inbox
):
    """Issue 14: the daily re-read is limited to the threads that can still change (an open
    patch, recent mail); a late reply the search cannot see (received before the last
    refresh, as mail indexed late) is still found on an open patch's thread by the daily run,
    and on a settled thread by the weekly one only. Real data: the dump's last two weeks,
    their review status decided by review-intel from the real mail. "now" is pinned."""
    from lkml_assistant.models.records import LoreCursor
    from lkml_assistant.services.review_intel import ReviewIntel

    now = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)
    since = now - timedelta(days=14)
    settings = Settings(lore_url=env["LKML_LORE_URL"], request_interval=0)
    with open_store(env) as store, lore_client(settings) as lore:
        window = store.patches.page_patches(PatchQuery(project=PROJECT, since=since), limit=1000)
        assert window
        from lkml_assistant.services.fetch_discussions import FetchDiscussions

        FetchDiscussions(store, lore).run(patch_ids=[p.id for p in window])
        ReviewIntel(store).run(projects=[PROJECT], since=now - timedelta(days=60))
        refresh = RefreshDiscussions(store, lore, settled_days=3)
        every = set(store.discussions.recent_thread_roots(since))
        live = refresh.changing_roots(since, now)
        settled = every - live
        assert live and settled, (len(every), len(live))
        # Roots whose last mail is older than the quiet days: live only by being open.
        quiet_before = now - timedelta(days=3)
        patches = store.discussions.recent_thread_patches(since)
        last: dict[str, datetime] = {}
        for p in patches:
            moments = [m for m in (p.last_activity, p.patch_date) if m]
            last[p.thread_root] = max([last.get(p.thread_root, since), *moments])
        open_root = min(r for r in live if last[r] < quiet_before)
        settled_root = min(settled)
        lists = store.discussions.recent_thread_roots(since)
        before = {
            root: len(store.discussions.thread_messages(root)) for root in (open_root, settled_root)
        }
        # The last refresh was a day ago: replies received before it are not in its search.
        store.cursors.save_lore_cursor(PROJECT, LoreCursor(received_until=now - timedelta(days=1)))

    late = {}
    for root in (open_root, settled_root):
        new_id, raw = reply_to(
            root, "Re: late", "One more thing.\n", author="Late Reviewer <late@review.test>"
        )
        public_inbox.deliver(lists[root], raw, received=now - timedelta(days=2))
        late[root] = new_id

    with open_store(env) as store, lore_client(settings) as lore:
        daily = RefreshDiscussions(store, lore, settled_days=3).run(days=14, changing=True, now=now)
        assert daily.errors == 0
        assert daily.threads_settled == len(settled)
        assert daily.threads_fetched < len(every)  # the old --full read them all
        known = store.discussions.known_message_ids(late.values())
        assert late[open_root] in known  # the open patch's late reply: found daily
        assert late[settled_root] not in known  # the settled thread: not read daily
        assert len(store.discussions.thread_messages(settled_root)) == before[settled_root]

        weekly = RefreshDiscussions(store, lore).run(days=30, full=True, now=now)
        assert weekly.threads_fetched >= len(every)
        assert late[settled_root] in store.discussions.known_message_ids([late[settled_root]])
        assert len(store.discussions.thread_messages(settled_root)) == before[settled_root] + 1

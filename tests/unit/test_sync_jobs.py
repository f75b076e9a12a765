# SPDX-License-Identifier: GPL-2.0-or-later
"""The four sync jobs end to end in milliseconds: fakes at the HTTP level, no process, no socket.

Patchwork is the project's test server answering in process (its faults and request log
included); lore is :class:`~tests.peers.lore_fake.LoreFake` over a real thread file of the
corpus: the T-HEAD TH1520 PWM driver, posted as v1, v2 and v3 of a two-patch series, reviewed
on the list (a Reviewed-by on v2, a Tested-by on v3 half a year later). The jobs run through
their public constructors and ``run`` methods, and what they did is read back the way the API
shows it (:class:`~lkml_assistant.services.queries.QueryService`).

No job here reads the wall clock: every window is counted from :data:`NOW`, and the lore
archive is the list as it stood then. (The Patchwork test server stamps the events it emits
with its own clock, as a real one does; the jobs only compare them with each other.)
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from lkml_assistant.config import load_settings
from lkml_assistant.models.api import PatchDetail, PatchItem
from lkml_assistant.repositories import Store, open_store
from lkml_assistant.services.fetch_discussions import FetchDiscussions
from lkml_assistant.services.fetch_patches import FetchPatches, FetchPatchesSummary
from lkml_assistant.services.queries.service import QueryService
from lkml_assistant.services.queries.validation import build_patch_query
from lkml_assistant.services.refresh_discussions import RefreshDiscussions
from lkml_assistant.services.review_intel import ReviewIntel
from lkml_assistant.sources.http import HttpClient, RetryPolicy
from lkml_assistant.sources.lore import LoreClient
from lkml_assistant.sources.patchwork import PatchworkClient
from tests.corpus import mbox_messages, threads_path
from tests.peers.lore_fake import LoreFake
from tests.peers.patchwork_server import PatchworkData, PatchworkServer, mail_content

LIST = "linux-pwm"
THREADS = threads_path("pwm-th1520-v1-v3.mbox")
# The morning of the Tested-by on v3 (2024-04-15 11:48 UTC): every other reply is in.
NOW = datetime(2024, 4, 15, 6, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=365)
LATE_REPLY = "<9f8a584c-03a7-437e-96a7-56484523b2e4@bootlin.com>"
SUBJECTS = [
    f"[PATCH{version} {part}"
    for version in ("", " v2", " v3")
    for part in (
        "1/2] dt-bindings: pwm: Add T-HEAD PWM controller",
        "2/2] pwm: add T-HEAD PWM driver",
    )
]
_PATCH_SUBJECT = re.compile(r"\[PATCH(?: v(?P<version>\d+))? (?P<number>\d+)/(?P<total>\d+)\]")


def _headers(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _date(raw: bytes) -> datetime:
    return email.utils.parsedate_to_datetime(_headers(raw)["Date"]).astimezone(UTC)


@cache
def _project() -> dict[str, Any]:
    """A project shaped as the test server serves one (its synthetic data's, with no patches)."""
    return PatchworkData.synthetic(0, LIST, mbox=False).list_projects()[0]


def th1520_patchwork() -> PatchworkData:
    """The patches of the thread file as Patchwork parsed them from the list, oldest first.

    Each version is one series (its patches answer the same cover letter); the cover letters
    themselves are left out, as for a list whose covers Patchwork did not keep.
    """
    data = PatchworkData(projects=[_project()])
    series: dict[str, int] = {}  # the cover letter's Message-ID -> the series of its patches
    for raw in sorted(mbox_messages(THREADS), key=_date):
        mail = _headers(raw)
        subject = " ".join(mail["Subject"].split())
        found = _PATCH_SUBJECT.match(subject)
        if subject.startswith("Re:") or found is None or found["number"] == "0":
            continue
        diff, content = mail_content(mail)
        cover = mail["In-Reply-To"]
        pid = data.add_patch(
            project=LIST,
            name=subject,
            date=_date(raw).replace(tzinfo=None),
            msgid=mail["Message-ID"],
            submitter=mail["From"],
            series=series.get(cover),
            number=int(found["number"]),
            total=int(found["total"]),
            version=int(found["version"] or 1),
            content=content,
            diff=diff,
        )
        stored = data.get_patch(pid)
        assert stored is not None
        series.setdefault(cover, stored["series"][0]["id"])
    return data


def quiet_http(transport: httpx.BaseTransport) -> HttpClient:
    """The product's HTTP client with no pacing and retries that do not wait."""
    return HttpClient(
        transport=transport,
        interval=0,
        policy=RetryPolicy(retries=3, backoff_base=0),
        sleep=lambda _seconds: None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(load_settings(store=f"sqlite:///{tmp_path}/store.sqlite3")) as opened:
        yield opened


@pytest.fixture
def patchwork() -> PatchworkServer:
    return PatchworkServer(th1520_patchwork())


@pytest.fixture
def patchwork_client(patchwork: PatchworkServer) -> Iterator[PatchworkClient]:
    with quiet_http(patchwork.transport()) as http:
        # Four a page: the six patches and three series take more than one page each.
        yield PatchworkClient(http, f"{patchwork.url}/api/1.3", page_size=4)


@pytest.fixture
def lore() -> LoreFake:
    """The list's archive on the morning of :data:`NOW`."""
    fake = LoreFake()
    fake.add_inbox(LIST, [raw for raw in mbox_messages(THREADS) if _date(raw) <= NOW])
    return fake


@pytest.fixture
def lore_client(lore: LoreFake) -> Iterator[LoreClient]:
    with quiet_http(lore.transport()) as http:
        yield LoreClient(http, lore.url)


def fetch_patches(
    store: Store, client: PatchworkClient, *, since: datetime | None = SINCE
) -> FetchPatchesSummary:
    """A first crawl starts at the window, as the jobs' is; later ones pass ``since=None``."""
    return FetchPatches(store, client, server_tz=UTC).run([LIST], since=since)


def patches_by_name(store: Store) -> dict[str, PatchItem]:
    """The project's patches as ``GET /patches?project=`` lists them, by subject."""
    page = QueryService(store).patches(build_patch_query(project=LIST), limit=100)
    return {item.name: item for item in page.items}


def raw_message(message_id: str) -> bytes:
    return next(raw for raw in mbox_messages(THREADS) if _headers(raw)["Message-ID"] == message_id)


def fetch_discussions(store: Store, lore: LoreClient) -> None:
    summary = FetchDiscussions(store, lore).run(projects=[LIST], since=SINCE)
    assert summary.status == "ok", summary.error_messages


def trailers(detail: PatchDetail) -> set[tuple[str, str]]:
    assert detail.review is not None, f"no discussion stored for {detail.name}"
    return {(t.kind, t.email) for t in detail.review.trailers}


def test_first_crawl_stores_every_patch_with_its_state_and_series(store, patchwork_client):
    summary = fetch_patches(store, patchwork_client)
    assert summary.status == "ok" and summary.errors == 0
    assert (summary.patches_seen, summary.series_seen) == (6, 3)
    patches = patches_by_name(store)
    assert sorted(patches) == sorted(SUBJECTS)
    assert {p.state for p in patches.values()} == {"new"}
    v3 = patches["[PATCH v3 2/2] pwm: add T-HEAD PWM driver"]
    series = QueryService(store).series(v3.series[0].id)
    assert (series.version, series.total) == (3, 2)
    assert [p.name for p in series.patches] == [
        "[PATCH v3 1/2] dt-bindings: pwm: Add T-HEAD PWM controller",
        "[PATCH v3 2/2] pwm: add T-HEAD PWM driver",
    ]


def test_an_incremental_crawl_sees_state_changes_through_events(store, patchwork, patchwork_client):
    fetch_patches(store, patchwork_client)
    v1 = patches_by_name(store)["[PATCH 2/2] pwm: add T-HEAD PWM driver"]
    v3 = patches_by_name(store)["[PATCH v3 2/2] pwm: add T-HEAD PWM driver"]
    patchwork.data.set_state(v1.id, "superseded")
    patchwork.data.set_state(v3.id, "accepted", commit_ref="0a41b0c5d97a")

    later = fetch_patches(store, patchwork_client, since=None)
    assert later.status == "ok" and later.written >= 2
    details = {p.id: QueryService(store).patch(p.id) for p in (v1, v3)}
    assert details[v1.id].state == "superseded"
    assert (details[v3.id].state, details[v3.id].commit_ref) == ("accepted", "0a41b0c5d97a")
    assert {p.state for p in patches_by_name(store).values()} == {"new", "superseded", "accepted"}

    # Nothing new upstream: two requests (the newest event, the newest patches), nothing written.
    quiet = fetch_patches(store, patchwork_client, since=None)
    assert (quiet.status, quiet.written, quiet.requests) == ("ok", 0, 2)


def test_a_patchwork_fault_is_retried_and_the_crawl_completes(store, patchwork, patchwork_client):
    patchwork.faults.add(r"^/api/1\.3/patches/$", "503", times=2)
    patchwork.faults.add(r"^/api/1\.3/series/$", "malformed")
    summary = fetch_patches(store, patchwork_client)
    assert summary.status == "ok" and summary.errors == 0
    assert sorted(patches_by_name(store)) == sorted(SUBJECTS)
    assert len(patchwork.faults) == 0, "every fault fired"
    # A lasting outage is a failed run, said in one line, not a crash.
    patchwork.faults.add(r"^/api/1\.3/events/$", "500", times=10)
    failed = fetch_patches(store, patchwork_client, since=None)
    assert failed.status == "failed" and failed.errors == 1
    assert "HTTP 500" in failed.error_messages[0]


def test_a_thread_is_fetched_and_its_trailers_stored(store, patchwork_client, lore, lore_client):
    fetch_patches(store, patchwork_client)
    summary = FetchDiscussions(store, lore_client).run(projects=[LIST], since=SINCE)
    assert summary.status == "ok" and summary.errors == 0
    # One thread a version: a series' patches answer the same cover letter.
    assert summary.threads_fetched == 3
    assert len(lore.requests) == 3
    query = QueryService(store)
    patches = patches_by_name(store)
    v2 = query.patch(patches["[PATCH v2 1/2] dt-bindings: pwm: Add T-HEAD PWM controller"].id)
    assert ("reviewed-by", "robh@kernel.org") in trailers(v2)
    v3 = query.patch(patches["[PATCH v3 1/2] dt-bindings: pwm: Add T-HEAD PWM controller"].id)
    assert ("acked-by", "u.kleine-koenig@pengutronix.de") in trailers(v3)
    assert v3.review is not None
    assert {(t.kind, t.email) for t in v3.review.carried} == {("reviewed-by", "robh@kernel.org")}
    v1 = query.patch(patches["[PATCH 2/2] pwm: add T-HEAD PWM driver"].id)
    assert v1.review is not None and v1.review.reply_count == 2
    assert set(v1.review.participants) == {
        "emil.renner.berthing@canonical.com",
        "u.kleine-koenig@pengutronix.de",
    }
    thread = query.discussion(v1.id)
    assert thread.thread_root == "20230928170254.413-1-jszhang@kernel.org"
    # Fetched once: a second run asks lore nothing.
    again = FetchDiscussions(store, lore_client).run(projects=[LIST], since=SINCE)
    assert (again.threads_fetched, again.requests) == (0, 0)


def test_refresh_fetches_again_only_the_threads_with_new_mail(
    store, patchwork_client, lore, lore_client
):
    fetch_patches(store, patchwork_client)
    fetch_discussions(store, lore_client)
    refresh = RefreshDiscussions(store, lore_client)
    # The first refresh has no cursor yet: it reads every recent thread once.
    first = refresh.run(days=365, now=NOW)
    assert first.status == "ok" and first.threads_fetched == 3

    lore.deliver(LIST, raw_message(LATE_REPLY))  # the Tested-by on v3, at 11:48 that day
    lore.requests.clear()
    later = refresh.run(days=365, now=NOW + timedelta(days=1))
    assert later.status == "ok" and later.errors == 0
    # One search, then the one thread that received mail.
    assert (later.requests, later.threads_fetched, later.messages_written) == (2, 1, 1)
    assert [r.path for r in lore.requests if r.method == "GET"] == [
        "/linux-pwm/20231005130519.3864-1-jszhang@kernel.org/t.mbox.gz"
    ]
    v3 = patches_by_name(store)["[PATCH v3 2/2] pwm: add T-HEAD PWM driver"]
    assert ("tested-by", "thomas.bonnefille@bootlin.com") in trailers(
        QueryService(store).patch(v3.id)
    )

    quiet = refresh.run(days=365, now=NOW + timedelta(days=2))
    assert (quiet.requests, quiet.threads_fetched) == (1, 0)


def test_review_intel_links_the_versions_and_marks_the_old_ones_superseded(
    store, patchwork_client, lore_client
):
    fetch_patches(store, patchwork_client)
    fetch_discussions(store, lore_client)
    summary = ReviewIntel(store).run(projects=[LIST], since=SINCE)
    assert summary.status == "ok" and (summary.series_seen, summary.chains) == (3, 1)
    query = QueryService(store)
    patches = patches_by_name(store)
    v1 = patches["[PATCH 1/2] dt-bindings: pwm: Add T-HEAD PWM controller"]
    chain = query.versions(v1.series[0].id)
    assert [v.version for v in chain.versions] == [1, 2, 3]
    assert [v.rule for v in chain.versions] == [None, "subject", "subject"]
    assert [v.status for v in chain.versions[:2]] == ["superseded", "superseded"]
    assert chain.latest == chain.versions[2].series_id
    statuses = {name: p.review_status for name, p in patches_by_name(store).items()}
    assert statuses == {
        **{name: "superseded" for name in SUBJECTS[:4]},
        # Acked by the maintainer; the driver still under discussion.
        "[PATCH v3 1/2] dt-bindings: pwm: Add T-HEAD PWM controller": "reviewed",
        "[PATCH v3 2/2] pwm: add T-HEAD PWM driver": "in-discussion",
    }
    v3 = query.patch(patches["[PATCH v3 1/2] dt-bindings: pwm: Add T-HEAD PWM controller"].id)
    assert v3.status is not None
    assert v3.status.reviewers == ["u.kleine-koenig@pengutronix.de"]
    # From the store alone, and idempotent: a second run writes nothing.
    again = ReviewIntel(store).run(projects=[LIST], since=SINCE)
    assert (again.written, again.requests) == (0, 0)

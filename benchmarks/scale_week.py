# SPDX-License-Identifier: GPL-2.0-or-later
"""A week of upstream traffic for the scale replay, at patchwork.kernel.org's rates.

About 3,000 new patches a week over 100 projects (30 a project), in series shaped as the
recorded netfilter-devel dump's (45 % single patches, else 1 to 6, half of the longer ones
with a cover letter), arriving at any hour, fewer on the weekend; about one reply per patch,
hours after it (exponential, mean 18 h), 40 % of them carrying a trailer (Reviewed-by,
Acked-by, Tested-by); about 60 % of the new patches change state within the week (accepted,
changes requested, superseded, rejected: a ``patch-state-changed`` event dated when it
happens), and a few late replies and state changes of the patches already in the window.

:func:`week_traffic` draws the events (deterministic for a seed); :func:`apply_until` plays
those due by a moment into the Patchwork test server's data and the lore fake, as mail and
maintainers would, between two runs.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

PATCHES_PER_PROJECT_WEEK = 30.0
REPLIES_PER_PATCH = 1.0
REPLY_DELAY_HOURS = 18.0
TRAILER_SHARE = 0.4
STATE_CHANGE_SHARE = 0.6
STATE_DELAY_HOURS = 48.0
OLD_PATCH_REPLY_SHARE = 0.2
OLD_PATCH_STATE_SHARE = 0.15
WEEKEND_FACTOR = 0.4
STATES = (("accepted", 0.5), ("changes-requested", 0.25), ("superseded", 0.15), ("rejected", 0.1))
TRAILERS = ("Reviewed-by", "Acked-by", "Tested-by")


@dataclass(order=True)
class Event:
    at: datetime
    serial: int
    kind: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class Traffic:
    """What arrives during the week, in time order; counts of what was played."""

    events: list[Event]
    serial: int = 0
    played: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(17))

    def push(self, at: datetime, kind: str, **args: Any) -> None:
        self.serial += 1
        heapq.heappush(self.events, Event(at, self.serial, kind, args))


def _arrival(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment of the week, weekends at WEEKEND_FACTOR of a weekday's rate."""
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.random() * span)
        if moment.weekday() < 5 or rng.random() < WEEKEND_FACTOR:
            return moment


def week_traffic(
    names: list[str], start: datetime, end: datetime, old_patches: list[dict[str, Any]]
) -> Traffic:
    """New series for every project at the week's rate, state changes and late replies of
    ``old_patches`` (those already in the window)."""
    rng = random.Random(14_7)
    traffic = Traffic([])
    days = (end - start).total_seconds() / 86_400
    per_project = PATCHES_PER_PROJECT_WEEK * days / 7
    for name in names:
        remaining = int(per_project) + (1 if rng.random() < per_project % 1 else 0)
        while remaining > 0:
            size = min(remaining, 1 if rng.random() < 0.45 else rng.randint(1, 6))
            remaining -= size
            traffic.push(_arrival(rng, start, end), "series", project=name, size=size)
    for patch in old_patches:
        if rng.random() < OLD_PATCH_REPLY_SHARE:
            at = start + (end - start) * rng.random()
            traffic.push(at, "reply", patch=patch)
        if patch.get("state") == "new" and rng.random() < OLD_PATCH_STATE_SHARE:
            traffic.push(start + (end - start) * rng.random(), "state", patch_id=patch["id"])
    return traffic


def apply_until(traffic: Traffic, moment: datetime, data: Any, lore: Any, end: datetime) -> None:
    """Play every event due by ``moment`` (aware, UTC); a new series schedules its replies and
    state changes (those before ``end``)."""
    rng = traffic.rng
    projects = {p["link_name"]: p for p in data.list_projects()}
    templates: list[dict[str, Any]] | None = None
    while traffic.events and traffic.events[0].at <= moment:
        event = heapq.heappop(traffic.events)
        traffic.played[event.kind] = traffic.played.get(event.kind, 0) + 1
        naive = event.at.astimezone(UTC).replace(tzinfo=None)
        if event.kind == "series":
            if templates is None:
                templates = list(data._s.patches.values())[:200]
            for patch in _new_series(data, lore, rng, templates, projects, event, naive):
                for _ in range(_poisson(rng, REPLIES_PER_PATCH)):
                    at = event.at + timedelta(hours=rng.expovariate(1 / REPLY_DELAY_HOURS))
                    if at < end:
                        traffic.push(at, "reply", patch=patch)
                if rng.random() < STATE_CHANGE_SHARE:
                    at = event.at + timedelta(hours=rng.expovariate(1 / STATE_DELAY_HOURS))
                    if at < end:
                        traffic.push(at, "state", patch_id=patch["id"])
        elif event.kind == "reply":
            patch = event.args["patch"]
            link = _link_name(data, patch)
            trailer = rng.choice(TRAILERS) if rng.random() < TRAILER_SHARE else None
            reply_id = f"<re{traffic.serial}.{event.serial}-{patch['id']}@reviewer.example>"
            deliver(lore, link, reply_id, f"Re: {patch['name']}", patch["msgid"], event.at, trailer)
        elif event.kind == "state":
            state = _pick_state(rng)
            data.set_state(event.args["patch_id"], state, clock=naive)


def _new_series(
    data: Any,
    lore: Any,
    rng: random.Random,
    templates: list[dict[str, Any]],
    projects: dict[str, Any],
    event: Event,
    naive: datetime,
) -> list[dict[str, Any]]:
    name = event.args["project"]
    with data.lock:
        first_patch = data._s.next_ids["patch"]
        first_cover = data._s.next_ids["cover"]
        data._synthetic_series(
            rng,
            templates,
            projects[name],
            100_000 + event.serial,
            event.args["size"],
            naive,
            0.5,
            0.0,
        )
        patch_ids = range(first_patch, data._s.next_ids["patch"])
        cover_ids = range(first_cover, data._s.next_ids["cover"])
    covers = [data.get_cover(cid) for cid in cover_ids]
    patches = [data.get_patch(pid) for pid in patch_ids]
    parent = covers[0]["msgid"] if covers else None
    for cover in covers:
        deliver(lore, name, cover["msgid"], cover["name"], None, event.at, None, cover)
    for patch in patches:
        first = parent or (patches[0]["msgid"] if patch is not patches[0] else None)
        deliver(lore, name, patch["msgid"], patch["name"], first, event.at, None, patch)
    return patches


def _link_name(data: Any, patch: dict[str, Any]) -> str:
    project = data.get_project(patch["project"]["id"])
    return str(project["link_name"])


def _pick_state(rng: random.Random) -> str:
    draw = rng.random()
    for state, share in STATES:
        if draw < share:
            return state
        draw -= share
    return STATES[-1][0]


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def deliver(
    lore: Any,
    list_name: str,
    msgid: str,
    subject: str,
    parent: str | None,
    date: datetime,
    trailer: str | None,
    author: dict[str, Any] | None = None,
) -> None:
    """One mail into ``list_name``'s inbox, received at ``date``: a patch (``author`` is its
    Patchwork object) or a reply to ``parent``, with ``trailer`` if given."""
    if author is None:
        sender = "Rev Iewer <reviewer@example.org>"
        body = "On a day, you wrote:\n> patch\n\nLooks fine.\n"
        if trailer:
            body += f"\n{trailer}: {sender}\n"
    else:
        who = author["submitter"]
        sender = f"{who.get('name') or who['email']} <{who['email']}>"
        body = "A change.\n\nSigned-off-by: " + sender + "\n---\n diff --git a/x b/x\n"
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date.astimezone(UTC))}",
        f"Message-ID: {msgid}",
        f"List-Id: <{list_name}.vger.kernel.org>",
    ]
    if parent:
        headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
    raw = ("\n".join(headers) + "\n\n" + body).encode()
    if list_name not in lore._inboxes:
        lore.add_inbox(list_name)
    lore.deliver(list_name, raw, received=date.astimezone(UTC))

# SPDX-License-Identifier: GPL-2.0-or-later
"""A Patchwork REST API test server, faithful to a real Patchwork 3.2.1.

It serves the complete API output of a real Patchwork loaded with the netfilter-devel slice
(``../shared/peers/patchwork-3.2.1/netfilter-devel/``), or synthetic data built from it, the
way Patchwork does (see ``../shared/peers/NOTES.md``):

* bare JSON lists, paging only in ``Link`` (next, prev, first, last; sorted query), default 30
  a page, ``per_page`` clamped to 250, ``404 {"detail":"Invalid page."}`` past the end;
* ``/api/`` and ``/api/1.0`` … ``/api/1.4``; filters ``project`` (id or link name; unknown
  gives ``[]``), ``since``/``before`` (naive; an aware value gives Django's HTML 500, garbage
  gives ``[]``), ``state``, ``series``, ``submitter``, ``delegate``, ``archived``, ``hash``,
  ``msgid``, ``q``, ``order``; events newest first, filtered by ``category`` and the rest;
* maintainers' actions (state, delegate, archive) and new mail, with the events Patchwork
  emits; archiving emits none, as in Patchwork;
* injected faults: 429 with Retry-After, 5xx, slow answers, malformed pages, dropped
  connections.

Run alone with ``python -m tests.peers.patchwork_server [--port P] [--synthetic N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.shared_data import patchwork_dump

RECORDED_ORIGIN = "http://127.0.0.1:18651"
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 250
API_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")
DJANGO_500 = (
    '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n'
    "</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n"
)
NOT_FOUND = {
    "patches": "No Patch matches the given query.",
    "series": "No Series matches the given query.",
    "covers": "No Cover matches the given query.",
    "projects": "No Project matches the given query.",
}
_PREFIXES = re.compile(r"^\[([^\]]*)\]")


def _now_naive() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _parse_naive(value: str) -> datetime | None:
    """Patchwork's own parse: naive ISO works; aware raises (its 500); garbage is None."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        raise ValueError("SQLite backend does not support timezone-aware datetimes")
    return moment


class PatchworkData:
    """The objects one Patchwork instance holds, with the actions maintainers take on them."""

    def __init__(
        self,
        projects: list[dict[str, Any]],
        patches: list[dict[str, Any]],
        series: list[dict[str, Any]],
        covers: list[dict[str, Any]],
        events: list[dict[str, Any]],
        comments: dict[int, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self._original = json.dumps([projects, patches, series, covers, events, comments or {}])
        self._load(projects, patches, series, covers, events, comments or {})

    def _load(self, projects, patches, series, covers, events, comments) -> None:
        self.projects = projects
        self.patches = {p["id"]: p for p in patches}
        self.series = {s["id"]: s for s in series}
        self.covers = {c["id"]: c for c in covers}
        self.events = sorted(events, key=lambda e: e["id"])
        self.comments = {int(k): v for k, v in comments.items()}
        self._last_event_date = max((e["date"] for e in self.events), default="")

    def reset(self) -> None:
        """Back to the state it was created in: every action and injected change undone."""
        with self.lock:
            self._load(*json.loads(self._original))

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_dump(cls, path: Path | None = None) -> PatchworkData:
        folder = path or patchwork_dump()

        def read(name: str) -> list[dict[str, Any]]:
            data: list[dict[str, Any]] = json.loads((folder / name).read_text())
            return data

        comments = {}
        for item in sorted((folder / "comments").glob("patch-*.json")):
            comments[int(item.stem.removeprefix("patch-"))] = json.loads(item.read_text())
        return cls(
            read("projects.json"),
            read("patches.json"),
            read("series.json"),
            read("covers.json"),
            read("events.json"),
            comments,
        )

    @classmethod
    def synthetic(
        cls, n_patches: int, *, project: str = "synthetic", seed: int = 1
    ) -> PatchworkData:
        """``n_patches`` patches in series of 1 to 8, cloned from real ones, dates spread out."""
        dump = cls.from_dump()
        rng = random.Random(seed)
        templates = list(dump.patches.values())
        proj = copy.deepcopy(dump.projects[0])
        proj.update(id=7, name=f"Synthetic {project}", link_name=project, list_id=f"{project}.test")
        embedded = {k: v for k, v in proj.items() if k not in ("maintainers", "subject_match")}
        patches: list[dict[str, Any]] = []
        series_list: list[dict[str, Any]] = []
        moment = datetime(2024, 1, 1, 8, 0, 0)
        series_id = 0
        while len(patches) < n_patches:
            series_id += 1
            size = min(rng.randint(1, 8), n_patches - len(patches))
            moment += timedelta(minutes=rng.randint(1, 600))
            members = []
            for number in range(1, size + 1):
                template = rng.choice(templates)
                pid = len(patches) + 1
                msgid = f"{moment:%Y%m%d%H%M%S}.{series_id}-{number}@synthetic.test"
                date = (moment + timedelta(seconds=number)).isoformat()
                patch = copy.deepcopy(template)
                patch.update(
                    id=pid,
                    url=f"{RECORDED_ORIGIN}/api/1.3/patches/{pid}/",
                    web_url=f"{RECORDED_ORIGIN}/project/{project}/patch/{msgid}/",
                    project=embedded,
                    msgid=f"<{msgid}>",
                    list_archive_url=f"https://lore.kernel.org/{project}/{msgid}/",
                    date=date,
                    name=f"[{number}/{size}] {template['name']}" if size > 1 else template["name"],
                    state="new",
                    archived=False,
                    delegate=None,
                    hash=f"{pid:040x}",
                    mbox=f"{RECORDED_ORIGIN}/project/{project}/patch/{msgid}/mbox/",
                    comments=f"{RECORDED_ORIGIN}/api/patches/{pid}/comments/",
                    checks=f"{RECORDED_ORIGIN}/api/patches/{pid}/checks/",
                )
                series_ref = {
                    "id": series_id,
                    "url": f"{RECORDED_ORIGIN}/api/1.3/series/{series_id}/",
                    "web_url": f"{RECORDED_ORIGIN}/project/{project}/list/?series={series_id}",
                    "date": moment.isoformat(),
                    "name": template["name"],
                    "version": 1,
                    "mbox": f"{RECORDED_ORIGIN}/series/{series_id}/mbox/",
                }
                patch["series"] = [series_ref]
                patches.append(patch)
                members.append(patch)
            first = members[0]
            series_list.append(
                {
                    **{k: v for k, v in series_ref.items()},
                    "project": embedded,
                    "submitter": first["submitter"],
                    "total": size,
                    "received_total": size,
                    "received_all": True,
                    "cover_letter": None,
                    "patches": [_embed_patch(p) for p in members],
                }
            )
        return cls([proj], patches, series_list, [], [], {})

    # -- maintainers' actions and new mail ------------------------------------------------------

    def _event(self, category: str, project: dict[str, Any], payload: dict[str, Any]) -> None:
        date = _now_naive()
        if date <= self._last_event_date:  # strictly increasing, like a real clock would be
            last = datetime.fromisoformat(self._last_event_date)
            date = (last + timedelta(microseconds=1)).isoformat(timespec="microseconds")
        self._last_event_date = date
        event_id = (self.events[-1]["id"] if self.events else 0) + 1
        self.events.append(
            {
                "id": event_id,
                "category": category,
                "project": _embed_project(project),
                "date": date,
                "actor": None,
                "payload": payload,
            }
        )

    def set_state(self, patch_id: int, state: str) -> None:
        with self.lock:
            patch = self.patches[patch_id]
            previous, patch["state"] = patch["state"], state
            if previous != state:
                self._event(
                    "patch-state-changed",
                    patch["project"],
                    {
                        "patch": _embed_patch(patch),
                        "previous_state": previous,
                        "current_state": state,
                    },
                )

    def set_delegate(self, patch_id: int, user: dict[str, Any] | None) -> None:
        with self.lock:
            patch = self.patches[patch_id]
            embedded = _embed_user(user) if user else None
            previous, patch["delegate"] = patch["delegate"], embedded
            if previous != embedded:
                self._event(
                    "patch-delegated",
                    patch["project"],
                    {
                        "patch": _embed_patch(patch),
                        "previous_delegate": previous,
                        "current_delegate": embedded,
                    },
                )

    def set_archived(self, patch_id: int, archived: bool) -> None:
        """Patchwork records no event when a patch is archived or unarchived."""
        with self.lock:
            self.patches[patch_id]["archived"] = archived

    def add_comment(self, patch_id: int, msgid: str, date: str) -> None:
        """A reply to a patch reached the list: Patchwork stores it and raises an event."""
        with self.lock:
            patch = self.patches[patch_id]
            comments = self.comments.setdefault(patch_id, [])
            comment_id = 100_000 + sum(len(c) for c in self.comments.values())
            comment = {
                "id": comment_id,
                "url": f"{RECORDED_ORIGIN}/api/1.3/patches/{patch_id}/comments/{comment_id}/",
                "web_url": f"{RECORDED_ORIGIN}/comment/{comment_id}/",
                "msgid": f"<{msgid}>",
                "list_archive_url": None,
                "date": date,
            }
            comments.append(comment)
            self._event(
                "patch-comment-created",
                patch["project"],
                {"patch": _embed_patch(patch), "comment": comment},
            )

    def corrupt_patch(self, patch_id: int, changes: dict[str, Any]) -> None:
        """Make one object malformed, as a buggy or hostile server might."""
        with self.lock:
            self.patches[patch_id].update(changes)

    def add_patch(
        self,
        *,
        project: str,
        date: str,
        name: str,
        msgid: str | None = None,
        submitter: dict[str, Any] | None = None,
    ) -> int:
        """New mail: a one-patch series, with the events parsemail raises for it."""
        with self.lock:
            proj = next(p for p in self.projects if p["link_name"] == project)
            embedded = _embed_project(proj)
            pid = max(self.patches, default=0) + 1
            sid = max(self.series, default=0) + 1
            msgid = msgid or f"{pid}.{int(time.time() * 1000)}@late.test"
            template = next(iter(self.patches.values()))
            series_ref = {
                "id": sid,
                "url": f"{RECORDED_ORIGIN}/api/1.3/series/{sid}/",
                "web_url": f"{RECORDED_ORIGIN}/project/{project}/list/?series={sid}",
                "date": date,
                "name": name,
                "version": 1,
                "mbox": f"{RECORDED_ORIGIN}/series/{sid}/mbox/",
            }
            patch = {
                **copy.deepcopy(template),
                "id": pid,
                "url": f"{RECORDED_ORIGIN}/api/1.3/patches/{pid}/",
                "web_url": f"{RECORDED_ORIGIN}/project/{project}/patch/{msgid}/",
                "project": embedded,
                "msgid": f"<{msgid}>",
                "list_archive_url": proj["list_archive_url_format"].format(msgid)
                if proj.get("list_archive_url_format")
                else None,
                "date": date,
                "name": name,
                "state": "new",
                "archived": False,
                "hash": f"{pid:040x}",
                "submitter": submitter or template["submitter"],
                "delegate": None,
                "mbox": f"{RECORDED_ORIGIN}/project/{project}/patch/{msgid}/mbox/",
                "series": [series_ref],
                "comments": f"{RECORDED_ORIGIN}/api/patches/{pid}/comments/",
                "checks": f"{RECORDED_ORIGIN}/api/patches/{pid}/checks/",
            }
            self.patches[pid] = patch
            self.series[sid] = {
                **series_ref,
                "project": embedded,
                "submitter": patch["submitter"],
                "total": 1,
                "received_total": 1,
                "received_all": True,
                "cover_letter": None,
                "patches": [_embed_patch(patch)],
            }
            self._event("series-created", proj, {"series": series_ref})
            self._event("patch-created", proj, {"patch": _embed_patch(patch)})
            self._event(
                "patch-completed", proj, {"patch": _embed_patch(patch), "series": series_ref}
            )
            self._event("series-completed", proj, {"series": series_ref})
            return pid

    # -- reading ------------------------------------------------------------------------------

    def detail(self, patch_id: int) -> dict[str, Any] | None:
        """The detail view adds what the list view leaves out: headers, content, diff, prefixes."""
        patch = self.patches.get(patch_id)
        if patch is None:
            return None
        match = _PREFIXES.match(patch["name"])
        prefixes = [p.strip() for p in match.group(1).split(",")] if match else []
        return {
            **patch,
            "headers": {"Message-Id": patch["msgid"], "Subject": f"[PATCH] {patch['name']}"},
            "content": "",
            "diff": "",
            "prefixes": prefixes,
        }


def _embed_project(project: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in project.items() if k not in ("maintainers", "subject_match")}


def _embed_patch(patch: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "url", "web_url", "msgid", "list_archive_url", "date", "name", "mbox")
    return {key: patch.get(key) for key in keys}


def _embed_user(user: dict[str, Any]) -> dict[str, Any]:
    uid = user.get("id", 1)
    return {
        "id": uid,
        "url": f"{RECORDED_ORIGIN}/api/1.3/users/{uid}/",
        "username": user.get("username", f"user{uid}"),
        "first_name": user.get("first_name", ""),
        "last_name": user.get("last_name", ""),
        "email": user["email"],
    }


# -- faults ------------------------------------------------------------------------------------


@dataclass
class Fault:
    pattern: re.Pattern[str]
    kind: str
    remaining: int
    retry_after: float = 1
    delay: float = 0.0


@dataclass
class Faults:
    """Faults that fire on the first ``times`` requests whose path matches, then disappear."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    KINDS = ("429", "500", "502", "503", "slow", "malformed", "reset")

    def add(
        self,
        path_regex: str,
        kind: str,
        *,
        times: int = 1,
        retry_after: float = 1,
        delay: float = 0,
    ) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {self.KINDS}")
        with self._lock:
            self._faults.append(
                Fault(re.compile(path_regex), kind, times, retry_after=retry_after, delay=delay)
            )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.pattern.search(path):
                    fault.remaining -= 1
                    return fault
            return None


# -- the HTTP side -----------------------------------------------------------------------------


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={"Vary": "Accept, Cookie", "Allow": "GET, HEAD, OPTIONS", **(headers or {})},
    )


class PatchworkServer:
    def __init__(self, data: PatchworkData, *, max_page_size: int = MAX_PAGE_SIZE) -> None:
        self.data = data
        self.max_page_size = max_page_size
        self.faults = Faults()
        self.requests: list[tuple[str, str, str, int]] = []
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "HEAD"])])

    def reset_log(self) -> None:
        self.requests.clear()

    # -- dispatch -------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        fault = self.faults.take(path)
        response = await self._faulty(fault, request) if fault else None
        if response is None:
            response = self._answer(request)
        self.requests.append((request.method, path, request.url.query, response.status_code))
        return response

    async def _faulty(self, fault: Fault, request: Request) -> Response | None:
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "429":
            return _json(
                {"detail": "Request was throttled."},
                429,
                {"Retry-After": str(int(fault.retry_after))},
            )
        if fault.kind in ("500", "502", "503"):
            return Response(f"<h1>{fault.kind}</h1>", status_code=int(fault.kind))
        if fault.kind == "malformed":
            good = self._answer(request)
            body = bytes(good.body)
            return Response(
                body[: max(1, len(body) // 2)], status_code=200, media_type="application/json"
            )
        # "reset": drop the connection without an answer.
        transport = request.scope.get("extensions", {}).get("transport")
        raise ConnectionResetError(f"injected reset {transport or ''}")

    def _answer(self, request: Request) -> Response:
        match = re.fullmatch(r"/api/(?:(\d\.\d)/)?(.*)", request.url.path)
        if match is None or (match.group(1) and match.group(1) not in API_VERSIONS):
            return _json({"detail": "Not found."}, 404)
        version = match.group(1)
        parts = [p for p in match.group(2).split("/") if p]
        prefix = f"{self.url}/api/{version}/" if version else f"{self.url}/api/"
        with self.data.lock:
            if not parts:
                return self._root(prefix)
            kind = parts[0]
            if kind in ("people", "users"):
                return _json({"detail": "Authentication credentials were not provided."}, 403)
            if len(parts) == 1 and kind in ("projects", "patches", "series", "covers", "events"):
                return self._list(kind, request)
            if len(parts) == 2 and kind in ("projects", "patches", "series", "covers"):
                return self._detail(kind, parts[1])
            if len(parts) == 3 and kind == "patches" and parts[2] == "comments":
                if not parts[1].isdigit() or int(parts[1]) not in self.data.patches:
                    return _json({"detail": NOT_FOUND["patches"]}, 404)
                return self._page(request, self.data.comments.get(int(parts[1]), []))
        return _json({"detail": "Not found."}, 404)

    def _root(self, prefix: str) -> Response:
        names = ("bundles", "covers", "events", "patches", "people", "projects", "series", "users")
        return _json({name: f"{prefix}{name}/" for name in names})

    def _detail(self, kind: str, key: str) -> Response:
        obj: dict[str, Any] | None = None
        if kind == "projects":
            obj = next(
                (p for p in self.data.projects if str(p["id"]) == key or p["link_name"] == key),
                None,
            )
        elif key.isdigit():
            if kind == "patches":
                obj = self.data.detail(int(key))
            elif kind == "covers" and int(key) in self.data.covers:
                cover = self.data.covers[int(key)]
                obj = {**cover, "headers": {"Message-Id": cover["msgid"]}, "content": ""}
            else:
                obj = getattr(self.data, kind).get(int(key))
        if obj is None:
            return _json({"detail": NOT_FOUND[kind]}, 404)
        return self._rewritten(_json(obj))

    def _list(self, kind: str, request: Request) -> Response:
        query = request.query_params
        items: list[dict[str, Any]]
        if kind == "projects":
            items = list(self.data.projects)
        elif kind == "events":
            items = list(reversed(self.data.events))  # newest first, Patchwork's default
        else:
            items = list(getattr(self.data, kind).values())
        try:
            items = self._filter(kind, items, query)
        except ValueError:
            return Response(DJANGO_500, status_code=500, media_type="text/html")
        return self._page(request, items)

    def _filter(self, kind: str, items: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
        project = query.get("project")
        if project:
            items = [
                i
                for i in items
                if str(i["project"]["id"]) == project or i["project"]["link_name"] == project
            ]
        for name in ("since", "before"):
            value = query.get(name)
            if value is not None:
                moment = _parse_naive(value)
                if moment is None:
                    return []
                items = [
                    i
                    for i in items
                    if (datetime.fromisoformat(i["date"]) >= moment) == (name == "since")
                ]
        if kind == "patches":
            states = query.getlist("state")
            if states:
                items = [i for i in items if i["state"] in states]
            checks: list[tuple[str, Callable[[dict[str, Any], str], bool]]] = [
                ("series", lambda i, v: any(str(s["id"]) == v for s in i["series"])),
                (
                    "submitter",
                    lambda i, v: v in (str(i["submitter"]["id"]), i["submitter"]["email"]),
                ),
                (
                    "delegate",
                    lambda i, v: (
                        bool(i["delegate"])
                        and v in (str(i["delegate"]["id"]), i["delegate"]["email"])
                    ),
                ),
                ("archived", lambda i, v: i["archived"] == (v.lower() == "true")),
                ("hash", lambda i, v: i["hash"] == v),
                ("msgid", lambda i, v: i["msgid"] == f"<{v}>"),
            ]
            for name, test in checks:
                value = query.get(name)
                if value is not None:
                    items = [i for i in items if test(i, value)]
        if kind == "covers" and query.get("msgid"):
            items = [i for i in items if i["msgid"] == f"<{query.get('msgid')}>"]
        if kind == "events":
            for name in ("category", "series", "patch", "cover"):
                value = query.get(name)
                if value is None:
                    continue
                if name == "category":
                    items = [i for i in items if i["category"] == value]
                else:
                    items = [
                        i
                        for i in items
                        if isinstance(i["payload"].get(name), dict)
                        and str(i["payload"][name]["id"]) == value
                    ]
        q = query.get("q")
        if q:
            items = [i for i in items if q.lower() in (i.get("name") or "").lower()]
        order = query.get("order")
        if order and kind != "projects":
            field_name = order.lstrip("-")
            if field_name in ("id", "date", "name"):
                items = sorted(
                    items,
                    key=lambda i: (i.get(field_name) or "", i["id"]),
                    reverse=order.startswith("-"),
                )
        return items

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        query = request.query_params
        size = DEFAULT_PAGE_SIZE
        raw_size = query.get("per_page")
        if raw_size is not None and raw_size.isdigit() and int(raw_size) > 0:
            size = min(int(raw_size), self.max_page_size)
        raw_page = query.get("page", "1")
        pages = max(1, -(-len(items) // size))
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= pages:
            return _json({"detail": "Invalid page."}, 404)
        page = int(raw_page)
        body = items[(page - 1) * size : page * size]
        links = []
        base = f"{self.url}{request.url.path}"
        params = [(k, v) for k, v in query.multi_items() if k != "page"]

        def link(number: int | None) -> str:
            pairs = sorted(params + ([("page", str(number))] if number else []))
            return f"{base}?{urlencode(pairs, quote_via=quote_plus)}"

        if page < pages:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{link(page - 1 if page > 2 else None)}>; rel="prev"')
        links.append(f'<{link(1)}>; rel="first"')
        links.append(f'<{link(pages)}>; rel="last"')
        headers = {"Link": ", ".join(links)}
        return self._rewritten(_json(body, headers=headers))

    def _rewritten(self, response: Response) -> Response:
        """Objects carry the recording server's origin; answer with ours, as Patchwork would."""
        body = bytes(response.body).replace(RECORDED_ORIGIN.encode(), self.url.encode())
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(body, status_code=response.status_code, headers=headers)

    # -- running ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Patchwork test server did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@contextmanager
def run_patchwork_server(
    data: PatchworkData, *, max_page_size: int = MAX_PAGE_SIZE
) -> Iterator[PatchworkServer]:
    server = PatchworkServer(data, max_page_size=max_page_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dump", type=Path, help="a Patchwork dump folder (default: netfilter)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="serve N synthetic patches")
    args = parser.parse_args(argv)
    data = (
        PatchworkData.synthetic(args.synthetic)
        if args.synthetic
        else PatchworkData.from_dump(args.dump)
    )
    server = PatchworkServer(data)
    url = server.start(args.host, args.port)
    print(f"Patchwork test server at {url}/api/1.3/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

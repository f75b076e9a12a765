# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures: a real public-inbox server on loopback with real kernel list archives.

``public_inbox`` (session scope) serves two inboxes, named like their lists on lore.kernel.org:

* ``netfilter-devel``: the bulk 2025 slice (4,604 messages);
* ``linux-pwm``: the whole-thread files ``threads/pwm-*.mbox(.gz)`` (1,031 messages).

Use it from a test module with ``from tests.peers.public_inbox_fixtures import public_inbox``
(or list this module in ``pytest_plugins`` of the root conftest).  When public-inbox is missing
the fixture tries to install it; when that is impossible it skips, except under ``CI=true``,
where it fails.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from tests.peers.public_inbox import (
    Inbox,
    InboxSpec,
    PublicInbox,
    ensure_installed,
    is_installed,
    linux_pwm_threads,
    netfilter_devel_2025,
)

__all__ = ["PublicInboxPeer", "public_inbox", "pytest_collection_finish", "require_public_inbox"]

log = logging.getLogger(__name__)


def _specs() -> list[InboxSpec]:
    return [netfilter_devel_2025(), linux_pwm_threads()]


def _warm(spec: InboxSpec) -> None:
    try:
        with tempfile.TemporaryDirectory(prefix="pi-warm-") as scratch:
            PublicInbox(Path(scratch)).warm_cache(spec.name, spec.mbox_paths, address=spec.address)
    except Exception:  # the fixture builds it again and reports the failure where it is needed
        log.exception("importing %s ahead of the tests failed", spec.name)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Import the inboxes in the background as soon as a selected test will need them.

    The import (about a minute on two cores, for each fresh clone) then runs beside the tests
    that come first instead of before the first test that uses the server; the fixture waits
    on the cache entry's lock. Both inboxes import at once, one perl process each.
    """
    if not is_installed():
        return
    if not any("public_inbox" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    for spec in _specs():
        if spec.mbox_paths and all(p.is_file() for p in spec.mbox_paths):
            name = f"warm-{spec.name}"
            threading.Thread(target=_warm, args=(spec,), name=name, daemon=True).start()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_public_inbox() -> None:
    """Install public-inbox when missing; skip when impossible, or fail under CI=true."""
    if is_installed():
        return
    ok, message = ensure_installed()
    if ok:
        return
    reason = f"public-inbox is not installed and could not be installed: {message}"
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: a missing test peer is an error)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class PublicInboxPeer:
    """The running server: ``url`` is its origin, e.g. ``http://127.0.0.1:40123``."""

    url: str
    server: PublicInbox
    netfilter_devel: str = "netfilter-devel"
    linux_pwm: str = "linux-pwm"

    @property
    def inboxes(self) -> dict[str, Inbox]:
        return self.server.inboxes

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.server.inboxes)

    def inbox_url(self, name: str) -> str:
        """``ORIGIN/NAME/``, where lore would have ``https://lore.kernel.org/NAME/``."""
        return self.server.inbox_url(name)

    def deliver(
        self,
        inbox_name: str,
        raw_message: bytes,
        *,
        received: datetime | bool = True,
        searchable: bool = True,
    ) -> None:
        """Deliver one message (public-inbox-mda); see :meth:`PublicInbox.deliver`."""
        self.server.deliver(inbox_name, raw_message, received=received, searchable=searchable)


@pytest.fixture(scope="session")
def public_inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublicInboxPeer]:
    require_public_inbox()
    specs = _specs()
    for spec in specs:
        missing = [str(p) for p in spec.mbox_paths if not p.is_file()]
        if missing or not spec.mbox_paths:
            pytest.fail(
                f"corpus for inbox {spec.name} not found ({', '.join(missing) or 'no files'});"
                " set LKML_SHARED_DIR or put the shared data beside the repository",
                pytrace=False,
            )
    server = PublicInbox(tmp_path_factory.mktemp("public-inbox"))
    try:
        for spec in specs:
            server.create_inbox(spec.name, spec.mbox_paths, address=spec.address)
        url = server.start_httpd()
        yield PublicInboxPeer(url=url, server=server)
    finally:
        server.stop()

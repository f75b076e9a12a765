# SPDX-License-Identifier: GPL-2.0-or-later
"""A real public-inbox server (Debian's package, the software behind lore.kernel.org) on loopback.

Inboxes are named after their list (``netfilter-devel``), so the server answers
``/netfilter-devel/<msgid>/...`` exactly like lore.kernel.org does.  Everything lives under one
scratch folder: ``PI_CONFIG``, ``HOME`` and a copy of each inbox.  Imported inboxes are kept in a
cache (``.run/public-inbox-cache/`` of the repository) keyed by the sha256 of their inputs, so a
second test session copies them instead of importing again.

    with PublicInbox(tmp_path) as pi:
        pi.create_inbox("netfilter-devel", [archives_dir() / "netfilter-devel-2025.mbox.gz"])
        origin = pi.start_httpd()          # http://127.0.0.1:PORT
        pi.deliver("netfilter-devel", raw)  # served at once

``python -m tests.peers.public_inbox_serve`` runs the standard inboxes until interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import email.utils
import fcntl
import functools
import gzip
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self, cast

__all__ = [
    "DEFAULT_CACHE_DIR",
    "INSTALL_SCRIPT",
    "MBOXRD_FROM",
    "Inbox",
    "InboxSpec",
    "PublicInbox",
    "PublicInboxError",
    "archives_dir",
    "ensure_installed",
    "installed_version",
    "is_installed",
    "linux_pwm_threads",
    "mboxrd_quote",
    "netfilter_devel_2025",
    "shared_dir",
    "standard_specs",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = REPO_ROOT / ".run" / "public-inbox-cache"
INSTALL_SCRIPT = Path(__file__).with_suffix(".sh")
HOST = "127.0.0.1"

# Bump when the way an inbox is built changes, so that old cache entries are not reused.
CACHE_FORMAT = 1
_PROGRAMS = ("public-inbox-init", "public-inbox-httpd", "public-inbox-mda", "perl", "git")
MBOXRD_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
_CHUNK = 1 << 20
_MARKER = ".lkml-cache.json"
_STALE_TMP_SECONDS = 6 * 3600

# Import an mboxrd stream (stdin) into an inbox that PI_CONFIG already knows, with the package's
# own API (1.9 has no bulk-import command).  A v2 inbox indexes as it imports.  -no_fsync is what
# public-inbox-index --no-fsync sets: scratch data need not survive a power cut.
_IMPORT_PERL = r"""
use strict;
use warnings;
use PublicInbox::Config;
use PublicInbox::InboxWritable;
my ($name) = @ARGV;
my $cfg = PublicInbox::Config->new;
my $ibx = $cfg->lookup_name($name) or die "inbox $name is not in $ENV{PI_CONFIG}\n";
$ibx = PublicInbox::InboxWritable->new($ibx);
$ibx->{-no_fsync} = 1;
binmode STDIN;
$ibx->import_mbox(\*STDIN, 'mboxrd');
"""


class PublicInboxError(RuntimeError):
    """public-inbox is missing, or one of its programs failed."""


def shared_dir() -> Path:
    """LKML_SHARED_DIR, by default the repository's sibling ``../shared``."""
    return Path(os.environ.get("LKML_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def archives_dir() -> Path:
    """``corpus/mbox/linux-mailinglist-archives`` of the shared data (bulk slices, threads/)."""
    return shared_dir() / "corpus" / "mbox" / "linux-mailinglist-archives"


def is_installed() -> bool:
    """True when every program this module runs is on PATH."""
    return all(shutil.which(program) for program in _PROGRAMS)


@functools.cache
def installed_version() -> str | None:
    """``$PublicInbox::VERSION`` of the installed package, e.g. ``1.9.0-1 (Debian)``."""
    if not is_installed():
        return None
    done = subprocess.run(
        ["perl", "-MPublicInbox", "-e", "print $PublicInbox::VERSION"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return done.stdout.decode(errors="replace").strip() or None


def ensure_installed() -> tuple[bool, str]:
    """Install Debian's package with ``public_inbox.sh ensure-installed`` when it is missing.

    Returns whether public-inbox is usable afterwards, and the script's message.
    """
    if is_installed():
        return True, f"public-inbox: already installed ({installed_version()})"
    try:
        done = subprocess.run(
            [str(INSTALL_SCRIPT), "ensure-installed"],
            capture_output=True,
            check=False,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"public-inbox: {INSTALL_SCRIPT.name} could not run: {err}"
    installed_version.cache_clear()
    message = (done.stdout + done.stderr).decode(errors="replace").strip()
    return is_installed(), message


@dataclass(frozen=True)
class InboxSpec:
    """What goes into one inbox: list name, mboxrd files (gzipped or not), list address."""

    name: str
    mbox_paths: tuple[Path, ...]
    address: str


def netfilter_devel_2025() -> InboxSpec:
    """The bulk netfilter-devel 2025 slice: 4,604 messages."""
    return InboxSpec(
        name="netfilter-devel",
        mbox_paths=(archives_dir() / "netfilter-devel-2025.mbox.gz",),
        address="netfilter-devel@vger.kernel.org",
    )


def linux_pwm_threads() -> InboxSpec:
    """The whole-thread files ``threads/pwm-*.mbox(.gz)``: 1,031 messages, 6 series."""
    threads = archives_dir() / "threads"
    paths = sorted(
        p for p in threads.glob("pwm-*") if p.name.endswith((".mbox", ".mbox.gz")) and p.is_file()
    )
    return InboxSpec(
        name="linux-pwm",
        mbox_paths=tuple(paths),
        address="linux-pwm@vger.kernel.org",
    )


def standard_specs() -> list[InboxSpec]:
    """The inboxes the test fixtures (and the demo) serve."""
    return [netfilter_devel_2025(), linux_pwm_threads()]


@dataclass(frozen=True)
class Inbox:
    """One inbox of a :class:`PublicInbox`."""

    name: str
    address: str
    inboxdir: Path
    messages: int
    """Messages stored (one per Message-ID), counted after the import."""
    import_seconds: float
    """Time the import took; for an inbox taken from the cache, the time of that first import."""
    from_cache: bool
    cache_key: str


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(name: str, address: str, paths: Sequence[Path]) -> str:
    """sha256 of what an inbox folder depends on (its URL is only in PI_CONFIG)."""
    digest = hashlib.sha256()
    head = f"format={CACHE_FORMAT}\0pi={installed_version()}\0{name}\0{address}\0"
    digest.update(head.encode())
    for path in paths:
        digest.update(f"{path.name}\0{_file_sha256(path)}\0".encode())
    return digest.hexdigest()


def _open_mbox(path: Path) -> BinaryIO:
    if path.name.endswith(".gz"):
        return cast("BinaryIO", gzip.open(path, "rb"))
    return path.open("rb")


def mboxrd_quote(message: bytes) -> bytes:
    """A message's ``From `` lines quoted (``>From ``, ``>>From ``...) for an mboxrd file."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", message)


def _mbox_stream(paths: Iterable[Path]) -> Iterator[bytes]:
    """The files as one mboxrd stream; a file holding one bare message gets a From_ line."""
    tail = b"\n\n"
    for path in paths:
        with _open_mbox(path) as fh:
            first = fh.read(_CHUNK)
            if not first.strip():
                continue
            if not tail.endswith(b"\n\n"):  # a blank line ends each message
                yield b"\n" if tail.endswith(b"\n") else b"\n\n"
            if first.startswith(b"From "):
                chunk = first
                while chunk:
                    yield chunk
                    tail = (tail + chunk)[-2:]
                    chunk = fh.read(_CHUNK)
            else:
                message = mboxrd_quote(first + fh.read()).replace(b"\r\n", b"\n")
                yield MBOXRD_FROM
                yield message
                tail = (tail + message)[-2:]
    if not tail.endswith(b"\n"):
        yield b"\n"


class MessageCounter:
    """Counts the messages of an mboxrd stream fed chunk by chunk: the lines that start with
    ``From `` (in mboxrd a body's are quoted, ``>From ``), across chunk boundaries too."""

    def __init__(self) -> None:
        self.count = 0
        # The last 5 bytes seen: a 6-byte "\nFrom " that spans two chunks is found once. A
        # stream starts at the start of a line.
        self._carry = b"\n"

    def feed(self, chunk: bytes) -> int:
        data = self._carry + chunk
        self.count += data.count(b"\nFrom ")
        self._carry = data[-5:]
        return self.count


ImportProgress = Callable[[str, int, int], None]
"""Called as (inbox name, messages sent to the import so far, messages in all)."""


def count_messages(paths: Iterable[Path]) -> int:
    """How many messages the mboxrd stream of ``paths`` holds."""
    counter = MessageCounter()
    for chunk in _mbox_stream(paths):
        counter.feed(chunk)
    return counter.count


def _cache_hit(entry: Path, key: str) -> float | None:
    """Import seconds recorded in a finished cache entry for *key*, or None."""
    try:
        meta = json.loads((entry / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key:
        return None
    return float(meta.get("import_seconds", 0.0))


def _count_messages(inboxdir: Path) -> int:
    uri = f"file:{inboxdir / 'msgmap.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM msgmap").fetchone()
    return int(count)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to the server when the process that started it dies."""
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class PublicInbox:
    """public-inbox inboxes and their HTTP server, all under *workdir*.

    *cache_dir* keeps imported inboxes between sessions (``None``: import every time).
    ``stop()`` (also run by ``with``, at exit, and by Linux when this process dies) ends the
    server; the scratch folder is left for the caller (pytest's tmp_path) to remove.
    """

    def __init__(self, workdir: Path, *, cache_dir: Path | None = DEFAULT_CACHE_DIR) -> None:
        self.workdir = Path(workdir).resolve()
        self.cache_dir = cache_dir
        self.home = self.workdir / "home"
        self.config = self.home / "pi_config"
        self.inboxes_dir = self.workdir / "inboxes"
        self.inboxes: dict[str, Inbox] = {}
        self._fixed_urls: dict[str, str] = {}  # inboxes created with an explicit url
        self._httpd: subprocess.Popen[bytes] | None = None
        self._origin: str | None = None
        if not is_installed():
            raise PublicInboxError(
                f"public-inbox is not installed (run {INSTALL_SCRIPT} ensure-installed)"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        self.inboxes_dir.mkdir(parents=True, exist_ok=True)
        if not self.config.exists():
            self._git_config(self.config, "publicinboxmda.spamcheck", "none")

    # -- environment -----------------------------------------------------------------------

    def env(self, config: Path | None = None) -> dict[str, str]:
        """Environment for public-inbox programs: scratch HOME and PI_CONFIG, no inherited GIT_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PI_"))}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            PI_CONFIG=str(config or self.config),
        )
        return env

    def _run(self, args: Sequence[str], *, config: Path | None = None, what: str) -> None:
        done = subprocess.run(
            list(args),
            env=self.env(config),
            capture_output=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            out = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise PublicInboxError(f"{what} failed (exit {done.returncode}): {out}")

    def _git_config(self, config: Path, key: str, value: str) -> None:
        self._run(["git", "config", "--file", str(config), key, value], what=f"git config {key}")

    # -- inboxes -----------------------------------------------------------------------------

    def create_inbox(
        self,
        name: str,
        mbox_paths: Sequence[Path | str],
        *,
        address: str | None = None,
        url: str | None = None,
        progress: ImportProgress | None = None,
    ) -> Inbox:
        """A v2 inbox with full indexing (``-V2 -L full``) holding the messages of *mbox_paths*.

        The files are mboxrd, gzipped or not; a file holding one bare message also works.
        *address* defaults to ``NAME@vger.kernel.org``.  *url* is the inbox URL in PI_CONFIG
        (the server uses it to redirect ``/<msgid>/`` at the top level to its inbox; other links
        follow the request's Host); by default it is the running server's ``ORIGIN/NAME``.
        *progress* is told how far an import has come (not called for an inbox from the cache).
        """
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"inbox name {name!r}: use a list name such as netfilter-devel")
        if name in self.inboxes:
            raise ValueError(f"inbox {name!r} exists already")
        paths = [Path(p).resolve() for p in mbox_paths]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"mbox files not found: {', '.join(missing)}")
        address = address or f"{name}@vger.kernel.org"
        if url:
            self._fixed_urls[name] = url
        else:
            url = f"{self._origin or f'http://{HOST}'}/{name}"  # set again by start_httpd()
        key = _cache_key(name, address, paths)
        inboxdir = self.inboxes_dir / name
        if inboxdir.exists():  # left by an earlier run in the same scratch folder
            shutil.rmtree(inboxdir)

        if self.cache_dir is None:
            seconds = self._build(inboxdir, name, address, url, paths, progress)
            from_cache = False
        else:
            cached, seconds, from_cache = self._cached_build(
                name, address, url, paths, key, progress
            )
            shutil.copytree(cached, inboxdir, symlinks=True)
            (inboxdir / _MARKER).unlink(missing_ok=True)
        inbox = Inbox(
            name=name,
            address=address,
            inboxdir=inboxdir,
            messages=_count_messages(inboxdir),
            import_seconds=seconds,
            from_cache=from_cache,
            cache_key=key,
        )
        self._register(self.config, inbox.name, inbox.inboxdir, address, url)
        self.inboxes[name] = inbox
        if self.running:
            self._reload(name)
        return inbox

    def warm_cache(self, name: str, mbox_paths: Sequence[Path | str], *, address: str) -> bool:
        """Build the cache entry :meth:`create_inbox` would copy, without making the inbox here.

        A test session calls it in the background at its start (the import takes a minute);
        a ``create_inbox`` of the same input waits on the entry's lock and then copies it.
        Returns whether it had to import.
        """
        if self.cache_dir is None:
            raise ValueError("warm_cache needs a cache_dir")
        paths = [Path(p).resolve() for p in mbox_paths]
        key = _cache_key(name, address, paths)
        url = f"http://{HOST}/{name}"  # only PI_CONFIG holds it; create_inbox sets its own
        _, _, from_cache = self._cached_build(name, address, url, paths, key)
        return not from_cache

    def _register(self, config: Path, name: str, inboxdir: Path, address: str, url: str) -> None:
        # The same keys public-inbox-init writes.
        for key, value in (
            ("address", address),
            ("url", url),
            ("inboxdir", str(inboxdir)),
            ("indexlevel", "full"),
        ):
            self._git_config(config, f"publicinbox.{name}.{key}", value)

    def _build(
        self,
        inboxdir: Path,
        name: str,
        address: str,
        url: str,
        paths: Sequence[Path],
        progress: ImportProgress | None = None,
    ) -> float:
        """public-inbox-init, then the import; returns the seconds taken.

        A private PI_CONFIG is used, so a half-built inbox is never in the server's config.
        *progress* hears of every chunk the import takes in: the import reads a pipe, so what
        has been written to it is what it has read, give or take the pipe's 64 kB.
        """
        total = count_messages(paths) if progress is not None else 0
        sent = MessageCounter()
        start = time.monotonic()
        config = inboxdir.parent / f"{inboxdir.name}.pi_config"
        log = inboxdir.parent / f"{inboxdir.name}.import.log"
        config.unlink(missing_ok=True)
        self._git_config(config, "publicinboxmda.spamcheck", "none")
        self._run(
            ["public-inbox-init", "-V2", "-L", "full", name, str(inboxdir), url, address],
            config=config,
            what=f"public-inbox-init {name}",
        )
        with log.open("wb") as log_fh:
            proc = subprocess.Popen(
                ["perl", "-e", _IMPORT_PERL, name],
                env=self.env(config),
                stdin=subprocess.PIPE,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
            )
            assert proc.stdin is not None
            try:
                for chunk in _mbox_stream(paths):
                    proc.stdin.write(chunk)
                    if progress is not None:
                        progress(name, sent.feed(chunk), total)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            code = proc.wait()
        if code != 0:
            raise PublicInboxError(
                f"importing into {name} failed (exit {code}), see {log}:\n{_log_tail(log)}"
            )
        for leftover in config.parent.glob(f"{config.name}*"):  # with its .flock
            leftover.unlink(missing_ok=True)
        return time.monotonic() - start

    def _cached_build(
        self,
        name: str,
        address: str,
        url: str,
        paths: Sequence[Path],
        key: str,
        progress: ImportProgress | None = None,
    ) -> tuple[Path, float, bool]:
        """The cache entry for *key*, built when missing: (path, import seconds, was cached)."""
        assert self.cache_dir is not None
        cache = self.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        final = cache / f"{name}-{key[:24]}"
        seconds = _cache_hit(final, key)
        if seconds is not None:
            return final, seconds, True
        with (cache / f".{final.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building this entry
            seconds = _cache_hit(final, key)
            if seconds is not None:
                return final, seconds, True
            shutil.rmtree(final, ignore_errors=True)  # unreadable or unfinished
            self._prune(cache, name, keep=final.name)
            tmp = cache / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                seconds = self._build(tmp, name, address, url, paths, progress)
                meta = {
                    "key": key,
                    "name": name,
                    "inputs": [str(p) for p in paths],
                    "messages": _count_messages(tmp),
                    "import_seconds": round(seconds, 3),
                    "public_inbox": installed_version(),
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                (tmp / _MARKER).write_text(json.dumps(meta, indent=1) + "\n")
                tmp.rename(final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                for leftover in cache.glob(f"{tmp.name}.*"):  # its PI_CONFIG, lock and log
                    leftover.unlink(missing_ok=True)
        return final, seconds, False

    @staticmethod
    def _prune(cache: Path, name: str, keep: str) -> None:
        """Drop this inbox's entries for other inputs, and temporary folders left by crashes."""
        now = time.time()
        done = re.compile(rf"{re.escape(name)}-[0-9a-f]{{24}}")
        building = re.compile(rf"\.{re.escape(name)}-[0-9a-f]{{24}}\.(tmp-.*|lock)")
        for entry in cache.iterdir():
            if entry.name == keep:
                continue
            if building.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime < _STALE_TMP_SECONDS:
                        continue  # maybe another session building right now
            elif not (done.fullmatch(entry.name) and (entry / _MARKER).exists()):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    # -- HTTP server ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._httpd is not None and self._httpd.poll() is None

    @property
    def url(self) -> str:
        """Origin of the running server, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if self._origin is None or not self.running:
            raise PublicInboxError("public-inbox-httpd is not running: call start_httpd()")
        return self._origin

    def inbox_url(self, name: str) -> str:
        """``ORIGIN/NAME/``, the inbox's base URL as lore has it (``https://lore.kernel.org/NAME/``)."""
        if name not in self.inboxes:
            raise KeyError(name)
        return f"{self.url}/{name}/"

    def start_httpd(self, *, port: int = 0, timeout: float = 30.0) -> str:
        """``public-inbox-httpd -W0 -l http://127.0.0.1:PORT``; returns the origin once it answers.

        *port* 0 picks a free ephemeral port (and another one if it was taken meanwhile).
        """
        if self.running:
            return self.url
        log = self.workdir / "httpd.log"
        attempts = 5 if port == 0 else 1
        last_error = ""
        for _ in range(attempts):
            chosen = port or _free_port(HOST)
            origin = f"http://{HOST}:{chosen}"
            for name in self.inboxes:
                url = self._fixed_urls.get(name, f"{origin}/{name}")
                self._git_config(self.config, f"publicinbox.{name}.url", url)
            with log.open("ab") as log_fh:
                self._httpd = subprocess.Popen(
                    [
                        shutil.which("public-inbox-httpd") or "public-inbox-httpd",
                        "-W0",
                        "-l",
                        origin,
                    ],
                    env=self.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # Only a prctl() call between fork and exec: no lock is taken there.
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                )
            atexit.register(self.stop)
            if self._wait_ready(chosen, timeout):
                self._origin = origin
                return origin
            last_error = _log_tail(log)
            self.stop()
            if "in use" not in last_error:
                break
        raise PublicInboxError(f"public-inbox-httpd did not start, see {log}:\n{last_error}")

    def _wait_ready(self, port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                conn.request("HEAD", "/")
                conn.getresponse().read()
                return True
            except OSError:
                time.sleep(0.05)
            finally:
                conn.close()
        return False

    def _reload(self, name: str, timeout: float = 15.0) -> None:
        """SIGHUP makes the server read PI_CONFIG again; wait until it serves inbox *name*."""
        assert self._httpd is not None and self._origin is not None
        self._httpd.send_signal(signal.SIGHUP)
        port = int(self._origin.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                conn.request("HEAD", f"/{name}/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.05)
        raise PublicInboxError(f"public-inbox-httpd did not pick up inbox {name} after SIGHUP")

    def stop(self) -> None:
        """Stop the server (its whole process group); safe to call more than once."""
        proc, self._httpd, self._origin = self._httpd, None, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- delivery ----------------------------------------------------------------------------

    def deliver(
        self,
        inbox_name: str,
        raw_message: bytes,
        *,
        received: datetime | bool = True,
        searchable: bool = True,
    ) -> None:
        """One more message, as the list's mail server would hand it over (public-inbox-mda).

        ``received=True`` (default) adds a ``Received:`` header stamped now, as an MTA does, so
        ``rt:`` searches (received time) find it; pass a datetime for another stamp, or
        ``False`` to deliver the bytes as they are.  public-inbox-mda itself adds
        ``List-Id: <NAME.vger.kernel.org>`` (from the address) when there is none.

        A running server serves ``/raw``, ``/t.mbox.gz`` and thread pages at once.  Its search
        (Xapian) keeps reading the snapshot it opened until a periodic clean-up (5 to 30 s
        later), so with ``searchable=True`` (default) the server is told to reopen (SIGHUP)
        and this waits until ``m:<msgid>`` finds the message.  ``searchable=False`` leaves the
        lag, as a real server has it.
        """
        inbox = self.inboxes[inbox_name]
        data = raw_message.replace(b"\r\n", b"\n")
        if data.startswith(b"From "):  # an mbox From_ line is not a header
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        if received is not False:
            stamp = datetime.now(UTC) if received is True else received
            line = f"Received: from localhost by {HOST} (public-inbox test peer); "
            data = (line + email.utils.format_datetime(stamp) + "\n").encode() + data
        env = self.env()
        env["ORIGINAL_RECIPIENT"] = inbox.address
        done = subprocess.run(
            ["public-inbox-mda", "--no-precheck"],
            input=data,
            env=env,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            out = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise PublicInboxError(
                f"public-inbox-mda into {inbox_name} failed (exit {done.returncode}): {out}"
            )
        if searchable and self.running:
            head = data.split(b"\n\n", 1)[0]
            found = re.search(rb"(?im)^Message-ID:[ \t]*<([^>\s]+)>", head)
            self._refresh_search(inbox_name, found.group(1).decode() if found else None)

    def _refresh_search(self, name: str, msgid: str | None, timeout: float = 15.0) -> None:
        assert self._httpd is not None and self._origin is not None
        self._httpd.send_signal(signal.SIGHUP)  # new config objects: Xapian opened afresh
        if msgid is None:
            time.sleep(0.2)
            return
        port = int(self._origin.rsplit(":", 1)[1])
        path = f"/{name}/?" + urllib.parse.urlencode({"q": f'm:"{msgid}"', "x": "m"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            try:
                conn.request("POST", path, body=b"")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.02)
        raise PublicInboxError(f"delivered <{msgid}> but the search of {name} does not find it")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.peers.public_inbox ensure-installed``; ``serve`` is in
    :mod:`tests.peers.public_inbox_serve`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure-installed", help="install Debian's public-inbox when missing")
    parser.parse_args(argv)
    ok, message = ensure_installed()
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())


def reply_mail(
    parent_msgid: str, subject: str, body: str, *, author: str, domain: str
) -> tuple[str, bytes]:
    """A reply to ``parent_msgid`` as a list member sends it: (its Message-ID, the raw mail)."""
    from email.message import EmailMessage

    message = EmailMessage()
    msgid = email.utils.make_msgid(idstring=secrets.token_hex(4), domain=domain)
    message["Message-ID"] = msgid
    message["From"] = author
    message["To"] = "netfilter-devel@vger.kernel.org"
    message["Subject"] = f"Re: {subject}"
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    message["In-Reply-To"] = f"<{parent_msgid}>"
    message["References"] = f"<{parent_msgid}>"
    message.set_content(body)
    return msgid.strip("<>"), message.as_bytes()

# SPDX-License-Identifier: GPL-2.0-or-later
"""Who a patch is waiting on: the people its mail asked (To:/Cc:) who have not answered.

A patch waits on an address when all of these hold:

- the patch mail's ``To:`` or ``Cc:`` named it, and it is a person's address, not a list's
  (:func:`is_list_address`) nor the patch author's own;
- the patch is open: its review status is not accepted, rejected or superseded (a newer
  version supersedes it, so only the latest version waits);
- the address has not answered this version: it wrote no reply in the patch's thread (below
  the patch, or below the cover letter, which concerns every patch) and gave no trailer
  (Reviewed-by, Acked-by, Tested-by, NAK), carried ones included: a trailer given to an
  earlier version of an unchanged patch (same git patch-id) still answers it.

How a list address is kept out (lists are Cc'd on every patch and answer none):

1. the mailing lists we know: every project's ``list_email`` (Patchwork), and any address a
   ``List-Id`` names (:func:`list_address_of`: ``netdev.vger.kernel.org`` is
   ``netdev@vger.kernel.org``);
2. the domains that only host lists: ``vger.kernel.org`` (every ``linux-…@vger.kernel.org``),
   any host under ``lists.`` (``lists.infradead.org``, ``lists.linux.dev``,
   ``lists.ozlabs.org``, ``lists.freedesktop.org`` …), ``googlegroups.com``;
3. list names: a local part starting ``linux-`` (``linux-mm@kvack.org``) or ending ``-devel``
   or ``-dev`` (``dm-devel@redhat.com``, ``alsa-devel@alsa-project.org``), and the few list
   addresses of the kernel's MAINTAINERS file that match no rule above
   (:data:`KNOWN_LIST_ADDRESSES`: ``coreteam@netfilter.org`` …), as seen in the corpus;
4. bots and list-like inboxes: ``patchwork-bot+…``, ``…-bounces@``, ``…-owner@``.
"""

from __future__ import annotations

from collections.abc import Iterable

from lkml_assistant.models.review import ReviewStatus

LIST_DOMAINS = ("vger.kernel.org", "googlegroups.com")
"""Domains whose every address is a mailing list."""
LIST_HOST_PREFIX = "lists."
"""A host under ``lists.`` serves lists only (lists.infradead.org, lists.linux.dev …)."""
_LIST_LOCAL_MARKS = ("-bounces", "-owner", "-request", "-devel", "-dev")
_LIST_LOCAL_PREFIXES = ("linux-", "patchwork-bot")
KNOWN_LIST_ADDRESSES = frozenset(
    {
        "coreteam@netfilter.org",  # netfilter's core team list, Cc'd on every netfilter patch
        "netfilter@vger.kernel.org",
        "cluster-devel@redhat.com",
        "ocfs2-devel@oss.oracle.com",
        "usrp-users@lists.ettus.com",
        "kernel-janitors@vger.kernel.org",
        "stable@kernel.org",
        "patches@armlinux.org.uk",
        "kvmarm@lists.cs.columbia.edu",
        "dev@openvswitch.org",
        "lvc-project@linuxtesting.org",
    }
)
"""List addresses no rule catches, from MAINTAINERS and the corpus's Cc: lines."""
CLOSED = frozenset({ReviewStatus.ACCEPTED, ReviewStatus.REJECTED, ReviewStatus.SUPERSEDED})


def list_address_of(list_id: str) -> str:
    """The posting address a List-Id names: netdev.vger.kernel.org → netdev@vger.kernel.org."""
    name, _, host = list_id.strip().strip("<>").casefold().partition(".")
    return f"{name}@{host}" if host else ""


def is_list_address(address: str, known_lists: Iterable[str] = ()) -> bool:
    """A mailing list (or a list's bot), not a person."""
    text = address.casefold()
    local, _, domain = text.rpartition("@")
    if not local or not domain:
        return True
    if text in KNOWN_LIST_ADDRESSES or text in {known.casefold() for known in known_lists}:
        return True
    if domain in LIST_DOMAINS or any(domain.endswith(f".{d}") for d in LIST_DOMAINS):
        return True
    if domain.startswith(LIST_HOST_PREFIX) or f".{LIST_HOST_PREFIX}" in f".{domain}":
        return True
    return local.startswith(_LIST_LOCAL_PREFIXES) or local.endswith(_LIST_LOCAL_MARKS)


def addressed(
    to: Iterable[str], cc: Iterable[str], *, author: str, known_lists: Iterable[str] = ()
) -> tuple[str, ...]:
    """The people a patch mail asked: its To: and Cc:, without lists and its author."""
    lists = tuple(known_lists)
    me = author.casefold()
    seen: dict[str, None] = {}
    for address in (*to, *cc):
        text = address.casefold()
        if text and text != me and not is_list_address(text, lists):
            seen.setdefault(text, None)
    return tuple(seen)


def waiting_on(
    asked: Iterable[str], *, answered: Iterable[str], status: ReviewStatus | str
) -> tuple[str, ...]:
    """Of the people asked, those the patch is still waiting on (none once it is closed)."""
    if ReviewStatus(status) in CLOSED:
        return ()
    done = {a.casefold() for a in answered}
    return tuple(a for a in asked if a.casefold() not in done)

# SPDX-License-Identifier: GPL-2.0-or-later
"""Who a patch waits on (intel/queue.py) and the recipients a patch mail names (sources/mail.py)."""

from __future__ import annotations

import pytest

from lkml_assistant.intel.queue import addressed, is_list_address, list_address_of, waiting_on
from lkml_assistant.sources.mail import parse_message


@pytest.mark.parametrize(
    "address",
    [
        "netdev@vger.kernel.org",
        "linux-kernel@vger.kernel.org",
        "linux-arm-kernel@lists.infradead.org",
        "linux-rt-devel@lists.linux.dev",
        "linux-mm@kvack.org",
        "dm-devel@redhat.com",
        "coreteam@netfilter.org",
        "kasan-dev@googlegroups.com",
        "patchwork-bot+netdevbpf@kernel.org",
        "not-an-address",
    ],
)
def test_lists_are_lists(address):
    assert is_list_address(address)


@pytest.mark.parametrize(
    "address", ["ja@ssi.bg", "pablo@netfilter.org", "linux@roeck-us.net", "x86@kernel.org"]
)
def test_people_are_people(address):
    assert not is_list_address(address)


def test_a_list_id_names_its_address_and_known_lists_are_kept_out():
    assert list_address_of("<netdev.vger.kernel.org>") == "netdev@vger.kernel.org"
    asked = addressed(
        ["Maintainer@Example.org", "netdev@vger.kernel.org"],
        ["author@example.org", "team@example.com", "maintainer@example.org"],
        author="Author@example.org",
        known_lists=["team@example.com"],
    )
    assert asked == ("maintainer@example.org",)


def test_an_open_patch_waits_on_those_who_did_not_answer_and_a_closed_one_on_nobody():
    asked = ("a@x.org", "b@x.org", "c@x.org")
    assert waiting_on(asked, answered={"B@x.org"}, status="in-discussion") == ("a@x.org", "c@x.org")
    for closed in ("accepted", "rejected", "superseded"):
        assert waiting_on(asked, answered=(), status=closed) == ()


def test_a_mail_keeps_its_to_and_cc_lowercase_in_order():
    raw = (
        b"Message-ID: <p@x>\nFrom: A <a@x.org>\n"
        b'To: "Doe, J" <J@Example.org>, netdev@vger.kernel.org\n'
        b"Cc: =?utf-8?q?K=C3=B6nig?= <u@p.de>,\n\tfoo@bar.com, j@example.org\n"
        b"Subject: [PATCH] x\n\nbody\n"
    )
    message = parse_message(raw)
    assert message.to == ("j@example.org", "netdev@vger.kernel.org")
    assert message.cc == ("u@p.de", "foo@bar.com", "j@example.org")

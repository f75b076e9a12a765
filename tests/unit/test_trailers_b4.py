# SPDX-License-Identifier: GPL-2.0-or-later
"""Follow-up trailers against b4 on corpus threads, per (patch, kind, email).

b4 (mricon/b4, the kernel's own tool) reads the same conversations through its Python API
(tests/b4_compare.py). Every disagreement must be listed, with its reason, in
tests/data/b4_known_differences.json; a new one fails the test, and so does a listed one that
no longer happens (the list stays true). The multi-version threads and one conversation in
four of the netfilter-devel slice are compared (about 25 s: marked slow).
"""

from __future__ import annotations

import json

import pytest

from tests.b4_compare import Triple, compare
from tests.corpus import corpus_path, mbox_messages
from tests.shared_data import REPO_ROOT

pytestmark = pytest.mark.slow

KNOWN = REPO_ROOT / "tests" / "data" / "b4_known_differences.json"
THREADS = (
    "pwm-th1520-v1-v3.mbox",
    "pwm-ma35d1-v1-v3-resend-nak.mbox",
    "pwm-axi-pwmgen-v1-v6-suffix-version.mbox",
    "pwm-u64-period-v1-v7-resend.mbox",
    "pwm-chips-lifetime-v1-v6.mbox.gz",
    "platform-get-irq-optional-nak.mbox.gz",
    "aspeed-pwm-tach-no-patch-prefix-nak.mbox.gz",
    "hyperv-tglx-device-msi-rfc-v2-quilt.mbox.gz",
    "hyperv-decruft-vmalloc-no-prefix.mbox",
    "hyperv-root-partition-rfc-v1-v3.mbox.gz",
    "intel-wired-lan-dmarc-via-from.mbox.gz",
)
SOURCES = [(f"threads/{name}", 1) for name in THREADS] + [("netfilter-devel-2025.mbox.gz", 4)]


def _explained(file: str, side: str, triple: Triple, known: list[dict]) -> dict | None:
    patch, kind, email = triple
    for entry in known:
        if (entry["file"], entry["side"], entry["kind"], entry["email"]) != (
            file,
            side,
            kind,
            email,
        ):
            continue
        if entry["patches"] == "*" or patch in entry["patches"]:
            return entry
    return None


def test_every_known_difference_has_a_reason() -> None:
    known = json.loads(KNOWN.read_text(encoding="utf-8"))
    for entry in known:
        assert entry["side"] in {"b4", "ours"}
        assert len(entry["reason"]) > 40


@pytest.mark.parametrize(("file", "sample"), SOURCES)
def test_trailers_agree_with_b4_or_the_difference_is_known(file: str, sample: int) -> None:
    known = json.loads(KNOWN.read_text(encoding="utf-8"))
    raws = mbox_messages(corpus_path("mbox", "linux-mailinglist-archives", file))
    result = compare(raws, sample=sample)
    assert result.b4, "b4 found no trailers at all: the comparison is not running"
    new = []
    used: set[int] = set()
    for side, triples in (("ours", result.only_ours), ("b4", result.only_b4)):
        for triple in sorted(triples):
            entry = _explained(file, side, triple, known)
            if entry is None:
                new.append((side, triple))
            else:
                used.add(id(entry))
    assert new == [], "new disagreements with b4: explain them in b4_known_differences.json"
    stale = [e["reason"][:60] for e in known if e["file"] == file and id(e) not in used]
    assert stale == [], "known differences that no longer happen"

# SPDX-License-Identifier: GPL-2.0-or-later
"""Our range-diff verdicts against ``git range-diff`` on the corpus's real multi-version threads.

Each version's patches are committed in a scratch repository (tests/git_rangediff.py says how);
git's pairs (=, !, <, >) must be ours, pair by pair, for every consecutive pair of versions
of every chain in the threads.
"""

from __future__ import annotations

import logging
import shutil

import pytest

from lkml_assistant.intel.rangediff import RangePatch, range_diff
from lkml_assistant.intel.version_candidates import candidates_from_mail
from lkml_assistant.intel.versions import link_versions
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import parse_mbox
from tests.corpus import read_mbox, threads_path
from tests.git_rangediff import GitRangeDiff

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.slow,  # ~25 s: 803 patch mails through git apply and git range-diff
]
log = logging.getLogger(__name__)

THREADS = [
    # (file, versions expected in its longest chain)
    ("pwm-chips-lifetime-v1-v6.mbox.gz", 6),
    ("pwm-u64-period-v1-v7-resend.mbox", 12),
    ("pwm-axi-pwmgen-v1-v6-suffix-version.mbox", 6),
    ("pwm-th1520-v1-v3.mbox", 3),
    ("pwm-ma35d1-v1-v3-resend-nak.mbox", 3),
    ("hyperv-root-partition-rfc-v1-v3.mbox.gz", 3),
]


def _versions(name: str) -> list[list[RangePatch]]:
    messages = parse_mbox(read_mbox(threads_path(name))).messages
    by_id: dict[str, MailMessage] = {}
    for message in messages:
        by_id.setdefault(message.message_id, message)
    candidates = {c.id: c for c in candidates_from_mail(messages, "linux-pwm")}
    chains = link_versions(candidates.values()).chains
    longest = max(chains, key=lambda chain: len(chain.links))
    out = []
    for series_id in longest.series_ids:
        patches = []
        for msgid in candidates[series_id].patch_message_ids:
            mail = by_id[msgid]
            patches.append(
                RangePatch.from_mail(
                    msgid,
                    mail.subject,
                    mail.body,
                    author=f"{mail.author_name} <{mail.author_email}>",
                    attached_diffs=mail.attached_diffs,
                )
            )
        out.append(patches)
    return out


def _ours(old: list[RangePatch], new: list[RangePatch]) -> list[tuple[int | None, str, int | None]]:
    pairs = range_diff(old, new)
    return [
        (
            None if p.old_index is None else p.old_index + 1,
            p.verdict.mark,
            None if p.new_index is None else p.new_index + 1,
        )
        for p in pairs
    ]


@pytest.mark.parametrize(("name", "length"), THREADS)
def test_verdicts_match_git_range_diff(name, length, tmp_path):
    versions = _versions(name)
    assert len(versions) == length
    git = GitRangeDiff(tmp_path)
    applied = [git.version(f"v{n}", patches) for n, patches in enumerate(versions)]
    total = sum(len(p) for p in versions)
    skipped = [s for a in applied for s in a.skipped]
    for key, reason in skipped:
        log.warning("%s: %s not compared: %s", name, key, reason)
    assert len(skipped) <= total // 10, skipped
    compared = 0
    for n in range(1, len(versions)):
        old, new = applied[n - 1].patches, applied[n].patches
        theirs = git.range_diff(f"v{n - 1}", f"v{n}")
        ours = _ours(old, new)
        assert sorted(ours, key=str) == sorted(theirs, key=str), (n, ours, theirs)
        compared += len(ours)
    assert compared >= total // 2

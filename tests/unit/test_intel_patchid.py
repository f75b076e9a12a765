# SPDX-License-Identifier: GPL-2.0-or-later
"""Patch-ids: the same as ``git patch-id --stable`` (git run as a real peer) on corpus patches."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from lkml_assistant.intel.patchid import mail_patch_id, message_diffs, patch_id
from lkml_assistant.intel.subjects import is_patch_submission
from lkml_assistant.sources.mail import parse_message
from tests.corpus import mbox_messages, threads_path

DIFF_A = """\
diff --git a/drivers/pwm/core.c b/drivers/pwm/core.c
index 1111111..2222222 100644
--- a/drivers/pwm/core.c
+++ b/drivers/pwm/core.c
@@ -10,3 +10,3 @@ static int foo(void)
 \tint a;
-\tint b;
+\tlong b;
 \treturn 0;
"""
DIFF_B = """\
diff --git a/drivers/pwm/Kconfig b/drivers/pwm/Kconfig
index 3333333..4444444 100644
--- a/drivers/pwm/Kconfig
+++ b/drivers/pwm/Kconfig
@@ -1,2 +1,3 @@
 config PWM
+\tbool
 \ttristate
"""


def _corpus_patches(per_file: int = 20) -> list[tuple[str, str]]:
    """Posted patches from three real threads, git-send-email and quilt alike."""
    found: list[tuple[str, str]] = []
    for name in (
        "pwm-chips-lifetime-v1-v6.mbox.gz",
        "hyperv-root-partition-rfc-v1-v3.mbox.gz",
        "hyperv-decruft-vmalloc-no-prefix.mbox",
    ):
        taken = 0
        for raw in mbox_messages(threads_path(name))[::3]:
            message = parse_message(raw)
            if taken < per_file and message.has_patch and is_patch_submission(message):
                found.append((message.message_id, message_diffs(message)))
                taken += 1
    return found


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_matches_git_patch_id_stable_on_real_patches() -> None:
    patches = _corpus_patches()
    assert len(patches) >= 40
    compared = 0
    for message_id, text in patches:
        run = subprocess.run(
            ["git", "patch-id", "--stable"], input=text.encode(), capture_output=True, check=True
        )
        words = run.stdout.decode().split()
        assert patch_id(text) == (words[0] if words else None), message_id
        compared += bool(words)
    assert compared >= 40


def test_commit_message_line_numbers_whitespace_and_blob_ids_do_not_count() -> None:
    moved = DIFF_A.replace("@@ -10,3 +10,3 @@", "@@ -99,3 +101,3 @@").replace("1111111", "abc")
    respaced = DIFF_A.replace("\tlong b;", "    long  b;")
    mail = "pwm: widen b\n\nSigned-off-by: A <a@example.org>\n---\n" + DIFF_A + "-- \n2.43.0\n"
    assert patch_id(DIFF_A) is not None
    assert patch_id(DIFF_A) == patch_id(moved) == patch_id(respaced) == patch_id(mail)


def test_file_order_does_not_count_but_content_does() -> None:
    assert patch_id(DIFF_A + DIFF_B) == patch_id(DIFF_B + DIFF_A)
    assert patch_id(DIFF_A) != patch_id(DIFF_A.replace("long b;", "short b;"))
    assert patch_id("no diff here\n") is None


def test_quilt_diff_without_git_headers_gets_an_id() -> None:
    quilt = "\n".join(DIFF_A.splitlines()[2:]) + "\n"
    assert patch_id(quilt) is not None


def test_a_resend_has_the_same_patch_id_as_the_original() -> None:
    """u64 v5 and its RESEND (2020-02-12): other Message-IDs, the same two patches."""
    by_subject: dict[str, list[str | None]] = {}
    for raw in mbox_messages(threads_path("pwm-u64-period-v1-v7-resend.mbox")):
        message = parse_message(raw)
        if message.subject.endswith("pwm: Convert drivers to use 64-bit period and duty cycle"):
            by_subject.setdefault(message.subject.split("]")[0], []).append(mail_patch_id(message))
    assert by_subject["[PATCH v5 1/2"] == by_subject["[RESEND v5 1/2"]
    assert by_subject["[PATCH v5 1/2"][0] is not None

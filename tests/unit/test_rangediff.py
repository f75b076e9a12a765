# SPDX-License-Identifier: GPL-2.0-or-later
"""Range-diff rules on small patches: message-only changes, notes, changelogs, added/dropped."""

from __future__ import annotations

from lkml_assistant.intel.rangediff import RangePatch, changelog_of, range_diff, split_patch_body
from lkml_assistant.models.rangediff import PairVerdict

DIFF = "\n".join(
    [
        "diff --git a/lib/x.c b/lib/x.c",
        "index 1111111..2222222 100644",
        "--- a/lib/x.c",
        "+++ b/lib/x.c",
        "@@ -10,7 +10,7 @@ int x(void)",
        " {",
        " \tint a = 1;",
        " \tint b = 2;",
        "-\treturn a;",
        "+\treturn a + b;",
        " }",
        " ",
        " int y(void)",
        "-- ",
        "2.43.0",
        "",
    ]
)


def _patch(key: str, message: str, diff: str = DIFF, notes: str = "") -> RangePatch:
    stat = " lib/x.c | 2 +-\n 1 file changed"
    body = f"{message}\n\nSigned-off-by: A <a@example.org>\n---\n{notes}\n{stat}\n\n{diff}"
    return RangePatch.from_mail(key, "[PATCH v2 1/2] lib: fix x", body, author="A <a@example.org>")


def test_a_body_splits_into_message_notes_and_diff():
    message, notes, diff = split_patch_body(
        "Fix it.\n\nSigned-off-by: A <a@b>\n---\nv2: reworded\n\n lib/x.c | 2 +-\n\n" + DIFF
    )
    assert message == "Fix it.\n\nSigned-off-by: A <a@b>"
    assert notes == "v2: reworded"
    assert diff.startswith("diff --git") and diff.endswith("2.43.0\n")


def test_same_patch_is_unchanged_and_a_new_trailer_is_a_message_change():
    old = _patch("o1", "Fix x.")
    same = _patch("n1", "Fix x.", notes="v2: no change")
    reviewed = RangePatch.from_mail(
        "n2",
        "[PATCH v2 1/2] lib: fix x",
        "Fix x.\n\nReviewed-by: R <r@example.org>\nSigned-off-by: A <a@example.org>\n---\n" + DIFF,
        author="A <a@example.org>",
    )
    (pair,) = range_diff([old], [same])
    assert (pair.verdict, pair.interdiff, pair.notes) == (
        PairVerdict.UNCHANGED,
        "",
        "v2: no change",
    )
    (pair,) = range_diff([old], [reviewed])
    assert pair.verdict is PairVerdict.CHANGED and pair.same_code
    assert "+    Reviewed-by: R <r@example.org>" in pair.interdiff


def test_an_unrelated_patch_is_added_and_the_old_one_dropped():
    other = DIFF.replace("lib/x.c", "drivers/y.c").replace("return a + b", "return 0")
    other = other.replace("\tint a = 1;\n \tint b = 2;", "\tlong q;\n \tlong r;")
    pairs = range_diff([_patch("o1", "Fix x.")], [_patch("n1", "Other.", diff=other)])
    assert [p.verdict for p in pairs] == [PairVerdict.DROPPED, PairVerdict.ADDED]


def test_a_cover_changelog_starts_at_its_changes_line():
    cover = (
        "This fixes x.\n\nChanges in v2:\n - reworded\n\nA (1):\n  lib: fix x\n\n"
        " lib/x.c | 2 +-\n 1 file changed\n\n-- \n2.43.0"
    )
    assert changelog_of(cover) == "Changes in v2:\n - reworded\n\nA (1):\n  lib: fix x"
    assert changelog_of("Just a cover.\n") == "Just a cover."

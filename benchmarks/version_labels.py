# SPDX-License-Identifier: GPL-2.0-or-later
"""Score version links against the labelled sample in ``tests/data/labels/version_links.json``.

Each labelled series names its acceptable outcomes: the previous version's series id, ``none``
or ``resend:<id>``. A link made by the code is correct when its predecessor is acceptable;
a series whose label requires a link (``none`` not acceptable) is found when the code links it
to an acceptable predecessor. Used by ``make versions-report`` (no test holds the targets:
scoring needs all four slices parsed, about 20 s, which is bench work, not ``make test``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lkml_assistant.intel.versions import VersionLinks

LABELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "labels" / "version_links.json"


def load_labels(path: Path = LABELS) -> dict[str, dict[str, tuple[str, ...]]]:
    """list name -> series id -> acceptable outcomes."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for entry in json.loads(path.read_text(encoding="utf-8"))["series"]:
        out.setdefault(entry["list"], {})[entry["series"]] = tuple(entry["accept"])
    return out


def outcome(links: VersionLinks, series_id: str) -> tuple[str, str | None]:
    """(rule or 'resend' or 'none', predecessor id)."""
    if series_id in links.resend_of:
        return "resend", links.resend_of[series_id]
    chain = links.chain_of(series_id)
    if chain is not None:
        ids = chain.series_ids
        if series_id in ids and ids.index(series_id) > 0:
            position = ids.index(series_id)
            return str(chain.links[position].rule), ids[position - 1]
    return "none", None


@dataclass
class Score:
    made: Counter[str] = field(default_factory=Counter)  # links made, per rule
    correct: Counter[str] = field(default_factory=Counter)
    needed: int = 0  # labelled series that must be linked
    found: Counter[str] = field(default_factory=Counter)  # ... and were, per rule
    resends_made: int = 0
    resends_correct: int = 0
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    labelled: int = 0

    def add(self, name: str, links: VersionLinks, labels: dict[str, tuple[str, ...]]) -> None:
        for series_id, accept in sorted(labels.items()):
            self.labelled += 1
            rule, previous = outcome(links, series_id)
            links_ok = {a for a in accept if a != "none" and not a.startswith("resend:")}
            resend_ok = {a.removeprefix("resend:") for a in accept if a.startswith("resend:")}
            must_link = "none" not in accept and not resend_ok
            if rule == "resend":
                self.resends_made += 1
                self.resends_correct += previous in resend_ok
            elif rule != "none":
                self.made[rule] += 1
                if previous in links_ok:
                    self.correct[rule] += 1
                else:
                    self.wrong.append(f"{name} {series_id}: {rule} -> {previous}, want {accept}")
            if must_link:
                self.needed += 1
                if rule not in ("none", "resend") and previous in links_ok:
                    self.found[rule] += 1
                else:
                    self.missed.append(f"{name} {series_id}: got {rule} {previous}, want {accept}")

    @property
    def precision(self) -> float:
        made = sum(self.made.values())
        return sum(self.correct.values()) / made if made else 1.0

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / self.needed if self.needed else 1.0

    def lines(self) -> list[str]:
        out = [
            f"   labelled series {self.labelled}; links made {sum(self.made.values())}, "
            f"precision {100 * self.precision:.1f} %; links needed {self.needed}, "
            f"recall {100 * self.recall:.1f} %",
        ]
        for rule in sorted(set(self.made) | set(self.found)):
            made, ok = self.made[rule], self.correct[rule]
            share = self.found[rule] / self.needed if self.needed else 0.0
            out.append(
                f"     {rule:12} made {made:3}, correct {ok:3} "
                f"(precision {100 * ok / made if made else 100:.1f} %), "
                f"recall share {100 * share:.1f} %"
            )
        out.append(f"     RESENDs folded {self.resends_made}, correct {self.resends_correct}")
        return out

    def figures(self) -> dict[str, float]:
        return {
            "labelled": self.labelled,
            "link_precision": round(100 * self.precision, 1),
            "link_recall": round(100 * self.recall, 1),
        }

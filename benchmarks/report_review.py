# SPDX-License-Identifier: GPL-2.0-or-later
"""Precision and recall of the review rules on the labelled samples from the corpus.

``python -m benchmarks.report_review`` (part of ``make versions-report``) reads
tests/data/labels/naks.json (NAK-like lines: NAKs, protocol NAKs, look-alikes) and
applied.json ("applied" replies and look-alikes), each entry a line of one corpus message
labelled by a person, and says per sample how many lines the rule gets right, then lists
every miss and false alarm with its reason. The lines are judged as the discussion jobs
judge a reply: a NAK line by :func:`~lkml_assistant.intel.naks.nak_lines` on the reply's own
text, an "applied" line by :func:`~lkml_assistant.intel.applied.read_applied`. Ends with one
JSON line of the figures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tests.labelled import Label, labelled_message, load_labels

from lkml_assistant.intel.applied import read_applied
from lkml_assistant.intel.naks import nak_lines
from lkml_assistant.intel.trailers import extract_trailers
from lkml_assistant.models.discussion import TrailerKind
from lkml_assistant.sources.mail import normalize_body


@dataclass
class Score:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positive + self.false_negative
        return self.true_positive / real if real else 1.0


def nak_predicted(label: Label) -> bool:
    message = labelled_message(label)
    if label.line in nak_lines(normalize_body(message.body).own_text):
        return True
    # A Nacked-by: trailer line is read as a trailer, naming the person.
    return label.text.lower().startswith("nacked-by") and any(
        trailer.kind is TrailerKind.NACKED_BY and not trailer.bare_statement
        for trailer in extract_trailers(message, is_patch=False)
    )


def applied_predicted(label: Label) -> bool:
    reading = read_applied(labelled_message(label))
    return reading is not None and reading.line == label.line


def score(labels: list[Label], predict: Callable[[Label], bool]) -> tuple[Score, list[str]]:
    result = Score()
    notes: list[str] = []
    for label in labels:
        said = predict(label)
        if said and label.label:
            result.true_positive += 1
        elif said:
            result.false_positive += 1
            notes.append(f"    false alarm: {label.text[:70]!r} ({label.reason}) {label.msgid}")
        elif label.label:
            result.false_negative += 1
            notes.append(f"    missed:      {label.text[:70]!r} ({label.reason}) {label.msgid}")
        else:
            result.true_negative += 1
    return result, notes


SAMPLES = (
    ("naks", "naks.json", nak_predicted, "NAK lines (NAKs in prose, protocol NAKs, look-alikes)"),
    ("applied", "applied.json", applied_predicted, '"applied" replies and look-alikes'),
)


def main() -> int:
    figures: dict[str, float] = {}
    for key, name, predict, title in SAMPLES:
        labels = load_labels(name)
        result, notes = score(labels, predict)
        positives = sum(label.label for label in labels)
        print(f"{title}: {len(labels)} labelled lines, {positives} positive")
        print(
            f"  precision {result.precision:.1%}  recall {result.recall:.1%}  "
            f"(tp {result.true_positive}, fp {result.false_positive}, "
            f"fn {result.false_negative}, tn {result.true_negative})"
        )
        for note in notes:
            print(note)
        figures[f"{key}_precision"] = round(result.precision, 4)
        figures[f"{key}_recall"] = round(result.recall, 4)
    print(json.dumps({"report": "review", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

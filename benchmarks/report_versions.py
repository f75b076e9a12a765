# SPDX-License-Identifier: GPL-2.0-or-later
"""Version-chain report over the four bulk list slices of the corpus.

``python -m benchmarks.report_versions`` prints, per list and in total: series found, links
made by each rule, chains by length, series left unlinked, RESENDs recognized, and a
deterministic sample of linked chains per rule and of unlinked series with a version above 1
(the suspicious ones), each with a lore link for a person to check; then precision and recall
per rule on the labelled sample (``tests/data/labels/version_links.json``, scored by
:mod:`benchmarks.version_labels`), the links that disagree with it, and the time taken.
Ends with one JSON line of the totals, like the benchmarks.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from tests.shared_data import shared_dir

from benchmarks.version_labels import Score, load_labels
from lkml_assistant.intel.version_candidates import SeriesCandidate, candidates_from_mail
from lkml_assistant.intel.versions import LinkRule, VersionLinks, link_versions
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import parse_mbox

SLICES = (
    "intel-wired-lan-2019",
    "linux-hyperv-2019-2020",
    "linux-pwm-2023-2024",
    "netfilter-devel-2025",
)
SAMPLE = 5


def _messages(path: Path) -> list[MailMessage]:
    return list(parse_mbox(path.read_bytes()).messages)


def _line(candidate: SeriesCandidate) -> str:
    date = candidate.date.strftime("%Y-%m-%d") if candidate.date else "????-??-??"
    return (
        f"      {date} v{candidate.version} {candidate.subject[:90]}\n"
        f"        {candidate.submitter.label} https://lore.kernel.org/r/{candidate.message_id}"
    )


def _spread(items: list[str], count: int) -> list[str]:
    """``count`` items spread evenly over a sorted list: deterministic, not just the first."""
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def report(name: str, candidates: list[SeriesCandidate], links: VersionLinks) -> dict[str, int]:
    by_id = {c.id: c for c in candidates}
    rules = Counter(link.rule for chain in links.chains for link in chain.links if link.rule)
    lengths = Counter(len(chain.links) for chain in links.chains)
    in_chains = sum(lengths[n] * n for n in lengths)
    suspicious = sorted(s for s in links.unlinked if by_id[s].version > 1)
    figures = {
        "series": len(candidates),
        "in_chains": in_chains,
        "chains": len(links.chains),
        "unlinked": len(links.unlinked),
        "unlinked_v2_plus": len(suspicious),
        "resends": len(links.resend_of),
        **{f"by_{rule.value}": rules[rule] for rule in LinkRule},
    }
    print(f"== {name}")
    print(
        f"   series {figures['series']}, in chains {in_chains} ({len(links.chains)} chains), "
        f"unlinked {figures['unlinked']} (of which v2+: {len(suspicious)}), "
        f"RESENDs recognized {figures['resends']}"
    )
    print("   links by rule: " + ", ".join(f"{r.value} {rules[r]}" for r in LinkRule))
    print("   chains by length: " + ", ".join(f"{n}: {lengths[n]}" for n in sorted(lengths)))
    for rule in LinkRule:
        heads = sorted(
            chain.links[0].series_id
            for chain in links.chains
            if any(link.rule is rule for link in chain.links)
        )
        if not heads:
            continue
        print(f"   sample of chains with a {rule.value} link:")
        for head in _spread(heads, SAMPLE):
            chain = links.chain_of(head)
            assert chain is not None
            print("    chain " + " -> ".join(f"v{link.version}" for link in chain.links))
            for link in chain.links:
                print(_line(by_id[link.series_id]) + (f"  [{link.rule}]" if link.rule else ""))
    if suspicious:
        print("   sample of unlinked series with a version above 1:")
        for series_id in _spread(suspicious, SAMPLE):
            print(_line(by_id[series_id]))
    return figures


def main() -> int:
    base = shared_dir() / "corpus" / "mbox" / "linux-mailinglist-archives"
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    messages_read = 0
    labels = load_labels()
    score = Score()
    for name in SLICES:
        path = base / f"{name}.mbox.gz"
        if not path.exists():
            print(f"missing slice {path}", file=sys.stderr)
            return 1
        messages = _messages(path)
        messages_read += len(messages)
        candidates = candidates_from_mail(messages, name)
        links = link_versions(candidates)
        totals.update(report(name, candidates, links))
        score.add(name, links, labels.get(name, {}))
    elapsed = time.perf_counter() - started
    print("== total")
    print(
        f"   {messages_read} messages, series {totals['series']}, in chains "
        f"{totals['in_chains']} ({totals['chains']} chains), unlinked {totals['unlinked']} "
        f"(v2+: {totals['unlinked_v2_plus']}), RESENDs {totals['resends']}"
    )
    print(
        "   links by rule: " + ", ".join(f"{r.value} {totals[f'by_{r.value}']}" for r in LinkRule)
    )
    print(f"   time: {elapsed:.1f} s (parsing, grouping, patch-ids and linking)")
    print("== labelled sample (tests/data/labels/version_links.json)")
    for line in score.lines():
        print(line)
    for kind, items in (("wrong link", score.wrong), ("missed link", score.missed)):
        for item in items:
            print(f"   {kind}: {item}")
    figures = {"report": "versions", "seconds": round(elapsed, 2), **totals, **score.figures()}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

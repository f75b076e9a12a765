# SPDX-License-Identifier: GPL-2.0-or-later
"""Mail layer speed against bare stdlib parsing, over the four bulk list slices (~19,000 mails).

Baseline: ``email.message_from_bytes`` (compat32) of every message, which only splits headers
and MIME parts. Ours: ``parse_message`` + ``build_threads`` + ``scan_trailers`` of the same
messages, i.e. everything the mirror does with a mail. Decompression and mbox splitting happen
once, before timing. Target: baseline_time / our_time >= 0.5 (at most twice the bare parse).

Run with ``uv run python benchmarks/bench_mail.py`` (or ``make bench``); ``BENCH_MAIL_REPEATS``
sets the number of timed rounds. The last line printed is JSON.
"""

from __future__ import annotations

import email
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

from lkml_assistant.intel.threads import build_threads
from lkml_assistant.intel.trailers import scan_trailers
from lkml_assistant.models.discussion import MailMessage
from lkml_assistant.sources.mail import MailParseError, parse_message, read_mbox_archive

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5


def shared_dir() -> Path:
    return Path(os.environ.get("LKML_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


def load_slices() -> tuple[list[bytes], list[str]]:
    folder = shared_dir() / "corpus" / "mbox" / "linux-mailinglist-archives"
    paths = sorted(folder.glob("*.mbox.gz"))
    raws: list[bytes] = []
    for path in paths:
        archive = read_mbox_archive(path.read_bytes())
        if not archive.complete:
            print(f"warning: {path.name}: {'; '.join(archive.problems)}", file=sys.stderr)
        raws.extend(archive.messages)
    return raws, [path.name for path in paths]


def run_baseline(raws: list[bytes]) -> int:
    for raw in raws:
        email.message_from_bytes(raw)
    return len(raws)


def run_ours(raws: list[bytes]) -> dict[str, int]:
    messages: list[MailMessage] = []
    rejected = 0
    for raw in raws:
        try:
            messages.append(parse_message(raw))
        except MailParseError:
            rejected += 1
    threads = build_threads(messages)
    given = carried = 0
    for message in messages:
        scan = scan_trailers(message)
        given += len(scan.given)
        carried += len(scan.carried)
    return {
        "parsed": len(messages),
        "rejected": rejected,
        "threads": len(threads),
        "trailers_given": given,
        "trailers_carried": carried,
    }


def timed(action: object, raws: list[bytes]) -> float:
    assert callable(action)
    gc.collect()
    started = time.perf_counter()
    action(raws)
    return time.perf_counter() - started


def main() -> int:
    repeats = max(1, int(os.environ.get("BENCH_MAIL_REPEATS", "5")))
    raws, names = load_slices()
    if not raws:
        print(f"no bulk slices found under {shared_dir()}", file=sys.stderr)
        return 1
    megabytes = sum(len(raw) for raw in raws) / 1e6
    print(f"slices: {', '.join(names)}")
    print(f"messages: {len(raws)} ({megabytes:.1f} MB decompressed)")

    counts = run_ours(raws)  # warm-up, and the figures to print
    baseline_times: list[float] = []
    our_times: list[float] = []
    for _ in range(repeats):  # interleaved, so both see the same machine noise
        baseline_times.append(timed(run_baseline, raws))
        our_times.append(timed(run_ours, raws))
    baseline = statistics.median(baseline_times)
    ours = statistics.median(our_times)
    ratio = baseline / ours
    print(f"baseline email.message_from_bytes: median {baseline:.3f} s over {repeats} rounds")
    print(f"ours parse+thread+trailers:       median {ours:.3f} s over {repeats} rounds")
    print(f"per message: baseline {baseline / len(raws) * 1e6:.0f} us, ours "
          f"{ours / len(raws) * 1e6:.0f} us")  # fmt: skip
    print(
        f"parsed {counts['parsed']}, rejected {counts['rejected']}, threads {counts['threads']}, "
        f"trailers given {counts['trailers_given']}, carried {counts['trailers_carried']}"
    )
    met = ratio >= TARGET_RATIO
    print(
        f"ratio baseline/ours = {ratio:.2f} (target >= {TARGET_RATIO}): "
        f"{'met' if met else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "benchmark": "mail",
                "messages": len(raws),
                "megabytes": round(megabytes, 1),
                "repeats": repeats,
                "baseline_median_s": round(baseline, 4),
                "ours_median_s": round(ours, 4),
                "baseline_runs_s": [round(value, 4) for value in baseline_times],
                "ours_runs_s": [round(value, 4) for value in our_times],
                "ratio": round(ratio, 3),
                "target_ratio": TARGET_RATIO,
                "target_met": met,
                **counts,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

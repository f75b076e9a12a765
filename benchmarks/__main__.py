# SPDX-License-Identifier: GPL-2.0-or-later
"""Run every ``benchmarks/bench_*.py`` in its own interpreter, one after another.

``python -m benchmarks [NAME ...]`` runs only the named ones (``fetch_patches``, ``mail`` …).
Each prints its own figures and ends with one JSON line; the exit status is non-zero if any
benchmark failed to run (a missed target is reported, not fatal: machines are shared and noisy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failed = []
    # report_versions prints figures (version chains over the bulk slices), not timings to beat.
    modules = [path.stem for path in sorted(HERE.glob("bench_*.py"))] + ["report_versions"]
    for stem in modules:
        name = stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"=== {name} ===", flush=True)
        module = f"benchmarks.{stem}"
        result = subprocess.run([sys.executable, "-m", module], cwd=HERE.parent, check=False)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

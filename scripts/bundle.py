#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Build the Lambda bundle (``dist/lambda``) without Docker: wheels for the Lambda platform.

The exact versions come from ``uv.lock`` (``uv export``, main dependencies plus the ``aws``
extra); pip's platform options (``uv pip install --python-platform``) fetch the manylinux
wheels of the Lambda runtime's CPython, whatever this machine runs. boto3, botocore and
s3transfer are left out: the Lambda runtime provides them. The project itself is installed
without dependencies. No ``__pycache__``, no console scripts.

    python scripts/bundle.py [--out dist/lambda] [--python-version 3.13] [--arch x86_64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Must match infra/lkml_infra/lambdas.py (RUNTIME, ARCHITECTURE).
DEFAULT_PYTHON_VERSION = "3.13"
DEFAULT_ARCH = "x86_64"
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Directories pip leaves in a --target install that the function never reads.
NOT_SHIPPED = ("bin",)


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("bundle: uv is not on PATH (make setup installs it)")
    return uv


def _requirement_name(line: str) -> str:
    return line.split("==", 1)[0].split("[", 1)[0].strip().lower().replace("_", "-")


def export_requirements(uv: str) -> list[str]:
    """Pinned runtime requirements from uv.lock, minus what the Lambda runtime provides."""
    exported = subprocess.run(  # noqa: S603 - uv from PATH, fixed arguments
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--extra",
            "aws",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--no-annotate",
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requirements = []
    for raw in exported.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        if _requirement_name(line) in PROVIDED_BY_RUNTIME:
            continue
        requirements.append(line)
    return requirements


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def build(out: Path, python_version: str, arch: str) -> Path:
    uv = _uv()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    platform = f"{arch}-manylinux2014"
    common = [
        uv,
        "pip",
        "install",
        "--quiet",
        "--target",
        str(out),
        "--python-version",
        python_version,
        "--python-platform",
        platform,
        "--no-compile",
    ]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(export_requirements(uv)) + "\n")
        # Every pin, no resolution: what uv.lock says is what ships, nothing pulled back in.
        subprocess.run(  # noqa: S603 - uv from PATH, our paths
            [*common, "--only-binary", ":all:", "--no-deps", "-r", str(requirements)],
            check=True,
            env=env,
        )
        # The project: a pure-Python wheel built from this tree.
        project = [*common, "--no-deps", str(REPO_ROOT)]
        subprocess.run(project, check=True, env=env)  # noqa: S603 - uv from PATH, our paths

    removed = []
    for name in PROVIDED_BY_RUNTIME:
        for path in out.glob(f"{name}*"):
            removed.append(path.name)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if removed:
        print(f"bundle: removed what the runtime provides: {', '.join(sorted(removed))}")
    for name in NOT_SHIPPED:
        shutil.rmtree(out / name, ignore_errors=True)
    for cache in list(out.rglob("__pycache__")):
        shutil.rmtree(cache)
    for compiled in out.rglob("*.py[co]"):
        compiled.unlink()

    size = _size(out)
    print(
        f"bundle: {out} for CPython {python_version} {platform}: "
        f"{size / 1_000_000:.1f} MB unzipped (Lambda's limit is 250 MB)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "lambda")
    parser.add_argument("--python-version", default=DEFAULT_PYTHON_VERSION)
    parser.add_argument("--arch", choices=("x86_64", "aarch64"), default=DEFAULT_ARCH)
    args = parser.parse_args(argv)
    build(args.out.resolve(), args.python_version, args.arch)
    return 0


if __name__ == "__main__":
    sys.exit(main())

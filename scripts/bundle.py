#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Build the Lambda bundle (``dist/lambda``) without Docker: wheels for the Lambda platform.

The exact versions come from ``uv.lock`` (``uv export``, main dependencies plus the ``aws``
extra); pip's platform options (``uv pip install --python-platform``) fetch the manylinux
wheels of the Lambda runtime's CPython, whatever this machine runs. boto3, botocore and
s3transfer are left out: the Lambda runtime provides them. The project itself is installed
without dependencies. The local service's own packages (uvicorn, rich ...) are
pruned with what only they need. Bytecode is compiled for the runtime's CPython when this
machine has one (Lambda cannot write it); no console scripts.

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
# The local service's packages (HTTP server, terminal output): no Lambda imports them, and
# httpx would import rich and click at start-up only because they are installed. croniter
# stays: /health reads the schedules' periods from the recipes' cron expressions.
LOCAL_ONLY = ("uvicorn", "uvloop", "httptools", "rich")
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
            *(arg for name in LOCAL_ONLY for arg in ("--prune", name)),
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


def find_interpreter(version: str) -> str | None:
    """A CPython of exactly this version on PATH or under pyenv, or None."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    candidates = [shutil.which(f"python{version}")]
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python3"))]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(  # noqa: S603 - an interpreter we found, a fixed probe
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def precompile(out: Path, python_version: str) -> None:
    """Ship bytecode: Lambda's file system is read-only, so Python cannot cache what it
    compiles, and every cold start would compile every module it imports again.

    Bytecode is specific to the CPython version, so it is made only with an interpreter of the
    runtime's version; ``unchecked-hash`` keeps it valid whatever timestamps the zip restores.
    """
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        print(
            f"bundle: no CPython {python_version} here; shipping sources only (slower cold start)"
        )
        return
    subprocess.run(  # noqa: S603 - the runtime's interpreter, our path
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(out),
        ],
        check=True,
    )


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
    precompile(out, python_version)

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

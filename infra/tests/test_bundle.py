# SPDX-License-Identifier: GPL-2.0-or-later
"""The Lambda bundle ``scripts/bundle.py`` builds: what it holds and that the handlers import.

The bundle is built into a temporary directory for the Lambda runtime's CPython when this
machine has that interpreter (pyenv or PATH), else for this interpreter's version, and imported
by a fresh ``python -I -S``: no site-packages, only the standard library, the bundle and the
boto3/botocore/s3transfer the Lambda runtime itself provides.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lkml_infra.lambdas import ARCHITECTURE, BUNDLE_PLATFORM, BUNDLE_PYTHON_VERSION, RUNTIME

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE_SCRIPT = REPO_ROOT / "scripts" / "bundle.py"
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

pytestmark = pytest.mark.slow


def _bundle_script() -> ModuleType:
    """scripts/bundle.py as a module, for the helpers the tests share with it."""
    spec = importlib.util.spec_from_file_location("lkml_bundle_script", BUNDLE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(bundle, interpreter that imports it, its Python version)."""
    interpreter = _bundle_script().find_interpreter(BUNDLE_PYTHON_VERSION)
    version = BUNDLE_PYTHON_VERSION
    if interpreter is None:  # build for the Python we have; `make bundle` keeps the runtime's
        interpreter, version = sys.executable, f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = tmp_path_factory.mktemp("bundle") / "lambda"
    result = subprocess.run(
        [
            sys.executable,
            str(BUNDLE_SCRIPT),
            "--out",
            str(out),
            "--python-version",
            version,
            "--arch",
            "x86_64",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "MB unzipped" in result.stdout
    return out, interpreter, version


def test_bundle_matches_the_function_runtime_and_architecture() -> None:
    assert RUNTIME.name == f"python{BUNDLE_PYTHON_VERSION}"
    assert ARCHITECTURE.name == BUNDLE_PLATFORM == "x86_64"
    script = BUNDLE_SCRIPT.read_text()
    assert f'DEFAULT_PYTHON_VERSION = "{BUNDLE_PYTHON_VERSION}"' in script
    assert f'DEFAULT_ARCH = "{BUNDLE_PLATFORM}"' in script


def test_bundle_holds_the_project_and_its_wheels_but_not_boto3(
    built: tuple[Path, str, str],
) -> None:
    bundle, _, version = built
    assert (bundle / "lkml_assistant" / "functions" / "jobs.py").is_file()
    assert (bundle / "aws_lambda_powertools").is_dir()
    assert (bundle / "aws_xray_sdk").is_dir()
    tag = "cpython-" + version.replace(".", "")
    assert list((bundle / "pydantic_core").glob(f"_pydantic_core.{tag}-x86_64-linux-gnu.so"))
    names = {path.name.lower() for path in bundle.iterdir()}
    for provided in RUNTIME_PROVIDED:
        assert not any(name.startswith(provided) for name in names), provided
    assert not any(
        name.startswith(("pytest", "mypy", "ruff", "moto", "hypothesis")) for name in names
    )
    # The local service's packages stay out: httpx would import rich and click at every start.
    for local_only in ("uvicorn", "rich", "click", "uvloop", "httptools"):
        assert not any(name.startswith(local_only) for name in names), local_only
    # The pages' templates and stylesheet ship inside the package, with Jinja2.
    web = bundle / "lkml_assistant" / "web"
    assert (web / "templates" / "layout.html").is_file()
    assert (web / "static" / "style.css").is_file()
    assert (bundle / "jinja2").is_dir() and (bundle / "markupsafe").is_dir()
    # /health reads the recipes' cron expressions on Lambda too.
    assert any(name.startswith("croniter") for name in names)
    # Bytecode for the bundle's own CPython only, valid whatever timestamps the zip restores.
    tag = "cpython-" + version.replace(".", "")
    compiled = list(bundle.rglob("*.pyc"))
    assert all(f".{tag}." in path.name for path in compiled)
    handler_pyc = bundle / "lkml_assistant" / "functions" / "__pycache__" / f"jobs.{tag}.pyc"
    assert handler_pyc.is_file() or not compiled
    assert not (bundle / "bin").exists()


def test_handlers_import_from_the_bundle_alone(
    built: tuple[Path, str, str], tmp_path: Path
) -> None:
    bundle, interpreter, _ = built
    # What /var/runtime gives a Lambda function: boto3 and its two companions, nothing else.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        source = Path(spec.origin).parent
        (runtime / source.name).symlink_to(source, target_is_directory=True)
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(bundle)!r}, {str(runtime)!r}]\n"
        "import lkml_assistant.functions.jobs as jobs, lkml_assistant.functions.api as api\n"
        "import lkml_assistant.functions.consumer as consumer\n"
        "assert callable(jobs.handler) and callable(consumer.fetch_discussions)\n"
        "assert callable(api.handler)\n"
        "from lkml_assistant.web import render\n"
        "assert render.environment().get_template('patch.html')\n"
        "assert 'style.css' in render.static_files()\n"
        "import pydantic_core\n"
        "print(pydantic_core.__file__)\n"
    )
    result = subprocess.run(
        [interpreter, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(bundle))

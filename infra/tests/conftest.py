# SPDX-License-Identifier: GPL-2.0-or-later
"""Each environment is synthesized once per session, with cdk-nag's AWS Solutions checks on.

A synthesis that cdk-nag fails is redone without the checks, so the template tests still run
and only the nag test reports the findings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest
from aws_cdk.assertions import Template

from lkml_infra.account import STACK_NAME as ACCOUNT_STACK_NAME
from lkml_infra.app import build_app
from lkml_infra.config import ENVIRONMENTS


@dataclass(frozen=True)
class Synth:
    env: str
    template: Template
    raw: dict[str, Any]
    nag_findings: list[str]
    account_raw: dict[str, Any]
    """The template of the API Gateway account stack the environment's stack depends on."""
    account_stack_name: str
    dependencies: list[str]
    warnings: list[str]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.raw["Resources"].items()
            if resource["Type"] == kind
        }


def _findings(outdir: Path) -> list[str]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


def synthesize(env: str, bundle_dir: Path, outdir: Path) -> Synth:
    context = {"env": env, "bundle_dir": str(bundle_dir)}
    app, stack = build_app({}, bundle_dir, context=context, outdir=str(outdir / "nag"))
    findings: list[str] = []
    try:
        assembly = app.synth()
    except RuntimeError:
        findings = _findings(outdir / "nag")
        assert findings, "synthesis failed without a cdk-nag finding"
        app, stack = build_app(
            {}, bundle_dir, context=context, outdir=str(outdir / "plain"), nag=False
        )
        assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    raw = artifact.template
    account = assembly.get_stack_by_name(ACCOUNT_STACK_NAME)
    warnings = [
        str(entry.data)
        for entries in artifact.find_metadata_by_type("aws:cdk:warning")
        for entry in [entries]
    ]
    return Synth(
        env,
        Template.from_json(raw),
        raw,
        findings,
        account.template,
        account.stack_name,
        [dependency.id for dependency in artifact.dependencies],
        warnings,
    )


@pytest.fixture(scope="session")
def fake_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The templates do not depend on the code inside the asset: a one-file bundle will do."""
    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "placeholder.py").write_text("# the template tests need an asset, not code\n")
    return bundle


@pytest.fixture(scope="session")
def stacks(fake_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    return {
        env: synthesize(env, fake_bundle, tmp_path_factory.mktemp(f"cdk-{env}"))
        for env in ENVIRONMENTS
    }


@pytest.fixture(params=ENVIRONMENTS)
def synth(request: pytest.FixtureRequest, stacks: dict[str, Synth]) -> Synth:
    result: Synth = stacks[request.param]
    return result

# SPDX-License-Identifier: GPL-2.0-or-later
"""The deploy workflow (.github/workflows/deploy.yml) as GitHub reads it, and actionlint on it.

What it must hold: no job gets an OIDC token it does not use; a pull request's code never runs
with AWS credentials (it is synthesized without any, and only the pinned CDK CLI reads the
assembly with a read-only role); deploys only from main, dev -> staging -> smoke test -> prod;
pinned actions and CDK CLI; the Lambda runtime's Python; the alarm subscriptions passed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lkml_infra.lambdas import BUNDLE_PYTHON_VERSION

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"
DEPLOYS = ("deploy-dev", "deploy-staging", "deploy-prod")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in loaded:
        loaded["on"] = loaded.pop(True)
    return loaded


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def _credentials(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = (
        step
        for step in job["steps"]
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    )
    with_: dict[str, Any] = step["with"]
    return with_


def _aws_jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if "aws-actions/configure-aws-credentials" in _uses(job)
    }


def test_actionlint_finds_nothing() -> None:
    actionlint = Path(sys.executable).parent / "actionlint"
    result = subprocess.run(
        [str(actionlint), "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_oidc_token_only_for_the_jobs_that_assume_a_role(workflow: dict[str, Any]) -> None:
    assert set(workflow["on"]) >= {"pull_request", "push"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {}
    aws_jobs = _aws_jobs(workflow)
    assert set(aws_jobs) == {"diff", *DEPLOYS}
    for name, job in workflow["jobs"].items():
        expected = {"contents": "read"}
        if name in aws_jobs:
            expected["id-token"] = "write"
        assert job["permissions"] == expected, name


def test_every_aws_job_assumes_its_environment_s_role_without_keys(
    workflow: dict[str, Any],
) -> None:
    for name, job in _aws_jobs(workflow).items():
        credentials = _credentials(job)
        assert "aws-access-key-id" not in credentials
        role = credentials["role-to-assume"]
        if name == "diff":
            assert job["environment"] == "diff" and role == "${{ vars.AWS_DIFF_ROLE_ARN }}"
        else:
            assert job["environment"] == name.removeprefix("deploy-")
            assert role == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_a_pull_request_s_code_never_runs_with_credentials(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    synth, diff = jobs["synth"], jobs["diff"]
    assert "pull_request" in synth["if"] and "pull_request" in diff["if"]
    # synth runs the PR's app, without any credentials ...
    assert "aws-actions/configure-aws-credentials" not in _uses(synth)
    assert any("make synth ENV=dev" in run for run in _runs(synth))
    # ... and diff, with the read-only role, checks nothing out: it reads that assembly.
    assert "actions/checkout" not in _uses(diff) and diff["needs"] == "synth"
    (command,) = _runs(diff)
    assert '"$CDK_CLI" diff --app cdk.out lkml-dev' in command
    assert not any("make" in run or "uv run" in run for run in _runs(diff))


def test_deploys_only_from_main(workflow: dict[str, Any]) -> None:
    for name, job in workflow["jobs"].items():
        deploys = any(" deploy " in run and "CDK_CLI" in run for run in _runs(job))
        assert deploys == (name in DEPLOYS), name
        if deploys:
            assert "github.ref == 'refs/heads/main'" in job["if"], name
            assert "github.event_name != 'pull_request'" in job["if"], name


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_deploys_itself_and_passes_its_alarm_subscriptions(
    workflow: dict[str, Any], env: str
) -> None:
    job = workflow["jobs"][f"deploy-{env}"]
    (command,) = (run for run in _runs(job) if '"$CDK_CLI" deploy' in run)
    assert f"deploy lkml-{env} " in command and f"-c env={env}" in command
    assert '-c "alarm_email=$ALARM_EMAIL"' in command
    assert '-c "alarm_webhook_url=$ALARM_WEBHOOK_URL"' in command
    (step,) = (s for s in job["steps"] if s.get("run") == command)
    assert step["env"]["ALARM_EMAIL"] == "${{ vars.ALARM_EMAIL }}"
    assert any("make bundle" in run for run in _runs(job))
    if env != "dev":  # nobody to hear the alarms: the deployment stops
        assert any('test -n "$ALARM_EMAIL"' in run for run in _runs(job))


def test_prod_comes_after_a_smoke_test_of_staging(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]

    def upstream(name: str) -> set[str]:
        needs = jobs[name].get("needs", [])
        direct = {needs} if isinstance(needs, str) else set(needs)
        return direct.union(*(upstream(need) for need in direct)) if direct else set()

    assert upstream("deploy-prod") == {"test", "deploy-dev", "deploy-staging"}
    runs = _runs(jobs["deploy-staging"])
    deploy = next(n for n, run in enumerate(runs) if '"$CDK_CLI" deploy' in run)
    api = next(n for n, run in enumerate(runs) if "curl --fail" in run)
    job = next(n for n, run in enumerate(runs) if "aws lambda invoke" in run)
    assert deploy < api and deploy < job
    assert "lkml-staging-jobs" in runs[job] and "FunctionError" in runs[job]
    assert "ApiUrl" in runs[api]
    test = _runs(jobs["test"])
    assert "make lint" in test and "make test" in test and "make bundle" in test


def test_actions_and_the_cdk_cli_are_pinned(workflow: dict[str, Any]) -> None:
    pinned = re.compile(r"^[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert pinned.match(step["uses"]), f"{name}: {step['uses']}"
    assert re.fullmatch(r"aws-cdk@\d+\.\d+\.\d+", workflow["env"]["CDK_CLI"])
    text = WORKFLOW.read_text()
    assert "aws-cdk@2 " not in text and "npx --yes aws-cdk" not in text
    assert re.fullmatch(r"\d+\.\d+\.\d+", workflow["env"]["UV_VERSION"])


def test_ci_builds_on_the_lambda_runtime_s_python(workflow: dict[str, Any]) -> None:
    assert workflow["env"]["PYTHON_VERSION"] == BUNDLE_PYTHON_VERSION
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/setup-python@"):
                assert step["with"]["python-version"] == "${{ env.PYTHON_VERSION }}", name
    test = workflow["jobs"]["test"]
    # The bundle test may not fall back to another Python there, and the bundle has 3.13's
    # bytecode.
    assert test["env"]["LKML_REQUIRE_RUNTIME_PYTHON"] == "1"
    tag = "cpython-" + BUNDLE_PYTHON_VERSION.replace(".", "")
    assert any(f"*.{tag}.pyc" in run for run in _runs(test))

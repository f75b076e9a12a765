# SPDX-License-Identifier: GPL-2.0-or-later
"""The deploy workflow (.github/workflows/deploy.yml) as GitHub reads it: OIDC, a cdk diff on
pull requests, dev on push to main, prod only through the approved ``prod`` environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"


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


def _aws_jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if "aws-actions/configure-aws-credentials" in _uses(job)
    }


def test_triggers_and_oidc_permissions(workflow: dict[str, Any]) -> None:
    assert set(workflow["on"]) >= {"pull_request", "push"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}


def test_every_aws_job_assumes_a_role_by_oidc_without_keys(workflow: dict[str, Any]) -> None:
    aws_jobs = _aws_jobs(workflow)
    assert set(aws_jobs) == {"diff", "deploy-dev", "deploy-staging", "deploy-prod"}
    for job in aws_jobs.values():
        (credentials,) = (
            step
            for step in job["steps"]
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        )
        role = credentials["with"]["role-to-assume"]
        assert role.startswith("${{ ") and ("vars." in role or "secrets." in role)
        assert "aws-access-key-id" not in credentials["with"]
        assert job["environment"] in ("dev", "staging", "prod")


def test_pull_requests_get_a_diff_and_never_a_deploy(workflow: dict[str, Any]) -> None:
    diff = workflow["jobs"]["diff"]
    assert "pull_request" in diff["if"]
    (command,) = (run for run in _runs(diff) if "aws-cdk@2" in run)
    assert " diff " in command and "-c env=dev" in command and "app.py" in command
    for name, job in workflow["jobs"].items():
        if any("deploy" in run and "aws-cdk" in run for run in _runs(job)):
            assert "pull_request" not in job.get("if", ""), name
            assert "push" in job["if"], name


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_deploys_itself_from_its_github_environment(
    workflow: dict[str, Any], env: str
) -> None:
    job = workflow["jobs"][f"deploy-{env}"]
    assert job["environment"] == env
    (command,) = (run for run in _runs(job) if "aws-cdk@2 deploy" in run)
    assert f"-c env={env}" in command
    assert "app.py" in command
    assert any("make bundle" in run for run in _runs(job))
    uses = _uses(job)
    for action in ("actions/checkout", "actions/setup-python", "actions/setup-node"):
        assert action in uses


def test_prod_waits_for_a_lower_environment_and_the_tests(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]

    def upstream(name: str) -> set[str]:
        needs = jobs[name].get("needs", [])
        direct = {needs} if isinstance(needs, str) else set(needs)
        return direct.union(*(upstream(need) for need in direct)) if direct else set()

    assert upstream("deploy-prod") >= {"test", "deploy-dev"}
    assert "deploy-staging" in upstream("deploy-prod")
    assert "test" in upstream("deploy-dev")
    runs = _runs(jobs["test"])
    assert "make lint" in runs
    assert "make bundle" in runs

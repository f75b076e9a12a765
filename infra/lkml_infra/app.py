# SPDX-License-Identifier: GPL-2.0-or-later
"""Build the CDK app from context and environment variables (``app.py`` and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from lkml_infra.account import STACK_NAME as ACCOUNT_STACK_NAME
from lkml_infra.account import ApiGatewayAccountStack
from lkml_infra.config import DEFAULT_PROJECTS, env_config
from lkml_infra.stack import LkmlStack

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_bundle_dir() -> Path:
    return REPO_ROOT / "dist" / "lambda"


def _text(value: object) -> str | None:
    """A context value, None when absent or empty (an unset GitHub variable passes "")."""
    return str(value).strip() or None if value else None


def build_app(
    environ: Mapping[str, str],
    bundle_dir: Path,
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    nag: bool = True,
) -> tuple[cdk.App, LkmlStack]:
    """The app with one stack, ``lkml-<env>``; ValueError with the fix on a bad input."""
    app = cdk.App(context=dict(context or {}), outdir=outdir)
    env_name = str(app.node.try_get_context("env") or environ.get("LKML_ENV") or "dev")
    config = env_config(env_name).with_alarm_subscriptions(
        email=_text(app.node.try_get_context("alarm_email")),
        webhook_url=_text(app.node.try_get_context("alarm_webhook_url")),
    )
    bundle_override = app.node.try_get_context("bundle_dir")
    if bundle_override:
        bundle_dir = Path(str(bundle_override))
    if not bundle_dir.is_dir():
        raise ValueError(
            f"the Lambda bundle {bundle_dir} does not exist: run make bundle first "
            "(or pass -c bundle_dir=DIR)"
        )
    projects = str(app.node.try_get_context("projects") or DEFAULT_PROJECTS)
    account = environ.get("CDK_DEFAULT_ACCOUNT")
    region = environ.get("CDK_DEFAULT_REGION")
    # Not named after the environment: one per account and region, shared by dev/staging/prod.
    account_stack = ApiGatewayAccountStack(
        app,
        ACCOUNT_STACK_NAME,
        description="LKML Assistant: API Gateway's account-wide CloudWatch logging role",
        env=cdk.Environment(account=account, region=region) if account or region else None,
    )
    stack = LkmlStack(
        app,
        f"lkml-{config.name}",
        config=config,
        bundle_dir=bundle_dir,
        projects=projects,
        description=f"LKML Assistant ({config.name}): Patchwork and lore on Lambda + DynamoDB",
        env=cdk.Environment(account=account, region=region) if account or region else None,
        termination_protection=config.retain,
    )
    stack.add_stack_dependency(account_stack, "API Gateway logs with the account's CloudWatch role")
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack

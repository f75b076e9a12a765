# SPDX-License-Identifier: GPL-2.0-or-later
"""ApiGatewayAccountStack: API Gateway's account-wide CloudWatch role, made once per account.

API Gateway writes every REST API's execution and access logs of a region with one role, set
on the account (``AWS::ApiGateway::Account``), not on an API. A stack per environment that
made its own role would replace the others' setting, and deleting that stack (dev, staging)
would delete the role every other API logs with. So the role lives in a stack of its own,
``lkml-apigateway-account``, which each environment's stack depends on (``cdk deploy
lkml-<env>`` deploys it first, a no-op once it exists) and which retains the role and the
setting if it is ever deleted.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from constructs import Construct

STACK_NAME = "lkml-apigateway-account"


class ApiGatewayAccountStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "lkml-assistant")
        self.role = iam.Role(
            self,
            "CloudWatchRole",
            description="API Gateway (this account, every REST API): write CloudWatch logs",
            assumed_by=iam.ServicePrincipal(
                "apigateway.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        self.role.apply_removal_policy(RemovalPolicy.RETAIN)
        self.account_setting = apigateway.CfnAccount(
            self, "Account", cloud_watch_role_arn=self.role.role_arn
        )
        self.account_setting.apply_removal_policy(RemovalPolicy.RETAIN)
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level role API Gateway needs to write execution and "
                "access logs; AWS keeps this managed policy to exactly that.",
            )
        )

# SPDX-License-Identifier: GPL-2.0-or-later
"""Tests of the CDK app: synthesized templates, cdk-nag, the bundle and the deploy workflow."""

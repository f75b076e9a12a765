# SPDX-License-Identifier: GPL-2.0-or-later
"""The AWS CDK app of LKML Assistant: one construct per capability, composed by LkmlStack.

jsii runs aws-cdk-lib on the machine's Node.js; its end-of-life banner for Node 20 is
silenced here, before the first ``aws_cdk`` import starts it.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

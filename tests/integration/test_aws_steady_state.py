# SPDX-License-Identifier: GPL-2.0-or-later
"""An hourly run with nothing new upstream costs what changed (nothing), not the window.

Peers as in test_aws_pipeline (moto's server, the Patchwork test server, real public-inbox).
After a first hourly run over the window and its queue drained, a second one finds nothing
new: it plans no thread, re-examines no series, and reads no patch of the window; what it
sends to DynamoDB is counted on the wire (a botocore hook on every client boto3 makes).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from lkml_assistant.functions import consumer
from tests.integration.test_aws_pipeline import (
    deployment,  # noqa: F401 - the fixture, used by name
    run,
    steps,
    window_days,
)
from tests.lambda_runtime import drain_queue

pytestmark = pytest.mark.integration


class Calls:
    """DynamoDB calls of every client made after :meth:`install`: operation, index, keys."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.keys_read = 0
        self.index_queries: Counter[str] = Counter()

    def install(self) -> None:
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params.dynamodb", self._seen)

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.operations[model.name] += 1
        if model.name == "BatchGetItem":
            self.keys_read += sum(len(r["Keys"]) for r in params["RequestItems"].values())
        if model.name == "GetItem":
            self.keys_read += 1
        if model.name == "Query" and params.get("IndexName"):
            self.index_queries[params["IndexName"]] += 1


def test_a_quiet_hourly_run_reads_no_patch_of_the_window(deployment):  # noqa: F811
    first = run(deployment, "hourly", days=window_days())
    assert steps(first)["review-intel"]["series_seen"] > 0
    drain_queue(deployment["sqs"], deployment["queue_url"], consumer.fetch_discussions)

    calls = Calls()
    calls.install()
    quiet = run(deployment, "hourly")
    assert quiet["status"] == "ok"
    assert steps(quiet)["fetch-discussions"]["threads_queued"] == 0
    # Nothing changed, so no series is looked at again (it was every series of the window).
    assert steps(quiet)["review-intel"]["series_seen"] == 0
    # No walk over the window's patches by date, for planning threads or for review-intel.
    assert calls.index_queries["by-project-date"] == 0
    # A handful of keys (the cursor, the patches Patchwork lists again at the cursor, their
    # series, the run records), not the ~200 patches of the window.
    assert calls.keys_read < 30, calls.operations

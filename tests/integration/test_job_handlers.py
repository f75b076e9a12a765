# SPDX-License-Identifier: GPL-2.0-or-later
"""The Lambda job handlers, invoked in-process with real-shaped EventBridge events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lkml_assistant.functions import jobs
from tests.lambda_runtime import InvocationContext
from tests.peers.patchwork_server import PatchworkData, run_patchwork_server

pytestmark = pytest.mark.integration


def scheduled_event(detail: dict | None = None) -> dict:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-25T03:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/lkml-dev-daily-full"],
        "detail": detail or {},
    }


def test_scheduled_fetch_patches_then_discussions(tmp_path, monkeypatch, public_inbox):
    with run_patchwork_server(PatchworkData.from_dump()) as server:
        monkeypatch.setenv("LKML_PATCHWORK_URL", server.url)
        monkeypatch.setenv("LKML_LORE_URL", public_inbox.url)
        monkeypatch.setenv("LKML_PROJECTS", "netfilter-devel")
        monkeypatch.setenv("LKML_STORE", f"sqlite:///{tmp_path}/s.sqlite3")
        monkeypatch.setenv("LKML_REQUEST_INTERVAL", "0")
        # No work queue configured: the threads are fetched in the same invocation.
        first = jobs.fetch_patches(scheduled_event({"days": 3650}), InvocationContext())
        assert first["job"] == "fetch-patches" and first["patches_seen"] == 2060
        discussions = first["discussions"]
        assert discussions["threads_fetched"] > 500 and discussions["errors"] == 0
        again = jobs.fetch_patches(
            scheduled_event({"full": True, "days": 3650}), InvocationContext()
        )
        assert again["written"] == 0 and again["status"] == "ok"
        assert again["discussions"]["threads_fetched"] == 0
        refresh = jobs.refresh_discussions(scheduled_event({"days": 3650}), InvocationContext())
        assert refresh["job"] == "refresh-discussions" and refresh["errors"] == 0


def test_unknown_event_detail_is_refused():
    with pytest.raises(ValidationError):
        jobs.fetch_patches(scheduled_event({"ful": True}), InvocationContext())

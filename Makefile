# SPDX-License-Identifier: GPL-2.0-or-later
# The README names these targets; keep them true on a fresh machine.

SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: help setup run demo test test-fast lint format bench clean peers bundle synth infra-test infra-setup

help:
	@echo "make run    - set up and serve LKML Assistant on this machine: jobs on schedule + REST API"
	@echo "make demo   - the same, offline, on the recorded netfilter-devel data (local test peers)"
	@echo "make test   - set up and run the whole test suite (installs its test peers)"
	@echo "make test-fast - the tests that need no peer process (not integration, not slow)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks, each compared with a baseline measured in the same run"
	@echo "make bundle - the Lambda bundle in dist/lambda (wheels for the Lambda runtime)"
	@echo "make synth ENV=dev|staging|prod - the CloudFormation template in infra/cdk.out"
	@echo "make infra-test - the CDK app's tests (templates, cdk-nag, bundle, deploy workflow)"

# uv manages the virtual environment from uv.lock; it is installed with pip when missing.
setup: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen
	@touch $@

# The jobs on schedule and the REST API in one process, on the embedded SQLite store (LKML_*
# settings apply; a first start backfills LKML_BACKFILL_DAYS). Ctrl-C stops it, exit status 0:
# serve takes the terminal's foreground, so make does not get the SIGINT and end by it
# (docs/local-service.md, "Ctrl-C under make run").
run: setup
	$(UV) run lkml-assistant serve

# Everything offline: the Patchwork test server, a local public-inbox and serve pointed at them.
demo: setup peers
	$(UV) run python -m tests.peers.demo

# Test peers that are not Python packages (Debian's public-inbox and chromium; wrk for the
# benchmarks).
peers:
	@if [ -x tests/peers/public_inbox.sh ]; then tests/peers/public_inbox.sh ensure-installed; fi
	@if [ -x tests/peers/wrk.sh ]; then tests/peers/wrk.sh ensure-installed; fi
	@if [ -x tests/peers/chromium.sh ]; then tests/peers/chromium.sh ensure-installed; fi

# One pytest worker per CPU (pytest-xdist), each test file whole on one worker: its module
# fixtures and peers stay its own. TEST_WORKERS=0 runs them in this process, one after another.
TEST_WORKERS ?= auto
test: setup peers
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile
	$(MAKE) infra-test

# No peer process: the sync jobs run against in-process fakes (tests/unit/test_sync_jobs.py).
test-fast: setup
	$(UV) run pytest -m "not integration and not slow"

lint: setup infra-setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	cd infra && $(UV) run --frozen mypy

format: setup
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

bench: setup peers
	$(UV) run python -m benchmarks

# Version chains over the four bulk list slices: links by rule, unlinked, samples to check.
.PHONY: versions-report
versions-report: setup
	$(UV) run python -m benchmarks.report_versions
	$(UV) run python -m benchmarks.report_review

clean:
	rm -rf .venv .run .bench .mypy_cache .ruff_cache .pytest_cache dist infra/.venv infra/cdk.out

# AWS (docs/aws.md). The CDK app in infra/ has its own environment (infra/uv.lock); jsii runs
# it on Node.js. ENV picks the deployment: dev, staging or prod.
ENV ?= dev
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

infra-setup: infra/.venv/.synced

infra/.venv/.synced: infra/pyproject.toml infra/uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	cd infra && $(UV) sync --frozen
	@touch $@

bundle: setup
	$(UV) run python scripts/bundle.py

synth: bundle infra-setup
	@case "$(ENV)" in dev|staging|prod) ;; \
	  *) echo "ENV must be dev, staging or prod, not '$(ENV)'" >&2; exit 2;; esac
	cd infra && rm -rf cdk.out && CDK_OUTDIR=cdk.out $(UV) run --frozen python app.py -c env=$(ENV)
	@ls infra/cdk.out/lkml-$(ENV).template.json

infra-test: infra-setup
	cd infra && $(UV) sync --frozen && $(UV) run --frozen pytest

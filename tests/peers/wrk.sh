#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Load-test tool: wrk, the HTTP benchmarking tool, from Debian.
#
#   tests/peers/wrk.sh ensure-installed   install it when missing
#   tests/peers/wrk.sh version            the installed version, or exit status 1
#
# Without it (and not under CI=true) the load test falls back to a bounded httpx loop; see
# debian_package.sh.
set -euo pipefail
exec "$(dirname "$0")/debian_package.sh" "${1:-}" wrk wrk wrk "load tests fall back to httpx"

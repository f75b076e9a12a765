#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Test peer: Debian's chromium, the real browser the web page tests drive with Playwright
# (launched from /usr/bin/chromium; Playwright downloads no browser of its own).
#
#   tests/peers/chromium.sh ensure-installed   install it when /usr/bin/chromium is missing
#   tests/peers/chromium.sh version            the installed version, or exit status 1
#
# Without it (and not under CI=true) the browser tests are skipped; see debian_package.sh.
set -euo pipefail
exec "$(dirname "$0")/debian_package.sh" "${1:-}" chromium chromium /usr/bin/chromium \
    "the browser tests will be skipped (as root: $0 ensure-installed)"

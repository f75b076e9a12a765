#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Test peer: Debian's public-inbox package, the software behind lore.kernel.org.
#
#   tests/peers/public_inbox.sh ensure-installed   install it when public-inbox-httpd is missing
#   tests/peers/public_inbox.sh version            the installed version, or exit status 1
#
# Without it (and not under CI=true) the tests that need it are skipped; see debian_package.sh.
set -euo pipefail
exec "$(dirname "$0")/debian_package.sh" "${1:-}" public-inbox public-inbox public-inbox-httpd \
    "its tests will be skipped (as root: $0 ensure-installed)"

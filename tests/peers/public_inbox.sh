#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Test peer: Debian's public-inbox package, the software behind lore.kernel.org.
#
#   tests/peers/public_inbox.sh ensure-installed
#       Installs the package with apt-get when public-inbox-httpd is missing
#       (apt-get update once, noninteractive, quiet) and prints one line either way.
#       Outside CI, a machine where it cannot be installed (not root, no apt-get)
#       gets a warning and exit status 0: the tests that need it are then skipped.
#       With CI=true the same situation is an error (exit status 1).
#   tests/peers/public_inbox.sh version
#       Prints the installed version, or nothing (exit status 1) when missing.
set -euo pipefail

PKG=public-inbox
PROBE=public-inbox-httpd

in_ci() {
    case "${CI:-}" in
        true | TRUE | True | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

installed_version() {
    command -v "$PROBE" >/dev/null 2>&1 || return 1
    local v
    v=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true)
    echo "${v:-unknown version}"
}

cannot_install() {
    # $1: the reason
    if in_ci; then
        echo "public-inbox: NOT installed and cannot be installed: $1 (CI=true: failing)" >&2
        exit 1
    fi
    echo "public-inbox: not installed and cannot be installed: $1;" \
        "its tests will be skipped (as root: $0 ensure-installed)" >&2
    exit 0
}

ensure_installed() {
    local v
    if v=$(installed_version); then
        echo "public-inbox: already installed ($v, $(command -v "$PROBE"))"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || cannot_install "no apt-get on this machine"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            cannot_install "not root and no password-less sudo"
        fi
    fi
    local log start
    log=$(mktemp "${TMPDIR:-/tmp}/public-inbox-install.XXXXXX")
    start=$(date +%s)
    export DEBIAN_FRONTEND=noninteractive
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
    if ! "${apt[@]}" update >"$log" 2>&1 ||
        ! "${apt[@]}" install -y "$PKG" >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        if in_ci; then
            echo "public-inbox: apt-get failed to install $PKG (CI=true: failing)" >&2
            exit 1
        fi
        cannot_install "apt-get failed"
    fi
    rm -f "$log"
    if ! v=$(installed_version); then
        cannot_install "apt-get ran but $PROBE is still missing"
    fi
    echo "public-inbox: installed $v with apt-get in $(($(date +%s) - start)) s"
}

case "${1:-}" in
    ensure-installed) ensure_installed ;;
    version) installed_version ;;
    *)
        echo "usage: $0 ensure-installed | version" >&2
        exit 2
        ;;
esac

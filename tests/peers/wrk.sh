#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Load-test tool: wrk, the HTTP benchmarking tool, from Debian.
#
#   tests/peers/wrk.sh ensure-installed
#       Installs wrk with apt-get only when it is missing (noninteractive, quiet)
#       and prints one line either way. Outside CI a machine where it cannot be
#       installed gets a warning and exit status 0 (the load test then falls back
#       to a bounded httpx loop); with CI=true that is an error (exit status 1).
#   tests/peers/wrk.sh version
#       Prints the installed version, or nothing (exit status 1) when missing.
set -euo pipefail

PKG=wrk

in_ci() {
    case "${CI:-}" in
        true | TRUE | True | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

installed_version() {
    command -v wrk >/dev/null 2>&1 || return 1
    local v
    v=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true)
    echo "${v:-unknown version}"
}

give_up() {
    # $1: why wrk cannot be installed
    if in_ci; then
        echo "wrk: NOT installed and cannot be installed: $1 (CI=true: failing)" >&2
        exit 1
    fi
    echo "wrk: not installed ($1); load tests fall back to httpx" >&2
    exit 0
}

ensure_installed() {
    local v
    if v=$(installed_version); then
        echo "wrk: already installed ($v, $(command -v wrk))"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || give_up "no apt-get on this machine"
    local prefix=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            prefix=(sudo -n)
        else
            give_up "not root and no password-less sudo"
        fi
    fi
    local log began
    log=$(mktemp "${TMPDIR:-/tmp}/wrk-install.XXXXXX")
    began=$(date +%s)
    local apt=("${prefix[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
    # Try without refreshing the package lists first; update only if that fails.
    if ! "${apt[@]}" install -y --no-install-recommends "$PKG" >"$log" 2>&1; then
        if ! "${apt[@]}" update >>"$log" 2>&1 ||
            ! "${apt[@]}" install -y --no-install-recommends "$PKG" >>"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            give_up "apt-get failed"
        fi
    fi
    rm -f "$log"
    v=$(installed_version) || give_up "apt-get ran but wrk is still missing"
    echo "wrk: installed $v with apt-get in $(($(date +%s) - began)) s"
}

case "${1:-}" in
    ensure-installed) ensure_installed ;;
    version) installed_version ;;
    *)
        echo "usage: $0 ensure-installed | version" >&2
        exit 2
        ;;
esac

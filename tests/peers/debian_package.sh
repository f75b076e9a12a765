#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Installs a test peer from Debian's packages when it is missing. public_inbox.sh and wrk.sh
# name their package through this one script.
#
#   debian_package.sh ensure-installed LABEL PACKAGE PROBE WITHOUT
#       When the command PROBE is missing, installs PACKAGE with apt-get (noninteractive,
#       quiet; the package lists are refreshed only if a plain install fails) and prints one
#       line either way. Outside CI, a machine where it cannot be installed (no apt-get, not
#       root and no password-less sudo, apt-get failing) gets a warning saying WITHOUT (what
#       happens then) and exit status 0; with CI=true the same situation is an error (1).
#   debian_package.sh version LABEL PACKAGE PROBE
#       Prints the installed version, or nothing (exit status 1) when missing.
set -euo pipefail

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
        echo "$LABEL: NOT installed and cannot be installed: $1 (CI=true: failing)" >&2
        exit 1
    fi
    echo "$LABEL: not installed and cannot be installed: $1; $WITHOUT" >&2
    exit 0
}

ensure_installed() {
    local v
    if v=$(installed_version); then
        echo "$LABEL: already installed ($v, $(command -v "$PROBE"))"
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
    log=$(mktemp "${TMPDIR:-/tmp}/$PKG-install.XXXXXX")
    start=$(date +%s)
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
    # A fresh machine has no package lists yet; a kept one usually has current ones.
    if ! "${apt[@]}" install -y "$PKG" >"$log" 2>&1; then
        if ! "${apt[@]}" update >>"$log" 2>&1 ||
            ! "${apt[@]}" install -y "$PKG" >>"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            cannot_install "apt-get failed"
        fi
    fi
    rm -f "$log"
    v=$(installed_version) || cannot_install "apt-get ran but $PROBE is still missing"
    echo "$LABEL: installed $v with apt-get in $(($(date +%s) - start)) s"
}

command=${1:-}
LABEL=${2:-}
PKG=${3:-}
PROBE=${4:-}
WITHOUT=${5:-}
if [ -z "$PROBE" ]; then
    echo "usage: $0 ensure-installed|version LABEL PACKAGE PROBE [WITHOUT]" >&2
    exit 2
fi
case "$command" in
    ensure-installed) ensure_installed ;;
    version) installed_version ;;
    *)
        echo "usage: $0 ensure-installed|version LABEL PACKAGE PROBE [WITHOUT]" >&2
        exit 2
        ;;
esac

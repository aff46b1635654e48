#!/usr/bin/env bash
# The browser of tests/viewer/test_viewer_browser.py: Debian's chromium at /usr/bin/chromium, driven by
# Playwright (a pip package of the kit's test extras; its own browser download is never used).
# `make test` runs this first (target `browser`). Idempotent: nothing to do when chromium is there.
# Installs with apt-get as root, or through sudo when `sudo -n true` works; otherwise stops with
# one line saying what to run. ANNOKIT_SKIP_BROWSER=1 skips the install and that one test.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
TEST=tests/viewer/test_viewer_browser.py

skip_requested() {
    case "${ANNOKIT_SKIP_BROWSER:-}" in "" | 0) return 1 ;; *) return 0 ;; esac
}

# The command prefix that may install packages: "" as root, "sudo -n" with passwordless sudo; fails otherwise.
installer() {
    if [ "$(id -u)" -eq 0 ]; then
        echo ""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        echo "sudo -n"
    else
        return 1
    fi
}

if skip_requested; then
    echo "ANNOKIT_SKIP_BROWSER=${ANNOKIT_SKIP_BROWSER}: chromium not checked; $TEST will skip"
    exit 0
fi
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "make test: $CHROMIUM is missing and this system has no apt-get: install Chromium as $CHROMIUM, or run 'ANNOKIT_SKIP_BROWSER=1 make test' to skip only $TEST" >&2
    exit 1
fi
if ! SUDO=$(installer); then
    echo "make test: $CHROMIUM is missing and this user may not install packages: run 'sudo apt-get install chromium' and then 'make test' again, or run 'ANNOKIT_SKIP_BROWSER=1 make test' to skip only $TEST" >&2
    exit 1
fi
echo "installing Debian's chromium for $TEST (${SUDO:-as root}: apt-get install chromium)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version

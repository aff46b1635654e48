#!/usr/bin/env bash
# Install the browser of tests/test_viewer_browser.py: Debian's chromium, driven by Playwright (a pip
# package of the kit's test extras). Idempotent: does nothing when /usr/bin/chromium is there.
# Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
/usr/bin/chromium --version

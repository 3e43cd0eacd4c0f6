#!/usr/bin/env bash
# Runs the browser tests: builds the hardshell binary (unless HARDSHELL_BIN
# points at one), installs the locked npm packages, and runs Playwright
# against the system Chromium. Usage: e2e/run.sh [playwright args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HARDSHELL_BIN:-}" ]; then
  cargo build -p hardshell
  export HARDSHELL_BIN="${CARGO_TARGET_DIR:-target}/debug/hardshell"
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "Chromium is missing: apt-get install -y chromium" >&2
  exit 1
fi
cd e2e
if [ ! -d node_modules/@playwright/test ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
exec npx playwright test "$@"

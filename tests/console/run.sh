#!/usr/bin/env bash
# Runs the console's browser tests: run.sh NODE. Says what is missing
# rather than skipping: the browser and puppeteer-core come with
# REWIND_WITH_BROWSER=1 scripts/setup.sh (./dev.sh test runs it).
set -euo pipefail
cd "$(dirname "$0")"
node=${1:-node}
missing=()
command -v "$node" >/dev/null || missing+=("node")
[[ -x "${REWIND_CHROMIUM:-/usr/bin/chromium}" ]] || missing+=("chromium")
[[ -d node_modules/puppeteer-core ]] || missing+=("puppeteer-core (npm ci in tests/console)")
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "the browser tests need: ${missing[*]}; run: REWIND_WITH_BROWSER=1 scripts/setup.sh" >&2
  exit 1
fi
exec "$node" --test --test-concurrency=1 --test-reporter=spec console_test.mjs views_test.mjs

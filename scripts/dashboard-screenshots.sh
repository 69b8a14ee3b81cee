#!/usr/bin/env bash
# Regenerates the dashboard screenshots (overview, a vehicle mid-trip, the requests page; faults and webhooks for docs/dashboard.md)
# in docs/images/ with headless Chromium, through the browser test harness: a mock on port 0,
# a simulated car driven 9 minutes into the city loop, a few requests (one refused for scope, one
# with a bad token), then one PNG per page once its live data is on screen.
#
# Needs Chromium and ChromeDriver (scripts/install-test-deps.sh). Usage: scripts/dashboard-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/images"
mkdir -p "$out"
DASHBOARD_SCREENSHOTS="$out" cargo test -p e2e --test e2e browser::dashboard::dashboard_screenshots \
  -- --ignored --exact
ls -l "$out"/dashboard-*.png

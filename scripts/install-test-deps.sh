#!/usr/bin/env bash
# Installs what the test suites need beyond Rust, idempotently: Debian's Chromium and
# ChromeDriver (browser tests), the Python and Node packages of the SDK conformance suites.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if [ -f tests/sdk/install.sh ]; then
  bash tests/sdk/install.sh
fi

#!/usr/bin/env bash
# Installs what the test suites need beyond Rust, idempotently: Debian's Chromium and
# ChromeDriver (browser tests), the Python and Node packages of the SDK conformance suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium and ChromeDriver for the browser tests; OpenSSL headers for the Rust SDK crate.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The real @smartcar/auth the browser tests load.
if [ ! -d tests/browser/sdk/node_modules/@smartcar/auth ]; then
  echo "npm ci (tests/browser/sdk)"
  npm ci --silent --no-audit --no-fund --prefix tests/browser/sdk >/dev/null
fi

if [ -f tests/sdk/install.sh ]; then
  bash tests/sdk/install.sh
fi

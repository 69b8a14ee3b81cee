#!/usr/bin/env bash
# Installs what the test suites need beyond Rust, on Debian or Ubuntu: Chromium and ChromeDriver
# (browser tests), OpenSSL headers (the Rust SDK crate), Node.js and Python (the SDK conformance
# suites), iproute2 (the workshop kit's network-less run), then the npm and pip packages.
#
# `scripts/test-all.sh` runs it first. Idempotent: each step checks first and is skipped when
# already satisfied, so with everything installed it only looks (about a second) and prints
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, by the command or package that shows they are there.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("pip") is None)' 2>/dev/null || missing+=(python3-pip)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "install-test-deps: not root and no sudo; install these as root: ${missing[*]}" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The real @smartcar/auth the browser tests load: up to date when every package of the lock file
# is installed at its locked version.
if ! (cd tests/browser/sdk && node -e '
  const lock = require("./package-lock.json");
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (path && require("./" + path + "/package.json").version !== meta.version) process.exit(1);
  }' 2>/dev/null); then
  echo "install-test-deps: npm ci (tests/browser/sdk)"
  npm ci --silent --no-audit --no-fund --prefix tests/browser/sdk >/dev/null
fi

if [ -f tests/sdk/install.sh ]; then
  bash tests/sdk/install.sh
fi

#!/usr/bin/env bash
# Installs exactly what the SDK conformance suites need on a fresh Debian machine (as root):
#   - Debian chromium + chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) for Selenium
#   - the pinned Python packages of tests/sdk/python/requirements.txt
#   - the locked npm packages of tests/sdk/node (npm ci)
# Idempotent and quiet: each step is skipped when already satisfied.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  echo "install.sh: apt-get install chromium chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! python3 - "$here/python/requirements.txt" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            sys.exit(1)
EOF
then
  echo "install.sh: pip install -r tests/sdk/python/requirements.txt"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    -r "$here/python/requirements.txt"
fi

# Up to date when every package of the lock file is installed at its locked version.
if ! (cd "$here/node" && node -e '
  const lock = require("./package-lock.json");
  for (const [p, meta] of Object.entries(lock.packages)) {
    if (!p) continue;
    if (require("./" + p + "/package.json").version !== meta.version) process.exit(1);
  }' 2>/dev/null); then
  echo "install.sh: npm ci (tests/sdk/node)"
  (cd "$here/node" && npm ci --silent --no-audit --no-fund >/dev/null)
fi

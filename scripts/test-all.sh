#!/usr/bin/env bash
# README's test command, and all of CI (`.ci/run` runs exactly this): installs what is missing
# (quick when nothing is), then runs every test: the Rust workspace (unit, end-to-end and browser
# tests), the workshop kit unpacked and run without cargo, and the official SDKs' conformance
# suites against a freshly built mock-server.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

cargo build --workspace --locked
cargo test --workspace --locked

bash scripts/test-workshop-kit.sh

if [ -f tests/sdk/run.sh ]; then
  MOCK_SERVER_BIN="$PWD/target/debug/mock-server" bash tests/sdk/run.sh
fi

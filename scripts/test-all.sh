#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, end-to-end and browser tests), then the official
# SDKs' conformance suites against a freshly built mock-server.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --locked
cargo test --workspace --locked

if [ -f tests/sdk/run.sh ]; then
  MOCK_SERVER_BIN="$PWD/target/debug/mock-server" bash tests/sdk/run.sh
fi

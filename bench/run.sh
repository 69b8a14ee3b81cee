#!/usr/bin/env bash
# The benchmark: builds in release mode and prints the mock beside the ceiling (and the peers with
# --peers). Needs `wrk` (apt-get install wrk) and, for --peers, Node.js and npm.
# `bash bench/run.sh soak [--minutes 10] [-- <mock-server flags>]` runs the soak instead: mixed load
# with the mock's RSS sampled every 10 s (no wrk needed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = soak ]; then
  shift
  cargo build --release --locked -p mock-server -p bench
  exec target/release/bench soak "$@"
fi
if [ "${1:-}" = state ]; then
  shift
  command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }
  cargo build --release --locked -p mock-server -p bench
  exec target/release/bench state "$@"
fi
command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked -p mock-server -p bench
exec target/release/bench run "$@"

#!/usr/bin/env bash
# Runs the SDK conformance suites (official Python and Node `smartcar` SDKs) against the mock.
#
#   tests/sdk/run.sh            # every suite
#   tests/sdk/run.sh python     # one suite alone (python | node | zero-config)
#
# zero-config runs both SDKs once more with no SMARTCAR_* variable at all, reaching the mock by
# Smartcar's real host names over HTTPS (zero-config/run.sh).
#
# Installs nothing (tests/sdk/install.sh does). Each suite starts its own mock on port 0 from
# MOCK_SERVER_BIN (default target/debug/mock-server, relative to the repository root) and stops it.
# Prints one line per suite, "<suite>: N passed, N failed, N skipped (Ts)", then a total line.
# Exit status: 0 only if every suite ran and none failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

bin="${MOCK_SERVER_BIN:-target/debug/mock-server}"
[[ "$bin" = /* ]] || bin="$root/$bin"
if [[ ! -x "$bin" ]]; then
  echo "tests/sdk/run.sh: mock binary not found at $bin (cargo build -p mock-server, or set MOCK_SERVER_BIN)" >&2
  exit 2
fi
export MOCK_SERVER_BIN="$bin"

suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(python node zero-config)

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
summary=()
total_pass=0 total_fail=0 total_skip=0 status=0

num() { grep -Eo "[0-9]+ $1" <<<"$2" | tail -1 | grep -Eo '^[0-9]+' || echo 0; }

run_python() {
  local log="$log_dir/python.log" start=$SECONDS rc
  (cd "$here/python" && python3 -m pytest -q -p no:cacheprovider) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local last; last="$(grep -E '^=*\s*[0-9]+ (passed|failed|skipped|error)' "$log" | tail -1)"
  local p f e s
  p=$(num passed "$last"); f=$(num failed "$last"); e=$(num error "$last"); s=$(num skipped "$last")
  f=$((f + e))
  [[ $rc -eq 0 || $f -gt 0 ]] || f=1 # crashed before reporting
  record python-sdk "$p" "$f" "$s" $((SECONDS - start))
}

run_node() {
  local log="$log_dir/node.log" start=$SECONDS rc
  (cd "$here/node" && node --test --test-concurrency=1 --test-reporter=spec test/) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local p f c s
  p=$(grep -Eo 'ℹ pass [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  f=$(grep -Eo 'ℹ fail [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  c=$(grep -Eo 'ℹ cancelled [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  s=$(grep -Eo 'ℹ skipped [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  f=$((f + c))
  [[ $rc -eq 0 || $f -gt 0 ]] || f=1
  record node-sdk "$p" "$f" "$s" $((SECONDS - start))
}

run_zero_config() {
  local log="$log_dir/zero-config.log" start=$SECONDS rc
  bash "$here/zero-config/run.sh" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local last p f
  last="$(grep -E '^zero-config: [0-9]+ passed' "$log" | tail -1)"
  p=$(num passed "$last"); f=$(num failed "$last")
  [[ $rc -eq 0 || $f -gt 0 ]] || f=1
  record zero-config "$p" "$f" 0 $((SECONDS - start))
}

record() {
  summary+=("$1: $2 passed, $3 failed, $4 skipped ($5s)")
  total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3)); total_skip=$((total_skip + $4))
  [[ $3 -eq 0 ]] || status=1
}

for suite in "${suites[@]}"; do
  case "$suite" in
    python) run_python ;;
    node) run_node ;;
    zero-config) run_zero_config ;;
    *) echo "unknown suite: $suite (python | node | zero-config)" >&2; exit 2 ;;
  esac
done

echo
echo "SDK conformance suites ($(sed -n 's/^smartcar==//p' "$here/python/requirements.txt") PyPI, $(node -p "require('$here/node/package.json').dependencies.smartcar") npm):"
printf '  %s\n' "${summary[@]}"
echo "sdk: $total_pass passed, $total_fail failed, $total_skip skipped"
exit $status

#!/usr/bin/env bash
# Zero-configuration mode, tested: the official Python and Node SDKs reach the mock with no
# SMARTCAR_* variable at all, by Smartcar's real host names over HTTPS (docs/zero-config.md).
#
#   tests/sdk/zero-config/run.sh [python] [node]     # default: both
#
# Starts one mock (HTTPS on a free port, its certificate authority written out, Connect answered at
# once), asks `mock-server hosts` for the hosts-file lines, and runs each SDK's flow (flow.py,
# flow.js) in an environment emptied with `env -i`. Each SDK process gets only:
#   - a resolver hook for that process alone, fed the `hosts` output (python/sitecustomize.py on
#     PYTHONPATH, `node --require resolve-to-mock.js`): /etc/hosts is not edited;
#   - the trust variable of its runtime (REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS).
# The mock listens on a free port rather than 443 (parallel runs, no privileges), so the hooks also
# send port 443 to it (MOCK_HTTPS_PORT).
#
# Prints "zero-config <sdk>: ok" or "zero-config <sdk>: FAILED" per SDK, then
# "zero-config: N passed, N failed". Exit status 0 only if every flow passed. Mock binary from
# MOCK_SERVER_BIN (default target/debug/mock-server).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${MOCK_SERVER_BIN:-target/debug/mock-server}"
[[ "$bin" = /* ]] || bin="$root/$bin"
if [[ ! -x "$bin" ]]; then
  echo "zero-config: mock binary not found at $bin (cargo build -p mock-server, or set MOCK_SERVER_BIN)" >&2
  exit 2
fi

sdks=("$@")
[[ ${#sdks[@]} -gt 0 ]] || sdks=(python node)

tmp="$(mktemp -d)"
mock_pid=""
cleanup() {
  [[ -z "$mock_pid" ]] || kill "$mock_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" --addr 127.0.0.1:0 --tls-addr 127.0.0.1:0 --tls-cert-out "$tmp/mock-ca.pem" --auto-approve \
  >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
tls_addr=""
for _ in $(seq 300); do
  tls_addr="$(sed -n 's|^listening on https://||p' "$tmp/mock.out")"
  [[ -z "$tls_addr" ]] || break
  kill -0 "$mock_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$tls_addr" ]]; then
  echo "zero-config: the mock did not start its HTTPS listener:" >&2
  cat "$tmp/mock.out" "$tmp/mock.err" >&2
  exit 2
fi
"$bin" hosts --tls-addr "$tls_addr" --tls-cert-out "$tmp/mock-ca.pem" >"$tmp/hosts"

# The interpreters by absolute path: `env -i` also empties PATH-based shims' settings.
python="$(python3 -c 'import sys; print(sys.executable)')"
node="$(command -v node)"
clean_env=(env -i "PATH=/usr/bin:/bin" "HOME=$HOME" "LANG=C.UTF-8"
  "MOCK_HOSTS_FILE=$tmp/hosts" "MOCK_HTTPS_PORT=${tls_addr##*:}")

passed=0 failed=0
for sdk in "${sdks[@]}"; do
  case "$sdk" in
    python)
      "${clean_env[@]}" "PYTHONPATH=$here/python" "REQUESTS_CA_BUNDLE=$tmp/mock-ca.pem" \
        "$python" "$here/flow.py" ;;
    node)
      "${clean_env[@]}" "NODE_EXTRA_CA_CERTS=$tmp/mock-ca.pem" \
        "$node" --require "$here/resolve-to-mock.js" "$here/flow.js" ;;
    *) echo "unknown SDK: $sdk (python | node)" >&2; exit 2 ;;
  esac
  if [[ $? -eq 0 ]]; then
    echo "zero-config $sdk: ok"
    passed=$((passed + 1))
  else
    echo "zero-config $sdk: FAILED"
    failed=$((failed + 1))
  fi
done

echo "zero-config: $passed passed, $failed failed"
[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Checks the workshop kit as an attendee meets it: builds it (scripts/workshop-kit.sh), unpacks it
# in a temporary folder, starts it with its one command (`./demo-backend`) with cargo, rustc, node
# and npm off the PATH, and runs the demo page's browser tests against it (DEMO_BACKEND_URL).
#
# Where the machine allows a network namespace (`unshare`), the kit and the browser run inside
# one that has nothing but loopback: no network at all. Elsewhere the kit runs on free ports of
# this machine's loopback, and the script says so. `scripts/test-all.sh` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --inside ]; then
  started=$SECONDS
  archive="$(bash scripts/workshop-kit.sh | tail -n 1)"
  built=$((SECONDS - started))
  # Everything cargo needs is built now, online; inside, cargo only runs the test binary.
  # `--workspace` unifies features as test-all.sh's `cargo test --workspace` does, so the test
  # binary it built is reused (with `-p e2e` alone it is a different binary, built again).
  cargo test -q --workspace --test e2e --locked --no-run
  if unshare --user --map-root-user --net true 2>/dev/null; then
    unshare --user --map-root-user --net bash "$0" --inside "$archive" isolated
  else
    echo "test-workshop-kit: no network namespace here (unshare refused): the kit runs beside this machine's network"
    bash "$0" --inside "$archive" shared
  fi
  echo "test-workshop-kit: passed; kit built in ${built}s, unpacked and tested in $((SECONDS - started - built))s"
  exit 0
fi

archive="$2"
network="$3"
tmp="$(mktemp -d)"
kit_pid=""
cleanup() {
  if [ -n "$kit_pid" ]; then kill "$kit_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

args=()
if [ "$network" = isolated ]; then
  ip link set lo up
  if (exec 9<>/dev/tcp/1.1.1.1/443) 2>/dev/null; then
    echo "test-workshop-kit: the namespace reaches the network" >&2
    exit 1
  fi
else
  # Beside other work, the default ports may be taken: let the kit pick free ones.
  args=(--addr 127.0.0.1:0 --mock-addr 127.0.0.1:0)
fi

# PATH without any folder that holds a Rust or Node tool.
bare_path=""
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  for tool in cargo rustc rustup node npm; do
    if [ -x "$dir/$tool" ]; then continue 2; fi
  done
  bare_path="${bare_path:+$bare_path:}$dir"
done
for tool in cargo rustc node npm; do
  if PATH="$bare_path" command -v "$tool" >/dev/null; then
    echo "test-workshop-kit: $tool is still on the stripped PATH" >&2
    exit 1
  fi
done

tar -xzf "$archive" -C "$tmp"
kit="$(find "$tmp" -mindepth 1 -maxdepth 1 -type d)"
test -f "$kit/START-HERE.txt"
env -i PATH="$bare_path" "$kit/mock-server" --version >/dev/null

# The attendee's command, in the unpacked folder, with nothing from this shell's environment.
exec 3< <(cd "$kit" && exec env -i PATH="$bare_path" HOME="$tmp" ./demo-backend "${args[@]}" 2>"$tmp/kit.log")
kit_pid=$!
if ! read -r -t 30 -u 3 first; then
  echo "test-workshop-kit: the kit printed nothing within 30 s; its log:" >&2
  cat "$tmp/kit.log" >&2
  exit 1
fi
port="${first##*:}"
case "$first" in
  "listening on http://127.0.0.1:"[0-9]*) ;;
  *) echo "test-workshop-kit: unexpected first line: $first" >&2; cat "$tmp/kit.log" >&2; exit 1 ;;
esac
echo "test-workshop-kit: the kit's demo-backend runs on port $port ($network network, PATH=$bare_path)"

DEMO_BACKEND_URL="http://localhost:$port" cargo test -q --workspace --test e2e --locked --offline browser::demo_page

#!/usr/bin/env bash
# Builds the workshop kit: one archive an attendee unpacks and runs with one command, with no
# network, no Rust and no npm. It holds release binaries of the demo backend (the mock built in)
# and of the mock alone, the fixtures (with example scenarios when fixtures/scenarios/ exists),
# the README and START-HERE.txt.
#
#   bash scripts/workshop-kit.sh [--out DIR]    # DIR defaults to target/workshop
#
# Run it once, online, on the operating system the attendees use: the binaries are this machine's
# (the archive's name says which target). The last line printed is the archive's path.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/workshop
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "workshop-kit: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -p demo-backend -p mock-server

target="$(rustc -vV | sed -n 's/^host: //p')"
exe=""
case "$target" in *windows*) exe=".exe" ;; esac
name="offline-smartcar-workshop-$target"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
kit="$stage/$name"
mkdir -p "$kit"

for bin in demo-backend mock-server; do
  cp "target/release/$bin$exe" "$kit/"
  # Symbols are of no use to an attendee and are most of the binary's size.
  if command -v strip >/dev/null; then strip "$kit/$bin$exe" 2>/dev/null || true; fi
done
cp -R fixtures "$kit/fixtures"
cp README.md "$kit/README.md"
# The README links into docs/ for the reference (test logins, test control, webhooks, …).
cp -R docs "$kit/docs"

scenarios=""
if [ -d fixtures/scenarios ]; then
  scenarios=$'  fixtures/scenarios/ example scenarios for the mock (see the README)\n'
fi
cat >"$kit/START-HERE.txt" <<EOF
Offline Smartcar: workshop kit ($target, built from $(git describe --always --dirty 2>/dev/null || echo "a source tree"))

Start the tutorial (no network, no Rust and no npm needed), in this folder:

    ./demo-backend$exe

then open

    http://localhost:8000

in a browser (write "localhost", not 127.0.0.1) and click Connect. In the popup: Continue, pick
a brand, sign in with any e-mail and password, Allow. The page shows the connected vehicle.
Ctrl-C stops it.

If port 8000 or 4000 is taken:

    ./demo-backend$exe --addr 127.0.0.1:8001 --mock-addr 127.0.0.1:4001

and open http://localhost:8001 instead.

Also in this folder:
  mock-server$exe         the Smartcar mock alone, for your own app or an official SDK:
                      ./mock-server$exe   (http://127.0.0.1:4000; ./mock-server$exe --help)
  fixtures/           the mock's seed data: ./mock-server$exe --fixtures fixtures
${scenarios}  README.md           start here: pointing an SDK at the mock, the tutorial, test control
  docs/               the reference: test logins, test control (admin API, CLI), webhooks, limits
EOF

mkdir -p "$out"
archive="$(cd "$out" && pwd)/$name.tar.gz"
tar -C "$stage" -czf "$archive" "$name"
echo "workshop-kit: $(du -h "$archive" | cut -f1) kit; an attendee runs: tar -xzf $name.tar.gz && cd $name && ./demo-backend$exe"
echo "$archive"

#!/usr/bin/env bash
# On a fresh Debian 12 machine: installs what is missing, builds hull, and runs a
# container from the built-in busybox example with hull-runtime, then the same root
# filesystem as an image with the engine (`hull import` + `hull run`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
scripts/install-deps.sh
cargo build --release
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
examples/busybox-bundle.sh "$work/bundle"
target/x86_64-unknown-linux-gnu/release/hull-runtime --root "$work/state" run --bundle "$work/bundle" "demo-$$"
hull="target/x86_64-unknown-linux-gnu/release/hull --root $work/store"
$hull import "$work/bundle/rootfs" demo >/dev/null
$hull run --rm demo sh -c 'echo "hello from hull run: $(hostname), $(id)"'

#!/usr/bin/env bash
# Builds an OCI bundle whose rootfs is Debian's busybox-static: no network needed.
# Usage: examples/busybox-bundle.sh DIR [hull-runtime binary]
# DIR/rootfs gets /bin/busybox and its applets; DIR/config.json is `hull-runtime spec`
# with no terminal, running `sh -c 'echo hello from hull; ...'`.
set -euo pipefail
dir=${1:?usage: $0 DIR [hull-runtime]}
rt=${2:-$(cd "$(dirname "$0")/.." && pwd)/target/x86_64-unknown-linux-gnu/release/hull-runtime}
[ -x /bin/busybox ] || { echo "$0: /bin/busybox missing: apt-get install busybox-static" >&2; exit 1; }
[ -x "$rt" ] || { echo "$0: $rt missing: cargo build --release" >&2; exit 1; }
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$dir/rootfs/bin/$applet" ] || ln -s busybox "$dir/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$rt" spec --bundle "$dir"
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from hull: pid $$, hostname $(hostname), $(id)"]' \
    "$dir/config.json" > "$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"

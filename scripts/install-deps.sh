#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test hull (as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in busybox-static jq uidmap containerd docker.io iptables podman skopeo umoci docker-registry apache2-utils nftables iproute2 passt docker-compose python3-docker; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "install-deps: cargo is missing: install Rust with rustup first" >&2; exit 1; }
if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

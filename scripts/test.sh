#!/usr/bin/env bash
# The tests, as root: the whole suite on this host (whatever its cgroup layout; ours
# is hybrid), then every test binary again inside a throwaway VM whose only cgroup
# hierarchy is cgroup v2 (../shared/vm), the layout most users have.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
vm=${HULL_VM_DIR:-$(cd .. && pwd)/shared/vm}
if [ ! -x "$vm/run-in-vm.sh" ]; then
    echo "test.sh: $vm/run-in-vm.sh is missing: the pure cgroup v2 pass cannot run" >&2
    exit 1
fi
"$vm/setup.sh" >/dev/null
# The engine's image tests (crates/hull/tests/{images,registry}.rs: registries, archives,
# skopeo, podman) touch no cgroup and run ten times slower under the VM's software
# emulation, so they run on this host only; the image library's unit tests (overlay,
# unpack) and the engine's container tests (cgroups, namespaces) run in the VM too.
tests=$(cargo test --workspace --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.profile.test) | select(.target.src_path | test("/crates/hull/tests/(images|registry)[.]rs$") | not) | .executable // empty')
for t in $tests; do
    echo "== pure cgroup v2 VM: $(basename "$t")"
    # brd: RAM disks, so the block I/O tests have a device to throttle in the VM;
    # loop and ext4: the idmapped-mount test's filesystem (tmpfs lacks idmap before 6.3);
    # nf_tables and its nat, masquerade, conntrack and fib parts: hull's firewall table.
    # The crash soaks run fewer rounds under the VM's emulated CPU (200 and 100 here).
    "$vm/run-in-vm.sh" -q -t 900 --modules brd,loop,ext4,tun,nf_tables,nft_chain_nat,nft_nat,nft_masq,nft_ct,nft_fib,nft_fib_ipv4,nft_fib_ipv6,nft_fib_inet -e HULL_SOAK_ITERATIONS=40 . -- "$t" --test-threads=2
done

#!/usr/bin/env python3
"""Network benchmark: what joining a network costs a container's start. In shuffled
turns every round: `hull run --rm busybox true` with `--network none`, on the default
bridge network, and on it with a published port (`-p 8080:80`: a socket held and
hull's nftables table rewritten twice); Podman 4.3 (netavark, runc, vfs) on its default
network and with `--network none`. Reports medians, hull's bridge cost over none
(goal: within 3 ms) and Podman's bridge time over hull's (goal: 5x).

    bench/network.py [ROUNDS]     (as root, after cargo build --release; default 20)

Everything runs inside a network namespace the script makes (it re-executes itself
under `unshare -n`): bridges, veths and firewall rules of both engines live and die
with it, never on the machine's own network. Stores live under a temporary directory.
"""
import os, shutil, subprocess, sys, tempfile, time

from stores import busybox_stores, sh, time_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def main():
    if os.geteuid() != 0:
        sys.exit("network.py: run as root")
    if os.environ.get("HULL_BENCH_NETNS") != "1":
        os.environ["HULL_BENCH_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
    sh("ip", "link", "set", "lo", "up")
    if not os.access(HULL, os.X_OK):
        sys.exit(f"network.py: {HULL} is missing: cargo build --release")
    podman = shutil.which("podman")
    if not podman:
        sys.exit("network.py: podman is missing: apt install podman")
    work = tempfile.mkdtemp(prefix="hull-bench-network-")
    try:
        hull, pod, image_id = busybox_stores(work, HULL, podman)
        cmds = {
            "hull none": hull + ["run", "--rm", "--network", "none", "busybox", "true"],
            "hull bridge": hull + ["run", "--rm", "busybox", "true"],
            "hull -p": hull + ["run", "--rm", "-p", "8080:80", "busybox", "true"],
            "podman none": pod + ["run", "--rm", "--pull", "never", "--network", "none", image_id, "true"],
            "podman bridge": pod + ["run", "--rm", "--pull", "never", image_id, "true"],
        }
        med = time_runs(cmds, ROUNDS, 2)  # the warm-up makes the bridges
        print(f"  hull bridge - none: {med['hull bridge'] - med['hull none']:+.1f} ms; "
              f"-p - none: {med['hull -p'] - med['hull none']:+.1f} ms")
        print(f"  podman bridge / hull bridge: {med['podman bridge'] / med['hull bridge']:.2f}x")
    finally:
        subprocess.run([HULL, "--root", f"{work}/hull", "ps", "-aq"], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Network benchmark.

1. What joining a network costs a container's start. In shuffled turns every round:
   `hull run --rm busybox true` with `--network none`, on the default bridge network,
   and on it with a published port (`-p 8080:80`: a socket held and hull's nftables
   table rewritten twice); Podman 4.3 (netavark, runc, vfs) on its default network and
   with `--network none`. Reports medians, hull's bridge cost over none (goal: within
   3 ms) and Podman's bridge time over hull's (goal: 5x).
2. Throughput (iperf3, TCP, one stream, median of REPEATS runs of SECS seconds): a bare
   veth pair between two namespaces (the baseline), a container on the default network
   to the host through its veth and the bridge (goal: within 5% of the baseline), and
   from another host to a container's published port: through hull's DNAT, and through
   Docker's userland proxy (`docker-proxy`, as dockerd starts it for each published
   port) to the same container (goal: hull ahead). The container runs the host's
   iperf3 (/usr, /lib, /lib64 bound read-only into the busybox image).

    bench/network.py [ROUNDS] [SECS] [REPEATS]   (as root, after cargo build --release;
                                                  defaults 20, 5, 3; SECS 0 skips part 2)

Everything runs inside a network namespace the script makes (it re-executes itself
under `unshare -n`): bridges, veths and firewall rules of both engines live and die
with it, never on the machine's own network. Stores live under a temporary directory.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

from stores import busybox_stores, sh, time_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SECS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
REPEATS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
HOST_LIBS = ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro", "--tmpfs", "/tmp"]


def gbits(client):
    """Runs iperf3 `client` (a command list ending in its arguments) REPEATS times;
    the median received rate in Gbit/s."""
    rates = []
    for _ in range(REPEATS):
        out = subprocess.run(client + ["-t", str(SECS), "-J"], check=True, stdout=subprocess.PIPE).stdout
        r = json.loads(out)
        if "error" in r:
            sys.exit(f"network.py: {' '.join(client)}: {r['error']}")
        rates.append(r["end"]["sum_received"]["bits_per_second"] / 1e9)
    return statistics.median(rates)


BACKGROUND = []


def server(cmd):
    """An iperf3 server (`cmd` + -s) in the background, once it listens."""
    p = subprocess.Popen(cmd + ["-s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    BACKGROUND.append(p)
    time.sleep(0.5)
    return p


def throughput(hull):
    iperf3 = shutil.which("iperf3")
    proxy = shutil.which("docker-proxy") or "/usr/sbin/docker-proxy"
    if not iperf3 or not os.access(proxy, os.X_OK):
        sys.exit("network.py: iperf3 and docker-proxy are needed: apt install iperf3 docker.io")
    # "Another host": a namespace joined to this one by a veth pair, 10.250.0.2 there
    # and 10.250.0.1 here. Its bare veth is the baseline.
    holder = subprocess.Popen(["unshare", "-n", "sleep", "3600"])
    time.sleep(0.2)
    other = ["nsenter", "-t", str(holder.pid), "-n"]
    try:
        sh("ip", "link", "add", "bv0", "type", "veth", "peer", "name", "bv1", "netns", str(holder.pid))
        sh("ip", "addr", "add", "10.250.0.1/24", "dev", "bv0")
        sh("ip", "link", "set", "bv0", "up")
        sh(*other, "ip", "addr", "add", "10.250.0.2/24", "dev", "bv1")
        sh(*other, "ip", "link", "set", "bv1", "up")
        sh(*other, "ip", "link", "set", "lo", "up")
        res = {}
        srv = server([iperf3, "-B", "10.250.0.1"])
        res["veth pair (baseline)"] = gbits(other + [iperf3, "-c", "10.250.0.1"])
        srv.kill()
        srv.wait()
        srv = server([iperf3, "-B", "10.89.0.1"])
        res["container -> host"] = gbits(hull + ["run", "--rm", *HOST_LIBS, "busybox", iperf3, "-c", "10.89.0.1"])
        srv.kill()
        srv.wait()
        sh(*hull, "run", "-d", "--name", "iperf", "-p", "5201:5201", *HOST_LIBS, "busybox", iperf3, "-s")
        time.sleep(0.5)
        cip = sh(*hull, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "iperf").strip()
        res["other host -> -p (hull DNAT)"] = gbits(other + [iperf3, "-c", "10.250.0.1", "-p", "5201"])
        # dockerd hands the proxy a pipe as fd 3, where it says it is ready.
        ready_r, ready_w = os.pipe()
        prox = subprocess.Popen([proxy, "-proto", "tcp", "-host-ip", "10.250.0.1", "-host-port", "5301",
                                 "-container-ip", cip, "-container-port", "5201"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.dup2(ready_w, 3), pass_fds=(3,))
        BACKGROUND.append(prox)
        os.close(ready_w)
        os.read(ready_r, 16)
        os.close(ready_r)
        time.sleep(0.5)
        res["other host -> docker-proxy"] = gbits(other + [iperf3, "-c", "10.250.0.1", "-p", "5301"])
        prox.kill()
        prox.wait()
        sh(*hull, "rm", "-f", "iperf")
    finally:
        for p in BACKGROUND + [holder]:
            p.kill()
            p.wait()
    print(f"throughput, iperf3 TCP, median of {REPEATS} x {SECS} s (Gbit/s):")
    for n, v in res.items():
        print(f"  {n:30} {v:7.2f}")
    base = res["veth pair (baseline)"]
    print(f"  container -> host / veth pair: {res['container -> host'] / base:.3f}; "
          f"hull -p / docker-proxy: {res['other host -> -p (hull DNAT)'] / res['other host -> docker-proxy']:.2f}x")


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
        if SECS > 0:
            throughput(hull)
    finally:
        # Whatever a failure left running goes before its store does.
        ids = subprocess.run([HULL, "--root", f"{work}/hull", "ps", "-aq"], stdout=subprocess.PIPE).stdout.split()
        if ids:
            subprocess.run([HULL, "--root", f"{work}/hull", "rm", "-f", *ids], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

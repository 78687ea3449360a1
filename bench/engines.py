#!/usr/bin/env python3
"""Engines benchmark: `ctr run --rm IMAGE ID true` (containerd 1.6) and
`docker run --rm --runtime R IMAGE true` (Docker 20.10) with hull-runtime, runc and crun
as the engine's runtime, in shuffled turns every round. Reports median wall time per
container and hull's ratios. The engine's own work dominates; this shows how much of a
container start is left to the runtime.

    bench/engines.py [ROUNDS]          (as root, after cargo build --release; default 30)

A private containerd and dockerd run under a temporary directory, inside a private
mount namespace where the host's cgroup2 mount is lazily unmounted (crun 1.8.1 refuses
hybrid hosts; see bench/README.md), so all three runtimes see the same v1 layout. The
busybox image is made with umoci and skopeo, as in crates/runtime/tests/engines.rs.
Daemons are stopped by pid at the end.
"""
import os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL_RUNTIME", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull-runtime")
RUNTIMES = {"hull": HULL, "runc": shutil.which("runc"), "crun": shutil.which("crun")}
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
DOCKER = "/usr/bin/docker"  # Debian's client, matching its daemon


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def image(work):
    layout, bundle, tar = f"{work}/layout", f"{work}/image-bundle", f"{work}/busybox.tar"
    sh("umoci", "init", "--layout", layout)
    sh("umoci", "new", "--image", f"{layout}:latest")
    sh("umoci", "unpack", "--image", f"{layout}:latest", bundle)
    os.makedirs(f"{bundle}/rootfs/bin", exist_ok=True)
    shutil.copy("/bin/busybox", f"{bundle}/rootfs/bin/busybox")
    os.symlink("busybox", f"{bundle}/rootfs/bin/true")
    sh("umoci", "repack", "--image", f"{layout}:latest", bundle)
    sh("skopeo", "copy", "--quiet", f"oci:{layout}:latest", f"docker-archive:{tar}:hull-busybox:latest")
    return tar


def private(script, log):
    """Runs the shell `script` in a private mount namespace without the cgroup2 mount;
    every daemon in one namespace, so dockerd's overlay mounts are containerd's too."""
    umount = "umount -l /sys/fs/cgroup/unified 2>/dev/null; " if os.path.ismount("/sys/fs/cgroup/unified") else ""
    return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", umount + script],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def wait_for(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    sys.exit(f"engines.py: {path} never appeared")


def main():
    for name, path in RUNTIMES.items():
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"engines.py: {name} not found ({path}); build hull with cargo build --release")
    for tool in ("containerd", "ctr", "dockerd", "umoci", "skopeo"):
        if not shutil.which(tool):
            sys.exit(f"engines.py: {tool} not found: apt-get install containerd docker.io umoci skopeo")
    work = tempfile.mkdtemp(prefix="hull-bench-engines-")
    daemons = []
    try:
        tar = image(work)
        sock = f"{work}/containerd.sock"
        with open(f"{work}/containerd.toml", "w") as f:
            f.write(f'version = 2\nroot = "{work}/ctd-root"\nstate = "{work}/ctd-state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "{sock}"\n'
                    f'[ttrpc]\n  address = "{sock}.ttrpc"\n[debug]\n  address = "{work}/debug.sock"\n'
                    f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{work}/opt"\n')
        log = open(f"{work}/daemons.log", "w")
        dsock = f"{work}/docker.sock"
        with open(f"{work}/daemon.json", "w") as f:
            f.write("{}")
        # "runc" is a reserved runtime name in dockerd.
        runtimes = " ".join(f"--add-runtime bench-{n}={p}" for n, p in RUNTIMES.items())
        daemons.append(private(
            f"containerd --config {work}/containerd.toml & echo $! > {work}/containerd.pid; "
            f"exec dockerd --config-file {work}/daemon.json --data-root {work}/docker --exec-root {work}/docker-exec "
            f"--pidfile {work}/docker.pid --host unix://{dsock} --containerd {sock} --bridge=none "
            f"--iptables=false --ip6tables=false --ip-masq=false --cgroup-parent /hull-bench-{os.getpid()} {runtimes}",
            log))
        wait_for(sock)
        wait_for(dsock)
        ctr = ["ctr", "--address", sock, "--namespace", f"hull-bench-{os.getpid()}"]
        docker = [DOCKER, "--host", f"unix://{dsock}"]
        sh(*ctr, "images", "import", tar)
        sh(*docker, "load", "--input", tar)
        cmds = {}
        for n, p in RUNTIMES.items():
            cmds[("ctr", n)] = ctr + ["run", "--rm", "--runc-binary", p, "docker.io/library/hull-busybox:latest",
                                      f"b-{n}", "true"]
            cmds[("docker", n)] = docker + ["run", "--rm", "--network", "none", "--runtime", f"bench-{n}",
                                            "hull-busybox:latest", "true"]
        samples = {k: [] for k in cmds}
        for i in range(ROUNDS + 3):
            order = list(cmds)
            random.shuffle(order)
            for k in order:
                t0 = time.perf_counter()
                r = subprocess.run(cmds[k], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                wall = (time.perf_counter() - t0) * 1000
                if r.returncode != 0:
                    sys.exit(f"engines.py: {k} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
                if i >= 3:  # warm-up rounds are not counted
                    samples[k].append(wall)
        print(f"one container per run of `true`, {ROUNDS} interleaved rounds (median wall ms)")
        print(f"{'engine':8} {'hull':>8} {'runc':>8} {'crun':>8} {'hull/runc':>10} {'hull/crun':>10}")
        for engine in ("ctr", "docker"):
            m = {n: statistics.median(samples[(engine, n)]) for n in RUNTIMES}
            print(f"{engine:8} {m['hull']:8.1f} {m['runc']:8.1f} {m['crun']:8.1f} "
                  f"{m['hull'] / m['runc']:10.2f} {m['hull'] / m['crun']:10.2f}")
    finally:
        pids = [d.pid for d in daemons]  # dockerd, then its containerd
        if os.path.exists(f"{work}/containerd.pid"):
            pids.append(int(open(f"{work}/containerd.pid").read()))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(200):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                if daemons and pid == daemons[0].pid and daemons[0].poll() is not None:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        for _ in range(2):
            subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mountinfo | sort -r | "
                            "xargs -r -n1 umount -l"], stderr=subprocess.DEVNULL)
        if os.environ.get("KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["sh", "-c", f"rmdir /sys/fs/cgroup/*/hull-bench-{os.getpid()} 2>/dev/null; "
                        f"rmdir /sys/fs/cgroup/*/hull-bench-{os.getpid()} 2>/dev/null; true"])


if __name__ == "__main__":
    main()

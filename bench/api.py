#!/usr/bin/env python3
"""The Docker Engine API, side by side: `docker run --rm busybox true` (Debian's
docker 20.10 CLI) against hull's API (`hull system service`), against dockerd 20.10
(with its own containerd and runc, overlay2, cgroupfs) and against Podman 4.3's API
(`podman system service`, runc, vfs), in shuffled turns every round; then `docker ps`
with 100 containers of each. Prints medians and dockerd's and Podman's times over
hull's (goal: at least 3x faster than dockerd; `ps` of 100 under 50 ms).

    bench/api.py [ROUNDS]     (as root, after cargo build --release; default 20)

Runs inside private network and mount namespaces of its own (it re-executes itself
under `unshare -n -m`): the engines' bridges, rules and mounts live and die with them.
Stores and sockets live under a temporary directory.
"""
import os, shutil, signal, subprocess, sys, tempfile, time

from stores import busybox_stores, sh, time_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull")
DOCKER = "/usr/bin/docker"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def wait_socket(path, proc, what):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"api.py: {what} exited ({proc.returncode})")
        if os.path.exists(path):
            try:
                subprocess.run([DOCKER, "-H", f"unix://{path}", "version"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return
            except subprocess.CalledProcessError:
                pass
        time.sleep(0.1)
    sys.exit(f"api.py: {what} does not answer on {path}")


def main():
    if os.geteuid() != 0:
        sys.exit("api.py: run as root")
    if os.environ.get("HULL_BENCH_NETNS") != "1":
        os.environ["HULL_BENCH_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "-n", "-m", "--propagation", "private", "--",
                              sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
    sh("ip", "link", "set", "lo", "up")
    for need in (HULL, DOCKER, shutil.which("dockerd"), shutil.which("podman")):
        if not need or not os.access(need, os.X_OK):
            sys.exit(f"api.py: {need} is missing (cargo build --release; apt install docker.io podman)")
    work = tempfile.mkdtemp(prefix="hull-bench-api-")
    procs = []
    try:
        hull, pod, image_id = busybox_stores(work, HULL, shutil.which("podman"))
        socks = {n: f"{work}/{n}.sock" for n in ("hull", "dockerd", "podman")}
        env = dict(os.environ, HULL_API_TRACE="0")
        procs.append(subprocess.Popen(hull + ["system", "service", "--time", "0", f"unix://{socks['hull']}"], env=env))
        wait_socket(socks["hull"], procs[-1], "hull system service")
        procs.append(subprocess.Popen(
            ["dockerd", "-H", f"unix://{socks['dockerd']}", "--data-root", f"{work}/docker",
             "--exec-root", f"{work}/docker-exec", "--pidfile", f"{work}/docker.pid",
             "--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
             "--userland-proxy=false"],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/dockerd.log", "w")))
        wait_socket(socks["dockerd"], procs[-1], "dockerd")
        procs.append(subprocess.Popen(pod + ["system", "service", "--time", "0", f"unix://{socks['podman']}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_socket(socks["podman"], procs[-1], "podman system service")
        # The same image for dockerd, from hull's archive.
        sh(DOCKER, "-H", f"unix://{socks['dockerd']}", "load", "-i", f"{work}/busybox.tar")
        image = {"hull": "busybox", "dockerd": "busybox", "podman": image_id}
        cmds = {n: [DOCKER, "-H", f"unix://{s}", "run", "--rm", image[n], "true"] for n, s in socks.items()}
        med = time_runs(cmds, ROUNDS, 2, "docker run --rm busybox true")
        print(f"  dockerd / hull: {med['dockerd'] / med['hull']:.2f}x; podman / hull: {med['podman'] / med['hull']:.2f}x")
        # docker ps with 100 containers (created, not started) on each.
        for n, s in socks.items():
            for i in range(100):
                sh(DOCKER, "-H", f"unix://{s}", "create", "--name", f"c{i}", image[n], "true")
        ps = {n: [DOCKER, "-H", f"unix://{s}", "ps", "-a"] for n, s in socks.items()}
        pmed = time_runs(ps, ROUNDS, 1, "docker ps -a with 100 containers")
        print(f"  dockerd / hull: {pmed['dockerd'] / pmed['hull']:.2f}x; podman / hull: {pmed['podman'] / pmed['hull']:.2f}x")
        for n, s in socks.items():
            ids = sh(DOCKER, "-H", f"unix://{s}", "ps", "-aq").split()
            if ids:
                subprocess.run([DOCKER, "-H", f"unix://{s}", "rm", "-f", *ids], stdout=subprocess.DEVNULL)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        ids = subprocess.run([HULL, "--root", f"{work}/hull", "ps", "-aq"], stdout=subprocess.PIPE).stdout.split()
        if ids:
            subprocess.run([HULL, "--root", f"{work}/hull", "rm", "-f", *ids], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

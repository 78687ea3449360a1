#!/usr/bin/env python3
"""Interleaved `run` benchmark: hull-runtime, runc and crun take turns in a shuffled
order every round, so drift on a busy machine (e.g. the kernel's asynchronous cleanup
of the previous container's network namespace) hits all three alike. Reports medians of
wall time and CPU time (user+sys of the waited process tree, from wait4), and hull's
ratios. (Peak RSS is in runtime.sh: wait4's ru_maxrss here would count the forked
Python before exec.) As root, after `cargo build --release`:

    bench/interleaved.py [ROUNDS]          (default 100)

Each runtime runs in the same private mount namespace wrapper, where the host's cgroup2
mount is lazily unmounted (crun 1.8.1 refuses hybrid hosts; see bench/README.md).
"""
import os, random, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL_RUNTIME", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull-runtime")
RUNTIMES = {"hull": HULL, "runc": shutil.which("runc"), "crun": shutil.which("crun")}
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 100


def main():
    for name, path in RUNTIMES.items():
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"interleaved.py: {name} not found ({path}); build hull with cargo build --release")
    work = tempfile.mkdtemp(prefix="hull-bench-")
    try:
        bundle = f"{work}/bundle"
        subprocess.run([f"{ROOT}/examples/busybox-bundle.sh", bundle, HULL], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", f"jq '.ociVersion=\"1.0.2-dev\" | .process.args=[\"/bin/true\"]' {bundle}/config.json > {bundle}/c && mv {bundle}/c {bundle}/config.json"], check=True)
        umount = "umount -l /sys/fs/cgroup/unified 2>/dev/null; " if os.path.ismount("/sys/fs/cgroup/unified") else ""
        cmds = {
            n: ["unshare", "-m", "--propagation", "private", "sh", "-c",
                f"{umount}exec {p} --root {work}/state-{n} run -b {bundle} bench-{os.getpid()}-{n}"]
            for n, p in RUNTIMES.items()
        }
        samples = {n: [] for n in cmds}
        for i in range(ROUNDS + 5):
            order = list(cmds)
            random.shuffle(order)
            for n in order:
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmds[n])
                _, status, ru = os.wait4(proc.pid, 0)
                wall = (time.perf_counter() - t0) * 1000
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode != 0:
                    sys.exit(f"interleaved.py: {n} exited {proc.returncode}")
                if i >= 5:  # warm-up rounds are not counted
                    samples[n].append((wall, (ru.ru_utime + ru.ru_stime) * 1000))
        med = {n: [statistics.median(x[k] for x in s) for k in range(2)] for n, s in samples.items()}
        print(f"`run` of /bin/true, {ROUNDS} interleaved rounds (medians; wrapper included)")
        print(f"{'runtime':8} {'wall ms':>8} {'cpu ms':>8}")
        for n, (w, c) in med.items():
            print(f"{n:8} {w:8.2f} {c:8.2f}")
        for base in ("crun", "runc"):
            w, c = (med["hull"][k] / med[base][k] for k in range(2))
            print(f"hull/{base}: wall {w:.2f}  cpu {c:.2f}")
    finally:
        for n, p in RUNTIMES.items():
            subprocess.run([p, "--root", f"{work}/state-{n}", "delete", "-f", f"bench-{os.getpid()}-{n}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""seccomp benchmark: `run` of /bin/true under a Docker-like profile
(bench/profiles/docker-like.json: ~300 allowed syscalls for x86_64, x86 and x32, plus
argument rules for personality, clone and socket), interleaved like interleaved.py.

Variants:
  hull-none   hull without a profile (what the filter costs on top)
  hull-cold   hull with the profile, its filter cache emptied before every run
  hull-warm   hull with the profile, the cache kept: the second container's case
  runc, crun  with the same profile (libseccomp compiles it every time)

As root, after `cargo build --release`:   bench/seccomp.py [ROUNDS]   (default 100)
"""
import json, os, random, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL_RUNTIME", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull-runtime")
RUNC, CRUN = shutil.which("runc"), shutil.which("crun")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
PROFILE = json.load(open(f"{ROOT}/bench/profiles/docker-like.json"))


def bundle(path, profile):
    subprocess.run([f"{ROOT}/examples/busybox-bundle.sh", path, HULL], check=True, stdout=subprocess.DEVNULL)
    cfg = json.load(open(f"{path}/config.json"))
    cfg["ociVersion"] = "1.0.2-dev"  # crun 1.8.1 refuses 1.2.0
    cfg["process"]["args"] = ["/bin/true"]
    if profile:
        cfg["linux"]["seccomp"] = profile
    json.dump(cfg, open(f"{path}/config.json", "w"))


def main():
    for name, path in {"hull": HULL, "runc": RUNC, "crun": CRUN}.items():
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"seccomp.py: {name} not found ({path}); build hull with cargo build --release")
    work = tempfile.mkdtemp(prefix="hull-bench-seccomp-")
    try:
        bundle(f"{work}/plain", None)
        bundle(f"{work}/filtered", PROFILE)
        umount = "umount -l /sys/fs/cgroup/unified 2>/dev/null; " if os.path.ismount("/sys/fs/cgroup/unified") else ""
        variants = {
            "hull-none": (HULL, "plain"),
            "hull-cold": (HULL, "filtered"),
            "hull-warm": (HULL, "filtered"),
            "runc": (RUNC, "filtered"),
            "crun": (CRUN, "filtered"),
        }
        cmds = {
            n: ["unshare", "-m", "--propagation", "private", "sh", "-c",
                f"{umount}exec {p} --root {work}/state-{n} run -b {work}/{b} bench-{os.getpid()}-{n}"]
            for n, (p, b) in variants.items()
        }
        samples = {n: [] for n in cmds}
        for i in range(ROUNDS + 5):
            order = list(cmds)
            random.shuffle(order)
            for n in order:
                if n == "hull-cold":
                    shutil.rmtree(f"{work}/state-{n}/seccomp:cache", ignore_errors=True)
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmds[n])
                _, status, ru = os.wait4(proc.pid, 0)
                wall = (time.perf_counter() - t0) * 1000
                if os.waitstatus_to_exitcode(status) != 0:
                    sys.exit(f"seccomp.py: {n} exited {os.waitstatus_to_exitcode(status)}")
                if i >= 5:
                    samples[n].append((wall, (ru.ru_utime + ru.ru_stime) * 1000))
        med = {n: [statistics.median(x[k] for x in s) for k in range(2)] for n, s in samples.items()}
        print(f"`run` of /bin/true with a Docker-like seccomp profile, {ROUNDS} interleaved rounds (medians)")
        print(f"{'variant':10} {'wall ms':>8} {'cpu ms':>8}")
        for n, (w, c) in med.items():
            print(f"{n:10} {w:8.2f} {c:8.2f}")
        for a, b in (("hull-warm", "hull-cold"), ("hull-warm", "crun"), ("hull-warm", "runc"), ("hull-cold", "crun")):
            w, c = (med[a][k] / med[b][k] for k in range(2))
            print(f"{a}/{b}: wall {w:.2f}  cpu {c:.2f}")
        print(f"filter cost over no profile: cold {med['hull-cold'][1] - med['hull-none'][1]:+.2f} ms cpu, "
              f"warm {med['hull-warm'][1] - med['hull-none'][1]:+.2f} ms cpu")
    finally:
        for n, (p, _) in variants.items():
            subprocess.run([p, "--root", f"{work}/state-{n}", "delete", "-f", f"bench-{os.getpid()}-{n}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

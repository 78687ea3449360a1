#!/usr/bin/env python3
"""Engine benchmark: `hull run --rm --network none busybox true` against `podman run --rm --network none`
of the same image (Podman 4.3, private --root with the vfs driver, runc as its runtime,
nofile/nproc limits within the host's: root here lacks CAP_SYS_RESOURCE to raise them),
in shuffled turns every round; then the memory of an idle container's monitor (hull's
monitor against Podman's conmon). Reports medians and hull's ratio.

    bench/engine.py [ROUNDS]          (as root, after cargo build --release; default 30)
    HULL_B=/path/to/other/hull bench/engine.py [ROUNDS]
                                      (also runs another hull build in the same rounds and
                                       prints its ratio to this one: an A/B of a change)

The image is busybox-static imported with `hull import`, saved with `hull save` and
loaded by Podman, so both run the same layer. Both stores live under a temporary
directory, removed at the end; containers are removed by the engines themselves.
"""
import os, shutil, subprocess, sys, tempfile, time

from stores import busybox_stores, sh, time_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL", f"{ROOT}/target/x86_64-unknown-linux-gnu/release/hull")
HULL_B = os.environ.get("HULL_B")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def rss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f if l.split(":")[0] in ("Rss", "Pss", "Pss_Anon")}


def main():
    if os.geteuid() != 0:
        sys.exit("engine.py: run as root")
    if not os.access(HULL, os.X_OK):
        sys.exit(f"engine.py: {HULL} is missing: cargo build --release")
    podman = shutil.which("podman")
    if not podman:
        sys.exit("engine.py: podman is missing: apt install podman")
    work = tempfile.mkdtemp(prefix="hull-bench-engine-")
    try:
        hull, pod, image_id = busybox_stores(work, HULL, podman)
        rootfs = f"{work}/rootfs"
        cmds = {
            "hull": hull + ["run", "--rm", "--network", "none", "busybox", "true"],
            "podman": pod + ["run", "--rm", "--pull", "never", "--network", "none", image_id, "true"],
        }
        if HULL_B:
            hull_b = [HULL_B, "--root", f"{work}/hull-b"]
            sh(*hull_b, "import", rootfs, "busybox")
            cmds["hull-b"] = hull_b + ["run", "--rm", "--network", "none", "busybox", "true"]
        med = time_runs(cmds, ROUNDS, 3)
        print(f"  podman/hull: {med['podman'] / med['hull']:.2f}x")
        if HULL_B:
            print(f"  hull-b/hull: {med['hull-b'] / med['hull']:.3f} (hull-b is {HULL_B})")

        # An idle container: hull's monitor vs Podman's conmon, after 6 s without output.
        cid = sh(*hull, "run", "-d", "--network", "none", "busybox", "sleep", "60").strip()
        pcid = sh(*pod, "run", "-d", "--pull", "never", "--network", "none", image_id, "sleep", "60").strip()
        time.sleep(6.5)
        mon = int(sh(*hull, "inspect", "--format", "{{.State.MonitorPid}}", cid))
        conmon = int(sh(*pod, "inspect", "--format", "{{.State.ConmonPid}}", pcid))
        m, c = rss_kib(mon), rss_kib(conmon)
        print("idle container's monitor (KiB):")
        print(f"  hull monitor  Rss {m['Rss']:6}  Pss {m['Pss']:6}  anonymous {m['Pss_Anon']:6}")
        print(f"  podman conmon Rss {c['Rss']:6}  Pss {c['Pss']:6}  anonymous {c['Pss_Anon']:6}")
        sh(*hull, "rm", "-f", cid)
        sh(*pod, "rm", "-f", "-t", "0", pcid)
        # conmon's `podman container cleanup` may still run and write under the store.
        until = time.time() + 10
        while os.path.exists(f"/proc/{conmon}") and time.time() < until:
            time.sleep(0.05)
    finally:
        subprocess.run([HULL, "--root", f"{work}/hull", "ps", "-aq"], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Shared by engine.py and network.py: a hull store and a Podman store under `work`
holding the same busybox-static image (imported by hull, saved, loaded by Podman 4.3
with vfs, cgroupfs, runc and nofile/nproc limits within the host's: root here lacks
CAP_SYS_RESOURCE to raise them), and the timing of commands side by side."""
import os, random, resource, shutil, statistics, subprocess, time


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout.decode()


def busybox_stores(work, hull_bin, podman):
    """Returns (hull command prefix, podman command prefix, the image's ID)."""
    rootfs = f"{work}/rootfs"
    os.makedirs(f"{rootfs}/bin")
    shutil.copy("/bin/busybox", f"{rootfs}/bin/busybox")
    for a in ("true", "sleep", "sh"):
        os.symlink("busybox", f"{rootfs}/bin/{a}")
    hull = [hull_bin, "--root", f"{work}/hull"]
    # Podman 4.3 as root asks for nofile 1048576 whatever --ulimit says; its
    # containers.conf default_ulimits is honoured.
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with open(f"{work}/containers.conf", "w") as f:
        f.write(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n')
    os.environ["CONTAINERS_CONF"] = f"{work}/containers.conf"
    pod = [podman, "--root", f"{work}/podman", "--runroot", f"{work}/podman-run", "--storage-driver", "vfs",
           "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", shutil.which("runc")]
    sh(*hull, "import", rootfs, "busybox")
    sh(*hull, "save", "-o", f"{work}/busybox.tar", "busybox")
    sh(*pod, "load", "-q", "-i", f"{work}/busybox.tar")
    image_id = sh(*hull, "image", "inspect", "busybox").split('"Id": "')[1].split('"')[0]
    return hull, pod, image_id


def time_runs(cmds, rounds, warmups, title="run --rm busybox true"):
    """Runs each command `warmups` times (each must work), then `rounds` rounds in a
    shuffled order; prints and returns the median wall time of each, in ms."""
    for c in cmds.values():
        for _ in range(warmups):
            subprocess.run(c, check=True, stdout=subprocess.DEVNULL)
    times = {n: [] for n in cmds}
    for _ in range(rounds):
        order = list(cmds)
        random.shuffle(order)
        for n in order:
            t = time.perf_counter()
            subprocess.run(cmds[n], check=True, stdout=subprocess.DEVNULL)
            times[n].append((time.perf_counter() - t) * 1000)
    med = {n: statistics.median(v) for n, v in times.items()}
    width = max(len(n) for n in cmds)
    print(f"{title}, {rounds} rounds (median wall ms):")
    for n, v in med.items():
        print(f"  {n:{width}} {v:8.1f}   (min {min(times[n]):.1f}, max {max(times[n]):.1f})")
    return med

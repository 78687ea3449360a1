#!/usr/bin/env python3
"""Pull + unpack of a multi-layer image from a local registry: hull vs skopeo + umoci.

bench/pull.py [ROUNDS] (as root, after `cargo build --release`). Starts Debian's
docker-registry on 127.0.0.1, pushes a generated image (LAYERS gzip layers of mixed
text and binary files, the shape of a distribution image) with skopeo, then each round,
in shuffled order:
  hull:   hull --root FRESH pull IMAGE            (download, verify, unpack: one pass)
  skopeo: skopeo copy docker://IMAGE oci:FRESH:t && umoci unpack --image FRESH:t B
Prints median wall times and hull's speedup (skopeo+umoci / hull).
"""
import gzip, hashlib, io, json, os, random, shutil, socket, statistics, subprocess, sys, tarfile, tempfile, time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
LAYERS = int(os.environ.get("LAYERS", "5"))
FILES = int(os.environ.get("FILES", "1500"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HULL = os.environ.get("HULL", os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release/hull"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def layer(seed):
    rnd = random.Random(seed)
    words = [("w%d" % i) * rnd.randint(1, 4) for i in range(2000)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in range(20):
            ti = tarfile.TarInfo("layer%d/dir%d" % (seed, d))
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            t.addfile(ti)
        for i in range(FILES):
            if i % 10 == 0:
                data = rnd.randbytes(rnd.randint(1000, 60000))  # binaries: incompressible
            else:
                data = " ".join(rnd.choice(words) for _ in range(rnd.randint(50, 1500))).encode()
            ti = tarfile.TarInfo("layer%d/dir%d/f%d" % (seed, i % 20, i))
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs/sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def make_layout(layout):
    os.makedirs(os.path.join(layout, "blobs/sha256"))
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layers, diffs = [], []
    for i in range(LAYERS):
        raw, gz = layer(i)
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layout, gz), "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(layout, config), "size": len(config)},
                           "layers": layers}).encode()
    md = blob(layout, manifest)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                   "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    return sum(l["size"] for l in layers)


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def main():
    if os.geteuid() != 0:
        sys.exit("bench/pull.py: run as root")
    if not os.path.exists(HULL):
        sys.exit(f"bench/pull.py: {HULL} is missing: cargo build --release")
    work = tempfile.mkdtemp(prefix="hull-bench-pull-")
    port = free_port()
    with open(os.path.join(work, "registry.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {work}/registry\nhttp:\n  addr: 127.0.0.1:{port}\n")
    reg = subprocess.Popen(["docker-registry", "serve", os.path.join(work, "registry.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        size = make_layout(os.path.join(work, "layout"))
        image = f"127.0.0.1:{port}/bench/multi:1"
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{work}/layout:bench", f"docker://{image}"], check=True, stdout=subprocess.DEVNULL)
        print(f"image: {LAYERS} gzip layers, {size / 1e6:.1f} MB compressed, {LAYERS * FILES} files; {ROUNDS} rounds")
        times = {"hull": [], "skopeo+umoci": []}
        for r in range(ROUNDS + 1):
            order = list(times)
            random.shuffle(order)
            for name in order:
                d = os.path.join(work, f"round-{name}")
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                subprocess.run(["sync"])
                if name == "hull":
                    t = timed([HULL, "--root", f"{d}/store", "pull", "-q", image])
                else:
                    t = timed(["skopeo", "copy", "--src-tls-verify=false", f"docker://{image}", f"oci:{d}/layout:t"])
                    t += timed(["umoci", "unpack", "--image", f"{d}/layout:t", f"{d}/bundle"])
                if r > 0:  # round 0 warms caches
                    times[name].append(t)
                shutil.rmtree(d, ignore_errors=True)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        for k, v in med.items():
            print(f"{k:14} median {v:8.1f} ms   (min {min(times[k]) * 1000:.1f}, max {max(times[k]) * 1000:.1f})")
        print(f"speedup (skopeo+umoci / hull): {med['skopeo+umoci'] / med['hull']:.2f}x")
    finally:
        reg.terminate()
        reg.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

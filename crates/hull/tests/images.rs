//! The image verbs through the `hull` binary: import, images, inspect, tag, rmi, prune,
//! save and load in both archive formats, interchange with skopeo and umoci, and bad
//! input that must leave nothing behind.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn snapshot_of(h: &Hull, image: &str) -> std::path::PathBuf {
    let v = h.inspect(image);
    let layers = v["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{v}");
    let diff = layers[0].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    h.root.join("snapshots").join(diff)
}

#[test]
fn import_list_inspect_tag_remove_and_collect() {
    require_root();
    let t = TempDir::new("import");
    let h = Hull::new(t.path());
    let rootfs = rootfs(t.path());
    let id = h.ok(&["import", rootfs.to_str().unwrap(), "hull-test/busybox:1"]).trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    // The layer is unpacked once, with modes, owners and links kept.
    let snap = snapshot_of(&h, "hull-test/busybox:1");
    assert!(snap.join("bin/busybox").metadata().unwrap().mode() & 0o111 != 0);
    assert_eq!(std::fs::read_link(snap.join("bin/sh")).unwrap(), Path::new("busybox"));
    assert_eq!(snap.join("tmp").metadata().unwrap().mode() & 0o7777, 0o1777);
    assert_eq!(snap.join("etc/motd").metadata().unwrap().ino(), snap.join("etc/motd.hl").metadata().unwrap().ino());
    // A tarball (gzip) imports too, from standard input.
    let tgz = t.path().join("rootfs.tar.gz");
    run_ok(Command::new("tar").arg("-C").arg(&rootfs).arg("-czf").arg(&tgz).arg("."));
    let o = h.cmd().args(["import", "-", "second"]).stdin(std::fs::File::open(&tgz).unwrap()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let table = h.ok(&["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("IMAGE ID"), "{table}");
    assert!(table.contains("hull-test/busybox") && table.contains("second"), "{table}");
    assert_eq!(h.ok(&["images", "-q"]).lines().count(), 2);
    let json: Vec<serde_json::Value> =
        h.ok(&["images", "--format", "json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(json.iter().any(|j| j["Repository"] == "hull-test/busybox" && j["Tag"] == "1" && j["ID"] == id[7..19]));

    h.ok(&["tag", "hull-test/busybox:1", "localhost:5000/bb:two"]);
    let v = h.inspect(&id[7..19]);
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["RepoTags"], serde_json::json!(["hull-test/busybox:1", "localhost:5000/bb:two"]));
    assert!(h.fails(&["image", "inspect", "nosuch"]).contains("No such image: nosuch"));
    // By ID with two names: refused without -f, as Docker.
    assert!(h.fails(&["rmi", &id]).contains("must be forced"));
    assert_eq!(h.ok(&["rmi", "localhost:5000/bb:two"]).trim(), "Untagged: localhost:5000/bb:two");
    let out = h.ok(&["rmi", "hull-test/busybox:1"]);
    assert!(out.contains("Untagged: hull-test/busybox:1") && out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(!snap.exists(), "the snapshot went with its last image");
    // The other image holds its own content; prune -a takes it too.
    assert_eq!(h.entries("blobs/sha256").len(), 3);
    let out = h.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("Total images removed: 1"), "{out}");
    assert!(h.entries("blobs/sha256").is_empty() && h.entries("snapshots").is_empty() && h.entries("tmp").is_empty());
    assert_eq!(h.ok(&["images", "-q"]), "");
}

#[test]
fn save_and_load_round_trip_in_both_formats() {
    require_root();
    let t = TempDir::new("saveload");
    let h = Hull::new(t.path());
    let rootfs = rootfs(t.path());
    let id = h.ok(&["import", rootfs.to_str().unwrap(), "rt:1"]).trim().to_string();
    h.ok(&["tag", "rt:1", "localhost:5000/rt:2"]);
    let docker = t.path().join("d.tar");
    let oci = t.path().join("o.tar");
    h.ok(&["save", "-o", docker.to_str().unwrap(), "rt:1"]);
    h.ok(&["save", "--format", "oci-archive", "-o", oci.to_str().unwrap(), "rt:1", "localhost:5000/rt:2"]);
    for (archive, names) in [(&docker, vec!["rt:1"]), (&oci, vec!["rt:1", "localhost:5000/rt:2"])] {
        let h2 = Hull::new(&t.path().join(format!("load-{}", archive.file_name().unwrap().to_string_lossy())));
        let out = h2.ok(&["load", "-i", archive.to_str().unwrap()]);
        for n in &names {
            assert!(out.contains(&format!("Loaded image: {n}")), "{out}");
            assert_eq!(h2.inspect(n)["Id"], id.as_str(), "the same image ID after a round trip");
        }
        let snap = snapshot_of(&h2, names[0]);
        assert_eq!(std::fs::read(snap.join("etc/motd")).unwrap(), b"hull\n");
        // Loading twice changes nothing.
        h2.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
        assert_eq!(h2.ok(&["images", "-q"]).lines().count(), 1);
    }
    // save refuses a terminal and unknown images, and leaves no partial file.
    let bad = t.path().join("bad.tar");
    assert!(h.fails(&["save", "-o", bad.to_str().unwrap(), "rt:1", "nosuch"]).contains("No such image"));
    assert!(!bad.exists());
    assert_eq!(
        std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".bad"))
            .count(),
        0
    );
}

#[test]
fn interchange_with_skopeo_and_umoci() {
    require_root();
    let t = TempDir::new("interchange");
    let (skopeo, umoci) = (need("skopeo", "skopeo"), need("umoci", "umoci"));
    let rootfs = rootfs(t.path());
    // umoci's layout → hull, directly and through skopeo's docker-archive.
    let layout = umoci_layout(t.path(), &rootfs, "v1");
    let h = Hull::new(t.path());
    let out = h.ok(&["load", "-i", layout.to_str().unwrap()]);
    assert!(out.contains("Loaded image ID: sha256:"), "an unnamed OCI ref (a bare tag) loads by ID: {out}");
    let from_layout = h.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    let v = h.inspect(&from_layout);
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(v["Config"]["User"], "app");
    let skopeo_docker = t.path().join("skopeo-docker.tar");
    run_ok(
        Command::new(&skopeo)
            .arg("copy")
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker-archive:{}:from/skopeo:v1", skopeo_docker.display())),
    );
    let out = h.ok(&["load", "-i", skopeo_docker.to_str().unwrap()]);
    assert!(out.contains("Loaded image: from/skopeo:v1"), "{out}");
    assert_eq!(h.inspect("from/skopeo:v1")["Id"], from_layout.as_str(), "skopeo kept the config: the same image");
    let snap = h.root.join("snapshots");
    let snaps = h.entries("snapshots");
    assert_eq!(snaps.len(), 1, "one layer, unpacked once: {snaps:?}");
    assert!(snap.join(&snaps[0]).join("bin/busybox").exists());

    // hull's archives → skopeo → umoci unpack: the same files come out.
    h.ok(&["import", rootfs.to_str().unwrap(), "mine:1"]);
    for format in ["docker-archive", "oci-archive"] {
        let archive = t.path().join(format!("hull-{format}.tar"));
        h.ok(&["save", "--format", format, "-o", archive.to_str().unwrap(), "mine:1"]);
        let lay = t.path().join(format!("lay-{format}"));
        run_ok(
            Command::new(&skopeo)
                .arg("copy")
                .arg(format!("{format}:{}", archive.display()))
                .arg(format!("oci:{}:t", lay.display())),
        );
        let bundle = t.path().join(format!("bundle-{format}"));
        run_ok(Command::new(&umoci).args(["unpack", "--image"]).arg(format!("{}:t", lay.display())).arg(&bundle));
        assert_eq!(std::fs::read(bundle.join("rootfs/etc/motd")).unwrap(), b"hull\n", "{format}");
        assert!(bundle.join("rootfs/bin/busybox").metadata().unwrap().mode() & 0o111 != 0);
        let inspect = run_ok(Command::new(&skopeo).arg("inspect").arg(format!("{format}:{}", archive.display())));
        assert!(inspect.contains("\"Architecture\": \"amd64\"") || inspect.contains("\"Architecture\""), "{inspect}");
    }
}

/// A docker-archive whose layer is `layer` (uncompressed), for bad-input tests.
fn docker_archive_with(dir: &Path, layer: &[u8], diff_id: Option<String>) -> std::path::PathBuf {
    use sha2::Digest;
    let diff = diff_id.unwrap_or_else(|| format!("sha256:{:x}", sha2::Sha256::digest(layer)));
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff]}});
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["l/layer.tar"]}]),
    )
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [("c.json", &config[..]), ("l/layer.tar", layer), ("manifest.json", &manifest[..])] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    let p = dir.join("bad.tar");
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    p
}

fn layer_with_escape() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..12].copy_from_slice(b"../../escape");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn bad_archives_are_refused_and_leave_nothing() {
    require_root();
    let t = TempDir::new("badload");
    let h = Hull::new(t.path());
    let clean = |h: &Hull| {
        assert!(h.entries("snapshots").is_empty(), "{:?}", h.entries("snapshots"));
        assert!(h.entries("tmp").is_empty(), "{:?}", h.entries("tmp"));
        assert_eq!(h.ok(&["images", "-q"]), "");
    };
    let garbage = t.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tar archive at all").unwrap();
    let e = h.fails(&["load", "-i", garbage.to_str().unwrap()]);
    assert!(e.starts_with("Error: ") && e.lines().count() == 1, "one clear line: {e}");
    clean(&h);
    // Random bytes: no raw header bytes in the message; from standard input, no name of
    // a temporary file.
    let noise: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&garbage, &noise).unwrap();
    let e = h.fails(&["load", "-i", garbage.to_str().unwrap()]);
    assert!(e.contains("not a tar archive") && e.chars().all(|c| !c.is_control() || c == '\n'), "{e:?}");
    assert!(e.len() < 200, "{e}");
    let o = h.cmd().args(["load"]).stdin(std::fs::File::open(&garbage).unwrap()).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("standard input") && !e.contains("/tmp/"), "{e}");
    clean(&h);
    // A layer that climbs out with "..": refused, nothing written outside or kept.
    let p = docker_archive_with(t.path(), &layer_with_escape(), None);
    let e = h.fails(&["load", "-i", p.to_str().unwrap()]);
    assert!(e.contains("../../escape") && e.contains(".."), "{e}");
    assert!(!t.path().join("escape").exists() && !h.root.join("escape").exists());
    clean(&h);
    // A layer whose content does not match the config's diff ID.
    let good = {
        let mut b = tar::Builder::new(Vec::new());
        let mut hd = tar::Header::new_ustar();
        hd.set_size(2);
        hd.set_mode(0o644);
        hd.set_cksum();
        b.append_data(&mut hd, "f", &b"ok"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let p = docker_archive_with(t.path(), &good, Some(wrong));
    let e = h.fails(&["load", "-i", p.to_str().unwrap()]);
    assert!(e.contains("digest") || e.contains("diff ID"), "{e}");
    clean(&h);
    // A malformed manifest.json.
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_ustar();
    hd.set_size(5);
    hd.set_mode(0o644);
    hd.set_cksum();
    b.append_data(&mut hd, "manifest.json", &b"[{,}]"[..]).unwrap();
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    assert!(h.fails(&["load", "-i", p.to_str().unwrap()]).contains("manifest.json"));
    clean(&h);
}

#[test]
fn interchange_with_podman() {
    require_root();
    let t = TempDir::new("podman");
    let podman = need("podman", "podman");
    let d = t.path().to_owned();
    // Private storage with the vfs driver: no daemon, no mounts, nothing outside d.
    let pm = |args: &[&str]| {
        let mut c = Command::new(&podman);
        c.arg("--root")
            .arg(d.join("pm-root"))
            .arg("--runroot")
            .arg(d.join("pm-run"))
            .arg("--tmpdir")
            .arg(d.join("pm-tmp"));
        c.args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]).args(args);
        c
    };
    let h = Hull::new(t.path());
    let rootfs = rootfs(t.path());
    let id = h.ok(&["import", rootfs.to_str().unwrap(), "localhost/mine:1"]).trim().to_string();
    // hull → podman, both formats.
    for format in ["docker-archive", "oci-archive"] {
        let archive = d.join(format!("hull-{format}.tar"));
        h.ok(&["save", "--format", format, "-o", archive.to_str().unwrap(), "localhost/mine:1"]);
        run_ok(pm(&["load", "-q", "-i", archive.to_str().unwrap()]).stdin(std::process::Stdio::null()));
        let pid = run_ok(&mut pm(&["image", "inspect", "--format", "{{.Id}}", "localhost/mine:1"]));
        assert_eq!(format!("sha256:{}", pid.trim()), id, "podman sees the same image ({format})");
        run_ok(&mut pm(&["rmi", "-f", "localhost/mine:1"]));
    }
    // podman → hull, both formats.
    run_ok(
        pm(&["load", "-q", "-i", d.join("hull-oci-archive.tar").to_str().unwrap()]).stdin(std::process::Stdio::null()),
    );
    for format in ["docker-archive", "oci-archive"] {
        let archive = d.join(format!("podman-{format}.tar"));
        run_ok(&mut pm(&["save", "--format", format, "-o", archive.to_str().unwrap(), "localhost/mine:1"]));
        let h2 = Hull::new(&d.join(format!("from-podman-{format}")));
        h2.ok(&["load", "-i", archive.to_str().unwrap()]);
        let ids = h2.ok(&["images", "-q", "--no-trunc"]);
        assert_eq!(ids.trim(), id, "hull sees podman's save of the same image ({format})");
        let snap = h2.root.join("snapshots").join(&h2.entries("snapshots")[0]);
        assert_eq!(std::fs::read(snap.join("etc/motd")).unwrap(), b"hull\n");
    }
}

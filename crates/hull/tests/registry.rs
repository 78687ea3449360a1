//! Pull and push through real registries on 127.0.0.1: the CNCF registry from Debian's
//! docker-registry package (anonymous and htpasswd basic auth), interchange with
//! skopeo both ways, multi-layer images with whiteouts, multi-platform indexes,
//! concurrent pulls, a pull killed halfway and resumed with a Range request, and the
//! bearer-token challenge flow against a token service the test runs.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

fn skopeo() -> std::path::PathBuf {
    need("skopeo", "skopeo")
}

#[test]
fn push_pull_and_interchange_with_skopeo() {
    require_root();
    let t = TempDir::new("reg-anon");
    let reg = Registry::start(t.path(), None);
    let rootfs = rootfs(t.path());
    let h = Hull::on_host(t.path());
    let id = h.ok(&["import", rootfs.to_str().unwrap(), "mine:1"]).trim().to_string();
    let name = format!("{}/hull/mine:1", reg.host());
    h.ok(&["tag", "mine:1", &name]);
    let out = h.ok(&["push", &name]);
    assert!(out.contains("Pushed") && out.contains("1: digest: sha256:"), "{out}");
    let again = h.ok(&["push", &name]);
    assert!(again.contains("Layer already exists") && !again.contains("Pushed"), "HEAD before upload: {again}");
    let other = format!("{}/hull/other:1", reg.host());
    h.ok(&["tag", "mine:1", &other]);
    let out = h.ok(&["push", &other]);
    assert!(out.contains("Mounted from hull/mine"), "a cross-repository mount: {out}");

    // A fresh store pulls it back: the same image.
    let h2 = Hull::on_host(&t.path().join("second"));
    let out = h2.ok(&["pull", &name]);
    assert!(
        out.contains("Pull complete")
            && out.contains("Status: Downloaded newer image")
            && out.trim_end().ends_with(&name),
        "{out}"
    );
    assert_eq!(h2.inspect(&name)["Id"], id.as_str());
    assert!(h2.ok(&["pull", &name]).contains("Status: Image is up to date"));
    let digests = h2.ok(&["images", "--digests"]);
    assert!(digests.contains("sha256:"), "{digests}");

    // skopeo reads what hull pushed; umoci unpacks the same files.
    let lay = t.path().join("from-hull");
    run_ok(
        Command::new(skopeo())
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:t", lay.display())),
    );
    let bundle = t.path().join("bundle");
    run_ok(
        Command::new(need("umoci", "umoci"))
            .args(["unpack", "--image"])
            .arg(format!("{}:t", lay.display()))
            .arg(&bundle),
    );
    assert_eq!(std::fs::read(bundle.join("rootfs/etc/motd")).unwrap(), b"hull\n");

    // skopeo pushes a two-layer umoci image (Docker and OCI manifests); hull pulls both.
    let layout = umoci_two_layers(t.path(), &rootfs, "two");
    for (format, repo) in [("v2s2", "two-docker"), ("oci", "two-oci")] {
        let dest = format!("{}/hull/{repo}:1", reg.host());
        run_ok(
            Command::new(skopeo())
                .args(["copy", "--dest-tls-verify=false", "--format", format])
                .arg(format!("oci:{}:two", layout.display()))
                .arg(format!("docker://{dest}")),
        );
        h2.ok(&["pull", "-q", &dest]);
        let v = h2.inspect(&dest);
        let layers = v["RootFS"]["Layers"].as_array().unwrap().clone();
        assert_eq!(layers.len(), 2, "{v}");
        assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    }
    // The second layer holds the new file and a whiteout for the deleted one.
    let snaps = h2.entries("snapshots");
    let top = snaps
        .iter()
        .map(|s| h2.root.join("snapshots").join(s))
        .find(|p| p.join("etc/second").exists())
        .expect("the top layer's snapshot");
    let wh = std::fs::symlink_metadata(top.join("etc/motd.hl")).unwrap();
    assert!(wh.file_type().is_char_device(), "a whiteout");
    assert!(!top.join("bin").exists(), "only the layer's own changes");
    assert_eq!(snaps.len(), 3, "two images share their first layer's snapshot: {snaps:?}");
    // An unknown tag: the registry's own error, one line.
    let e = h2.fails(&["pull", &format!("{}/hull/mine:nosuch", reg.host())]);
    assert!(e.contains("MANIFEST_UNKNOWN") || e.contains("manifest unknown"), "{e}");
    assert!(h2.entries("tmp").iter().all(|n| !n.starts_with("snap-")), "{:?}", h2.entries("tmp"));
}

/// Writes blob `data` into an OCI layout; returns its descriptor.
fn put_blob(layout: &Path, media: &str, data: &[u8]) -> serde_json::Value {
    use sha2::Digest;
    let hex = format!("{:x}", sha2::Sha256::digest(data));
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
    serde_json::json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": data.len()})
}

#[test]
fn a_multi_platform_index_pulls_this_hosts_image_or_the_one_asked() {
    require_root();
    let t = TempDir::new("reg-index");
    let reg = Registry::start(t.path(), None);
    let rootfs = rootfs(t.path());
    let layout = umoci_layout(t.path(), &rootfs, "v1");
    // Build an index: the umoci image as linux/amd64 and the same layer as linux/arm64
    // with its own config.
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let amd = index["manifests"][0].clone();
    let man_hex = amd["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let man: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&man_hex)).unwrap()).unwrap();
    let cfg_hex = man["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&cfg_hex)).unwrap()).unwrap();
    cfg["architecture"] = "arm64".into();
    let arm_cfg = put_blob(&layout, "application/vnd.oci.image.config.v1+json", &serde_json::to_vec(&cfg).unwrap());
    let mut arm_man = man.clone();
    arm_man["config"] = arm_cfg;
    let mut arm =
        put_blob(&layout, "application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&arm_man).unwrap());
    arm["platform"] = serde_json::json!({"os": "linux", "architecture": "arm64"});
    let mut amd_d = amd.clone();
    amd_d.as_object_mut().unwrap().remove("annotations");
    amd_d["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let inner = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd_d]});
    let mut inner_d =
        put_blob(&layout, "application/vnd.oci.image.index.v1+json", &serde_json::to_vec(&inner).unwrap());
    inner_d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
    let top = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [inner_d]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    let dest = format!("{}/hull/multi:1", reg.host());
    run_ok(
        Command::new(skopeo())
            .args(["copy", "--all", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:multi", layout.display()))
            .arg(format!("docker://{dest}")),
    );

    let h = Hull::on_host(t.path());
    h.ok(&["pull", "-q", &dest]);
    assert_eq!(h.inspect(&dest)["Architecture"], "amd64");
    let h2 = Hull::on_host(&t.path().join("arm"));
    h2.ok(&["pull", "-q", "--platform", "linux/arm64", &dest]);
    assert_eq!(h2.inspect(&dest)["Architecture"], "arm64");
    let e = h2.fails(&["pull", "--platform", "linux/s390x", &dest]);
    assert!(e.contains("no image for linux/s390x") && e.contains("linux/arm64"), "{e}");
}

#[test]
fn basic_auth_login_and_logout() {
    require_root();
    let t = TempDir::new("reg-basic");
    let reg = Registry::start(t.path(), Some(("hulluser", "s3cret")));
    let cfgdir = t.path().join("docker-config");
    let rootfs = rootfs(t.path());
    let h = Hull::on_host(t.path());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = h.cmd();
        c.args(args)
            .env("DOCKER_CONFIG", &cfgdir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    h.ok(&["import", rootfs.to_str().unwrap(), "mine:1"]);
    let name = format!("{}/priv/mine:1", reg.host());
    h.ok(&["tag", "mine:1", &name]);
    let o = run(&["push", &name], None);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unauthorized") || e.contains("hull login"), "{e}");
    let o = run(&["login", "-u", "hulluser", "--password-stdin", &reg.host()], Some("wrong\n"));
    assert!(!o.status.success(), "a wrong password is refused");
    assert!(!cfgdir.join("config.json").exists());
    let o = run(&["login", "-u", "hulluser", "--password-stdin", &reg.host()], Some("s3cret\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Login Succeeded");
    assert!(run(&["push", &name], None).status.success());
    // skopeo, with the same credentials, reads what hull pushed.
    run_ok(
        Command::new(skopeo())
            .args(["inspect", "--tls-verify=false", "--creds", "hulluser:s3cret"])
            .arg(format!("docker://{name}")),
    );
    // skopeo reads Docker's config.json too: hull's login is Docker's.
    run_ok(
        Command::new(skopeo())
            .args(["inspect", "--tls-verify=false", "--authfile"])
            .arg(cfgdir.join("config.json"))
            .arg(format!("docker://{name}")),
    );
    let h2 = Hull::on_host(&t.path().join("second"));
    let o = h2.cmd().args(["pull", &name]).env("DOCKER_CONFIG", &cfgdir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["logout", &reg.host()], None);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Removing login credentials"));
    let o = h2.cmd().args(["pull", &name]).env("DOCKER_CONFIG", &cfgdir).output().unwrap();
    assert!(!o.status.success(), "logged out: refused again");
}

/// A big incompressible layer, pushed; returns (name, sha256 of the big file).
fn push_big_image(h: &Hull, t: &Path, reg: &Registry) -> (String, Vec<u8>) {
    use sha2::Digest;
    let root = t.join("big-rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let mut data = vec![0u8; 24 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(root.join("big"), &data).unwrap();
    let name = format!("{}/hull/big:1", reg.host());
    h.ok(&["import", root.to_str().unwrap(), &name]);
    h.ok(&["push", "-q", &name]);
    (name, sha2::Sha256::digest(&data).to_vec())
}

#[test]
fn concurrent_pulls_agree_and_a_killed_pull_resumes() {
    require_root();
    let t = TempDir::new("reg-resume");
    let reg = Registry::start(t.path(), None);
    let h = Hull::on_host(t.path());
    let (name, want) = push_big_image(&h, t.path(), &reg);

    // Two pulls of one image into one store at once.
    let hc = Hull::on_host(&t.path().join("concurrent"));
    let kids: Vec<_> = (0..2)
        .map(|_| {
            hc.cmd()
                .args(["pull", "-q", &name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(hc.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(hc.entries("snapshots").len(), 1);
    assert!(hc.entries("tmp").is_empty(), "{:?}", hc.entries("tmp"));

    // A pull through a slow proxy, killed once part of the layer is on disk.
    let proxy = Proxy::start(reg.port);
    proxy.slow.store(true, std::sync::atomic::Ordering::Relaxed);
    let via = name.replace(&reg.host(), &format!("127.0.0.1:{}", proxy.port));
    let hk = Hull::on_host(&t.path().join("killed"));
    let mut child = hk
        .cmd()
        .args(["pull", "-q", &via])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial_size = || -> u64 {
        hk.entries("tmp")
            .iter()
            .filter(|n| n.ends_with(".partial"))
            .map(|n| std::fs::metadata(hk.root.join("tmp").join(n)).map(|m| m.len()).unwrap_or(0))
            .sum()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while partial_size() < (2 << 20) {
        assert!(std::time::Instant::now() < deadline, "the slow pull made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the slow pull ended before it was killed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let had = partial_size();
    assert!(had >= 2 << 20);
    assert_eq!(hk.ok(&["images", "-q"]), "", "nothing visible after a killed pull");
    assert!(hk.entries("snapshots").is_empty() && hk.entries("blobs/sha256").len() <= 1);
    // Resumed: the registry is asked only for the rest.
    proxy.slow.store(false, std::sync::atomic::Ordering::Relaxed);
    proxy.requests.lock().unwrap().clear();
    hk.ok(&["pull", "-q", &via]);
    let sent = proxy.sent().to_ascii_lowercase();
    assert!(sent.contains("range: bytes="), "the second pull resumed with a Range request: {sent}");
    let snap = hk.root.join("snapshots").join(&hk.entries("snapshots")[0]);
    use sha2::Digest;
    assert_eq!(
        sha2::Sha256::digest(std::fs::read(snap.join("big")).unwrap()).to_vec(),
        want,
        "the resumed layer is whole"
    );
    assert!(hk.entries("tmp").is_empty(), "{:?}", hk.entries("tmp"));
}

/// A registry that answers with a bearer challenge and a token service that wants
/// basic credentials: the flow Docker Hub and ghcr.io use. It serves one image from an
/// OCI layout that hull saved.
struct TokenRegistry {
    port: u16,
    token_requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn serve_token_registry(layout: std::path::PathBuf) -> TokenRegistry {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let token_requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let tr = token_requests.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if conn.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                head.push(b[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let line = head.lines().next().unwrap_or("").to_string();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let auth = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .map(|l| l[14..].trim().to_string())
                .unwrap_or_default();
            let reply = |conn: &mut std::net::TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| {
                let mut r = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                for (k, v) in headers {
                    r.push_str(&format!("{k}: {v}\r\n"));
                }
                r.push_str("\r\n");
                let _ = conn.write_all(r.as_bytes());
                if !line.starts_with("HEAD") {
                    let _ = conn.write_all(body);
                }
            };
            if path.starts_with("/token") {
                tr.lock().unwrap().push(format!("{path} {auth}"));
                // "Basic base64(tokenuser:tokenpass)"
                if auth == "Basic dG9rZW51c2VyOnRva2VucGFzcw==" {
                    reply(
                        &mut conn,
                        "200 OK",
                        &[("Content-Type", "application/json".into())],
                        br#"{"token":"tok-123"}"#,
                    );
                } else {
                    reply(&mut conn, "401 Unauthorized", &[], b"");
                }
                continue;
            }
            if auth != "Bearer tok-123" {
                let chal = format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake-registry\",scope=\"repository:fake/img:pull\"");
                reply(
                    &mut conn,
                    "401 Unauthorized",
                    &[("WWW-Authenticate", chal), ("Content-Type", "application/json".into())],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}"#,
                );
                continue;
            }
            let index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
            let desc = &index["manifests"][0];
            if path == "/v2/fake/img/manifests/1" {
                let hex = desc["digest"].as_str().unwrap().trim_start_matches("sha256:");
                let body = std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
                reply(&mut conn, "200 OK", &[("Content-Type", desc["mediaType"].as_str().unwrap().to_string())], &body);
            } else if let Some(d) = path.strip_prefix("/v2/fake/img/blobs/sha256:") {
                match std::fs::read(layout.join("blobs/sha256").join(d)) {
                    Ok(body) => reply(&mut conn, "200 OK", &[], &body),
                    Err(_) => reply(&mut conn, "404 Not Found", &[], b""),
                }
            } else {
                reply(&mut conn, "404 Not Found", &[], b"");
            }
        }
    });
    TokenRegistry { port, token_requests }
}

#[test]
fn the_bearer_token_challenge_flow() {
    require_root();
    let t = TempDir::new("reg-bearer");
    let rootfs = rootfs(t.path());
    let h = Hull::on_host(t.path());
    let id = h.ok(&["import", rootfs.to_str().unwrap(), "mine:1"]).trim().to_string();
    let archive = t.path().join("o.tar");
    h.ok(&["save", "--format", "oci-archive", "-o", archive.to_str().unwrap(), "mine:1"]);
    let layout = t.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    run_ok(Command::new("tar").arg("-C").arg(&layout).arg("-xf").arg(&archive));
    let fake = serve_token_registry(layout);
    let name = format!("127.0.0.1:{}/fake/img:1", fake.port);
    let h2 = Hull::on_host(&t.path().join("second"));
    // Anonymous: the token service refuses; the error says to log in.
    let e = h2.fails(&["pull", &name]);
    assert!(e.contains("token service") || e.contains("401"), "{e}");
    // With credentials in Docker's file, the token is fetched with them and used.
    let cfgdir = t.path().join("cfg");
    std::fs::create_dir_all(&cfgdir).unwrap();
    let auth = "dG9rZW51c2VyOnRva2VucGFzcw=="; // tokenuser:tokenpass
    std::fs::write(
        cfgdir.join("config.json"),
        format!(r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#, fake.port),
    )
    .unwrap();
    let o = h2.cmd().args(["pull", "-q", &name]).env("DOCKER_CONFIG", &cfgdir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(h2.inspect(&name)["Id"], id.as_str());
    let reqs = fake.token_requests.lock().unwrap().clone();
    assert!(
        reqs.iter().any(|r| r.contains("service=fake-registry") && r.contains("scope=repository%3Afake/img%3Apull")),
        "{reqs:?}"
    );
}

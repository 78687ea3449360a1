//! Fixtures for the engine's tests: a private store root per test, a busybox root
//! filesystem from Debian's busybox-static (no network), and the reference tools
//! (skopeo, umoci) found or the test fails loudly.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_hull");

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("hull-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `hull --root ROOT …`.
pub struct Hull {
    pub root: PathBuf,
}

impl Hull {
    pub fn new(dir: &Path) -> Hull {
        Hull { root: dir.join("store") }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root).env_remove("HULL_ROOT").stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "hull {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "hull {args:?} should fail: {}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8(o.stderr).unwrap()
    }

    /// Names of files under the store's directory `sub` (blobs/sha256, snapshots, tmp).
    pub fn entries(&self, sub: &str) -> Vec<String> {
        match std::fs::read_dir(self.root.join(sub)) {
            Ok(d) => d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(_) => vec![],
        }
    }

    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["image", "inspect", image])).unwrap();
        v[0].clone()
    }
}

/// Must run as root: a test that cannot run fails loudly instead of passing.
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "these integration tests unpack layers as root and must run as root");
}

/// A tool from Debian, or a loud failure naming the package.
pub fn need(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is needed by this test: apt install {package} (scripts/install-deps.sh does)");
}

pub fn busybox() -> PathBuf {
    let p = Path::new("/bin/busybox");
    assert!(p.exists(), "/bin/busybox is needed: apt install busybox-static");
    p.to_owned()
}

/// A small root filesystem: busybox with a few applets, /etc/passwd and /etc/group
/// with a named user, a directory with a mode, a symlink and a hardlink.
pub fn rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("tmp")).unwrap();
    std::fs::copy(busybox(), r.join("bin/busybox")).unwrap();
    for a in ["sh", "cat", "ls", "echo", "id", "sleep", "true"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app:/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\napp:x:2345:\nstaff:x:50:app\n").unwrap();
    std::fs::write(r.join("etc/motd"), "hull\n").unwrap();
    std::fs::hard_link(r.join("etc/motd"), r.join("etc/motd.hl")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    r
}

pub fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An OCI layout made by umoci from `rootfs` (the reference implementation's own
/// layering), tagged `tag`.
pub fn umoci_layout(dir: &Path, rootfs: &Path, tag: &str) -> PathBuf {
    let umoci = need("umoci", "umoci");
    let layout = dir.join("umoci-layout");
    let bundle = dir.join("umoci-bundle");
    let image = format!("{}:{tag}", layout.display());
    run_ok(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    run_ok(Command::new(&umoci).args(["new", "--image", &image]));
    run_ok(Command::new(&umoci).args(["unpack", "--image", &image]).arg(&bundle));
    run_ok(Command::new("cp").arg("-a").arg(format!("{}/.", rootfs.display())).arg(bundle.join("rootfs")));
    run_ok(Command::new(&umoci).args(["repack", "--image", &image]).arg(&bundle));
    run_ok(Command::new(&umoci).args([
        "config",
        "--image",
        &image,
        "--config.cmd",
        "/bin/sh",
        "--config.env",
        "A=1",
        "--config.workingdir",
        "/tmp",
        "--config.user",
        "app",
    ]));
    std::fs::remove_dir_all(&bundle).unwrap();
    layout
}

//! Test fixtures: a busybox bundle built from Debian's busybox-static (no network), and
//! a handle on hull-runtime with a private state root that deletes what a test left.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_hull-runtime");

const APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "id",
    "hostname",
    "sleep",
    "true",
    "false",
    "echo",
    "grep",
    "mount",
    "ps",
    "stat",
    "touch",
    "mkdir",
    "rm",
    "readlink",
    "test",
    "ulimit",
    "umask",
    "pwd",
    "env",
    "kill",
    "wc",
    "head",
    "domainname",
    "nproc",
    "printf",
    "uname",
    "date",
    "mknod",
    "chmod",
    "tty",
    "ln",
    "tail",
    "seq",
    "dd",
    "yes",
    "stty",
];

/// Must run as root: a test that cannot run fails loudly instead of passing.
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "these integration tests create real containers and must run as root");
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("hull-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bundle: rootfs with busybox, config.json from `hull-runtime spec`.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Sets process.args to `sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        self
    }

    pub fn save(&self) {
        std::fs::write(self.dir.join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }
}

/// A runtime with its own state root, and a workspace for bundles.
pub struct Rt {
    pub tmp: TempDir,
    pub root: PathBuf,
    pub name: String,
}

impl Rt {
    pub fn new(name: &str) -> Rt {
        require_root();
        let tmp = TempDir::new(name);
        let root = tmp.0.join("state");
        Rt { tmp, root, name: name.to_owned() }
    }

    /// A container id unique to this test.
    pub fn id(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// A busybox bundle; the config is runc's default minus the terminal, running `true`.
    pub fn bundle(&self, name: &str) -> Bundle {
        let busybox = Path::new("/bin/busybox");
        assert!(busybox.exists(), "/bin/busybox is missing: apt-get install busybox-static");
        let dir = self.tmp.0.join(name);
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        for d in ["etc", "tmp", "proc", "sys", "dev"] {
            std::fs::create_dir_all(dir.join("rootfs").join(d)).unwrap();
        }
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
        }
        std::fs::write(
            dir.join("rootfs/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.join("rootfs/etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let out = Command::new(BIN).args(["spec", "--bundle"]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "spec: {}", String::from_utf8_lossy(&out.stderr));
        let mut config: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(["true"]);
        let b = Bundle { dir, config };
        b.save();
        b
    }

    /// Runs hull-runtime with the state root and `args`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        c
    }

    /// Runs to completion ([`output_through_files`]).
    pub fn out(&self, args: &[&str]) -> Output {
        output_through_files(&mut self.cmd(args), &self.tmp.0)
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "hull-runtime {args:?} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            !o.status.success(),
            "hull-runtime {args:?} should have failed: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stderr).unwrap()
    }

    /// `run` of a bundle; returns (exit code, stdout, stderr).
    pub fn run(&self, b: &Bundle, id: &str) -> (i32, String, String) {
        b.save();
        let o = self.out(&["run", "--bundle", b.dir.to_str().unwrap(), id]);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// `run` that must exit 0; returns stdout.
    pub fn run_ok(&self, b: &Bundle, id: &str) -> String {
        let (code, out, err) = self.run(b, id);
        assert_eq!(code, 0, "run {id}: stdout {out:?} stderr {err:?}");
        out
    }

    pub fn create(&self, b: &Bundle, id: &str) {
        b.save();
        self.ok(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_owned()
    }

    /// Polls until the container reaches `status` (at most 10 s).
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..1000 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container {id} never reached {status}");
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // Leave nothing behind even when a test failed half-way.
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.out(&["delete", "--force", &id]);
            }
        }
    }
}

/// Runs `cmd` to completion with stdout and stderr through files in `dir`, not pipes:
/// a created container's init inherits the runtime's stdio and would keep a pipe open.
pub fn output_through_files(cmd: &mut Command, dir: &Path) -> Output {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (o, e) = (dir.join(format!(".out{n}")), dir.join(format!(".err{n}")));
    let status =
        cmd.stdout(std::fs::File::create(&o).unwrap()).stderr(std::fs::File::create(&e).unwrap()).status().unwrap();
    let out = Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() };
    let _ = (std::fs::remove_file(o), std::fs::remove_file(e));
    out
}

/// Cgroup directories of a container path that exist in any hierarchy.
pub fn cgroup_dirs_left(path: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            let p = h.path().join(path.trim_start_matches('/'));
            if p.exists() {
                left.push(p);
            }
        }
    }
    let p = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    if p.exists() && !left.contains(&p) {
        left.push(p);
    }
    left
}

/// Mounts in this mount namespace whose mount point or source mentions `needle`.
pub fn mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

//! The engine run by ordinary users (rootless), through the `hull` binary:
//! - a user the test creates with useradd and subordinate ids gets Podman's mapping
//!   (root is the user, ids from 1 on are its subordinate ids), its store under
//!   ~/.local/share/hull, image owners kept (recorded at unpack, applied to the
//!   container's copy inside the user namespace), and run, exec, top, cp (both ways,
//!   running and stopped), diff, commit, export, stop and rm -f, which removes files a
//!   container user made;
//! - cgroup limits without a delegated cgroup are refused with one line and leave
//!   nothing; --network host and none work;
//! - the default network through pasta: egress to a fake internet, -p on the host's
//!   loopback and address, pasta ended with the container;
//! - a uid with no passwd entry and no subordinate ids runs containers as their root
//!   only, and a user that does not exist there is refused.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A system user made with useradd plus 65536 subordinate uids and gids; userdel on
/// drop (which also drops its /etc/subuid and /etc/subgid lines). Its primary group is
/// `users`, not one of its own name: /etc/subgid is keyed by the user all the same.
struct CreatedUser {
    name: String,
    uid: u32,
    gid: u32,
    sub: u32,
}

impl CreatedUser {
    fn new() -> CreatedUser {
        // Tests run in parallel: each user its own name and subordinate range.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4;
        let name = format!("hullen{}x{n}", std::process::id());
        let sub = 400_000_000 + ((std::process::id() % 1000) * 4 + n) * 65536;
        let st = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--gid", "users", &name])
            .status()
            .expect("useradd (Debian's passwd package) is needed for the rootless tests");
        assert!(st.success(), "useradd {name}");
        let mut user = CreatedUser { name, uid: 0, gid: 0, sub };
        let range = format!("{}-{}", sub, sub + 65535);
        let st = Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range, &user.name])
            .status()
            .unwrap();
        assert!(st.success(), "usermod --add-subuids {range}");
        let id = |flag: &str| -> u32 {
            let o = Command::new("id").args([flag, &user.name]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
        };
        (user.uid, user.gid) = (id("-u"), id("-g"));
        user
    }
}

impl Drop for CreatedUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// `hull` as an ordinary user: a copy of the binary it can reach, a home directory
/// (the store is the default one under it), a clean environment.
struct UserHull {
    uid: u32,
    gid: u32,
    bin: PathBuf,
    home: PathBuf,
    _fs: Option<Ext4>,
    t: TempDir,
}

/// Whether files in `dir` can hold `user.` xattrs (where a rootless store records the
/// layers' owners; tmpfs cannot before Linux 6.6, as in the test VM).
fn user_xattrs(dir: &std::path::Path) -> bool {
    let p = dir.join("probe");
    std::fs::write(&p, "").unwrap();
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated strings and a one-byte value.
    let r = unsafe { libc::setxattr(c.as_ptr(), c"user.probe".as_ptr(), b"1".as_ptr().cast(), 1, 0) };
    std::fs::remove_file(&p).unwrap();
    r == 0
}

/// An ext4 filesystem on a loop device, unmounted on drop: a home where user xattrs
/// work when the temporary directory's filesystem has none.
struct Ext4(PathBuf);

impl Ext4 {
    fn at(dir: &std::path::Path, img: &std::path::Path) -> Ext4 {
        let run = |cmd: &mut Command| {
            let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        std::fs::File::create(img).unwrap().set_len(64 << 20).unwrap();
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(img));
        run(Command::new("mount").args(["-o", "loop"]).arg(img).arg(dir));
        Ext4(dir.to_owned())
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

impl UserHull {
    fn new(name: &str, uid: u32, gid: u32) -> UserHull {
        require_root();
        need("newuidmap", "uidmap");
        let t = TempDir::new(name);
        let bin = t.path().join("hull");
        std::fs::copy(BIN, &bin).unwrap();
        let home = t.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let fs = (!user_xattrs(t.path())).then(|| Ext4::at(&home, &t.path().join("home.img")));
        let st = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(t.path()).status().unwrap();
        assert!(st.success());
        UserHull { uid, gid, bin, home, _fs: fs, t }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .current_dir(&self.home)
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "hull {args:?} as uid {}: {}{}",
            self.uid,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires exit status `code`; returns stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(code), "hull {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stderr).unwrap()
    }

    fn store(&self) -> PathBuf {
        self.home.join(".local/share/hull")
    }

    /// The busybox image, with a home directory that belongs to `app` (1234:2345).
    fn import_busybox(&self) {
        let r = rootfs(self.t.path());
        for a in ["mkdir", "chmod", "chown", "stat", "rm", "ps", "head"] {
            std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
        }
        std::fs::create_dir_all(r.join("home/app")).unwrap();
        std::os::unix::fs::chown(r.join("home/app"), Some(1234), Some(2345)).unwrap();
        self.ok(&["import", r.to_str().unwrap(), "busybox"]);
    }
}

impl Drop for UserHull {
    fn drop(&mut self) {
        // A failed test's containers go first (their files, processes and the
        // subordinate-id files only the user's namespace may remove).
        let o = self.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&o.stdout).lines() {
            let _ = self.run(&["rm", "-f", "-v", id]);
        }
    }
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

#[test]
fn a_user_with_subordinate_ids_runs_the_engine() {
    let user = CreatedUser::new();
    let h = UserHull::new("rootless-wide", user.uid, user.gid);
    h.import_busybox();
    assert!(h.store().join("snapshots").is_dir(), "the store is under ~/.local/share/hull");

    // Root is the user; the image's owners are kept; the image's user exists.
    let o = h.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "id -u; stat -c %u:%g /home/app; cat /proc/self/uid_map /proc/self/gid_map",
    ]);
    let l = lines(&o);
    assert_eq!(l[0], "0");
    assert_eq!(l[1], "1234:2345", "the layer's owner inside the container");
    let maps: Vec<String> = l[2..].iter().map(|m| m.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        maps,
        vec![
            format!("0 {} 1", user.uid),
            format!("1 {} 65536", user.sub),
            format!("0 {} 1", user.gid),
            format!("1 {} 65536", user.sub)
        ]
    );
    assert_eq!(h.ok(&["run", "--rm", "-u", "app", "busybox", "id", "-u"]).trim(), "1234");
    assert!(h.ok(&["info"]).contains("rootless"));

    // A running container: exec, top, files a container user makes, cp both ways.
    h.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    assert_eq!(h.ok(&["exec", "web", "id", "-u"]).trim(), "0");
    assert!(h.ok(&["top", "web"]).contains("sleep 1000"), "top lists the container's processes without a cgroup");
    h.ok(&[
        "exec",
        "-u",
        "app",
        "web",
        "sh",
        "-c",
        "mkdir /home/app/d && echo x > /home/app/d/f && chmod 700 /home/app/d",
    ]);
    let file = h.home.join("in.txt");
    std::fs::write(&file, "from the host\n").unwrap();
    std::os::unix::fs::chown(&file, Some(user.uid), Some(user.gid)).unwrap();
    h.ok(&["cp", file.to_str().unwrap(), "web:/tmp/"]);
    assert_eq!(h.ok(&["exec", "web", "cat", "/tmp/in.txt"]), "from the host\n");
    let tar = h.run(&["cp", "web:/etc/motd", "-"]);
    assert!(tar.status.success() && tar.stdout.len() >= 1024, "a tar on standard output");

    // Stopped: cp through a namespace of its own; diff, commit and export see the
    // container's owners and read the container user's private files.
    h.ok(&["stop", "-t", "0", "web"]);
    h.ok(&["cp", file.to_str().unwrap(), "web:/home/app/"]);
    let diff = h.ok(&["diff", "web"]);
    for want in ["A /home/app/d", "A /home/app/d/f", "A /home/app/in.txt", "A /tmp/in.txt"] {
        assert!(diff.lines().any(|l| l == want), "{want} in diff:\n{diff}");
    }
    h.ok(&["commit", "web", "snap:1"]);
    let o =
        h.ok(&["run", "--rm", "snap:1", "sh", "-c", "stat -c %u:%g:%a /home/app/d /home/app/d/f; cat /home/app/d/f"]);
    assert_eq!(lines(&o), vec!["1234:2345:700", "1234:2345:644", "x"], "committed with the container's owners");
    let tar = h.run(&["export", "web"]);
    assert!(tar.status.success(), "{}", String::from_utf8_lossy(&tar.stderr));
    let mut a = tar::Archive::new(&tar.stdout[..]);
    let owner = a
        .entries()
        .unwrap()
        .flatten()
        .find(|e| e.path().unwrap().to_string_lossy().trim_end_matches('/').ends_with("home/app/d/f"))
        .map(|e| (e.header().uid().unwrap(), e.header().gid().unwrap()));
    assert_eq!(owner, Some((1234, 2345)), "export shows the container's owners");

    // rm -f removes what the container user made (owned by a subordinate id).
    h.ok(&["rm", "-f", "web"]);
    let containers = h.store().join("containers");
    assert_eq!(std::fs::read_dir(&containers).map(|d| d.count()).unwrap_or(0), 0, "rm -f left files");

    // Limits need a delegated cgroup: refused with one line, nothing made.
    let e = h.fails(125, &["run", "--rm", "--memory", "64m", "busybox", "true"]);
    assert!(e.contains("not delegated"), "{e}");
    assert_eq!(lines(&e).len(), 1, "{e}");
    assert_eq!(h.ok(&["ps", "-aq"]), "");

    for net in ["host", "none"] {
        h.ok(&["run", "--rm", "--network", net, "busybox", "ls", "/sys/class"]);
    }
    h.ok(&["rmi", "snap:1"]);
}

#[test]
fn a_uid_without_subordinate_ids_has_root_only() {
    // No passwd entry, no /etc/subuid line: the kernel allows one mapping, root to it.
    let uid = 4_000_000 + std::process::id() % 100_000;
    let h = UserHull::new("rootless-own", uid, uid);
    h.import_busybox();
    let o = h.ok(&["run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let l = lines(&o);
    assert_eq!(l[0], "0");
    assert_eq!(l[1].split_whitespace().collect::<Vec<_>>().join(" "), format!("0 {uid} 1"));
    assert_eq!(l.len(), 2, "one mapping: {o}");
    let e = h.fails(125, &["run", "--rm", "-u", "app", "busybox", "true"]);
    assert!(e.contains("does not exist in the rootless user namespace"), "{e}");
    h.ok(&["run", "-d", "--name", "one", "busybox", "sleep", "1000"]);
    assert_eq!(h.ok(&["exec", "one", "id", "-u"]).trim(), "0");
    h.ok(&["rm", "-f", "one"]);
    assert_eq!(h.ok(&["ps", "-aq"]), "");
}

impl UserHull {
    /// `hull ARGS` as the user inside network namespace `net`, with `/dev/net/tun` open
    /// to it: on this machine the device is root's alone (0600; udev makes it 0666 on a
    /// stock Debian), so a private mount namespace binds a 0666 node of the same device
    /// over it for the user's hull, its monitors and their pasta.
    fn run_net(&self, net: &NetNs, args: &[&str]) -> Output {
        self.run_net_env(net, &[], args)
    }

    fn run_net_env(&self, net: &NetNs, env: &[(&str, &str)], args: &[&str]) -> Output {
        // The node on a tmpfs of the mount namespace's own (the test's directory may be
        // on a filesystem mounted nodev, as in the test VM).
        let dir = self.t.path().join("tunfs");
        std::fs::create_dir_all(&dir).unwrap();
        let script = "mount -t tmpfs -o mode=0755 tunfs \"$1\" && mknod -m 0666 \"$1/tun\" c 10 200 && \
                      mount --bind \"$1/tun\" /dev/net/tun && shift && \
                      exec setpriv --reuid=\"$1\" --regid=\"$2\" --clear-groups -- \"$3\" \"${@:4}\"";
        net.cmd("unshare")
            .args(["-m", "--propagation", "private", "bash", "-c", script, "bash"])
            .arg(&dir)
            .args([self.uid.to_string(), self.gid.to_string()])
            .arg(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(env.iter().copied())
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok_net(&self, net: &NetNs, args: &[&str]) -> String {
        let o = self.run_net(net, args);
        assert!(o.status.success(), "hull {args:?} as uid {}: {}", self.uid, String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
}

/// The user's pasta processes.
fn pastas(uid: u32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            let status = std::fs::read_to_string(p.path().join("status")).unwrap_or_default();
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(&uid.to_string()))
                && cmd.split(|b| *b == 0).next().is_some_and(|a| a.ends_with(b"pasta"))
        })
        .map(|p| p.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The user's pasta processes, once they are gone or after 5 s of waiting.
fn pastas_gone(uid: u32) -> Vec<String> {
    let mut left = pastas(uid);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = pastas(uid);
    }
    left
}

#[test]
fn a_user_gets_egress_and_published_ports_through_pasta() {
    need("pasta", "passt");
    let user = CreatedUser::new();
    let h = UserHull::new("rootless-net", user.uid, user.gid);
    h.import_busybox();
    let net = NetNs::new();
    let _internet = Internet::new(&net, &h.t.path().join("www"));
    // Egress: the container reaches what the host reaches.
    let got =
        h.ok_net(&net, &["run", "--rm", "busybox", "busybox", "wget", "-q", "-O-", "http://192.0.2.1:8080/hello"]);
    assert_eq!(got, "hello from the internet\n");
    // A published port, on the host's loopback and its address.
    let args = ["run", "-d", "--name", "web", "--hostname", "webhost", "-p", "8088:80", "-p", "80", "busybox"];
    let id =
        h.ok_net(&net, &[&args[..], &["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]].concat()).trim().to_string();
    assert_eq!(h.ok_net(&net, &["inspect", "-f", "{{.HostConfig.NetworkMode}}", &id]).trim(), "pasta");
    let ports = h.ok_net(&net, &["port", "web"]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:8088"), "{ports}");
    let other = ports.lines().find(|l| !l.contains(":8088")).expect("-p 80 took a host port");
    let other = other.rsplit(':').next().unwrap().to_string();
    for url in [
        "http://127.0.0.1:8088/hostname",
        "http://192.0.2.2:8088/hostname",
        &format!("http://127.0.0.1:{other}/hostname"),
    ] {
        let mut got = String::new();
        for _ in 0..50 {
            let o = net.cmd(busybox()).args(["wget", "-q", "-O-", url]).output().unwrap();
            got = String::from_utf8_lossy(&o.stdout).into_owned();
            if o.status.success() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(got, "webhost\n", "{url}");
    }
    assert_eq!(pastas(user.uid).len(), 1, "one pasta for the running container");
    h.ok_net(&net, &["rm", "-f", "web"]);
    let left = pastas_gone(user.uid);
    assert!(left.is_empty(), "pasta left behind: {left:?}");
    // A start that fails (no such command) leaves no pasta either.
    let o = h.run_net(&net, &["run", "--rm", "--network", "pasta", "busybox", "/nosuch"]);
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));
    let left = pastas_gone(user.uid);
    assert!(left.is_empty(), "pasta left by a failed start: {left:?}");
    // A monitor killed (kill -9) after pasta started and before the container's start:
    // `rm -f` ends that pasta too.
    let env = [("HULL_FAULT", "monitor-created")];
    let o =
        h.run_net_env(&net, &env, &["run", "-d", "--name", "crash", "--network", "pasta", "busybox", "sleep", "30"]);
    assert!(!o.status.success(), "the fault point did not fire");
    h.ok_net(&net, &["rm", "-f", "crash"]);
    let left = pastas_gone(user.uid);
    assert!(left.is_empty(), "pasta left by a killed monitor: {left:?}");
    // --network none has no pasta; -p then is refused with one line.
    let o = h.run_net(&net, &["run", "--rm", "--network", "none", "-p", "80", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", String::from_utf8_lossy(&o.stderr));
}

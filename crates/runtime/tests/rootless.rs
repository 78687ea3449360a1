//! Rootless: ordinary users run `spec --rootless`, `run`, `create`/`start`/`exec`, with
//! their state under $XDG_RUNTIME_DIR:
//! - a uid with no passwd entry (as the kernel allows) maps only itself, writing its own
//!   maps with setgroups denied, and runs without a cgroup when none is delegated;
//! - a user the test creates with useradd, with subordinate ids in /etc/subuid and
//!   /etc/subgid, gets a wide mapping through newuidmap/newgidmap (Debian's `uidmap`),
//!   and a new sysfs, which the kernel refuses without a network namespace, bound instead;
//! - a uid to which the test delegates a cgroup gets its limits applied there.

mod common;
use common::*;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn chown_r(p: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(p).status().unwrap();
    assert!(st.success());
}

/// A workspace for one ordinary user: a copy of the runtime it can reach (wherever the
/// checkout lives), a bundle made by `spec --rootless` as that user, $XDG_RUNTIME_DIR.
struct UserRt {
    rt: Rt,
    uid: u32,
    gid: u32,
    bin: PathBuf,
    xdg: PathBuf,
    bundle: Bundle,
}

impl UserRt {
    fn new(name: &str, uid: u32, gid: u32) -> UserRt {
        let rt = Rt::new(name);
        let bin = rt.tmp.0.join("hull-runtime");
        std::fs::copy(BIN, &bin).unwrap();
        let bundle = rt.bundle("b");
        std::fs::remove_file(bundle.dir.join("config.json")).unwrap();
        let xdg = rt.tmp.0.join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        chown_r(&rt.tmp.0, uid, gid);
        let mut u = UserRt { rt, uid, gid, bin, xdg, bundle };
        let o = u.run_as(&["spec", "--rootless"], &u.bundle.dir);
        assert!(o.status.success(), "spec: {}", String::from_utf8_lossy(&o.stderr));
        u.bundle.config = serde_json::from_slice(&std::fs::read(u.bundle.dir.join("config.json")).unwrap()).unwrap();
        u.bundle.config["process"]["terminal"] = false.into();
        u
    }

    /// The command as the user, with a clean environment, in `dir`.
    fn command(&self, args: &[&str], dir: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(dir)
            .env_clear()
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null());
        c
    }

    /// Runs to completion with output through files (a created container's init keeps
    /// the runtime's stdio open).
    fn run_as(&self, args: &[&str], dir: &Path) -> Output {
        output_through_files(&mut self.command(args, dir), &self.rt.tmp.0)
    }

    fn save(&self) {
        self.bundle.save();
        chown_r(&self.bundle.dir, self.uid, self.gid);
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run_as(args, &self.bundle.dir);
        assert!(
            o.status.success(),
            "{args:?} as uid {}: {}{}",
            self.uid,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for UserRt {
    fn drop(&mut self) {
        if let Ok(rd) = std::fs::read_dir(self.xdg.join("hull-runtime")) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.run_as(&["delete", "--force", &id], &self.rt.tmp.0);
            }
        }
    }
}

#[test]
fn an_ordinary_user_runs_a_container() {
    const UID: u32 = 64242;
    let mut u = UserRt::new("rl-run", UID, UID);
    u.bundle.sh("id -u; cat /proc/self/uid_map; hostname; test -c /dev/null && echo dev-ok");
    u.save();
    let o = u.run_as(&["run", "rl-c"], &u.bundle.dir);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "run as uid {UID}: {out} {err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", &UID.to_string(), "1", "hull", "dev-ok"], "{out}");
    assert!(err.contains("not delegated"), "the missing cgroup is noticed: {err}");
    // The state went under $XDG_RUNTIME_DIR and is gone after run.
    assert!(u.xdg.join("hull-runtime").is_dir());
    assert_eq!(std::fs::read_dir(u.xdg.join("hull-runtime")).unwrap().count(), 0);
    assert!(cgroup_dirs_left("/hull/rl-c").is_empty());
}

/// A system user made with useradd plus 65536 subordinate uids and gids; userdel on drop
/// (which also drops its /etc/subuid and /etc/subgid lines).
struct CreatedUser {
    name: String,
    uid: u32,
    gid: u32,
    sub: u32,
}

impl CreatedUser {
    fn new() -> CreatedUser {
        let name = format!("hullrl{}", std::process::id());
        let sub = 300_000_000 + (std::process::id() % 1000) * 65536;
        let st = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", &name])
            .status()
            .expect("useradd (Debian's passwd package) is needed for the rootless tests");
        assert!(st.success(), "useradd {name}");
        let mut guard = CreatedUser { name, uid: 0, gid: 0, sub };
        let range = format!("{}-{}", sub, sub + 65535);
        let st = Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range, &guard.name])
            .status()
            .unwrap();
        assert!(st.success(), "usermod --add-subuids {range}");
        let id = Command::new("id").args(["-u", &guard.name]).output().unwrap();
        let uid = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
        let gid: u32 = String::from_utf8_lossy(&Command::new("id").args(["-g", &guard.name]).output().unwrap().stdout)
            .trim()
            .parse()
            .unwrap();
        (guard.uid, guard.gid) = (uid, gid);
        guard
    }
}

impl Drop for CreatedUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

#[test]
fn a_created_user_maps_its_subordinate_ids_through_newuidmap() {
    assert!(
        Path::new("/usr/bin/newuidmap").exists() && Path::new("/usr/bin/newgidmap").exists(),
        "newuidmap/newgidmap are missing: apt-get install uidmap"
    );
    let user = CreatedUser::new();
    let (uid, gid, sub) = (user.uid, user.gid, user.sub);
    let mut u = UserRt::new("rl-sub", uid, gid);
    let maps = |own: u32| {
        serde_json::json!([{"containerID": 0, "hostID": own, "size": 1},
                           {"containerID": 1, "hostID": sub, "size": 65536}])
    };
    let c = &mut u.bundle.config;
    c["linux"]["uidMappings"] = maps(uid);
    c["linux"]["gidMappings"] = maps(gid);
    c["root"]["readonly"] = false.into();
    // A new sysfs needs a network namespace owned by the container's user namespace:
    // the kernel refuses it here, and the runtime binds the host's read-only instead.
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = serde_json::json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                                    "options": ["nosuid", "noexec", "nodev", "ro"]});
        }
    }
    u.bundle.sh("sleep 30");
    u.save();
    u.ok(&["create", "rl-sub-c"]);
    u.ok(&["start", "rl-sub-c"]);
    let script = "cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; chown 5:6 /tmp/f; \
                  stat -c '%u %g' /tmp/f; test -d /sys/kernel && echo sys-ok; \
                  grep -c ' /sys sysfs ro,' /proc/mounts; echo x > /sys/x 2>/dev/null || echo sys-ro; \
                  test $$ -lt 100 && echo own-pid-ns";
    // The exec'd process joins the container's pid namespace too, which the rootless
    // runtime can only do from inside the user namespace.
    let out = u.ok(&["exec", "--cap", "CAP_CHOWN", "rl-sub-c", "sh", "-c", script]);
    let words: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    assert_eq!(words.len(), 18, "{out}");
    let want = |own: u32| ["0", &own.to_string(), "1", "1", &sub.to_string(), "65536"].map(|s| s.to_owned());
    assert_eq!(&words[..6], &want(uid), "uid_map: {out}");
    assert_eq!(&words[6..12], &want(gid), "gid_map: {out}");
    assert_eq!(&words[12..], ["5", "6", "sys-ok", "1", "sys-ro", "own-pid-ns"], "{out}");
    // On the host the file belongs to the subordinate ids.
    let meta = std::fs::metadata(u.bundle.rootfs().join("tmp/f")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (sub + 4, sub + 5));
    u.ok(&["kill", "rl-sub-c", "KILL"]);
    for _ in 0..500 {
        if u.ok(&["state", "rl-sub-c"]).contains("\"stopped\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    u.ok(&["delete", "rl-sub-c"]);
    assert_eq!(std::fs::read_dir(u.xdg.join("hull-runtime")).unwrap().count(), 0);
}

/// The cgroup hierarchies mounted on this host (v1 controllers, named ones, cgroup2).
fn hierarchies() -> Vec<(PathBuf, bool)> {
    let mut hs = Vec::new();
    for l in std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-").unwrap();
        let (mnt, fstype) = (PathBuf::from(f[4]), f[sep + 1]);
        if (fstype == "cgroup" || fstype == "cgroup2") && !hs.iter().any(|(m, _)| *m == mnt) {
            hs.push((mnt, fstype == "cgroup2"));
        }
    }
    hs
}

/// A cgroup delegated to `uid` in every hierarchy as systemd delegates one: the
/// directory and its cgroup.procs, tasks, subtree_control and threads files chowned;
/// on cgroup2 the controllers enabled below it and a leaf `sup` for the caller. Removed
/// on drop.
struct Delegated {
    name: String,
    dirs: Vec<(PathBuf, bool)>,
}

impl Delegated {
    fn new(uid: u32) -> Delegated {
        let name = format!("hull-rl-deleg-{}", std::process::id());
        let mut d = Delegated { name: name.clone(), dirs: Vec::new() };
        for (mnt, v2) in hierarchies() {
            let dir = mnt.join(&name);
            std::fs::create_dir(&dir).unwrap();
            d.dirs.push((dir.clone(), v2));
            // A new v1 cpuset has no cpus and no mems: the admin fills them in.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if !v2 && dir.join(f).exists() {
                    std::fs::write(dir.join(f), std::fs::read_to_string(mnt.join(f)).unwrap().trim()).unwrap();
                }
            }
            if v2 {
                let avail = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap();
                for c in avail.split_whitespace() {
                    std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")).unwrap();
                }
                std::fs::create_dir(dir.join("sup")).unwrap();
                chown(&dir.join("sup"), uid);
                chown(&dir.join("sup/cgroup.procs"), uid);
            }
            for f in ["", "cgroup.procs", "tasks", "cgroup.subtree_control", "cgroup.threads"] {
                let p = dir.join(f);
                if p.exists() {
                    chown(&p, uid);
                }
            }
        }
        assert!(!d.dirs.is_empty(), "no cgroup hierarchy is mounted");
        d
    }

    /// The cgroup2 leaves the caller must enter before it may move its children below.
    fn v2_leaves(&self) -> Vec<PathBuf> {
        self.dirs.iter().filter(|(_, v2)| *v2).map(|(d, _)| d.join("sup/cgroup.procs")).collect()
    }
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for (d, v2) in &self.dirs {
            if *v2 {
                let _ = std::fs::remove_dir(d.join("sup"));
            }
            let _ = std::fs::remove_dir(d.join("c"));
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn a_delegated_cgroup_gets_the_containers_limits() {
    const UID: u32 = 64243;
    let deleg = Delegated::new(UID);
    let mut u = UserRt::new("rl-cg", UID, UID);
    let c = &mut u.bundle.config;
    c["linux"]["cgroupsPath"] = format!("/{}/c", deleg.name).into();
    c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 20}});
    u.bundle.sh("sleep 30");
    u.save();
    // The caller enters the delegated subtree first (as a user session under systemd
    // lives in its user@.service), then drops to the user.
    let leaves = deleg.v2_leaves();
    let mut script = String::new();
    for l in &leaves {
        script.push_str(&format!("echo $$ > {} || exit 99; ", l.display()));
    }
    script.push_str(&format!("exec setpriv --reuid={UID} --regid={UID} --clear-groups -- \"$@\""));
    let run = |args: &[&str]| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(&script)
            .arg("sh")
            .arg(&u.bin)
            .args(args)
            .current_dir(&u.bundle.dir)
            .env_clear()
            .env("XDG_RUNTIME_DIR", &u.xdg)
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .stdin(Stdio::null());
        output_through_files(&mut c, &u.rt.tmp.0)
    };
    let o = run(&["create", "rl-cg-c"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "create as uid {UID} in a delegated cgroup: {err}");
    assert!(!err.contains("not delegated"), "{err}");
    let state: serde_json::Value =
        serde_json::from_slice(&run(&["state", "rl-cg-c"]).stdout).expect("state of the rootless container");
    let pid = state["pid"].as_i64().unwrap();
    // The container's init is in the delegated cgroup of every hierarchy, with its limit.
    for (d, _) in &deleg.dirs {
        let procs = d.join("c/cgroup.procs");
        let text = std::fs::read_to_string(&procs).unwrap_or_else(|e| panic!("{}: {e}", procs.display()));
        assert!(text.lines().any(|l| l == pid.to_string()), "{} lacks pid {pid}: {text}", procs.display());
        if let Ok(max) = std::fs::read_to_string(d.join("c/pids.max")) {
            assert_eq!(max.trim(), "20");
        }
    }
    assert!(
        deleg.dirs.iter().any(|(d, _)| d.join("c/pids.max").exists()),
        "no pids controller in the delegated cgroup"
    );
    let o = run(&["delete", "--force", "rl-cg-c"]);
    assert!(o.status.success(), "delete: {}", String::from_utf8_lossy(&o.stderr));
    for (d, _) in &deleg.dirs {
        assert!(!d.join("c").exists(), "{} is left", d.join("c").display());
    }
}

//! What a container sees: each config.json field, checked from inside the container.

mod common;
use common::*;
use serde_json::json;

#[test]
fn pid_hostname_env_cwd_umask() {
    let rt = Rt::new("ct-basics");
    let mut b = rt.bundle("b");
    b.config["hostname"] = "box".into();
    b.config["domainname"] = "example.org".into();
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = "/work/dir".into();
    b.config["process"]["user"]["umask"] = 0o027.into();
    b.sh("echo $$ $(hostname) $(cat /proc/sys/kernel/domainname) \"$FOO\" $(pwd) $(umask)");
    assert_eq!(rt.run_ok(&b, &rt.id("c")).trim(), "1 box example.org bar baz /work/dir 0027");
}

#[test]
fn readonly_root_and_masked_and_readonly_paths() {
    let rt = Rt::new("ct-ro");
    let mut b = rt.bundle("b");
    b.sh("touch /x 2>/dev/null && echo root-writable; \
          wc -c < /proc/keys; wc -c < /proc/timer_list; \
          echo 1 > /proc/sys/kernel/printk 2>/dev/null && echo sys-writable; \
          ls /sys/firmware | wc -l; touch /tmp/ok 2>/dev/null || echo tmp-ro");
    let out = rt.run_ok(&b, &rt.id("c"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, vec!["0", "0", "0", "tmp-ro"], "{out}");
    // Writable root when readonly is false.
    b.config["root"]["readonly"] = false.into();
    b.sh("touch /x && echo ok");
    assert_eq!(rt.run_ok(&b, &rt.id("d")).trim(), "ok");
}

#[test]
fn each_mount_type() {
    let rt = Rt::new("ct-mounts");
    let mut b = rt.bundle("b");
    let src = rt.tmp.0.join("shared");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hello"), "from host").unwrap();
    let file = rt.tmp.0.join("file.txt");
    std::fs::write(&file, "a file").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "ro", "nosuid", "nodev"]}),
    );
    mounts.push(json!({"destination": "/rw", "type": "bind", "source": src, "options": ["bind"]}));
    mounts.push(json!({"destination": "/etc/file.txt", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    mounts.push(json!({"destination": "/scratch/deep", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "noexec"]}));
    b.sh("cat /data/hello; echo; cat /etc/file.txt; echo; \
          touch /data/x 2>/dev/null || echo data-ro; touch /rw/y && echo rw-ok; \
          grep -E ' /(data|rw|scratch/deep|proc|sys|dev/pts|dev/mqueue|dev/shm|sys/fs/cgroup) ' /proc/self/mounts | cut -d' ' -f2,3,4 | sort; \
          stat -c %a /scratch/deep");
    let out = rt.run_ok(&b, &rt.id("c"));
    assert!(src.join("y").exists(), "the rw bind wrote through to the host");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..4], &["from host", "a file", "data-ro", "rw-ok"], "{out}");
    let has = |mp: &str, fstype: &str, opt: &str| {
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() == 3 && f[0] == mp && f[1] == fstype && f[2].split(',').any(|o| o == opt)
        })
    };
    assert!(has("/data", "ext4", "ro") || lines.iter().any(|l| l.starts_with("/data ") && l.contains("ro,")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("/data ") && l.contains("nosuid") && l.contains("nodev")), "{out}");
    assert!(has("/scratch/deep", "tmpfs", "noexec"), "{out}");
    assert!(has("/proc", "proc", "rw"), "{out}");
    assert!(has("/sys", "sysfs", "ro"), "{out}");
    assert!(has("/dev/pts", "devpts", "noexec"), "{out}");
    assert!(has("/dev/mqueue", "mqueue", "nodev"), "{out}");
    assert!(has("/dev/shm", "tmpfs", "nosuid"), "{out}");
    assert!(has("/sys/fs/cgroup", "tmpfs", "ro") || has("/sys/fs/cgroup", "cgroup2", "ro"), "{out}");
    assert_eq!(*lines.last().unwrap(), "700");
}

#[test]
fn cgroup_mount_shows_the_containers_own_cgroup() {
    let rt = Rt::new("ct-cgmount");
    let mut b = rt.bundle("b");
    b.config["linux"]["cgroupsPath"] = "/hull/it-cgmount".into();
    let pure_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if pure_v2 {
        // cgroup2 inside a cgroup namespace: the container's own cgroup is the root,
        // its procs are only the container's (sh, cat, wc; not the host's), read-only.
        b.sh("cat /sys/fs/cgroup/cgroup.procs | wc -l; touch /sys/fs/cgroup/x 2>/dev/null || echo cg-ro");
        let out = rt.run_ok(&b, &rt.id("c"));
        let l: Vec<&str> = out.lines().collect();
        let n: u32 = l[0].parse().unwrap();
        assert!((2..=3).contains(&n), "{out}");
        assert_eq!(l[1], "cg-ro", "{out}");
    } else {
        // v1 and hybrid: one directory per hierarchy, each the container's own.
        b.sh("ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/cgroup.procs | wc -l; touch /sys/fs/cgroup/pids/x 2>/dev/null || echo cg-ro");
        let out = rt.run_ok(&b, &rt.id("c"));
        for h in cgroup_hierarchies() {
            assert!(out.lines().any(|l| l == h), "{h} missing in {out}");
        }
        assert!(out.contains("cg-ro"), "{out}");
    }
    assert!(cgroup_dirs_left("/hull/it-cgmount").is_empty());
}

fn cgroup_hierarchies() -> Vec<String> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| {
            rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default()
}

#[test]
fn devices_default_and_configured() {
    let rt = Rt::new("ct-dev");
    let mut b = rt.bundle("b");
    b.config["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 7, "gid": 8},
               {"path": "/dev/sub/loopX", "type": "b", "major": 7, "minor": 200}]);
    b.sh(
        "for d in null zero full random urandom tty fuse sub/loopX; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; \
          for l in ptmx fd stdin; do readlink /dev/$l; done; head -c 4 /dev/zero | wc -c",
    );
    let out = rt.run_ok(&b, &rt.id("c"));
    for want in [
        "/dev/null character special file 1:3 666 0:0",
        "/dev/zero character special file 1:5 666 0:0",
        "/dev/full character special file 1:7 666 0:0",
        "/dev/random character special file 1:8 666 0:0",
        "/dev/urandom character special file 1:9 666 0:0",
        "/dev/tty character special file 5:0 666 0:0",
        "/dev/fuse character special file a:e5 640 7:8",
        "/dev/sub/loopX block special file 7:c8 666 0:0",
        "pts/ptmx",
        "/proc/self/fd",
        "/proc/self/fd/0",
    ] {
        assert!(out.lines().any(|l| l == want), "{want:?} not in\n{out}");
    }
    assert_eq!(out.lines().last().unwrap(), "4");
}

#[test]
fn rlimits_user_groups() {
    let rt = Rt::new("ct-user");
    let mut b = rt.bundle("b");
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 777}, {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]);
    b.config["process"]["user"] = json!({"uid": 1234, "gid": 5678, "additionalGids": [10, 20]});
    b.sh("ulimit -n; ulimit -Hn; ulimit -u; id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups)' /proc/self/status");
    let out = rt.run_ok(&b, &rt.id("c"));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(&l[..6], &["512", "777", "100", "1234", "5678", "5678 10 20"], "{out}");
    assert!(l[6].starts_with("Uid:\t1234\t1234\t1234\t1234"), "{out}");
    assert!(l[8].starts_with("Groups:\t10 20"), "{out}");
}

#[test]
fn capability_sets() {
    let rt = Rt::new("ct-caps");
    let mut b = rt.bundle("b");
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    b.sh("grep ^Cap /proc/self/status");
    let out = rt.run_ok(&b, &rt.id("c"));
    // As root after execve: permitted and effective are the bounding-limited full set
    // plus ambient; bounding and inheritable are exactly as configured.
    assert!(out.contains("CapBnd:\t00000000000020a1"), "{out}");
    assert!(out.contains("CapInh:\t0000000000000020"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000000020"), "{out}");
    // A non-root user keeps only what ambient carries over execve.
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = rt.run_ok(&b, &rt.id("d"));
    assert!(out.contains("CapEff:\t0000000000000020"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000020"), "{out}");
    // No inheritable capabilities unless the config names them.
    b.config["process"]["capabilities"] =
        json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    b.config["process"]["user"] = json!({"uid": 0, "gid": 0});
    let out = rt.run_ok(&b, &rt.id("e"));
    assert!(out.contains("CapInh:\t0000000000000000"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000020"), "{out}");
}

#[test]
fn no_new_privileges_oom_score_sysctl() {
    let rt = Rt::new("ct-misc");
    let mut b = rt.bundle("b");
    b.config["process"]["noNewPrivileges"] = true.into();
    b.config["process"]["oomScoreAdj"] = 123.into();
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"});
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.sh("grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax");
    let out = rt.run_ok(&b, &rt.id("c"));
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), vec!["NoNewPrivs:", "1", "123", "1", "4096"], "{out}");
}

#[test]
fn user_namespace_maps() {
    let rt = Rt::new("ct-userns");
    let mut b = rt.bundle("b");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The rootfs must be readable by the mapped root: it is, being world-readable.
    b.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u");
    let out = rt.run_ok(&b, &rt.id("c"));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, vec!["0", "100000", "65536", "0", "100000", "65536", "0"], "{out}");
}

/// An ext4 filesystem the test makes on a loop device and mounts, unmounted on drop:
/// idmapped mounts need a filesystem that supports them (tmpfs does only from 6.3).
struct Ext4(std::path::PathBuf);

impl Ext4 {
    fn new(rt: &Rt) -> Ext4 {
        let img = rt.tmp.0.join("ext4.img");
        let dir = rt.tmp.0.join("ext4");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::File::create(&img).unwrap().set_len(16 << 20).unwrap();
        let run = |cmd: &mut std::process::Command| {
            let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        run(std::process::Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img));
        run(std::process::Command::new("mount").args(["-o", "loop"]).arg(&img).arg(&dir));
        Ext4(dir)
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn idmapped_mounts_show_the_sources_owners_through_the_mapping() {
    let rt = Rt::new("ct-idmap");
    let fs = Ext4::new(&rt);
    let src = fs.0.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("root-file"), "").unwrap();
    std::fs::write(src.join("one-file"), "").unwrap();
    std::os::unix::fs::chown(src.join("one-file"), Some(1), Some(1)).unwrap();
    let mut b = rt.bundle("b");
    // The mapped root cannot make mount points in a rootfs the host's root owns.
    for d in ["v", "w", "n"] {
        std::fs::create_dir(b.rootfs().join(d)).unwrap();
    }
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["uidMappings"] = map.clone();
    b.config["linux"]["gidMappings"] = map.clone();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    // Its own mapping; the container's mapping (idmap alone); no mapping at all.
    mounts.push(json!({"destination": "/v", "type": "bind", "source": src, "options": ["rbind"],
                       "uidMappings": map, "gidMappings": map}));
    mounts.push(json!({"destination": "/w", "type": "bind", "source": src, "options": ["bind", "idmap", "ro"]}));
    mounts.push(json!({"destination": "/n", "type": "bind", "source": src, "options": ["rbind"]}));
    b.sh("stat -c %u:%g /v/root-file /v/one-file /w/one-file /n/root-file; touch /v/new && stat -c %u:%g /v/new; \
          touch /w/x 2>/dev/null || echo w-ro");
    let out = rt.run_ok(&b, &rt.id("c"));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0:0", "1:1", "1:1", "65534:65534", "0:0", "w-ro"], "{out}");
    // The file the container's root made is root's on the source.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(src.join("new")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));

    // A request the kernel cannot honour fails before anything exists.
    let mut bad = rt.bundle("bad");
    bad.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}));
    let (code, _, err) = rt.run(&bad, &rt.id("bad"));
    assert_ne!(code, 0);
    assert!(err.contains("mounts[") && err.contains("only bind mounts can be idmapped"), "{err}");
    assert!(!rt.root.join(rt.id("bad")).exists());
}

#[test]
fn join_namespaces_by_path() {
    let rt = Rt::new("ct-join");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    b.config["hostname"] = "first".into();
    let first = rt.id("first");
    rt.create(&b, &first);
    let pid = rt.state(&first)["pid"].as_i64().unwrap();
    let mut b2 = rt.bundle("b2");
    let ns = b2.config["linux"]["namespaces"].as_array_mut().unwrap();
    for n in ns.iter_mut() {
        let t = n["type"].as_str().unwrap().to_owned();
        if t == "uts" || t == "network" || t == "ipc" || t == "pid" {
            let file = match t.as_str() {
                "network" => "net",
                other => other,
            };
            n["path"] = format!("/proc/{pid}/ns/{file}").into();
        }
    }
    b2.config.as_object_mut().unwrap().remove("hostname");
    b2.sh("hostname; for n in net uts pid; do readlink /proc/self/ns/$n; done");
    let out = rt.run_ok(&b2, &rt.id("second"));
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "first", "{out}");
    let host_ns = |n: &str| std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap().to_string_lossy().into_owned();
    assert_eq!(l[1], host_ns("net"));
    assert_eq!(l[2], host_ns("uts"));
    assert_eq!(l[3], host_ns("pid"));
    rt.ok(&["delete", "--force", &first]);
}

#[test]
fn time_namespace_offsets() {
    let rt = Rt::new("ct-time");
    let mut b = rt.bundle("b");
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}});
    b.sh("cut -d' ' -f1 /proc/uptime");
    let out = rt.run_ok(&b, &rt.id("c"));
    let up: f64 = out.trim().parse().unwrap();
    assert!(up > 86400.0 * 365.0, "{out}");
}

#[test]
fn no_pivot_works() {
    let rt = Rt::new("ct-nopivot");
    let mut b = rt.bundle("b");
    b.sh("echo $$; ls /bin/busybox");
    b.save();
    let o = rt.out(&["run", "--no-pivot", "--bundle", b.dir.to_str().unwrap(), &rt.id("c")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n/bin/busybox\n");
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    let rt = Rt::new("ct-hooks");
    let mut b = rt.bundle("b");
    let log = rt.tmp.0.join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo {name} \"$s\" >> {}", log.display())]});
    b.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "read -r s; echo startContainer-in-container > /tmp/sc"]}],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    });
    b.config["root"]["readonly"] = false.into();
    b.sh("cat /tmp/sc");
    let id = rt.id("c");
    b.save();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, vec!["prestart", "createRuntime", "createContainer"], "poststart must not run during create");
    let state: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap().split_once(' ').unwrap().1).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert_eq!(state["bundle"], b.dir.to_str().unwrap());
    rt.ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, vec!["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    assert!(text.lines().last().unwrap().contains("\"status\":\"stopped\""), "{text}");
}

#[test]
fn failing_create_hook_fails_create() {
    let rt = Rt::new("ct-hookfail");
    let mut b = rt.bundle("b");
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 5"]}]});
    b.save();
    let id = rt.id("c");
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("createRuntime hook") && err.contains("nope"), "{err}");
    assert!(!rt.root.join(&id).exists());
}

#[test]
fn failing_poststart_hook_is_a_warning() {
    let rt = Rt::new("ct-poststart");
    let mut b = rt.bundle("b");
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    b.sh("echo ran");
    let (code, out, err) = rt.run(&b, &rt.id("c"));
    assert_eq!((code, out.as_str()), (0, "ran\n"), "{err}");
    assert!(err.contains("poststart"), "{err}");
}

#[test]
fn preserve_fds_and_no_leaks() {
    let rt = Rt::new("ct-fds");
    let mut b = rt.bundle("b");
    b.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
    b.save();
    let f = std::fs::File::open("/etc/hostname").unwrap();
    let extra = std::fs::File::open("/etc/passwd").unwrap();
    let mut cmd = rt.cmd(&["run", "--preserve-fds", "1", "--bundle", b.dir.to_str().unwrap(), &rt.id("c")]);
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (fd, extra_fd) = (f.as_raw_fd(), extra.as_raw_fd());
    // SAFETY (test): dup2 in the child before exec puts the file at fd 3 and leaves
    // another descriptor (not preserved) open at 4.
    unsafe {
        cmd.pre_exec(move || {
            libc::dup2(fd, 3);
            libc::dup2(extra_fd, 4);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 0 1 2, the preserved 3, and the one ls opens for /proc/self/fd.
    let fds: Vec<u32> = String::from_utf8_lossy(&o.stdout).split_whitespace().map(|s| s.parse().unwrap()).collect();
    assert_eq!(&fds[..4], &[0, 1, 2, 3], "{fds:?}");
    assert!(fds.len() <= 5, "leaked descriptors: {fds:?}");
}

#[test]
fn terminal_through_console_socket() {
    use std::os::unix::net::UnixListener;
    let rt = Rt::new("ct-tty");
    let mut b = rt.bundle("b");
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    b.sh("tty; stat -c 'console %t' /dev/console; echo done");
    b.save();
    let sock = rt.tmp.0.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = rt.id("c");
    let bundle = b.dir.to_str().unwrap().to_owned();
    let sock_s = sock.to_str().unwrap().to_owned();
    let h = std::thread::spawn({
        let root = rt.root.clone();
        move || {
            std::process::Command::new(BIN)
                .arg("--root")
                .arg(root)
                .args(["create", "--console-socket", &sock_s, "--bundle", &bundle, &id])
                .status()
                .unwrap()
        }
    });
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    assert!(h.join().unwrap().success());
    let id = rt.id("c");
    rt.ok(&["start", &id]);
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 1024];
    loop {
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains("done") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("/dev/pts/0"), "{text}");
    // /dev/console is the pty (devpts major 136 = 0x88).
    assert!(text.contains("console 88"), "{text}");
    assert!(text.contains("done"), "{text}");
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
}

fn recv_fd(conn: &std::os::unix::net::UnixStream) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY (test): the descriptor was just received.
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received");
}

#[test]
fn run_in_foreground_with_a_terminal() {
    let rt = Rt::new("ct-fgtty");
    let mut b = rt.bundle("b");
    b.config["process"]["terminal"] = true.into();
    b.sh("tty; echo done");
    let (code, out, err) = rt.run(&b, &rt.id("c"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/dev/pts/0") && out.contains("done"), "{out:?}");
}

#[test]
fn scheduler_and_io_priority() {
    let rt = Rt::new("ct-sched");
    let mut b = rt.bundle("b");
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap().to_string();
    let chrt = std::process::Command::new("chrt").args(["-p", &pid]).output().unwrap();
    assert!(String::from_utf8_lossy(&chrt.stdout).contains("SCHED_BATCH"), "{chrt:?}");
    let ionice = std::process::Command::new("ionice").args(["-p", &pid]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ionice.stdout).trim(), "best-effort: prio 6");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let nice: i32 = stat.rsplit(')').next().unwrap().split_whitespace().nth(16).unwrap().parse().unwrap();
    assert_eq!(nice, 7);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn personality_linux32() {
    let rt = Rt::new("ct-pers");
    let mut b = rt.bundle("b");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.sh("uname -m");
    assert_eq!(rt.run_ok(&b, &rt.id("c")).trim(), "i686");
}

#[test]
fn rootfs_propagation_shared() {
    let rt = Rt::new("ct-prop");
    let mut b = rt.bundle("b");
    b.config["linux"]["rootfsPropagation"] = "rshared".into();
    b.sh("grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ' /proc/self/mountinfo");
    let out = rt.run_ok(&b, &rt.id("c"));
    assert!(out.contains("shared:"), "{out}");
    b.config["linux"]["rootfsPropagation"] = "rprivate".into();
    let out = rt.run_ok(&b, &rt.id("d"));
    assert!(!out.contains("shared:") && !out.contains("master:"), "{out}");
}

/// Kubernetes' Bidirectional mount propagation: with a shared root, a bind mount of a
/// shared host mount stays its peer, so a mount made in the container appears on the
/// host (the old root used to be made a slave through the new root, cutting it off).
#[test]
fn a_shared_bind_mount_propagates_to_the_host() {
    let rt = Rt::new("ct-bidi");
    let dir = rt.tmp.0.join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_string();
    let mount = |args: &[&str]| {
        let st = std::process::Command::new("mount").args(args).status().unwrap();
        assert!(st.success(), "mount {args:?}");
    };
    mount(&["--bind", &d, &d]);
    mount(&["--make-shared", &d]);
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").args(["-R", &self.0]).status();
        }
    }
    let _guard = Unmount(d.clone());
    let mut b = rt.bundle("b");
    b.config["linux"]["rootfsPropagation"] = "rshared".into();
    let caps = json!(["CAP_SYS_ADMIN"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/m", "type": "bind", "source": d, "options": ["rbind", "rshared"]}));
    b.sh("busybox mkdir -p /m/sub && busybox mount -t tmpfs t /m/sub && busybox touch /m/sub/made-inside");
    rt.run_ok(&b, &rt.id("c"));
    assert!(dir.join("sub/made-inside").exists(), "the container's mount reached the host");
}

/// A sysctl is written only into a real procfs: an image that ships its own file at
/// /proc/sys/... (and a config without a /proc mount) never gets that file written;
/// the value goes to the kernel through hull's private procfs (CVE-2019-16884 class).
#[test]
fn sysctl_writes_only_to_procfs() {
    let rt = Rt::new("ct-procfs");
    let mut b = rt.bundle("b");
    let fake = b.rootfs().join("proc/sys/kernel");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("msgmax"), "image file\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/proc");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["root"]["readonly"] = false.into();
    b.config["linux"]["sysctl"] = json!({"kernel.msgmax": "4096"});
    b.sh("cat /proc/sys/kernel/msgmax");
    assert_eq!(rt.run_ok(&b, &rt.id("c")), "image file\n");
    assert_eq!(std::fs::read_to_string(fake.join("msgmax")).unwrap(), "image file\n");
}

/// CVE-2025-52881: a mount over a sysctl's file with another procfs file passes a
/// "is it procfs" check and would redirect the write (runc's attack aims it at
/// /proc/sysrq-trigger). hull writes through its own procfs instance, which no mount
/// covers. Here kernel.msgmnb (the container's own) stands in for the target: it must
/// keep its default while kernel.msgmax is set. A destination inside /proc is refused
/// outright (runc's checkProcMount), so the mount reaches it through a symlink the
/// image holds, which resolves inside the container's root — onto its /proc.
#[test]
fn sysctl_writes_are_not_redirected_by_mounts() {
    let rt = Rt::new("ct-52881");
    let mut b = rt.bundle("b");
    b.config["linux"]["readonlyPaths"] = json!([]);
    std::os::unix::fs::symlink("/proc/sys/kernel/msgmax", b.rootfs().join("msgmax-link")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/msgmax-link", "source": "/proc/sys/kernel/msgmnb", "type": "bind", "options": ["bind"]}));
    b.config["linux"]["sysctl"] = json!({"kernel.msgmax": "4096"});
    b.sh("cat /proc/sys/kernel/msgmnb");
    assert_eq!(rt.run_ok(&b, &rt.id("c")).trim(), "16384", "the write went to msgmnb");
}

/// CVE-2025-31133: masking binds /dev/null over a path; if /dev/null is not the null
/// device (here a symlink to a procfs file, in a /dev the config bind-mounts), create
/// refuses instead of binding the wrong file.
#[test]
fn masking_refuses_a_fake_dev_null() {
    let rt = Rt::new("ct-fakenull");
    let mut b = rt.bundle("b");
    let dev = rt.tmp.0.join("fakedev");
    std::fs::create_dir_all(&dev).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    mounts.push(json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"]}));
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys"]);
    b.save();
    let id = rt.id("c");
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("/dev/null") && err.contains("not the null device"), "{err}");
    assert!(!rt.root.join(&id).exists());
}

/// CVE-2025-52565: with a terminal, the pty is bound onto /dev/console; a symlink there
/// (in a /dev the config bind-mounts) must not redirect that bind.
#[test]
fn console_symlink_is_refused() {
    use std::os::unix::net::UnixListener;
    let rt = Rt::new("ct-console");
    let mut b = rt.bundle("b");
    let dev = rt.tmp.0.join("fakedev");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("console")).unwrap();
    std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != "/dev");
    // Before /dev/pts, so the container's devpts lands inside this /dev.
    mounts.insert(1, json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"]}));
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["process"]["terminal"] = true.into();
    b.save();
    let sock = rt.tmp.0.join("console.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let id = rt.id("c");
    let err =
        rt.fails(&["create", "--console-socket", sock.to_str().unwrap(), "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("/dev/console") && err.contains("symlink"), "{err}");
    assert!(!rt.root.join(&id).exists());
    assert!(
        std::fs::symlink_metadata(dev.join("console")).unwrap().file_type().is_symlink(),
        "the bound-in /dev was not modified"
    );
}

/// CVE-2021-30465: a mount destination that is (or goes through) a symlink, swapped in
/// and out while the runtime mounts, must never lead outside the root. A thread swaps
/// /mnt between a directory and a symlink to a host directory (atomically, with
/// RENAME_EXCHANGE) while containers mount a tmpfs at /mnt/sub; also a fixed absolute
/// and a fixed relative escape. The host directory must never gain an entry: every
/// lookup is resolved inside the root.
#[test]
fn mount_destinations_cannot_escape_through_swapped_symlinks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = Rt::new("ct-30465");
    let host = rt.tmp.0.join("host-target");
    std::fs::create_dir_all(&host).unwrap();
    let mut b = rt.bundle("b");
    let root = b.rootfs();
    std::fs::create_dir_all(root.join("mnt")).unwrap();
    std::os::unix::fs::symlink(&host, root.join("mnt-link")).unwrap();
    std::os::unix::fs::symlink(&host, root.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../../../..{}", host.display()), root.join("rel")).unwrap();
    for dest in ["/mnt/sub", "/abs/sub", "/rel/sub"] {
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]
        }));
    }
    b.sh("true");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, root) = (stop.clone(), root.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                nix::fcntl::renameat2(
                    nix::fcntl::AT_FDCWD,
                    &root.join("mnt"),
                    nix::fcntl::AT_FDCWD,
                    &root.join("mnt-link"),
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .unwrap();
                n += 1;
            }
            n
        })
    };
    for i in 0..40 {
        // Either outcome is fine for the container; the host is what is checked.
        let _ = rt.run(&b, &rt.id(&format!("c{i}")));
        assert!(std::fs::read_dir(&host).unwrap().next().is_none(), "a mount reached the host directory");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(flipper.join().unwrap() > 0);
    assert!(mounts_mentioning(host.to_str().unwrap()).is_empty());
    // The links were followed inside the root: the mount points were made there.
    let inside = root.join(host.strip_prefix("/").unwrap()).join("sub");
    assert!(inside.is_dir(), "{} was not created", inside.display());
}

/// AppArmor and SELinux labels are applied where the LSM is enabled and refused, before
/// anything exists, where it is not (neither is on our hosts), as `features` says.
#[test]
fn lsm_labels_follow_the_hosts_lsms() {
    let rt = Rt::new("ct-lsm");
    let features: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    let on = |lsm: &str| features["linux"][lsm]["enabled"].as_bool().unwrap();
    // A profile and a label every enabled host accepts: unconfined, and our own context.
    let own = std::fs::read_to_string("/proc/self/attr/current").unwrap_or_default();
    let own = match own.trim_end_matches('\0').trim() {
        "" => "system_u:system_r:container_t:s0".to_owned(),
        c => c.to_owned(),
    };
    let cases = [
        ("apparmor", "apparmorProfile", "unconfined".to_owned(), "AppArmor is not enabled"),
        ("selinux", "selinuxLabel", own, "SELinux is disabled"),
    ];
    for (lsm, field, value, refusal) in cases {
        let mut b = rt.bundle(lsm);
        b.config["process"][field] = value.clone().into();
        b.sh("cat /proc/self/attr/current");
        let id = rt.id(lsm);
        let (code, out, err) = rt.run(&b, &id);
        if on(lsm) {
            assert_eq!(code, 0, "{lsm} label {value:?}: {err}");
            assert!(out.contains(&value), "{out}");
        } else {
            assert_ne!(code, 0);
            assert!(err.contains(&format!("process.{field}")) && err.contains(refusal), "{err}");
            assert!(!rt.root.join(&id).exists(), "a refused container leaves no state");
            assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
        }
    }
    if !on("selinux") {
        let mut b = rt.bundle("mountlabel");
        b.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0".into();
        let (code, _, err) = rt.run(&b, &rt.id("ml"));
        assert_ne!(code, 0);
        assert!(err.contains("linux.mountLabel") && err.contains("SELinux is disabled"), "{err}");
    }
    // exec's --apparmor and --process-label go the same way.
    let mut b = rt.bundle("run");
    b.sh("sleep 30");
    let id = rt.id("run");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    for (lsm, flag, value) in [("apparmor", "--apparmor", "unconfined"), ("selinux", "--process-label", "x_t")] {
        let o = rt.out(&["exec", flag, value, &id, "true"]);
        if !on(lsm) {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() && err.contains("process."), "exec {flag}: {err}");
        }
    }
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
}

/// Mounts inside /proc are refused as runc refuses them: they could hide or replace the
/// kernel's files (`/proc/sys/kernel` made writable, a fake `/proc/self`).
#[test]
fn mounts_inside_proc_are_refused() {
    let rt = Rt::new("ct-procmnt");
    for dest in ["/proc/sys/kernel", "/proc/self"] {
        let mut b = rt.bundle(&format!("b{}", dest.len()));
        b.config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        b.save();
        let id = rt.id("c");
        let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(err.contains("inside /proc"), "{err}");
        assert!(!rt.root.join(&id).exists());
    }
}

/// `create` killed after it cloned the init and made its cgroups, before it wrote the
/// state (HULL_FAULT=runtime-cgroups): `delete --force` finds what it made from the
/// intent it wrote first, kills the init (if its parent-death signal has not) and
/// removes its cgroups.
#[test]
fn a_create_killed_before_its_state_is_undone_by_delete_force() {
    let rt = Rt::new("ct-killed");
    let b = rt.bundle("b");
    b.save();
    let id = rt.id("c");
    let o = rt
        .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
        .env("HULL_FAULT", "runtime-cgroups")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "killed at the fault: {}", String::from_utf8_lossy(&o.stderr));
    let intent: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rt.root.join(&id).join("creating.json")).unwrap()).unwrap();
    let pid = intent["pid"].as_i64().unwrap() as i32;
    // (state, start time) from /proc/PID/stat: the same process while both match.
    let stat = |pid: i32| -> Option<(String, String)> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &s[s.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some((f[0].to_string(), f[19].to_string()))
    };
    let start = stat(pid).map(|(_, t)| t).unwrap_or_default();
    let made = intent["cgroup_made"].as_array().unwrap().clone();
    assert!(!made.is_empty(), "{intent}");
    assert!(made.iter().all(|d| std::path::Path::new(d.as_str().unwrap()).exists()), "the cgroups leak until deleted");
    rt.ok(&["delete", "--force", &id]);
    assert!(!rt.root.join(&id).exists());
    let gone = |pid| stat(pid).is_none_or(|(state, t)| t != start || state == "Z");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gone(pid) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone(pid), "the init {pid} is still there");
    // The container's own cgroups (a parent this create made may hold others' now).
    for d in intent["cgroup_dirs"].as_array().unwrap() {
        assert!(!std::path::Path::new(d.as_str().unwrap()).exists(), "cgroup {d} left");
    }
}

/// kill -9 of `hull-runtime create` (or of the init it made) at random moments 0-15 ms
/// in, a hundred times (`HULL_SOAK_ITERATIONS`, `HULL_SOAK_SEED` as the engine's soak):
/// `delete --force ID` always leaves nothing (state directory, cgroup in any hierarchy,
/// process in the container's cgroup, mount).
#[test]
fn create_killed_at_random_moments_is_undone_by_delete_force() {
    let rt = Rt::new("ct-soak");
    let mut b = rt.bundle("b");
    b.config["process"]["args"] = json!(["sleep", "100"]);
    b.save();
    let iterations: u64 = std::env::var("HULL_SOAK_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let mut seed: u64 = std::env::var("HULL_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("runtime soak: seed {seed}, {iterations} iterations");
    let mut below = |n: u64| {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    };
    let in_cgroup = |id: &str| -> Vec<String> {
        let mut found = Vec::new();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cg = std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default();
            let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
            let zombie = stat.rfind(')').is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
            if cg.contains(&format!("/hull/{id}\n")) && !zombie {
                found.push(p.file_name().to_string_lossy().into_owned());
            }
        }
        found
    };
    let mut leaks = Vec::new();
    for i in 0..iterations {
        let id = rt.id(&i.to_string());
        let delay = std::time::Duration::from_millis(below(16));
        let kill_init = below(4) == 0;
        let mut child = rt
            .cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if kill_init {
            for pid in in_cgroup(&id) {
                // SAFETY: kill of a process in this test's container's cgroup.
                unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
            }
        } else {
            let _ = child.kill();
        }
        let _ = child.wait();
        let o = rt.out(&["delete", "--force", &id]);
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        let mut left = Vec::new();
        if !o.status.success() && !e.contains("does not exist") {
            left.push(format!("delete --force: {e}"));
        }
        if rt.root.join(&id).exists() {
            left.push("state directory".into());
        }
        left.extend(cgroup_dirs_left(&format!("/hull/{id}")).iter().map(|d| format!("cgroup {}", d.display())));
        // The init dies with its pid namespace; give the kernel a moment to reap it.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !in_cgroup(&id).is_empty() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        left.extend(in_cgroup(&id).into_iter().map(|p| format!("process {p}")));
        left.extend(mounts_mentioning(&id));
        if !left.is_empty() {
            eprintln!("#{i} ({} killed {delay:?} in): {left:?}", if kill_init { "init" } else { "create" });
            leaks.push((i, left));
        }
    }
    eprintln!("runtime soak: {iterations} iterations, leaks: {}", leaks.len());
    assert!(leaks.is_empty(), "{leaks:?}");
}

//! `exec`: a second process in a running container.

mod common;
use common::*;
use serde_json::json;

fn running(rt: &Rt, name: &str) -> (Bundle, String) {
    let mut b = rt.bundle(name);
    b.config["hostname"] = "inside".into();
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_CONFIG=yes"]);
    b.sh("sleep 60");
    let id = rt.id(name);
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    (b, id)
}

#[test]
fn exec_joins_namespaces_and_cgroup_and_returns_the_status() {
    let rt = Rt::new("ex-basic");
    let (_b, id) = running(&rt, "c");
    let out = rt.ok(&["exec", &id, "sh", "-c", "echo $$ $(hostname) $FROM_CONFIG; cat /proc/1/comm"]);
    let l: Vec<&str> = out.lines().collect();
    let w: Vec<&str> = l[0].split(' ').collect();
    assert_ne!(w[0], "1", "the exec'd process is not the init");
    assert_eq!(&w[1..], &["inside", "yes"], "{out}");
    assert_eq!(l[1], "sleep", "it sees the container's pid namespace");
    let o = rt.out(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    // While it runs, the exec'd process is in the container's cgroup.
    let pidfile = rt.tmp.0.join("exec.pid");
    rt.ok(&["exec", "--detach", "--pid-file", pidfile.to_str().unwrap(), &id, "sleep", "30"]);
    let pid: i64 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&pid), "{pid} not in {pids:?}");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_flags() {
    let rt = Rt::new("ex-flags");
    let (_b, id) = running(&rt, "c");
    let out = rt.ok(&[
        "exec",
        "--cwd",
        "/tmp",
        "--env",
        "FOO=bar",
        "--env",
        "FROM_CONFIG=over",
        "--user",
        "1000:2000",
        "--additional-gids",
        "10,20",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "echo $(pwd) $FOO $FROM_CONFIG $(id -u) $(id -g) $(id -G); grep NoNewPrivs /proc/self/status",
    ]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "/tmp bar over 1000 2000 2000 10 20", "{out}");
    assert!(l[1].ends_with('1'), "{out}");
    let out = rt.ok(&["exec", "--cap", "CAP_NET_RAW", &id, "sh", "-c", "grep CapBnd /proc/self/status"]);
    // Default caps (AUDIT_WRITE, KILL, NET_BIND_SERVICE) plus NET_RAW (bit 13).
    assert!(out.contains("CapBnd:\t0000000020002420"), "{out}");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_errors_and_paused() {
    let rt = Rt::new("ex-errors");
    let (_b, id) = running(&rt, "c");
    let err = rt.fails(&["exec", &id, "/no/such/program"]);
    assert!(err.contains("/no/such/program"), "{err}");
    rt.ok(&["pause", &id]);
    let err = rt.fails(&["exec", &id, "true"]);
    assert!(err.contains("paused"), "{err}");
    // --ignore-paused: the process starts frozen, and runs once resumed.
    let pidfile = rt.tmp.0.join("p.pid");
    rt.ok(&["exec", "--ignore-paused", "--detach", "--pid-file", pidfile.to_str().unwrap(), &id, "sleep", "30"]);
    assert!(pidfile.exists());
    rt.ok(&["resume", &id]);
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    let err = rt.fails(&["exec", &id, "true"]);
    assert!(err.contains("not running"), "{err}");
    rt.ok(&["delete", &id]);
    let err = rt.fails(&["exec", "nope", "true"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn exec_process_file_and_tty() {
    let rt = Rt::new("ex-process");
    let (_b, id) = running(&rt, "c");
    let pf = rt.tmp.0.join("process.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({"args": ["sh", "-c", "echo from-file $X"], "cwd": "/", "env": ["X=1", "PATH=/bin"],
                                   "user": {"uid": 0, "gid": 0}}))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(rt.ok(&["exec", "--process", pf.to_str().unwrap(), &id]).trim(), "from-file 1");
    // -t without a console socket: hull-runtime proxies the pty itself.
    let out = rt.ok(&["exec", "-t", &id, "tty"]);
    assert!(out.contains("/dev/pts/"), "{out:?}");
    rt.ok(&["delete", "--force", &id]);
}

/// CVE-2024-21626: a working directory of /proc/self/fd/N, through a host descriptor
/// leaked into the container, must never leave the container's root.
#[test]
fn cwd_through_a_leaked_fd_cannot_escape() {
    let rt = Rt::new("ex-cve-21626");
    let (mut b, id) = running(&rt, "c");
    for n in 3..16 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = rt.out(&["exec", "--cwd", &cwd, &id, "sh", "-c", "pwd; ls"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            !out.contains("unreachable") && !out.contains("cgroup.procs") && !out.contains("state.json"),
            "exec --cwd {cwd}: {out}"
        );
        if o.status.success() {
            assert!(out.starts_with('/'), "exec --cwd {cwd}: {out}");
        }
        // The same through the init's own process.cwd.
        b.config["process"]["cwd"] = cwd.clone().into();
        b.sh("pwd; ls");
        let (code, out, _) = rt.run(&b, &rt.id(&format!("r{n}")));
        assert!(
            !out.contains("unreachable") && !out.contains("cgroup.procs") && !out.contains("exec.fifo"),
            "run cwd {cwd}: {out}"
        );
        if code == 0 {
            assert!(out.starts_with('/'), "run cwd {cwd}: {out}");
        }
    }
    rt.ok(&["delete", "--force", &id]);
}

/// CVE-2019-5736 (in part): while a container process is still hull's binary (a created
/// init before `start`), processes in the container cannot open its /proc/PID/exe.
/// Two things refuse it: the kernel's ptrace check (the attacker's capabilities are not
/// a superset of the init's) and, in depth, the init being non-dumpable until execve.
#[test]
fn the_runtime_binary_is_not_reachable_through_proc_exe() {
    let rt = Rt::new("ex-cve-5736");
    let mut b = rt.bundle("b");
    b.sh("sleep 60");
    let victim = rt.id("victim");
    rt.create(&b, &victim);
    // The created init is pid 1 of its namespace and still runs hull-runtime; an exec'd
    // process in the same container tries to open it.
    let o = rt.out(&["exec", &victim, "sh", "-c", "cat /proc/1/exe > /dev/null && echo opened || echo refused"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.trim(), "refused", "{out} {}", String::from_utf8_lossy(&o.stderr));
    rt.ok(&["start", &victim]);
    rt.ok(&["delete", "--force", &victim]);
}

/// CVE-2019-5736, the attack itself: the container's program is `#!/proc/self/exe`, so
/// a process hull-runtime execs there becomes hull's binary running in the container;
/// a second container process opens its /proc/PID/exe, kills it, and writes through
/// the descriptor once nothing runs the binary. hull runs from a sealed memfd copy, so
/// the write fails and the binary on disk is untouched. The attack is run against a
/// copy of the runtime, so a failed defence damages only the copy.
#[test]
fn a_container_cannot_overwrite_the_runtime_through_proc_self_exe() {
    use std::os::unix::fs::PermissionsExt;
    let rt = Rt::new("ex-cve-5736b");
    let bin = rt.tmp.0.join("hull-runtime-copy");
    std::fs::copy(BIN, &bin).unwrap();
    let original = std::fs::read(&bin).unwrap();
    let hull = |args: &[&str]| {
        let mut c = std::process::Command::new(&bin);
        c.arg("--root").arg(&rt.root).args(args).stdin(std::process::Stdio::null());
        c
    };
    let mut b = rt.bundle("b");
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.sh("sleep 60");
    b.save();
    let id = rt.id("c");
    let bundle = b.dir.to_str().unwrap();
    assert!(hull(&["create", "--bundle", bundle, &id]).status().unwrap().success());
    assert!(hull(&["start", &id]).status().unwrap().success());

    // The victim: its stderr is a full pipe, so the hull binary it turns into blocks
    // writing its usage error and stays alive for the attacker.
    let (keep_reader, w) = nix::unistd::pipe().unwrap();
    nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
    while nix::unistd::write(&w, &[0u8; 4096]).is_ok() {}
    nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty())).unwrap();
    let st = hull(&["exec", "--detach", &id, "/evil"]).stderr(std::process::Stdio::from(w)).status().unwrap();
    assert!(st.success());

    let attack = r#"
        for i in $(seq 100); do
            for p in /proc/[0-9]*; do
                pid=${p#/proc/}
                exe=$(readlink $p/exe 2>/dev/null)
                if [ "$pid" != 1 ] && [ "$pid" != $$ ] && [ -n "$exe" ] && [ "$exe" != /bin/busybox ]; then
                    victim=$pid; break 2
                fi
            done
            sleep 0.05
        done
        [ -n "$victim" ] || { echo no-victim; exit 0; }
        ( exec 3< /proc/$victim/exe ) 2>/dev/null || { echo open-refused; exit 0; }
        exec 3< /proc/$victim/exe
        kill -9 $victim
        # A failed redirection of `exec` ends the shell: try each in a subshell.
        for i in $(seq 100); do
            err=$( ( exec 4>> /proc/self/fd/3 && echo HACKED >&4 ) 2>&1 ) && { echo wrote; exit 0; }
            case "$err" in *busy*) sleep 0.05 ;; *) echo "refused: $err"; exit 0 ;; esac
        done
        echo still-busy
    "#;
    let result = rt.tmp.0.join("attack.out");
    let st = hull(&["exec", "--detach", &id, "sh", "-c", attack])
        .stdout(std::fs::File::create(&result).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut outcome = String::new();
    for _ in 0..300 {
        outcome = std::fs::read_to_string(&result).unwrap_or_default();
        if !outcome.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(keep_reader);
    assert!(hull(&["delete", "--force", &id]).status().unwrap().success());
    let outcome = outcome.trim();
    assert!(
        outcome == "open-refused" || outcome.starts_with("refused:"),
        "the attack must find its victim and fail: {outcome:?}"
    );
    assert!(std::fs::read(&bin).unwrap() == original, "the runtime binary was modified");
}

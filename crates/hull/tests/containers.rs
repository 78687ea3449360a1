//! The engine's containers through the `hull` binary, as root, with a busybox image
//! imported from Debian's busybox-static: exit codes, output and logs, the monitor
//! (detach, logs that survive it, a killed monitor reported truthfully), Docker's flags
//! and defaults, restart policies, a terminal session through a pseudo-terminal,
//! concurrent commands on one container, and that `--rm` and `rm -f` leave nothing
//! (no directory, mount, cgroup or process).

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A store with the busybox image imported as `busybox`.
fn setup(name: &str) -> Store {
    require_root();
    let t = TempDir::new(name);
    let h = Hull::new(t.path());
    let r = rootfs(t.path());
    for a in [
        "env", "hostname", "ps", "mount", "ifconfig", "ulimit", "wc", "grep", "touch", "kill", "pwd", "readlink",
        "head", "tr",
    ] {
        let _ = std::os::unix::fs::symlink("busybox", r.join("bin").join(a));
    }
    std::fs::create_dir_all(r.join("data")).unwrap();
    std::fs::write(r.join("data/seed"), "from-image\n").unwrap();
    std::os::unix::fs::symlink("/etc", r.join("hostetc")).unwrap();
    h.ok(&["import", r.to_str().unwrap(), "busybox"]);
    Store { h, t }
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each set of flags makes `run --rm busybox true` exit 125 with one error line.
fn refused(h: &Hull, sets: &[&[&str]]) {
    for bad in sets {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(bad);
        args.extend_from_slice(&["busybox", "true"]);
        let o = h.run(&args);
        assert_eq!(code(&o), 125, "{bad:?}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "{bad:?}: {}", err(&o));
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn full_id(h: &Hull, name: &str) -> String {
    h.ok(&["inspect", "--format", "{{.Id}}", name]).trim().to_string()
}

#[test]
fn exit_codes_output_and_rm_leave_nothing() {
    let h = setup("exit");
    let o = h.run(&["run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 3"]);
    assert_eq!((code(&o), out(&o).as_str(), err(&o).as_str()), (3, "to-out\n", "to-err\n"));
    assert_eq!(code(&h.run(&["run", "--rm", "busybox", "true"])), 0);
    assert_eq!(code(&h.run(&["run", "--rm", "busybox", "sh", "-c", "exit 1"])), 1);
    let o = h.run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(code(&o), 127, "{}", err(&o));
    assert!(err(&o).contains("executable file not found"), "{}", err(&o));
    assert_eq!(code(&h.run(&["run", "--rm", "busybox", "/etc/passwd"])), 126);
    assert_eq!(code(&h.run(&["run", "--rm", "--no-such-flag", "busybox"])), 125);
    let o = h.run(&["run", "--rm", "--pull", "never", "no-such-image"]);
    assert_eq!(code(&o), 125);
    assert!(err(&o).contains("No such image"), "{}", err(&o));
    // --rm left nothing, and failed runs neither.
    assert!(h.entries("containers").is_empty(), "{:?}", h.entries("containers"));
    assert!(h.entries("names").is_empty(), "{:?}", h.entries("names"));
    // A container killed by `hull kill` exits 137; `wait` prints it.
    let id = h.ok(&["run", "-d", "busybox", "sleep", "100"]).trim().to_string();
    assert_eq!(id.len(), 64);
    h.ok(&["kill", &id[..12]]);
    assert_eq!(h.ok(&["wait", &id]).trim(), "137");
    assert!(h.ok(&["ps", "-a", "--format", "{{.Status}}"]).starts_with("Exited (137)"));
    h.ok(&["rm", &id]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    // A running container is removed only with -f, and then leaves nothing either.
    let id = h.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "100"]).trim().to_string();
    // Its image stays while it exists (its snapshots are the container's layers).
    assert!(h.fails(&["rmi", "busybox"]).contains("being used by container"));
    h.ok(&["image", "prune", "-a"]);
    assert!(h.ok(&["images", "-q"]).len() > 1);
    let e = h.fails(&["rm", "busy"]);
    assert!(e.contains("Stop the container before attempting removal or force remove"), "{e}");
    h.ok(&["rm", "-f", "busy"]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    // A foreground --rm run killed from outside: exit 137, nothing left.
    let child = h
        .cmd()
        .args(["run", "--rm", "--name", "fg", "busybox", "sleep", "100"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the container to run", || {
        h.run(&["inspect", "--format", "{{.State.Status}}", "fg"]).stdout.starts_with(b"running")
    });
    let id = full_id(&h, "fg");
    h.ok(&["kill", "fg"]);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 137);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
}

#[test]
fn detached_logs_exec_stop_and_a_killed_monitor() {
    let h = setup("detach");
    let script =
        "i=0; trap 'echo bye; exit 0' TERM; while true; do echo tick $i; echo warn $i >&2; i=$((i+1)); sleep 0.1; done";
    let id = h
        .ok(&[
            "run",
            "-d",
            "--name",
            "ticker",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .trim()
        .to_string();
    wait_for("output", || h.ok(&["logs", "ticker"]).contains("tick 30"));
    // Logs: stdout and stderr apart, --tail, -t, rotation kept to max-file.
    let o = h.run(&["logs", "--tail", "2", "ticker"]);
    assert_eq!(out(&o).lines().count() + err(&o).lines().count(), 2, "{o:?}");
    assert!(err(&h.run(&["logs", "ticker"])).contains("warn"));
    let o = h.run(&["logs", "-t", "--tail", "2", "ticker"]);
    let t = out(&o) + &err(&o);
    assert!(t.starts_with("20") && t.contains("Z tick") || t.contains("Z warn"), "{t}");
    let dir = h.root.join("containers").join(&id);
    let logs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .collect();
    assert!(logs.len() <= 2 && !logs.is_empty(), "{logs:?}");
    // ps, inspect, top, exec.
    assert!(h.ok(&["ps"]).contains("ticker"));
    assert_eq!(h.ok(&["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(
        h.ok(&["inspect", "--format", "{{.State.Status}} {{.Name}} {{.Config.Image}}", "ticker"]).trim(),
        "running /ticker busybox"
    );
    assert!(h.ok(&["top", "ticker"]).contains("sh -c"));
    let o = h.run(&["exec", "-e", "X=1", "-w", "/data", "ticker", "sh", "-c", "echo $X $(pwd) $(hostname); exit 4"]);
    assert_eq!((code(&o), out(&o)), (4, format!("1 /data {}\n", &id[..12])));
    assert_eq!(code(&h.run(&["exec", "ticker", "nope"])), 127);
    assert_eq!(h.ok(&["exec", "-u", "app", "ticker", "id", "-u"]).trim(), "1234");
    // pause, unpause, rename.
    h.ok(&["pause", "ticker"]);
    assert!(h.ok(&["ps"]).contains("(Paused)"));
    assert!(h.fails(&["exec", "ticker", "true"]).contains("paused"));
    h.ok(&["unpause", "ticker"]);
    h.ok(&["rename", "ticker", "tocker"]);
    assert!(h.fails(&["inspect", "ticker"]).contains("No such object"));
    // `logs -f` follows until the container stops; stop uses the stop signal.
    let mut follow = h
        .cmd()
        .args(["logs", "-f", "--tail", "0", "tocker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    h.ok(&["stop", "-t", "5", "tocker"]);
    let mut followed = String::new();
    follow.stdout.take().unwrap().read_to_string(&mut followed).unwrap();
    assert!(follow.wait().unwrap().success());
    assert!(followed.contains("bye"), "{followed}");
    assert_eq!(h.ok(&["inspect", "--format", "{{.State.ExitCode}}", "tocker"]).trim(), "0");
    // Logs outlive the container's monitor; a restart appends to them.
    assert!(h.ok(&["logs", "tocker"]).contains("bye"));
    h.ok(&["start", "tocker"]);
    assert!(h.ok(&["ps"]).contains("tocker"));
    // A killed monitor: the container is reported as it is, and can be removed.
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "tocker"])).unwrap();
    let monitor = v[0]["State"]["MonitorPid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_for("the monitor to die", || h.ok(&["ps"]).contains("monitor gone"));
    h.ok(&["rm", "-f", "tocker"]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
}

#[test]
fn flags_and_docker_defaults() {
    let h = setup("flags");
    let t = &h.t;
    let run = |args: &[&str]| -> String {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        h.ok(&a)
    };
    // Environment, workdir, user, entrypoint, hostname, labels.
    let env_file = t.path().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let o = run(&[
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "app",
        "-h",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A $FROM_FILE $(pwd) $(id -u):$(id -g) $(hostname) $HOSTNAME $HOME",
    ]);
    assert_eq!(o.trim(), "1 yes /tmp 1234:2345 box box /home/app");
    assert_eq!(run(&["--entrypoint", "echo", "busybox", "a", "b"]).trim(), "a b");
    // Docker's capabilities, seccomp on, no_new_privs off, by default.
    let status = run(&["busybox", "cat", "/proc/self/status"]);
    let field = |s: &str, k: &str| s.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim().to_string();
    assert_eq!(field(&status, "CapEff:"), "00000000a80425fb");
    assert_eq!(field(&status, "Seccomp:"), "2");
    assert_eq!(field(&status, "NoNewPrivs:"), "0");
    let s = run(&[
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert_eq!(
        (field(&s, "CapEff:").as_str(), field(&s, "Seccomp:").as_str(), field(&s, "NoNewPrivs:").as_str()),
        ("0000000000001000", "0", "1")
    );
    let s = run(&["--privileged", "busybox", "cat", "/proc/self/status"]);
    assert_eq!(field(&s, "Seccomp:"), "0");
    // Every capability hull itself holds.
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(field(&s, "CapEff:"), field(&own, "CapBnd:"));
    // The default profile refuses what Docker's refuses (unshare without CAP_SYS_ADMIN).
    let o = h.run(&["run", "--rm", "busybox", "busybox", "unshare", "-m", "true"]);
    assert_ne!(code(&o), 0);
    // Masked and read-only /proc paths; /etc files written for the container.
    let masked = run(&[
        "busybox",
        "sh",
        "-c",
        "for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do [ -e $f ] && wc -c < $f; done; true",
    ]);
    assert!(!masked.is_empty() && masked.lines().all(|l| l.trim() == "0"), "{masked}");
    assert_ne!(code(&h.run(&["run", "--rm", "busybox", "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"])), 0);
    assert!(run(&["busybox", "cat", "/etc/hosts"]).contains("localhost"));
    assert_eq!(run(&["-h", "named", "busybox", "cat", "/etc/hostname"]).trim(), "named");
    // Networks: the default one gives eth0 beside loopback, both up; none has only
    // loopback; host sees the host's (here: the test's own namespace, see common::NetNs).
    let ifs = run(&["busybox", "ifconfig"]);
    assert!(ifs.contains("lo") && ifs.contains("eth0") && ifs.contains("UP"), "{ifs}");
    assert!(run(&["--network", "none", "busybox", "ls", "/sys/class/net"]).split_whitespace().eq(["lo"]));
    let host = String::from_utf8(h.net.cmd("ls").arg("/sys/class/net").output().unwrap().stdout).unwrap();
    let seen = run(&["--network", "host", "busybox", "ls", "/sys/class/net"]);
    assert!(seen.split_whitespace().any(|i| i == "hull0") && !seen.contains("up0"), "{seen} (host: {host})");
    // Mounts: bind (ro), named volume (kept, seeded from the image), tmpfs, read-only root.
    let host_dir = t.path().join("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("f"), "host\n").unwrap();
    let bind = format!("{}:/mnt:ro", host_dir.display());
    assert_eq!(run(&["-v", &bind, "busybox", "cat", "/mnt/f"]).trim(), "host");
    assert_ne!(code(&h.run(&["run", "--rm", "-v", &bind, "busybox", "touch", "/mnt/g"])), 0);
    run(&["-v", "vol1:/data", "busybox", "sh", "-c", "echo kept > /data/new"]);
    assert_eq!(
        run(&["--mount", "type=volume,source=vol1,target=/data", "busybox", "cat", "/data/new", "/data/seed"]),
        "kept\nfrom-image\n"
    );
    assert!(h.ok(&["volume", "ls", "-q"]).contains("vol1"));
    assert!(run(&["--tmpfs", "/scratch:size=1m", "busybox", "mount"]).contains("/scratch type tmpfs"));
    assert_ne!(code(&h.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"])), 0);
    assert_eq!(code(&h.run(&["run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "touch", "/tmp/x"])), 0);
    // A new volume is seeded from the image, never through a symlink in it to the host.
    run(&["-v", "seeded:/hostetc", "busybox", "true"]);
    let seeded = h.root.join("volumes/seeded/_data");
    assert!(seeded.is_dir() && !seeded.join("os-release").exists() && !seeded.join("hostname").exists());
    h.ok(&["volume", "rm", "seeded"]);
    h.ok(&["volume", "rm", "vol1"]);
    assert!(h.ok(&["volume", "ls", "-q"]).trim().is_empty());
    // Limits: ulimit, pids, memory and cpu in the container's cgroup.
    assert_eq!(run(&["--ulimit", "nofile=123:456", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"]), "123\n456\n");
    let id = h
        .ok(&[
            "run",
            "-d",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "busybox",
            "sleep",
            "100",
        ])
        .trim()
        .to_string();
    let read = |v1: &str, v2: &str| -> String {
        for p in [format!("/sys/fs/cgroup/hull/{id}/{v2}"), format!("/sys/fs/cgroup/{v1}")] {
            if let Ok(s) = std::fs::read_to_string(p.replace("{id}", &id)) {
                return s.trim().to_string();
            }
        }
        panic!("no cgroup file {v1} or {v2}");
    };
    assert_eq!(read("memory/hull/{id}/memory.limit_in_bytes", "memory.max"), "67108864");
    assert_eq!(read("pids/hull/{id}/pids.max", "pids.max"), "50");
    let quota = read("cpu/hull/{id}/cpu.cfs_quota_us", "cpu.max");
    assert!(quota == "50000" || quota == "50000 100000", "{quota}");
    h.ok(&["rm", "-f", &id]);
    // --init: hull's init is pid 1 and reaps orphans; the command's status is kept.
    let o = h.run(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; (sleep 0 &); exit 7",
    ]);
    assert_eq!(code(&o), 7, "{}", err(&o));
    assert!(out(&o).starts_with("/sbin/hull-init"), "{}", out(&o));
    // A device, with the name asked for.
    assert!(run(&["--device", "/dev/null:/dev/mynull", "busybox", "ls", "-l", "/dev/mynull"]).starts_with('c'));
    // Bad flags: one line, exit 125, nothing made.
    for bad in [
        &["--memory", "lots"][..],
        &["--restart", "sometimes"],
        &["-v", "relative:dir"],
        &["--ulimit", "nofile=9:1"],
        &["--cap-add", "BOGUS"],
        &["--network", "bridge2"],
        &["--security-opt", "seccomp=/nonexistent.json"],
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(bad);
        a.extend(["busybox", "true"]);
        let o = h.run(&a);
        assert_eq!(code(&o), 125, "{bad:?}: {}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "{bad:?}: {}", err(&o));
    }
    assert!(h.entries("containers").is_empty(), "{:?}", h.entries("containers"));
}

#[test]
fn restart_policies_and_stop_signals() {
    let h = setup("restart");
    // on-failure:2 restarts twice, then stays exited.
    let id =
        h.ok(&["run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"]).trim().to_string();
    wait_for("two restarts", || {
        h.ok(&["inspect", "--format", "{{.RestartCount}} {{.State.Status}}", &id]).trim() == "2 exited"
    });
    assert_eq!(h.ok(&["logs", &id]).matches("run").count(), 3);
    // always: restarts after a clean exit too, until stopped.
    let id2 = h
        .ok(&[
            "run",
            "-d",
            "--restart",
            "always",
            "--stop-signal",
            "USR1",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 9' USR1; sleep 0.3 & wait",
        ])
        .trim()
        .to_string();
    wait_for("a restart", || {
        h.ok(&["inspect", "--format", "{{.RestartCount}}", &id2]).trim().parse::<u32>().unwrap() >= 1
    });
    h.ok(&["stop", &id2]);
    let state = h.ok(&["inspect", "--format", "{{.State.Status}}", &id2]);
    assert_eq!(state.trim(), "exited");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        h.ok(&["inspect", "--format", "{{.State.Status}}", &id2]).trim(),
        "exited",
        "a stopped container is not restarted"
    );
    assert!(h.run(&["run", "--rm", "--restart", "always", "busybox", "true"]).status.code() == Some(125));
    h.ok(&["rm", &id, &id2]);
    assert!(leftovers(&h, &id).is_empty() && leftovers(&h, &id2).is_empty());
}

/// `hull ARGS` with a new pseudo-terminal as its stdio; returns it and the master.
fn on_pty(h: &Hull, args: &[&str]) -> (std::process::Child, std::fs::File) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let child = h
        .cmd()
        .args(args)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    (child, std::fs::File::from(pty.master))
}

/// Reads from a pty master until `want` shows up.
fn read_until(master: &mut std::fs::File, want: &str, seen: &mut String) {
    let until = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        assert!(Instant::now() < until, "no {want:?} in {seen:?}");
        let mut p = libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } > 0 {
            match master.read(&mut buf) {
                Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => return,
            }
        }
    }
}

#[test]
fn a_terminal_session_and_detaching() {
    let h = setup("tty");
    let (mut child, mut master) = on_pty(&h, &["run", "-it", "--name", "term", "busybox", "sh"]);
    let mut seen = String::new();
    master.write_all(b"tty; echo sum-$((40+2))\n").unwrap();
    read_until(&mut master, "sum-42", &mut seen);
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    // Detach with ctrl-p ctrl-q: the command returns, the container runs on.
    master.write_all(&[16, 17]).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(h.ok(&["inspect", "--format", "{{.State.Status}}", "term"]).trim(), "running");
    // Attach again through a new terminal and end the shell with a status.
    let (mut child, mut master) = on_pty(&h, &["attach", "term"]);
    std::thread::sleep(Duration::from_millis(300));
    let mut seen = String::new();
    master.write_all(b"echo back-$((1+1)); exit 5\n").unwrap();
    read_until(&mut master, "back-2", &mut seen);
    assert_eq!(child.wait().unwrap().code(), Some(5));
    // `-i` without a terminal: stdin is piped through and closed at its end.
    let mut c = h
        .cmd()
        .args(["run", "--rm", "-i", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!((code(&o), out(&o).as_str()), (0, "piped\n"));
    h.ok(&["rm", "-f", "term"]);
}

#[test]
fn concurrent_commands_on_one_container() {
    let h = setup("concurrent");
    let id = h.ok(&["run", "-d", "--name", "cc", "busybox", "sleep", "1000"]).trim().to_string();
    let verbs: Vec<Vec<&str>> = vec![
        vec!["stop", "-t", "1", "cc"],
        vec!["start", "cc"],
        vec!["kill", "cc"],
        vec!["restart", "-t", "1", "cc"],
        vec!["pause", "cc"],
        vec!["unpause", "cc"],
        vec!["ps", "-a"],
        vec!["inspect", "cc"],
    ];
    std::thread::scope(|s| {
        for round in 0..2 {
            for v in &verbs {
                let h = &h;
                s.spawn(move || {
                    let o = h.run(v);
                    // Each command either does its job or says why not, in one line.
                    assert!(o.status.success() || err(&o).lines().count() >= 1, "{round} {v:?}");
                    assert!(!err(&o).contains("panicked"), "{v:?}: {}", err(&o));
                });
            }
        }
    });
    // Whatever the interleaving, the container is in one truthful state and goes whole.
    let st = h.ok(&["inspect", "--format", "{{.State.Status}}", "cc"]);
    assert!(["running", "exited", "paused", "created"].contains(&st.trim()), "{st}");
    h.ok(&["rm", "-f", "cc"]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    assert!(h.entries("containers").is_empty());
}

#[test]
fn files_cp_export_diff_and_commit() {
    let h = setup("files");
    let dir = h.t.path().join("host");
    std::fs::create_dir_all(dir.join("tree/sub")).unwrap();
    std::fs::write(dir.join("tree/sub/f"), "in-tree\n").unwrap();
    std::fs::write(dir.join("note"), "note\n").unwrap();
    let host = |p: &str| dir.join(p).to_str().unwrap().to_string();
    h.ok(&[
        "run",
        "-d",
        "--name",
        "fc",
        "-v",
        "vol:/vol",
        "busybox",
        "sh",
        "-c",
        "echo changed > /etc/passwd; rm /data/seed; mkdir -p /new/deep; echo n > /new/deep/x; \
         ln -s /etc /new/link; echo in-volume > /vol/v; exec sleep 1000",
    ]);
    wait_for("the container's changes", || h.run(&["exec", "fc", "cat", "/vol/v"]).status.success());

    // diff: changes only, not the mount points the runtime made (/etc/hostname, /proc…).
    let d = h.ok(&["diff", "fc"]);
    let lines: Vec<&str> = d.lines().collect();
    for want in
        ["C /etc", "C /etc/passwd", "C /data", "D /data/seed", "A /new", "A /new/deep", "A /new/deep/x", "A /new/link"]
    {
        assert!(lines.contains(&want), "{want} missing in:\n{d}");
    }
    assert!(!d.contains("hostname") && !d.contains("/proc") && !d.contains("/vol"), "{d}");

    // cp out: a file to a new name, a directory into a directory, a directory's
    // contents, a symlink as a link, a volume's file (seen as the container sees it).
    h.ok(&["cp", "fc:/etc/passwd", &host("passwd")]);
    assert_eq!(std::fs::read_to_string(dir.join("passwd")).unwrap(), "changed\n");
    h.ok(&["cp", "fc:/new", &host("tree")]);
    assert_eq!(std::fs::read_to_string(dir.join("tree/new/deep/x")).unwrap(), "n\n");
    assert_eq!(std::fs::read_link(dir.join("tree/new/link")).unwrap(), std::path::Path::new("/etc"));
    h.ok(&["cp", "fc:/new/.", &host("contents")]);
    assert!(dir.join("contents/deep/x").exists());
    h.ok(&["cp", "fc:/vol/v", &host("v")]);
    assert_eq!(std::fs::read_to_string(dir.join("v")).unwrap(), "in-volume\n");
    // A link planted in the container resolves inside it, never on the host.
    h.ok(&["cp", "fc:/new/link/hostname", &host("hn")]);
    assert_ne!(std::fs::read_to_string(dir.join("hn")).unwrap(), std::fs::read_to_string("/etc/hostname").unwrap());
    // To standard output: a tar stream.
    let o = h.run(&["cp", "fc:/new/deep/x", "-"]);
    let mut a = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert_eq!(names, ["x"]);
    // Not found: exit 1, one line, nothing made.
    let o = h.run(&["cp", "fc:/no/such", &host("nothing")]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("Could not find the file /no/such"), "{}", err(&o));
    assert!(!dir.join("nothing").exists());

    // cp in: a file into a directory, a tree under a new name, owned by root without -a.
    h.ok(&["cp", &host("note"), "fc:/new/"]);
    assert_eq!(h.ok(&["exec", "fc", "cat", "/new/note"]), "note\n");
    h.ok(&["cp", &host("tree"), "fc:/copied"]);
    assert_eq!(h.ok(&["exec", "fc", "cat", "/copied/sub/f"]), "in-tree\n");
    // Through a symlink the container planted: lands in the container's /etc.
    h.ok(&["cp", &host("note"), "fc:/new/link/planted"]);
    assert_eq!(h.ok(&["exec", "fc", "cat", "/etc/planted"]), "note\n");
    assert!(!std::path::Path::new("/etc/planted").exists());
    // A tar stream on standard input.
    let mut tarball = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(3);
    hd.set_mode(0o644);
    hd.set_cksum();
    tarball.append_data(&mut hd, "from-stdin", &b"abc"[..]).unwrap();
    let bytes = tarball.into_inner().unwrap();
    let mut c = h.cmd();
    c.args(["cp", "-", "fc:/new"]).stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(h.ok(&["exec", "fc", "cat", "/new/from-stdin"]), "abc");

    // A stopped container: cp still works (its root filesystem), export too.
    h.ok(&["stop", "-t", "0", "fc"]);
    h.ok(&["cp", &host("note"), "fc:/stopped-note"]);
    h.ok(&["cp", "fc:/stopped-note", &host("back")]);
    assert_eq!(std::fs::read_to_string(dir.join("back")).unwrap(), "note\n");
    let o = h.run(&["export", "fc"]);
    assert!(o.status.success());
    let mut a = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = a.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.contains(&"new/deep/x".to_string()) && names.contains(&"bin/busybox".to_string()));
    assert!(!names.iter().any(|n| n == "data/seed"), "a deleted file is exported");
    h.ok(&["export", "-o", &host("export.tar"), "fc"]);
    assert!(std::fs::metadata(dir.join("export.tar")).unwrap().len() > 100_000);

    // An xattr (as a file capability would be) set on a changed file goes with it.
    let fc_id = full_id(&h, "fc");
    let noted = h.root.join("containers").join(&fc_id).join("rootfs/merged/stopped-note");
    let c = std::ffi::CString::new(noted.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated strings and a four-byte value.
    let r = unsafe { libc::setxattr(c.as_ptr(), c"trusted.hull-test".as_ptr(), b"kept".as_ptr().cast(), 4, 0) };
    assert_eq!(r, 0, "setxattr {}: {}", noted.display(), std::io::Error::last_os_error());

    // commit: a new image with the changes and the container's command; --change.
    let id = h.ok(&[
        "commit",
        "-m",
        "msg",
        "-c",
        "ENV COMMITTED=yes",
        "-c",
        "CMD [\"cat\", \"/new/deep/x\"]",
        "fc",
        "committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(h.ok(&["run", "--rm", "committed:1"]), "n\n");
    let o = h.ok(&[
        "run",
        "--rm",
        "committed:1",
        "sh",
        "-c",
        "cat /etc/passwd; ls /data; echo $COMMITTED; cat /stopped-note",
    ]);
    assert_eq!(o, "changed\nyes\nnote\n");
    h.ok(&["create", "--name", "from-commit", "committed:1"]);
    let o = h.run(&["export", "from-commit"]);
    let mut a = tar::Archive::new(&o.stdout[..]);
    let kept = a.entries().unwrap().map(|e| e.unwrap()).any(|mut e| {
        e.path().unwrap().ends_with("stopped-note")
            && e.pax_extensions().unwrap().into_iter().flatten().any(|x| {
                let x = x.unwrap();
                x.key().unwrap() == "SCHILY.xattr.trusted.hull-test" && x.value_bytes() == b"kept"
            })
    });
    assert!(kept, "the committed layer keeps the file's xattr");
    h.ok(&["rm", "from-commit"]);
    let inspect = h.inspect("committed:1");
    assert_eq!(inspect["RootFS"]["Layers"].as_array().map(Vec::len), Some(2), "{inspect}");
    // The committed image is in use by nothing, the parent by the container.
    let e = err(&h.run(&["rmi", "busybox"]));
    assert!(e.contains("being used"), "{e}");

    // stats of a running container, system df, info, version, port, prune.
    h.ok(&["run", "-d", "--name", "sc", "--memory", "64m", "busybox", "sleep", "1000"]);
    let s = h.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "sc"]);
    assert!(s.starts_with("sc ") && s.contains(" / 64MiB 1"), "{s}");
    let s = h.ok(&["stats", "--no-stream"]);
    assert!(s.starts_with("CONTAINER ID") && s.contains(" sc "), "{s}");
    let df = h.ok(&["system", "df"]);
    assert!(df.contains("Images") && df.contains("Containers      2       1"), "{df}");
    assert_eq!(h.ok(&["info", "--format", "{{.ContainersRunning}} {{.LoggingDriver}}"]).trim(), "1 json-file");
    assert!(h.ok(&["version"]).contains("Version:"));
    assert_eq!(h.ok(&["port", "sc"]), "");
    assert_eq!(code(&h.run(&["port", "s", "80"])), 1);
    assert_eq!(h.ok(&["container", "ls", "-q"]).lines().count(), 1);
    let fid = full_id(&h, "fc");
    let p = h.ok(&["container", "prune", "-f"]);
    assert!(p.contains(&fid), "{p}");
    assert_eq!(code(&h.run(&["inspect", "fc"])), 1, "the stopped container was pruned");
    h.ok(&["system", "prune", "-a", "--volumes"]);
    assert_eq!(h.ok(&["ps", "-q"]).lines().count(), 1, "the running one stays");
    assert!(h.ok(&["images", "-q"]).lines().count() == 1, "only the image in use stays");
    let id = full_id(&h, "sc");
    h.ok(&["rm", "-f", "sc"]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
}

#[test]
fn namespaces_dns_hosts_sysctls_and_more_limits() {
    let h = setup("more-flags");
    let cid = h.t.path().join("cid");
    let cid_s = cid.to_str().unwrap();
    let o = h.ok(&[
        "run",
        "--rm",
        "--cidfile",
        cid_s,
        "--add-host",
        "db:10.0.0.5",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--shm-size",
        "128m",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmni=1000",
        "--group-add",
        "10",
        "--oom-score-adj",
        "300",
        "busybox",
        "sh",
        "-c",
        "grep -w db /etc/hosts; grep -v '^#' /etc/resolv.conf; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; \
         cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; id -G; cat /proc/self/oom_score_adj",
    ]);
    assert_eq!(
        o,
        "10.0.0.5\tdb\nnameserver 192.0.2.53\nsearch example.com\noptions ndots:2\n131072\n1\n1000\n0 10\n300\n"
    );
    assert_eq!(std::fs::read_to_string(&cid).unwrap().len(), 64, "the cidfile holds the id");
    // The cidfile exists: refused before anything is made.
    assert_eq!(code(&h.run(&["run", "--rm", "--cidfile", cid_s, "busybox", "true"])), 125);
    // Resource flags reach the cgroup (v1 or v2 files).
    let id = h
        .ok(&[
            "run",
            "-d",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--memory",
            "64m",
            "--memory-reservation",
            "32m",
            "busybox",
            "sleep",
            "100",
        ])
        .trim()
        .to_string();
    let files = |v1: &str, v2: &str| {
        [format!("/sys/fs/cgroup/{v1}"), format!("/sys/fs/cgroup/hull/{id}/{v2}")]
            .into_iter()
            .find_map(|p| std::fs::read_to_string(p.replace("ID", &id)).ok())
            .unwrap_or_default()
    };
    let quota = files("cpu/hull/ID/cpu.cfs_quota_us", "cpu.max");
    assert!(quota.trim() == "25000" || quota.trim() == "25000 50000", "{quota}");
    let low = files("memory/hull/ID/memory.soft_limit_in_bytes", "memory.low");
    assert_eq!(low.trim(), "33554432");
    h.ok(&["rm", "-f", &id]);
    // Sharing: another container's pid and ipc namespaces, the host's pid and uts.
    h.ok(&["run", "-d", "--name", "target", "busybox", "sleep", "100"]);
    let ps = h.ok(&["run", "--rm", "--pid", "container:target", "--ipc", "container:target", "busybox", "ps"]);
    assert!(ps.contains("sleep 100"), "{ps}");
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let o =
        h.ok(&["run", "--rm", "--pid", "host", "--uts", "host", "busybox", "sh", "-c", "hostname; cat /proc/1/comm"]);
    let host_init = std::fs::read_to_string("/proc/1/comm").unwrap();
    assert_eq!(o, format!("{host_name}\n{host_init}"));
    // Refused, one line each, exit 125, nothing made.
    refused(
        &h,
        &[
            &["--userns", "keep-id"][..],
            &["--sysctl", "kernel.hostname=x"],
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            &["--add-host", "nohost"],
            &["--dns", "not-an-ip"],
            &["--oom-score-adj", "2000"],
            &["--cpus", "1", "--cpu-quota", "1000"],
            &["--ipc", "container:nonexistent"],
            &["--uts", "host", "--hostname", "x"],
            &["--blkio-weight", "5"],
        ],
    );
    assert_eq!(h.entries("containers").len(), 1, "only the target is left");
}

#[test]
fn oom_kills_are_reported_and_lost_runtime_state_is_removable() {
    let h = setup("oom");
    let o = h.run(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(code(&o), 137, "{}", err(&o));
    assert_eq!(h.ok(&["inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", "oom"]), "true 137\n");
    // A container whose runtime state was lost (its monitor alive) is still removed
    // whole: the init is found by pid and start time, its cgroups by path.
    let id = h.ok(&["run", "-d", "busybox", "sleep", "1000"]).trim().to_string();
    let pid: i32 = h.ok(&["inspect", "--format", "{{.State.Pid}}", &id]).trim().parse().unwrap();
    assert!(pid > 0);
    std::fs::remove_dir_all(h.root.join("runtime").join(&id)).unwrap();
    h.ok(&["rm", "-f", &id]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    wait_for("the init to be gone", || !std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// A block device of this machine (`/dev/NAME` for the first entry of /sys/block that
/// exists): the block I/O flags need one. The VM loads brd, so it has /dev/ram0.
fn block_device() -> (String, u64, u64) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for e in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let p = format!("/dev/{}", e.file_name().to_string_lossy());
        if let Ok(m) = std::fs::metadata(&p) {
            if m.file_type().is_block_device() {
                return (p, nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev()));
            }
        }
    }
    panic!("no block device in /sys/block: the block I/O flags cannot be tested");
}

/// A cgroup file of the container with cgroup path `path`: v1 `CONTROLLER/PATH/v1`, or
/// v2 `PATH/v2` under /sys/fs/cgroup.
fn cgroup_file(path: &str, controller: &str, v1: &str, v2: &str) -> Option<String> {
    [format!("/sys/fs/cgroup/{controller}{path}/{v1}"), format!("/sys/fs/cgroup{path}/{v2}")]
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
}

#[test]
fn update_cgroup_parent_cgroupns_and_block_io_limits() {
    let h = setup("update");
    let (dev, major, minor) = block_device();
    let parent = format!("hull-test-parent-{}", std::process::id());
    let id = h
        .ok(&[
            "run",
            "-d",
            "--name",
            "limited",
            "--cgroup-parent",
            &parent,
            "--device-read-bps",
            &format!("{dev}:1mb"),
            "--device-write-iops",
            &format!("{dev}:100"),
            "--memory",
            "64m",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let path = format!("/{parent}/{id}");
    let read_bps = cgroup_file(&path, "blkio", "blkio.throttle.read_bps_device", "io.max").expect("the cgroup");
    let want = format!("{major}:{minor}");
    assert!(
        read_bps.contains(&format!("{want} 1048576")) || read_bps.contains(&format!("{want} rbps=1048576")),
        "{read_bps}"
    );
    let iops = cgroup_file(&path, "blkio", "blkio.throttle.write_iops_device", "io.max").unwrap();
    assert!(iops.contains(&format!("{want} 100")) || iops.contains("wiops=100"), "{iops}");
    assert!(!std::path::Path::new("/sys/fs/cgroup/memory/hull").join(&id).exists(), "not under /hull");

    // update: a running container's cgroup, its config (kept by a restart), its policy.
    let mem = || cgroup_file(&path, "memory", "memory.limit_in_bytes", "memory.max").unwrap().trim().to_string();
    assert_eq!(mem(), "67108864");
    assert_eq!(
        h.ok(&["update", "--memory", "32m", "--memory-swap", "64m", "--restart", "on-failure:3", "limited"]),
        "limited\n"
    );
    assert_eq!(mem(), "33554432");
    let v = h.ok(&["inspect", "--format", "{{json .HostConfig.RestartPolicy}}", "limited"]);
    assert!(v.contains("on-failure") && v.contains('3'), "{v}");
    h.ok(&["restart", "-t", "0", "limited"]);
    assert_eq!(mem(), "33554432", "kept across a restart");
    // Docker's update keeps the swap limit; memory above it is refused.
    h.ok(&["update", "--memory", "48m", "limited"]);
    let hc = h.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CgroupParent}}",
        "limited",
    ]);
    assert_eq!(hc, format!("50331648 67108864 /{parent}\n"));
    let e = h.fails(&["update", "--memory", "128m", "limited"]);
    assert!(e.contains("smaller than already set memoryswap"), "{e}");
    let e = h.fails(&["update", "limited"]);
    assert!(e.contains("one or more flags"), "{e}");
    let e = h.fails(&["update", "--cpus", "1", "--cpu-quota", "5000", "limited"]);
    assert_eq!(e.lines().count(), 1, "{e}");
    h.ok(&["rm", "-f", "limited"]);
    assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/blkio"] {
        assert!(!std::path::Path::new(base).join(&parent).exists(), "the parent hull made is gone from {base}");
    }

    // The cgroup namespace: private shows the container's cgroup as its root.
    let own = h.ok(&["run", "--rm", "--cgroupns", "private", "busybox", "cat", "/proc/self/cgroup"]);
    assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
    let host = h.ok(&["run", "--rm", "--cgroupns", "host", "busybox", "cat", "/proc/self/cgroup"]);
    assert!(host.lines().any(|l| l.contains("/hull/")), "{host}");

    // Refused, one line each, exit 125, nothing made.
    refused(
        &h,
        &[
            &["--device-read-bps", "/dev/null:1mb"][..],
            &["--device-read-bps", &format!("{dev}:fast")],
            &["--device-write-iops", "nocolon"],
            &["--blkio-weight-device", &format!("{dev}:5")],
            &["--cgroupns", "shared"],
            &["--cgroup-parent", "../escape"],
        ],
    );
    assert!(h.entries("containers").is_empty());
    // --kernel-memory is accepted with Docker's warning and has no effect.
    let o = h.run(&["run", "--rm", "--kernel-memory", "50m", "busybox", "true"]);
    assert_eq!(code(&o), 0);
    assert!(err(&o).contains("kernel memory limit is deprecated"), "{}", err(&o));
}

#[test]
fn health_checks() {
    let h = setup("health");
    let status = |name: &str| h.ok(&["ps", "-a", "--filter", &format!("name={name}"), "--format", "{{.Status}}"]);
    h.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok && echo fine",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(status("checked").contains("(health: starting)") || status("checked").contains("(unhealthy)"));
    wait_for("unhealthy", || status("checked").contains("(unhealthy)"));
    h.ok(&["exec", "checked", "touch", "/tmp/ok"]);
    wait_for("healthy", || status("checked").contains("(healthy)"));
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "checked"])).unwrap();
    let health = &v[0]["State"]["Health"];
    assert_eq!(health["Status"], "healthy");
    assert_eq!(health["FailingStreak"], 0);
    let log = health["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{log:?}");
    assert_eq!(log.last().unwrap()["Output"], "fine\n");
    assert_eq!(v[0]["Config"]["Healthcheck"]["Test"], serde_json::json!(["CMD-SHELL", "test -f /tmp/ok && echo fine"]));
    assert_eq!(h.ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]), "checked\n");
    assert_eq!(h.ok(&["ps", "--filter", "health=unhealthy", "--format", "{{.Names}}"]), "");
    // commit keeps the check (Docker's Config.Healthcheck): a container of the new
    // image runs it, and finds the /tmp/ok the first one made.
    h.ok(&["commit", "checked", "checked:image"]);
    h.ok(&["run", "-d", "--name", "heir", "checked:image"]);
    wait_for("the committed check", || status("heir").contains("(healthy)"));
    let test = h.ok(&["inspect", "--format", "{{json .Config.Healthcheck.Test}}", "heir"]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","test -f /tmp/ok && echo fine"]"#);

    // A check that outlives its timeout is killed and fails.
    h.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "200ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    wait_for("a timed-out check", || status("slow").contains("(unhealthy)"));
    let out = h.ok(&["inspect", "--format", "{{json .State.Health.Log}}", "slow"]);
    assert!(out.contains("Health check exceeded timeout") && out.contains("\"ExitCode\":-1"), "{out}");
    // Timed-out probes are killed in the container, not left to pile up.
    std::thread::sleep(Duration::from_millis(1500));
    let top = h.ok(&["top", "slow"]);
    assert!(top.matches("sleep 30").count() <= 1, "{top}");

    // No check: no health in ps or inspect.
    h.ok(&["run", "-d", "--name", "plain", "--no-healthcheck", "busybox", "sleep", "1000"]);
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "plain"])).unwrap();
    assert!(v[0]["State"].get("Health").is_none());
    assert!(!status("plain").contains('('), "{}", status("plain"));
    assert_eq!(h.ok(&["ps", "--filter", "health=none", "--format", "{{.Names}}"]), "plain\n");
    for bad in ["5", "10us"] {
        let o = h.run(&["run", "--rm", "--health-interval", bad, "busybox", "true"]);
        assert_eq!((code(&o), err(&o).lines().count()), (125, 1), "{}", err(&o));
    }
    for n in ["checked", "slow", "plain", "heir"] {
        let id = full_id(&h, n);
        h.ok(&["rm", "-f", n]);
        assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    }
}

/// A directory the test bind-mounts onto itself with a propagation type; unmounted
/// (with anything below it) on drop.
struct SelfBind(std::path::PathBuf);

impl SelfBind {
    fn new(dir: std::path::PathBuf, propagation: &str) -> SelfBind {
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        for args in [vec!["--bind", d, d], vec![propagation, d]] {
            let st = std::process::Command::new("mount").args(&args).status().unwrap();
            assert!(st.success(), "mount {args:?}");
        }
        SelfBind(dir)
    }
}

impl Drop for SelfBind {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-R").arg(&self.0).status();
    }
}

#[test]
fn log_driver_ports_and_mount_propagation() {
    let h = setup("logdrv");
    // --log-driver none: nothing kept, logs refused as Docker's.
    h.ok(&["run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi"]);
    let id = full_id(&h, "quiet");
    assert!(!h.root.join("containers").join(&id).join(format!("{id}-json.log")).exists());
    let e = h.fails(&["logs", "quiet"]);
    assert!(e.contains("does not support reading"), "{e}");
    assert_eq!(h.ok(&["inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "quiet"]), "none\n");
    h.ok(&["rm", "quiet"]);
    // Ports: exposed ports are recorded; publishing needs a bridge network.
    h.ok(&["create", "--name", "exposed", "--expose", "80", "--expose", "5000-5001/udp", "busybox", "true"]);
    let v: serde_json::Value =
        serde_json::from_str(&h.ok(&["inspect", "--format", "{{json .Config.ExposedPorts}}", "exposed"])).unwrap();
    assert_eq!(v, serde_json::json!({"80/tcp": {}, "5000/udp": {}, "5001/udp": {}}));
    h.ok(&["rm", "exposed"]);
    let o = h.run(&["run", "--rm", "--network", "host", "-p", "8080:80", "busybox", "true"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("Published ports are discarded when using host network mode"));

    // rshared: a mount made in the container appears on the host.
    let shared = SelfBind::new(h.t.path().join("shared"), "--make-shared");
    let src = format!("{}:/shared:rshared", shared.0.display());
    h.ok(&[
        "run",
        "--rm",
        "--privileged",
        "-v",
        &src,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /shared/sub && mount -t tmpfs tmp /shared/sub && touch /shared/sub/made-inside",
    ]);
    assert!(shared.0.join("sub/made-inside").exists(), "the container's mount propagated to the host");
    // rprivate (the default): it does not.
    let private_src = format!("{}:/shared", shared.0.display());
    h.ok(&[
        "run",
        "--rm",
        "--privileged",
        "-v",
        &private_src,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /shared/sub2 && mount -t tmpfs tmp /shared/sub2 && touch /shared/sub2/x",
    ]);
    assert!(!shared.0.join("sub2/x").exists());
    let private = SelfBind::new(h.t.path().join("private"), "--make-private");
    let bad: Vec<Vec<String>> = vec![
        vec!["-v".to_string(), format!("{}:/p:rshared", private.0.display())],
        vec!["--mount".into(), format!("type=bind,source={},target=/p,bind-propagation=rslave", private.0.display())],
        vec!["--log-driver".into(), "syslog".into()],
        vec!["--expose".into(), "http".into()],
        vec!["-p".into(), "8080:80/icmp".into()],
        vec!["--network".into(), "none".into(), "-p".into(), "8080:80".into()],
        vec!["-v".into(), "vol:/v:rshared".into()],
    ];
    let bad: Vec<Vec<&str>> = bad.iter().map(|b| b.iter().map(String::as_str).collect()).collect();
    refused(&h, &bad.iter().map(Vec::as_slice).collect::<Vec<_>>());
    assert!(h.entries("containers").is_empty());
}

/// A container whose monitor and init died without a word (a crash, a reboot) starts
/// again; `start --all --filter restart-policy=always` (what contrib/systemd's unit runs
/// at boot) brings back exactly the containers with that policy.
#[test]
fn crashed_containers_start_again_and_start_all() {
    let h = setup("crash");
    for (name, policy) in [("keeper", "always"), ("once", "no")] {
        h.ok(&["run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "1000"]);
        let pids = h.ok(&["inspect", "--format", "{{.State.MonitorPid}} {{.State.Pid}}", name]);
        for pid in pids.split_whitespace() {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.parse().unwrap()), nix::sys::signal::SIGKILL)
                .unwrap();
        }
        let id = full_id(&h, name);
        wait_for("the init to go", || !leftovers(&h, &id).iter().any(|l| l.starts_with("process")));
    }
    assert_eq!(h.ok(&["ps", "-a", "--filter", "restart-policy=always", "--format", "{{.Names}}"]), "keeper\n");
    assert_eq!(h.ok(&["start", "--all", "--filter", "restart-policy=always"]), "keeper\n");
    assert_eq!(h.ok(&["ps", "--format", "{{.Names}} {{.State}}"]), "keeper running\n");
    h.ok(&["start", "once"]);
    assert_eq!(h.ok(&["exec", "once", "echo", "back"]), "back\n");
    let e = h.fails(&["start", "--all", "-a"]);
    assert!(e.contains("cannot be used with"), "{e}");
    for n in ["keeper", "once"] {
        let id = full_id(&h, n);
        h.ok(&["rm", "-f", n]);
        assert!(leftovers(&h, &id).is_empty(), "{:?}", leftovers(&h, &id));
    }
}

#[test]
fn more_docker_flags() {
    let h = setup("more");
    let labels = h.t.path().join("labels");
    std::fs::write(&labels, "a=1\n# a comment\n\nb=2\n").unwrap();
    let id = h
        .ok(&[
            "run",
            "-d",
            "--name",
            "many",
            "--domainname",
            "example.org",
            "--label-file",
            labels.to_str().unwrap(),
            "--label",
            "b=3",
            "--annotation",
            "org.example.key=value",
            "--device-cgroup-rule",
            "c 1:4 rwm",
            "--security-opt",
            "systempaths=unconfined",
            "--memory-swappiness",
            "10",
            "--disable-content-trust",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    assert_eq!(h.ok(&["exec", "many", "cat", "/proc/sys/kernel/domainname"]), "example.org\n");
    // /proc/sys is not made read-only (a mount of its own) with systempaths=unconfined.
    let count = "grep -c ' /proc/sys ' /proc/self/mountinfo || true";
    assert_eq!(h.ok(&["exec", "many", "sh", "-c", count]), "0\n");
    assert_eq!(h.ok(&["run", "--rm", "busybox", "sh", "-c", count]), "1\n", "the default");
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "many"])).unwrap();
    assert_eq!(v[0]["Config"]["Labels"], serde_json::json!({"a": "1", "b": "3"}));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.root.join("containers").join(&id).join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["annotations"]["org.example.key"], "value");
    let rules = config["linux"]["resources"]["devices"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["type"] == "c" && r["major"] == 1 && r["minor"] == 4), "{rules:?}");
    if let Ok(sw) = std::fs::read_to_string(format!("/sys/fs/cgroup/memory/hull/{id}/memory.swappiness")) {
        assert_eq!(sw.trim(), "10");
    }
    h.ok(&["rm", "-f", "many"]);

    // --volumes-from: the other container's volumes, read-only with :ro.
    h.ok(&["run", "--name", "vsrc", "-v", "shared-vol:/shared", "busybox", "sh", "-c", "echo hi > /shared/f"]);
    let o = h.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "vsrc:ro",
        "busybox",
        "sh",
        "-c",
        "cat /shared/f; touch /shared/g 2>/dev/null || echo read-only",
    ]);
    assert_eq!(o, "hi\nread-only\n");
    h.ok(&["rm", "-v", "vsrc"]);
    assert!(h.ok(&["volume", "ls", "-q"]).contains("shared-vol"), "a named volume outlives rm -v");

    refused(
        &h,
        &[
            &["--memory-swappiness", "200"][..],
            &["--device-cgroup-rule", "x 1:1 r"],
            &["--device-cgroup-rule", "c 1:1 rwx"],
            &["--annotation", "novalue"],
            &["--volumes-from", "nonexistent"],
            &["--uts", "host", "--domainname", "d"],
        ],
    );
    assert!(h.entries("containers").is_empty());
}

/// Seconds since the epoch with nanoseconds, as `--since`/`--until` take them.
fn epoch_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[test]
fn events_are_logged_filtered_and_followed() {
    let h = setup("events");
    let since = epoch_now();
    // A follower in another process sees what this one does.
    let mut follower = h
        .cmd()
        .args(["events", "--since", &since, "--filter", "event=create", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let id = h.ok(&["create", "--name", "ev1", "--label", "app=web", "busybox", "true"]).trim().to_string();
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("the follower saw the create");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["Type"].as_str(), v["Action"].as_str(), v["Actor"]["ID"].as_str()),
        (Some("container"), Some("create"), Some(id.as_str()))
    );
    assert_eq!(v["Actor"]["Attributes"]["app"], "web");
    let _ = follower.kill();
    let _ = follower.wait();
    let id2 = h.ok(&["run", "-d", "--name", "ev2", "busybox", "sleep", "100"]).trim().to_string();
    h.ok(&["pause", "ev2"]);
    h.ok(&["unpause", "ev2"]);
    h.ok(&["exec", "ev2", "true"]);
    h.ok(&["rename", "ev2", "ev3"]);
    h.ok(&["kill", "ev3"]);
    h.ok(&["rm", "-f", "ev1", "ev3"]);
    h.ok(&["volume", "create", "evvol"]);
    h.ok(&["volume", "rm", "evvol"]);
    h.ok(&["tag", "busybox", "evimage:1"]);
    h.ok(&["rmi", "evimage:1"]);
    let until = epoch_now();
    let json = |filters: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["events", "--since", &since, "--until", &until, "--format", "json"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        h.ok(&args).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let actions = |filters: &[&str]| -> Vec<String> {
        json(filters).iter().map(|e| e["Action"].as_str().unwrap().to_string()).collect()
    };
    let ev3 = actions(&[&format!("container={id2}")]);
    assert_eq!(actions(&["container=ev3"]), ["rename", "kill", "die", "destroy"], "by the name of the moment");
    for a in [
        "start",
        "pause",
        "unpause",
        "exec_create: true",
        "exec_start: true",
        "exec_die",
        "rename",
        "kill",
        "die",
        "destroy",
    ] {
        assert!(ev3.contains(&a.to_string()), "{a} in {ev3:?}");
    }
    let all = json(&[]);
    let rename = all.iter().find(|e| e["Action"] == "rename").unwrap();
    assert_eq!(rename["Actor"]["Attributes"]["oldName"], "/ev2");
    let die = all.iter().find(|e| e["Action"] == "die").unwrap();
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "137");
    assert_eq!(actions(&["type=volume"]), ["create", "destroy"]);
    assert_eq!(actions(&["type=image"]), ["tag", "untag"]);
    assert_eq!(actions(&["event=destroy", "type=container"]), ["destroy", "destroy"]);
    assert_eq!(actions(&["label=app=web", "event=create"]), ["create"]);
    // Docker's line format.
    let text = h.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=ev1",
        "--filter",
        "event=create",
    ]);
    assert!(text.trim_end().ends_with(&format!("container create {id} (app=web, image=busybox, name=ev1)")), "{text}");
    let e = h.fails(&["events", "--filter", "bogus=1"]);
    assert!(e.contains("invalid filter"), "{e}");
}

/// `hull exec` with its output redirected to a host file: the exec'd process gets
/// pipes hull relays, not the file (a process in the container could reopen that
/// through /proc/PID/fd and read or rewrite it whole).
#[test]
fn exec_gives_the_container_pipes_not_the_callers_files() {
    let h = setup("execpipes");
    h.ok(&["run", "-d", "--name", "ep", "busybox", "sleep", "100"]);
    let log = h.t.path().join("host.log");
    std::fs::write(&log, "host secret\n").unwrap();
    let f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let e = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let status = h
        .cmd()
        .args([
            "exec",
            "ep",
            "sh",
            "-c",
            "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2; echo out; echo err >&2",
        ])
        .stdout(f)
        .stderr(e)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "host secret");
    assert!(lines.iter().filter(|l| l.starts_with("pipe:[")).count() == 2, "{text}");
    assert!(!text.contains(log.to_str().unwrap()), "the host file reached the container: {text}");
    assert!(text.contains("out\n") && text.contains("err\n"), "{text}");
    // Input through a pipe too, ended when ours ends; a detached exec writes nowhere.
    let mut c = h.cmd();
    c.args(["exec", "-i", "ep", "sh", "-c", "readlink /proc/self/fd/0; cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"from stdin\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && s.starts_with("pipe:[") && s.ends_with("from stdin\n"), "{s}");
    let f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let before = std::fs::read_to_string(&log).unwrap();
    assert!(h.cmd().args(["exec", "-d", "ep", "sh", "-c", "echo detached"]).stdout(f).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), before);
    h.ok(&["rm", "-f", "ep"]);
}

/// `hull cp` with a container that sees the host's processes (`--pid host`): a link in
/// the container to `/proc/PID/root/…` of a host process must not lead cp to host
/// files, to read or to write (cp resolves in the container's root, no magic links).
#[test]
fn cp_never_follows_a_container_link_to_the_host() {
    let h = setup("cpescape");
    let canary = h.t.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("secret.txt"), "host secret\n").unwrap();
    h.ok(&["run", "-d", "--name", "pe", "--pid", "host", "busybox", "sleep", "100"]);
    let host_dir = format!("/proc/{}/root{}", std::process::id(), canary.display());
    h.ok(&["exec", "pe", "busybox", "ln", "-s", &host_dir, "/hostdir"]);
    h.ok(&["exec", "pe", "busybox", "ln", "-s", &format!("{host_dir}/secret.txt"), "/file"]);
    // Reading through the link: refused, nothing of the host's file comes out.
    let o = h.run(&["cp", "pe:/hostdir/secret.txt", "-"]);
    assert_ne!(code(&o), 0);
    assert!(!out(&o).contains("host secret"), "{}", out(&o));
    let o = h.run(&["cp", "-L", "pe:/file", "-"]);
    assert_ne!(code(&o), 0);
    assert!(!out(&o).contains("host secret"));
    // Without -L the link itself is copied, as it is.
    let dest = h.t.path().join("out");
    std::fs::create_dir_all(&dest).unwrap();
    h.ok(&["cp", "pe:/file", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_link(dest.join("file")).unwrap().to_string_lossy(), format!("{host_dir}/secret.txt"));
    // Writing through the link: refused, the host's file untouched.
    let local = h.t.path().join("secret.txt");
    std::fs::write(&local, "overwritten\n").unwrap();
    let o = h.run(&["cp", local.to_str().unwrap(), "pe:/hostdir/secret.txt"]);
    assert_ne!(code(&o), 0, "{}", err(&o));
    let o = h.run(&["cp", local.to_str().unwrap(), "pe:/hostdir/"]);
    assert_ne!(code(&o), 0);
    assert_eq!(std::fs::read_to_string(canary.join("secret.txt")).unwrap(), "host secret\n");
    h.ok(&["rm", "-f", "pe"]);
}

/// The monitor killed between the runtime's create and start (HULL_FAULT): the init
/// waits on its fifo still holding the client's socket. `run` (foreground and -d) must
/// notice the monitor's death and fail with one line instead of waiting for ever, and
/// `rm -f` must remove the init, its cgroups and everything else.
#[test]
fn a_monitor_killed_before_start_leaves_no_client_waiting() {
    let h = setup("monkill");
    for (name, detach) in [("mk1", false), ("mk2", true)] {
        let mut args = vec!["run", "--name", name];
        if detach {
            args.push("-d");
        }
        args.extend(["busybox", "true"]);
        let child = h
            .cmd()
            .env("HULL_FAULT", "monitor-created")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = wait_exit(child, Duration::from_secs(30), &format!("hull {args:?} (its monitor dead)"));
        assert_eq!(code(&o), 125, "{}", err(&o));
        assert!(err(&o).contains("died before the container started"), "{}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
        let id = full_id(&h, name);
        h.ok(&["rm", "-f", name]);
        assert!(leftovers(&h, &id).is_empty(), "{name}: {:?}", leftovers(&h, &id));
    }
}

/// `hull run` killed half way through its create (HULL_FAULT at each step): what it
/// claimed is a container `ps -a` lists as dead, `rm -f` and `container prune` finish
/// removing it (directory, overlay mount, name), and the name is free again.
#[test]
fn a_create_killed_half_way_is_finished_by_rm_and_prune() {
    let h = setup("halfmade");
    for (i, point) in ["create-claimed", "create-before-record"].iter().enumerate() {
        let name = format!("half{i}");
        let o = h.cmd().env("HULL_FAULT", point).args(["run", "--name", &name, "busybox", "true"]).output().unwrap();
        assert_eq!(o.status.code(), None, "{point}: killed by its fault");
        let id = h.ok(&["ps", "-aq", "--no-trunc", "--filter", &format!("name={name}")]).trim().to_string();
        assert_eq!(id.len(), 64, "{point}: ps -a lists it");
        let state = h.ok(&["ps", "-a", "--filter", &format!("name={name}"), "--format", "{{.State}}"]);
        assert_eq!(state.trim(), "dead", "{point}");
        let taken = h.run(&["run", "--rm", "--name", &name, "busybox", "true"]);
        assert_eq!(code(&taken), 125, "{point}: the name is still claimed");
        if i == 0 {
            h.ok(&["rm", "-f", &name]);
        } else {
            assert!(h.ok(&["container", "prune", "-f"]).contains(&id), "{point}: prune takes it");
        }
        assert!(leftovers(&h, &id).is_empty(), "{point}: {:?}", leftovers(&h, &id));
        h.ok(&["run", "--rm", "--name", &name, "busybox", "true"]);
    }
}

/// `hull commit` killed with the container frozen (HULL_FAULT): the next command that
/// reads the container thaws it (the commit's marker names a dead process).
#[test]
fn a_commit_killed_with_the_container_frozen_is_undone() {
    let h = setup("commitkill");
    h.ok(&["run", "-d", "--name", "ck", "busybox", "sleep", "100"]);
    let o = h.cmd().env("HULL_FAULT", "commit-paused").args(["commit", "ck", "ck:img"]).output().unwrap();
    assert_eq!(o.status.code(), None, "killed by its fault");
    assert_eq!(h.ok(&["inspect", "--format", "{{.State.Status}}", "ck"]).trim(), "running");
    h.ok(&["exec", "ck", "true"]);
    // A commit that finishes leaves it running too, and no marker.
    h.ok(&["commit", "ck", "ck:img"]);
    assert!(!h.root.join("containers").join(full_id(&h, "ck")).join("paused-by").exists());
    h.ok(&["rm", "-f", "ck"]);
}

//! seccomp: every action and comparison enforced in a real container, the filter on
//! `exec`'d processes, the compiled-filter cache, and SCMP_ACT_NOTIFY with an agent
//! this test runs.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn with_profile(rt: &Rt, name: &str, profile: Value, script: &str) -> Bundle {
    let mut b = rt.bundle(name);
    b.config["linux"]["seccomp"] = profile;
    b.sh(script);
    b
}

#[test]
fn actions_are_enforced() {
    let rt = Rt::new("sc-actions");
    // `mkdir` (the applet) makes the mkdir or mkdirat syscall; `$?` shows how it ended.
    let cases = [
        ("SCMP_ACT_ALLOW", None, "0"),
        ("SCMP_ACT_LOG", None, "0"),
        ("SCMP_ACT_ERRNO", Some(95), "1 Operation not supported"),
        ("SCMP_ACT_ERRNO", None, "1 Operation not permitted"),
        // No tracer: the syscall fails with ENOSYS.
        ("SCMP_ACT_TRACE", None, "1 Function not implemented"),
        // SIGSYS: 128 + 31.
        ("SCMP_ACT_KILL", None, "159"),
        ("SCMP_ACT_KILL_THREAD", None, "159"),
        ("SCMP_ACT_KILL_PROCESS", None, "159"),
        ("SCMP_ACT_TRAP", None, "159"),
    ];
    for (i, (action, errno, expect)) in cases.iter().enumerate() {
        let mut rule = json!({"names": ["mkdir", "mkdirat", "not_a_syscall_hull_knows"], "action": action});
        if let Some(e) = errno {
            rule["errnoRet"] = json!(e);
        }
        let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]});
        let b = with_profile(&rt, &format!("b{i}"), profile, "e=$(mkdir /dev/d 2>&1); echo $? ${e##*: }");
        let out = rt.run_ok(&b, &rt.id(&format!("c{i}")));
        let got = out.trim().replace("  ", " ");
        assert!(got.starts_with(expect), "{action} {errno:?}: got {got:?}, want {expect:?}");
    }
}

#[test]
fn argument_comparisons_are_enforced() {
    let rt = Rt::new("sc-args");
    // kill(pid, sig): the second argument is compared. Signals 17, 23 and 28 are
    // ignored by default, so a delivered one does no harm.
    let script =
        "for s in 0 17 23 28; do if kill -$s $$ 2>/dev/null; then printf \"$s:ok \"; else printf \"$s:no \"; fi; done";
    let cases = [
        ("SCMP_CMP_EQ", 23, None, "0:ok 17:ok 23:no 28:ok"),
        ("SCMP_CMP_NE", 23, None, "0:no 17:no 23:ok 28:no"),
        ("SCMP_CMP_LT", 23, None, "0:no 17:no 23:ok 28:ok"),
        ("SCMP_CMP_LE", 23, None, "0:no 17:no 23:no 28:ok"),
        ("SCMP_CMP_GT", 23, None, "0:ok 17:ok 23:ok 28:no"),
        ("SCMP_CMP_GE", 23, None, "0:ok 17:ok 23:no 28:no"),
        // (sig & 0x10) == 0x10: 17, 23, 28.
        ("SCMP_CMP_MASKED_EQ", 0x10, Some(0x10), "0:ok 17:no 23:no 28:no"),
    ];
    for (i, (op, value, two, expect)) in cases.iter().enumerate() {
        let mut arg = json!({"index": 1, "value": value, "op": op});
        if let Some(t) = two {
            arg["valueTwo"] = json!(t);
        }
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]
        });
        let b = with_profile(&rt, &format!("b{i}"), profile, script);
        let out = rt.run_ok(&b, &rt.id(&format!("c{i}")));
        assert_eq!(out.trim(), *expect, "{op}");
    }
}

#[test]
fn default_refusal_with_an_allow_list_without_no_new_privs() {
    let rt = Rt::new("sc-default");
    // Without no_new_privs the filter goes on while hull still has CAP_SYS_ADMIN, before
    // it changes user and capabilities (as runc): those calls must pass the filter too.
    let allow: Vec<&str> = ALL_X86_64.iter().copied().filter(|n| !["mkdir", "mkdirat"].contains(n)).collect();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 13,
        "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]
    });
    let mut b = with_profile(&rt, "b", profile, "mkdir /dev/x 2>&1; echo $? $(id -u); grep Seccomp: /proc/self/status");
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = rt.run_ok(&b, &rt.id("c"));
    assert!(out.contains("Permission denied") && out.contains("1 1000"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "filter mode: {out}");
}

/// x86_64 syscall names a busybox container and hull's last steps may make.
const ALL_X86_64: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "dup",
    "dup2",
    "nanosleep",
    "getpid",
    "socket",
    "connect",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "fcntl",
    "flock",
    "fsync",
    "truncate",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "mkdir",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "getuid",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "getsid",
    "capget",
    "capset",
    "sigaltstack",
    "prctl",
    "arch_prctl",
    "setrlimit",
    "gettid",
    "time",
    "futex",
    "getdents64",
    "set_tid_address",
    "clock_gettime",
    "clock_nanosleep",
    "exit_group",
    "tgkill",
    "openat",
    "mkdirat",
    "newfstatat",
    "unlinkat",
    "readlinkat",
    "faccessat",
    "pselect6",
    "ppoll",
    "set_robust_list",
    "get_robust_list",
    "pipe2",
    "dup3",
    "prlimit64",
    "getrandom",
    "statx",
    "clone3",
    "rseq",
    "faccessat2",
    "execveat",
    "close_range",
    "seccomp",
];

#[test]
fn exec_gets_the_filter_and_the_cache_serves_the_second_container() {
    let rt = Rt::new("sc-exec");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 1, "value": 28, "op": "SCMP_CMP_EQ"}]}]
    });
    let b = with_profile(&rt, "b", profile.clone(), "sleep 60");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let o = rt.out(&["exec", &id, "sh", "-c", "kill -28 $$ 2>&1; echo $?"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("not permitted") && out.trim().ends_with('1'), "{out}");
    rt.ok(&["delete", "--force", &id]);

    let cache = rt.root.join("seccomp:cache");
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let compiled = std::fs::read(&entries[0]).unwrap();
    assert!(!compiled.is_empty() && compiled.len() % 8 == 0);
    // `list` does not take the cache for a container.
    assert!(!rt.ok(&["list", "-q"]).contains("seccomp"));
    // A damaged entry is ignored and rewritten.
    std::fs::write(&entries[0], b"garbage").unwrap();
    let b2 = with_profile(&rt, "b2", profile, "kill -28 $$ 2>/dev/null; echo $?");
    assert_eq!(rt.run_ok(&b2, &rt.id("c2")).trim(), "1");
    assert_eq!(std::fs::read(&entries[0]).unwrap(), compiled);
}

#[test]
fn an_invalid_profile_fails_create_and_leaves_nothing() {
    let rt = Rt::new("sc-bad");
    for (i, (profile, msg)) in [
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}), "errnoRet"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]}), "listenerPath"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/hull.sock", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]}), "/nonexistent/hull.sock"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOPE"}]}), "config.json"),
    ]
    .into_iter()
    .enumerate()
    {
        let b = with_profile(&rt, &format!("b{i}"), profile, "true");
        b.save();
        let id = rt.id(&format!("c{i}"));
        let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(err.contains(msg), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!rt.root.join(&id).exists());
        assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
    }
}

// --- SCMP_ACT_NOTIFY ---------------------------------------------------------------

/// struct seccomp_notif.
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}
/// struct seccomp_notif_resp.
#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}
const SECCOMP_IOCTL_NOTIF_RECV: u64 = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: u64 = 0xc018_2101;

/// Accepts one connection, takes the document and the listener, then answers every
/// notification: mkdir of a path ending in "deny" fails with EXDEV, others "succeed"
/// without doing anything. Returns the document and the paths it saw.
fn agent(listener: std::os::unix::net::UnixListener) -> std::thread::JoinHandle<(Value, Vec<String>)> {
    std::thread::spawn(move || {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let m = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
            let fd = m.cmsgs().unwrap().find_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => f.first().copied(),
                _ => None,
            });
            (m.bytes, fd.expect("a descriptor comes with the document"))
        };
        let doc: Value = serde_json::from_slice(&buf[..n]).unwrap();
        // SAFETY: the descriptor just received is ours.
        let notify = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            // RECV blocks even after the filtered processes are gone: poll first, and stop
            // on POLLHUP (no process uses the filter any more) or at the deadline.
            let mut pfd = libc::pollfd { fd: notify.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: poll on one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 100) };
            if std::time::Instant::now() > deadline || (n > 0 && pfd.revents & libc::POLLIN == 0) {
                break;
            }
            if n <= 0 {
                continue;
            }
            let mut req = Notif::default();
            // SAFETY: RECV fills a zeroed seccomp_notif.
            if unsafe { libc::ioctl(notify.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV as _, &mut req) } != 0 {
                break; // the filtered process is gone
            }
            // The path argument: mkdir(path, mode) or mkdirat(dirfd, path, mode).
            let ptr = if req.nr == libc::SYS_mkdir as i32 { req.args[0] } else { req.args[1] };
            let mut p = vec![0u8; 256];
            let f = std::fs::File::open(format!("/proc/{}/mem", req.pid)).unwrap();
            let n = std::os::unix::fs::FileExt::read_at(&f, &mut p, ptr).unwrap_or(0);
            let s = String::from_utf8_lossy(&p[..n]).split('\0').next().unwrap_or("").to_owned();
            let error = if s.ends_with("deny") { -libc::EXDEV } else { 0 };
            seen.push(s);
            let mut resp = NotifResp { id: req.id, val: 0, error, flags: 0 };
            // SAFETY: SEND reads a filled seccomp_notif_resp.
            unsafe { libc::ioctl(notify.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp) };
        }
        (doc, seen)
    })
}

#[test]
fn notify_hands_the_listener_to_the_agent() {
    let rt = Rt::new("sc-notify");
    let sock = rt.tmp.0.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let handle = agent(listener);
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let b = with_profile(
        &rt,
        "b",
        profile,
        "mkdir /tmp/allow; echo allow $? $(test -d /tmp/allow && echo made || echo not-made); mkdir /tmp/deny 2>&1; echo deny $?",
    );
    let id = rt.id("c");
    let out = rt.run_ok(&b, &id);
    let (doc, seen) = handle.join().unwrap();
    // The agent answered for the kernel: "success" without a directory, then EXDEV.
    assert!(out.contains("allow 0 not-made"), "{out}");
    assert!(out.contains("Invalid cross-device link") && out.contains("deny 1"), "{out}");
    assert_eq!(seen, ["/tmp/allow", "/tmp/deny"]);
    assert_eq!(doc["fds"], json!(["seccompFd"]));
    assert_eq!(doc["metadata"], "hello-agent");
    assert_eq!(doc["state"]["id"], id.as_str());
    assert!(doc["pid"].as_i64().unwrap() > 1, "{doc}");
    assert_eq!(doc["pid"], doc["state"]["pid"], "the init's pid: {doc}");
}

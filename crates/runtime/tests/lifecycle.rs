//! The lifecycle through runc's command line: create, start, state, kill, delete, run,
//! list, and the errors clients depend on.

mod common;
use common::*;
use serde_json::Value;

#[test]
fn create_start_state_delete() {
    let rt = Rt::new("lc-basic");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let id = rt.id("c");
    let pidfile = rt.tmp.0.join("pid");
    b.save();
    rt.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "--pid-file", pidfile.to_str().unwrap(), &id]);
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The init is in the container's cgroup in every hierarchy (born there on v2).
    let dirs = cgroup_dirs_left(&format!("/hull/{id}"));
    assert!(!dirs.is_empty());
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == pid.to_string()), "{pid} not in {}", d.display());
    }
    // Created: the user's program has not run; the init waits.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");
    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    rt.fails(&["start", &id]);
    let err = rt.fails(&["delete", &id]);
    assert!(err.contains("running"), "{err}");
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0);
    let err = rt.fails(&["kill", &id]);
    assert!(err.contains("not running"), "{err}");
    let err = rt.fails(&["start", &id]);
    assert!(err.contains("stopped"), "{err}");
    rt.ok(&["delete", &id]);
    let err = rt.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
}

#[test]
fn unknown_ids_fail_clearly() {
    let rt = Rt::new("lc-unknown");
    for args in [vec!["state", "nope"], vec!["kill", "nope"], vec!["delete", "nope"], vec!["start", "nope"]] {
        let err = rt.fails(&args);
        assert!(err.contains("\"nope\" does not exist"), "{args:?}: {err}");
    }
    // runc: delete --force of a missing container succeeds.
    rt.ok(&["delete", "--force", "nope"]);
    let err = rt.fails(&["state", "../etc"]);
    assert!(err.contains("invalid container id"), "{err}");
}

#[test]
fn run_exit_codes_and_signals() {
    let rt = Rt::new("lc-exit");
    let mut b = rt.bundle("b");
    b.sh("exit 42");
    assert_eq!(rt.run(&b, &rt.id("a")).0, 42);
    // pid 1 of a pid namespace ignores signals it has no handler for, even from
    // itself: the exit code is 0, as with runc.
    b.sh("kill -TERM $$; exit 0");
    assert_eq!(rt.run(&b, &rt.id("b")).0, 0);
    b.config["process"]["args"] = serde_json::json!(["true"]);
    assert_eq!(rt.run(&b, &rt.id("c")).0, 0);
    // run removes the container when it exits.
    assert!(rt.ok(&["list", "-q"]).trim().is_empty());
}

#[test]
fn run_forwards_signals() {
    let rt = Rt::new("lc-fwd");
    let mut b = rt.bundle("b");
    b.sh("trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done");
    b.save();
    let mut child = rt
        .cmd(&["run", "--bundle", b.dir.to_str().unwrap(), &rt.id("c")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(7));
}

#[test]
fn run_exits_128_plus_signal() {
    let rt = Rt::new("lc-sig");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    b.save();
    let id = rt.id("c");
    let mut child = rt.cmd(&["run", "--bundle", b.dir.to_str().unwrap(), &id]).spawn().unwrap();
    for _ in 0..500 {
        if rt.out(&["state", &id]).status.success() && rt.status(&id) == "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    rt.ok(&["kill", &id, "KILL"]);
    assert_eq!(child.wait().unwrap().code(), Some(128 + 9));
    assert!(!rt.root.join(&id).exists(), "run deleted the container");
}

#[test]
fn run_detach_then_kill_by_name_and_number() {
    let rt = Rt::new("lc-detach");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    b.save();
    let id = rt.id("c");
    rt.ok(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(rt.status(&id), "running");
    let err = rt.fails(&["kill", &id, "SIGNOPE"]);
    assert!(err.contains("unknown signal"), "{err}");
    rt.ok(&["kill", &id, "9"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
}

#[test]
fn delete_force_running_and_created() {
    let rt = Rt::new("lc-force");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let (c1, c2) = (rt.id("run"), rt.id("created"));
    rt.create(&b, &c1);
    rt.ok(&["start", &c1]);
    let pid = rt.state(&c1)["pid"].as_i64().unwrap();
    rt.ok(&["delete", "--force", &c1]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/exe")).exists() || {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            st.contains(") Z")
        }
    );
    // A created container can be deleted without --force (runc does the same).
    rt.create(&b, &c2);
    rt.ok(&["delete", &c2]);
    assert!(rt.ok(&["list", "-q"]).trim().is_empty());
    assert!(cgroup_dirs_left(&format!("/hull/{c1}")).is_empty());
    assert!(cgroup_dirs_left(&format!("/hull/{c2}")).is_empty());
}

#[test]
fn kill_all_signals_every_process() {
    let rt = Rt::new("lc-killall");
    let mut b = rt.bundle("b");
    b.sh("sleep 30 & sleep 30 & wait");
    b.config["linux"]["cgroupsPath"] = "/hull/it-killall/c".into();
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    rt.ok(&["kill", "--all", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    assert!(cgroup_dirs_left("/hull/it-killall/c").is_empty());
    assert!(cgroup_dirs_left("/hull/it-killall").is_empty(), "the parent hull made is gone too");
}

#[test]
fn list_table_json_quiet() {
    let rt = Rt::new("lc-list");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let table = rt.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"));
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id) && row.contains("created"), "{row}");
    let json: Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(rt.ok(&["list", "-q"]).trim(), id);
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn failed_create_leaves_nothing() {
    let rt = Rt::new("lc-failcreate");
    let mut b = rt.bundle("b");
    // A mount whose bind source does not exist fails inside the init, after the state
    // dir, cgroups and the init itself exist: all must go.
    b.config["mounts"].as_array_mut().unwrap().push(serde_json::json!(
        {"destination": "/mnt", "type": "bind", "source": "/nonexistent/hull-src", "options": ["rbind"]}));
    b.config["linux"]["cgroupsPath"] = format!("/hull/it/{}", rt.id("c")).into();
    let id = rt.id("c");
    b.save();
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("/nonexistent/hull-src"), "the message names the path: {err}");
    assert!(!rt.root.join(&id).exists(), "state dir left");
    assert!(cgroup_dirs_left(&format!("/hull/it/{id}")).is_empty(), "cgroup left");
    assert!(mounts_mentioning(b.rootfs().to_str().unwrap()).is_empty(), "mount left");

    // A program that does not exist fails create, naming it.
    let mut b2 = rt.bundle("b2");
    b2.config["process"]["args"] = serde_json::json!(["/no/such/prog"]);
    b2.save();
    let err = rt.fails(&["create", "--bundle", b2.dir.to_str().unwrap(), &id]);
    assert!(err.contains("/no/such/prog"), "{err}");
    assert!(!rt.root.join(&id).exists());

    // A malformed config names the file and line; nothing is created.
    std::fs::write(b2.dir.join("config.json"), "{\n \"ociVersion\": }").unwrap();
    let err = rt.fails(&["create", "--bundle", b2.dir.to_str().unwrap(), &id]);
    assert!(err.contains("config.json") && err.contains("line 2"), "{err}");
    assert!(!rt.root.join(&id).exists());
    assert!(rt.ok(&["list", "-q"]).trim().is_empty());
}

#[test]
fn last_container_out_removes_the_shared_parent() {
    let rt = Rt::new("lc-parent");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let (c1, c2) = (rt.id("one"), rt.id("two"));
    b.config["linux"]["cgroupsPath"] = "/hull/it-parent/one".into();
    rt.create(&b, &c1);
    b.config["linux"]["cgroupsPath"] = "/hull/it-parent/two".into();
    rt.create(&b, &c2);
    rt.ok(&["delete", "--force", &c1]);
    assert!(!cgroup_dirs_left("/hull/it-parent/two").is_empty());
    rt.ok(&["delete", "--force", &c2]);
    assert!(
        cgroup_dirs_left("/hull/it-parent").is_empty(),
        "the parent is left: {:?}",
        cgroup_dirs_left("/hull/it-parent")
    );
}

#[test]
fn parent_made_by_another_container_is_removed_last() {
    let rt = Rt::new("lc-gparent");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let (c1, c2) = (rt.id("one"), rt.id("two"));
    // c1 makes /hull/it-gp; c2 makes only /hull/it-gp/two and its leaf.
    b.config["linux"]["cgroupsPath"] = "/hull/it-gp/one".into();
    rt.create(&b, &c1);
    b.config["linux"]["cgroupsPath"] = "/hull/it-gp/two/leaf".into();
    rt.create(&b, &c2);
    rt.ok(&["delete", "--force", &c1]);
    rt.ok(&["delete", "--force", &c2]);
    assert!(cgroup_dirs_left("/hull/it-gp").is_empty(), "left: {:?}", cgroup_dirs_left("/hull/it-gp"));
}

#[test]
fn duplicate_id_is_refused() {
    let rt = Rt::new("lc-dup");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(rt.status(&id), "created", "the first container is untouched");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn concurrent_commands_on_one_id() {
    let rt = Rt::new("lc-conc");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let id = rt.id("c");
    // Eight creates race: exactly one wins.
    b.save();
    let dir = b.dir.to_str().unwrap().to_owned();
    let results: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> =
            (0..8).map(|_| s.spawn(|| rt.out(&["create", "--bundle", &dir, &id]).status.success())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| **r).count(), 1, "{results:?}");
    // Starts and deletes race: the container starts once and is deleted once.
    let starts: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| rt.out(&["start", &id]).status.success())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(starts.iter().filter(|r| **r).count(), 1, "{starts:?}");
    let deletes: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| rt.out(&["delete", "--force", &id]).status.success())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(deletes.iter().any(|r| *r));
    assert!(!rt.root.join(&id).exists());
    assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
}

#[test]
fn spec_and_features() {
    let rt = Rt::new("lc-spec");
    let d = rt.tmp.0.join("spec");
    std::fs::create_dir_all(&d).unwrap();
    rt.ok(&["spec", "--bundle", d.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["args"][0], "sh");
    assert_eq!(v["root"]["readonly"], true);
    let err = rt.fails(&["spec", "--bundle", d.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
    let d2 = rt.tmp.0.join("spec2");
    std::fs::create_dir_all(&d2).unwrap();
    rt.ok(&["spec", "--rootless", "--bundle", d2.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&std::fs::read(d2.join("config.json")).unwrap()).unwrap();
    assert!(v["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "user"));
    let f: Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.0");
    assert!(f["linux"]["capabilities"].as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"));
}

#[test]
fn json_log_for_containerd() {
    let rt = Rt::new("lc-log");
    let log = rt.tmp.0.join("log.json");
    let o = rt.out(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "missing"]);
    assert!(!o.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("\"missing\" does not exist"));
    assert!(line["time"].as_str().unwrap().contains('T'));
}

#[test]
fn systemd_cgroup_fails_clearly_and_leaves_nothing() {
    let rt = Rt::new("lc-systemd");
    let mut b = rt.bundle("b");
    let id = rt.id("c");
    b.config["linux"]["cgroupsPath"] = "/not/systemd/form".into();
    b.save();
    let dir = b.dir.to_str().unwrap().to_owned();
    let err = rt.fails(&["--systemd-cgroup", "create", "--bundle", &dir, &id]);
    assert!(err.contains("linux.cgroupsPath") && err.contains("slice:prefix:name"), "{err}");
    b.config["linux"]["cgroupsPath"] = "system.slice:hull:c1".into();
    b.save();
    let err = rt.fails(&["--systemd-cgroup", "create", "--bundle", &dir, &id]);
    assert!(err.contains("--systemd-cgroup") && err.contains("hull-c1.scope"), "{err}");
    assert!(!rt.root.join(&id).exists());
}

/// A program that cannot be run fails `create` with runc's words, which engines read:
/// Docker exits 126 on "permission denied" and 127 on the other two.
#[test]
fn unrunnable_programs_fail_with_runcs_messages() {
    let rt = Rt::new("lc-noexec");
    let mut b = rt.bundle("b");
    std::fs::write(b.rootfs().join("etc/data"), "not a program").unwrap();
    let cases = [
        ("/etc", "exec: \"/etc\": permission denied"),
        ("/etc/data", "exec: \"/etc/data\": permission denied"),
        ("/nonexistent", "exec: \"/nonexistent\": stat /nonexistent: no such file or directory"),
        ("nosuchcmd", "exec: \"nosuchcmd\": executable file not found in $PATH"),
    ];
    for (i, (program, message)) in cases.iter().enumerate() {
        b.config["process"]["args"] = serde_json::json!([program]);
        b.save();
        let id = rt.id(&i.to_string());
        let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(err.contains(message), "{program}: {err}");
        assert!(!rt.root.join(&id).exists());
    }
}

//! cgroups, checked by behaviour on whichever layout the host has (hybrid here, pure
//! cgroup v2 in the VM pass of scripts/test.sh).

mod common;
use common::*;
use serde_json::json;
use std::path::PathBuf;

/// The container's cgroup file `name`, in whichever hierarchy has it.
fn cgroup_file(path: &str, name: &str) -> PathBuf {
    cgroup_dirs_left(path)
        .into_iter()
        .map(|d| d.join(name))
        .find(|f| f.exists())
        .unwrap_or_else(|| panic!("no {name} for cgroup {path}"))
}

#[test]
fn memory_limit_oom_kills_with_137() {
    let rt = Rt::new("cg-oom");
    let mut b = rt.bundle("b");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    // tail keeps a whole "line" of /dev/zero in memory: it grows until the OOM killer.
    b.config["process"]["args"] = json!(["tail", "/dev/zero"]);
    let (code, _, err) = rt.run(&b, &rt.id("c"));
    assert_eq!(code, 137, "{err}");
}

/// A limit too low for the init to start: one line that says so, not "exited during
/// setup without a word", and nothing left.
#[test]
fn a_memory_limit_too_low_to_start_says_so() {
    let rt = Rt::new("cg-tiny");
    let mut b = rt.bundle("b");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 1}});
    b.save();
    let id = rt.id("c");
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("memory.limit") && err.contains("too low"), "{err}");
    assert!(!rt.root.join(&id).exists());
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let rt = Rt::new("cg-pids");
    let mut b = rt.bundle("b");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 5}});
    // The shell forks until pids.max refuses; busybox sh then gives up with status 2.
    b.sh("i=0; while [ $i -lt 20 ]; do sleep 3 & i=$((i+1)); echo $i; done");
    let (code, out, err) = rt.run(&b, &rt.id("c"));
    assert_ne!(code, 0, "20 forks succeeded under pids.max 5: {out}");
    assert!(err.contains("fork"), "{err}");
    let started: u32 = out.lines().last().unwrap_or("0").parse().unwrap();
    assert!(started < 5, "{started} background processes under pids.max 5");
}

#[test]
fn cpu_and_cpuset_are_written() {
    let rt = Rt::new("cg-cpu");
    let mut b = rt.bundle("b");
    let path = "/hull/it-cpu";
    b.config["linux"]["cgroupsPath"] = path.into();
    b.config["linux"]["resources"] = json!({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}});
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let cpus = std::fs::read_to_string(cgroup_file(path, "cpuset.cpus")).unwrap();
    assert_eq!(cpus.trim(), "0");
    if let Ok(f) = std::fs::read_to_string(
        cgroup_dirs_left(path).iter().map(|d| d.join("cpu.max")).find(|f| f.exists()).unwrap_or_default(),
    ) {
        assert_eq!(f.trim(), "50000 100000");
        let w = std::fs::read_to_string(cgroup_file(path, "cpu.weight")).unwrap();
        assert_eq!(w.trim(), "20");
    } else {
        assert_eq!(std::fs::read_to_string(cgroup_file(path, "cpu.cfs_quota_us")).unwrap().trim(), "50000");
        assert_eq!(std::fs::read_to_string(cgroup_file(path, "cpu.shares")).unwrap().trim(), "512");
    }
    rt.ok(&["delete", "--force", &id]);
    assert!(cgroup_dirs_left(path).is_empty());
}

/// Zero means "not set", as in runc: Docker sends `blockIO.weight: 0` and
/// `cpu.shares: 0` for a container without those options (weight 0 used to fail
/// `create` with ERANGE under Docker).
#[test]
fn zero_values_mean_not_set() {
    let rt = Rt::new("cg-zero");
    let mut b = rt.bundle("b");
    let path = "/hull/it-zero";
    b.config["linux"]["cgroupsPath"] = path.into();
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 0, "reservation": 0, "swap": 0},
        "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
        "pids": {"limit": 0},
        "blockIO": {"weight": 0, "leafWeight": 0}
    });
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let dirs = cgroup_dirs_left(path);
    let read =
        |name: &str| dirs.iter().find_map(|d| std::fs::read_to_string(d.join(name)).ok()).map(|s| s.trim().to_owned());
    // Every value is the kernel's default.
    if let Some(w) = read("cpu.weight") {
        assert_eq!(w, "100");
        assert_eq!(read("cpu.max").unwrap(), "max 100000");
        assert_eq!(read("memory.max").unwrap(), "max");
    } else {
        assert_eq!(read("cpu.shares").unwrap(), "1024");
        assert_eq!(read("cpu.cfs_quota_us").unwrap(), "-1");
        assert_eq!(read("memory.limit_in_bytes").unwrap(), "9223372036854771712");
    }
    assert_eq!(read("pids.max").unwrap(), "max");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let rt = Rt::new("cg-pause");
    let mut b = rt.bundle("b");
    let shared = rt.tmp.0.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/out", "type": "bind", "source": shared, "options": ["rbind"]}));
    b.sh("while true; do echo x >> /out/ticks; sleep 0.02; done");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let ticks = || std::fs::read(shared.join("ticks")).map(|v| v.len()).unwrap_or(0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(ticks() > 0);
    let err = rt.fails(&["resume", &id]);
    assert!(err.contains("not paused"), "{err}");
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    let before = ticks();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ticks(), before, "a paused container kept running");
    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(ticks() > before, "a resumed container did not run");
    // A paused container can be deleted with --force (it is thawed to die).
    rt.ok(&["pause", &id]);
    let err = rt.fails(&["delete", &id]);
    assert!(err.contains("paused"), "{err}");
    rt.ok(&["delete", "--force", &id]);
    assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
}

#[test]
fn update_changes_live_limits() {
    let rt = Rt::new("cg-update");
    let mut b = rt.bundle("b");
    let path = "/hull/it-update";
    b.config["linux"]["cgroupsPath"] = path.into();
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    rt.ok(&["update", "--pids-limit", "7", "--memory", "64m", &id]);
    assert_eq!(std::fs::read_to_string(cgroup_file(path, "pids.max")).unwrap().trim(), "7");
    let mem = cgroup_dirs_left(path)
        .into_iter()
        .flat_map(|d| [d.join("memory.max"), d.join("memory.limit_in_bytes")])
        .find(|f| f.exists())
        .unwrap();
    assert_eq!(std::fs::read_to_string(mem).unwrap().trim(), (64u64 << 20).to_string());
    // --resources - reads the JSON Docker sends.
    let mut child = rt.cmd(&["update", "--resources", "-", &id]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"pids":{"limit":9}}"#).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(cgroup_file(path, "pids.max")).unwrap().trim(), "9");
    let err = rt.fails(&["update", "--memory", "lots", &id]);
    assert!(err.contains("--memory"), "{err}");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn ps_lists_the_containers_processes() {
    let rt = Rt::new("cg-ps");
    let mut b = rt.bundle("b");
    b.sh("sleep 30 & sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    let init = rt.state(&id)["pid"].as_i64().unwrap();
    assert!(pids.contains(&init) && pids.len() == 2, "{pids:?}");
    let table = rt.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert_eq!(table.lines().filter(|l| l.contains("sleep 30")).count(), 2, "{table}");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    let rt = Rt::new("cg-cbu");
    let mut b = rt.bundle("b");
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let mut child = rt.cmd(&["update", "--resources", "-", &id]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#)
        .unwrap();
    drop(child.stdin.take());
    assert!(!child.wait().unwrap().success());
    assert_eq!(rt.status(&id), "running", "the container was not OOM-killed");
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn a_limit_the_host_cannot_honour_names_the_field() {
    let rt = Rt::new("cg-bad");
    let mut b = rt.bundle("b");
    let id = rt.id("c");
    for (resources, field) in [
        (json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}), "linux.resources.hugepageLimits"),
        (json!({"rdma": {"hull_no_such_hca": {"hcaHandles": 1}}}), "linux.resources.rdma"),
    ] {
        b.config["linux"]["resources"] = resources;
        b.save();
        let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
        assert!(err.contains(field), "{err}");
        assert!(!rt.root.join(&id).exists());
        assert!(cgroup_dirs_left(&format!("/hull/{id}")).is_empty());
    }
}

#[test]
fn device_rules_deny_what_is_not_allowed() {
    let rt = Rt::new("cg-devices");
    let mut b = rt.bundle("b");
    // The host's /dev, bound in: only the device cgroup (v1 devices.deny here, an eBPF
    // program on cgroup v2) stands between the container and a root-only device node
    // that no allow rule names. Which nodes exist differs between hosts: first find
    // one that opens when every device is allowed.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/hostdev", "type": "bind", "source": "/dev", "options": ["rbind"]}));
    let default_rules = b.config["linux"]["resources"]["devices"].clone();
    b.config["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    b.sh("for d in loop-control tty0 hpet rtc0 snapshot; do (true < /hostdev/$d) 2>/dev/null && echo $d; done; true");
    let openable = rt.run_ok(&b, &rt.id("probe"));
    let dev = openable.lines().next().unwrap_or_else(|| panic!("no probe device opens even with allow-all"));
    b.config["linux"]["resources"]["devices"] = default_rules;
    b.sh(&format!(
        "(true < /hostdev/{dev}) 2>/dev/null && echo open || echo denied; echo x > /hostdev/null && echo null-ok"
    ));
    let out = rt.run_ok(&b, &rt.id("c"));
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), vec!["denied", "null-ok"], "{dev}: {out}");
}

/// The first block device of this host ("major:minor"), for I/O throttles.
fn some_block_device() -> String {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block").unwrap().flatten().map(|e| e.path()).collect();
    names.sort();
    names
        .iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("loop"))
        .find_map(|p| std::fs::read_to_string(p.join("dev")).ok())
        .map(|s| s.trim().to_owned())
        .expect("no block device on this host (the VM pass loads brd for one)")
}

#[test]
fn block_io_throttles() {
    let rt = Rt::new("cg-blkio");
    let mut b = rt.bundle("b");
    let path = "/hull/it-blkio";
    let dev = some_block_device();
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    b.config["linux"]["cgroupsPath"] = path.into();
    b.config["linux"]["resources"]["blockIO"] = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
    });
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let dirs = cgroup_dirs_left(path);
    if let Some(v1) = dirs.iter().find(|d| d.join("blkio.throttle.read_bps_device").exists()) {
        let rbps = std::fs::read_to_string(v1.join("blkio.throttle.read_bps_device")).unwrap();
        assert!(rbps.lines().any(|l| l == format!("{dev} 1048576")), "{rbps}");
        let wiops = std::fs::read_to_string(v1.join("blkio.throttle.write_iops_device")).unwrap();
        assert!(wiops.lines().any(|l| l == format!("{dev} 100")), "{wiops}");
    } else {
        let max = std::fs::read_to_string(cgroup_file(path, "io.max")).unwrap();
        assert!(max.lines().any(|l| l == format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")), "{max}");
    }
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn events_stats_in_runcs_shape() {
    let rt = Rt::new("cg-stats");
    let mut b = rt.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 50});
    b.sh("sleep 30 & sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ev: serde_json::Value = serde_json::from_str(&rt.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    let d = &ev["data"];
    assert_eq!(d["memory"]["usage"]["limit"], 64u64 << 20, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["pids"]["current"], 2, "{d}");
    assert_eq!(d["pids"]["limit"], 50, "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    rt.ok(&["delete", "--force", &id]);
    let err = rt.fails(&["events", "--stats", &id]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn events_reports_an_oom_kill() {
    let rt = Rt::new("cg-oomevent");
    let mut b = rt.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "swap": 32 << 20});
    // A child is OOM-killed; the container itself lives on, then exits.
    b.sh("sleep 0.5; tail /dev/zero; sleep 1");
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    let out = rt.cmd(&["events", "--interval", "100ms", &id]).stdout(std::process::Stdio::piped()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.iter().any(|k| k == "oom"), "{text}");
    assert!(kinds.iter().any(|k| k == "stats"), "{text}");
    rt.ok(&["delete", &id]);
}

#[test]
fn delete_after_sigkill_kills_leftovers_without_a_pid_namespace() {
    let rt = Rt::new("cg-leftover");
    let mut b = rt.bundle("b");
    // No pid namespace: killing the init does not take its children with it.
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/proc");
    b.sh("sleep 60 & sleep 60");
    b.config["linux"]["cgroupsPath"] = "/hull/it-leftover".into();
    let id = rt.id("c");
    rt.create(&b, &id);
    rt.ok(&["start", &id]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    assert!(cgroup_dirs_left("/hull/it-leftover").is_empty(), "{:?}", cgroup_dirs_left("/hull/it-leftover"));
    for p in pids {
        let alive = std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| !s.contains(") Z"));
        assert!(!alive, "process {p} survived delete");
    }
}

#[test]
fn hugetlb_and_unified_limits() {
    let rt = Rt::new("cg-huge");
    let mut b = rt.bundle("b");
    let path = "/hull/it-huge";
    b.config["linux"]["cgroupsPath"] = path.into();
    b.config["linux"]["resources"] = json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    b.sh("sleep 30");
    let id = rt.id("c");
    rt.create(&b, &id);
    let dirs = cgroup_dirs_left(path);
    let f = dirs
        .iter()
        .flat_map(|d| [d.join("hugetlb.2MB.limit_in_bytes"), d.join("hugetlb.2MB.max")])
        .find(|f| f.exists())
        .expect("a hugetlb 2MB limit file");
    assert_eq!(std::fs::read_to_string(f).unwrap().trim(), "4194304");
    rt.ok(&["delete", "--force", &id]);
    // linux.resources.unified writes raw cgroup v2 files (here: in the unified hierarchy,
    // which holds hugetlb on hybrid hosts and everything on pure v2).
    b.config["linux"]["resources"] = json!({"unified": {"hugetlb.2MB.max": "2097152"}});
    rt.create(&b, &id);
    let v2 = cgroup_file(path, "hugetlb.2MB.max");
    assert_eq!(std::fs::read_to_string(v2).unwrap().trim(), "2097152");
    rt.ok(&["delete", "--force", &id]);
    b.config["linux"]["resources"] = json!({"unified": {"../escape": "1"}});
    b.save();
    let err = rt.fails(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(err.contains("linux.resources.unified"), "{err}");
}

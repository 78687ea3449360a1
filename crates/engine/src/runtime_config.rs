//! The runtime-spec config of an engine container: Docker's defaults (capabilities,
//! mounts, masked and read-only /proc paths, device rules, the default seccomp
//! profile, a private network namespace with loopback) with the user's flags applied.

use crate::error::{Error, Result};
use crate::record::MountPoint;
use crate::seccomp_profile;
use hull_container::capabilities::{canonical, ALL as CAPS};
use hull_image::runconfig::RunConfig;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Docker's default capabilities.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// `--security-opt seccomp=…`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Seccomp {
    #[default]
    Default,
    Unconfined,
    /// A profile in Docker's JSON format (the command line reads `seccomp=FILE`).
    Profile(String),
}

/// Resource limits from the flags (Docker's units already converted).
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    /// `--cpus` in millionths of a CPU.
    pub nano_cpus: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub oom_kill_disable: bool,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    pub blkio_weight_devices: Vec<DeviceWeight>,
    /// `--device-{read,write}-{bps,iops}`.
    pub throttles: Vec<Throttle>,
    pub memory_swappiness: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_rt_period: Option<u64>,
}

/// Less common settings of the config.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub domainname: Option<String>,
    /// `--annotation K=V`, passed to the runtime.
    pub annotations: Vec<(String, String)>,
    /// `--device-cgroup-rule`, as runtime-spec device rules.
    pub device_rules: Vec<Value>,
    /// `--security-opt systempaths=unconfined`: no masked or read-only /proc paths.
    pub systempaths_unconfined: bool,
}

/// A `--device-cgroup-rule` (`TYPE MAJOR:MINOR ACCESS`, `*` for any number) as a
/// runtime-spec device rule.
pub fn device_rule(r: &str) -> Result<Value> {
    let bad = || Error::Invalid(format!("invalid --device-cgroup-rule {r:?}: like 'c 1:3 rwm' or 'b 8:* r'"));
    let f: Vec<&str> = r.split_whitespace().collect();
    let [kind, numbers, access] = f.as_slice() else { return Err(bad()) };
    if !matches!(*kind, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Value> {
        if n == "*" {
            Ok(Value::Null)
        } else {
            n.parse::<i64>().map(Value::from).map_err(|_| bad())
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    Ok(json!({"allow": true, "type": kind, "major": number(major)?, "minor": number(minor)?, "access": access}))
}

/// A `--blkio-weight-device PATH:WEIGHT`, the path resolved to its device numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceWeight {
    pub major: u64,
    pub minor: u64,
    pub weight: u16,
}

/// A `--device-read-bps` and the like: `field` is the runtime-spec list
/// (`throttleReadBpsDevice`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    pub field: &'static str,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// Docker's rule for a shared (or slave) bind mount: its source must be on a mount
/// that is shared (or shared or a slave) on the host, else nothing could propagate.
fn check_propagation(source: &str, shared: bool) -> Result<()> {
    let src = std::fs::canonicalize(source).map_err(|e| Error::Invalid(format!("bind source {source}: {e}")))?;
    let Some(m) = hull_container::mountinfo::mount_of_path(&src).map_err(Error::at("read /proc/self/mountinfo"))?
    else {
        return Ok(());
    };
    if m.shared() || (!shared && m.slave()) {
        return Ok(());
    }
    let want = if shared { "a shared mount" } else { "a shared or slave mount" };
    Err(Error::Invalid(format!(
        "path {} is mounted on {} but it is not {want}",
        src.display(),
        m.mount_point.display()
    )))
}

/// The device numbers of the block device at `path` (`flag` names it in errors).
pub fn block_device(flag: &str, path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).map_err(|e| Error::Invalid(format!("invalid --{flag} {path}: {e}")))?;
    if !m.file_type().is_block_device() {
        return Err(Error::Invalid(format!("invalid --{flag} {path}: not a block device")));
    }
    Ok((nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev())))
}

/// Whose namespace a container uses (`--ipc`, `--pid`, `--uts`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Ns {
    /// Its own (Docker's default).
    #[default]
    Own,
    /// The host's.
    Host,
    /// Another container's: `/proc/PID/ns/KIND` of its init.
    Path(PathBuf),
}

/// `--ipc`, `--pid`, `--uts`.
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    pub ipc: Ns,
    pub pid: Ns,
    pub uts: Ns,
}

/// What goes into the container's /etc/hosts and /etc/resolv.conf besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct EtcOptions {
    /// (host name, address) from `--add-host`.
    pub hosts: Vec<(String, String)>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
}

/// A `--device HOST[:CONTAINER[:PERMS]]`.
#[derive(Debug, Clone)]
pub struct Device {
    pub host: PathBuf,
    pub container: PathBuf,
    pub perms: String,
}

/// Everything the config is built from.
pub struct Input<'a> {
    pub id: &'a str,
    pub rc: &'a RunConfig,
    pub rootfs: &'a Path,
    pub dir: &'a Path,
    pub hostname: &'a str,
    pub tty: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: &'a [String],
    pub cap_drop: &'a [String],
    pub seccomp: &'a Seccomp,
    pub no_new_privileges: bool,
    /// `none`, `host` or `private` (a new network namespace with loopback up).
    pub network: &'a str,
    pub mounts: &'a [MountPoint],
    pub tmpfs: &'a [(String, String)],
    pub devices: &'a [Device],
    pub resources: &'a Resources,
    /// (resource, soft, hard), e.g. ("RLIMIT_NOFILE", 1024, 2048).
    pub ulimits: &'a [(String, u64, u64)],
    /// The program bind-mounted as the container's init (`--init`).
    pub init: Option<&'a Path>,
    pub sharing: &'a Sharing,
    /// `--shm-size` in bytes.
    pub shm_size: Option<i64>,
    pub sysctls: &'a [(String, String)],
    pub oom_score_adj: Option<i32>,
    /// `--cgroup-parent`: the container's cgroup is PARENT/ID instead of /hull/ID.
    pub cgroup_parent: Option<&'a str>,
    /// `--cgroupns`: Some(true) private, Some(false) the host's, None Docker's default.
    pub cgroupns: Option<bool>,
    /// Rootless: the user namespace the container runs in.
    pub userns: Option<&'a crate::userns::Mapping>,
    pub extra: &'a Extra,
}

/// Docker's rule for `--sysctl`: only namespaced parameters, and none of a namespace
/// shared with the host.
pub fn check_sysctl(key: &str, network: &str, ipc: &Ns) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let ipc_key = IPC.contains(&key) || key.starts_with("fs.mqueue.");
    if ipc_key && *ipc == Ns::Host {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed with the host's IPC namespace")));
    }
    if key.starts_with("net.") && network == "host" {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed with the host's network namespace")));
    }
    if !ipc_key && !key.starts_with("net.") {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed: it is not namespaced")));
    }
    Ok(())
}

/// Every capability this process may pass on (its bounding set): a privileged
/// container gets what the engine has, not more, as Docker does.
fn all_caps() -> Vec<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapBnd:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    CAPS.iter().enumerate().filter(|(i, _)| bounding & (1 << i) != 0).map(|(_, (_, n))| n.to_string()).collect()
}

/// The effective capability set for the flags.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
    if privileged {
        return Ok(all_caps());
    }
    let add: Vec<String> = add.iter().map(|c| canonical(c)).collect();
    let drop: Vec<String> = drop.iter().map(|c| canonical(c)).collect();
    for c in add.iter().chain(&drop) {
        if c != "ALL" && hull_container::capabilities::parse(c).is_none() {
            return Err(Error::Invalid(format!("unknown capability: {c:?}")));
        }
    }
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).filter(|c| !drop.contains(c)).collect()
    };
    if add.iter().any(|c| c == "ALL") {
        caps = all_caps().into_iter().filter(|c| !drop.contains(c)).collect();
    } else {
        for c in add {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    Ok(caps)
}

/// The `linux.resources` limits (no device rules) the flags in `r` ask for: only the
/// fields given, so that `update` changes nothing else.
pub fn limits(r: &Resources) -> Result<Value> {
    let mut resources = json!({});
    if r.memory.is_some() || r.memory_swap.is_some() {
        let mut m = json!({});
        if let Some(v) = r.memory {
            m["limit"] = v.into();
        }
        if let Some(v) = r.memory_swap {
            m["swap"] = v.into();
        } else if let Some(v) = r.memory {
            // Docker: without --memory-swap, as much swap as memory.
            m["swap"] = v.saturating_mul(2).into();
        }
        resources["memory"] = m;
    }
    let mut cpu = json!({});
    if let Some(n) = r.nano_cpus {
        cpu["period"] = 100_000.into();
        cpu["quota"] = ((n as u128 * 100_000 / 1_000_000_000) as i64).into();
    }
    if let Some(s) = r.cpu_shares {
        cpu["shares"] = s.into();
    }
    if let Some(c) = &r.cpuset_cpus {
        cpu["cpus"] = c.clone().into();
    }
    if cpu.as_object().is_some_and(|o| !o.is_empty()) {
        resources["cpu"] = cpu;
    }
    if let Some(p) = r.pids_limit {
        resources["pids"] = json!({"limit": p});
    }
    if let Some(v) = r.memory_reservation {
        resources["memory"]["reservation"] = v.into();
    }
    if r.oom_kill_disable {
        resources["memory"]["disableOOMKiller"] = true.into();
    }
    if let Some(p) = r.cpu_period {
        resources["cpu"]["period"] = p.into();
    }
    if let Some(q) = r.cpu_quota {
        resources["cpu"]["quota"] = q.into();
    }
    if let Some(m) = &r.cpuset_mems {
        resources["cpu"]["mems"] = m.clone().into();
    }
    if let Some(v) = r.memory_swappiness {
        resources["memory"]["swappiness"] = v.into();
    }
    if let Some(v) = r.cpu_rt_runtime {
        resources["cpu"]["realtimeRuntime"] = v.into();
    }
    if let Some(v) = r.cpu_rt_period {
        resources["cpu"]["realtimePeriod"] = v.into();
    }
    if let Some(w) = r.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(Error::Invalid(format!("invalid --blkio-weight {w}: it must be between 10 and 1000")));
        }
        resources["blockIO"] = json!({"weight": w});
    }
    for d in &r.blkio_weight_devices {
        if !(10..=1000).contains(&d.weight) {
            return Err(Error::Invalid(format!(
                "invalid --blkio-weight-device weight {}: it must be between 10 and 1000",
                d.weight
            )));
        }
        let list = &mut resources["blockIO"]["weightDevice"];
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().expect("a list").push(json!({"major": d.major, "minor": d.minor, "weight": d.weight}));
    }
    for t in &r.throttles {
        let list = &mut resources["blockIO"][t.field];
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().expect("a list").push(json!({"major": t.major, "minor": t.minor, "rate": t.rate}));
    }
    Ok(resources)
}

/// Builds the config, checked by oci-spec's types and hull's validation.
pub fn build(i: &Input<'_>) -> Result<Value> {
    let caps = capabilities(i.privileged, i.cap_add, i.cap_drop)?;
    let mut process = json!({
        "terminal": i.tty,
        "user": {"uid": i.rc.uid, "gid": i.rc.gid, "additionalGids": i.rc.additional_gids},
        "args": i.rc.args,
        "env": env_with_hostname(&i.rc.env, i.hostname, i.tty),
        "cwd": i.rc.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": i.no_new_privileges,
    });
    if let Some(adj) = i.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::Invalid(format!("invalid --oom-score-adj {adj}: it must be between -1000 and 1000")));
        }
        process["oomScoreAdj"] = adj.into();
    }
    if !i.ulimits.is_empty() {
        process["rlimits"] =
            i.ulimits.iter().map(|(t, s, h)| json!({"type": t, "soft": s, "hard": h})).collect::<Vec<_>>().into();
    }
    if i.init.is_some() {
        let mut args = vec![json!("/sbin/hull-init"), json!("--")];
        args.extend(i.rc.args.iter().map(|a| json!(a)));
        process["args"] = args.into();
    }
    let ro_sys = if i.privileged { vec!["nosuid", "noexec", "nodev"] } else { vec!["nosuid", "noexec", "nodev", "ro"] };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ro_sys}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    if let Some(m) = i.userns {
        if !m.maps_id(i.rc.uid, i.rc.gid) {
            return Err(Error::Invalid(format!(
                "user {}:{} does not exist in the rootless user namespace (only root does without \
                 subordinate ids for you in /etc/subuid and /etc/subgid)",
                i.rc.uid, i.rc.gid
            )));
        }
        if !m.maps_id(0, 5) {
            // No tty group to give the terminals.
            mounts[2]["options"] = json!(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]);
        }
        if i.sharing.pid == Ns::Host {
            // A new proc needs a pid namespace of the user's own: the host's is bound.
            mounts[0] = json!({"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind", "nosuid", "noexec", "nodev"]});
        }
        if i.network == "host" {
            // A new sysfs needs a network namespace of the user's own: the host's is bound.
            let mut o = vec!["rbind", "nosuid", "noexec", "nodev"];
            if !i.privileged {
                o.push("ro");
            }
            mounts[3] = json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": o});
        }
    }
    let shm = i.shm_size.unwrap_or(64 << 20);
    if shm <= 0 {
        return Err(Error::Invalid(format!("invalid --shm-size {shm}: it must be positive")));
    }
    if i.sharing.ipc == Ns::Host {
        // The host's IPC: its /dev/shm too, as Docker.
        mounts.push(
            json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]}),
        );
    } else {
        let size = format!("size={}k", (shm + 1023) / 1024);
        mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", size]}));
    }
    for f in ["hosts", "hostname", "resolv.conf"] {
        mounts.push(json!({"destination": format!("/etc/{f}"), "type": "bind",
            "source": i.dir.join(f), "options": ["rbind", "rprivate"]}));
    }
    if let Some(init) = i.init {
        mounts.push(json!({"destination": "/sbin/hull-init", "type": "bind", "source": init,
            "options": ["bind", "ro", "nosuid", "nodev"]}));
    }
    let mut rootfs_propagation = None;
    for m in i.mounts {
        let prop = m.propagation.as_deref().unwrap_or("rprivate");
        match prop {
            "shared" | "rshared" => {
                check_propagation(&m.source, true)?;
                rootfs_propagation = Some("rshared");
            }
            "slave" | "rslave" => {
                check_propagation(&m.source, false)?;
                rootfs_propagation = rootfs_propagation.or(Some("rslave"));
            }
            _ => {}
        }
        let mut o = vec!["rbind", prop];
        if !m.rw {
            o.push("ro");
        }
        mounts.push(json!({"destination": m.destination, "type": "bind", "source": m.source, "options": o}));
    }
    for (dest, opts) in i.tmpfs {
        let mut o = vec!["nosuid".to_string(), "nodev".to_string(), "noexec".to_string()];
        o.extend(opts.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": o}));
    }
    let mut namespaces = vec![json!({"type": "mount"})];
    for (kind, ns) in [("pid", &i.sharing.pid), ("ipc", &i.sharing.ipc), ("uts", &i.sharing.uts)] {
        match ns {
            Ns::Own => namespaces.push(json!({"type": kind})),
            Ns::Host => {}
            Ns::Path(p) => namespaces.push(json!({"type": kind, "path": p})),
        }
    }
    if i.network != "host" {
        namespaces.push(json!({"type": "network"}));
    }
    // Docker's default on cgroup v2: a private cgroup namespace (v1: the host's).
    if i.cgroupns.unwrap_or_else(|| hull_container::cgroups::hierarchies().iter().all(|h| h.unified)) {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let mut resources = limits(i.resources)?;
    resources["devices"] = if i.privileged {
        json!([{"allow": true, "access": "rwm"}])
    } else {
        let mut rules = vec![json!({"allow": false, "access": "rwm"})];
        rules.extend(i.extra.device_rules.iter().cloned());
        rules.into()
    };
    let mut linux = json!({"namespaces": namespaces, "resources": resources});
    if let Some(p) = rootfs_propagation {
        // Mounts propagate out of the container only through a root that passes them.
        linux["rootfsPropagation"] = p.into();
    }
    if let Some(parent) = i.cgroup_parent.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        if parent.split('/').any(|c| c == ".." || c == ".") {
            return Err(Error::Invalid(format!("invalid --cgroup-parent {parent:?}: no . or .. components")));
        }
        linux["cgroupsPath"] = format!("/{parent}/{}", i.id).into();
    }
    if let Some(m) = i.userns {
        let (uids, gids) = m.to_json();
        linux["namespaces"].as_array_mut().expect("a list").push(json!({"type": "user"}));
        linux["uidMappings"] = uids;
        linux["gidMappings"] = gids;
    }
    if !i.sysctls.is_empty() {
        linux["sysctl"] = i.sysctls.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    }
    if !i.privileged && !i.extra.systempaths_unconfined {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
    }
    match i.seccomp {
        Seccomp::Unconfined => {}
        _ if i.privileged => {}
        Seccomp::Default => linux["seccomp"] = seccomp_profile::profile(&caps),
        Seccomp::Profile(text) => {
            let v: Value = serde_json::from_str(text).map_err(|e| Error::Invalid(format!("seccomp profile: {e}")))?;
            linux["seccomp"] = docker_profile(v, &caps);
        }
    }
    if !i.devices.is_empty() {
        let mut devs = Vec::new();
        for d in i.devices {
            devs.push(device(d)?);
        }
        // The access the user asked for (the runtime allows rwm for a device it makes).
        if let Some(rules) = linux["resources"]["devices"].as_array_mut() {
            for (d, v) in i.devices.iter().zip(&devs) {
                rules.push(json!({"allow": true, "type": v["type"], "major": v["major"], "minor": v["minor"], "access": d.perms}));
            }
        }
        linux["devices"] = devs.into();
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": process,
        "root": {"path": i.rootfs, "readonly": i.read_only},
        "mounts": mounts,
        "linux": linux,
        "annotations": {"io.hull.container.id": i.id},
    });
    if i.sharing.uts == Ns::Own {
        spec["hostname"] = i.hostname.into();
        if let Some(d) = &i.extra.domainname {
            spec["domainname"] = d.clone().into();
        }
    } else if i.extra.domainname.is_some() {
        return Err(Error::Invalid("Conflicting options: domainname and the UTS mode".into()));
    }
    for (k, v) in &i.extra.annotations {
        spec["annotations"][k] = v.clone().into();
    }
    let typed: oci_spec::runtime::Spec =
        serde_json::from_value(spec.clone()).map_err(|e| Error::Invalid(format!("container config: {e}")))?;
    hull_container::spec::validate(&typed)?;
    Ok(spec)
}

/// A Docker profile file: its `includes`/`excludes` by capability resolved and the
/// Docker-only keys dropped, leaving a runtime-spec `linux.seccomp`.
fn docker_profile(mut v: Value, caps: &[String]) -> Value {
    if let Some(list) = v.get_mut("syscalls").and_then(Value::as_array_mut) {
        list.retain(|s| {
            let needs = s.pointer("/includes/caps").and_then(Value::as_array);
            let refuses = s.pointer("/excludes/caps").and_then(Value::as_array);
            let held = |l: &Vec<Value>| l.iter().filter_map(Value::as_str).any(|c| caps.iter().any(|x| x == c));
            needs.is_none_or(held) && !refuses.is_some_and(held)
        });
        for s in list.iter_mut() {
            if let Some(o) = s.as_object_mut() {
                o.remove("includes");
                o.remove("excludes");
                o.remove("comment");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        if let Some(m) = o.remove("archMap") {
            let archs: Vec<Value> = m
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["architecture"] == "SCMP_ARCH_X86_64")
                .flat_map(|a| {
                    std::iter::once(a["architecture"].clone())
                        .chain(a["subArchitectures"].as_array().cloned().unwrap_or_default())
                })
                .collect();
            o.insert("architectures".into(), archs.into());
        }
    }
    v
}

fn device(d: &Device) -> Result<Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(&d.host).map_err(Error::at(format!("--device {}", d.host.display())))?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return Err(Error::Invalid(format!("--device {}: not a device node", d.host.display())));
    };
    if d.perms.is_empty() || !d.perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(Error::Invalid(format!(
            "--device {}: invalid permissions {:?} (r, w, m)",
            d.host.display(),
            d.perms
        )));
    }
    let rdev = m.rdev();
    Ok(json!({"path": d.container, "type": kind, "major": libc::major(rdev), "minor": libc::minor(rdev),
        "fileMode": m.mode() & 0o7777, "uid": 0, "gid": 0}))
}

/// HOSTNAME (and TERM with a terminal) as Docker sets them, unless the user did.
fn env_with_hostname(env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut out = env.to_vec();
    if !out.iter().any(|e| e.starts_with("HOSTNAME=")) {
        out.insert(1.min(out.len()), format!("HOSTNAME={hostname}"));
    }
    if tty && !out.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    out
}

/// Writes `hosts`, `hostname` and `resolv.conf` into the container's directory.
pub fn write_etc_files(dir: &Path, hostname: &str, network: &str, etc: &EtcOptions) -> Result<()> {
    let (mut hosts, mut resolv) = if network == "host" {
        (
            std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        )
    } else {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
                     ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
            .to_string();
        // The host's resolvers without loopback ones, which the container cannot reach.
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let resolv: String = host
            .lines()
            .filter(|l| {
                let mut w = l.split_whitespace();
                !(w.next() == Some("nameserver") && w.next().is_some_and(|a| a.starts_with("127.") || a == "::1"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        (hosts, resolv)
    };
    for (host, addr) in &etc.hosts {
        hosts.push_str(&format!("{addr}\t{host}\n"));
    }
    // --dns* replace what the host's file says about that part, as Docker.
    let keep = |resolv: &str, key: &str| -> String {
        resolv.lines().filter(|l| l.split_whitespace().next() != Some(key)).map(|l| format!("{l}\n")).collect()
    };
    if !etc.dns.is_empty() {
        resolv = keep(&resolv, "nameserver");
        resolv.extend(etc.dns.iter().map(|d| format!("nameserver {d}\n")));
    }
    if !etc.dns_search.is_empty() {
        resolv = keep(&keep(&resolv, "search"), "domain");
        resolv.push_str(&format!("search {}\n", etc.dns_search.join(" ")));
    }
    if !etc.dns_options.is_empty() {
        resolv = keep(&resolv, "options");
        resolv.push_str(&format!("options {}\n", etc.dns_options.join(" ")));
    }
    for (name, text) in [("hosts", hosts), ("hostname", format!("{hostname}\n")), ("resolv.conf", resolv)] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(Error::at(format!("write {}", p.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_as_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let c = capabilities(false, &[], &[]).unwrap();
        assert_eq!(c.len(), 14);
        let c = capabilities(false, &s(&["net_admin"]), &s(&["CHOWN"])).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".into()) && !c.contains(&"CAP_CHOWN".into()));
        let c = capabilities(false, &s(&["SYS_TIME"]), &s(&["ALL"])).unwrap();
        assert_eq!(c, ["CAP_SYS_TIME"]);
        assert!(capabilities(true, &[], &[]).unwrap().len() > 30);
        assert!(capabilities(false, &s(&["BOGUS"]), &[]).is_err());
    }

    #[test]
    fn docker_profiles_resolve_capability_conditions() {
        let v = json!({"defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}, "comment": "x"}
        ]});
        let p = docker_profile(v, &["CAP_CHOWN".into()]);
        let names: Vec<&str> =
            p["syscalls"].as_array().unwrap().iter().map(|s| s["names"][0].as_str().unwrap()).collect();
        assert_eq!(names, ["read", "clone"]);
        assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
    }
}

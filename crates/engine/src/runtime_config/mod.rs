//! The runtime-spec config of an engine container: Docker's defaults (capabilities,
//! mounts, masked and read-only /proc paths, device rules, the default seccomp
//! profile, a private network namespace with loopback) with the user's flags applied.

mod capabilities;
mod checks;
mod devices;
mod etc_files;
mod limits;
mod seccomp;

pub use capabilities::capabilities;
use checks::check_propagation;
pub use checks::check_sysctl;
use devices::device;
pub use devices::{block_device, device_rule};
pub use etc_files::{write_etc_files, EtcOptions};
pub use limits::{limits, DeviceWeight, Resources, Throttle};
use seccomp::docker_profile;

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

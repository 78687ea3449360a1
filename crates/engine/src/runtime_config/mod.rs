//! The runtime-spec config of an engine container: Docker's defaults (capabilities,
//! mounts, masked and read-only /proc paths, device rules, the default seccomp
//! profile, a private network namespace with loopback) with the user's flags applied.

mod capabilities;
mod checks;
mod devices;
mod etc_files;
mod limits;
mod seccomp;
mod typed;

pub use capabilities::capabilities;
use checks::check_propagation;
pub use checks::check_sysctl;
pub use devices::{block_device, device_rule};
pub use etc_files::{write_etc_files, EtcOptions};
pub use limits::{limits, DeviceWeight, Resources, Throttle};
use seccomp::docker_profile;
pub use typed::build;

use crate::error::{Error, Result};
use crate::record::MountPoint;
use crate::seccomp_profile;
use hull_container::capabilities::{canonical, ALL as CAPS};
use hull_image::runconfig::RunConfig;
use serde_json::Value;
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
    pub device_rules: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
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
    /// `--network container:NAME`: that container's network namespace.
    pub net: Ns,
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

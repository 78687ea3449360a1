//! The `linux.resources` limits a container asks for (Docker's units already converted):
//! only the fields given, so that `update` changes nothing else.

use super::*;

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

/// The `linux.resources` limits (no device rules) the flags in `r` ask for: only the
/// fields given, so that `update` changes nothing else.
pub fn limits(r: &Resources) -> Result<oci_spec::runtime::LinuxResources> {
    super::typed::resources(r)
}

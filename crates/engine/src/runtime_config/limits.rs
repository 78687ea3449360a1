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

//! A running container's resource use, in the shape of Docker's stats API (`GET
//! /containers/{id}/stats`): CPU time and the host's, memory with the page cache
//! Docker leaves out, block I/O, pids and the network interfaces of its namespace.
//! One call is one reading; rates (CPU %) come from two, as Docker's clients compute.

use crate::error::Result;
use crate::record::ContainerStatus;
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reading, Docker's field names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// When it was read (RFC 3339).
    pub read: String,
    pub name: String,
    pub id: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub cpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// By interface (not `lo`); empty for a container on the host's network.
    pub networks: BTreeMap<String, NetworkStats>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    /// `read`, `write`, … (Docker's words, any case).
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// The host's CPU time in nanoseconds, all CPUs together (`/proc/stat`).
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Nanoseconds of CPU the container used.
    pub total_usage: u64,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemoryStats {
    pub usage: u64,
    pub limit: u64,
    /// The cgroup's counters (`inactive_file`, …).
    pub stats: BTreeMap<String, u64>,
}

impl MemoryStats {
    /// Usage as Docker's CLI shows it: the page cache that can be dropped is not counted.
    pub fn used(&self) -> u64 {
        let cache = self.stats.get("total_inactive_file").or_else(|| self.stats.get("inactive_file")).copied();
        self.usage.saturating_sub(cache.unwrap_or(0))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

impl Engine {
    /// One reading of container `id`'s use; zeros for one that is not running.
    pub fn stats(&self, id: &str) -> Result<Stats> {
        let c = self.container(id)?;
        let mut s = Stats {
            read: crate::now(),
            name: format!("/{}", c.record.name),
            id: c.record.id.clone(),
            cpu_stats: CpuStats { system_cpu_usage: host_cpu_ns(), online_cpus: online_cpus(), ..Default::default() },
            ..Default::default()
        };
        if !matches!(c.status, ContainerStatus::Running | ContainerStatus::Paused) {
            return Ok(s);
        }
        let Ok(event) = hull_container::container::stats_event(&self.runtime, id) else { return Ok(s) };
        let d = &event["data"];
        let num = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        s.cpu_stats.cpu_usage = CpuUsage {
            total_usage: num(&d["cpu"]["usage"]["total"]),
            usage_in_kernelmode: num(&d["cpu"]["usage"]["kernel"]),
            usage_in_usermode: num(&d["cpu"]["usage"]["user"]),
        };
        s.memory_stats.usage = num(&d["memory"]["usage"]["usage"]);
        let host = host_memory();
        s.memory_stats.limit = match d["memory"]["usage"]["limit"].as_u64() {
            Some(l) if l > 0 && l < host => l,
            _ => host,
        };
        if let Some(raw) = d["memory"]["raw"].as_object() {
            s.memory_stats.stats = raw.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect();
        }
        s.pids_stats.current = num(&d["pids"]["current"]);
        s.pids_stats.limit = d["pids"]["limit"].as_u64().filter(|l| *l > 0);
        for e in d["blkio"]["ioServiceBytesRecursive"].as_array().into_iter().flatten() {
            s.blkio_stats.io_service_bytes_recursive.push(BlkioEntry {
                major: num(&e["major"]),
                minor: num(&e["minor"]),
                op: e["op"].as_str().unwrap_or_default().to_owned(),
                value: num(&e["value"]),
            });
        }
        if c.record.host.network != "host" {
            let pid = hull_container::container::state(&self.runtime, id).map(|s| s.pid).unwrap_or(0);
            if pid > 0 {
                s.networks = networks(pid);
            }
        }
        Ok(s)
    }
}

/// The network interfaces of `pid`'s namespace, `lo` left out.
fn networks(pid: i32) -> BTreeMap<String, NetworkStats> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else { return BTreeMap::new() };
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(i, _)| i.trim() != "lo")
        .map(|(i, v)| {
            let f: Vec<u64> = v.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            let at = |k: usize| f.get(k).copied().unwrap_or(0);
            (
                i.trim().to_owned(),
                NetworkStats { rx_bytes: at(0), rx_packets: at(1), tx_bytes: at(8), tx_packets: at(9) },
            )
        })
        .collect()
}

/// The host's memory (`MemTotal`).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse().ok())
        })
        .map_or(0, |kb: u64| kb * 1024)
}

/// The host's CPU time in nanoseconds: the first line of `/proc/stat` (clock ticks of
/// 10 ms, USER_HZ = 100 on Linux).
fn host_cpu_ns() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else { return 0 };
    let Some(line) = text.lines().next().and_then(|l| l.strip_prefix("cpu ")) else { return 0 };
    line.split_whitespace().filter_map(|x| x.parse::<u64>().ok()).sum::<u64>() * 10_000_000
}

fn online_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// CPU use between two readings, as Docker's CLI computes it: the container's share
/// of the host's CPU time, times the CPUs (100% is one CPU).
pub fn cpu_percent(now: &Stats, before: &Stats) -> f64 {
    let cpu = now.cpu_stats.cpu_usage.total_usage.saturating_sub(before.cpu_stats.cpu_usage.total_usage) as f64;
    let system = now.cpu_stats.system_cpu_usage.saturating_sub(before.cpu_stats.system_cpu_usage) as f64;
    if system > 0.0 && cpu > 0.0 {
        cpu / system * now.cpu_stats.online_cpus.max(1) as f64 * 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_as_docker() {
        let at = |cpu, sys| Stats {
            cpu_stats: CpuStats {
                cpu_usage: CpuUsage { total_usage: cpu, ..Default::default() },
                system_cpu_usage: sys,
                online_cpus: 2,
            },
            ..Default::default()
        };
        // Half of the host's two CPUs' time: one CPU, 100%.
        assert_eq!(cpu_percent(&at(1_500, 2_000), &at(500, 0)), 100.0);
        assert_eq!(cpu_percent(&at(5, 5), &at(5, 5)), 0.0);
        let m = MemoryStats { usage: 100, limit: 1000, stats: [("inactive_file".to_string(), 30)].into() };
        assert_eq!(m.used(), 70);
    }
}

//! Statistics of a container's cgroups in runc's `events --stats` shape (cpu, memory,
//! pids, hugetlb, blkio), read from whichever layout the host has, and the OOM-kill
//! counter that `events` watches.

use super::resources::Placement;
use serde_json::{json, Map, Value};
use std::path::Path;

fn read(d: &Path, f: &str) -> Option<String> {
    std::fs::read_to_string(d.join(f)).ok()
}

fn num(d: &Path, f: &str) -> u64 {
    read(d, f).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// A "max" or number file as runc reports it (max → u64::MAX).
fn limit(d: &Path, f: &str) -> u64 {
    match read(d, f) {
        Some(s) if s.trim() == "max" => u64::MAX,
        Some(s) => s.trim().parse().unwrap_or(0),
        None => 0,
    }
}

/// `key value` lines (cpu.stat, memory.stat, memory.events) as a map.
fn keyed(d: &Path, f: &str) -> Map<String, Value> {
    read(d, f)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| v.trim().parse::<u64>().ok().map(|v| (k.to_owned(), Value::from(v))))
        .collect()
}

fn get(m: &Map<String, Value>, k: &str) -> u64 {
    m.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The stats document (`data` of runc's stats event).
pub fn collect(p: &Placement) -> Value {
    let mut data = Map::new();
    // cpu
    if let Some(d) = p.v1("cpuacct") {
        let stat = keyed(d, "cpuacct.stat");
        let tick = 1_000_000_000 / 100; // USER_HZ ticks to ns, as runc converts them
        let percpu: Vec<u64> = read(d, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let throttle = p.v1("cpu").map(|c| keyed(c, "cpu.stat")).unwrap_or_default();
        data.insert(
            "cpu".into(),
            json!({
                "usage": {"total": num(d, "cpuacct.usage"), "percpu": percpu,
                          "kernel": get(&stat, "system") * tick, "user": get(&stat, "user") * tick},
                "throttling": {"periods": get(&throttle, "nr_periods"), "throttled_periods": get(&throttle, "nr_throttled"),
                               "throttled_time": get(&throttle, "throttled_time")}
            }),
        );
    } else if let Some(d) = p.unified() {
        let stat = keyed(d, "cpu.stat");
        data.insert(
            "cpu".into(),
            json!({
                "usage": {"total": get(&stat, "usage_usec") * 1000, "kernel": get(&stat, "system_usec") * 1000,
                          "user": get(&stat, "user_usec") * 1000},
                "throttling": {"periods": get(&stat, "nr_periods"), "throttled_periods": get(&stat, "nr_throttled"),
                               "throttled_time": get(&stat, "throttled_usec") * 1000}
            }),
        );
    }
    // memory
    if let Some(d) = p.v1("memory") {
        let entry = |prefix: &str| {
            json!({"usage": num(d, &format!("{prefix}.usage_in_bytes")), "max": num(d, &format!("{prefix}.max_usage_in_bytes")),
                   "failcnt": num(d, &format!("{prefix}.failcnt")), "limit": num(d, &format!("{prefix}.limit_in_bytes"))})
        };
        data.insert(
            "memory".into(),
            json!({"usage": entry("memory"), "swap": entry("memory.memsw"), "kernel": entry("memory.kmem"),
                   "raw": keyed(d, "memory.stat")}),
        );
    } else if let Some(d) = p.v2("memory") {
        let events = keyed(d, "memory.events");
        data.insert(
            "memory".into(),
            json!({
                "usage": {"usage": num(d, "memory.current"), "max": num(d, "memory.peak"), "failcnt": get(&events, "max"),
                          "limit": limit(d, "memory.max")},
                "swap": {"usage": num(d, "memory.swap.current"), "limit": limit(d, "memory.swap.max")},
                "raw": keyed(d, "memory.stat")
            }),
        );
    }
    // pids
    if let Some(d) = p.v1("pids").or_else(|| p.v2("pids")) {
        let l = limit(d, "pids.max");
        data.insert(
            "pids".into(),
            json!({"current": num(d, "pids.current"), "limit": if l == u64::MAX { 0 } else { l }}),
        );
    }
    // hugetlb
    let mut huge = Map::new();
    if let Some(d) = p.v1("hugetlb").or_else(|| p.v2("hugetlb")) {
        let v1 = p.v1("hugetlb").is_some();
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let size = if v1 {
                name.strip_prefix("hugetlb.").and_then(|s| s.strip_suffix(".usage_in_bytes"))
            } else {
                name.strip_prefix("hugetlb.").and_then(|s| s.strip_suffix(".current"))
            };
            if let Some(size) = size.filter(|s| !s.contains('.')) {
                let v = if v1 {
                    json!({"usage": num(d, &name), "max": num(d, &format!("hugetlb.{size}.max_usage_in_bytes")),
                           "failcnt": num(d, &format!("hugetlb.{size}.failcnt"))})
                } else {
                    json!({"usage": num(d, &name), "failcnt": get(&keyed(d, &format!("hugetlb.{size}.events")), "max")})
                };
                huge.insert(size.to_owned(), v);
            }
        }
    }
    data.insert("hugetlb".into(), Value::Object(huge));
    data.insert("blkio".into(), blkio(p));
    Value::Object(data)
}

/// Bytes read and written per device, in runc's shape (`ioServiceBytesRecursive`).
fn blkio(p: &Placement) -> Value {
    let mut entries = Vec::new();
    let dev = |d: &str| -> Option<(u64, u64)> {
        let (a, b) = d.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    if let Some(d) = p.v1("blkio") {
        let text = read(d, "blkio.throttle.io_service_bytes_recursive")
            .filter(|t| t.lines().count() > 1)
            .or_else(|| read(d, "blkio.io_service_bytes_recursive"))
            .unwrap_or_default();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if let [d, op, v] = f.as_slice() {
                if let Some((major, minor)) = dev(d) {
                    let value: u64 = v.parse().unwrap_or(0);
                    entries.push(json!({"major": major, "minor": minor, "op": op, "value": value}));
                }
            }
        }
    } else if let Some(d) = p.v2("io") {
        for l in read(d, "io.stat").unwrap_or_default().lines() {
            let mut f = l.split_whitespace();
            let Some((major, minor)) = f.next().and_then(dev) else { continue };
            for kv in f {
                let op = match kv.split_once('=') {
                    Some(("rbytes", v)) => ("Read", v),
                    Some(("wbytes", v)) => ("Write", v),
                    _ => continue,
                };
                let value: u64 = op.1.parse().unwrap_or(0);
                entries.push(json!({"major": major, "minor": minor, "op": op.0, "value": value}));
            }
        }
    }
    json!({"ioServiceBytesRecursive": entries})
}

/// How many times the kernel's OOM killer has killed in the container's cgroup.
pub fn oom_kills(p: &Placement) -> u64 {
    if let Some(d) = p.v1("memory") {
        return get(&keyed(d, "memory.oom_control"), "oom_kill");
    }
    p.v2("memory").map(|d| get(&keyed(d, "memory.events"), "oom_kill")).unwrap_or(0)
}

//! `hull stats`, `port`, `system df`, `system prune`, `container prune`, `info` and
//! `version`: the engine as a whole, in Docker's shapes.

use crate::cli::{DfArgs, EventsArgs, InfoArgs, PortArgs, PruneArgs, StatsArgs, SystemPruneArgs};
use crate::format::{human_size, print_table, template};
use hull_engine::error::{Error, Result};
use hull_engine::stats::Stats;
use hull_engine::Engine;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

/// Docker's binary units for memory (`1.5MiB`).
fn binary_size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        return format!("{n}B");
    }
    // Four significant digits, as Go's %.4g.
    let decimals = 3usize.saturating_sub(v.log10().floor().max(0.0) as usize);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    format!("{s}{}", units[i])
}

/// The row of `stats` for a reading, against the one before it.
fn stats_row(now: &Stats, before: Option<&Stats>, live: bool, no_trunc: bool) -> Value {
    let cpu = before.map_or(0.0, |b| hull_engine::stats::cpu_percent(now, b));
    let usage = now.memory_stats.used();
    let limit = now.memory_stats.limit.max(1);
    let mem_perc = usage as f64 / limit as f64 * 100.0;
    let (rx, tx) = now.networks.values().fold((0, 0), |a, n| (a.0 + n.rx_bytes, a.1 + n.tx_bytes));
    let (mut read, mut write) = (0u64, 0u64);
    for e in &now.blkio_stats.io_service_bytes_recursive {
        match e.op.to_ascii_lowercase().as_str() {
            "read" => read += e.value,
            "write" => write += e.value,
            _ => {}
        }
    }
    let dash = |s: String| if live { s } else { "--".into() };
    let id = if no_trunc { now.id.clone() } else { now.id[..12].to_string() };
    json!({
        "Container": id,
        "ID": id,
        "Name": now.name.trim_start_matches('/'),
        "CPUPerc": dash(format!("{cpu:.2}%")),
        "MemUsage": dash(format!("{} / {}", binary_size(usage), binary_size(now.memory_stats.limit))),
        "MemPerc": dash(format!("{mem_perc:.2}%")),
        "NetIO": dash(format!("{} / {}", human_size(rx), human_size(tx))),
        "BlockIO": dash(format!("{} / {}", human_size(read), human_size(write))),
        "PIDs": now.pids_stats.current.to_string(),
    })
}

pub fn stats(engine: &Engine, a: &StatsArgs) -> Result<i32> {
    let named = !a.containers.is_empty();
    let ids = |engine: &Engine| -> Result<Vec<String>> {
        if named {
            return a.containers.iter().map(|n| engine.resolve(n)).collect();
        }
        Ok(engine
            .ids()?
            .into_iter()
            .filter(|id| a.all || engine.container(id).is_ok_and(|c| c.status.is_live()))
            .collect())
    };
    let read = |engine: &Engine, id: &String| -> Option<(Stats, bool)> {
        let live = engine.container(id).ok()?.status.is_live();
        Some((engine.stats(id).ok()?, live))
    };
    let mut before: Vec<(Stats, bool)> = ids(engine)?.iter().filter_map(|id| read(engine, id)).collect();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut first = true;
    loop {
        // CPU use needs two readings: the first row waits half a second, as Docker's
        // first frame waits for its second reading.
        std::thread::sleep(if first { Duration::from_millis(500) } else { Duration::from_secs(1) });
        let now: Vec<(Stats, bool)> = ids(engine)?.iter().filter_map(|id| read(engine, id)).collect();
        let rows: Vec<Value> = now
            .iter()
            .map(|(s, live)| stats_row(s, before.iter().map(|(b, _)| b).find(|b| b.id == s.id), *live, a.no_trunc))
            .collect();
        let mut out = std::io::stdout().lock();
        if terminal && !a.no_stream {
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        print_stats(&mut out, &rows, a.format.as_deref());
        let _ = out.flush();
        if a.no_stream {
            return Ok(0);
        }
        if named && now.iter().all(|(_, live)| !live) && !first {
            return Ok(0);
        }
        first = false;
        before = now;
    }
}

fn print_stats(out: &mut dyn Write, rows: &[Value], format: Option<&str>) {
    match format {
        Some("json") => {
            for r in rows {
                let _ = writeln!(out, "{r}");
            }
        }
        Some(t) if t != "table" => {
            let (t, header) = match t.strip_prefix("table ") {
                Some(t) => (t, true),
                None => (t, false),
            };
            if header {
                let names = template(
                    t,
                    &json!({
                        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"
                    }),
                );
                let _ = writeln!(out, "{names}");
            }
            for r in rows {
                let _ = writeln!(out, "{}", template(t, r));
            }
        }
        _ => {
            let mut table =
                vec![["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
                    .map(String::from)
                    .to_vec()];
            for r in rows {
                table.push(
                    ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]
                        .iter()
                        .map(|k| r[*k].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            print_table(out, &table);
        }
    }
}

/// `hull port CTR [PORT[/PROTO]]`: the container's published ports, Docker's lines
/// (`80/tcp -> 0.0.0.0:8080`; the host side only when a port is given).
pub fn port(engine: &Engine, a: &PortArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let c = engine.container(&id)?;
    let maps: Vec<_> = if c.status.is_live() { c.run.published().cloned().collect() } else { Vec::new() };
    match &a.port {
        Some(p) => {
            let p = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
            let found: Vec<_> = maps.iter().filter(|m| m.key() == p).collect();
            if found.is_empty() {
                return Err(Error::Conflict(format!("No public port '{p}' published for {}", c.record.name)));
            }
            for m in found {
                println!("{}", m.host());
            }
        }
        None => {
            for m in &maps {
                println!("{} -> {}", m.key(), m.host());
            }
        }
    }
    Ok(0)
}

/// `hull container prune`: every container that is not running.
pub fn prune_containers(engine: &Engine) -> Result<Vec<String>> {
    let pruned = engine.prune_containers()?;
    println!("Deleted Containers:");
    for id in &pruned.deleted {
        println!("{id}");
    }
    for e in &pruned.errors {
        eprintln!("Error: {e}");
    }
    println!();
    Ok(pruned.deleted)
}

pub fn prune(engine: &Engine, a: &SystemPruneArgs) -> Result<i32> {
    prune_containers(engine)?;
    if a.volumes {
        println!("Deleted Volumes:");
        for n in engine.prune_volumes(false)? {
            println!("{n}");
        }
        println!();
    }
    crate::images::prune(engine, &PruneArgs { all: a.all, force: true })?;
    Ok(0)
}

pub fn df(engine: &Engine, a: &DfArgs) -> Result<i32> {
    let du = engine.disk_usage()?;
    let pct = |free: u64, total: u64| (free * 100).checked_div(total).unwrap_or(0);
    let row = |t: &'static str, u: &hull_engine::system::Usage| {
        (t, u.total, u.active, u.size, format!("{} ({}%)", human_size(u.reclaimable), pct(u.reclaimable, u.size)))
    };
    let rows = [
        row("Images", &du.images),
        row("Containers", &du.containers),
        row("Local Volumes", &du.volumes),
        ("Build Cache", 0, 0, 0, "0B".to_string()),
    ];
    let values: Vec<Value> = rows
        .iter()
        .map(|(t, total, active, size, free)| {
            json!({"Type": t, "TotalCount": total.to_string(), "Active": active.to_string(),
                   "Size": human_size(*size), "Reclaimable": free})
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        Some("json") => {
            for v in &values {
                let _ = writeln!(out, "{v}");
            }
        }
        Some(t) if t != "table" => {
            for v in &values {
                let _ = writeln!(out, "{}", template(t.strip_prefix("table ").unwrap_or(t), v));
            }
        }
        _ => {
            let mut table = vec![["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"].map(String::from).to_vec()];
            for v in &values {
                table.push(
                    ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                        .iter()
                        .map(|k| v[*k].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            print_table(&mut out, &table);
        }
    }
    Ok(0)
}

fn version_value() -> Value {
    let p = hull_image::image::Platform::host();
    json!({"Client": {"Version": env!("CARGO_PKG_VERSION"), "Os": p.os, "Arch": p.arch,
                      "Platform": {"Name": "hull"}, "Daemonless": true}})
}

pub fn version(a: &InfoArgs) -> Result<i32> {
    let v = version_value();
    match a.format.as_deref() {
        Some("json") => println!("{v}"),
        Some(t) => println!("{}", template(t, &v)),
        None => {
            println!("Client: hull");
            println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
            println!(
                " OS/Arch:    {}/{}",
                v["Client"]["Os"].as_str().unwrap_or(""),
                v["Client"]["Arch"].as_str().unwrap_or("")
            );
            println!(" Daemonless: true (each container has its own monitor process)");
        }
    }
    Ok(0)
}

pub fn info(engine: &Engine, a: &InfoArgs) -> Result<i32> {
    let info = engine.info()?;
    let v = serde_json::to_value(&info)?;
    match a.format.as_deref() {
        Some("json") => println!("{v}"),
        Some(t) => println!("{}", template(t, &v)),
        None => {
            let s = |k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                x => x.to_string(),
            };
            println!("Client: hull {}", env!("CARGO_PKG_VERSION"));
            println!("Engine (daemonless):");
            println!(" Containers: {}", s("Containers"));
            println!("  Running: {}", s("ContainersRunning"));
            println!("  Paused: {}", s("ContainersPaused"));
            println!("  Stopped: {}", s("ContainersStopped"));
            println!(" Images: {}", s("Images"));
            println!(" Storage Driver: {}", s("Driver"));
            println!(" Logging Driver: {}", s("LoggingDriver"));
            println!(" Cgroup Driver: {}", s("CgroupDriver"));
            println!(" Cgroup Version: {}", s("CgroupVersion"));
            println!(" Runtime: {}", s("DefaultRuntime"));
            println!(" Security Options:");
            for o in &info.security_options {
                println!("  {o}");
            }
            println!(" Kernel Version: {}", s("KernelVersion"));
            println!(" Operating System: {}", s("OperatingSystem"));
            println!(" OSType: linux");
            println!(" Architecture: {}", s("Architecture"));
            println!(" CPUs: {}", s("NCPU"));
            println!(" Total Memory: {}", binary_size(hull_engine::stats::host_memory()));
            println!(" Name: {}", s("Name"));
            println!(" Root Dir: {}", s("DockerRootDir"));
        }
    }
    Ok(0)
}

/// `hull events`: the engine's event log, from `--since` to `--until`, or followed
/// without `--until`, in Docker's line format, as JSON or through a template.
pub fn events(engine: &Engine, a: &EventsArgs) -> Result<i32> {
    use hull_engine::events::{self, Filter};
    let now = std::time::SystemTime::now();
    let since = a.since.as_deref().map(|s| events::parse_time(s, now)).transpose()?;
    let until = a.until.as_deref().map(|s| events::parse_time(s, now)).transpose()?;
    let filter = Filter::parse(&a.filter)?;
    events::check_readable(engine.root())?;
    // Docker without --since shows only what happens from now on.
    let since = since.or_else(|| a.until.is_none().then(events::now_nanos));
    let out = std::io::stdout();
    for e in engine.events().read(since, until, true, filter) {
        let line = match a.format.as_deref() {
            Some("json") | Some("{{json .}}") => serde_json::to_string(&e)?,
            Some(t) => template(t, &serde_json::to_value(&e)?),
            None => {
                let time = std::time::UNIX_EPOCH + Duration::from_nanos(e.time_nano.max(0) as u64);
                let attrs: Vec<String> = e.actor.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "{} {} {} {} ({})",
                    humantime::format_rfc3339_nanos(time),
                    e.kind,
                    e.action,
                    e.actor.id,
                    attrs.join(", ")
                )
            }
        };
        if writeln!(out.lock(), "{line}").is_err() {
            break;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_in_binary_units() {
        assert_eq!(binary_size(512), "512B");
        assert_eq!(binary_size(1536), "1.5KiB");
        assert_eq!(binary_size(64 * 1024 * 1024), "64MiB");
        assert_eq!(binary_size(23_456_789_012), "21.85GiB");
    }
}

//! `hull ps`, `inspect`, `logs` and `top`: what hull-engine tells about its containers,
//! as tables, JSON or Go-style templates.

use crate::cli::{InspectContainerArgs, LogsArgs, PsArgs, TopArgs};
use crate::format::{human_size, print_table, template};
use hull_engine::error::{Error, Result};
use hull_engine::inspect::{ContainerSummary, ListOptions};
use hull_engine::logs;
use hull_engine::Engine;
use serde_json::{json, Value};
use std::io::Write;

/// The fields of `ps --format` templates and `--format json` (Docker's CLI names).
fn ps_fields(s: &ContainerSummary, no_trunc: bool) -> Value {
    let mut command = s.command.clone();
    if !no_trunc && command.chars().count() > 20 {
        command = command.chars().take(19).collect::<String>() + "…";
    }
    let created = std::time::UNIX_EPOCH + std::time::Duration::from_secs(s.created.max(0) as u64);
    let created = humantime::format_rfc3339_seconds(created).to_string();
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut v = json!({
        "ID": if no_trunc { s.id.clone() } else { s.id[..12].to_string() },
        "Image": s.image,
        "Command": format!("\"{command}\""),
        "CreatedAt": created,
        "RunningFor": hull_engine::units::ago(Some(&created)).trim_end_matches(" ago").to_string(),
        "Status": s.status,
        "State": s.state,
        "Ports": s
            .ports
            .iter()
            .map(|p| match p.public_port {
                Some(public) if p.ip.contains(':') => format!("[{}]:{public}->{}/{}", p.ip, p.private_port, p.kind),
                Some(public) => format!("{}:{public}->{}/{}", p.ip, p.private_port, p.kind),
                None => format!("{}/{}", p.private_port, p.kind),
            })
            .collect::<Vec<_>>()
            .join(", "),
        "Names": s.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","),
        "Labels": labels.join(","),
        "Mounts": s.mounts.iter().map(|m| m.name.clone().unwrap_or(m.source.clone())).collect::<Vec<_>>().join(","),
        "Networks": s.host_config.network_mode,
    });
    if let Some(size) = s.size_rw {
        v["Size"] = json!(human_size(size));
    }
    v
}

pub fn ps(engine: &Engine, a: &PsArgs) -> Result<i32> {
    let opts = ListOptions { all: a.all, limit: a.latest.then_some(1), size: a.size, filters: a.filter.clone() };
    let list = engine.list(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for c in &list {
            let _ = writeln!(out, "{}", if a.no_trunc { c.id.clone() } else { c.id[..12].to_string() });
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some("json") => {
            for c in &list {
                let _ = writeln!(out, "{}", ps_fields(c, a.no_trunc));
            }
        }
        Some(t) if t != "table" => {
            let (header, t) = match t.strip_prefix("table ") {
                Some(t) => (true, t),
                None => (false, t),
            };
            let mut rows = Vec::new();
            if header {
                let h = template(
                    t,
                    &json!({"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
                    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE",
                    "Ports": "PORTS", "Names": "NAMES", "Labels": "LABELS", "Size": "SIZE", "Mounts": "MOUNTS", "Networks": "NETWORKS"}),
                );
                rows.push(h.split('\t').map(str::to_string).collect());
            }
            for c in &list {
                rows.push(template(t, &ps_fields(c, a.no_trunc)).split('\t').map(str::to_string).collect());
            }
            if header {
                print_table(&mut out, &rows);
            } else {
                for r in rows {
                    let _ = writeln!(out, "{}", r.join("\t"));
                }
            }
        }
        _ => {
            let mut head = vec!["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
            if a.size {
                head.push("SIZE");
            }
            let mut rows = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            for c in &list {
                let f = ps_fields(c, a.no_trunc);
                let mut row: Vec<String> = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
                    .iter()
                    .map(|k| f[*k].as_str().unwrap_or_default().to_string())
                    .collect();
                row[3].push_str(" ago");
                if a.size {
                    row.push(f["Size"].as_str().unwrap_or_default().to_string());
                }
                rows.push(row);
            }
            print_table(&mut out, &rows);
        }
    }
    Ok(0)
}

/// `hull inspect`: containers, then images, by name.
pub fn inspect(engine: &Engine, a: &InspectContainerArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut status = 0;
    for n in &a.names {
        let as_container = a.kind.as_deref() != Some("image");
        let as_image = a.kind.as_deref() != Some("container");
        let found = match engine.resolve(n) {
            Ok(id) if as_container => engine.inspect(&id).ok().and_then(|c| serde_json::to_value(c).ok()),
            _ => None,
        };
        let found = found.or_else(|| {
            as_image
                .then(|| engine.images.find(n).ok().and_then(|r| engine.images.load(&r).ok()))
                .flatten()
                .map(|i| crate::images::inspect_json(&i))
        });
        match found {
            Some(v) => out.push(v),
            None => {
                eprintln!("Error: No such object: {n}");
                status = 1;
            }
        }
    }
    let mut o = std::io::stdout().lock();
    match &a.format {
        Some(t) => {
            for v in &out {
                let _ = writeln!(o, "{}", template(t, v));
            }
        }
        None => {
            let _ = writeln!(o, "{}", serde_json::to_string_pretty(&Value::Array(out)).unwrap_or_default());
        }
    }
    Ok(status)
}

/// A time flag: seconds since the epoch, RFC 3339, or a duration before now.
fn time_flag(s: &str) -> Result<std::time::SystemTime> {
    let nanos = hull_engine::events::parse_time(s, std::time::SystemTime::now())?;
    Ok(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64))
}

pub fn logs(engine: &Engine, a: &LogsArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let opts = logs::LogsOptions {
        follow: a.follow,
        since: a.since.as_deref().map(time_flag).transpose()?,
        until: a.until.as_deref().map(time_flag).transpose()?,
        tail: match a.tail.as_deref() {
            None | Some("all") => None,
            Some(n) => Some(n.parse::<usize>().map_err(|_| Error::Invalid(format!("invalid --tail {n:?}")))?),
        },
    };
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    for e in engine.logs(&id, &opts)? {
        let line = if a.timestamps { format!("{} {}", e.time, e.log) } else { e.log };
        if e.stream == "stderr" {
            let _ = stderr.write_all(line.as_bytes());
        } else {
            let _ = stdout.write_all(line.as_bytes());
            let _ = stdout.flush();
        }
    }
    Ok(0)
}

pub fn top(engine: &Engine, a: &TopArgs) -> Result<i32> {
    let top = engine.top(&engine.resolve(&a.container)?)?;
    let mut rows = vec![top.titles];
    rows.extend(top.processes);
    print_table(&mut std::io::stdout().lock(), &rows);
    Ok(0)
}

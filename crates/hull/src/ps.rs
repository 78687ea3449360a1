//! `hull ps`, `inspect`, `logs`, `top` and `volume …`: what the engine knows about its
//! containers, in Docker's shapes (tables, JSON, Go-style `{{.Field}}` templates).

use crate::cli::{InspectContainerArgs, LogsArgs, PsArgs, TopArgs, VolumeCommand};
use crate::images::{print_table, since};
use hull_engine::error::{Error, Result};
use hull_engine::logs;
use hull_engine::record::{Container, Status};
use hull_engine::Engine;
use serde_json::{json, Value};
use std::io::Write;

/// Docker's STATUS column.
fn status_text(c: &Container) -> String {
    let ago = |t: &Option<String>| since(t.as_deref()).trim_end_matches(" ago").to_string();
    match &c.status {
        Status::Created => "Created".into(),
        Status::Running if !c.monitored => format!("Up {} (monitor gone)", ago(&c.run.started_at)),
        Status::Running => match c.run.health.as_ref().map(|h| h.status.as_str()) {
            Some("starting") => format!("Up {} (health: starting)", ago(&c.run.started_at)),
            Some(h) => format!("Up {} ({h})", ago(&c.run.started_at)),
            None => format!("Up {}", ago(&c.run.started_at)),
        },
        Status::Paused => format!("Up {} (Paused)", ago(&c.run.started_at)),
        Status::Restarting => {
            format!("Restarting ({}) {}", c.run.exit_code.unwrap_or(0), since(c.run.finished_at.as_deref()))
        }
        Status::Exited(code) => format!("Exited ({code}) {}", since(c.run.finished_at.as_deref())),
        Status::Dead => "Dead".into(),
    }
}

fn command_text(c: &Container, full: bool) -> String {
    let mut s = c.record.path.clone();
    for a in &c.record.args {
        s.push(' ');
        s.push_str(a);
    }
    if !full && s.chars().count() > 20 {
        s = s.chars().take(19).collect::<String>() + "…";
    }
    format!("\"{s}\"")
}

/// The fields of `ps --format` templates and `--format json`.
fn ps_fields(engine: &Engine, c: &Container, no_trunc: bool, size: bool) -> Value {
    let r = &c.record;
    let labels: Vec<String> = r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut v = json!({
        "ID": if no_trunc { r.id.clone() } else { r.id[..12].to_string() },
        "Image": r.image,
        "Command": command_text(c, no_trunc),
        "CreatedAt": r.created,
        "RunningFor": since(Some(&r.created)).trim_end_matches(" ago").to_string(),
        "Status": status_text(c),
        "State": c.status.word(),
        "Ports": "",
        "Names": r.name,
        "Labels": labels.join(","),
        "Mounts": r.mounts.iter().map(|m| m.name.clone().unwrap_or(m.source.clone())).collect::<Vec<_>>().join(","),
        "Networks": r.host.network,
    });
    if size {
        let upper = engine.dir(&r.id).join("rootfs/upper");
        v["Size"] = json!(crate::images::human_size(du(&upper)));
    }
    v
}

/// Bytes used under `p` (not following symlinks).
pub(crate) fn du(p: &std::path::Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p).into_iter().flatten().filter_map(|e| e.ok()).map(|e| du(&e.path())).sum()
}

/// Expands `{{.Field}}`, `{{.A.B}}` and `{{json .X}}` against `v` (Go template basics).
pub fn template(t: &str, v: &Value) -> String {
    let t = t.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 2..start + end].trim();
        let (as_json, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let mut cur = v;
        let null = Value::Null;
        for part in path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()) {
            cur = cur.get(part).unwrap_or(&null);
        }
        match (as_json, cur) {
            (true, x) => out.push_str(&x.to_string()),
            (false, Value::String(s)) => out.push_str(s),
            (false, Value::Null) => out.push_str("<no value>"),
            (false, Value::Array(a)) => {
                let items: Vec<String> =
                    a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string())).collect();
                out.push_str(&format!("[{}]", items.join(" ")));
            }
            (false, Value::Object(o)) => {
                let items: Vec<String> = o
                    .iter()
                    .map(|(k, x)| format!("{k}:{}", x.as_str().map(str::to_string).unwrap_or(x.to_string())))
                    .collect();
                out.push_str(&format!("map[{}]", items.join(" ")));
            }
            (false, x) => out.push_str(&x.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn matches(c: &Container, filter: &str) -> Result<bool> {
    let (k, v) = filter
        .split_once('=')
        .ok_or_else(|| Error::Invalid(format!("bad format of filter (expected name=value): {filter}")))?;
    let r = &c.record;
    Ok(match k {
        "id" => r.id.starts_with(v),
        "name" => r.name.contains(v.trim_start_matches('/')),
        "status" => c.status.word() == v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => r.config.labels.get(lk).is_some_and(|x| x == lv),
            None => r.config.labels.contains_key(v),
        },
        "ancestor" => r.image == v || r.image_id.contains(v),
        "exited" => matches!(c.status, Status::Exited(code) if code.to_string() == v),
        "restart-policy" => r.host.restart.name == v,
        "health" => {
            let h = c.run.health.as_ref().filter(|_| c.status == Status::Running).map(|h| h.status.as_str());
            h.unwrap_or("none") == v
        }
        "volume" => r.mounts.iter().any(|m| m.name.as_deref() == Some(v) || m.destination == v),
        _ => return Err(Error::Invalid(format!("invalid filter '{k}'"))),
    })
}

pub fn ps(engine: &Engine, a: &PsArgs) -> Result<i32> {
    let mut list: Vec<Container> = Vec::new();
    for id in engine.ids()? {
        if let Ok(c) = engine.container(&id) {
            list.push(c);
        }
    }
    list.sort_by(|x, y| y.record.created.cmp(&x.record.created));
    let mut keep = Vec::new();
    for c in list {
        if !a.all && !a.latest && !c.status.is_live() && a.filter.iter().all(|f| !f.starts_with("status=")) {
            continue;
        }
        let mut ok = true;
        for f in &a.filter {
            ok &= matches(&c, f)?;
        }
        if ok {
            keep.push(c);
        }
    }
    if a.latest {
        keep.truncate(1);
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for c in &keep {
            let _ = writeln!(out, "{}", if a.no_trunc { c.record.id.clone() } else { c.record.id[..12].to_string() });
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some("json") => {
            for c in &keep {
                let _ = writeln!(out, "{}", ps_fields(engine, c, a.no_trunc, a.size));
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
            for c in &keep {
                rows.push(
                    template(t, &ps_fields(engine, c, a.no_trunc, a.size)).split('\t').map(str::to_string).collect(),
                );
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
            for c in &keep {
                let f = ps_fields(engine, c, a.no_trunc, a.size);
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

/// A container in the shape of Docker's `inspect`, for the fields hull has.
pub fn inspect_json(engine: &Engine, c: &Container) -> Value {
    let r = &c.record;
    let dir = engine.dir(&r.id);
    let zero = "0001-01-01T00:00:00Z".to_string();
    let mut v = json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.path,
        "Args": r.args,
        "State": {
            "Status": c.status.word(),
            "Running": matches!(c.status, Status::Running | Status::Paused),
            "Paused": c.status == Status::Paused,
            "Restarting": c.status == Status::Restarting,
            "OOMKilled": c.run.oom_killed,
            "Dead": c.status == Status::Dead,
            "Pid": if c.status.is_live() { c.run.pid } else { 0 },
            "ExitCode": c.run.exit_code.unwrap_or(0),
            "Error": c.run.error.clone().unwrap_or_default(),
            "StartedAt": c.run.started_at.clone().unwrap_or(zero.clone()),
            "FinishedAt": c.run.finished_at.clone().unwrap_or(zero),
            "MonitorPid": c.run.monitor_pid,
            "MonitorAlive": c.monitored,
        },
        "Image": r.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": logs::path_of(&dir, &r.id),
        "Name": format!("/{}", r.name),
        "RestartCount": c.run.restart_count,
        "Driver": if r.rootfs == "overlay" { "overlay" } else { "vfs" },
        "Platform": "linux",
        "HostConfig": {
            "AutoRemove": r.host.auto_remove,
            "RestartPolicy": {"Name": r.host.restart.name, "MaximumRetryCount": r.host.restart.max_retries},
            "NetworkMode": r.host.network,
            "Privileged": r.host.privileged,
            "ReadonlyRootfs": r.host.read_only,
            "Init": r.host.init,
            "LogConfig": {"Type": r.host.log_driver, "Config": {
                "max-size": r.host.log_max_size.map(|s| s.to_string()),
                "max-file": r.host.log_max_file.to_string()}},
        },
        "GraphDriver": {"Name": if r.rootfs == "overlay" { "overlay" } else { "vfs" }, "Data": {
            "MergedDir": dir.join("rootfs/merged"), "UpperDir": dir.join("rootfs/upper"), "WorkDir": dir.join("rootfs/work")}},
        "Mounts": r.mounts.iter().map(|m| json!({"Type": m.kind, "Name": m.name, "Source": m.source,
            "Destination": m.destination, "RW": m.rw})).collect::<Vec<_>>(),
        "Config": {
            "Hostname": r.config.hostname,
            "User": r.config.user,
            "Tty": r.config.tty,
            "OpenStdin": r.config.open_stdin,
            "Env": r.config.env,
            "Cmd": r.config.cmd,
            "Image": r.image,
            "WorkingDir": r.config.working_dir,
            "Entrypoint": r.config.entrypoint,
            "Labels": r.config.labels,
            "StopSignal": r.config.stop_signal,
            "StopTimeout": r.config.stop_timeout,
            "Healthcheck": r.config.healthcheck,
            "ExposedPorts": r.config.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
        },
    });
    if let Some(h) = &c.run.health {
        v["State"]["Health"] = json!(h);
    }
    // The limits as the config now has them (`update` changes them there).
    let config: Value =
        std::fs::read(dir.join("config.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let res = |p: &str| config.pointer(&format!("/linux/resources{p}")).cloned().unwrap_or(json!(0));
    let parent = config
        .pointer("/linux/cgroupsPath")
        .and_then(Value::as_str)
        .and_then(|p| p.rsplit_once('/').map(|(parent, _)| parent.to_string()))
        .unwrap_or_default();
    for (k, p) in [
        ("Memory", "/memory/limit"),
        ("MemorySwap", "/memory/swap"),
        ("MemoryReservation", "/memory/reservation"),
        ("CpuShares", "/cpu/shares"),
        ("CpuPeriod", "/cpu/period"),
        ("CpuQuota", "/cpu/quota"),
        ("PidsLimit", "/pids/limit"),
        ("BlkioWeight", "/blockIO/weight"),
    ] {
        v["HostConfig"][k] = res(p);
    }
    for (k, p) in [("CpusetCpus", "/cpu/cpus"), ("CpusetMems", "/cpu/mems")] {
        v["HostConfig"][k] = config.pointer(&format!("/linux/resources{p}")).cloned().unwrap_or(json!(""));
    }
    v["HostConfig"]["CgroupParent"] = parent.into();
    v
}

/// `hull inspect`: containers, then images, by name.
pub fn inspect(engine: &Engine, a: &InspectContainerArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut status = 0;
    for n in &a.names {
        let as_container = a.kind.as_deref() != Some("image");
        let as_image = a.kind.as_deref() != Some("container");
        let found = match engine.resolve(n) {
            Ok(id) if as_container => engine.container(&id).ok().map(|c| inspect_json(engine, &c)),
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
    let id = engine.resolve(&a.container)?;
    let c = engine.container(&id)?;
    if !matches!(c.status, Status::Running | Status::Paused) {
        return Err(Error::Conflict(format!("Container {id} is not running")));
    }
    let pids = hull_container::container::pids(&engine.runtime, &id)?;
    let mut rows = vec![vec!["UID".to_string(), "PID".into(), "PPID".into(), "CMD".into()]];
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next())
                .unwrap_or("?")
                .to_string()
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd: Vec<String> =
            cmd.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        rows.push(vec![field("Uid:"), pid.to_string(), field("PPid:"), cmd.join(" ")]);
    }
    print_table(&mut std::io::stdout().lock(), &rows);
    Ok(0)
}

pub fn volume(engine: &Engine, cmd: &VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Create(a) => {
            let name = match &a.name {
                Some(n) => n.clone(),
                None => hull_engine::new_id()?,
            };
            let labels = a
                .label
                .iter()
                .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect();
            engine.volume(&name, false, labels)?;
            println!("{name}");
            Ok(0)
        }
        VolumeCommand::Ls(a) => {
            let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
            for n in engine.volume_names()? {
                if a.quiet {
                    println!("{n}");
                } else {
                    rows.push(vec!["local".into(), n]);
                }
            }
            if !a.quiet {
                print_table(&mut std::io::stdout().lock(), &rows);
            }
            Ok(0)
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            for n in &a.names {
                let v = engine.volume_info(n)?;
                out.push(json!({"CreatedAt": v.created, "Driver": "local", "Labels": v.labels,
                    "Mountpoint": engine.volumes_dir().join(n).join("_data"), "Name": v.name, "Options": {}, "Scope": "local",
                    "Anonymous": v.anonymous}));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        VolumeCommand::Rm(a) => {
            let mut status = 0;
            for n in &a.names {
                match engine.remove_volume(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        VolumeCommand::Prune(a) => {
            let used = engine.volumes_in_use()?;
            println!("Deleted Volumes:");
            for n in engine.volume_names()? {
                let Ok(v) = engine.volume_info(&n) else { continue };
                if used.contains(&n) || !(a.all || v.anonymous) {
                    continue;
                }
                engine.remove_volume(&n, true)?;
                println!("{n}");
            }
            Ok(0)
        }
    }
}

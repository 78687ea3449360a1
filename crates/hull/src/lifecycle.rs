//! `hull stop`, `kill`, `rm`, `wait`, `restart`, `pause`, `unpause`, `rename`, `exec`:
//! commands that act on an existing container. Each takes the container's lock for as
//! long as it changes it, so two commands on one container are serialised.

use crate::cli::{ContainersArgs, ExecArgs, KillArgs, RenameArgs, RmArgs, StopArgs, UpdateArgs};
use hull_container::container::{self, ExecOptions};
use hull_engine::error::{Error, Result};
use hull_engine::record::{Status, STOPPED_BY_USER};
use hull_engine::Engine;
use std::time::{Duration, Instant};

/// Runs `f` on each named container, printing the name on success and one error line
/// per failure (exit 1 if any failed), as Docker.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut status = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

/// Waits until the container is no longer live (or gone); true if it stopped in time.
fn wait_stopped(engine: &Engine, id: &str, timeout: Duration) -> bool {
    wait_until(engine, id, timeout, |c| !c.status.is_live())
}

/// Waits until the container's monitor has finished with it (its exit recorded, its
/// runtime state deleted, under --rm the container removed), so that it can be started
/// again. Not under the container's lock, which the removal takes.
pub(crate) fn wait_finished(engine: &Engine, id: &str, timeout: Duration) -> bool {
    wait_until(engine, id, timeout, |c| !c.status.is_live() && !c.monitored)
}

fn wait_until(
    engine: &Engine,
    id: &str,
    timeout: Duration,
    done: impl Fn(&hull_engine::record::Container) -> bool,
) -> bool {
    let until = Instant::now() + timeout;
    loop {
        match engine.container(id) {
            Ok(c) if !done(&c) => {}
            _ => return true,
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn mark_stopped(engine: &Engine, id: &str) {
    let _ = std::fs::write(engine.dir(id).join(STOPPED_BY_USER), b"");
}

/// Stops one container: its stop signal, then SIGKILL after `timeout` seconds (a
/// negative timeout waits for ever).
pub fn stop_one(engine: &Engine, id: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
    stop_locked(engine, id, timeout, signal)?;
    // Docker's stop returns once the container is stopped for good.
    wait_finished(engine, id, Duration::from_secs(10));
    Ok(())
}

fn stop_locked(engine: &Engine, id: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
    let _lock = engine.lock(id)?;
    let c = engine.container(id)?;
    mark_stopped(engine, id);
    if !c.status.is_live() {
        return Ok(());
    }
    let sig = hull_container::signal::parse(signal.unwrap_or(&c.record.config.stop_signal))?;
    let secs = timeout.or(c.record.config.stop_timeout.map(|t| t as i64)).unwrap_or(10);
    if c.status == Status::Paused {
        let _ = container::resume(&engine.runtime, id);
    }
    let _ = container::kill(&engine.runtime, id, sig, false);
    let wait = if secs < 0 { Duration::from_secs(u64::MAX / 4) } else { Duration::from_secs(secs as u64) };
    if wait_stopped(engine, id, wait) {
        return Ok(());
    }
    let _ = container::kill(&engine.runtime, id, libc::SIGKILL, true);
    if wait_stopped(engine, id, Duration::from_secs(10)) {
        Ok(())
    } else {
        Err(Error::Conflict(format!("container {id} did not stop after SIGKILL")))
    }
}

pub fn stop(engine: &Engine, a: &StopArgs) -> Result<i32> {
    each(&a.containers, |n| stop_one(engine, &engine.resolve(n)?, a.time, a.signal.as_deref()))
}

pub fn restart(engine: &Engine, a: &StopArgs) -> Result<i32> {
    each(&a.containers, |n| {
        let id = engine.resolve(n)?;
        stop_one(engine, &id, a.time, a.signal.as_deref())?;
        crate::containers::start_detached(engine, &id)
    })
}

pub fn kill(engine: &Engine, a: &KillArgs) -> Result<i32> {
    let sig = hull_container::signal::parse(&a.signal)?;
    each(&a.containers, |n| {
        let id = engine.resolve(n)?;
        let _lock = engine.lock(&id)?;
        let c = engine.container(&id)?;
        if !matches!(c.status, Status::Running | Status::Paused) {
            return Err(Error::Conflict(format!("Cannot kill container: {n}: Container {id} is not running")));
        }
        // Docker: killing with the stop signal or SIGKILL counts as a manual stop.
        let stop_sig = hull_container::signal::parse(&c.record.config.stop_signal).unwrap_or(libc::SIGTERM);
        if sig == libc::SIGKILL || sig == stop_sig {
            mark_stopped(engine, &id);
        }
        container::kill(&engine.runtime, &id, sig, false)?;
        Ok(())
    })
}

/// Removes one container (`force`: a live one is killed first).
pub fn remove_one(engine: &Engine, id: &str, force: bool, volumes: bool) -> Result<()> {
    let _lock = engine.lock(id)?;
    let c = engine.container(id)?;
    if c.status.is_live() && !force {
        return Err(Error::Conflict(format!(
            "You cannot remove a {} container {id}. Stop the container before attempting removal or force remove",
            c.status.word()
        )));
    }
    // A --rm monitor waiting for the lock leaves the removal to us (and to itself again
    // if this removal fails).
    let marker = engine.dir(id).join(hull_engine::record::REMOVING);
    let _ = std::fs::write(&marker, b"");
    let r = remove_marked(engine, id, &c, volumes);
    if r.is_err() {
        let _ = std::fs::remove_file(&marker);
    }
    r
}

fn remove_marked(engine: &Engine, id: &str, c: &hull_engine::record::Container, volumes: bool) -> Result<()> {
    mark_stopped(engine, id);
    if c.status.is_live() {
        // Kills every process of the container and removes its cgroups: works with or
        // without a monitor.
        match container::delete(&engine.runtime, id, true) {
            Ok(_) => {}
            // The runtime's state is lost: the init is still known by pid and start time
            // (killing it ends its pid namespace).
            Err(hull_container::Error::NotFound(_)) if c.run.pid > 0 && c.run.pid_start > 0 => {
                let _ = hull_container::process::signal(c.run.pid, c.run.pid_start, libc::SIGKILL);
            }
            Err(hull_container::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The monitor records the exit and goes (under --rm it leaves the removal to us).
    if c.monitored {
        let until = Instant::now() + Duration::from_secs(5);
        while hull_container::process::is_alive(c.run.monitor_pid, c.run.monitor_start) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if hull_container::process::is_alive(c.run.monitor_pid, c.run.monitor_start) {
            // SAFETY: kill of the monitor's pid, checked against its start time just now.
            unsafe { libc::kill(c.run.monitor_pid, libc::SIGKILL) };
        }
    }
    // A runtime container left by a killed monitor.
    match container::delete(&engine.runtime, id, true) {
        Ok(_) => {}
        Err(hull_container::Error::NotFound(_)) if c.status.is_live() => {
            // Its state was lost: the cgroups the runtime made for it, at the path its
            // config gives (empty now that the init is dead and reaped).
            use hull_container::cgroups;
            let config: serde_json::Value = std::fs::read(engine.dir(id).join("config.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let path = config.pointer("/linux/cgroupsPath").and_then(|p| p.as_str()).map(std::path::Path::new);
            let dirs = cgroups::dirs(&cgroups::hierarchies(), &cgroups::container_path(path, id));
            cgroups::remove(&dirs)?;
        }
        Err(hull_container::Error::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    engine.remove_container_files(&c.record, volumes)
}

pub fn rm(engine: &Engine, a: &RmArgs) -> Result<i32> {
    each(&a.containers, |n| remove_one(engine, &engine.resolve(n)?, a.force, a.volumes))
}

pub fn wait(engine: &Engine, a: &ContainersArgs) -> Result<i32> {
    let mut status = 0;
    for n in &a.containers {
        let r = (|| -> Result<i32> {
            let id = engine.resolve(n)?;
            let mut last = engine.container(&id)?;
            loop {
                if !last.status.is_live() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                match engine.container(&id) {
                    Ok(c) => last = c,
                    // Removed (--rm): its last recorded status.
                    Err(_) => {
                        last.run = engine.run_state(&id);
                        break;
                    }
                }
            }
            Ok(last.run.exit_code.unwrap_or(match last.status {
                Status::Exited(c) => c,
                _ => 0,
            }))
        })();
        match r {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

pub fn pause(engine: &Engine, a: &ContainersArgs, pause: bool) -> Result<i32> {
    each(&a.containers, |n| {
        let id = engine.resolve(n)?;
        let _lock = engine.lock(&id)?;
        let c = engine.container(&id)?;
        match (pause, &c.status) {
            (true, Status::Running) => Ok(container::pause(&engine.runtime, &id)?),
            (false, Status::Paused) => Ok(container::resume(&engine.runtime, &id)?),
            (true, Status::Paused) => Err(Error::Conflict(format!("Container {id} is already paused"))),
            (false, _) => Err(Error::Conflict(format!("Container {id} is not paused"))),
            (true, _) => Err(Error::Conflict(format!("Container {id} is not running"))),
        }
    })
}

pub fn rename(engine: &Engine, a: &RenameArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let _lock = engine.lock(&id)?;
    let mut r = engine.record(&id)?;
    let new = a.new_name.strip_prefix('/').unwrap_or(&a.new_name);
    if new == r.name {
        return Err(Error::Conflict("Renaming a container with the same name as its current name".into()));
    }
    engine.claim_name(new, &id)?;
    let old = std::mem::replace(&mut r.name, new.to_owned());
    if let Err(e) = engine.save_record(&r) {
        engine.release_name(new, &id);
        return Err(e);
    }
    engine.release_name(&old, &id);
    Ok(0)
}

/// `hull update`: new limits go into the container's config (kept across restarts)
/// and, while it runs, into its cgroups; a new restart policy into its record, which
/// the monitor reads when the container exits.
pub fn update(engine: &Engine, a: &UpdateArgs) -> Result<i32> {
    let resources = crate::containers::resources(&a.resources)?;
    let mut limits = hull_engine::runtime_config::limits(&resources)?;
    if resources.memory_swap.is_none() {
        // Docker's update keeps the swap limit the container has (run's default of
        // twice the memory is for a new container).
        if let Some(m) = limits.get_mut("memory").and_then(|m| m.as_object_mut()) {
            m.remove("swap");
        }
    }
    if a.resources.pids_limit.is_some_and(|p| p <= 0) {
        limits["pids"] = serde_json::json!({"limit": -1});
    }
    let policy = a.restart.as_deref().map(hull_engine::record::RestartPolicy::parse).transpose()?;
    if limits.as_object().is_some_and(|o| o.is_empty()) && policy.is_none() {
        return Err(Error::Invalid("you must provide one or more flags when using this command".into()));
    }
    let typed: oci_spec::runtime::LinuxResources =
        serde_json::from_value(limits.clone()).map_err(|e| Error::Invalid(format!("resources: {e}")))?;
    each(&a.containers, |n| {
        let id = engine.resolve(n)?;
        let _lock = engine.lock(&id)?;
        let mut r = engine.record(&id)?;
        if let Some(p) = &policy {
            if r.host.auto_remove && p.name != "no" {
                return Err(Error::Conflict(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                ));
            }
        }
        let path = engine.dir(&id).join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).map_err(Error::at(format!("read {}", path.display())))?)?;
        let swap = config.pointer("/linux/resources/memory/swap").and_then(|v| v.as_i64());
        if let (Some(m), Some(swap), None) = (resources.memory, swap, resources.memory_swap) {
            if swap != -1 && m > swap {
                return Err(Error::Invalid(
                    "Memory limit should be smaller than already set memoryswap limit, \
                     update the memoryswap at the same time"
                        .into(),
                ));
            }
        }
        merge(&mut config["linux"]["resources"], &limits);
        if engine.container(&id)?.status.is_live() {
            container::update(&engine.runtime, &id, &typed)?;
        }
        hull_engine::write_atomic(&path, &serde_json::to_vec_pretty(&config)?)?;
        if let Some(p) = &policy {
            r.host.restart = p.clone();
            engine.save_record(&r)?;
        }
        Ok(())
    })
}

/// Merges the objects of `from` into `into`, replacing everything else.
fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into.as_object_mut(), from.as_object()) {
        (Some(i), Some(f)) => {
            for (k, v) in f {
                merge(i.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        _ => *into = from.clone(),
    }
}

/// `hull exec`: the process runs as a child of this command (which must therefore be
/// single-threaded here), in the container's namespaces and cgroup.
pub fn exec(engine: &Engine, a: &ExecArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let c = engine.container(&id)?;
    match c.status {
        Status::Running => {}
        Status::Paused => {
            return Err(Error::Conflict(format!("Container {id} is paused, unpause the container before exec")))
        }
        _ => return Err(Error::Conflict(format!("Container {id} is not running"))),
    }
    let dir = engine.dir(&id);
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("config.json")).map_err(Error::at(format!("read {}/config.json", dir.display())))?,
    )?;
    let mut process = spec["process"].clone();
    let rootfs = std::path::PathBuf::from(spec["root"]["path"].as_str().unwrap_or_default());
    let mut env: Vec<String> = c.record.config.env.clone();
    for e in &a.env {
        let e = crate::containers::env_entry(e);
        if let Some((k, _)) = e.split_once('=') {
            env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(k));
            env.push(e);
        }
    }
    if a.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    process["args"] = serde_json::json!(a.command);
    process["env"] = serde_json::json!(env);
    process["terminal"] = serde_json::json!(a.tty);
    if let Some(w) = &a.workdir {
        process["cwd"] = serde_json::json!(w);
    }
    if let Some(u) = &a.user {
        let (uid, gid, gids, _) = hull_image::runconfig::resolve_user(&rootfs, u)?;
        process["user"] = serde_json::json!({"uid": uid, "gid": gid, "additionalGids": gids});
    }
    if a.privileged {
        let all = hull_engine::runtime_config::capabilities(true, &[], &[])?;
        process["capabilities"] = serde_json::json!({"bounding": all, "effective": all, "permitted": all});
    }
    let process: oci_spec::runtime::Process =
        serde_json::from_value(process).map_err(|e| Error::Invalid(format!("exec: {e}")))?;
    let mut console = None;
    let mut own_pty = None;
    if a.tty {
        let (ours, theirs) = hull_container::foreground::own_console()?;
        console = Some(theirs);
        own_pty = Some(ours);
    }
    if !a.interactive && !a.tty {
        // Docker gives a command without -i no input.
        let null = std::fs::File::open("/dev/null").map_err(Error::at("/dev/null"))?;
        // SAFETY: dup2 onto our own stdin before the process is cloned.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    }
    let forward = hull_container::foreground::block_forwarded_signals(!a.detach)?;
    let started = container::exec(
        &engine.runtime,
        ExecOptions {
            id: &id,
            process,
            console_socket: console,
            preserve_fds: 0,
            pid_file: a.pid_file.as_deref(),
            ignore_paused: false,
        },
    )
    .map_err(|e| match e {
        hull_container::Error::Init(m) => Error::from_start_failure(m),
        e => e.into(),
    })?;
    let master = match &own_pty {
        Some(s) => Some(hull_container::foreground::recv_fd(s)?),
        None => None,
    };
    if a.detach {
        return Ok(0);
    }
    Ok(hull_container::foreground::wait(started.pid, &started.pidfd, &forward, master)?)
}

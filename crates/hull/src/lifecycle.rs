//! `hull stop`, `kill`, `rm`, `wait`, `restart`, `pause`, `unpause`, `rename`, `update`,
//! `exec`: the flags into hull-engine's operations on existing containers, one line
//! per container out.

use crate::cli::{ContainersArgs, ExecArgs, KillArgs, RenameArgs, RmArgs, StopArgs, UpdateArgs};
use hull_container::container::ExecOptions;
use hull_engine::error::{Error, Result};
use hull_engine::lifecycle::exec::ExecConfig;
use hull_engine::lifecycle::remove::RemoveOptions;
use hull_engine::lifecycle::stop::StopOptions;
use hull_engine::lifecycle::update::UpdateOptions;
use hull_engine::Engine;

/// Runs `f` on each named container (resolved to its id), printing the name on success
/// and one error line per failure (exit 1 if any failed), as Docker.
fn each(engine: &Engine, names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut status = 0;
    for n in names {
        match engine.resolve(n).and_then(|id| f(&id)) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

fn stop_options(a: &StopArgs) -> StopOptions {
    StopOptions { timeout: a.time, signal: a.signal.clone() }
}

pub fn stop(engine: &Engine, a: &StopArgs) -> Result<i32> {
    each(engine, &a.containers, |id| engine.stop(id, &stop_options(a)))
}

pub fn restart(engine: &Engine, a: &StopArgs) -> Result<i32> {
    each(engine, &a.containers, |id| engine.restart(id, &stop_options(a)))
}

pub fn kill(engine: &Engine, a: &KillArgs) -> Result<i32> {
    hull_container::signal::parse(&a.signal)?;
    each(engine, &a.containers, |id| engine.kill(id, &a.signal))
}

pub fn rm(engine: &Engine, a: &RmArgs) -> Result<i32> {
    let opts = RemoveOptions { force: a.force, volumes: a.volumes };
    each(engine, &a.containers, |id| engine.remove(id, opts))
}

pub fn wait(engine: &Engine, a: &ContainersArgs) -> Result<i32> {
    let mut status = 0;
    for n in &a.containers {
        match engine.resolve(n).and_then(|id| engine.wait(&id)) {
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
    each(engine, &a.containers, |id| if pause { engine.pause(id) } else { engine.unpause(id) })
}

pub fn rename(engine: &Engine, a: &RenameArgs) -> Result<i32> {
    engine.rename(&engine.resolve(&a.container)?, &a.new_name)?;
    Ok(0)
}

pub fn update(engine: &Engine, a: &UpdateArgs) -> Result<i32> {
    let opts = UpdateOptions {
        resources: crate::flags::resources(&a.resources)?,
        restart_policy: a.restart.as_deref().map(crate::flags::restart).transpose()?,
    };
    let unset = serde_json::to_value(hull_engine::create::body::Resources::default())?;
    if opts.restart_policy.is_none() && serde_json::to_value(&opts.resources)? == unset {
        return Err(Error::Invalid("you must provide one or more flags when using this command".into()));
    }
    each(engine, &a.containers, |id| engine.update(id, &opts))
}

/// `hull exec`: the process runs as a child of this command (which must therefore be
/// single-threaded here), in the container's namespaces and cgroup.
pub fn exec(engine: &Engine, a: &ExecArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let cfg = ExecConfig {
        cmd: a.command.clone(),
        env: a.env.iter().map(|e| crate::flags::env_entry(e)).collect(),
        tty: a.tty,
        user: a.user.clone(),
        working_dir: a.workdir.clone(),
        privileged: a.privileged,
    };
    let process = engine.exec_process(&id, &cfg)?;
    let exec_id = match &a.exec_id {
        Some(e) => e.clone(),
        None => {
            let e = hull_engine::new_id()?;
            engine.exec_event(&id, "exec_create", &e, &cfg.cmd, None);
            e
        }
    };
    if !a.interactive && !a.tty {
        // Docker gives a command without -i no input.
        let null = std::fs::File::open("/dev/null").map_err(Error::at("/dev/null"))?;
        // SAFETY: dup2 onto our own stdin before the process is cloned.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    }
    let opts = ExecOptions {
        id: &id,
        process,
        console_socket: None,
        preserve_fds: 0,
        pid_file: a.pid_file.as_deref(),
        ignore_paused: false,
    };
    // Pipes hull owns, never the caller's files: a process in the container could reopen
    // those through /proc/PID/fd (a host log file the output is redirected to).
    let streams = hull_container::foreground::Streams::Relay { stdin: a.interactive };
    // An exec instance of the API (--exec-id): its record follows the process.
    let record = a.exec_id.as_ref().and_then(|e| engine.exec_record(e).ok());
    let r = hull_container::foreground::exec(&engine.runtime, opts, a.detach, streams, |pid| {
        if let Some(mut r) = record.clone() {
            (r.running, r.pid) = (true, pid);
            let _ = engine.save_exec(&r);
        }
        engine.exec_event(&id, "exec_start", &exec_id, &cfg.cmd, None)
    });
    let code = match r {
        Ok(c) => c,
        Err(e) => {
            let e = Error::from(e);
            if let Some(mut r) = record {
                (r.running, r.exit_code) = (false, Some(e.run_status()));
                let _ = engine.save_exec(&r);
            }
            return Err(e);
        }
    };
    if a.detach {
        return Ok(0);
    }
    if let Some(mut r) = record.and_then(|r| engine.exec_record(&r.id).ok()) {
        (r.running, r.exit_code) = (false, Some(code));
        let _ = engine.save_exec(&r);
    }
    engine.exec_event(&id, "exec_die", &exec_id, &cfg.cmd, Some(code));
    Ok(code)
}

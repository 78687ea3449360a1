//! hull-runtime: runc's command line over the `hull-container` library. Each verb is a
//! few lines here; the work is in the library.

mod cli;
mod error;
mod exec;
mod log;
mod run;
mod update;

use crate::error::{Error, Result};
use clap::Parser;
use cli::{Cli, Command, CreateArgs, ListFormat};
use hull_container::container::{self, CreateOptions};
use hull_container::state::StateStore;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

fn main() {
    // create, run and exec clone into a container: first re-execute from a read-only
    // view of this binary (CVE-2019-5736), before any other work is done twice. The
    // scan over-approximates (an id named "run" costs one needless re-exec).
    if std::env::args_os().skip(1).any(|a| a == "create" || a == "run" || a == "exec") {
        if let Err(e) = hull_container::process::sealed_exe::ensure() {
            eprintln!("hull-runtime: {e}");
            std::process::exit(1);
        }
    }
    let cli = Cli::parse();
    let logger = log::Logger { file: cli.log.clone(), format: cli.log_format, debug: cli.debug };
    let store = StateStore::new(cli.root.clone().unwrap_or_else(default_root));
    logger.debug(&format!("{:?}", cli.command));
    let code = match dispatch(&store, cli.command, cli.systemd_cgroup, &logger) {
        Ok(code) => code,
        Err(e) => {
            logger.error(&e.to_string());
            1
        }
    };
    std::process::exit(code);
}

/// runc's choice: a system directory for root, the user's runtime directory otherwise.
fn default_root() -> std::path::PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return "/run/hull-runtime".into();
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => std::path::PathBuf::from(d).join("hull-runtime"),
        None => format!("/run/user/{uid}/hull-runtime").into(),
    }
}

fn dispatch(store: &StateStore, cmd: Command, systemd_cgroup: bool, log: &log::Logger) -> Result<i32> {
    match cmd {
        Command::Create(args) => {
            let console = connect_console(&args)?;
            let created = container::create(store, create_options(&args, console, systemd_cgroup))?;
            for w in &created.warnings {
                log.warn(w);
            }
        }
        Command::Start { id } => warn_all(log, container::start(store, &id)?),
        Command::State { id } => print_json(&container::state(store, &id)?),
        Command::Kill { all, id, signal } => {
            let sig = hull_container::signal::parse(&signal)?;
            container::kill(store, &id, sig, all)?;
        }
        Command::Delete { force, id } => match container::delete(store, &id, force) {
            Ok(w) => warn_all(log, w),
            // runc: deleting a missing container with --force is not an error.
            Err(hull_container::Error::NotFound(_)) if force => {}
            Err(e) => return Err(e.into()),
        },
        Command::Run { create, detach, keep, .. } => {
            return run::run(store, &create, detach, keep, systemd_cgroup, log)
        }
        Command::List { format, quiet } => list(store, format, quiet)?,
        Command::Exec(args) => return exec::exec(store, &args),
        Command::Pause { id } => container::pause(store, &id)?,
        Command::Resume { id } => container::resume(store, &id)?,
        Command::Ps { format, id, ps_args } => ps(store, &id, format, &ps_args)?,
        Command::Events { stats, interval, id } => {
            if stats {
                print_line(&container::stats_event(store, &id)?);
            } else {
                container::watch(store, &id, interval.into(), true, print_line)?;
            }
        }
        Command::Update(args) => {
            if args.kernel_memory.is_some() || args.kernel_memory_tcp.is_some() {
                log.warn("--kernel-memory/--kernel-memory-tcp: ignored (dropped by current kernels)");
            }
            let r = update::resources(&args)?;
            container::update(store, &args.id, &r)?;
        }
        Command::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(Error::Usage(format!("{} already exists; remove it first", path.display())));
            }
            let spec = hull_container::default_spec::default_spec(
                rootless,
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
            let text = serde_json::to_string_pretty(&spec).expect("json") + "\n";
            std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        }
        Command::Features => print_json(&hull_container::features::features()),
    }
    Ok(0)
}

pub(crate) fn create_options(args: &CreateArgs, console: Option<OwnedFd>, systemd_cgroup: bool) -> CreateOptions<'_> {
    CreateOptions {
        id: &args.id,
        bundle: &args.bundle,
        pid_file: args.pid_file.as_deref(),
        console_socket: console,
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        systemd_cgroup,
    }
}

pub(crate) fn connect_console(args: &CreateArgs) -> Result<Option<OwnedFd>> {
    let Some(p) = &args.console_socket else { return Ok(None) };
    let s = UnixStream::connect(p).map_err(|e| Error::io(format!("--console-socket {}", p.display()), e))?;
    Ok(Some(OwnedFd::from(s)))
}

pub(crate) fn warn_all(log: &log::Logger, warnings: Vec<hull_container::Error>) {
    for w in warnings {
        log.warn(&w.to_string());
    }
}

fn print_json<T: serde::Serialize>(v: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

/// One JSON document per line, flushed (events are read as a stream).
fn print_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = writeln!(out);
    let _ = out.flush();
}

fn list(store: &StateStore, format: ListFormat, quiet: bool) -> Result<()> {
    let states = container::list(store)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for s in &states {
            let _ = writeln!(out, "{}", s.id);
        }
        return Ok(());
    }
    match format {
        ListFormat::Json => {
            let _ = serde_json::to_writer(&mut out, &states);
            let _ = writeln!(out);
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut w = [0usize; 6];
            for r in std::iter::once(&head).chain(&rows) {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.len());
                }
            }
            for r in std::iter::once(&head).chain(&rows) {
                let line: Vec<String> =
                    r.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect();
                let _ = writeln!(out, "{}", line.join("   ").trim_end());
            }
        }
    }
    Ok(())
}

fn ps(store: &StateStore, id: &str, format: ListFormat, args: &[String]) -> Result<()> {
    let pids = container::pids(store, id)?;
    if format == ListFormat::Json {
        print_json(&pids);
        return Ok(());
    }
    let args: Vec<String> = if args.is_empty() { vec!["-ef".into()] } else { args.to_vec() };
    let out = std::process::Command::new("ps").args(&args).output().map_err(|e| Error::io("run ps", e))?;
    if !out.status.success() {
        return Err(Error::Usage(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Usage(format!("ps {}: no PID column", args.join(" "))))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{header}");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            let _ = writeln!(stdout, "{l}");
        }
    }
    Ok(())
}

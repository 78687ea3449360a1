//! `exec`: runc's flags turned into a process spec, then the process started in the
//! container and (unless detached) waited for, like `run`.

use crate::error::{Error, Result};
use hull_container::container::{self, ExecOptions};
use hull_container::state::StateStore;
use oci_spec::runtime::Process;
use serde_json::{json, Value};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// A process JSON (runtime-spec `process`) instead of the flags below.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// NAME=VALUE to set (repeatable).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group ids (comma-separated or repeated).
    #[arg(short = 'g', long, value_delimiter = ',')]
    pub additional_gids: Vec<u32>,
    /// A capability to add (repeatable).
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Allocate a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket to send the pty master to.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process started.
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Pass this many extra descriptors (from 3).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container (the process starts frozen).
    #[arg(long)]
    pub ignore_paused: bool,
    /// AppArmor profile for the process.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long)]
    pub process_label: Option<String>,
    /// Container id.
    pub id: String,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The process to start: `--process`, or the container's own process with the flags
/// applied on top (as runc does).
fn build(store: &StateStore, a: &ExecArgs) -> Result<Process> {
    let mut v: Value = match &a.process {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(format!("--process {}", p.display()), e))?;
            serde_json::from_str(&text).map_err(|e| Error::Usage(format!("--process {}: {e}", p.display())))?
        }
        None => {
            let st = container::state(store, &a.id)?;
            let spec = hull_container::spec::load_spec(&st.bundle.join("config.json"))?;
            serde_json::to_value(spec.process()).expect("process serialises")
        }
    };
    if v.is_null() {
        v = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    }
    let o = v.as_object_mut().ok_or_else(|| Error::Usage("--process: not a JSON object".into()))?;
    if !a.command.is_empty() {
        o.insert("args".into(), json!(a.command));
    } else if a.process.is_none() {
        return Err(Error::Usage("exec: give a command, or --process FILE".into()));
    }
    if let Some(cwd) = &a.cwd {
        o.insert("cwd".into(), json!(cwd));
    }
    if !a.env.is_empty() {
        let mut env: Vec<String> =
            o.get("env").and_then(|e| serde_json::from_value(e.clone()).ok()).unwrap_or_default();
        for kv in &a.env {
            let key = kv.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        o.insert("env".into(), json!(env));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let parse = |s: &str| s.parse::<u32>().map_err(|_| Error::Usage(format!("--user {u:?}: not uid[:gid]")));
        let user = o.entry("user").or_insert_with(|| json!({}));
        user["uid"] = json!(parse(uid)?);
        user["gid"] = json!(parse(gid)?);
    }
    if !a.additional_gids.is_empty() {
        let user = o.entry("user").or_insert_with(|| json!({"uid": 0, "gid": 0}));
        user["additionalGids"] = json!(a.additional_gids);
    }
    if !a.cap.is_empty() {
        let caps = o.entry("capabilities").or_insert_with(|| json!({}));
        for set in ["bounding", "effective", "permitted", "ambient"] {
            let mut list: Vec<String> =
                caps.get(set).and_then(|l| serde_json::from_value(l.clone()).ok()).unwrap_or_default();
            for c in &a.cap {
                let name = hull_container::capabilities::canonical(c);
                if !list.contains(&name) {
                    list.push(name);
                }
            }
            caps[set] = json!(list);
        }
    }
    if a.no_new_privs {
        o.insert("noNewPrivileges".into(), json!(true));
    }
    if let Some(p) = &a.apparmor {
        o.insert("apparmorProfile".into(), json!(p));
    }
    if let Some(l) = &a.process_label {
        o.insert("selinuxLabel".into(), json!(l));
    }
    if a.tty {
        o.insert("terminal".into(), json!(true));
    } else if a.process.is_none() {
        o.insert("terminal".into(), json!(false));
    }
    serde_json::from_value(v).map_err(|e| Error::Usage(format!("exec: {e}")))
}

/// Runs `exec`; returns the exit code to leave with.
pub fn exec(store: &StateStore, a: &ExecArgs) -> Result<i32> {
    let process = build(store, a)?;
    let console: Option<OwnedFd> = match &a.console_socket {
        Some(p) => Some(OwnedFd::from(
            UnixStream::connect(p).map_err(|e| Error::io(format!("--console-socket {}", p.display()), e))?,
        )),
        None => None,
    };
    Ok(hull_container::foreground::exec(
        store,
        ExecOptions {
            id: &a.id,
            process,
            console_socket: console,
            preserve_fds: a.preserve_fds,
            pid_file: a.pid_file.as_deref(),
            ignore_paused: a.ignore_paused,
        },
        a.detach,
        hull_container::foreground::Streams::Inherit,
        |_| {},
    )?)
}

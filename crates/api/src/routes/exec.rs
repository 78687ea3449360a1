//! Exec: `POST /containers/{id}/exec` (an instance recorded in the container's
//! directory), `POST /exec/{id}/start` (hijacked, or detached), `/exec/{id}/resize`,
//! `GET /exec/{id}/json`.
//!
//! The process runs under a `hull exec` child of the server (hull-container's exec
//! must be the child of a single-threaded process; the server has a thread per
//! connection): without a TTY its stdout and stderr come back on pipes and go to the
//! client as multiplexed frames; with one, the child's stdin and stdout are the client's
//! connection itself.

use super::{body, json};
use crate::http::{self, Response};
use crate::{server_headers, ApiError, Ctx, Outcome, Result};
use hull_engine::lifecycle::exec::{ExecConfig, ExecRecord};
use serde::Deserialize;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Docker's exec-create body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    privileged: bool,
    user: String,
    working_dir: String,
}

pub fn create(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let b: CreateBody = body(ctx)?;
    let cfg = ExecConfig {
        cmd: b.cmd,
        env: b.env,
        tty: b.tty,
        user: Some(b.user).filter(|u| !u.is_empty()),
        working_dir: Some(b.working_dir).filter(|w| !w.is_empty()),
        privileged: b.privileged,
    };
    let rec = ctx.engine().create_exec(&id, cfg, b.attach_stdin, b.attach_stdout, b.attach_stderr)?;
    json(201, &serde_json::json!({ "Id": rec.id }))
}

pub fn inspect(ctx: &mut Ctx<'_>, exec_id: &str) -> Result<Outcome> {
    let r = ctx.engine().exec_record(exec_id)?;
    let (entry, args) =
        r.config.cmd.split_first().map_or((String::new(), Vec::new()), |(e, a)| (e.clone(), a.to_vec()));
    json(
        200,
        &serde_json::json!({
            "ID": r.id,
            "ContainerID": r.container_id,
            "Running": r.running,
            "ExitCode": r.exit_code,
            "Pid": r.pid,
            "OpenStdin": r.attach_stdin,
            "OpenStdout": r.attach_stdout,
            "OpenStderr": r.attach_stderr,
            "CanRemove": false,
            "DetachKeys": "",
            "ProcessConfig": {
                "tty": r.config.tty,
                "entrypoint": entry,
                "arguments": args,
                "privileged": r.config.privileged,
                "user": r.config.user.clone().unwrap_or_default(),
            },
        }),
    )
}

/// A TTY's size: accepted (hull's exec has no resize channel yet).
pub fn resize(ctx: &mut Ctx<'_>, exec_id: &str) -> Result<Outcome> {
    ctx.engine().exec_record(exec_id)?;
    Ok(Outcome::Reply(Response::empty(200)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
}

/// The `hull exec` command line of `r`.
fn command(ctx: &Ctx<'_>, r: &ExecRecord, interactive: bool) -> Command {
    let e = ctx.engine();
    let mut c = Command::new(e.exe());
    c.arg("--root").arg(e.root()).arg("exec");
    if interactive {
        c.arg("-i");
    }
    if r.config.tty {
        c.arg("-t");
    }
    if let Some(u) = &r.config.user {
        c.args(["-u", u]);
    }
    if let Some(w) = &r.config.working_dir {
        c.args(["-w", w]);
    }
    for v in &r.config.env {
        c.args(["-e", v]);
    }
    if r.config.privileged {
        c.arg("--privileged");
    }
    c.args(["--exec-id", &r.id, &r.container_id]).args(&r.config.cmd);
    c
}

/// Runs the exec: detached (`{"Detach": true}`: answered at once), or on the
/// hijacked connection until the process ends. Its `hull exec` child keeps its record
/// (running, pid, exit code), so `GET /exec/{id}/json` tells the truth whether this
/// server lives on or not.
pub fn start(ctx: &mut Ctx<'_>, exec_id: &str) -> Result<Outcome> {
    let b: StartBody = body(ctx)?;
    let r = ctx.engine().exec_record(exec_id)?;
    if r.running || r.exit_code.is_some() {
        return Err(ApiError::new(409, format!("Error: Exec command {exec_id} has already run")));
    }
    if b.detach {
        let mut c = command(ctx, &r, false);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn()?;
        // Reaped here, its status recorded by itself.
        std::thread::spawn(move || child.wait());
        return Ok(Outcome::Reply(Response::empty(200)));
    }
    let tty = r.config.tty;
    http::hijack(ctx.stream, ctx.req, tty, &server_headers())?;
    let mut c = command(ctx, &r, r.attach_stdin);
    if tty {
        // The connection is the terminal's both ways.
        let io: OwnedFd = ctx.stream.try_clone()?.into();
        let out: OwnedFd = ctx.stream.try_clone()?.into();
        c.stdin(if r.attach_stdin { Stdio::from(io) } else { Stdio::null() })
            .stdout(Stdio::from(out))
            .stderr(Stdio::null());
        c.spawn()?.wait()?;
    } else {
        c.stdin(if r.attach_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn()?;
        if let Some(mut input) = child.stdin.take() {
            let mut from_client = ctx.reader.get_ref().try_clone()?;
            let early = ctx.reader.buffer().to_vec();
            std::thread::spawn(move || {
                if input.write_all(&early).is_err() {
                    return;
                }
                let _ = std::io::copy(&mut from_client, &mut input);
            });
        }
        let client = Arc::new(Mutex::new(ctx.stream.try_clone()?));
        let pump = |mut from: Box<dyn Read + Send>, stream: u8, want: bool| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if want {
                        let mut c = client.lock().expect("not poisoned");
                        if c.write_all(&http::stdcopy_frame(stream, &buf[..n])).is_err() {
                            break;
                        }
                    }
                }
            })
        };
        let out = pump(Box::new(child.stdout.take().expect("piped")), 1, r.attach_stdout);
        let err = pump(Box::new(child.stderr.take().expect("piped")), 2, r.attach_stderr);
        let _ = out.join();
        let _ = err.join();
        child.wait()?;
    }
    let _ = ctx.stream.shutdown(std::net::Shutdown::Both);
    Ok(Outcome::Streamed)
}

//! `/containers/…`: list, create, inspect, start, stop, restart, kill, wait, pause,
//! rename, resize, attach (hijacked), logs, top, remove, prune.

use super::system::client_gone;
use super::{empty, filters, json};
use crate::http::{self, Chunked};
use crate::{server_headers, ApiError, Ctx, Outcome, Result};
use hull_engine::attach::{self as frames, read_frame, write_frame};
use hull_engine::events::{Event, Filter};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant, SystemTime};

/// The full id of container `name_or_id`.
fn resolve(ctx: &Ctx<'_>, name_or_id: &str) -> Result<String> {
    Ok(ctx.engine().resolve(name_or_id)?)
}

pub fn list(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let opts = hull_engine::inspect::ListOptions {
        all: ctx.req.flag("all"),
        limit: ctx.req.query("limit").and_then(|l| l.parse::<i64>().ok()).filter(|l| *l > 0).map(|l| l as usize),
        size: ctx.req.flag("size"),
        filters: filters(ctx)?,
    };
    json(200, &ctx.engine().list(&opts)?)
}

pub fn create(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let body: hull_engine::create::body::CreateBody = super::body(ctx)?;
    let opts = hull_engine::create::CreateOptions {
        name: ctx.req.query("name").filter(|n| !n.is_empty()).map(str::to_owned),
        body,
    };
    json(201, &ctx.engine().create(&opts)?)
}

pub fn inspect(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    json(200, &ctx.engine().inspect(&id)?)
}

/// Starts the container; an attach waiting for the start gets the connection to its
/// monitor from the first byte of output.
pub fn start(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let mut waiting = ctx.server.take_waiting(&id);
    if waiting.is_empty() {
        ctx.engine().start(&id)?;
    } else {
        let sock = ctx.engine().start_attached(&id)?;
        let first = waiting.remove(0);
        let _ = first.send(sock);
        for w in waiting {
            if let Ok(s) = ctx.engine().attach(&id) {
                let _ = w.send(s);
            }
        }
    }
    empty(204)
}

fn stop_options(ctx: &Ctx<'_>) -> Result<hull_engine::lifecycle::stop::StopOptions> {
    let timeout = match ctx.req.query("t").filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse::<i64>().map_err(|_| ApiError::new(400, format!("invalid timeout {t:?}")))?),
        None => None,
    };
    Ok(hull_engine::lifecycle::stop::StopOptions {
        timeout,
        signal: ctx.req.query("signal").filter(|s| !s.is_empty()).map(str::to_owned),
    })
}

pub fn stop(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let c = ctx.engine().container(&id)?;
    if !c.status.is_live() {
        return empty(304);
    }
    ctx.engine().stop(&id, &stop_options(ctx)?)?;
    empty(204)
}

pub fn restart(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    ctx.engine().restart(&id, &stop_options(ctx)?)?;
    empty(204)
}

pub fn kill(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let signal = ctx.req.query("signal").filter(|s| !s.is_empty()).unwrap_or("KILL").to_owned();
    ctx.engine().kill(&id, &signal)?;
    empty(204)
}

pub fn pause(ctx: &mut Ctx<'_>, id: &str, pause: bool) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    if pause {
        ctx.engine().pause(&id)?;
    } else {
        ctx.engine().unpause(&id)?;
    }
    empty(204)
}

pub fn rename(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let name = ctx.req.query("name").unwrap_or("").to_owned();
    ctx.engine().rename(&id, &name)?;
    empty(204)
}

/// A terminal's new size, sent to the container's monitor.
pub fn resize(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let dim = |k: &str| ctx.req.query(k).and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    let (rows, cols) = (dim("h"), dim("w"));
    let mut s = frames::connect(&ctx.engine().dir(&id))
        .map_err(|e| ApiError::new(409, format!("container {id} is not running: {e}")))?;
    let mut p = rows.to_le_bytes().to_vec();
    p.extend_from_slice(&cols.to_le_bytes());
    write_frame(&mut s, frames::RESIZE, &p)?;
    empty(200)
}

pub fn top(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let t = ctx.engine().top(&id)?;
    json(200, &serde_json::json!({ "Titles": t.titles, "Processes": t.processes }))
}

pub fn remove(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let opts =
        hull_engine::lifecycle::remove::RemoveOptions { force: ctx.req.flag("force"), volumes: ctx.req.flag("v") };
    ctx.engine().remove(&id, opts)?;
    empty(204)
}

pub fn prune(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let p = ctx.engine().prune_containers()?;
    json(200, &serde_json::json!({ "ContainersDeleted": p.deleted, "SpaceReclaimed": 0 }))
}

/// Nanoseconds since the epoch, now.
fn now_nanos() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Waits for the container's exit (`condition`: `not-running`, the default, returns at
/// once for a container that is not running; `next-exit` waits for the next one;
/// `removed` for its removal), as `{"StatusCode": N}`. The exit statuses come from
/// the events the monitors record, so a container that exits and is removed at once
/// (`--rm`) still tells its status.
pub fn wait(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let condition = ctx.req.query("condition").filter(|c| !c.is_empty()).unwrap_or("not-running").to_owned();
    if !matches!(condition.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::new(400, format!("invalid condition: {condition:?}")));
    }
    let since = now_nanos();
    let c = ctx.engine().container(&id)?;
    if condition == "not-running" && !c.status.is_live() {
        return json(200, &serde_json::json!({ "StatusCode": c.run.exit_code.unwrap_or(0), "Error": null }));
    }
    let filter = Filter::parse(&[format!("container={id}"), "type=container".into()])?;
    let server = ctx.server;
    let mut events = server.engine.events().read(Some(since), None, true, filter).poll_every(Duration::from_millis(5));
    // The status line goes at once, the body at the exit: the docker CLI starts the
    // container only once its wait is answered (so that no exit can be missed).
    let mut out = Chunked::start(ctx.stream, 200, "application/json", &server_headers())?;
    let _ = out.flush();
    let mut code: Option<i64> = None;
    loop {
        let e: Option<Event> = events.next_before(Some(Instant::now() + Duration::from_secs(1)));
        match e {
            Some(e) if e.action == "die" => {
                code = e.actor.attributes.get("exitCode").and_then(|c| c.parse().ok()).or(Some(0));
                if condition != "removed" {
                    break;
                }
            }
            Some(e) if e.action == "destroy" && condition == "removed" => break,
            Some(_) => {}
            None => {
                if client_gone(ctx.reader) {
                    return Ok(Outcome::Streamed);
                }
                // Removed before we looked, or its monitor gone without a word.
                match server.engine.container(&id) {
                    Err(_) if condition == "removed" || code.is_none() => break,
                    Ok(c) if condition == "not-running" && !c.status.is_live() => {
                        code = c.run.exit_code.map(i64::from);
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    let mut body = serde_json::to_vec(&serde_json::json!({ "StatusCode": code.unwrap_or(0), "Error": null }))?;
    body.push(b'\n');
    let _ = out.send(&body);
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

/// Log lines (`stdout`, `stderr`, `follow`, `tail`, `since`, `until`, `timestamps`):
/// multiplexed frames without a TTY, raw with one.
pub fn logs(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let tty = ctx.engine().record(&id)?.config.tty;
    let (want_out, want_err) = (ctx.req.flag("stdout"), ctx.req.flag("stderr"));
    if !want_out && !want_err {
        return Err(ApiError::new(400, "Bad parameters: you must choose at least one stream"));
    }
    let now = SystemTime::now();
    let time = |k: &str| -> Result<Option<SystemTime>> {
        match ctx.req.query(k).filter(|s| !s.is_empty() && *s != "0") {
            None => Ok(None),
            Some(s) => {
                let n = hull_engine::events::parse_time(s, now)?;
                Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(n.max(0) as u64)))
            }
        }
    };
    let opts = hull_engine::logs::LogsOptions {
        follow: ctx.req.flag("follow"),
        since: time("since")?,
        until: time("until")?,
        tail: ctx.req.query("tail").filter(|t| *t != "all").and_then(|t| t.parse().ok()),
    };
    let timestamps = ctx.req.flag("timestamps");
    let server = ctx.server;
    let reader = server.engine.logs(&id, &opts)?;
    let kind = if tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
    let mut out = Chunked::start(ctx.stream, 200, kind, &server_headers())?;
    for e in reader {
        let stream = if e.stream == "stderr" { 2 } else { 1 };
        if (stream == 1 && !want_out) || (stream == 2 && !want_err) {
            continue;
        }
        let line = if timestamps { format!("{} {}", e.time, e.log) } else { e.log };
        let data = if tty { line.into_bytes() } else { http::stdcopy_frame(stream, line.as_bytes()) };
        if out.send(&data).is_err() {
            return Ok(Outcome::Streamed);
        }
    }
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

/// Attach (hijacked): the container's output to the client (multiplexed without a
/// TTY) and, with `stdin`, the client's bytes to the container's stdin, until the
/// container exits. A container not yet running is attached at its start (the docker
/// CLI attaches, then starts).
pub fn attach(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = resolve(ctx, id)?;
    let c = ctx.engine().container(&id)?;
    let tty = c.record.config.tty;
    let (want_in, want_out, want_err) = (ctx.req.flag("stdin"), ctx.req.flag("stdout"), ctx.req.flag("stderr"));
    if !ctx.req.flag("stream") && !ctx.req.flag("logs") {
        return Err(ApiError::new(400, "Bad parameters: you must choose at least one stream"));
    }
    let mut sock = if c.status.is_live() {
        let s = ctx.engine().attach(&id)?;
        http::hijack(ctx.stream, ctx.req, tty, &server_headers())?;
        s
    } else {
        let rx = ctx.server.wait_for_start(&id);
        http::hijack(ctx.stream, ctx.req, tty, &server_headers())?;
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(s) => break s,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !client_gone(ctx.reader) => {}
                Err(_) => return Ok(Outcome::Streamed),
            }
        }
    };
    // The client's input, to the container, on a thread of its own.
    if want_in {
        let mut to_monitor = sock.try_clone()?;
        let mut from_client = ctx.reader.get_ref().try_clone()?;
        // Bytes the client sent with the request (already buffered) go first.
        let early = ctx.reader.buffer().to_vec();
        std::thread::spawn(move || {
            if !early.is_empty() && write_frame(&mut to_monitor, frames::STDIN, &early).is_err() {
                return;
            }
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match from_client.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = write_frame(&mut to_monitor, frames::CLOSE_STDIN, &[]);
                        return;
                    }
                    Ok(n) => {
                        if write_frame(&mut to_monitor, frames::STDIN, &buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    pump_output(&mut sock, ctx.stream, tty, want_out, want_err);
    let _ = ctx.stream.shutdown(Shutdown::Both);
    Ok(Outcome::Streamed)
}

/// Copies the monitor's output frames to the client until the container exits or
/// either side goes.
fn pump_output(sock: &mut UnixStream, client: &mut UnixStream, tty: bool, want_out: bool, want_err: bool) {
    while let Ok(Some((kind, payload))) = read_frame(sock) {
        let wanted = match kind {
            frames::STDOUT => want_out,
            frames::STDERR => want_err,
            frames::EXIT | frames::ERROR => return,
            _ => false,
        };
        if !wanted {
            continue;
        }
        let data = if tty { payload } else { http::stdcopy_frame(kind, &payload) };
        if client.write_all(&data).is_err() {
            return;
        }
    }
}

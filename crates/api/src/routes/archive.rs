//! `/containers/{id}/archive` (`docker cp`): GET a path as a tar, HEAD its stat, PUT a
//! tar's entries into a directory. hull-engine's copy helper does the work inside the
//! container's view of its files.

use crate::http::{Chunked, Response};
use crate::{server_headers, ApiError, Ctx, Outcome, Result};
use hull_engine::files::cp::Incoming;
use std::io::Write;

/// Docker's `X-Docker-Container-Path-Stat`: base64 of the path's name, size, mode (Go's
/// `os.FileMode`, whose directory bit is 1<<31), mtime and link target.
fn path_stat(path: &str, is_dir: bool) -> (String, String) {
    use base64::Engine as _;
    let name = path.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/");
    let mode: u64 = if is_dir { (1u64 << 31) | 0o755 } else { 0o644 };
    let stat = serde_json::json!({
        "name": name, "size": 0, "mode": mode, "mtime": "0001-01-01T00:00:00Z", "linkTarget": "",
    });
    ("X-Docker-Container-Path-Stat".into(), base64::engine::general_purpose::STANDARD.encode(stat.to_string()))
}

fn not_found(e: hull_engine::error::Error, path: &str) -> ApiError {
    let msg = e.to_string();
    let l = msg.to_ascii_lowercase();
    if l.contains("no such file") || l.contains("not find") || l.contains("not exist") {
        ApiError::new(404, format!("Could not find the file {path} in container"))
    } else {
        ApiError::from(e)
    }
}

/// GET (`head` false) or HEAD.
pub fn get(ctx: &mut Ctx<'_>, id: &str, head: bool) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let path = ctx.req.query("path").unwrap_or("").to_owned();
    if path.is_empty() {
        return Err(ApiError::new(400, "path is required"));
    }
    let server = ctx.server;
    let mut archive = server.engine.archive_out(&id, &path, false).map_err(|e| not_found(e, &path))?;
    let stat = path_stat(&path, archive.is_dir);
    if head {
        drop(archive);
        let mut r = Response::empty(200);
        r.headers.push(stat);
        return Ok(Outcome::Reply(r));
    }
    let mut headers = server_headers();
    headers.push(stat);
    let mut out = Chunked::start(ctx.stream, 200, "application/x-tar", &headers)?;
    let copied = std::io::copy(&mut archive, &mut out);
    let finished = archive.finish();
    if copied.is_ok() && finished.is_ok() {
        let _ = out.flush();
        let _ = out.finish();
    }
    Ok(Outcome::Streamed)
}

/// PUT: the body's tar entries unpacked into the directory `path` (`copyUIDGID`: their
/// owners kept).
pub fn put(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let path = ctx.req.query("path").unwrap_or("").to_owned();
    if path.is_empty() {
        return Err(ApiError::new(400, "path is required"));
    }
    let mut w = ctx
        .engine()
        .archive_in(&id, &path, &Incoming::Entries, ctx.req.flag("copyUIDGID"))
        .map_err(|e| not_found(e, &path))?;
    let wrote = w.write_all(&ctx.req.body);
    w.finish().map_err(|e| not_found(e, &path))?;
    wrote?;
    Ok(Outcome::Reply(Response::empty(200)))
}

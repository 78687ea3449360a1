//! The rest of a container's endpoints and the system's: `stats` (streamed or one
//! reading), `changes`, `export`, `update`, `POST /commit`, `GET /system/df`.

use super::{body, json};
use crate::http::Chunked;
use crate::{server_headers, ApiError, Ctx, Outcome, Result};
use std::time::{Duration, Instant};

/// One stats document: a reading with the one before it as `precpu_stats`, from which
/// Docker's clients compute the CPU percentage.
fn stats_doc(now: &hull_engine::stats::Stats, before: Option<&hull_engine::stats::Stats>) -> Result<Vec<u8>> {
    let mut v = serde_json::to_value(now)?;
    if let Some(o) = v.as_object_mut() {
        let pre = match before {
            Some(b) => serde_json::to_value(&b.cpu_stats)?,
            None => serde_json::json!({ "cpu_usage": { "total_usage": 0 }, "system_cpu_usage": 0 }),
        };
        o.insert("precpu_stats".into(), pre);
        o.insert("preread".into(), serde_json::json!(before.map(|b| b.read.clone()).unwrap_or_default()));
        o.insert("num_procs".into(), serde_json::json!(0));
        o.insert("storage_stats".into(), serde_json::json!({}));
    }
    let mut b = serde_json::to_vec(&v)?;
    b.push(b'\n');
    Ok(b)
}

/// `stream` (the default): a document a second until the container stops or the
/// client goes; `stream=false`: one document from two readings a second apart, or
/// with `one-shot` from one.
pub fn stats(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let stream = ctx.req.query("stream").is_none_or(|_| ctx.req.flag("stream"));
    let server = ctx.server;
    let first = server.engine.stats(&id)?;
    if !stream {
        let doc = if ctx.req.flag("one-shot") {
            stats_doc(&first, None)?
        } else {
            std::thread::sleep(Duration::from_secs(1));
            stats_doc(&server.engine.stats(&id)?, Some(&first))?
        };
        return Ok(Outcome::Reply(crate::http::Response {
            status: 200,
            content_type: "application/json",
            body: doc,
            headers: Vec::new(),
        }));
    }
    let mut out = Chunked::start(ctx.stream, 200, "application/json", &server_headers())?;
    let mut before: Option<hull_engine::stats::Stats> = None;
    let mut now = first;
    loop {
        if out.send(&stats_doc(&now, before.as_ref())?).is_err() {
            return Ok(Outcome::Streamed);
        }
        let next = Instant::now() + Duration::from_secs(1);
        while Instant::now() < next {
            if super::system::client_gone(ctx.reader) {
                return Ok(Outcome::Streamed);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        match server.engine.stats(&id) {
            Ok(s) => {
                before = Some(std::mem::replace(&mut now, s));
            }
            Err(_) => break,
        }
    }
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

pub fn changes(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    json(200, &ctx.engine().changes(&id)?)
}

/// The container's whole tree as a tar.
pub fn export(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let server = ctx.server;
    // Checked before the stream starts, so a failure is still an HTTP status.
    server.engine.container(&id)?;
    let mut out = Chunked::start(ctx.stream, 200, "application/x-tar", &server_headers())?;
    if server.engine.export(&id, &mut out).is_ok() {
        let _ = out.finish();
    }
    Ok(Outcome::Streamed)
}

pub fn update(ctx: &mut Ctx<'_>, id: &str) -> Result<Outcome> {
    let id = ctx.engine().resolve(id)?;
    let opts: hull_engine::lifecycle::update::UpdateOptions = body(ctx)?;
    ctx.engine().update(&id, &opts)?;
    json(200, &serde_json::json!({ "Warnings": [] }))
}

/// `POST /commit?container=…&repo=…&tag=…&comment=…&author=…&pause=…&changes=…`.
pub fn commit(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let c = ctx.req.query("container").unwrap_or("").to_owned();
    if c.is_empty() {
        return Err(ApiError::new(400, "container is required"));
    }
    let id = ctx.engine().resolve(&c)?;
    let repo = ctx.req.query("repo").unwrap_or("");
    let reference = match (repo, ctx.req.query("tag").unwrap_or("")) {
        ("", _) => None,
        (r, "") => Some(r.to_owned()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let some = |k: &str| ctx.req.query(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let opts = hull_engine::files::commit::CommitOptions {
        reference,
        comment: some("comment"),
        author: some("author"),
        changes: ctx
            .req
            .query
            .iter()
            .filter(|(k, v)| k == "changes" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        pause: ctx.req.query("pause").is_none_or(|_| ctx.req.flag("pause")),
    };
    let image = ctx.engine().commit(&id, &opts)?;
    json(201, &serde_json::json!({ "Id": image }))
}

/// Docker's `system df` document: images, containers (with their sizes), volumes.
pub fn df(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let e = ctx.engine();
    let usage = e.disk_usage()?;
    let opts = hull_engine::inspect::ListOptions { all: true, size: true, ..Default::default() };
    let containers = e.list(&opts)?;
    let used = e.volumes_in_use()?;
    let mut volumes = Vec::new();
    for n in e.volume_names()? {
        let Ok(v) = e.inspect_volume(&n) else { continue };
        let mut j = serde_json::to_value(&v)?;
        let refs = used.iter().filter(|u| **u == n).count();
        j["UsageData"] = serde_json::json!({ "Size": -1, "RefCount": refs });
        volumes.push(j);
    }
    json(
        200,
        &serde_json::json!({
            "LayersSize": usage.images.size,
            "Images": e.image_summaries()?,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }),
    )
}

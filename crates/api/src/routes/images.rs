//! `/images/…`: list, inspect, history, pull (`create`, with Docker's JSON progress
//! stream), push, tag, remove, prune, save (`get`) and load.

use super::{filters, json};
use crate::http::{Chunked, Response};
use crate::{server_headers, ApiError, Ctx, Outcome, Result};
use hull_image::digest::Digest;
use hull_image::pull::Progress;
use std::collections::HashMap;
use std::sync::Mutex;

/// Every image (`filters`: `reference=NAME[:TAG]`, `label=K[=V]`, `dangling=true`).
pub fn list(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let f = filters(ctx)?;
    let mut all = ctx.engine().image_summaries()?;
    for cond in &f {
        let (k, v) = cond.split_once('=').unwrap_or((cond, ""));
        all.retain(|i| match k {
            "reference" => i.repo_tags.iter().any(|t| {
                let (name, tag) = t.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((t, "latest"));
                let (want, want_tag) = v.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((v, ""));
                name == want && (want_tag.is_empty() || want_tag == tag)
            }),
            "label" => hull_engine::inspect::label_matches(&i.labels, v),
            "dangling" => (v == "true") == i.repo_tags.is_empty(),
            _ => true,
        });
    }
    json(200, &all)
}

pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    json(200, &ctx.engine().inspect_image(name)?)
}

/// The image's history, newest first.
pub fn history(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    json(200, &ctx.engine().image_history(name)?)
}

/// Docker's progress lines for a pull or push: a layer's start, its bytes (at most
/// one line a megabyte), its end.
struct JsonProgress<'a> {
    out: Mutex<Chunked<'a>>,
    seen: Mutex<HashMap<String, Layer>>,
    verb: &'static str,
}

/// A layer's bytes so far, its size, and the bytes at its last progress line.
#[derive(Default)]
struct Layer {
    done: u64,
    total: Option<u64>,
    reported: u64,
}

impl JsonProgress<'_> {
    fn line(&self, v: serde_json::Value) {
        send_line(&mut self.out.lock().expect("not poisoned"), &v);
    }
}

/// One JSON object and a newline, as a chunk of the stream.
fn send_line(out: &mut Chunked<'_>, v: &serde_json::Value) {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    let _ = out.send(&b);
}

fn short(d: &Digest) -> String {
    d.to_string().split_once(':').map_or(String::new(), |(_, h)| h.chars().take(12).collect())
}

impl Progress for JsonProgress<'_> {
    fn start(&self, layer: &Digest, size: Option<u64>) {
        self.seen.lock().expect("not poisoned").insert(short(layer), Layer { total: size, ..Default::default() });
        let status = if self.verb == "push" { "Preparing" } else { "Pulling fs layer" };
        self.line(serde_json::json!({ "status": status, "progressDetail": {}, "id": short(layer) }));
    }

    fn advance(&self, layer: &Digest, n: u64) {
        let id = short(layer);
        let report = {
            let mut seen = self.seen.lock().expect("not poisoned");
            let e = seen.entry(id.clone()).or_default();
            e.done += n;
            (e.done - e.reported >= 1 << 20).then(|| {
                e.reported = e.done;
                (e.done, e.total)
            })
        };
        if let Some((current, total)) = report {
            let status = if self.verb == "push" { "Pushing" } else { "Downloading" };
            self.line(serde_json::json!({
                "status": status,
                "progressDetail": { "current": current, "total": total },
                "id": id,
            }));
        }
    }

    fn finish(&self, layer: &Digest, status: &str) {
        self.line(serde_json::json!({ "status": status, "progressDetail": {}, "id": short(layer) }));
    }
}

fn error_line(out: &mut Chunked<'_>, msg: &str) {
    send_line(out, &serde_json::json!({ "errorDetail": { "message": msg }, "error": msg }));
}

/// The registry credentials a client sends (`X-Registry-Auth`: base64url of
/// `{"username","password",…}`); None when absent or empty, and the server's own
/// (Docker's config.json of its user) apply.
fn registry_auth(ctx: &Ctx<'_>) -> Result<Option<hull_image::registry::Credentials>> {
    use base64::Engine as _;
    let Some(h) = ctx.req.header("x-registry-auth").map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(h)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h.trim_end_matches('=')))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(h))
        .map_err(|_| ApiError::new(400, "invalid X-Registry-Auth header: not base64"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::new(400, "invalid X-Registry-Auth header: not JSON"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let (username, password) = (field("username"), field("password"));
    Ok((!username.is_empty()).then_some(hull_image::registry::Credentials { username, password }))
}

/// Pull (`fromImage`, `tag`, `platform`): progress as JSON lines, with the client's
/// `X-Registry-Auth` credentials when it sends some.
pub fn create(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    if ctx.req.query("fromSrc").is_some() {
        return Err(ApiError::new(501, "importing with POST /images/create?fromSrc is not served yet"));
    }
    let from = ctx.req.query("fromImage").unwrap_or("").to_owned();
    if from.is_empty() {
        return Err(ApiError::new(400, "fromImage or fromSrc is required"));
    }
    let tag = ctx.req.query("tag").unwrap_or("");
    let name = if tag.is_empty() || from.contains('@') {
        from.clone()
    } else if tag.starts_with("sha256:") {
        format!("{from}@{tag}")
    } else {
        format!("{from}:{tag}")
    };
    let reference = hull_image::reference::Reference::parse(&name).map_err(|e| ApiError::new(400, e.to_string()))?;
    let mut opts =
        hull_image::pull::PullOptions { unpack: hull_engine::images::unpack_options(), ..Default::default() };
    opts.registry.credentials = registry_auth(ctx)?;
    if let Some(p) = ctx.req.query("platform").filter(|p| !p.is_empty()) {
        opts.platform = hull_image::image::Platform::parse(p).map_err(|e| ApiError::new(400, e.to_string()))?;
    }
    let server = ctx.server;
    let out = Chunked::start(ctx.stream, 200, "application/json", &server_headers())?;
    let progress = JsonProgress { out: Mutex::new(out), seen: Mutex::new(HashMap::new()), verb: "pull" };
    progress.line(
        serde_json::json!({ "status": format!("Pulling from {}", reference.repository), "id": reference.object() }),
    );
    let r = server.engine.pull(&name, &opts, &progress);
    let mut out = progress.out.into_inner().expect("not poisoned");
    match r {
        Ok(p) => {
            let familiar = hull_image::reference::Reference::familiar(&p.reference.to_string());
            for line in [
                format!("Digest: {}", p.repo_digest),
                if p.up_to_date {
                    format!("Status: Image is up to date for {familiar}")
                } else {
                    format!("Status: Downloaded newer image for {familiar}")
                },
            ] {
                send_line(&mut out, &serde_json::json!({ "status": line }));
            }
        }
        Err(e) => error_line(&mut out, &e.to_string()),
    }
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

/// Push of `name` (`tag`): progress as JSON lines, then the digest.
pub fn push(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    let name = match ctx.req.query("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.to_owned(),
    };
    let registry = hull_image::registry::Options { credentials: registry_auth(ctx)?, ..Default::default() };
    let server = ctx.server;
    let out = Chunked::start(ctx.stream, 200, "application/json", &server_headers())?;
    let progress = JsonProgress { out: Mutex::new(out), seen: Mutex::new(HashMap::new()), verb: "push" };
    let r = server.engine.push(&name, None, registry, &progress);
    let mut out = progress.out.into_inner().expect("not poisoned");
    match r {
        Ok(p) => {
            let tag = p.reference.tag.clone().unwrap_or_else(|| "latest".into());
            let line = format!("{tag}: digest: {} size: {}", p.digest, p.size);
            send_line(&mut out, &serde_json::json!({ "status": line }));
        }
        Err(e) => error_line(&mut out, &e.to_string()),
    }
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

pub fn tag(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    let repo = ctx.req.query("repo").unwrap_or("").to_owned();
    if repo.is_empty() {
        return Err(ApiError::new(400, "repository name (repo) is required"));
    }
    let target = match ctx.req.query("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    ctx.engine().tag_image(name, &target)?;
    Ok(Outcome::Reply(Response::empty(201)))
}

pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    let gone = ctx.engine().remove_image(name, ctx.req.flag("force"))?;
    let out: Vec<serde_json::Value> = gone
        .into_iter()
        .map(|d| match d {
            hull_engine::images::ImageDeleted::Untagged(n) => serde_json::json!({ "Untagged": n }),
            hull_engine::images::ImageDeleted::Deleted(i) => serde_json::json!({ "Deleted": i }),
        })
        .collect();
    json(200, &out)
}

pub fn prune(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let all = filters(ctx)?.iter().any(|f| f == "dangling=false" || f == "dangling=0");
    let gone = ctx.engine().prune_images(all)?;
    let deleted: Vec<serde_json::Value> = gone.into_iter().map(|i| serde_json::json!({ "Deleted": i })).collect();
    json(200, &serde_json::json!({ "ImagesDeleted": deleted, "SpaceReclaimed": 0 }))
}

/// `GET /images/{name}/get` and `GET /images/get?names=…`: a docker-archive tarball.
pub fn save(ctx: &mut Ctx<'_>, name: Option<&str>) -> Result<Outcome> {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_owned()],
        None => ctx.req.query.iter().filter(|(k, _)| k == "names").map(|(_, v)| v.clone()).collect(),
    };
    if names.is_empty() {
        return Err(ApiError::new(400, "no image names given"));
    }
    for n in &names {
        ctx.engine().inspect_image(n)?;
    }
    let server = ctx.server;
    let mut out = Chunked::start(ctx.stream, 200, "application/x-tar", &server_headers())?;
    if server.engine.save_images(&names, hull_image::archive::Format::DockerArchive, &mut out).is_ok() {
        let _ = out.finish();
    }
    Ok(Outcome::Streamed)
}

/// `POST /images/load`: the request's body is an archive; `{"stream": "Loaded image: …"}`.
pub fn load(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let tmp =
        ctx.engine().images.tmp().join(format!("api-load-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&tmp, &ctx.req.body)?;
    let r = ctx.engine().load_images(&tmp, Some("the request's archive"), &hull_image::image::Platform::host());
    let _ = std::fs::remove_file(&tmp);
    let loaded = r?;
    let mut text = String::new();
    for (names, id) in &loaded.images {
        match names.first() {
            Some(n) => text.push_str(&format!("Loaded image: {}\n", hull_image::reference::Reference::familiar(n))),
            None => text.push_str(&format!("Loaded image ID: {id}\n")),
        }
    }
    let mut b = serde_json::to_vec(&serde_json::json!({ "stream": text })).unwrap_or_default();
    b.push(b'\n');
    Ok(Outcome::Reply(Response { status: 200, content_type: "application/json", body: b, headers: Vec::new() }))
}

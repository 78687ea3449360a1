//! `/_ping`, `/version`, `/info`, `/events`.

use super::{filters, json};
use crate::http::{Chunked, Response};
use crate::{server_headers, ApiError, Ctx, Outcome, Result, API_VERSION, MIN_API_VERSION};
use std::time::{Duration, Instant, SystemTime};

/// `OK`, with the API version; the classic builder (`Builder-Version: 1`), never
/// BuildKit's, which would send the CLI to a gRPC session hull does not serve.
pub fn ping(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let mut r = Response::text(200, if ctx.req.method == "HEAD" { "" } else { "OK" });
    r.headers.push(("Builder-Version".into(), "1".into()));
    r.headers.push(("Cache-Control".into(), "no-cache, no-store, must-revalidate".into()));
    r.headers.push(("Pragma".into(), "no-cache".into()));
    Ok(Outcome::Reply(r))
}

fn kernel() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

pub fn version(_ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let v = env!("CARGO_PKG_VERSION");
    json(
        200,
        &serde_json::json!({
            "Platform": { "Name": "hull" },
            "Components": [{
                "Name": "Engine",
                "Version": v,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux",
                    "Arch": arch(),
                    "KernelVersion": kernel(),
                }
            }],
            "Version": v,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch(),
            "KernelVersion": kernel(),
            "BuildTime": "",
        }),
    )
}

pub fn info(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let i = ctx.engine().info()?;
    let mut v = serde_json::to_value(&i)?;
    // Fields the docker CLI reads that hull's info has no notion of.
    if let Some(o) = v.as_object_mut() {
        o.entry("Plugins").or_insert(
            serde_json::json!({ "Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"] }),
        );
        o.entry("Runtimes").or_insert(serde_json::json!({ "hull-runtime": { "path": "hull-runtime" } }));
        o.entry("Swarm").or_insert(serde_json::json!({ "LocalNodeState": "inactive" }));
        o.entry("RegistryConfig").or_insert(serde_json::json!({ "IndexConfigs": {}, "InsecureRegistryCIDRs": [] }));
        o.entry("Warnings").or_insert(serde_json::json!([]));
    }
    json(200, &v)
}

/// Events as a stream of JSON objects (`since`, `until`, `filters`): the log's, then,
/// without `until`, new ones as they come, until the client goes.
pub fn events(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let now = SystemTime::now();
    let time = |k: &str| -> Result<Option<i64>> {
        ctx.req
            .query(k)
            .filter(|s| !s.is_empty())
            .map(|s| hull_engine::events::parse_time(s, now).map_err(ApiError::from))
            .transpose()
    };
    let (since, until) = (time("since")?, time("until")?);
    let filter = hull_engine::events::Filter::parse(&filters(ctx)?)?;
    // Without `since`, only what happens from now on, as dockerd.
    let since = since.or(Some(now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)));
    let mut reader = ctx.engine().events().read(since, until, until.is_none(), filter);
    let mut out = Chunked::start(ctx.stream, 200, "application/json", &server_headers())?;
    loop {
        // A follower wakes every second to see whether its client is still there.
        match reader.next_before(Some(Instant::now() + Duration::from_secs(1))) {
            Some(e) => {
                let mut line = serde_json::to_vec(&e)?;
                line.push(b'\n');
                if out.send(&line).is_err() {
                    return Ok(Outcome::Streamed);
                }
            }
            None if until.is_some() => break,
            None => {
                if out.send(b"").is_err() || client_gone(ctx.reader) {
                    return Ok(Outcome::Streamed);
                }
            }
        }
    }
    let _ = out.finish();
    Ok(Outcome::Streamed)
}

/// Whether the client closed the connection. Only a full close counts: a client that
/// shut down its sending side only (the docker CLI's attach without stdin) still
/// listens.
pub fn client_gone(r: &std::io::BufReader<std::os::unix::net::UnixStream>) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd { fd: r.get_ref().as_raw_fd(), events: 0, revents: 0 };
    // SAFETY: poll(2) of one descriptor we hold, without waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// `POST /auth`: the credentials checked against the registry (`serveraddress`, Docker
/// Hub when empty). Nothing is stored: the client keeps them and sends them with each
/// pull and push.
pub fn auth(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct AuthBody {
        username: String,
        password: String,
        serveraddress: String,
    }
    let b: AuthBody = super::body(ctx)?;
    let server = hull_image::registry::server_name(Some(&b.serveraddress));
    let creds = hull_image::registry::Credentials { username: b.username, password: b.password };
    hull_image::registry::check_login(&server, creds, Default::default())
        .map_err(|e| ApiError::new(401, e.to_string()))?;
    json(200, &serde_json::json!({ "Status": "Login Succeeded", "IdentityToken": "" }))
}

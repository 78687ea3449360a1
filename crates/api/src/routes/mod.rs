//! The endpoints: the method and path (without its version prefix) to a handler.
//! [`system`] (`_ping`, `version`, `info`, `events`), [`containers`] (their life,
//! inspection, logs, attach), [`images`] (list and inspect).

pub mod archive;
pub mod containers;
pub mod exec;
pub mod images;
pub mod more;
pub mod networks;
pub mod system;
pub mod volumes;

use crate::http::Response;
use crate::{ApiError, Ctx, Outcome, Result};

/// Serves `ctx`'s request for `path`.
pub fn route(ctx: &mut Ctx<'_>, path: &str) -> Result<Outcome> {
    let method = ctx.req.method.clone();
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) => system::ping(ctx),
        ("GET", ["version"]) => system::version(ctx),
        ("GET", ["info"]) => system::info(ctx),
        ("GET", ["events"]) => system::events(ctx),
        ("POST", ["auth"]) => system::auth(ctx),
        ("GET", ["containers", "json"]) => containers::list(ctx),
        ("POST", ["containers", "create"]) => containers::create(ctx),
        ("POST", ["containers", "prune"]) => containers::prune(ctx),
        ("GET", ["containers", id, "json"]) => containers::inspect(ctx, id),
        ("POST", ["containers", id, "start"]) => containers::start(ctx, id),
        ("POST", ["containers", id, "stop"]) => containers::stop(ctx, id),
        ("POST", ["containers", id, "restart"]) => containers::restart(ctx, id),
        ("POST", ["containers", id, "kill"]) => containers::kill(ctx, id),
        ("POST", ["containers", id, "wait"]) => containers::wait(ctx, id),
        ("POST", ["containers", id, "pause"]) => containers::pause(ctx, id, true),
        ("POST", ["containers", id, "unpause"]) => containers::pause(ctx, id, false),
        ("POST", ["containers", id, "rename"]) => containers::rename(ctx, id),
        ("POST", ["containers", id, "resize"]) => containers::resize(ctx, id),
        ("POST", ["containers", id, "attach"]) => containers::attach(ctx, id),
        ("GET", ["containers", id, "logs"]) => containers::logs(ctx, id),
        ("GET", ["containers", id, "top"]) => containers::top(ctx, id),
        ("GET", ["containers", id, "stats"]) => more::stats(ctx, id),
        ("GET", ["containers", id, "changes"]) => more::changes(ctx, id),
        ("GET", ["containers", id, "export"]) => more::export(ctx, id),
        ("POST", ["containers", id, "update"]) => more::update(ctx, id),
        ("POST", ["commit"]) => more::commit(ctx),
        ("GET", ["system", "df"]) => more::df(ctx),
        ("DELETE", ["containers", id]) => containers::remove(ctx, id),
        ("GET", ["containers", id, "archive"]) => archive::get(ctx, id, false),
        ("HEAD", ["containers", id, "archive"]) => archive::get(ctx, id, true),
        ("PUT", ["containers", id, "archive"]) => archive::put(ctx, id),
        ("POST", ["containers", id, "exec"]) => exec::create(ctx, id),
        ("POST", ["exec", id, "start"]) => exec::start(ctx, id),
        ("POST", ["exec", id, "resize"]) => exec::resize(ctx, id),
        ("GET", ["exec", id, "json"]) => exec::inspect(ctx, id),
        ("GET", ["images", "json"]) => images::list(ctx),
        ("POST", ["images", "create"]) => images::create(ctx),
        ("POST", ["images", "load"]) => images::load(ctx),
        ("POST", ["images", "prune"]) => images::prune(ctx),
        ("GET", ["images", "get"]) => images::save(ctx, None),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => images::inspect(ctx, &name.join("/")),
        ("GET", ["images", name @ .., "history"]) if !name.is_empty() => images::history(ctx, &name.join("/")),
        ("GET", ["images", name @ .., "get"]) if !name.is_empty() => images::save(ctx, Some(&name.join("/"))),
        ("POST", ["images", name @ .., "tag"]) if !name.is_empty() => images::tag(ctx, &name.join("/")),
        ("POST", ["images", name @ .., "push"]) if !name.is_empty() => images::push(ctx, &name.join("/")),
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => images::remove(ctx, &name.join("/")),
        ("GET", ["networks"]) => networks::list(ctx),
        ("POST", ["networks", "create"]) => networks::create(ctx),
        ("POST", ["networks", "prune"]) => networks::prune(ctx),
        ("GET", ["networks", id]) => networks::inspect(ctx, id),
        ("DELETE", ["networks", id]) => networks::remove(ctx, id),
        ("POST", ["networks", id, "connect"]) => networks::connect(ctx, id),
        ("POST", ["networks", id, "disconnect"]) => networks::disconnect(ctx, id),
        ("GET", ["volumes"]) => volumes::list(ctx),
        ("POST", ["volumes", "create"]) => volumes::create(ctx),
        ("POST", ["volumes", "prune"]) => volumes::prune(ctx),
        ("GET", ["volumes", name]) => volumes::inspect(ctx, name),
        ("DELETE", ["volumes", name]) => volumes::remove(ctx, name),
        ("POST", ["build"]) => {
            Err(ApiError::new(501, "hull serves no builds yet (the classic builder comes with `hull build`)"))
        }
        _ => Err(ApiError::new(404, format!("page not found: {method} {path}"))),
    }
}

/// A reply with `status` and `v` as JSON.
pub fn json<T: serde::Serialize>(status: u16, v: &T) -> Result<Outcome> {
    Ok(Outcome::Reply(Response::json(status, v)))
}

/// An empty reply (204 and the like).
pub fn empty(status: u16) -> Result<Outcome> {
    Ok(Outcome::Reply(Response::empty(status)))
}

/// The request's JSON body as `T`; an empty body is `T`'s default. Docker's clients
/// send `null` for what they leave unset: such members are dropped first, so `T`'s
/// defaults apply to them as to absent ones.
pub fn body<T: serde::de::DeserializeOwned + Default>(ctx: &Ctx<'_>) -> Result<T> {
    if ctx.req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut v: serde_json::Value = serde_json::from_slice(&ctx.req.body)?;
    drop_nulls(&mut v);
    Ok(serde_json::from_value(v)?)
}

/// Removes the members whose value is null, at every depth.
pub fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The request's `filters` query parameter as `KEY=VALUE` strings.
pub fn filters(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    parse_filters(ctx.req.query("filters"))
}

/// Docker's `filters` (`{"label":["a=b"]}`, or the old `{"label":{"a=b":true}}`) as
/// `KEY=VALUE` strings.
pub fn parse_filters(raw: Option<&str>) -> Result<Vec<String>> {
    let Some(raw) = raw.filter(|f| !f.is_empty()) else { return Ok(Vec::new()) };
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| ApiError::new(400, format!("invalid filters {raw:?}: {e}")))?;
    let obj = v.as_object().ok_or_else(|| ApiError::new(400, format!("invalid filters {raw:?}")))?;
    let mut out = Vec::new();
    for (k, vals) in obj {
        match vals {
            serde_json::Value::Array(a) => out.extend(a.iter().filter_map(|x| x.as_str()).map(|x| format!("{k}={x}"))),
            serde_json::Value::Object(m) => {
                out.extend(m.iter().filter(|(_, on)| on.as_bool() != Some(false)).map(|(x, _)| format!("{k}={x}")))
            }
            _ => return Err(ApiError::new(400, format!("invalid filter {k:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_in_both_of_dockers_shapes() {
        let check = |f: &str| parse_filters(Some(f)).map_err(|e| e.message);
        let mut got = check(r#"{"label":["a=b"],"status":["running"]}"#).unwrap();
        got.sort();
        assert_eq!(got, ["label=a=b", "status=running"]);
        assert_eq!(check(r#"{"label":{"x":true,"y":false}}"#).unwrap(), ["label=x"]);
        assert!(check("nonsense").is_err());
        assert_eq!(parse_filters(None).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn nulls_are_absent_members() {
        let mut v = serde_json::json!({"Cmd": null, "HostConfig": {"Binds": null, "Memory": 0}, "Env": [null, "A=1"]});
        drop_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"HostConfig": {"Memory": 0}, "Env": [null, "A=1"]}));
    }
}

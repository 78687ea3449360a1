//! `/networks/…`: list, inspect, create, remove, connect, disconnect, prune.

use super::{body, empty, filters, json};
use crate::{ApiError, Ctx, Outcome, Result};
use hull_engine::create::body::EndpointConfig;
use hull_engine::networks::NetworkInspect;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Whether network `n` passes filter `cond` (`name`, `id`, `label`, `driver`, `type`).
fn passes(n: &NetworkInspect, cond: &str) -> bool {
    let (k, v) = cond.split_once('=').unwrap_or((cond, ""));
    match k {
        "name" => n.name.contains(v),
        "id" => n.id.starts_with(v),
        "driver" => n.driver == v,
        "label" => hull_engine::inspect::label_matches(&n.labels, v),
        "type" => (v == "builtin") == (n.name == hull_network::DEFAULT),
        "scope" => v == "local",
        _ => true,
    }
}

pub fn list(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let f = filters(ctx)?;
    let mut out = Vec::new();
    for n in ctx.engine().list_networks()? {
        let mut i = ctx.engine().inspect_network(&n.name)?;
        if f.iter().all(|c| passes(&i, c)) {
            // The list shows no containers, as dockerd's.
            i.containers.clear();
            out.push(i);
        }
    }
    json(200, &out)
}

pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    json(200, &ctx.engine().inspect_network(name)?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfig {
    subnet: String,
    gateway: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    config: Vec<IpamConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "IPAM")]
    ipam: Ipam,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    options: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

pub fn create(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let b: CreateBody = body(ctx)?;
    if !b.driver.is_empty() && b.driver != "bridge" {
        return Err(ApiError::new(400, format!("network driver {:?} is not supported (bridge)", b.driver)));
    }
    let mut c = hull_network::CreateNetwork {
        name: b.name,
        internal: b.internal,
        labels: b.labels,
        ipv6: b.enable_ipv6,
        ..Default::default()
    };
    let bad = |e: hull_network::Error| ApiError::new(400, e.to_string());
    for cfg in &b.ipam.config {
        if !cfg.subnet.is_empty() {
            c.add_subnet(&cfg.subnet).map_err(bad)?;
        }
        if !cfg.gateway.is_empty() {
            c.add_gateway(&cfg.gateway).map_err(bad)?;
        }
        if !cfg.ip_range.is_empty() {
            c.ip_range = Some(cfg.ip_range.parse().map_err(bad)?);
        }
    }
    for (k, v) in &b.options {
        match k.as_str() {
            "com.docker.network.driver.mtu" | "mtu" => {
                c.mtu = Some(v.parse().map_err(|_| ApiError::new(400, format!("invalid mtu {v:?}")))?)
            }
            // Docker's other bridge options have hull's defaults.
            _ => {}
        }
    }
    let n = ctx.engine().create_network(&c)?;
    json(201, &serde_json::json!({ "Id": n.id, "Warning": "" }))
}

pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    ctx.engine().remove_network(name)?;
    empty(204)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: EndpointConfig,
}

pub fn connect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    let b: ConnectBody = body(ctx)?;
    ctx.engine().connect_network(name, &b.container, &b.endpoint_config)?;
    Ok(Outcome::Reply(crate::http::Response::empty(200)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DisconnectBody {
    container: String,
}

pub fn disconnect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    let b: DisconnectBody = body(ctx)?;
    ctx.engine().disconnect_network(name, &b.container)?;
    Ok(Outcome::Reply(crate::http::Response::empty(200)))
}

pub fn prune(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    json(200, &serde_json::json!({ "NetworksDeleted": ctx.engine().prune_networks()? }))
}

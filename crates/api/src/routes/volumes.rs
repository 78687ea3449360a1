//! `/volumes/…`: list, create, inspect, remove, prune.

use super::{body, empty, filters, json};
use crate::{Ctx, Outcome, Result};
use hull_engine::volumes::VolumeInspect;
use serde::Deserialize;
use std::collections::BTreeMap;

fn passes(v: &VolumeInspect, cond: &str, used: &[String]) -> bool {
    let (k, val) = cond.split_once('=').unwrap_or((cond, ""));
    match k {
        "name" => v.name.contains(val),
        "driver" => val == "local",
        "dangling" => (val == "true" || val == "1") != used.contains(&v.name),
        "label" => hull_engine::inspect::label_matches(&v.labels, val),
        _ => true,
    }
}

pub fn list(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let f = filters(ctx)?;
    let used = ctx.engine().volumes_in_use()?;
    let mut out = Vec::new();
    for n in ctx.engine().volume_names()? {
        let Ok(v) = ctx.engine().inspect_volume(&n) else { continue };
        if f.iter().all(|c| passes(&v, c, &used)) {
            out.push(v);
        }
    }
    json(200, &serde_json::json!({ "Volumes": out, "Warnings": [] }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    labels: BTreeMap<String, String>,
}

/// Makes a volume (a name already taken gives that volume, as Docker's).
pub fn create(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let b: CreateBody = body(ctx)?;
    let name = if b.name.is_empty() { hull_engine::new_id()? } else { b.name };
    ctx.engine().volume(&name, false, b.labels)?;
    json(201, &ctx.engine().inspect_volume(&name)?)
}

pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    json(200, &ctx.engine().inspect_volume(name)?)
}

pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    ctx.engine().remove_volume(name, ctx.req.flag("force"))?;
    empty(204)
}

/// Unused volumes removed: anonymous ones, and before API 1.42 (or with the filter
/// `all=true`) named ones too, as dockerd.
pub fn prune(ctx: &mut Ctx<'_>) -> Result<Outcome> {
    let all = ctx.version < (1, 42) || filters(ctx)?.iter().any(|f| f == "all=true" || f == "all=1");
    let gone = ctx.engine().prune_volumes(all)?;
    json(200, &serde_json::json!({ "VolumesDeleted": gone, "SpaceReclaimed": 0 }))
}

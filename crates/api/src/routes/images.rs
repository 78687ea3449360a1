//! `/images/…`: list and inspect.

use super::{filters, json};
use crate::{Ctx, Outcome, Result};

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
            "label" => match v.split_once('=') {
                Some((lk, lv)) => i.labels.get(lk).is_some_and(|x| x == lv),
                None => i.labels.contains_key(v),
            },
            "dangling" => (v == "true") == i.repo_tags.is_empty(),
            _ => true,
        });
    }
    json(200, &all)
}

pub fn inspect(ctx: &mut Ctx<'_>, name: &str) -> Result<Outcome> {
    json(200, &ctx.engine().inspect_image(name)?)
}

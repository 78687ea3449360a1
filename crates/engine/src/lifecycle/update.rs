//! Update (Docker's `POST /containers/{id}/update`): new limits go into the
//! container's config (kept across restarts) and, while it runs, into its cgroups; a
//! new restart policy into its record, which the monitor reads when the container exits.

use crate::create::body::{Resources, RestartPolicy};
use crate::create::settings;
use crate::error::{Error, Result};
use crate::Engine;
use hull_container::container;
use serde::{Deserialize, Serialize};

/// What `update` changes, Docker's update body: limits and the restart policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateOptions {
    #[serde(flatten)]
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
}

impl Engine {
    pub fn update(&self, id: &str, opts: &UpdateOptions) -> Result<()> {
        let resources = &settings::resources(&opts.resources, true)?;
        let restart = opts.restart_policy.as_ref().map(settings::restart_policy).transpose()?;
        let mut typed = crate::runtime_config::limits(resources)?;
        if resources.memory_swap.is_none() {
            // Docker's update keeps the swap limit the container has (run's default of
            // twice the memory is for a new container).
            if let Some(m) = typed.memory_mut() {
                m.set_swap(None);
            }
        }
        let limits = serde_json::to_value(&typed)?;
        if limits.as_object().is_some_and(|o| o.is_empty()) && restart.is_none() {
            return Err(Error::Invalid("you must provide one or more flags when using this command".into()));
        }
        let _lock = self.lock(id)?;
        let mut r = self.record(id)?;
        if let Some(p) = &restart {
            if r.host.auto_remove && p.name != "no" {
                return Err(Error::Conflict(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                ));
            }
        }
        let path = self.dir(id).join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).map_err(Error::at(format!("read {}", path.display())))?)?;
        let swap = config.pointer("/linux/resources/memory/swap").and_then(|v| v.as_i64());
        if let (Some(m), Some(swap), None) = (resources.memory, swap, resources.memory_swap) {
            if swap != -1 && m > swap {
                return Err(Error::Invalid(
                    "Memory limit should be smaller than already set memoryswap limit, \
                     update the memoryswap at the same time"
                        .into(),
                ));
            }
        }
        merge(&mut config["linux"]["resources"], &limits);
        if self.container(id)?.status.is_live() {
            container::update(&self.runtime, id, &typed)?;
        }
        crate::write_atomic(&path, &serde_json::to_vec_pretty(&config)?)?;
        if let Some(p) = restart {
            r.host.restart = p;
            self.save_record(&r)?;
        }
        Ok(())
    }
}

/// Merges the objects of `from` into `into`, replacing everything else.
fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into.as_object_mut(), from.as_object()) {
        (Some(i), Some(f)) => {
            for (k, v) in f {
                merge(i.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        _ => *into = from.clone(),
    }
}

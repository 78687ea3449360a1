//! `events`: the container's cgroup statistics, once or at an interval, and an `oom`
//! event whenever the kernel's OOM killer has struck in the container since the last
//! look, in runc's event shape (`{"type", "id", "data"}`).

use super::{bad, load};
use crate::cgroups::resources::Placement;
use crate::cgroups::stats;
use crate::error::Result;
use crate::state::StateStore;
use serde_json::{json, Value};
use std::time::Duration;

/// One stats event.
pub fn stats_event(store: &StateStore, id: &str) -> Result<Value> {
    let l = load(store, id)?;
    l.status.has_processes().map_err(|r| bad(id, l.status, r))?;
    Ok(json!({"type": "stats", "id": id, "data": stats::collect(&Placement::of(&l.state.cgroup_dirs))}))
}

/// Emits events until the container stops: stats every `interval` (when `with_stats`),
/// and an `oom` event for each rise of the OOM-kill counter, checked every `interval`
/// (at most every second).
pub fn watch(
    store: &StateStore,
    id: &str,
    interval: Duration,
    with_stats: bool,
    mut emit: impl FnMut(&Value),
) -> Result<()> {
    let l = load(store, id)?;
    l.status.has_processes().map_err(|r| bad(id, l.status, r))?;
    let placement = Placement::of(&l.state.cgroup_dirs);
    let (pid, start) = (l.state.pid, l.state.pid_start);
    drop(l); // do not hold the container's lock while watching
    let tick = interval.min(Duration::from_secs(1)).max(Duration::from_millis(10));
    let mut ooms = stats::oom_kills(&placement);
    let mut since_stats = Duration::ZERO;
    while crate::process::is_alive(pid, start) {
        let now = stats::oom_kills(&placement);
        if now > ooms {
            emit(&json!({"type": "oom", "id": id}));
            ooms = now;
        }
        if with_stats && since_stats >= interval {
            emit(&json!({"type": "stats", "id": id, "data": stats::collect(&placement)}));
            since_stats = Duration::ZERO;
        }
        std::thread::sleep(tick);
        since_stats += tick;
    }
    if stats::oom_kills(&placement) > ooms {
        emit(&json!({"type": "oom", "id": id}));
    }
    Ok(())
}

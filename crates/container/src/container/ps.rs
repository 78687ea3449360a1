//! `ps`: the processes of a container, from its cgroup.

use super::{bad, load};
use crate::error::Result;
use crate::state::StateStore;

/// The pids of every process in the container.
pub fn pids(store: &StateStore, id: &str) -> Result<Vec<i32>> {
    let l = load(store, id)?;
    l.status.is_live().map_err(|reason| bad(id, l.status, reason))?;
    let mut pids = crate::cgroups::procs(&l.state.cgroup_dirs);
    pids.sort_unstable();
    Ok(pids)
}

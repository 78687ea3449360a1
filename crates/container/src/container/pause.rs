//! `pause` and `resume`: freeze and thaw every process of a container through its
//! cgroup (v1 freezer or v2 cgroup.freeze), returning once the kernel reports it done.

use super::{bad, load};
use crate::cgroups::resources::{set_frozen, Placement};
use crate::error::Result;
use crate::state::StateStore;

/// Freezes a running container.
pub fn pause(store: &StateStore, id: &str) -> Result<()> {
    let l = load(store, id)?;
    l.status.can_pause().map_err(|r| bad(id, l.status, r))?;
    set_frozen(&Placement::of(&l.state.cgroup_dirs), true)
}

/// Thaws a paused container.
pub fn resume(store: &StateStore, id: &str) -> Result<()> {
    let l = load(store, id)?;
    l.status.can_resume().map_err(|r| bad(id, l.status, r))?;
    set_frozen(&Placement::of(&l.state.cgroup_dirs), false)
}

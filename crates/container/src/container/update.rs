//! `update`: new `linux.resources` for a live container, written into its cgroups.

use super::{bad, load};
use crate::cgroups::resources::{apply, Placement};
use crate::error::Result;
use crate::state::StateStore;
use oci_spec::runtime::LinuxResources;

/// Applies `r` to the container's cgroups.
pub fn update(store: &StateStore, id: &str, r: &LinuxResources) -> Result<()> {
    let l = load(store, id)?;
    l.status.has_processes().map_err(|reason| bad(id, l.status, reason))?;
    let placement = Placement::of(&l.state.cgroup_dirs);
    // The controllers a limit needs may not be enabled yet down a v2 path.
    placement.enable_v2_controllers(l.state.cgroup_path.components().count().saturating_sub(1));
    crate::cgroups::resources::check_before_update(&placement, r)?;
    apply(&placement, r)
}

//! `ps`: the processes of a container, from its cgroup, or (a rootless container
//! without a delegated cgroup) from its init's pid namespace.

use super::{bad, load};
use crate::error::Result;
use crate::state::StateStore;

/// The pids of every process in the container.
pub fn pids(store: &StateStore, id: &str) -> Result<Vec<i32>> {
    let l = load(store, id)?;
    l.status.has_processes().map_err(|reason| bad(id, l.status, reason))?;
    let mut pids = if l.state.cgroup_dirs.is_empty() {
        in_pid_namespace_of(l.state.pid)
    } else {
        crate::cgroups::procs(&l.state.cgroup_dirs)
    };
    pids.sort_unstable();
    Ok(pids)
}

/// Every process in the pid namespace of `init` (the init alone when that namespace is
/// its parent's: a container sharing the host's has no other way to tell its own).
fn in_pid_namespace_of(init: i32) -> Vec<i32> {
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(own) = ns(init) else { return Vec::new() };
    if ns(std::process::id() as i32).as_ref() == Some(&own) {
        return vec![init];
    }
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![init] };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&p| ns(p).as_ref() == Some(&own))
        .collect()
}

//! `kill`: signal the init (through a pidfd, so a reused pid is never hit) or, with
//! `--all`, every process in the container's cgroup.

use super::{bad, load};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::state::StateStore;

/// Sends `signal` to the container.
pub fn kill(store: &StateStore, id: &str, signal: i32, all: bool) -> Result<()> {
    let l = load(store, id)?;
    l.status.can_kill().map_err(|r| bad(id, l.status, r))?;
    if all {
        for pid in cgroups::procs(&l.state.cgroup_dirs) {
            // SAFETY: kill with a pid from the container's own cgroup.
            unsafe { libc::kill(pid, signal) };
        }
    }
    match crate::process::signal(l.state.pid, l.state.pid_start, signal) {
        Ok(_) => Ok(()),
        // With --all the init was signalled through the cgroup already and may be gone.
        Err(e) if all && e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(Error::io(format!("signal {signal} to container {id:?}"), e)),
    }
}

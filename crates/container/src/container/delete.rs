//! `delete`: remove a container. A running one needs `force`: its processes are killed
//! and waited for. Then its cgroups go, the poststop hooks run and the state directory
//! is removed.

use super::bad;
use crate::cgroups;
use crate::error::{Error, Result};
use crate::hooks::{self, Kind};
use crate::state::{OciState, StateStore};
use crate::status::Status;

/// Deletes the container; returns the warnings of failed poststop hooks.
pub fn delete(store: &StateStore, id: &str, force: bool) -> Result<Vec<Error>> {
    let dir = store.open(id)?;
    let Some(state) = dir.load()? else {
        // A create that died before writing its state: only --force clears it, from
        // what it said it had made (its init, blocked on the fifo; its cgroups).
        Status::Creating.can_delete(force).map_err(|r| bad(id, Status::Creating, r))?;
        if let Some(i) = dir.load_intent() {
            if i.pid > 0 {
                if let Ok(pidfd) = crate::pid::signal(i.pid, i.pid_start, libc::SIGKILL) {
                    hooks::poll_readable(std::os::fd::AsFd::as_fd(&pidfd), 10_000);
                }
            }
            kill_all(&cgroups::procs(&i.cgroup_dirs), &i.cgroup_dirs);
            remove_cgroups(&i.cgroup_dirs, &i.cgroup_path, &i.cgroup_made)?;
        }
        dir.remove()?;
        return Ok(Vec::new());
    };
    let status = dir.status(Some(&state));
    status.can_delete(force).map_err(|r| bad(id, status, r))?;
    // Without a pid namespace the init's children can outlive it: a stopped container
    // may still hold processes, and they would keep its cgroup busy.
    let leftovers = cgroups::procs(&state.cgroup_dirs);
    if status != Status::Stopped || !leftovers.is_empty() {
        kill_all(&leftovers, &state.cgroup_dirs);
    }
    if status != Status::Stopped {
        match crate::process::signal(state.pid, state.pid_start, libc::SIGKILL) {
            // Wait on the same pidfd: a reused pid can never be mistaken for the init.
            Ok(pidfd) => {
                if !hooks::poll_readable(std::os::fd::AsFd::as_fd(&pidfd), 10_000) {
                    return Err(Error::Precondition(format!(
                        "container {id:?}: init {} did not exit after SIGKILL",
                        state.pid
                    )));
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(Error::io(format!("kill container {id:?}"), e)),
        }
    }
    remove_cgroups(&state.cgroup_dirs, &state.cgroup_path, &state.cgroup_made)?;
    let json = OciState::new(&state, Status::Stopped).to_json();
    let warnings =
        Kind::Poststop.of(&state.hooks).iter().filter_map(|h| hooks::run(Kind::Poststop, h, &json).err()).collect();
    dir.remove()?;
    Ok(warnings)
}

/// SIGKILLs `pids` (the container's cgroup's) and thaws the cgroup, for a frozen
/// cgroup must thaw for SIGKILL to be delivered.
fn kill_all(pids: &[i32], dirs: &[std::path::PathBuf]) {
    for &pid in pids {
        // SAFETY: kill with a pid from the container's own cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    thaw(dirs);
}

/// Waits (5 s at most) for killed processes to leave the cgroup, then removes the
/// cgroups this container made and the empty ancestors in hull's subtree.
fn remove_cgroups(dirs: &[std::path::PathBuf], path: &std::path::Path, made: &[std::path::PathBuf]) -> Result<()> {
    for _ in 0..500 {
        if cgroups::procs(dirs).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cgroups::remove(made)?;
    cgroups::remove_empty_hull_ancestors(dirs, path, made);
    Ok(())
}

fn thaw(dirs: &[std::path::PathBuf]) {
    for d in dirs {
        let _ = std::fs::write(d.join("freezer.state"), "THAWED");
        let f = d.join("cgroup.freeze");
        if f.exists() {
            let _ = std::fs::write(f, "0");
        }
    }
}

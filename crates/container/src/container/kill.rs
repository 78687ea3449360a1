//! `kill`: signal the init (through a pidfd, so a reused pid is never hit) or, with
//! `--all`, every process in the container's cgroup.

use super::{bad, load};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::state::StateStore;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
    match send(l.state.pid, l.state.pid_start, signal) {
        Ok(_) => Ok(()),
        // With --all the init was signalled through the cgroup already and may be gone.
        Err(e) if all && e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(Error::io(format!("signal {signal} to container {id:?}"), e)),
    }
}

/// Sends a signal to `pid` if it is still the process that started at `start`; returns
/// the pidfd used, so the caller can wait for that very process.
pub(crate) fn send(pid: i32, start: u64, signal: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        // EINVAL for a positive pid: the pid is still known but its process is gone
        // (an init SIGKILLed through its cgroup a moment ago and being reaped): as ESRCH.
        if e.raw_os_error() == Some(libc::EINVAL) && pid > 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
        return Err(e);
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // The pidfd pins the process: if it is still ours now, the signal reaches it.
    if !crate::process::is_alive(pid, start) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), signal, std::ptr::null::<u8>(), 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

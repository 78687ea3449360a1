//! The process model.
//!
//! `create` clones the container's init directly (clone3, no re-exec of the hull
//! binary). The child is a copy of a process that this module first checks to be
//! single-threaded: with no other thread, no lock (malloc's, stdio's) can be held by
//! someone who does not exist in the child, so the child may run ordinary Rust until it
//! execs. Callers that hold threads (the engine) must run `create` in a single-threaded
//! helper process; [`clone::clone_child`] refuses otherwise.
//!
//! Parent and child talk over a `SOCK_SEQPACKET` socketpair ([`sync`]); the child holds
//! between create and start on a fifo in the state directory ([`init`]).

pub mod clone;
pub mod exec;
pub mod init;
pub mod pidfd;
pub mod sealed_exe;
pub mod sync;

use crate::error::Error;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The end of a cloned child whose setup failed: one message to the parent (which
/// wraps it in [`Error::Init`], so an Init error is sent bare), then `_exit(1)`.
pub(crate) fn report_and_exit(chan: &sync::Channel, err: Error) -> ! {
    let msg = match err {
        Error::Init(m) => sync::Msg::Failed(m),
        Error::Exec { msg, errno } => sync::Msg::ExecFailed(errno, msg),
        e => sync::Msg::Failed(e.to_string()),
    };
    let _ = chan.send(&msg);
    // SAFETY: _exit ends the child without running the parent's atexit handlers.
    unsafe { libc::_exit(1) }
}

/// Parses `/proc/PID/stat` and returns (state letter, start time in clock ticks).
pub fn stat(pid: i32) -> Option<(u8, u64)> {
    let data = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let close = data.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&data[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.as_bytes().first().copied()?;
    // After the state come fields 4..; starttime is field 22, i.e. 19 more.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Start time of a live process (field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Whether `pid` is still the process that started at `start` and has not exited.
pub fn is_alive(pid: i32, start: u64) -> bool {
    pid > 0 && matches!(stat(pid), Some((state, t)) if t == start && state != b'Z' && state != b'X')
}

/// Sends a signal to `pid` if it is still the process that started at `start`; returns
/// the pidfd used, so the caller can wait for that very process.
pub fn signal(pid: i32, start: u64, signal: i32) -> std::io::Result<OwnedFd> {
    let fd = pidfd::open(pid).map_err(|e| {
        // EINVAL for a positive pid: the pid is still known but its process is gone
        // (an init SIGKILLed through its cgroup a moment ago and being reaped): as ESRCH.
        if e.raw_os_error() == Some(libc::EINVAL) && pid > 0 {
            std::io::Error::from_raw_os_error(libc::ESRCH)
        } else {
            e
        }
    })?;
    // The pidfd pins the process: if it is still ours now, the signal reaches it.
    if !is_alive(pid, start) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    pidfd::send_signal(fd.as_fd(), signal)?;
    Ok(fd)
}

/// The user name of `uid` from the host's /etc/passwd, or the number. Read directly
/// rather than through NSS: the binary is static and this is only for display.
pub fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            f.next()?;
            (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
        .next()
        .unwrap_or_else(|| uid.to_string())
}

/// Number of threads of the calling process (from the link count of /proc/self/task).
pub fn thread_count() -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(Path::new("/proc/self/task"))?.nlink().saturating_sub(2))
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_stat_parses() {
        let pid = std::process::id() as i32;
        let (state, start) = super::stat(pid).unwrap();
        assert!(state == b'R' || state == b'S');
        assert!(super::is_alive(pid, start));
        assert!(!super::is_alive(pid, start + 1));
        assert!(!super::is_alive(0, 0));
        assert_eq!(super::user_name(0), "root");
        assert_eq!(super::user_name(4_000_000), "4000000");
    }
}

//! Processes by pid, held safely: a pidfd (pidfd_open, pidfd_send_signal) pins a
//! process so that a signal or a wait reaches that very process and never a later one
//! with the same pid, and `/proc/PID/stat`'s start time tells a process from a later
//! one before a pidfd is taken. A leaf: the rest of the crate builds on it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// A pidfd for `pid`.
pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `signal` to the process of `fd`.
pub fn send_signal(fd: BorrowedFd<'_>, signal: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), signal, std::ptr::null::<u8>(), 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
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
    let fd = open(pid).map_err(|e| {
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
    send_signal(fd.as_fd(), signal)?;
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

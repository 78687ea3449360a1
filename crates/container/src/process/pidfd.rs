//! Process file descriptors (pidfd_open, pidfd_send_signal): the one syscall edge
//! through which hull holds on to a process, so that a signal or a wait reaches that
//! very process and never a later one with the same pid.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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

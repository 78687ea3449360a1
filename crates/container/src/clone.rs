//! clone3 at the syscall edge: fork-like (no new stack), with namespace flags, a pidfd
//! for the child, and optionally straight into a cgroup (CLONE_INTO_CGROUP).

use crate::error::{Error, Result};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The kernel's `struct clone_args` (v2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What `clone_child` returns.
pub enum Forked {
    /// In the parent: the child's pid and a pidfd for it.
    Parent { pid: i32, pidfd: OwnedFd },
    /// In the child.
    Child,
}

/// Clones the calling process with the namespace `flags` (CLONE_NEW*), like fork.
///
/// Refuses when the caller has more than one thread: the child would inherit locks
/// held by threads that no longer exist (see the module doc of [`crate::process`]).
pub fn clone_child(flags: u64, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let threads = crate::pid::thread_count().map_err(|e| Error::io("count threads in /proc/self/task", e))?;
    if threads != 1 {
        return Err(Error::Precondition(format!(
            "the container init can only be cloned from a single-threaded process (this one has {threads} threads)"
        )));
    }
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack duplicates the process like
    // fork(); `args` is a valid clone_args of the size we pass, and `pidfd` outlives the
    // call. The process is single-threaded (checked above).
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match ret {
        -1 => Err(Error::io("clone3", std::io::Error::last_os_error())),
        0 => Ok(Forked::Child),
        pid => {
            // SAFETY: the kernel stored a new file descriptor that we now own.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok(Forked::Parent { pid: pid as i32, pidfd })
        }
    }
}

/// Forks the calling process into a sibling: a child of our own parent (CLONE_PARENT),
/// which the parent can wait for. Returns the sibling's pid in the caller, 0 in the
/// sibling. Used by an exec'd process after it joined a pid namespace, which only takes
/// effect for new children.
///
/// Only for a process that is single-threaded by construction (a clone of a
/// single-threaded process that started no thread); unlike [`clone_child`] it cannot
/// count threads, as /proc may already be the container's.
pub fn clone_sibling() -> Result<i32> {
    // The kernel gives a CLONE_PARENT child our own exit signal and refuses another.
    let mut args = CloneArgs { flags: libc::CLONE_PARENT as u64, ..Default::default() };
    // SAFETY: as in `clone_child`: a fork-like clone3 of a single-threaded process with a
    // valid clone_args of the size we pass.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if ret == -1 {
        return Err(Error::io("clone3 (CLONE_PARENT)", std::io::Error::last_os_error()));
    }
    Ok(ret as i32)
}

/// A pidfd for `pid`, which must be our own unreaped child (so the pid cannot have been
/// reused).
pub fn pidfd_of_child(pid: i32) -> Result<OwnedFd> {
    crate::pid::open(pid).map_err(|e| Error::io(format!("pidfd_open {pid}"), e))
}

const CLONE_INTO_CGROUP: u64 = 0x200000000;

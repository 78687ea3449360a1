//! Directory trees handled through descriptors: removing one without ever following
//! a symlink out of it (a container's or a hostile layer's tree may hold any). Below
//! every other module of the crate that removes files.

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Removes `name` under `p` and, for a directory, everything in it; never follows a
/// symlink.
pub(crate) fn remove_all_at(p: BorrowedFd, name: &OsStr) -> nix::Result<()> {
    match unlinkat(p, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => return Ok(()),
        Err(Errno::EISDIR | Errno::EPERM) => {}
        Err(e) => return Err(e),
    }
    let d =
        openat(p, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    // A read-only directory (a rootless snapshot's /root, 0550) must be writable to be
    // emptied; root needs no such help, but asking costs nothing.
    let _ = fchmod(d.as_fd(), Mode::from_bits_truncate(0o700));
    let mut dir = nix::dir::Dir::from_fd(d)?;
    let names: Vec<CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    let dfd = dir.as_fd();
    for n in names {
        remove_all_at(dfd, OsStr::from_bytes(n.as_bytes()))?;
    }
    unlinkat(p, name, UnlinkatFlags::RemoveDir)
}

/// Removes a directory tree without following symlinks (and makes read-only
/// directories writable on the way, for rootless snapshots).
pub fn remove_tree(p: &Path) -> crate::Result<()> {
    let parent = p.parent().unwrap_or(Path::new("/"));
    let Some(name) = p.file_name() else { return Ok(()) };
    let dir = nix::fcntl::open(
        parent,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(crate::error::sys(format!("open {}", parent.display())))?;
    match remove_all_at(std::os::fd::AsFd::as_fd(&dir), name) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(crate::error::sys(format!("remove {}", p.display()))(e)),
    }
}

//! CVE-2019-5736: until the container process execs the user's program it runs hull's
//! own code, and a container that makes it exec `/proc/self/exe` (a `#!/proc/self/exe`
//! script as the program) gets hull's binary running inside, reachable through
//! `/proc/PID/exe` to be rewritten once it exits. So before a process that will clone
//! into a container starts, it re-executes itself from a file nobody can write: every
//! `/proc/PID/exe` a container can reach is then that file.
//!
//! The file is the binary itself, seen through a read-only bind mount that is never
//! attached anywhere (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY)):
//! no copy, no mount visible to anyone, gone with the last process that runs it. runc
//! 1.1 and crun bind-mount onto a temporary file for the same effect. Where that is not
//! allowed (no CAP_SYS_ADMIN, as rootless), a memfd copy sealed against writes, growth,
//! shrinking and further sealing; it costs a copy of the binary (~3 ms for 4 MB here).
//! A binary that already lives on a read-only mount needs neither.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

const SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// True when this process's binary cannot be written through /proc/self/exe: it is
/// on a read-only mount or a sealed memfd.
pub fn is_protected() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else { return false };
    // SAFETY: fcntl on a descriptor we hold; F_GET_SEALS fails on anything but a memfd.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return true;
    }
    nix::sys::statvfs::fstatvfs(&exe).is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Re-executes the current program from a read-only view or a sealed copy of itself,
/// with the same arguments and environment; returns only if it already runs from one,
/// or on failure.
pub fn ensure() -> Result<()> {
    if is_protected() {
        return Ok(());
    }
    let fail = |what: &str, e: std::io::Error| Error::io(format!("CVE-2019-5736 guard: {what}"), e);
    let file = match read_only_view() {
        Ok(fd) => fd,
        Err(_) => sealed_copy().map_err(|e| fail("make a sealed copy of the binary", e))?,
    };
    // Arguments and variables come from the kernel as C strings: they hold no NUL.
    let c = |b: Vec<u8>| CString::new(b).expect("no NUL in argv or environ");
    let argv: Vec<CString> = std::env::args_os().map(|a| c(a.into_vec())).collect();
    let envp: Vec<CString> = std::env::vars_os().map(|(k, v)| c([k.as_bytes(), b"=", v.as_bytes()].concat())).collect();
    // The descriptor is close-on-exec: the kernel keeps the file for the new image.
    let e = nix::unistd::execveat(&file, c"", &argv, &envp, nix::fcntl::AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(fail("execute the protected binary", e.into()))
}

/// The binary through a detached, read-only bind mount of it.
fn read_only_view() -> std::io::Result<OwnedFd> {
    use crate::mount_api::{clone_tree, set_attr, MOUNT_ATTR_RDONLY};
    use std::os::fd::AsFd;
    let tree = clone_tree(None, c"/proc/self/exe", false)?;
    set_attr(tree.as_fd(), false, MOUNT_ATTR_RDONLY, 0, None)?;
    Ok(tree)
}

/// A copy of the binary in a memfd, sealed.
fn sealed_copy() -> std::io::Result<OwnedFd> {
    let mut exe = File::open("/proc/self/exe")?;
    let mut copy = File::from(memfd()?);
    std::io::copy(&mut exe, &mut copy)?;
    // SAFETY: fcntl on a descriptor we hold.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(copy.into())
}

fn memfd() -> std::io::Result<OwnedFd> {
    let name = c"hull-runtime";
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) says the copy is meant to run; older kernels refuse the flag.
    for flags in [base | libc::MFD_EXEC, base] {
        // SAFETY: memfd_create with a valid name and flags.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a new descriptor we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            break;
        }
    }
    Err(std::io::Error::last_os_error())
}

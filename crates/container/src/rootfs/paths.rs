//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after pivot_root inside the
//! container's own view. A masked file gets /dev/null bound over it (checked first to
//! really be the null device), a masked directory an empty read-only tmpfs.

use super::mounts::remount_readonly;
use crate::error::{Error, Result};
use crate::safe::{fd_path, Root};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, major, minor, SFlag};
use std::path::Path;

/// Masks each path that exists.
pub fn mask(root: &Root, paths: &[String], mount_label: Option<&str>) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = root
        .open_at(Path::new("/dev/null"), OFlag::O_PATH)
        .map_err(|e| Error::sys("open /dev/null to mask paths", e))?;
    let st = fstat(&null).map_err(|e| Error::sys("stat /dev/null", e))?;
    let is_null = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
        && major(st.st_rdev) == 1
        && minor(st.st_rdev) == 3;
    if !is_null {
        return Err(Error::Precondition(
            "/dev/null in the container is not the null device (1:3); refusing to mask paths with it".into(),
        ));
    }
    for p in paths {
        let t = match root.open_at(Path::new(p), OFlag::O_PATH) {
            Ok(t) => t,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("linux.maskedPaths: open {p}"), e)),
        };
        let st = fstat(&t).map_err(|e| Error::sys(format!("linux.maskedPaths: stat {p}"), e))?;
        let r = if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            nix::mount::mount(
                Some("tmpfs"),
                fd_path(&t).as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some(crate::lsm::with_mount_label("size=0k,mode=000", "tmpfs", mount_label).as_str()),
            )
        } else {
            nix::mount::mount(
                Some(fd_path(&null).as_str()),
                fd_path(&t).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.map_err(|e| Error::sys(format!("linux.maskedPaths: mask {p}"), e))?;
    }
    Ok(())
}

/// Makes each path that exists read-only (bind onto itself, remount ro).
pub fn readonly(root: &Root, paths: &[String]) -> Result<()> {
    for p in paths {
        let t = match root.open_at(Path::new(p), OFlag::O_PATH) {
            Ok(t) => t,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("linux.readonlyPaths: open {p}"), e)),
        };
        let path = fd_path(&t);
        nix::mount::mount(
            Some(path.as_str()),
            path.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("linux.readonlyPaths: bind {p}"), e))?;
        let t = root.open_path(Path::new(p))?;
        remount_readonly(&fd_path(&t))
            .map_err(|e| Error::sys(format!("linux.readonlyPaths: remount {p} read-only"), e))?;
    }
    Ok(())
}

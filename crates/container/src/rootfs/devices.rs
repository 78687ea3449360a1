//! /dev inside the container: the default devices every container gets, the config's
//! `linux.devices`, and the standard symlinks. Devices are made with mknod; where the
//! kernel refuses (inside a user namespace) the host's node is bind-mounted instead.

use crate::error::{Error, Result};
use crate::safe::{fd_path, relative, Root};
use nix::sys::stat::{makedev, Mode, SFlag};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn defaults() -> Vec<Node> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(n, major, minor)| Node {
            path: PathBuf::from("/dev").join(n),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

/// The nodes of `linux.devices`.
pub fn from_spec(devs: &[LinuxDevice]) -> Result<Vec<Node>> {
    devs.iter()
        .map(|d| {
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                LinuxDeviceType::A => {
                    return Err(Error::SpecInvalid {
                        field: "linux.devices".into(),
                        reason: format!("{}: type 'a' is for cgroup rules, not a device node", d.path().display()),
                    })
                }
            };
            Ok(Node {
                path: d.path().clone(),
                kind,
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666) & 0o7777,
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            })
        })
        .collect()
}

/// Creates `nodes` in the root; `bind_only` skips mknod (user namespaces).
pub fn create(root: &Root, nodes: &[Node], bind_only: bool) -> Result<()> {
    for n in nodes {
        let rel = relative(&n.path);
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().unwrap_or_default();
        let dir = root.mkdir_all(parent, 0o755)?;
        // Replace whatever the image has there.
        let _ = nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        let made = !bind_only
            && match nix::sys::stat::mknodat(
                dir.as_fd(),
                name,
                n.kind,
                Mode::from_bits_truncate(n.mode),
                makedev(n.major, n.minor),
            ) {
                Ok(()) => true,
                Err(nix::errno::Errno::EPERM) => false,
                Err(e) => return Err(Error::sys(format!("mknod {}", n.path.display()), e)),
            };
        if made {
            // mknod obeys the umask; set the exact mode and owner.
            nix::sys::stat::fchmodat(
                dir.as_fd(),
                name,
                Mode::from_bits_truncate(n.mode),
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            )
            .or_else(|e| if e == nix::errno::Errno::EOPNOTSUPP { Ok(()) } else { Err(e) })
            .map_err(|e| Error::sys(format!("chmod {}", n.path.display()), e))?;
            nix::unistd::fchownat(
                dir.as_fd(),
                name,
                Some(Uid::from_raw(n.uid)),
                Some(Gid::from_raw(n.gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Error::sys(format!("chown {}", n.path.display()), e))?;
        } else {
            let t = root.create_file(&n.path)?;
            let src = n.path.to_string_lossy();
            nix::mount::mount(
                Some(src.as_ref()),
                fd_path(&t).as_str(),
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| Error::sys(format!("bind host {} into the container", n.path.display()), e))?;
        }
    }
    Ok(())
}

/// The standard links: /dev/fd, std{in,out,err}, ptmx → pts/ptmx, core → /proc/kcore.
pub fn symlinks(root: &Root) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        if name == "ptmx" {
            let _ = nix::unistd::unlinkat(dev.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_devices() {
        let d: Vec<LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":8630,"uid":1}]"#)
                .unwrap();
        let n = from_spec(&d).unwrap();
        assert_eq!(n[0].mode, 0o666 & 8630);
        assert_eq!((n[0].major, n[0].minor, n[0].uid, n[0].gid), (10, 229, 1, 0));
        let d: Vec<LinuxDevice> =
            serde_json::from_str(r#"[{"path":"/dev/x","type":"a","major":1,"minor":1}]"#).unwrap();
        assert!(from_spec(&d).is_err());
    }
}

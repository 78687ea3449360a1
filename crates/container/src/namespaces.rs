//! Namespaces: which ones a container gets new, which it joins by path, and the uid/gid
//! maps of a new user namespace. The parent opens every path before cloning, so a bad
//! path fails `create` before any process exists.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::fs::File;
use std::os::fd::OwnedFd;

/// The namespaces of one container, resolved.
#[derive(Debug, Default)]
pub struct Namespaces {
    /// CLONE_NEW* flags for the namespaces the init gets new (except time, see below).
    pub clone_flags: u64,
    /// Namespaces the init joins with setns, user namespace first.
    pub join: Vec<(LinuxNamespaceType, OwnedFd)>,
    /// A new time namespace is made by the parent (unshare) so offsets can be written first.
    pub new_time: bool,
    /// The init has a mount namespace of its own (new or joined).
    pub has_mount: bool,
    /// The init gets a new user namespace.
    pub new_user: bool,
    /// The init has a new uts namespace.
    pub new_uts: bool,
}

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> u64 {
    (match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }) as u64
}

impl Namespaces {
    /// Resolves the spec's `linux.namespaces`, opening every `path`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut ns = Namespaces::default();
        let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for n in list.into_iter().flatten() {
            let t = n.typ();
            match n.path() {
                None if t == LinuxNamespaceType::Time => ns.new_time = true,
                None => ns.clone_flags |= flag(t),
                Some(p) => {
                    let f = File::open(p).ctx(|| format!("linux.namespaces: {t} namespace {}", p.display()))?;
                    ns.join.push((t, OwnedFd::from(f)));
                }
            }
            ns.has_mount |= t == LinuxNamespaceType::Mount;
            ns.new_user |= t == LinuxNamespaceType::User && n.path().is_none();
            ns.new_uts |= t == LinuxNamespaceType::Uts && n.path().is_none();
        }
        // The user namespace must be joined first: it decides the rights to join the rest.
        ns.join.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        Ok(ns)
    }

    /// Joined namespaces that only affect children (pid, time): the parent joins them
    /// before cloning, so the init is born inside.
    pub fn join_for_children(&mut self) -> Result<()> {
        let mut rest = Vec::new();
        for (t, fd) in self.join.drain(..) {
            if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                setns(&fd, t)?;
            } else {
                rest.push((t, fd));
            }
        }
        self.join = rest;
        Ok(())
    }

    /// In the init: joins every remaining namespace, user namespace first.
    pub fn join_all(&self) -> Result<()> {
        for (t, fd) in &self.join {
            setns(fd, *t)?;
        }
        Ok(())
    }
}

/// setns(2) checked against the expected type (raw: nix's CloneFlags lacks CLONE_NEWTIME).
fn setns(fd: &OwnedFd, t: LinuxNamespaceType) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a descriptor we hold, with the namespace type as check.
    if unsafe { libc::setns(fd.as_raw_fd(), flag(t) as libc::c_int) } != 0 {
        return Err(Error::io(format!("join {t} namespace"), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Makes a new time namespace for the parent's future children and writes its offsets.
pub fn unshare_time(spec: &Spec) -> Result<()> {
    // nix's CloneFlags has no CLONE_NEWTIME (it would be truncated to 0): call libc.
    // SAFETY: unshare with a valid flag; affects only this process's future children.
    if unsafe { libc::unshare(libc::CLONE_NEWTIME) } != 0 {
        return Err(Error::io("unshare time namespace", std::io::Error::last_os_error()));
    }
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref());
    let mut text = String::new();
    for (clock, off) in offsets.into_iter().flatten() {
        let id = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(Error::SpecInvalid {
                    field: "linux.timeOffsets".into(),
                    reason: format!("unknown clock {other:?} (monotonic or boottime)"),
                })
            }
        };
        text.push_str(&format!("{id} {} {}\n", off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0)));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text).ctx(|| "write /proc/self/timens_offsets".to_string())?;
    }
    Ok(())
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// Writes the uid and gid maps of the child's new user namespace (as root).
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or_default();
    let gids = linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or_default();
    write_maps(pid, uids, gids)
}

/// Writes the uid and gid maps of process `pid`'s new user namespace: directly as
/// root or for the caller's own id alone, through newuidmap/newgidmap otherwise.
pub fn write_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    let (euid, egid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    if euid == 0 {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uids))
            .ctx(|| "linux.uidMappings: write uid_map".into())?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gids))
            .ctx(|| "linux.gidMappings: write gid_map".into())?;
        return Ok(());
    }
    // An ordinary user may write one line mapping its own id (for gids, only once
    // setgroups is denied); anything more goes through the setuid helpers from `uidmap`,
    // which allow what /etc/subuid and /etc/subgid grant.
    let only_own = |m: &[LinuxIdMapping], id: u32| m.len() == 1 && m[0].host_id() == id && m[0].size() == 1;
    if only_own(uids, euid) {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uids))
            .ctx(|| "linux.uidMappings: write uid_map".into())?;
    } else {
        id_map_helper("newuidmap", "linux.uidMappings", pid, uids)?;
    }
    if only_own(gids, egid) {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny").ctx(|| "linux.gidMappings: write setgroups".into())?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gids))
            .ctx(|| "linux.gidMappings: write gid_map".into())?;
    } else {
        id_map_helper("newgidmap", "linux.gidMappings", pid, gids)?;
    }
    Ok(())
}

/// Runs newuidmap/newgidmap PID (CONTAINER HOST SIZE)...
fn id_map_helper(helper: &str, field: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id().to_string(), m.host_id().to_string(), m.size().to_string()]);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().map_err(|e| {
        Error::io(format!("{field}: run {helper} (Debian package uidmap) for a mapping beyond your own id"), e)
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(Error::SpecInvalid {
            field: field.into(),
            reason: format!("{helper} refused ({}): {}", out.status, msg.trim()),
        });
    }
    Ok(())
}

/// Brings the loopback interface of a new network namespace up, as crun does: a
/// container without other networking still reaches its own 127.0.0.1. Plain syscalls
/// only (it runs in the init, a copy of a possibly multithreaded process).
pub fn loopback_up() -> Result<()> {
    // SAFETY: socket with constant arguments; the descriptor is closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(Error::io("socket for the loopback interface", std::io::Error::last_os_error()));
    }
    // SAFETY: an all-zero ifreq is valid; the name is set below within its bounds.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *c as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one ifreq we own.
    let r = unsafe {
        if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req) < 0 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(s, libc::SIOCSIFFLAGS, &req)
        }
    };
    let e = std::io::Error::last_os_error();
    // SAFETY: closing the socket made above.
    unsafe { libc::close(s) };
    if r < 0 {
        return Err(Error::io("bring the loopback interface up", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_text_is_kernel_format() {
        let m: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        )
        .unwrap();
        assert_eq!(map_text(&m), "0 1000 1\n1 100000 65536\n");
    }

    #[test]
    fn user_namespace_is_joined_first() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","linux":{"namespaces":[
              {"type":"network","path":"/proc/self/ns/net"},{"type":"user","path":"/proc/self/ns/user"},{"type":"pid"}]}}"#,
        )
        .unwrap();
        let ns = Namespaces::from_spec(&spec).unwrap();
        assert_eq!(ns.join[0].0, LinuxNamespaceType::User);
        assert_eq!(ns.clone_flags, libc::CLONE_NEWPID as u64);
    }

    #[test]
    fn bad_path_names_the_namespace() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"ipc","path":"/nonexistent/ns"}]}}"#,
        )
        .unwrap();
        let err = Namespaces::from_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("ipc namespace /nonexistent/ns"), "{err}");
    }
}

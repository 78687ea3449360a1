//! Idmapped bind mounts: a mount's `uidMappings`/`gidMappings`, or its `idmap` (top mount)
//! and `ridmap` (recursive) options. A file owned by id N on the source appears owned by
//! the host id the mapping gives N (containerID → hostID), so a container in a user
//! namespace sees its volume's files with sensible owners without a chown.
//!
//! The kernel lets only a process with CAP_SYS_ADMIN over the filesystem's owner (the
//! host, for disk filesystems) idmap a mount, and only a mount that was never attached.
//! So the runtime, before the init is cloned, clones each source into a detached tree,
//! makes a user namespace holding the mapping (a helper child, killed once its namespace
//! is held) and sets MOUNT_ATTR_IDMAP on the tree; the init, which may already be in its
//! own user namespace, only attaches the prepared tree (move_mount) where the mount goes.

use crate::error::{Error, Result};
use crate::mount_api::{clone_tree, set_attr, MOUNT_ATTR_IDMAP};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How a mount is to be idmapped.
#[derive(Debug, PartialEq, Eq)]
struct Wanted<'a> {
    uids: &'a [LinuxIdMapping],
    gids: &'a [LinuxIdMapping],
    /// The mapping applies to every submount (`ridmap`), not just the top one.
    recursive_idmap: bool,
    /// The source's submounts come along (`rbind` or `ridmap`).
    recursive_bind: bool,
}

fn invalid(i: usize, reason: impl Into<String>) -> Error {
    Error::SpecInvalid { field: format!("mounts[{i}]"), reason: reason.into() }
}

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind")
}

/// What mount `i` asks for: None when it is not idmapped; an error when the request is
/// incomplete or impossible (checked before anything is created).
fn wanted<'a>(spec: &'a Spec, i: usize, m: &'a Mount) -> Result<Option<Wanted<'a>>> {
    let opts = m.options().as_deref().unwrap_or_default();
    let ridmap = opts.iter().any(|o| o == "ridmap");
    let option = ridmap || opts.iter().any(|o| o == "idmap");
    let (uids, gids) = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    if !option && uids.is_none() && gids.is_none() {
        return Ok(None);
    }
    if !is_bind(m) {
        return Err(invalid(i, "only bind mounts can be idmapped"));
    }
    let (uids, gids) = match (uids, gids) {
        (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => (u, g),
        (None, None) => {
            // idmap/ridmap alone: the container's own user namespace mapping.
            let linux = spec.linux().as_ref();
            let new_user = linux
                .and_then(|l| l.namespaces().as_deref())
                .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none()));
            let u = linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or_default();
            let g = linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or_default();
            if !new_user || u.is_empty() || g.is_empty() {
                return Err(invalid(
                    i,
                    "idmap without uidMappings/gidMappings takes the container's, but it has no new user namespace with mappings",
                ));
            }
            (u, g)
        }
        _ => return Err(invalid(i, "uidMappings and gidMappings must both be given, and not empty")),
    };
    let recursive_bind = ridmap || opts.iter().any(|o| o == "rbind");
    Ok(Some(Wanted { uids, gids, recursive_idmap: ridmap, recursive_bind }))
}

/// Checks every mount's idmap request (part of spec validation).
pub fn validate(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        wanted(spec, i, m)?;
    }
    Ok(())
}

/// The prepared trees, one slot per entry of `mounts`.
pub type Trees = Vec<Option<OwnedFd>>;

/// In the runtime, before the init is cloned: a detached, idmapped tree for each
/// idmapped mount. Mounts sharing a mapping share one helper user namespace.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Trees> {
    let mut trees = Vec::new();
    let mut namespaces: Vec<(&[LinuxIdMapping], &[LinuxIdMapping], OwnedFd)> = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let Some(w) = wanted(spec, i, m)? else {
            trees.push(None);
            continue;
        };
        let userns = match namespaces.iter().position(|(u, g, _)| *u == w.uids && *g == w.gids) {
            Some(k) => k,
            None => {
                namespaces.push((w.uids, w.gids, user_namespace_with(w.uids, w.gids, i)?));
                namespaces.len() - 1
            }
        };
        let src = super::mounts::bind_source(bundle, m.source().as_deref());
        let what = |step: &str, e: std::io::Error| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => " (the filesystem does not support idmapped mounts on this kernel)",
                Some(libc::EPERM) => " (idmapping needs CAP_SYS_ADMIN over the host: not rootless)",
                _ => "",
            };
            Error::io(format!("mounts[{i}]: {step} {}{hint}", src.display()), e)
        };
        let c = CString::new(src.as_os_str().as_bytes()).map_err(|_| invalid(i, "source holds a NUL byte"))?;
        let tree = clone_tree(None, &c, w.recursive_bind).map_err(|e| what("clone the mount of", e))?;
        set_attr(tree.as_fd(), w.recursive_idmap, MOUNT_ATTR_IDMAP, 0, Some(namespaces[userns].2.as_fd()))
            .map_err(|e| what("idmap", e))?;
        trees.push(Some(tree));
    }
    Ok(trees)
}

/// A user namespace with the given mappings, held by a descriptor: a helper child
/// unshares it, the runtime writes its maps and opens it, and the child is killed.
fn user_namespace_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping], i: usize) -> Result<OwnedFd> {
    use crate::clone::{clone_child, Forked};
    let (pid, _pidfd) = match clone_child(libc::CLONE_NEWUSER as u64, None)? {
        Forked::Child => loop {
            // Only async-signal-safe calls until the parent's SIGKILL.
            // SAFETY: prctl with integer arguments; pause takes none.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                libc::pause();
            }
        },
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    let result = (|| {
        let text = |maps: &[LinuxIdMapping]| {
            maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect::<String>()
        };
        for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
            std::fs::write(format!("/proc/{pid}/{file}"), text(maps))
                .map_err(|e| Error::io(format!("mounts[{i}]: write the {file} of the idmap user namespace"), e))?;
        }
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| Error::io(format!("mounts[{i}]: open the idmap user namespace"), e))
    })();
    // SAFETY: our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mounts: serde_json::Value, linux: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "mounts": mounts, "linux": linux
        }))
        .unwrap()
    }

    #[test]
    fn requests_are_checked() {
        let map = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        let ok = spec(
            serde_json::json!([{"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind"],
                                "uidMappings": map, "gidMappings": map}]),
            serde_json::json!({}),
        );
        let m = &ok.mounts().as_ref().unwrap()[0];
        let w = wanted(&ok, 0, m).unwrap().unwrap();
        assert!(w.recursive_bind && !w.recursive_idmap);
        validate(&ok).unwrap();

        let no_gids = spec(
            serde_json::json!([{"destination": "/v", "type": "bind", "source": "/tmp", "uidMappings": map}]),
            serde_json::json!({}),
        );
        assert!(validate(&no_gids).unwrap_err().to_string().contains("both"));
        let not_bind = spec(
            serde_json::json!([{"destination": "/v", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}]),
            serde_json::json!({}),
        );
        assert!(validate(&not_bind).unwrap_err().to_string().contains("only bind"));
        let no_userns = spec(
            serde_json::json!([{"destination": "/v", "type": "bind", "source": "/tmp", "options": ["ridmap"]}]),
            serde_json::json!({}),
        );
        assert!(validate(&no_userns).unwrap_err().to_string().contains("no new user namespace"));
        let from_container = spec(
            serde_json::json!([{"destination": "/v", "type": "bind", "source": "/tmp", "options": ["ridmap"]}]),
            serde_json::json!({"namespaces": [{"type": "user"}], "uidMappings": map, "gidMappings": map}),
        );
        let m = &from_container.mounts().as_ref().unwrap()[0];
        let w = wanted(&from_container, 0, m).unwrap().unwrap();
        assert!(w.recursive_bind && w.recursive_idmap && w.uids[0].host_id() == 1000);
        let plain =
            spec(serde_json::json!([{"destination": "/v", "type": "bind", "source": "/tmp"}]), serde_json::json!({}));
        assert_eq!(wanted(&plain, 0, &plain.mounts().as_ref().unwrap()[0]).unwrap(), None);
    }
}

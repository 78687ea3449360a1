//! The entries of `mounts`: option strings to flags, and each mount made on a target
//! resolved inside the root. Bind mounts with extra flags are bound first and then
//! remounted, because the kernel ignores most flags on the first MS_BIND.

use crate::cgroups::Hierarchy;
use crate::error::{Error, Result};
use crate::safe::{fd_path, Root};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::path::{Path, PathBuf};

/// Parsed `options` of one mount.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Flags to set.
    pub flags: MsFlags,
    /// Propagation changes applied after the mount.
    pub propagation: Vec<MsFlags>,
    /// Everything else, joined for the filesystem's data string.
    pub data: String,
}

/// The flag of a propagation option (`rprivate`, `shared`, …).
pub fn propagation_flag(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Parses mount options as mount(8) and runc read them.
pub fn parse_options(opts: &[String]) -> Options {
    let mut o = Options { flags: MsFlags::empty(), propagation: Vec::new(), data: String::new() };
    let mut data = Vec::new();
    for opt in opts {
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            // runc-only hints with no kernel meaning here.
            "tmpcopyup" | "nofail" | "auto" | "noauto" | "user" | "nouser" => continue,
            // Idmapped mounts: the runtime prepared the tree (see `idmap`).
            "idmap" | "ridmap" => continue,
            other => match propagation_flag(other) {
                Some(p) => {
                    o.propagation.push(p);
                    continue;
                }
                None => {
                    data.push(other);
                    continue;
                }
            },
        };
        o.flags.insert(set);
        o.flags.remove(clear);
    }
    o.data = data.join(",");
    o
}

/// What the mount code needs besides the entry itself.
pub struct Context<'a> {
    /// The container's root.
    pub root: &'a Root,
    /// The bundle, for relative bind sources.
    pub bundle: &'a Path,
    /// cgroup hierarchies of the host and the container's path in them.
    pub cgroups: &'a [Hierarchy],
    pub cgroup_path: &'a Path,
    /// The container has a cgroup namespace of its own.
    pub cgroupns: bool,
    /// SELinux linux.mountLabel, when set (and SELinux enabled: checked by `create`).
    pub mount_label: Option<&'a str>,
    /// Idmapped trees the runtime prepared, one slot per entry of `mounts`.
    pub idmapped: &'a [Option<std::os::fd::OwnedFd>],
}

fn mount_raw(src: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: &str) -> nix::Result<()> {
    let data = if data.is_empty() { None } else { Some(data) };
    nix::mount::mount(src, target, fstype, flags, data)
}

/// Flags that the kernel locks on a mount and a bind remount must keep.
const LOCKED: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV).union(MsFlags::MS_NOEXEC).union(MsFlags::MS_RDONLY);

/// Remounts the mount at `target` with `flags` (bind remount), keeping locked flags
/// when the kernel insists.
pub fn remount_bind(target: &str, flags: MsFlags) -> nix::Result<()> {
    let f =
        (flags & !(MsFlags::MS_REC | MsFlags::MS_BIND | MsFlags::MS_REMOUNT)) | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount_raw(None, target, None, f, "") {
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs(target)?;
            let have = MsFlags::from_bits_truncate(st.flags().bits() as _) & LOCKED;
            mount_raw(None, target, None, f | have, "")
        }
        r => r,
    }
}

/// Remounts the mount at `target` read-only, keeping its nosuid, nodev and noexec.
pub fn remount_readonly(target: &str) -> nix::Result<()> {
    let st = nix::sys::statvfs::statvfs(target)?;
    let have = MsFlags::from_bits_truncate(st.flags().bits() as _) & LOCKED;
    remount_bind(target, have | MsFlags::MS_RDONLY)
}

/// Makes one entry of `mounts`; `idmapped` is its prepared tree when it is idmapped.
pub fn mount_one(ctx: &Context<'_>, m: &Mount, idmapped: Option<&std::os::fd::OwnedFd>) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let fail = |what: &str, e: nix::errno::Errno| Error::sys(format!("mount {typ} on {} ({what})", dest.display()), e);
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(ctx, dest, &opts);
    }
    if is_bind {
        let src = bind_source(ctx.bundle, m.source().as_deref());
        let meta = std::fs::metadata(&src)
            .map_err(|e| Error::io(format!("bind source {} for {}", src.display(), dest.display()), e))?;
        let t = if meta.is_dir() { ctx.root.mkdir_all(dest, 0o755)? } else { ctx.root.create_file(dest)? };
        let src_s = src.to_string_lossy();
        match idmapped {
            Some(tree) => {
                use std::os::fd::AsFd;
                crate::mount_api::attach(tree.as_fd(), t.as_fd()).map_err(|e| {
                    fail(
                        &format!("attach the idmapped {src_s}"),
                        nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                    )
                })?
            }
            None => mount_raw(Some(&src_s), &fd_path(&t), None, opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC), "")
                .map_err(|e| fail(&format!("bind {src_s}"), e))?,
        }
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            let t = ctx.root.open_path(dest)?;
            remount_bind(&fd_path(&t), opts.flags).map_err(|e| fail("remount with its flags", e))?;
        }
    } else {
        let t = ctx.root.mkdir_all(dest, 0o755)?;
        let src = m.source().as_deref().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| typ.to_owned());
        let data = crate::lsm::with_mount_label(&opts.data, typ, ctx.mount_label);
        match mount_raw(Some(&src), &fd_path(&t), Some(typ), opts.flags, &data) {
            Ok(()) => {}
            // Without its own network namespace, or inside a user namespace, a new sysfs
            // is refused: bind the host's instead, read-only like the spec asks.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
                mount_raw(Some("/sys"), &fd_path(&t), None, MsFlags::MS_BIND | MsFlags::MS_REC, "")
                    .map_err(|e| fail("bind /sys", e))?;
                let t = ctx.root.open_path(dest)?;
                remount_bind(&fd_path(&t), opts.flags).map_err(|e| fail("remount /sys", e))?;
            }
            Err(e) => return Err(fail("mount", e)),
        }
    }
    if !opts.propagation.is_empty() {
        let t = ctx.root.open_path(dest)?;
        for p in &opts.propagation {
            mount_raw(None, &fd_path(&t), None, *p, "").map_err(|e| fail("propagation", e))?;
        }
    }
    Ok(())
}

/// A bind mount's source: absolute, relative to the bundle, or `/` when absent.
pub(crate) fn bind_source(bundle: &Path, src: Option<&Path>) -> PathBuf {
    match src {
        Some(s) if s.is_absolute() => s.to_owned(),
        Some(s) => bundle.join(s),
        None => PathBuf::from("/"),
    }
}

/// A `cgroup` mount: cgroup2 on a unified host; on v1 and hybrid hosts a tmpfs with the
/// container's own directory of each hierarchy bound into it, as runc does.
fn mount_cgroup(ctx: &Context<'_>, dest: &Path, opts: &Options) -> Result<()> {
    let fail =
        |what: String, e: nix::errno::Errno| Error::sys(format!("mount cgroup on {} ({what})", dest.display()), e);
    let rel = ctx.cgroup_path.strip_prefix("/").unwrap_or(ctx.cgroup_path);
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    let t = ctx.root.mkdir_all(dest, 0o755)?;
    let pure_v2 = ctx.cgroups.len() == 1 && ctx.cgroups[0].unified;
    if pure_v2 {
        if ctx.cgroupns {
            if let Ok(()) = mount_raw(Some("cgroup2"), &fd_path(&t), Some("cgroup2"), flags, "") {
                return Ok(());
            }
        }
        let src = ctx.cgroups[0].mountpoint.join(rel);
        mount_raw(Some(&src.to_string_lossy()), &fd_path(&t), None, MsFlags::MS_BIND | MsFlags::MS_REC, "")
            .map_err(|e| fail(format!("bind {}", src.display()), e))?;
        let t = ctx.root.open_path(dest)?;
        return remount_bind(&fd_path(&t), flags).map_err(|e| fail("remount".into(), e));
    }
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_raw(Some("tmpfs"), &fd_path(&t), Some("tmpfs"), tmpfs_flags, "mode=755")
        .map_err(|e| fail("tmpfs".into(), e))?;
    let mut subs = Vec::new();
    for h in ctx.cgroups {
        let name = h.mountpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let sub = dest.join(&name);
        let st = ctx.root.mkdir_all(&sub, 0o755)?;
        let src = h.mountpoint.join(rel);
        let src = if src.exists() { src } else { h.mountpoint.clone() };
        mount_raw(Some(&src.to_string_lossy()), &fd_path(&st), None, MsFlags::MS_BIND | MsFlags::MS_REC, "")
            .map_err(|e| fail(format!("bind {}", src.display()), e))?;
        subs.push(sub);
    }
    // One recursive mount_setattr gives the tmpfs and every bind its flags; kernels
    // without it (before 5.12) get a remount per mount.
    let t = ctx.root.open_path(dest)?;
    let ro = flags.contains(MsFlags::MS_RDONLY);
    match setattr_recursive(&t, ro) {
        Ok(()) => return Ok(()),
        Err(nix::errno::Errno::ENOSYS) => {}
        Err(e) => return Err(fail("mount_setattr".into(), e)),
    }
    for sub in &subs {
        let st = ctx.root.open_path(sub)?;
        remount_bind(&fd_path(&st), flags | tmpfs_flags).map_err(|e| fail(format!("remount {}", sub.display()), e))?;
    }
    if ro {
        mount_raw(None, &fd_path(&t), None, MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags, "mode=755")
            .map_err(|e| fail("remount tmpfs read-only".into(), e))?;
    }
    Ok(())
}

/// mount_setattr(AT_RECURSIVE): nosuid, nodev, noexec (and read-only) on a mount tree.
fn setattr_recursive(fd: &std::os::fd::OwnedFd, readonly: bool) -> nix::Result<()> {
    use crate::mount_api::*;
    use std::os::fd::AsFd;
    let mut set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if readonly {
        set |= MOUNT_ATTR_RDONLY;
    }
    set_attr(fd.as_fd(), true, set, 0, None)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> Options {
        parse_options(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_data() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = p(&["rbind", "ro", "rw", "rprivate"]);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        let o = p(&["noexec", "exec", "nodev"]);
        assert_eq!(o.flags, MsFlags::MS_NODEV);
    }
}

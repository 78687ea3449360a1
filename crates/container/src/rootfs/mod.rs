//! The container's root filesystem: the mount namespace's propagation, the root bound
//! onto itself, every entry of `mounts`, /dev, then pivot_root (or MS_MOVE + chroot
//! with `--no-pivot`), and afterwards masked and read-only paths and a read-only root.
//! All of it runs in the init, in the container's mount namespace.

pub mod devices;
pub mod idmap;
pub mod mounts;
pub mod paths;

use crate::error::{Context, Error, Result};
use crate::safe::Root;
use mounts::{mount_one, propagation_flag};
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use std::path::Path;

fn mount_flags(target: impl AsRef<Path>, flags: MsFlags) -> nix::Result<()> {
    nix::mount::mount(None::<&str>, target.as_ref(), None::<&str>, flags, None::<&str>)
}

/// Whether the spec mounts something at /dev itself, so hull must fill it. runc skips
/// device setup when /dev is a bind mount of the host's.
pub fn needs_dev_setup(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind"))
    })
}

/// The root propagation the spec asks for (default rslave).
pub fn root_propagation(spec: &Spec) -> MsFlags {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// Step 1: propagation of the new mount namespace, and the rootfs as a mount point.
pub fn bind_root(spec: &Spec, rootfs: &Path) -> Result<Root> {
    let prop = root_propagation(spec);
    if prop.contains(MsFlags::MS_SHARED) {
        // As runc: every mount stays a peer of the host's where it was one, so that a
        // shared bind mount propagates both ways (Kubernetes' Bidirectional); the mount
        // holding the root is made private, so the root's own mounts stay inside.
        mount_flags("/", MsFlags::MS_SHARED | MsFlags::MS_REC)
            .ctx(|| "make / shared in the container's mount namespace".into())?;
        let holder = crate::mountinfo::mount_of_path(rootfs)
            .ctx(|| "read /proc/self/mountinfo".into())?
            .map(|m| m.mount_point)
            .unwrap_or_else(|| "/".into());
        mount_flags(&holder, MsFlags::MS_PRIVATE)
            .ctx(|| format!("make {} (which holds the root) private", holder.display()))?;
    } else {
        mount_flags("/", prop | MsFlags::MS_REC)
            .ctx(|| "set the propagation of / in the container's mount namespace".into())?;
    }
    let r = rootfs.to_string_lossy();
    nix::mount::mount(Some(r.as_ref()), r.as_ref(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .ctx(|| format!("bind root.path {} onto itself", rootfs.display()))?;
    Root::open(rootfs)
}

/// Step 2: every entry of `mounts`, then /dev.
pub fn mount_all(ctx: &mounts::Context<'_>, spec: &Spec, bind_only_devices: bool) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mount_one(ctx, m, ctx.idmapped.get(i).and_then(Option::as_ref))?;
    }
    let linux_devices = spec.linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or_default();
    if needs_dev_setup(spec) {
        devices::create(ctx.root, &devices::defaults(), bind_only_devices)?;
        devices::symlinks(ctx.root)?;
    }
    devices::create(ctx.root, &devices::from_spec(linux_devices)?, bind_only_devices)?;
    Ok(())
}

/// Step 3: make the root the process's `/`.
pub fn pivot(root: &Root, no_pivot: bool) -> Result<()> {
    let path = root.path();
    nix::unistd::chdir(path).ctx(|| format!("chdir {}", path.display()))?;
    if no_pivot {
        nix::mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .ctx(|| "move the root onto / (--no-pivot)".into())?;
        nix::unistd::chroot(".").ctx(|| "chroot (--no-pivot)".into())?;
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one; detach it
        // without letting the unmount propagate to the host. The old root is reached
        // through a descriptor taken before: "." is the new root to mount(2), which does
        // not follow the mount stacked on it, and making the new root's mounts slaves
        // would cut shared bind mounts off from the host.
        let old = nix::fcntl::open("/", OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .ctx(|| "open the old root".into())?;
        nix::unistd::pivot_root(".", ".").ctx(|| format!("pivot_root to {}", path.display()))?;
        nix::unistd::fchdir(&old).ctx(|| "fchdir to the old root".into())?;
        mount_flags(".", MsFlags::MS_SLAVE | MsFlags::MS_REC).ctx(|| "make the old root a slave".into())?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach the old root".into())?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
    Ok(())
}

/// Step 4, inside the new root: read-only and masked paths, the root's own propagation,
/// and a read-only root.
pub fn finish(spec: &Spec) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    if let Some(linux) = spec.linux() {
        paths::readonly(&root, linux.readonly_paths().as_deref().unwrap_or_default())?;
        paths::mask(&root, linux.masked_paths().as_deref().unwrap_or_default(), crate::lsm::mount_label(spec))?;
    }
    let prop = root_propagation(spec);
    if prop.contains(MsFlags::MS_SHARED) || prop.contains(MsFlags::MS_PRIVATE) || prop.contains(MsFlags::MS_UNBINDABLE)
    {
        mount_flags("/", prop).ctx(|| "linux.rootfsPropagation".into())?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        mounts::remount_readonly("/").map_err(|e| Error::sys("root.readonly: remount / read-only", e))?;
    }
    Ok(())
}

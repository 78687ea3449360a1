//! A container's root filesystem from an image's snapshots: an overlay mount of the
//! snapshots (read-only lower directories, top layer first) with a per-container upper
//! and work directory, or — where overlay cannot be used (no overlay in the kernel, an
//! unprivileged caller, or a lowerdir list longer than one mount-option page holds) —
//! a copy that applies the snapshots in order, honouring their whiteouts and opaque
//! directories as overlay would.
//!
//! ```text
//! <dir>/upper  <dir>/work  <dir>/merged     overlay
//! <dir>/merged                              copy (a plain directory)
//! ```

use crate::error::{io, sys, Error, Result};
use crate::image::Image;
use crate::store::{remove_tree, Store};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How a root filesystem was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Overlay,
    Copy,
}

/// A prepared root filesystem.
#[derive(Debug)]
pub struct Rootfs {
    pub kind: Kind,
    /// The directory to use as the container's root.
    pub path: PathBuf,
    pub dir: PathBuf,
}

/// The most a mount's option string may hold (one page, with its NUL).
const OPTIONS_MAX: usize = 4095;

/// The overlay mount options for `lowers` (bottom layer first), or None when they do
/// not fit in a page.
pub fn overlay_options(lowers: &[PathBuf], upper: &Path, work: &Path, userxattr: bool) -> Option<String> {
    let mut s = String::from("lowerdir=");
    for (i, l) in lowers.iter().rev().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let l = l.to_string_lossy();
        // ':' separates lowers and ',' options; the store's paths have neither, but
        // the store's root is the user's choice.
        s.push_str(&l.replace('\\', "\\\\").replace(':', "\\:").replace(',', "\\,"));
    }
    s.push_str(&format!(",upperdir={},workdir={}", upper.display(), work.display()));
    if userxattr {
        s.push_str(",userxattr");
    }
    (s.len() <= OPTIONS_MAX).then_some(s)
}

/// Prepares the root filesystem of `image` under `dir` (created; must not exist).
/// `copy` forces the copy even where overlay would do.
pub fn prepare(store: &Store, image: &Image, dir: &Path, copy: bool) -> Result<Rootfs> {
    prepare_from(&lowers(store, image)?, dir, copy, false)
}

/// The snapshot directories of `image`, bottom layer first; all must exist.
pub fn lowers(store: &Store, image: &Image) -> Result<Vec<PathBuf>> {
    let lowers: Vec<PathBuf> = image.layers.iter().map(|l| store.snapshot_path(&l.chain_id)).collect();
    for (l, p) in image.layers.iter().zip(&lowers) {
        if !p.is_dir() {
            return Err(Error::Format {
                what: format!("image {}", image.record.id),
                why: format!("the snapshot of layer {} is missing", l.digest),
            });
        }
    }
    Ok(lowers)
}

/// [`prepare`] from snapshot directories (bottom layer first); `recorded_owners`: a
/// copy gets the owners a rootless unpack recorded (see [`apply`]).
pub fn prepare_from(lowers: &[PathBuf], dir: &Path, copy: bool, recorded_owners: bool) -> Result<Rootfs> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("create {}", parent.display())))?;
    }
    // A new directory only: on failure everything in it is removed, which must never
    // be a running container's.
    std::fs::create_dir(dir).map_err(io(format!("create {}", dir.display())))?;
    let result = prepare_in(lowers, dir, copy, recorded_owners);
    if result.is_err() {
        let _ = release(dir);
    }
    result
}

fn prepare_in(lowers: &[PathBuf], dir: &Path, copy: bool, recorded_owners: bool) -> Result<Rootfs> {
    let merged = dir.join("merged");
    std::fs::create_dir(&merged).map_err(io(format!("create {}", merged.display())))?;
    let root = nix::unistd::geteuid().is_root();
    if !copy && root && !lowers.is_empty() {
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir(d).map_err(io(format!("create {}", d.display())))?;
        }
        if let Some(opts) = overlay_options(lowers, &upper, &work, false) {
            let r = nix::mount::mount(
                Some("overlay"),
                &merged,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(opts.as_str()),
            );
            match r {
                Ok(()) => return Ok(Rootfs { kind: Kind::Overlay, path: merged, dir: dir.to_owned() }),
                // No overlay here (or not on this filesystem): fall back to a copy.
                Err(nix::errno::Errno::ENODEV | nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => {}
                Err(e) => return Err(sys(format!("mount overlay on {}", merged.display()))(e)),
            }
        }
        let _ = std::fs::remove_dir(&upper);
        let _ = std::fs::remove_dir(&work);
    }
    for l in lowers {
        apply(l, &merged, recorded_owners)?;
    }
    Ok(Rootfs { kind: Kind::Copy, path: merged, dir: dir.to_owned() })
}

/// Unmounts (if mounted) and removes a root filesystem made by `prepare`.
pub fn release(dir: &Path) -> Result<()> {
    let merged = dir.join("merged");
    match nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        // An ordinary user made no mount here (its root filesystems are copies).
        Err(nix::errno::Errno::EPERM) if !nix::unistd::geteuid().is_root() => {}
        Err(e) => return Err(sys(format!("unmount {}", merged.display()))(e)),
    }
    remove_tree(dir)
}

pub use crate::unpack::OWNER_XATTR;

/// The owner a rootless snapshot's entry `p` had in its layer ([`OWNER_XATTR`]).
pub fn recorded_owner(p: &Path) -> Option<(u32, u32)> {
    let v = xattr_get(p, OWNER_XATTR)?;
    let (u, g) = std::str::from_utf8(&v).ok()?.split_once(':')?;
    Some((u.parse().ok()?, g.parse().ok()?))
}

pub(crate) fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

pub(crate) fn is_opaque(p: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"].iter().any(|n| xattr_get(p, n).as_deref() == Some(b"y"))
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of the length passed.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

/// Applies one snapshot on top of `dest`, as overlay would show it above `dest`.
/// Sources are snapshots (already confined when unpacked); `dest` is checked with
/// lstat at every step and a symlink in it is replaced, never followed.
///
/// `recorded_owners`: entries get the owners a rootless unpack recorded in
/// [`OWNER_XATTR`] instead of the snapshot's own. Only for a copy made as root of the
/// containers' user namespace (`hull __rootfs`), where those owners are mapped ids: a
/// user can set that xattr on its own files, so real root must never honour it.
pub fn apply(src: &Path, dest: &Path, recorded_owners: bool) -> Result<()> {
    let mut c = Applying { links: std::collections::HashMap::new(), recorded_owners };
    apply_dir(src, dest, &mut c)?;
    let m = std::fs::metadata(src).map_err(io(format!("stat {}", src.display())))?;
    set_meta(src, dest, &m, recorded_owners)
}

/// One [`apply`] in progress: the first copy of each hardlinked inode, and whether
/// recorded owners apply.
struct Applying {
    links: std::collections::HashMap<u64, PathBuf>,
    recorded_owners: bool,
}

fn apply_dir(src: &Path, dest: &Path, c: &mut Applying) -> Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(src)
        .map_err(io(format!("list {}", src.display())))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let (s, d) = (src.join(&name), dest.join(&name));
        let m = std::fs::symlink_metadata(&s).map_err(io(format!("stat {}", s.display())))?;
        let existing = std::fs::symlink_metadata(&d).ok();
        if is_whiteout(&m) {
            if existing.is_some() {
                remove_tree(&d)?;
            }
            continue;
        }
        let ft = m.file_type();
        if ft.is_dir() {
            match existing {
                Some(e) if e.is_dir() => {
                    if is_opaque(&s) {
                        remove_tree(&d)?;
                        std::fs::create_dir(&d).map_err(io(format!("create {}", d.display())))?;
                    }
                }
                Some(_) => {
                    remove_tree(&d)?;
                    std::fs::create_dir(&d).map_err(io(format!("create {}", d.display())))?;
                }
                None => std::fs::create_dir(&d).map_err(io(format!("create {}", d.display())))?,
            }
            apply_dir(&s, &d, c)?;
            set_meta(&s, &d, &m, c.recorded_owners)?;
            continue;
        }
        if existing.is_some() {
            remove_tree(&d)?;
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(&s).map_err(io(format!("readlink {}", s.display())))?;
            std::os::unix::fs::symlink(&target, &d).map_err(io(format!("symlink {}", d.display())))?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = c.links.get(&m.ino()) {
                    std::fs::hard_link(first, &d).map_err(io(format!("link {}", d.display())))?;
                    continue;
                }
                c.links.insert(m.ino(), d.clone());
            }
            std::fs::copy(&s, &d).map_err(io(format!("copy {} to {}", s.display(), d.display())))?;
        } else {
            let kind = if ft.is_char_device() {
                nix::sys::stat::SFlag::S_IFCHR
            } else if ft.is_block_device() {
                nix::sys::stat::SFlag::S_IFBLK
            } else if ft.is_fifo() {
                nix::sys::stat::SFlag::S_IFIFO
            } else {
                continue;
            };
            nix::sys::stat::mknod(&d, kind, nix::sys::stat::Mode::from_bits_truncate(0o600), m.rdev())
                .map_err(sys(format!("mknod {}", d.display())))?;
        }
        set_meta(&s, &d, &m, c.recorded_owners)?;
        if ft.is_file() {
            // After chown, which drops file capabilities.
            copy_xattrs(&s, &d);
        }
    }
    Ok(())
}

/// security.capability (file capabilities) goes with a copied file.
fn copy_xattrs(s: &Path, d: &Path) {
    if let Some(v) = xattr_get(s, "security.capability") {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(d) {
            let _ = crate::unpack::fsetxattr(std::os::fd::AsFd::as_fd(&f), "security.capability", &v);
        }
    }
}

/// Owner, mode and times of `d` from its source `s` (stat `m`). The owner is set where
/// this process may chown (root, or root of a user namespace): the snapshot's, or with
/// `recorded_owners` the one a rootless unpack recorded in [`OWNER_XATTR`].
fn set_meta(s: &Path, d: &Path, m: &std::fs::Metadata, recorded_owners: bool) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        let recorded = if recorded_owners { recorded_owner(s) } else { None };
        let (uid, gid) = recorded.unwrap_or((m.uid(), m.gid()));
        std::os::unix::fs::lchown(d, Some(uid), Some(gid)).map_err(io(format!("chown {}", d.display())))?;
    }
    if !m.file_type().is_symlink() {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(io(format!("chmod {}", d.display())))?;
    }
    let t = nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec());
    nix::sys::stat::utimensat(nix::fcntl::AT_FDCWD, d, &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
        .map_err(sys(format!("set the times of {}", d.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::layer::{chain_ids, ingest, LayerRef};
    use crate::unpack::tests::{tempdir, Layer};
    use sha2::{Digest as _, Sha256};

    /// A store holding a two-layer image: the second layer deletes, replaces and
    /// makes a directory opaque.
    fn two_layer_image(dir: &Path) -> (Store, Image) {
        let store = Store::open(&dir.join("store")).unwrap();
        let l1 = Layer::new()
            .dir("etc", 0o755)
            .file("etc/keep", b"1")
            .file("etc/gone", b"1")
            .file("etc/replaced", b"old")
            .dir("opaque", 0o755)
            .file("opaque/old", b"1")
            .symlink("lib", "usr/lib")
            .bytes();
        let l2 = Layer::new()
            .file("etc/.wh.gone", b"")
            .file("etc/replaced", b"new")
            .dir("opaque", 0o700)
            .file("opaque/.wh..wh..opq", b"")
            .file("opaque/new", b"2")
            .dir("lib", 0o755)
            .file("lib/in-dir", b"3")
            .bytes();
        let diffs: Vec<Digest> = [&l1, &l2].iter().map(|l| Digest::from_bytes(Sha256::digest(l).into())).collect();
        let chains = chain_ids(&diffs);
        let mut descs = vec![];
        for (i, l) in [l1, l2].into_iter().enumerate() {
            let r = LayerRef { digest: diffs[i], size: Some(l.len() as u64), diff_id: diffs[i], chain_id: chains[i] };
            let src =
                move || -> crate::Result<Box<dyn std::io::Read>> { Ok(Box::new(std::io::Cursor::new(l.clone()))) };
            ingest(&store, &r, &src, Default::default(), &|_| {}).unwrap();
            descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diffs[i].to_string(), "size": r.size}));
        }
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diffs.iter().map(|d| d.to_string()).collect::<Vec<_>>()}});
        let cb = serde_json::to_vec(&config).unwrap();
        let cd = store.blobs.put_bytes(&cb).unwrap();
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": crate::image::OCI_MANIFEST,
            "config": {"mediaType": crate::image::OCI_CONFIG, "digest": cd.to_string(), "size": cb.len()}, "layers": descs});
        let md = store.blobs.put_bytes(&serde_json::to_vec(&m).unwrap()).unwrap();
        let rec = store.add_image(&cd, &md, &["localhost/two:1".into()], None).unwrap();
        let img = store.load(&rec).unwrap();
        (store, img)
    }

    fn check(r: &Rootfs) {
        let p = &r.path;
        assert_eq!(std::fs::read(p.join("etc/keep")).unwrap(), b"1");
        assert!(std::fs::symlink_metadata(p.join("etc/gone")).is_err(), "whited out");
        assert_eq!(std::fs::read(p.join("etc/replaced")).unwrap(), b"new");
        assert!(!p.join("opaque/old").exists() && p.join("opaque/new").exists(), "opaque");
        assert_eq!(std::fs::metadata(p.join("opaque")).unwrap().mode() & 0o777, 0o700);
        assert!(std::fs::symlink_metadata(p.join("lib")).unwrap().is_dir(), "a directory above a symlink replaces it");
    }

    #[test]
    fn overlay_and_copy_show_the_same_tree() {
        let dir = tempdir("rootfs");
        let (store, img) = two_layer_image(&dir);
        let o = prepare(&store, &img, &dir.join("c1"), false).unwrap();
        assert_eq!(o.kind, Kind::Overlay);
        check(&o);
        // Writes land in the container's upper directory, never in a snapshot.
        std::fs::write(o.path.join("etc/keep"), b"changed").unwrap();
        assert_eq!(std::fs::read(dir.join("c1/upper/etc/keep")).unwrap(), b"changed");
        assert_eq!(std::fs::read(store.snapshot_path(&img.layers[0].chain_id).join("etc/keep")).unwrap(), b"1");
        let c = prepare(&store, &img, &dir.join("c2"), true).unwrap();
        assert_eq!(c.kind, Kind::Copy);
        check(&c);
        // A directory that exists (a running container's) is refused and left alone.
        assert!(prepare(&store, &img, &dir.join("c1"), false).is_err());
        assert_eq!(std::fs::read(o.path.join("etc/keep")).unwrap(), b"changed");
        release(&dir.join("c1")).unwrap();
        release(&dir.join("c2")).unwrap();
        assert!(!dir.join("c1").exists() && !dir.join("c2").exists());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(dir.to_str().unwrap()), "nothing left mounted");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn too_many_layers_for_one_mount_page_means_a_copy() {
        let lowers: Vec<PathBuf> =
            (0..120).map(|i| PathBuf::from(format!("/var/lib/hull/snapshots/{:064x}", i))).collect();
        assert!(overlay_options(&lowers, Path::new("/u"), Path::new("/w"), false).is_none());
        let o = overlay_options(&lowers[..3], Path::new("/u"), Path::new("/w"), false).unwrap();
        assert!(o.starts_with(&format!("lowerdir={}:", lowers[2].display())), "top layer first: {o}");
    }
}

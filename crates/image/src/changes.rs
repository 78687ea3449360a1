//! What a container changed in its root filesystem against its image's layers
//! (`hull diff`), and those changes as a layer (`hull commit`).
//!
//! On an overlay root the changes are what the upper directory holds: its whiteouts
//! are deletions, an opaque directory hides what the layers had in it, and everything
//! else is added or changed depending on whether the layers show that path. On a
//! copied root (rootless, or no overlay) the copy is compared with the layers: type,
//! mode, owner, size, modification time and link target. The layers are read as
//! overlay would show them (whiteouts and opaque directories honoured), top first.
//!
//! Paths the runtime itself creates as mount points (`/etc/hosts`, `/proc`, …) are
//! not the container's changes: they are left out, with the directories that changed
//! only to hold them, as Docker's init layer hides them.

use crate::container_root::{is_opaque, is_whiteout};
use crate::error::{io, sys, Result};
use crate::pack::Packer;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What happened to a path (`docker diff`'s A, C and D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

impl Kind {
    pub fn letter(self) -> char {
        match self {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        }
    }
}

/// One changed path, relative to the root (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub kind: Kind,
    /// The entry itself changed (not only something below it).
    own: bool,
}

/// The changes of the root filesystem prepared in `dir` (see [`crate::container_root`]) over
/// `lowers` (the image's snapshots, bottom first), sorted by path; `mount_points`
/// (relative paths) are left out. `recorded_owners`: the copy was made with the owners
/// a rootless unpack recorded ([`crate::unpack::OWNER_XATTR`]; only in the containers'
/// user namespace), so the layers' entries are compared with those owners.
pub fn changes(lowers: &[PathBuf], dir: &Path, mount_points: &[PathBuf], recorded_owners: bool) -> Result<Vec<Change>> {
    let lower = Lower { top_first: lowers.iter().rev().cloned().collect(), recorded_owners };
    let mut out = Vec::new();
    let upper = dir.join("upper");
    if upper.is_dir() {
        walk_upper(&upper, Path::new(""), &lower, false, &mut out)?;
    } else {
        walk_copy(&dir.join("merged"), Path::new(""), &lower, false, &mut out)?;
    }
    // Every changed path's parent directories count as changed, as Docker lists them.
    let listed: HashSet<PathBuf> = out.iter().map(|c| c.path.clone()).collect();
    let mut parents = BTreeSet::new();
    for c in &out {
        for a in c.path.ancestors().skip(1) {
            if !a.as_os_str().is_empty() && !listed.contains(a) {
                parents.insert(a.to_owned());
            }
        }
    }
    out.extend(parents.into_iter().map(|path| Change { path, kind: Kind::Changed, own: false }));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(without_mount_points(out, mount_points))
}

fn without_mount_points(changes: Vec<Change>, mount_points: &[PathBuf]) -> Vec<Change> {
    let skip: HashSet<&Path> = mount_points.iter().map(PathBuf::as_path).collect();
    let mut kept: Vec<Change> = changes.into_iter().filter(|c| !skip.contains(c.path.as_path())).collect();
    // Directories listed only because a mount point was made in them: dropped, deepest
    // first, when nothing below them is left.
    let holds_mount_point = |p: &Path| mount_points.iter().any(|m| m.starts_with(p) && m != p);
    loop {
        let before = kept.len();
        let paths: Vec<PathBuf> = kept.iter().map(|c| c.path.clone()).collect();
        kept.retain(|c| {
            let has_children = paths.iter().any(|p| p != &c.path && p.starts_with(&c.path));
            let stub_only = (c.kind == Kind::Added || !c.own) && holds_mount_point(&c.path);
            has_children || !stub_only
        });
        if kept.len() == before {
            return kept;
        }
    }
}

/// Writes `changes` of the root `merged` as a layer: changed and added entries as they
/// are now (with their parent directories), deletions as `.wh.NAME` whiteouts.
pub fn pack_changes(merged: &Path, changes: &[Change], out: &mut dyn Write) -> Result<()> {
    let root = nix::fcntl::open(merged, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(format!("open {}", merged.display())))?;
    let mut p = Packer::new(out, merged);
    let mut written: HashSet<PathBuf> = HashSet::new();
    for c in changes {
        let mut parents: Vec<&Path> =
            c.path.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty() && !written.contains(*a)).collect();
        parents.reverse();
        for a in parents {
            p.add_path(root.as_fd(), a, false)?;
            written.insert(a.to_owned());
        }
        match c.kind {
            Kind::Deleted => {
                let mut name = OsString::from(".wh.");
                name.push(c.path.file_name().unwrap_or_default());
                p.add_empty(&c.path.with_file_name(name))?;
            }
            Kind::Added | Kind::Changed => {
                if !written.contains(&c.path) {
                    p.add_path(root.as_fd(), &c.path, false)?;
                    written.insert(c.path.clone());
                }
            }
        }
    }
    p.finish()
}

fn lstat(p: &Path) -> Option<std::fs::Metadata> {
    std::fs::symlink_metadata(p).ok()
}

fn sorted_names(dir: &Path) -> Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .map_err(io(format!("list {}", dir.display())))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(io(format!("list {}", dir.display())))?;
    names.sort();
    Ok(names)
}

/// The image's layers as overlay shows them.
struct Lower {
    top_first: Vec<PathBuf>,
    recorded_owners: bool,
}

/// How a layer bears on the paths below `rel`'s parent.
enum Above {
    /// A whiteout or a non-directory on the way: nothing below shows.
    Hidden,
    /// An opaque directory on the way: layers further down do not show.
    Opaque,
    Open,
}

impl Lower {
    fn above(layer: &Path, rel: &Path) -> Above {
        let mut opaque = false;
        let mut ancestors: Vec<&Path> = rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).collect();
        ancestors.reverse();
        for a in ancestors {
            let p = layer.join(a);
            match lstat(&p) {
                Some(m) if m.is_dir() => opaque |= is_opaque(&p),
                Some(_) => return Above::Hidden,
                None => break,
            }
        }
        if opaque {
            Above::Opaque
        } else {
            Above::Open
        }
    }

    /// The metadata of `rel` as the layers show it, and the layer's path of it.
    fn lookup(&self, rel: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
        for layer in &self.top_first {
            let above = Self::above(layer, rel);
            if matches!(above, Above::Hidden) {
                return None;
            }
            let p = layer.join(rel);
            if let Some(m) = lstat(&p) {
                return if is_whiteout(&m) { None } else { Some((p, m)) };
            }
            if matches!(above, Above::Opaque) {
                return None;
            }
        }
        None
    }

    /// The names the layers show in the directory `rel`.
    fn list(&self, rel: &Path) -> BTreeSet<OsString> {
        let mut seen = BTreeSet::new();
        let mut hidden = HashSet::new();
        for layer in &self.top_first {
            let above = Self::above(layer, rel);
            if matches!(above, Above::Hidden) {
                break;
            }
            let p = layer.join(rel);
            match lstat(&p) {
                Some(m) if m.is_dir() => {
                    for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                        let n = e.file_name();
                        let wh = e.metadata().map(|m| is_whiteout(&m)).unwrap_or(false);
                        if wh {
                            hidden.insert(n);
                        } else if !hidden.contains(&n) {
                            seen.insert(n);
                        }
                    }
                    if is_opaque(&p) {
                        break;
                    }
                }
                Some(_) => break,
                None if matches!(above, Above::Opaque) => break,
                None => {}
            }
        }
        seen
    }
}

fn walk_upper(upper: &Path, rel: &Path, lower: &Lower, added: bool, out: &mut Vec<Change>) -> Result<()> {
    for name in sorted_names(&upper.join(rel))? {
        let p = rel.join(&name);
        let full = upper.join(&p);
        let Some(m) = lstat(&full) else { continue };
        let below = if added { None } else { lower.lookup(&p) };
        if is_whiteout(&m) {
            if below.is_some() {
                out.push(Change { path: p, kind: Kind::Deleted, own: true });
            }
            continue;
        }
        let Some((lp, lm)) = below else {
            out.push(Change { path: p.clone(), kind: Kind::Added, own: true });
            if m.is_dir() {
                walk_upper(upper, &p, lower, true, out)?;
            }
            continue;
        };
        let own = !m.is_dir() || !lm.is_dir() || !same_owner_and_mode(&m, &lm, &lp, lower.recorded_owners);
        out.push(Change { path: p.clone(), kind: Kind::Changed, own });
        if m.is_dir() {
            if lm.is_dir() && is_opaque(&full) {
                let here: HashSet<OsString> = sorted_names(&full)?.into_iter().collect();
                for n in lower.list(&p) {
                    if !here.contains(&n) {
                        out.push(Change { path: p.join(n), kind: Kind::Deleted, own: true });
                    }
                }
            }
            walk_upper(upper, &p, lower, !lm.is_dir() || is_opaque(&full), out)?;
        }
    }
    Ok(())
}

fn walk_copy(merged: &Path, rel: &Path, lower: &Lower, added: bool, out: &mut Vec<Change>) -> Result<()> {
    let names = sorted_names(&merged.join(rel))?;
    if !added {
        let here: HashSet<&OsString> = names.iter().collect();
        for n in lower.list(rel) {
            if !here.contains(&n) {
                out.push(Change { path: rel.join(n), kind: Kind::Deleted, own: true });
            }
        }
    }
    for name in names {
        let p = rel.join(&name);
        let full = merged.join(&p);
        let Some(m) = lstat(&full) else { continue };
        match if added { None } else { lower.lookup(&p) } {
            None => {
                out.push(Change { path: p.clone(), kind: Kind::Added, own: true });
                if m.is_dir() {
                    walk_copy(merged, &p, lower, true, out)?;
                }
            }
            Some((lp, lm)) => {
                if differs(&full, &m, &lp, &lm, lower.recorded_owners) {
                    out.push(Change { path: p.clone(), kind: Kind::Changed, own: true });
                }
                if m.is_dir() {
                    walk_copy(merged, &p, lower, !lm.is_dir(), out)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether an entry (`a`) has the mode and owner of the layers' (`b` at `bpath`): the
/// owner the copy gave it (see `rootfs::set_meta`), a rootless snapshot's recorded one
/// when `recorded` (the copy applied those).
fn same_owner_and_mode(a: &std::fs::Metadata, b: &std::fs::Metadata, bpath: &Path, recorded: bool) -> bool {
    let owner = if recorded { crate::container_root::recorded_owner(bpath) } else { None };
    a.mode() == b.mode() && (a.uid(), a.gid()) == owner.unwrap_or((b.uid(), b.gid()))
}

/// Whether an entry of the copy differs from the layers' (a directory: only its own
/// mode and owner, as its times follow its children).
fn differs(path: &Path, m: &std::fs::Metadata, lpath: &Path, lm: &std::fs::Metadata, recorded: bool) -> bool {
    if !same_owner_and_mode(m, lm, lpath, recorded) {
        return true;
    }
    if m.is_dir() {
        return false;
    }
    if m.len() != lm.len() || m.mtime() != lm.mtime() || m.mtime_nsec() != lm.mtime_nsec() || m.rdev() != lm.rdev() {
        return true;
    }
    m.file_type().is_symlink() && std::fs::read_link(path).ok() != std::fs::read_link(lpath).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::tests::{tempdir, Layer};

    fn listing(c: &[Change]) -> Vec<String> {
        c.iter().map(|c| format!("{} /{}", c.kind.letter(), c.path.display())).collect()
    }

    /// Two layers, then the same edits through an overlay and in a copy: both give the
    /// same changes, and the packed layer applied on top gives the edited tree.
    #[test]
    fn overlay_and_copy_agree() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test needs root (overlay mounts, whiteout device nodes)");
        }
        let t = tempdir("changes");
        let base = Layer::new()
            .dir("etc", 0o755)
            .file("etc/passwd", b"root")
            .file("etc/gone", b"x")
            .dir("var", 0o755)
            .dir("var/lib", 0o755);
        let top = Layer::new().dir("etc", 0o755).file("etc/.wh.nothing", b"").file("bin", b"sh");
        let snaps: Vec<PathBuf> = [("s0", base), ("s1", top)]
            .into_iter()
            .map(|(n, l)| {
                let p = t.join(n);
                std::fs::create_dir(&p).unwrap();
                crate::unpack::unpack(&l.bytes()[..], &p, Default::default()).unwrap();
                p
            })
            .collect();
        let edit = |root: &Path| {
            std::fs::write(root.join("etc/passwd"), b"root\napp").unwrap();
            std::fs::remove_file(root.join("etc/gone")).unwrap();
            std::fs::create_dir_all(root.join("new/deep")).unwrap();
            std::fs::write(root.join("new/deep/f"), b"1").unwrap();
            std::fs::write(root.join("etc/hostname"), b"").unwrap(); // a mount point stub
            std::fs::create_dir(root.join("proc")).unwrap(); // another
        };
        let mounts = [PathBuf::from("etc/hostname"), PathBuf::from("proc")];
        let mut results = Vec::new();
        for copy in [false, true] {
            let dir = t.join(if copy { "copy" } else { "overlay" });
            let store_like = Rootfs::prepare(&snaps, &dir, copy);
            edit(&dir.join("merged"));
            let c = changes(&snaps, &dir, &mounts, false).unwrap();
            // Apply the packed changes on a fresh copy of the layers: the same tree.
            let mut layer = Vec::new();
            pack_changes(&dir.join("merged"), &c, &mut layer).unwrap();
            let snap = t.join(format!("commit-{copy}"));
            std::fs::create_dir(&snap).unwrap();
            crate::unpack::unpack(&layer[..], &snap, Default::default()).unwrap();
            let check = t.join(format!("check-{copy}"));
            std::fs::create_dir(&check).unwrap();
            for s in snaps.iter().chain([&snap]) {
                crate::container_root::apply(s, &check, false).unwrap();
            }
            assert_eq!(std::fs::read(check.join("etc/passwd")).unwrap(), b"root\napp");
            assert!(
                !check.join("etc/gone").exists() && check.join("new/deep/f").exists() && check.join("bin").exists()
            );
            assert!(!check.join("etc/hostname").exists() && !check.join("proc").exists());
            drop(store_like);
            results.push(listing(&c));
        }
        let want = ["C /etc", "D /etc/gone", "C /etc/passwd", "A /new", "A /new/deep", "A /new/deep/f"];
        assert_eq!(results[0], want, "overlay");
        assert_eq!(results[1], want, "copy");
        std::fs::remove_dir_all(&t).unwrap();
    }

    /// A root prepared from snapshot directories, released on drop.
    struct Rootfs(PathBuf);

    impl Rootfs {
        fn prepare(lowers: &[PathBuf], dir: &Path, copy: bool) -> Rootfs {
            std::fs::create_dir(dir).unwrap();
            let merged = dir.join("merged");
            std::fs::create_dir(&merged).unwrap();
            if copy {
                for l in lowers {
                    crate::container_root::apply(l, &merged, false).unwrap();
                }
            } else {
                for d in ["upper", "work"] {
                    std::fs::create_dir(dir.join(d)).unwrap();
                }
                let opts = crate::container_root::overlay_options(lowers, &dir.join("upper"), &dir.join("work"), false)
                    .unwrap();
                nix::mount::mount(
                    Some("overlay"),
                    &merged,
                    Some("overlay"),
                    nix::mount::MsFlags::empty(),
                    Some(opts.as_str()),
                )
                .unwrap();
            }
            Rootfs(merged)
        }
    }

    impl Drop for Rootfs {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

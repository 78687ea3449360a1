//! Unpacking one layer (an uncompressed tar stream) into its own snapshot directory.
//!
//! Layers are untrusted. They are never handed to `tar::Archive::unpack`: every entry's
//! parent is opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from a
//! descriptor of the snapshot, so `..`, absolute names and symlinks (in the path or
//! planted by an earlier entry) all resolve inside it, and the entry itself is created
//! with *at calls relative to that parent without following its last component:
//! - names are cleaned (`./`, `/` and empty components dropped); a `..` component is
//!   refused, as Docker does;
//! - an entry that exists already is replaced (tar order: the last one wins), a
//!   directory only by removing it first, and never by writing through a symlink;
//! - hardlinks must name an entry of this layer, looked up inside the snapshot;
//! - xattrs that would forge overlayfs metadata (`trusted.overlay.*`, `user.overlay.*`)
//!   are dropped.
//!
//! Whiteouts become what overlayfs reads in a lower directory: `.wh.NAME` a 0:0
//! character device NAME, `.wh..wh..opq` the opaque xattr on its directory
//! (`trusted.overlay.opaque`, or `user.overlay.opaque` when rootless, for overlay's
//! `userxattr` option). Ownership, modes, times, xattrs, hardlinks, symlinks, fifos
//! and (as root) device nodes are kept; directory metadata is applied last, deepest
//! first, so later entries do not disturb it.
//!
//! Each layer is unpacked on its own, without its parents below it (so layers unpack
//! in parallel): a path that a lower layer made a symlink is a directory here, as in
//! every snapshotter that unpacks layers independently.

use crate::error::{format, io, sys, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where a rootless unpack keeps an entry's owner from the layer (`UID:GID`), as it
/// cannot chown: the copy made for a container in a user namespace applies it.
pub const OWNER_XATTR: &str = "user.hull.owner";

/// How to unpack.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Unpacking without privilege over the files' owners: ownership is not set, device
    /// nodes are skipped, the opaque marker is a `user.` xattr.
    pub rootless: bool,
    /// Ordinary files only (`hull cp`): `.wh.` names are kept as they are, not turned
    /// into whiteouts.
    pub plain: bool,
    /// Every entry gets this owner instead of the one in the tar (`hull cp` without -a).
    pub owner: Option<(u32, u32)>,
    /// Device nodes are skipped (`hull cp` out of a container onto the host).
    pub no_devices: bool,
}

/// What an unpack did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    pub bytes: u64,
    pub whiteouts: u64,
    /// Device nodes skipped because the unpack is rootless.
    pub skipped_devices: u64,
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Unpacks the tar stream `r` into the directory `dest` (which should be empty).
/// The stream is read to its end, so a hashing reader under it sees every byte.
pub fn unpack(r: impl Read, dest: &Path, opts: Options) -> Result<Stats> {
    unpack_renamed(r, dest, opts, None)
}

/// [`unpack`], with the first component of every name (and hardlink target) that is
/// `from` renamed to `to`, or dropped when `to` is empty: `hull cp` copies `dir` as
/// `other` or as its contents this way.
pub fn unpack_renamed(r: impl Read, dest: &Path, opts: Options, rename: Option<(&[u8], &[u8])>) -> Result<Stats> {
    let root = nix::fcntl::open(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(format!("open {}", dest.display())))?;
    unpack_renamed_at(r, root, dest, opts, rename)
}

/// [`unpack_renamed`] into the directory `root` (a descriptor the caller resolved
/// safely); `dest` names it in errors.
pub fn unpack_renamed_at(
    r: impl Read,
    root: OwnedFd,
    dest: &Path,
    opts: Options,
    rename: Option<(&[u8], &[u8])>,
) -> Result<Stats> {
    let mut u = Unpacker {
        root,
        dest,
        opts,
        stats: Stats::default(),
        dirs: Vec::new(),
        parent: None,
        stale: false,
        buf: vec![0; 256 * 1024],
        rename,
    };
    let mut archive = tar::Archive::new(r);
    let entries = archive.entries().map_err(|e| format(format!("layer for {}", dest.display()), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format(format!("layer for {}", dest.display()), e))?;
        u.entry(&mut entry)?;
        u.stats.entries += 1;
    }
    u.finish_dirs()?;
    // Read the end-of-archive blocks and anything after them.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(io("read the end of the layer"))?;
    Ok(u.stats)
}

struct Unpacker<'a> {
    root: OwnedFd,
    dest: &'a Path,
    opts: Options,
    stats: Stats,
    /// Directories whose metadata is applied at the end.
    dirs: Vec<(Vec<u8>, DirMeta)>,
    /// The last parent opened, reused while entries stay in one directory; forgotten
    /// whenever an entry removes something or makes a symlink (`stale`).
    parent: Option<(Vec<u8>, OwnedFd)>,
    stale: bool,
    buf: Vec<u8>,
    rename: Option<(&'a [u8], &'a [u8])>,
}

#[derive(Clone, Copy)]
struct DirMeta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

/// The cleaned components of an entry name; `..` is refused.
fn clean(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("the name contains \"..\"".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn hostile(entry: &[u8], why: impl Into<String>) -> Error {
    Error::Hostile { entry: String::from_utf8_lossy(entry).into_owned(), why: why.into() }
}

/// Applies `rename` (see [`unpack_renamed`]) to cleaned components.
fn renamed<'x>(mut comps: Vec<&'x [u8]>, rename: Option<(&'x [u8], &'x [u8])>) -> Vec<&'x [u8]> {
    if let Some((from, to)) = rename {
        if comps.first() == Some(&from) {
            if to.is_empty() {
                comps.remove(0);
            } else {
                comps[0] = to;
            }
        }
    }
    comps
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let comps = renamed(clean(&raw).map_err(|why| hostile(&raw, why))?, self.rename);
        let Some((leaf, parents)) = comps.split_last() else {
            return Ok(()); // the layer's root itself: the snapshot directory keeps its own
        };
        let leaf = leaf.to_vec();
        let parent_path = parents.join(&b'/');
        let kind = entry.header().entry_type();
        if leaf.starts_with(WHITEOUT_PREFIX) && !self.opts.plain {
            return self.whiteout(&raw, &parent_path, &leaf);
        }
        let h = entry.header();
        // An empty numeric field reads as 0, as Go's archive/tar (Docker) reads it.
        let old = h.as_old();
        let num = |field: &[u8], v: std::io::Result<u64>| match v {
            Ok(v) => Ok(v),
            Err(_) if field.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
            Err(e) => Err(hostile(&raw, e.to_string())),
        };
        let mut meta = DirMeta {
            mode: num(&old.mode, h.mode().map(u64::from))? as u32 & 0o7777,
            uid: num(&old.uid, h.uid())? as u32,
            gid: num(&old.gid, h.gid())? as u32,
            mtime: num(&old.mtime, h.mtime())? as i64,
        };
        if let Some((uid, gid)) = self.opts.owner {
            (meta.uid, meta.gid) = (uid, gid);
        }
        let xattrs = xattrs_of(entry, self.opts)?;
        let parent = self.take_parent(&raw, &parent_path)?;
        let p = parent.as_fd();
        let name = os(&leaf);
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let existing = lstat_kind(p, name);
                if existing != Some(SFlag::S_IFDIR) {
                    if existing.is_some() {
                        self.remove(p, name, &raw)?;
                    }
                    mkdirat(p, name, Mode::from_bits_truncate(0o700)).map_err(sys(self.what(&raw, "mkdir")))?;
                }
                if !xattrs.is_empty() {
                    let d = openat(
                        p,
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(sys(self.what(&raw, "open")))?;
                    set_xattrs(d.as_fd(), &xattrs, &raw)?;
                }
                let mut path = parent_path.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(&leaf);
                self.dirs.push((path, meta));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.clear(p, name, &raw)?;
                let f = openat(
                    p,
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(sys(self.what(&raw, "create")))?;
                let mut file = std::fs::File::from(f);
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(format(format!("layer entry {:?}", String::from_utf8_lossy(&raw)), e)),
                    };
                    file.write_all(&self.buf[..n]).map_err(io(self.what(&raw, "write")))?;
                    self.stats.bytes += n as u64;
                }
                self.own(file.as_fd(), &meta, &raw)?;
                set_xattrs(file.as_fd(), &xattrs, &raw)?;
                let t = TimeSpec::new(meta.mtime, 0);
                nix::sys::stat::futimens(file.as_fd(), &t, &t).map_err(sys(self.what(&raw, "set the times of")))?;
            }
            T::Symlink => {
                let target =
                    entry.link_name_bytes().ok_or_else(|| hostile(&raw, "a symlink without a target"))?.into_owned();
                self.clear(p, name, &raw)?;
                symlinkat(os(&target), p, name).map_err(sys(self.what(&raw, "symlink")))?;
                self.own_at(p, name, &meta, false, &raw)?;
                self.stale = true;
            }
            T::Link => {
                let target =
                    entry.link_name_bytes().ok_or_else(|| hostile(&raw, "a hardlink without a target"))?.into_owned();
                let tcomps = renamed(
                    clean(&target).map_err(|why| hostile(&raw, format!("hardlink target: {why}")))?,
                    self.rename,
                );
                let Some((tleaf, tparents)) = tcomps.split_last() else {
                    return Err(hostile(&raw, "a hardlink to the layer's root"));
                };
                if tcomps == comps {
                    return Err(hostile(&raw, "a hardlink to itself"));
                }
                let tparent =
                    self.open_in_root(&tparents.join(&b'/'), OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(|e| {
                        hostile(
                            &raw,
                            format!("hardlink target {:?} is not in this layer: {e}", String::from_utf8_lossy(&target)),
                        )
                    })?;
                if lstat_kind(tparent.as_fd(), os(tleaf)).is_none() {
                    return Err(hostile(
                        &raw,
                        format!("hardlink target {:?} is not in this layer", String::from_utf8_lossy(&target)),
                    ));
                }
                self.clear(p, name, &raw)?;
                linkat(tparent.as_fd(), os(tleaf), p, name, AtFlags::empty())
                    .map_err(sys(self.what(&raw, "hardlink")))?;
            }
            T::Char | T::Block | T::Fifo => {
                let (sflag, dev) = match kind {
                    T::Fifo => (SFlag::S_IFIFO, 0),
                    _ => {
                        if self.opts.rootless || self.opts.no_devices {
                            self.stats.skipped_devices += 1;
                            return Ok(());
                        }
                        let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                        let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                        let s = if kind == T::Char { SFlag::S_IFCHR } else { SFlag::S_IFBLK };
                        (s, nix::sys::stat::makedev(major.into(), minor.into()))
                    }
                };
                self.clear(p, name, &raw)?;
                mknodat(p, name, sflag, Mode::from_bits_truncate(0o600), dev).map_err(sys(self.what(&raw, "mknod")))?;
                self.own_at(p, name, &meta, true, &raw)?;
            }
            // PAX and GNU long-name headers are consumed by the tar reader; anything
            // else (global headers, volume labels) carries no file.
            _ => {}
        }
        self.keep_parent(parent_path, parent);
        Ok(())
    }

    fn whiteout(&mut self, raw: &[u8], parent_path: &[u8], leaf: &[u8]) -> Result<()> {
        let parent = self.take_parent(raw, parent_path)?;
        if leaf == OPAQUE_MARKER {
            let d = self
                .open_in_root(parent_path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(sys(self.what(raw, "open")))?;
            let name = if self.opts.rootless { "user.overlay.opaque" } else { "trusted.overlay.opaque" };
            fsetxattr(d.as_fd(), name, b"y")
                .map_err(|e| Error::Io { what: self.what(raw, "mark opaque"), source: e })?;
        } else if leaf.starts_with(b".wh..wh.") {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing for overlay.
            return Ok(());
        } else {
            let target = &leaf[WHITEOUT_PREFIX.len()..];
            if matches!(target, b"" | b"." | b"..") {
                return Err(hostile(raw, "a whiteout of no name"));
            }
            let p = parent.as_fd();
            self.clear(p, os(target), raw)?;
            mknodat(p, os(target), SFlag::S_IFCHR, Mode::empty(), 0)
                .map_err(sys(self.what(raw, "make the whiteout")))?;
        }
        self.stats.whiteouts += 1;
        self.keep_parent(parent_path.to_vec(), parent);
        Ok(())
    }

    /// The parent directory of an entry, made (mode 0755, root-owned) where the layer
    /// does not list it.
    fn take_parent(&mut self, raw: &[u8], path: &[u8]) -> Result<OwnedFd> {
        self.stale = false;
        match self.parent.take() {
            Some((p, fd)) if p == path => Ok(fd),
            _ => self.mkdir_all(raw, path),
        }
    }

    /// Keeps the entry's parent for the next entry unless the entry removed something
    /// or made a symlink (the path might now resolve elsewhere).
    fn keep_parent(&mut self, path: Vec<u8>, fd: OwnedFd) {
        if !self.stale {
            self.parent = Some((path, fd));
        }
    }

    fn open_in_root(&self, path: &[u8], flags: OFlag) -> nix::Result<OwnedFd> {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.root.as_fd(), os(path), how)
    }

    fn mkdir_all(&self, raw: &[u8], path: &[u8]) -> Result<OwnedFd> {
        self.mkdir_all_depth(raw, path, 0)
    }

    fn mkdir_all_depth(&self, raw: &[u8], path: &[u8], depth: u32) -> Result<OwnedFd> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        match self.open_in_root(path, flags) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(Errno::ENOTDIR) => return Err(hostile(raw, "a parent is not a directory")),
            Err(e) => return Err(sys(self.what(raw, "open the parent of"))(e)),
        }
        if depth > 40 {
            return Err(hostile(raw, "too many levels of symbolic links in its parents"));
        }
        let mut cur = self.open_in_root(b"", flags).map_err(sys(format!("open {}", self.dest.display())))?;
        let mut sofar: Vec<u8> = Vec::new();
        for comp in path.split(|b| *b == b'/') {
            let parent_len = sofar.len();
            if !sofar.is_empty() {
                sofar.push(b'/');
            }
            sofar.extend_from_slice(comp);
            match self.open_in_root(&sofar, flags) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(Errno::ENOTDIR) => return Err(hostile(raw, "a parent is not a directory")),
                Err(e) => return Err(sys(self.what(raw, "open the parent of"))(e)),
            }
            if lstat_kind(cur.as_fd(), os(comp)) == Some(SFlag::S_IFLNK) {
                // A dangling symlink: make its target, resolved inside the snapshot as
                // openat2 will resolve it.
                let target =
                    nix::fcntl::readlinkat(cur.as_fd(), os(comp)).map_err(sys(self.what(raw, "read a parent of")))?;
                let mut resolved: Vec<&[u8]> = Vec::new();
                if !target.as_bytes().starts_with(b"/") {
                    resolved.extend(sofar[..parent_len].split(|b| *b == b'/').filter(|c| !c.is_empty()));
                }
                for c in target.as_bytes().split(|b| *b == b'/') {
                    match c {
                        b"" | b"." => {}
                        b".." => {
                            resolved.pop();
                        }
                        c => resolved.push(c),
                    }
                }
                self.mkdir_all_depth(raw, &resolved.join(&b'/'), depth + 1)?;
            } else {
                match mkdirat(cur.as_fd(), os(comp), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(sys(self.what(raw, "make the parents of"))(e)),
                }
            }
            cur = self.open_in_root(&sofar, flags).map_err(|e| match e {
                Errno::ENOENT | Errno::ENOTDIR => hostile(raw, "a parent is not a directory"),
                e => sys(self.what(raw, "open the parent of"))(e),
            })?;
        }
        Ok(cur)
    }

    /// Removes whatever is at `name` (the tar's last entry wins).
    fn clear(&mut self, p: BorrowedFd, name: &OsStr, raw: &[u8]) -> Result<()> {
        if lstat_kind(p, name).is_some() {
            self.remove(p, name, raw)?;
        }
        Ok(())
    }

    fn remove(&mut self, p: BorrowedFd, name: &OsStr, raw: &[u8]) -> Result<()> {
        crate::tree::remove_all_at(p, name).map_err(sys(self.what(raw, "replace")))?;
        self.stale = true;
        Ok(())
    }

    /// Owner, mode (`chmod`: not for symlinks, which have none) and times of `name`
    /// under `p`, which this entry has just made, without following it.
    fn own_at(&self, p: BorrowedFd, name: &OsStr, meta: &DirMeta, chmod: bool, raw: &[u8]) -> Result<()> {
        if !self.opts.rootless {
            let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
            fchownat(p, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(sys(self.what(raw, "chown")))?;
        }
        if chmod {
            // A device node or fifo just made here, not a symlink: following is moot,
            // and the non-following form would need /proc or fchmodat2.
            fchmodat(p, name, Mode::from_bits_truncate(meta.mode), FchmodatFlags::FollowSymlink)
                .map_err(sys(self.what(raw, "chmod")))?;
        }
        let t = TimeSpec::new(meta.mtime, 0);
        utimensat(p, name, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(sys(self.what(raw, "set the times of")))
    }

    fn own(&self, fd: BorrowedFd, meta: &DirMeta, raw: &[u8]) -> Result<()> {
        if !self.opts.rootless {
            fchown(fd, Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)))
                .map_err(sys(self.what(raw, "chown")))?;
        } else if (meta.uid, meta.gid) != (0, 0) && self.opts.owner.is_none() && !self.opts.plain {
            // Kept for the copy a container gets in a user namespace (symlinks and
            // special files cannot hold a user xattr: they stay the user's).
            let owner = format!("{}:{}", meta.uid, meta.gid);
            match fsetxattr(fd, OWNER_XATTR, owner.as_bytes()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => {}
                Err(e) => return Err(io(self.what(raw, "record the owner of"))(e)),
            }
        }
        // After chown, which clears set-id bits.
        fchmod(fd, Mode::from_bits_truncate(meta.mode)).map_err(sys(self.what(raw, "chmod")))
    }

    fn finish_dirs(&mut self) -> Result<()> {
        self.parent = None;
        let dirs = std::mem::take(&mut self.dirs);
        // Deepest first; for a path listed twice the last entry wins.
        let mut order: Vec<&(Vec<u8>, DirMeta)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for d in dirs.iter().rev() {
            if seen.insert(d.0.as_slice()) {
                order.push(d);
            }
        }
        order.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|b| **b == b'/').count()));
        for (path, meta) in order {
            // A later entry may have replaced the directory with something else.
            let d = match self.open_in_root(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW) {
                Ok(d) => d,
                Err(Errno::ENOTDIR | Errno::ELOOP | Errno::ENOENT) => continue,
                Err(e) => return Err(sys(self.what(path, "open"))(e)),
            };
            self.own(d.as_fd(), meta, path)?;
            let t = TimeSpec::new(meta.mtime, 0);
            nix::sys::stat::futimens(d.as_fd(), &t, &t).map_err(sys(self.what(path, "set the times of")))?;
        }
        Ok(())
    }

    fn what(&self, raw: &[u8], verb: &str) -> String {
        let mut p = PathBuf::from(self.dest);
        p.push(Path::new(os(raw)).strip_prefix("/").unwrap_or(Path::new(os(raw))));
        format!("{verb} {}", p.display())
    }
}

/// The file type at `name` under `p`, without following a symlink.
fn lstat_kind(p: BorrowedFd, name: &OsStr) -> Option<SFlag> {
    fstatat(p, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

type Xattrs = Vec<(CString, Vec<u8>)>;

/// The entry's PAX `SCHILY.xattr.*` records that may be applied.
fn xattrs_of<R: Read>(entry: &mut tar::Entry<R>, opts: Options) -> Result<Xattrs> {
    let mut out = Vec::new();
    let Some(exts) = entry.pax_extensions().map_err(|e| format("a layer's PAX header", e))? else {
        return Ok(out);
    };
    for ext in exts {
        let ext = ext.map_err(|e| format("a layer's PAX header", e))?;
        let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else { continue };
        let allowed = if opts.rootless {
            name.starts_with(b"user.")
        } else {
            [&b"user."[..], b"security.", b"trusted.", b"system."].iter().any(|p| name.starts_with(p))
        };
        let forged = name.starts_with(b"trusted.overlay.")
            || name.starts_with(b"user.overlay.")
            || name.starts_with(OWNER_XATTR.as_bytes());
        if allowed && !forged {
            if let Ok(n) = CString::new(name) {
                out.push((n, ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn set_xattrs(fd: BorrowedFd, xattrs: &Xattrs, raw: &[u8]) -> Result<()> {
    for (name, value) in xattrs {
        match fsetxattr_c(fd, name, value) {
            Ok(()) => {}
            // A filesystem without that namespace: as Docker, the layer still applies.
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => {}
            Err(source) => {
                return Err(Error::Io {
                    what: format!("set xattr {name:?} on layer entry {:?}", String::from_utf8_lossy(raw)),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// fsetxattr(2): not in nix.
pub(crate) fn fsetxattr(fd: BorrowedFd, name: &str, value: &[u8]) -> std::io::Result<()> {
    fsetxattr_c(fd, &CString::new(name).expect("no NUL in xattr names"), value)
}

fn fsetxattr_c(fd: BorrowedFd, name: &CString, value: &[u8]) -> std::io::Result<()> {
    // SAFETY: fd is a live descriptor, name is NUL-terminated, value is a valid slice.
    let r = unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    /// A tar writer that puts any bytes in a name, as a hostile layer would.
    pub(crate) struct Layer(tar::Builder<Vec<u8>>);

    impl Layer {
        pub(crate) fn new() -> Layer {
            Layer(tar::Builder::new(Vec::new()))
        }

        fn header(kind: tar::EntryType, name: &[u8], mode: u32) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_000_000_000);
            h.set_size(0);
            let n = &mut h.as_old_mut().name;
            n.fill(0);
            n[..name.len()].copy_from_slice(name);
            h
        }

        fn put(&mut self, mut h: tar::Header, data: &[u8]) {
            h.set_cksum();
            self.0.append(&h, data).unwrap();
        }

        pub(crate) fn file(mut self, name: &str, data: &[u8]) -> Layer {
            let mut h = Self::header(tar::EntryType::Regular, name.as_bytes(), 0o644);
            h.set_size(data.len() as u64);
            self.put(h, data);
            self
        }

        pub(crate) fn file_owned(mut self, name: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Layer {
            let mut h = Self::header(tar::EntryType::Regular, name.as_bytes(), mode);
            h.set_size(data.len() as u64);
            h.set_uid(uid);
            h.set_gid(gid);
            self.put(h, data);
            self
        }

        pub(crate) fn dir(mut self, name: &str, mode: u32) -> Layer {
            self.put(Self::header(tar::EntryType::Directory, name.as_bytes(), mode), b"");
            self
        }

        fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> Layer {
            let mut h = Self::header(kind, name.as_bytes(), 0o777);
            let l = &mut h.as_old_mut().linkname;
            l.fill(0);
            l[..target.len()].copy_from_slice(target.as_bytes());
            self.put(h, b"");
            self
        }

        pub(crate) fn symlink(self, name: &str, target: &str) -> Layer {
            self.link(tar::EntryType::Symlink, name, target)
        }

        pub(crate) fn hardlink(self, name: &str, target: &str) -> Layer {
            self.link(tar::EntryType::Link, name, target)
        }

        fn node(mut self, kind: tar::EntryType, name: &str, major: u32, minor: u32) -> Layer {
            let mut h = Self::header(kind, name.as_bytes(), 0o640);
            h.set_device_major(major).unwrap();
            h.set_device_minor(minor).unwrap();
            self.put(h, b"");
            self
        }

        fn xattr_file(mut self, name: &str, xattrs: &[(&str, &[u8])]) -> Layer {
            let recs: Vec<(String, &[u8])> = xattrs.iter().map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v)).collect();
            self.0.append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), *v))).unwrap();
            self.file(name, b"x")
        }

        pub(crate) fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    pub(crate) fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hull-unpack-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn unpack_into(name: &str, layer: Layer) -> (PathBuf, Result<Stats>) {
        let dir = tempdir(name);
        let dest = dir.join("snap");
        std::fs::create_dir(&dest).unwrap();
        let r = unpack(&layer.bytes()[..], &dest, Options::default());
        (dir, r)
    }

    fn hostile_why(r: Result<Stats>) -> String {
        match r {
            Err(Error::Hostile { why, .. }) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Whether files in `dir` can hold `user.` xattrs (tmpfs cannot before Linux 6.6).
    fn user_xattrs(dir: &Path) -> bool {
        let f = std::fs::File::create(dir.join("probe")).unwrap();
        let ok = fsetxattr(f.as_fd(), "user.probe", b"1").is_ok();
        std::fs::remove_file(dir.join("probe")).unwrap();
        ok
    }

    /// Rootless (as root here, with `rootless` set): owners are not set but recorded
    /// for the copy a container gets in a user namespace; a layer cannot forge the
    /// record; a copy made by root applies it. Where the filesystem has no user xattrs
    /// (the test VM's tmpfs) the unpack still succeeds and nothing is recorded.
    #[test]
    fn a_rootless_unpack_records_owners_that_a_copy_applies() {
        let layer = Layer::new()
            .dir("home/app", 0o750)
            .file_owned("home/app/f", b"x", 0o4755, 1234, 2345)
            .file("root-file", b"r")
            .xattr_file("forged", &[("user.hull.owner", b"7:7")]);
        let dir = tempdir("rootless-owners");
        let snap = dir.join("snap");
        std::fs::create_dir(&snap).unwrap();
        unpack(&layer.bytes()[..], &snap, Options { rootless: true, ..Default::default() }).unwrap();
        let me = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        let m = std::fs::metadata(snap.join("home/app/f")).unwrap();
        assert_eq!((m.uid(), m.gid()), me, "not chowned");
        if !user_xattrs(&dir) {
            assert_eq!(crate::container_root::recorded_owner(&snap.join("home/app/f")), None);
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        assert_eq!(crate::container_root::recorded_owner(&snap.join("home/app/f")), Some((1234, 2345)));
        assert_eq!(
            crate::container_root::recorded_owner(&snap.join("root-file")),
            None,
            "root's entries need no record"
        );
        assert_eq!(
            crate::container_root::recorded_owner(&snap.join("forged")),
            None,
            "a layer's own record is dropped"
        );
        let dest = dir.join("copy");
        std::fs::create_dir(&dest).unwrap();
        crate::container_root::apply(&snap, &dest, true).unwrap();
        let m = std::fs::metadata(dest.join("home/app/f")).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 2345, 0o4755), "set-id bits survive the chown");
        assert_eq!(xattr(&dest.join("home/app/f"), OWNER_XATTR), None, "the record stays behind");
        // Anyone may set a user xattr on their own files: a copy not made in the
        // containers' user namespace ignores the record.
        let plain = dir.join("plain-copy");
        std::fs::create_dir(&plain).unwrap();
        crate::container_root::apply(&snap, &plain, false).unwrap();
        let m = std::fs::metadata(plain.join("home/app/f")).unwrap();
        assert_eq!((m.uid(), m.gid()), me, "a recorded owner is not honoured outside the helper");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keeps_files_modes_owners_times_links_and_nodes() {
        let layer = Layer::new()
            .dir("etc", 0o755)
            .file_owned("etc/shadow", b"secret", 0o4640, 0, 42)
            .dir("home/user", 0o700)
            .file_owned("home/user/f", b"hello", 0o600, 1000, 1000)
            .symlink("bin", "usr/bin")
            .hardlink("etc/shadow.hl", "etc/shadow")
            .node(tar::EntryType::Fifo, "run/fifo", 0, 0)
            .node(tar::EntryType::Char, "dev/null", 1, 3)
            .xattr_file(
                "cap",
                &[
                    (
                        "security.capability",
                        b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                    ),
                    ("trusted.overlay.redirect", b"/etc"),
                ],
            );
        let (dir, r) = unpack_into("keeps", layer);
        let s = r.unwrap();
        assert_eq!(s.entries, 9);
        let d = dir.join("snap");
        let m = std::fs::metadata(d.join("etc/shadow")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid(), m.mtime(), m.nlink()), (0o4640, 0, 42, 1_000_000_000, 2));
        assert_eq!(std::fs::read(d.join("etc/shadow.hl")).unwrap(), b"secret");
        let m = std::fs::metadata(d.join("home/user")).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.mtime()),
            (0o700, 1_000_000_000),
            "directory metadata applied after its entries"
        );
        assert_eq!(std::fs::metadata(d.join("home/user/f")).unwrap().uid(), 1000);
        assert_eq!(std::fs::read_link(d.join("bin")).unwrap(), Path::new("usr/bin"));
        assert!(std::fs::symlink_metadata(d.join("run/fifo")).unwrap().file_type().is_fifo());
        let m = std::fs::symlink_metadata(d.join("dev/null")).unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(1, 3));
        assert_eq!(std::fs::metadata(d.join("run")).unwrap().permissions().mode() & 0o777, 0o755, "implied parents");
        let caps = xattr(&d.join("cap"), "security.capability");
        assert_eq!(caps.as_deref().map(|c| c.len()), Some(20), "file capabilities kept");
        assert_eq!(xattr(&d.join("cap"), "trusted.overlay.redirect"), None, "overlay metadata from a layer is dropped");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    pub(crate) fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: valid C strings and buffer.
        let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        (r >= 0).then(|| buf[..r as usize].to_vec())
    }

    /// `hull cp`: plain files (no whiteouts), one owner, the top name renamed or dropped.
    #[test]
    fn plain_renamed_and_owned() {
        let layer = || {
            Layer::new()
                .dir("src", 0o755)
                .file_owned("src/.wh.kept", b"k", 0o640, 7, 8)
                .file("src/f", b"f")
                .hardlink("src/h", "src/f")
        };
        let dir = tempdir("plain");
        let opts = Options { plain: true, owner: Some((3, 4)), no_devices: true, ..Default::default() };
        unpack_renamed(&layer().bytes()[..], &dir, opts, Some((b"src", b"dest"))).unwrap();
        let kept = dir.join("dest/.wh.kept");
        assert_eq!(std::fs::read(&kept).unwrap(), b"k");
        let m = std::fs::metadata(&kept).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (3, 4, 0o640));
        assert_eq!(
            std::fs::metadata(dir.join("dest/h")).unwrap().ino(),
            std::fs::metadata(dir.join("dest/f")).unwrap().ino()
        );
        // Dropped: the contents land in the directory itself.
        let dir2 = tempdir("plain-contents");
        unpack_renamed(&layer().bytes()[..], &dir2, opts, Some((b"src", b""))).unwrap();
        assert!(dir2.join("f").exists() && dir2.join("h").exists() && dir2.join(".wh.kept").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&dir2).unwrap();
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let layer = Layer::new()
            .file("a/.wh.gone", b"")
            .dir("b", 0o755)
            .file("b/.wh..wh..opq", b"")
            .file("b/kept", b"k")
            .file(".wh..wh.plnk", b"");
        let (dir, r) = unpack_into("whiteouts", layer);
        assert_eq!(r.unwrap().whiteouts, 2);
        let d = dir.join("snap");
        let m = std::fs::symlink_metadata(d.join("a/gone")).unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == 0);
        assert!(!d.join("a/.wh.gone").exists());
        assert_eq!(xattr(&d.join("b"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
        assert!(d.join("b/kept").exists() && !d.join(".wh..wh.plnk").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dot_dot_is_refused() {
        let (dir, r) = unpack_into("dotdot", Layer::new().file("../escaped", b"x"));
        assert!(hostile_why(r).contains(".."));
        assert!(!dir.join("escaped").exists());
        let (dir2, r) = unpack_into("dotdot2", Layer::new().file("a/../../escaped", b"x"));
        assert!(hostile_why(r).contains(".."));
        assert!(!dir2.join("escaped").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&dir2).unwrap();
    }

    #[test]
    fn absolute_names_are_confined() {
        let (dir, r) = unpack_into("abs", Layer::new().file("/tmp/hull-abs-escape", b"x"));
        r.unwrap();
        assert!(dir.join("snap/tmp/hull-abs-escape").exists());
        assert!(!Path::new("/tmp/hull-abs-escape").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_pointing_out_is_not_written_through() {
        let outside = tempdir("symlink-outside");
        let o = outside.display().to_string();
        let layer = Layer::new()
            .symlink("out", &o) // absolute, to a real directory outside
            .file("out/planted", b"x")
            .symlink("rel", "../../../../../../../../../../..")
            .file("rel/tmp/planted2", b"x")
            .symlink("leaf", &format!("{o}/victim"))
            .file("leaf", b"replaced") // the leaf symlink is replaced, not followed
            .symlink("loop", "loop")
            .symlink("l1", "l2")
            .symlink("l2", "l1");
        std::fs::write(outside.join("victim"), b"untouched").unwrap();
        let (dir, r) = unpack_into("symlink", layer);
        r.unwrap();
        let d = dir.join("snap");
        assert!(!outside.join("planted").exists());
        assert!(d.join(o.trim_start_matches('/')).join("planted").exists(), "confined under the snapshot");
        assert!(d.join("tmp/planted2").exists() && !Path::new("/tmp/planted2").exists());
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"untouched");
        assert_eq!(std::fs::read(d.join("leaf")).unwrap(), b"replaced");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
        // Symlink loops in a parent are refused, not followed forever.
        let (dir, r) = unpack_into("loops", Layer::new().symlink("l1", "l2").symlink("l2", "l1").file("l1/x", b"x"));
        assert!(r.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hardlink_to_outside_is_refused() {
        let before = std::fs::metadata("/etc/passwd").unwrap().nlink();
        for (i, layer) in [
            Layer::new().hardlink("pw", "/etc/passwd"),
            Layer::new().hardlink("pw", "../../../../../../etc/passwd"),
            Layer::new().symlink("e", "/etc").hardlink("pw", "e/passwd"),
        ]
        .into_iter()
        .enumerate()
        {
            let (dir, r) = unpack_into(&format!("hardlink{i}"), layer);
            let why = hostile_why(r);
            assert!(why.contains("not in this layer") || why.contains(".."), "{why}");
            assert!(!dir.join("snap/pw").exists());
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert_eq!(std::fs::metadata("/etc/passwd").unwrap().nlink(), before);
    }

    #[test]
    fn duplicate_and_conflicting_entries_last_one_wins() {
        let layer = Layer::new()
            .file("f", b"first")
            .file("f", b"second")
            .dir("d", 0o755)
            .file("d/inner", b"x")
            .file("d", b"now a file")
            .file("g", b"a file")
            .dir("g", 0o700)
            .file("g/inner", b"y")
            .symlink("s", "/etc")
            .dir("s", 0o755)
            .file("s/in-dir", b"z");
        let (dir, r) = unpack_into("dups", layer);
        r.unwrap();
        let d = dir.join("snap");
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"second");
        assert_eq!(std::fs::read(d.join("d")).unwrap(), b"now a file");
        assert!(std::fs::symlink_metadata(d.join("g")).unwrap().is_dir());
        assert_eq!(std::fs::read(d.join("g/inner")).unwrap(), b"y");
        assert!(std::fs::symlink_metadata(d.join("s")).unwrap().is_dir(), "the symlink was replaced by the directory");
        assert!(d.join("s/in-dir").exists() && !Path::new("/etc/in-dir").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_under_a_file_is_refused_a_dangling_parent_link_confined() {
        let (dir, r) = unpack_into("notdir", Layer::new().file("f", b"x").file("f/g", b"y"));
        assert!(hostile_why(r).contains("not a directory"));
        std::fs::remove_dir_all(&dir).unwrap();
        let (dir, r) = unpack_into("dangling", Layer::new().symlink("d", "/nonexistent-hull").file("d/g", b"y"));
        // The dangling link resolves inside the snapshot: its target is made there.
        r.unwrap();
        assert!(dir.join("snap/nonexistent-hull/g").exists());
        assert!(!Path::new("/nonexistent-hull").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_is_a_format_error() {
        let dir = tempdir("garbage");
        let mut junk = vec![0x41u8; 1024];
        junk[0] = b'x';
        let r = unpack(&junk[..], &dir, Options::default());
        assert!(matches!(r, Err(Error::Format { .. })), "{r:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

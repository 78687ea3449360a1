//! Packing files into a tar stream: a directory's contents (`hull import` of a
//! directory, `hull export`), one file or tree under a chosen name (`hull cp`), and
//! single entries and whiteouts (`hull commit`, from the changes of a container).
//!
//! Sorted names for reproducible output, numeric owners, modes and times kept,
//! hardlinks written once and linked (the tar crate's `append_dir_all` copies them
//! twice), symlinks as links, devices and fifos as nodes, the extended attributes of
//! files and directories that images carry (file capabilities, `user.`, `trusted.`,
//! POSIX ACLs; not overlayfs' or hull's own markers) as PAX `SCHILY.xattr.` records.
//! Every file is opened relative to its parent's descriptor without following its last component, so a
//! tree that changes while it is packed (a running container's) cannot lead the packer
//! outside it through a planted symlink; a file that grows or shrinks meanwhile is
//! cut or padded to the size its header gave.

use crate::error::{io, sys, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Writes the contents of `dir` as an uncompressed tar stream (with end blocks).
pub fn pack_dir(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let d = open_dir(dir)?;
    let mut p = Packer::new(out, dir);
    p.add_children(d.as_fd(), Path::new(""))?;
    p.finish()
}

/// Writes `src` (a file, or a directory and everything under it; a symlink as a link)
/// as entries named `name`, `name/…`.
pub fn pack_tree(src: &Path, name: &Path, out: &mut dyn Write) -> Result<()> {
    let parent = match src.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let leaf = src.file_name().unwrap_or(OsStr::new("."));
    let pd = nix::fcntl::open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(format!("open {}", parent.display())))?;
    pack_tree_at(pd.as_fd(), leaf, src, name, out)
}

/// [`pack_tree`] of the entry `leaf` of the directory `parent` (a descriptor the caller
/// resolved safely); `label` names it in errors.
pub fn pack_tree_at(parent: BorrowedFd, leaf: &OsStr, label: &Path, name: &Path, out: &mut dyn Write) -> Result<()> {
    let mut p = Packer::new(out, label);
    p.add_at(parent, leaf, name, true)?;
    p.finish()
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(format!("open {}", dir.display())))
}

/// A tar stream being written from files under one root.
pub struct Packer<'a> {
    b: tar::Builder<&'a mut dyn Write>,
    /// For error messages.
    root: PathBuf,
    /// (dev, ino) of files with more than one link → the entry written for the first.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<'a> Packer<'a> {
    pub fn new(out: &'a mut dyn Write, root: &Path) -> Packer<'a> {
        Packer { b: tar::Builder::new(out), root: root.to_owned(), links: HashMap::new() }
    }

    /// Writes the end blocks.
    pub fn finish(self) -> Result<()> {
        let root = self.root;
        self.b.into_inner().map_err(io(format!("pack {}", root.display())))?;
        Ok(())
    }

    /// Appends the entry `rel` of the tree whose root directory is `root` (opened with
    /// `O_PATH` or for reading); `rel` must not pass through a symlink. Returns false
    /// if it no longer exists.
    pub fn add_path(&mut self, root: BorrowedFd, rel: &Path, recurse: bool) -> Result<bool> {
        let (parent, leaf) = match (rel.parent(), rel.file_name()) {
            (Some(p), Some(l)) => (p, l),
            _ => return Ok(false),
        };
        let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC).resolve(
            ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
        let p = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        let pd = match openat2(root, p, how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(sys(format!("open {}", self.root.join(parent).display()))(e)),
        };
        match self.add_at(pd.as_fd(), leaf, rel, recurse) {
            Err(crate::Error::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            r => r.map(|_| true),
        }
    }

    /// Appends an empty regular file named `rel` (a whiteout `.wh.NAME`).
    pub fn add_empty(&mut self, rel: &Path) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(0);
        h.set_mtime(0);
        self.b.append_data(&mut h, rel, std::io::empty()).map_err(io(format!("pack {}", rel.display())))
    }

    /// Appends the children of the directory `dir` as `rel/NAME`, recursively.
    fn add_children(&mut self, dir: BorrowedFd, rel: &Path) -> Result<()> {
        let what = || self.root.join(rel).display().to_string();
        let dup = dir.try_clone_to_owned().map_err(io(format!("dup a descriptor of {}", what())))?;
        let mut d = nix::dir::Dir::from_fd(dup).map_err(sys(format!("list {}", what())))?;
        let mut names: Vec<OsString> = Vec::new();
        for e in d.iter() {
            let e = e.map_err(sys(format!("list {}", what())))?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_owned());
            }
        }
        names.sort();
        for n in names {
            self.add_at(dir, &n, &rel.join(&n), true)?;
        }
        Ok(())
    }

    /// Appends `name` in the directory `parent` as the entry `rel`; with `recurse`, a
    /// directory's contents follow it.
    pub fn add_at(&mut self, parent: BorrowedFd, name: &OsStr, rel: &Path, recurse: bool) -> Result<()> {
        let full = self.root.join(rel);
        let st = fstatat(parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(sys(format!("stat {}", full.display())))?;
        let werr = || io(format!("pack {}", full.display()));
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        match kind {
            SFlag::S_IFDIR => {
                let d = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys(format!("open {}", full.display())))?;
                let st = fstat(&d).map_err(sys(format!("stat {}", full.display())))?;
                let mut h = header(&st, tar::EntryType::Directory);
                if !rel.as_os_str().is_empty() && rel != Path::new(".") {
                    self.xattrs(d.as_fd(), &full)?;
                    self.b.append_data(&mut h, rel, std::io::empty()).map_err(werr())?;
                }
                if recurse {
                    self.add_children(d.as_fd(), rel)?;
                }
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(parent, name).map_err(sys(format!("readlink {}", full.display())))?;
                let mut h = header(&st, tar::EntryType::Symlink);
                self.b.append_link(&mut h, rel, Path::new(&target)).map_err(werr())?;
            }
            SFlag::S_IFREG => {
                // O_NONBLOCK: a fifo swapped in since the stat must not block the open.
                let f = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys(format!("open {}", full.display())))?;
                let st = fstat(&f).map_err(sys(format!("stat {}", full.display())))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
                    return Ok(()); // replaced meanwhile by something else
                }
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        let mut h = header(&st, tar::EntryType::Link);
                        let first = first.clone();
                        self.b.append_link(&mut h, rel, &first).map_err(werr())?;
                        return Ok(());
                    }
                    self.links.insert(key, rel.to_owned());
                }
                self.xattrs(f.as_fd(), &full)?;
                let mut h = header(&st, tar::EntryType::Regular);
                let size = st.st_size as u64;
                h.set_size(size);
                // Exactly `size` bytes, whatever the file does meanwhile.
                let data = std::fs::File::from(f).take(size).chain(std::io::repeat(0)).take(size);
                self.b.append_data(&mut h, rel, data).map_err(werr())?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                let t = match kind {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = header(&st, t);
                let _ = h.set_device_major(nix::sys::stat::major(st.st_rdev) as u32);
                let _ = h.set_device_minor(nix::sys::stat::minor(st.st_rdev) as u32);
                self.b.append_data(&mut h, rel, std::io::empty()).map_err(werr())?;
            }
            _ => {} // sockets are not packed, as tar does
        }
        Ok(())
    }

    /// The PAX records of the open file's extended attributes, before its entry.
    fn xattrs(&mut self, fd: BorrowedFd, full: &Path) -> Result<()> {
        let list = packed_xattrs(fd);
        if list.is_empty() {
            return Ok(());
        }
        let recs: Vec<(String, Vec<u8>)> = list.into_iter().map(|(n, v)| (format!("SCHILY.xattr.{n}"), v)).collect();
        self.b
            .append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(io(format!("pack the xattrs of {}", full.display())))
    }
}

/// Whether an extended attribute goes into a layer.
fn packs_xattr(name: &str) -> bool {
    let ours = name.starts_with("trusted.overlay.")
        || name.starts_with("user.overlay.")
        || name.starts_with(crate::unpack::OWNER_XATTR);
    let kept = name == "security.capability"
        || name.starts_with("user.")
        || name.starts_with("trusted.")
        || name == "system.posix_acl_access"
        || name == "system.posix_acl_default";
    kept && !ours
}

/// The extended attributes of the open file that go into a layer, sorted by name. A
/// file system without them, or one that went away meanwhile, has none.
fn packed_xattrs(fd: BorrowedFd) -> Vec<(String, Vec<u8>)> {
    use std::os::fd::AsRawFd;
    let mut names = vec![0u8; 1024];
    let n = loop {
        // SAFETY: a valid descriptor and a buffer of the length passed.
        let n = unsafe { libc::flistxattr(fd.as_raw_fd(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        if Errno::last() != Errno::ERANGE || names.len() >= 1 << 20 {
            return Vec::new();
        }
        names.resize(names.len() * 4, 0);
    };
    let mut out = Vec::new();
    for raw in names[..n].split(|b| *b == 0).filter(|b| !b.is_empty()) {
        let Ok(name) = std::str::from_utf8(raw) else { continue };
        if !packs_xattr(name) {
            continue;
        }
        let Ok(c) = std::ffi::CString::new(raw) else { continue };
        let mut value = vec![0u8; 256];
        loop {
            // SAFETY: a valid descriptor, NUL-terminated name and a buffer of the length passed.
            let r = unsafe { libc::fgetxattr(fd.as_raw_fd(), c.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
            if r >= 0 {
                value.truncate(r as usize);
                out.push((name.to_string(), value));
                break;
            }
            if Errno::last() != Errno::ERANGE || value.len() >= 1 << 20 {
                break;
            }
            value.resize(value.len() * 4, 0);
        }
    }
    out.sort();
    out
}

fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().entry_type())
            })
            .collect()
    }

    #[test]
    fn packs_trees_under_a_name_without_following_symlinks() {
        let t = crate::unpack::tests::tempdir("pack");
        let d = t.join("src");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/f"), b"hello").unwrap();
        std::fs::hard_link(d.join("sub/f"), d.join("g")).unwrap();
        std::os::unix::fs::symlink("/etc", d.join("link")).unwrap();
        let mut out = Vec::new();
        pack_tree(&d, Path::new("renamed"), &mut out).unwrap();
        let n = names(&out);
        assert_eq!(n[0], ("renamed".into(), tar::EntryType::Directory));
        assert!(n.contains(&("renamed/link".into(), tar::EntryType::Symlink)));
        assert!(n.contains(&("renamed/g".into(), tar::EntryType::Regular)));
        assert!(n.contains(&("renamed/sub/f".into(), tar::EntryType::Link)), "{n:?}");
        // The contents only.
        let mut out = Vec::new();
        pack_dir(&d, &mut out).unwrap();
        assert_eq!(names(&out).iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["g", "link", "sub", "sub/f"]);
        // One path below a root, refusing a symlink on the way.
        let mut out = Vec::new();
        let mut p = Packer::new(&mut out, &d);
        let root = open_dir(&d).unwrap();
        assert!(p.add_path(root.as_fd(), Path::new("sub/f"), false).unwrap());
        assert!(!p.add_path(root.as_fd(), Path::new("sub/none"), false).unwrap());
        assert!(p.add_path(root.as_fd(), Path::new("link/passwd"), false).is_err());
        p.add_empty(Path::new("sub/.wh.gone")).unwrap();
        p.finish().unwrap();
        assert_eq!(names(&out).len(), 2);
        std::fs::remove_dir_all(&t).unwrap();
    }

    /// File capabilities and other image xattrs go into the tar as PAX records;
    /// overlayfs' and hull's own markers do not.
    #[test]
    fn packs_the_xattrs_images_carry() {
        let t = crate::unpack::tests::tempdir("pack-xattrs");
        let d = t.join("src");
        std::fs::create_dir_all(d.join("dir")).unwrap();
        std::fs::write(d.join("ping"), b"x").unwrap();
        let set = |p: &Path, name: &str, v: &[u8]| {
            let f = std::fs::File::open(p).unwrap();
            crate::unpack::fsetxattr(f.as_fd(), name, v).unwrap_or_else(|e| panic!("set {name}: {e}"));
        };
        let caps = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        set(&d.join("ping"), "security.capability", caps);
        set(&d.join("ping"), "trusted.hull-test", b"kept");
        set(&d.join("dir"), "trusted.overlay.opaque", b"y");
        let mut out = Vec::new();
        pack_dir(&d, &mut out).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let mut found = HashMap::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let recs: Vec<(String, Vec<u8>)> = match e.pax_extensions().unwrap() {
                Some(exts) => {
                    exts.map(|x| x.unwrap()).map(|x| (x.key().unwrap().to_string(), x.value_bytes().to_vec())).collect()
                }
                None => Vec::new(),
            };
            found.insert(path, recs);
        }
        assert_eq!(
            found["ping"],
            vec![
                ("SCHILY.xattr.security.capability".to_string(), caps.to_vec()),
                ("SCHILY.xattr.trusted.hull-test".to_string(), b"kept".to_vec())
            ]
        );
        assert!(found["dir"].is_empty(), "overlay's markers stay behind: {:?}", found["dir"]);
        std::fs::remove_dir_all(&t).unwrap();
    }
}

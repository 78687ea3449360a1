//! Paths inside the container's root, resolved by the kernel and held as descriptors.
//!
//! Every lookup goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from a
//! descriptor of the root, so a symlink in the image can never lead a mount, mknod or
//! mkdir out of the container's tree. Mounts then target `/proc/self/fd/N` of the
//! resolved descriptor rather than a path string that could be swapped underneath.

use crate::error::{Context, Error, Result};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// A handle on a container's root directory.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    /// Opens `path` (a directory) as a root.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .ctx(|| format!("open root {}", path.display()))?;
        Ok(Root { fd, path: path.to_owned() })
    }

    /// The descriptor of the root.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The root's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path`, resolved inside the root.
    pub fn open_at(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = relative(path);
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.fd.as_fd(), rel.as_path(), how)
    }

    /// Opens `path` as an O_PATH handle, the form mounts target.
    pub fn open_path(&self, path: &Path) -> Result<OwnedFd> {
        self.open_at(path, OFlag::O_PATH).ctx(|| format!("open {} in the container", path.display()))
    }

    /// Creates the directory `path` and its parents inside the root; returns an O_PATH handle.
    /// A dangling symlink on the way is followed (inside the root) and its target made.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd> {
        self.mkdir_all_depth(path, mode, 0)
    }

    fn mkdir_all_depth(&self, path: &Path, mode: u32, depth: u32) -> Result<OwnedFd> {
        if depth > 40 {
            return Err(Error::sys(format!("mkdir {} in the container", path.display()), nix::errno::Errno::ELOOP));
        }
        let rel = relative(path);
        let mut cur = self.open_at(Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY).ctx(|| "open root".into())?;
        let mut sofar = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for (i, comp) in comps.iter().enumerate() {
            sofar.push(comp);
            let name = comp.as_os_str();
            let err = match self.open_at(&sofar, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(e) => e,
            };
            if err != nix::errno::Errno::ENOENT {
                return Err(Error::sys(format!("open {} in the container", sofar.display()), err));
            }
            match nix::sys::stat::mkdirat(cur.as_fd(), name, Mode::from_bits_truncate(mode)) {
                Ok(()) => {}
                Err(nix::errno::Errno::EEXIST) => {
                    // A dangling symlink: make its target, resolved inside the root.
                    let target = nix::fcntl::readlinkat(cur.as_fd(), name)
                        .map_err(|e| Error::sys(format!("readlink {} in the container", sofar.display()), e))?;
                    let base = sofar.parent().map(Path::to_path_buf).unwrap_or_default();
                    let mut next = Path::new("/").join(base).join(target);
                    for rest in &comps[i + 1..] {
                        next.push(rest);
                    }
                    return self.mkdir_all_depth(&next, mode, depth + 1);
                }
                Err(e) => return Err(Error::sys(format!("mkdir {} in the container", sofar.display()), e)),
            }
            cur = self
                .open_at(&sofar, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .ctx(|| format!("open {} in the container", sofar.display()))?;
        }
        Ok(cur)
    }

    /// Creates an empty file at `path` (and its parent directories) if missing;
    /// returns an O_PATH handle.
    pub fn create_file(&self, path: &Path) -> Result<OwnedFd> {
        if let Ok(fd) = self.open_at(path, OFlag::O_PATH) {
            return Ok(fd);
        }
        let rel = relative(path);
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().ok_or_else(|| Error::Precondition(format!("{} names no file", path.display())))?;
        let dir = self.mkdir_all(parent, 0o755)?;
        // Re-open the parent as a real directory to create a file in it.
        let dirfd = self
            .open_at(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .ctx(|| format!("open {} in the container", parent.display()))?;
        drop(dir);
        match nix::fcntl::openat(
            dirfd.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("create {} in the container", path.display()), e)),
        }
        self.open_path(path)
    }
}

/// A private view of procfs for hull's own writes (sysctl, oom_score_adj): a fresh
/// procfs instance that is never attached anywhere (fsopen/fsmount), so no mount in the
/// container can cover or redirect a file in it; where the kernel refuses a new
/// instance, a non-recursive clone of the /proc mount (open_tree), which leaves out
/// every mount made over its files. Files are opened beneath it without crossing mounts
/// or following any link, checked with fstatfs and written through the same descriptor
/// (CVE-2019-16884, CVE-2025-52881).
pub struct ProcFs(OwnedFd);

impl ProcFs {
    /// Opens the view; it lives until dropped (close-on-exec either way).
    pub fn open() -> Result<ProcFs> {
        let root = Self::fresh().or_else(|_| Self::clone_of_proc())?;
        let st = nix::sys::statfs::fstatfs(&root).ctx(|| "statfs of the private procfs".into())?;
        if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
            return Err(Error::Precondition("the private view of /proc is not procfs".into()));
        }
        Ok(ProcFs(root))
    }

    fn fresh() -> std::io::Result<OwnedFd> {
        let sys = |r: libc::c_long| if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(r) };
        // SAFETY: fsopen with a valid name; the result is a new descriptor we own.
        let fc = sys(unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), libc::FSOPEN_CLOEXEC) })?;
        // SAFETY: as above.
        let fc = unsafe { OwnedFd::from_raw_fd(fc as i32) };
        // SAFETY: fsconfig CMD_CREATE takes no key or value.
        sys(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fc.as_raw_fd(),
                libc::FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        })?;
        // SAFETY: fsmount on our context; returns a new descriptor of a detached mount.
        let m = sys(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                fc.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                libc::MOUNT_ATTR_NOEXEC | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
            )
        })?;
        // SAFETY: as above.
        Ok(unsafe { OwnedFd::from_raw_fd(m as i32) })
    }

    fn clone_of_proc() -> Result<OwnedFd> {
        crate::mount_api::clone_tree(None, c"/proc", false).map_err(|e| Error::io("open a private view of /proc", e))
    }

    /// Writes `value` to `rel` (e.g. "sys/net/ipv4/ip_forward", "1/oom_score_adj").
    pub fn write(&self, rel: &str, value: &str, field: &str) -> Result<()> {
        use std::io::Write;
        let how = OpenHow::new().flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW).resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_XDEV
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_SYMLINKS,
        );
        let fd = openat2(&self.0, rel, how).map_err(|e| Error::sys(format!("{field}: open /proc/{rel}"), e))?;
        let st = nix::sys::statfs::fstatfs(&fd).map_err(|e| Error::sys(format!("{field}: statfs /proc/{rel}"), e))?;
        if st.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
            return Err(Error::SpecInvalid { field: field.into(), reason: format!("/proc/{rel} is not on procfs") });
        }
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| Error::io(format!("{field}: write /proc/{rel}"), e))
    }

    /// Writes this process's oom_score_adj.
    pub fn write_oom_score_adj(&self, adj: i32) -> Result<()> {
        self.write_own("oom_score_adj", &adj.to_string(), "process.oomScoreAdj")
    }

    /// Writes `rel` under this process's own directory. Its pid is read from this
    /// procfs's own `self` link (the instance may belong to another pid namespace than
    /// getpid's), since the write itself follows no link.
    pub fn write_own(&self, rel: &str, value: &str, field: &str) -> Result<()> {
        let me = nix::fcntl::readlinkat(&self.0, "self").map_err(|e| Error::sys(format!("{field}: /proc/self"), e))?;
        let me = me.to_string_lossy();
        if me.is_empty() || !me.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Precondition(format!("{field}: /proc/self is {me:?}")));
        }
        self.write(&format!("{me}/{rel}"), value, field)
    }
}

/// The magic-link path of a descriptor, for syscalls that take a path.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `path` made relative and normalised lexically (`.` dropped, `..` kept for the
/// kernel, which clamps it at the root under RESOLVE_IN_ROOT).
pub fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => out.push(".."),
            Component::Normal(n) => out.push(n),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/./b/")), Path::new("a/b"));
        assert_eq!(relative(Path::new("/")), Path::new("."));
        assert_eq!(relative(Path::new("/../x")), Path::new("../x"));
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let dir = std::env::temp_dir().join(format!("hull-safe-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        // An absolute symlink and a ../ escape both resolve inside the root.
        std::os::unix::fs::symlink("/outside-target", dir.join("root/abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", dir.join("root/rel")).unwrap();
        let root = Root::open(&dir.join("root")).unwrap();
        root.mkdir_all(Path::new("/abs/sub"), 0o755).unwrap();
        assert!(dir.join("root/outside-target/sub").is_dir());
        root.mkdir_all(Path::new("/rel/x"), 0o755).unwrap();
        assert!(dir.join("root/outside/x").is_dir(), "escape was clamped to the root");
        assert!(!dir.join("outside/x").exists());
        root.create_file(Path::new("/abs/file")).unwrap();
        assert!(dir.join("root/outside-target/file").is_file());
        // A symlink loop is an error, not a hang.
        std::os::unix::fs::symlink("loop", dir.join("root/loop")).unwrap();
        assert!(root.mkdir_all(Path::new("/loop/x"), 0o755).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

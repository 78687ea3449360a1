//! The archives `cp` moves (Docker's `GET`/`PUT /containers/{id}/archive`): a path in a
//! container packed as a tar, or a tar unpacked at a path in it. The container's side
//! is never resolved on the host: a helper process (hull's binary as `hull __cp`, so it
//! starts single-threaded) enters the container's mount namespace (a running
//! container: volumes and tmpfs mounts are seen as the container sees them) or chroots
//! into its root filesystem (a stopped one), and packs or unpacks there, so symlinks
//! planted in the container resolve inside it. Docker's rules decide where a copy
//! lands ([`placement`]: `dir/.` for a directory's contents, a missing destination
//! names the copy, a trailing `/` wants a directory). Rootless, the helper joins the
//! container's user namespace too.

use crate::error::{Error, Result};
use crate::record::ContainerStatus;
use crate::Engine;
use hull_image::unpack::{self, Options};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A path of a container as a tar stream; [`ArchiveOut::finish`] tells whether it
/// was read whole.
pub struct ArchiveOut {
    /// The path is a directory.
    pub is_dir: bool,
    child: Child,
    out: ChildStdout,
}

impl Read for ArchiveOut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.out.read(buf)
    }
}

impl ArchiveOut {
    /// Waits for the helper; its error if it failed.
    pub fn finish(self) -> Result<()> {
        let ArchiveOut { child, out, .. } = self;
        drop(out);
        finish(child)
    }
}

/// A tar stream written into a container; [`ArchiveIn::finish`] tells whether it was
/// unpacked whole.
pub struct ArchiveIn {
    child: Child,
    input: Option<ChildStdin>,
}

impl Write for ArchiveIn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.input.as_mut() {
            Some(i) => i.write(buf),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.input.as_mut().map_or(Ok(()), |i| i.flush())
    }
}

impl ArchiveIn {
    /// Ends the stream and waits for the helper; its error if it failed.
    pub fn finish(mut self) -> Result<()> {
        drop(self.input.take());
        finish(self.child)
    }
}

/// What a tar written into a container is.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// Entries unpacked as they are into the directory `dest` (Docker's `PUT archive`).
    Entries,
    /// One file or directory packed under `base` (`.` for a directory's contents),
    /// landing at `dest` by Docker's `cp` rules.
    Named { dir: bool, base: OsString },
}

/// The helper's end: its error line, if it failed.
fn finish(child: Child) -> Result<()> {
    let done = child.wait_with_output().map_err(Error::at("wait for the copy helper"))?;
    if done.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&done.stderr);
    let msg = msg.trim().trim_start_matches("Error: ");
    Err(Error::Invalid(if msg.is_empty() { "the copy helper failed".into() } else { msg.to_owned() }))
}

impl Engine {
    /// Packs `path` of container `id` (its target with `follow`, or a path ending in
    /// `/`), as Docker's `cp CONTAINER:PATH`.
    pub fn archive_out(&self, id: &str, path: &str, follow: bool) -> Result<ArchiveOut> {
        let t = self.copy_target(id)?;
        let path = if path.is_empty() { "/" } else { path };
        let follow = if follow { "1" } else { "0" };
        let mut child = self.copy_helper(
            &[OsStr::new("out"), OsStr::new(&t), OsStr::new(path), OsStr::new(follow)],
            Stdio::null(),
            Stdio::piped(),
        )?;
        let Some(mut out) = child.stdout.take() else {
            return Err(Error::Conflict("the copy helper has no output".into()));
        };
        let mut kind = [0u8; 1];
        match out.read(&mut kind) {
            Ok(1) => Ok(ArchiveOut { is_dir: kind[0] == b'd', child, out }),
            _ => {
                drop(out);
                finish(child)?;
                Err(Error::Conflict("the copy helper ended without a word".into()))
            }
        }
    }

    /// A writer of a tar into container `id` at `dest`; with `archive`, the entries
    /// keep their owners (else they belong to the container's root).
    pub fn archive_in(&self, id: &str, dest: &str, what: &Incoming, archive: bool) -> Result<ArchiveIn> {
        let t = self.copy_target(id)?;
        let dest = if dest.is_empty() { "/" } else { dest };
        let (kind, base) = match what {
            Incoming::Entries => ("-", OsString::from(".")),
            Incoming::Named { dir, base } => (if *dir { "d" } else { "f" }, base.clone()),
        };
        let archive = if archive { "1" } else { "0" };
        let mut child = self.copy_helper(
            &[OsStr::new("in"), OsStr::new(&t), OsStr::new(dest), OsStr::new(kind), &base, OsStr::new(archive)],
            Stdio::piped(),
            Stdio::null(),
        )?;
        let input = child.stdin.take();
        Ok(ArchiveIn { child, input })
    }

    /// How the helper enters container `id`'s files: `pid:PID:START` of a running
    /// one's init, `root:PATH` of a stopped one's root filesystem.
    fn copy_target(&self, id: &str) -> Result<String> {
        let c = self.container(id)?;
        if matches!(c.status, ContainerStatus::Running | ContainerStatus::Paused) {
            if let Ok(l) = hull_container::container::load(&self.runtime, id) {
                return Ok(format!("pid:{}:{}", l.state.pid, l.state.pid_start));
            }
        }
        let m = self.dir(id).join("rootfs/merged");
        if !m.is_dir() {
            return Err(Error::Conflict(format!("the root filesystem of container {id} is gone")));
        }
        Ok(format!("root:{}", m.display()))
    }

    fn copy_helper(&self, args: &[&OsStr], stdin: Stdio, stdout: Stdio) -> Result<Child> {
        use std::os::unix::process::CommandExt;
        // Rootless, a stopped container's files are reached from a user namespace with
        // its mapping (a running one's by joining its own).
        let chroot = args.get(1).is_some_and(|t| t.as_encoded_bytes().starts_with(b"root:"));
        if let Some(m) = self.userns().filter(|_| chroot) {
            let mut c = crate::userns::hull_command("__cp");
            c.args(args).stdin(stdin).stdout(stdout).stderr(Stdio::piped());
            return crate::userns::spawn(m, c);
        }
        Command::new(self.exe())
            .arg0("hull")
            .arg("__cp")
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::at(format!("start the copy helper ({})", self.exe().display())))
    }
}

/// The name a source is copied under, and whether its contents are wanted (`dir/.`).
pub fn source_name(src: &str) -> (OsString, bool) {
    let trimmed = src.trim_end_matches('/');
    let contents = trimmed.ends_with("/.") || trimmed == ".";
    let p = Path::new(trimmed);
    let base = p.file_name().map(OsStr::to_owned).unwrap_or_else(|| OsString::from("."));
    let contents = contents || base == ".";
    (base, contents)
}

/// Where a copy lands: the directory to unpack into (made first if `create`), and how
/// the source's name is renamed there.
#[derive(Debug, PartialEq)]
pub struct Landing {
    pub dir: PathBuf,
    pub rename: Option<(OsString, OsString)>,
    pub create: bool,
}

impl Landing {
    /// Makes the directory if asked, then unpacks `r` there.
    pub fn unpack(&self, r: impl Read, opts: Options) -> hull_image::Result<()> {
        if self.create {
            match std::fs::create_dir(&self.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(hull_image::Error::Io { what: format!("create {}", self.dir.display()), source: e })
                }
            }
        }
        let rename = self.rename.as_ref().map(|(f, t)| (f.as_bytes(), t.as_bytes()));
        unpack::unpack_renamed(r, &self.dir, opts, rename).map(|_| ())
    }
}

/// Docker's rules for where a copy lands. The source is packed under its own name
/// (`base`), or as its contents (`dir/.`).
pub fn placement(
    dest: &str,
    dest_is_dir: Option<bool>,
    src_dir: bool,
    contents: bool,
    base: &OsStr,
) -> Result<Landing> {
    let trailing = dest.ends_with('/') || dest.ends_with("/.");
    let d = Path::new(dest);
    let parent = match d.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let leaf = d.file_name().map(OsStr::to_owned).unwrap_or_default();
    let at = |dir: PathBuf, rename: Option<(OsString, OsString)>, create: bool| Ok(Landing { dir, rename, create });
    match dest_is_dir {
        Some(true) => at(d.to_owned(), None, false),
        Some(false) if src_dir => Err(Error::Invalid(format!("cannot copy a directory to the file {dest}"))),
        Some(false) if trailing => Err(Error::Invalid(format!("{dest}: not a directory"))),
        Some(false) => at(parent, Some((base.to_owned(), leaf)), false),
        None if trailing && !src_dir => Err(Error::Invalid(format!("{dest}: no such directory"))),
        None if contents => at(d.to_owned(), None, true),
        None => at(parent, Some((base.to_owned(), leaf)), false),
    }
}

/// `hull __cp out TARGET SRC FOLLOW` / `hull __cp in TARGET DEST KIND BASE ARCHIVE`: the
/// helper inside the container (see the module's doc). Prints one error line and
/// exits 1 on failure.
pub fn helper_main(args: Vec<OsString>) -> i32 {
    match helper_run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

fn helper_run(args: &[OsString]) -> Result<()> {
    let arg =
        |i: usize| args.get(i).and_then(|a| a.to_str()).ok_or_else(|| Error::Invalid("bad helper arguments".into()));
    enter(arg(1)?)?;
    // Every path from here is resolved from the container's root, never through a
    // magic link: with `--pid host` the container's /proc shows host processes, whose
    // /proc/PID/root would lead out of it.
    let root = InRoot::new()?;
    match arg(0)? {
        "out" => {
            let (src, follow) = (arg(2)?, arg(3)? == "1");
            let (base, contents) = source_name(src);
            let (parent, leaf) = root.entry(src, follow || src.ends_with('/'))?;
            let is_dir = match root.stat_at(&parent, &leaf) {
                Ok(st) => st.st_mode & libc::S_IFMT == libc::S_IFDIR,
                Err(e) => return Err(not_found(src, e)),
            };
            if contents && !is_dir {
                return Err(Error::Invalid(format!("{src}: not a directory")));
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            out.write_all(if is_dir { b"d" } else { b"f" }).map_err(Error::at("write"))?;
            let top = if contents { PathBuf::from(".") } else { PathBuf::from(&base) };
            hull_image::pack::pack_tree_at(parent.as_fd(), &leaf, Path::new(src), &top, &mut out)?;
            out.flush().map_err(Error::at("write"))
        }
        "in" => {
            let (dest, kind, base, archive) = (arg(2)?, arg(3)?, args[4].as_os_str(), arg(5)? == "1");
            let dest_is_dir = root.resolve(dest, true).ok().map(|fd| root.is_dir(&fd));
            let landing = if kind == "-" {
                if dest_is_dir != Some(true) {
                    return Err(Error::Invalid(format!("{dest}: no such directory in the container")));
                }
                Landing { dir: PathBuf::from(dest), rename: None, create: false }
            } else {
                placement(dest, dest_is_dir, kind == "d", base == ".", base)?
            };
            let opts = Options { plain: true, owner: (!archive).then_some((0, 0)), ..Default::default() };
            let dir = root.landing_dir(&landing)?;
            let rename = landing.rename.as_ref().map(|(f, t)| (f.as_bytes(), t.as_bytes()));
            unpack::unpack_renamed_at(std::io::stdin().lock(), dir, &landing.dir, opts, rename)
                .map_err(|e| Error::Invalid(format!("copy to {dest} in the container: {e}")))?;
            Ok(())
        }
        _ => Err(Error::Invalid("bad helper arguments".into())),
    }
}

/// The container's root as the helper sees it, and paths resolved from it with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `..` and absolute symlinks stay
/// inside, magic links (`/proc/PID/root`, `/proc/self/fd/N`) are refused.
struct InRoot(OwnedFd);

impl InRoot {
    fn new() -> Result<InRoot> {
        let fd = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::io("open the container's root", e.into()))?;
        Ok(InRoot(fd))
    }

    /// `path` opened with `O_PATH` (its last component followed when `follow`).
    fn resolve(&self, path: &str, follow: bool) -> std::io::Result<OwnedFd> {
        let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        if !follow {
            flags |= OFlag::O_NOFOLLOW;
        }
        let how =
            OpenHow::new().flags(flags).resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let p = if path.is_empty() { "/" } else { path };
        openat2(self.0.as_fd(), p, how).map_err(std::io::Error::from)
    }

    fn is_dir(&self, fd: &OwnedFd) -> bool {
        nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    }

    fn stat_at(&self, parent: &OwnedFd, leaf: &OsStr) -> std::io::Result<nix::sys::stat::FileStat> {
        nix::sys::stat::fstatat(parent, leaf, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(Into::into)
    }

    /// The directory holding `path`'s last component and that component: its parents
    /// resolved in the root; with `follow`, a symlink at the end is followed (in the
    /// root too) until it is not one.
    fn entry(&self, path: &str, follow: bool) -> Result<(OwnedFd, OsString)> {
        let mut path = PathBuf::from(if path.is_empty() { "/" } else { path });
        for _ in 0..40 {
            let trimmed = PathBuf::from(path.to_string_lossy().trim_end_matches('/'));
            let (dir, leaf) = match (trimmed.parent(), trimmed.file_name()) {
                (Some(d), Some(l)) => (d.to_path_buf(), l.to_os_string()),
                // `/` (or `/.`): the root itself.
                _ => (PathBuf::from("/"), OsString::from(".")),
            };
            let parent =
                self.resolve(dir.to_str().unwrap_or("/"), true).map_err(|e| not_found(&path.to_string_lossy(), e))?;
            if !follow || leaf == "." {
                return Ok((parent, leaf));
            }
            match nix::fcntl::readlinkat(&parent, leaf.as_os_str()) {
                // Resolved again from the link's own directory, still inside the root.
                Ok(target) => path = dir.join(target),
                Err(_) => return Ok((parent, leaf)),
            }
        }
        Err(Error::Invalid(format!("{}: too many levels of symbolic links", path.display())))
    }

    /// The directory a copy lands in, made first when the landing asks for it.
    fn landing_dir(&self, l: &Landing) -> Result<OwnedFd> {
        let label = l.dir.display().to_string();
        if l.create {
            let (parent, leaf) = self.entry(&label, false)?;
            match nix::sys::stat::mkdirat(&parent, leaf.as_os_str(), Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(Error::io(format!("create {label} in the container"), e.into())),
            }
        }
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(self.0.as_fd(), l.dir.as_path(), how).map_err(|e| not_found(&label, std::io::Error::from(e)))
    }
}

fn not_found(p: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Invalid(format!("Could not find the file {p} in the container"))
    } else {
        Error::io(p.to_string(), e)
    }
}

/// Makes the container's root this process's root: its mount namespace (`pid:PID:START`)
/// or a chroot into its root filesystem (`root:PATH`).
fn enter(target: &str) -> Result<()> {
    if let Some(rest) = target.strip_prefix("pid:") {
        let (pid, start) = rest.split_once(':').ok_or_else(|| Error::Invalid("bad helper target".into()))?;
        let pid: i32 = pid.parse().map_err(|_| Error::Invalid("bad helper target".into()))?;
        let start: u64 = start.parse().map_err(|_| Error::Invalid("bad helper target".into()))?;
        // pidfd_open works for any process; the start time below makes sure it is the init.
        let fd = hull_container::clone::pidfd_of_child(pid)?;
        // After the pidfd is held, the pid cannot be reused: check it is the init.
        if !hull_container::process::is_alive(pid, start) {
            return Err(Error::Conflict("the container stopped".into()));
        }
        // Rootless, the container's user namespace first (its owner may join it).
        let mut ns = nix::sched::CloneFlags::CLONE_NEWNS;
        if !nix::unistd::geteuid().is_root() {
            ns |= nix::sched::CloneFlags::CLONE_NEWUSER;
        }
        nix::sched::setns(&fd, ns)
            .map_err(|e| Error::io(format!("enter the mount namespace of process {pid}"), e.into()))?;
    } else if let Some(root) = target.strip_prefix("root:") {
        nix::unistd::chroot(root).map_err(|e| Error::io(format!("chroot {root}"), e.into()))?;
    } else {
        return Err(Error::Invalid("bad helper target".into()));
    }
    std::env::set_current_dir("/").map_err(Error::at("chdir /"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(dest: &str, d: Option<bool>, src_dir: bool, src: &str) -> Option<Landing> {
        let (base, contents) = source_name(src);
        placement(dest, d, src_dir, contents, &base).ok()
    }

    #[test]
    fn copies_land_where_docker_puts_them() {
        let l = |dir: &str, rename: Option<(&str, &str)>, create: bool| {
            Some(Landing { dir: dir.into(), rename: rename.map(|(f, t)| (f.into(), t.into())), create })
        };
        // A file onto a missing name, an existing file, into a directory.
        assert_eq!(place("/tmp/new", None, false, "/etc/hosts"), l("/tmp", Some(("hosts", "new")), false));
        assert_eq!(place("/tmp/f", Some(false), false, "/etc/hosts"), l("/tmp", Some(("hosts", "f")), false));
        assert_eq!(place("/tmp", Some(true), false, "/etc/hosts"), l("/tmp", None, false));
        // A directory: into an existing one, as a new one, its contents.
        assert_eq!(place("/tmp", Some(true), true, "/etc"), l("/tmp", None, false));
        assert_eq!(place("/tmp/x", None, true, "/etc"), l("/tmp", Some(("etc", "x")), false));
        assert_eq!(place("/tmp", Some(true), true, "/etc/."), l("/tmp", None, false));
        assert_eq!(place("/tmp/new", None, true, "/etc/."), l("/tmp/new", None, true));
        assert_eq!(place("rel", None, false, "a"), l(".", Some(("a", "rel")), false));
        // Refused: a directory onto a file; a file into a missing directory.
        assert!(place("/tmp/f", Some(false), true, "/etc").is_none());
        assert!(place("/tmp/nodir/", None, false, "/etc/hosts").is_none());
        assert!(place("/tmp/f/", Some(false), false, "/etc/hosts").is_none());
    }
}

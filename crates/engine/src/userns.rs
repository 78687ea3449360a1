//! Rootless: the user namespace an ordinary user's containers run in, and helpers
//! that work on container files from inside such a namespace.
//!
//! The mapping is Podman's: container root is the user's own id, and container ids from
//! 1 on are the subordinate ids /etc/subuid and /etc/subgid grant the user (written by
//! the setuid helpers newuidmap/newgidmap of Debian's `uidmap`). Without subordinate ids
//! only root exists in the container.
//!
//! A user cannot chown files to its subordinate ids, nor remove what a container user
//! made in a directory of its own, from outside: `hull __userns PROGRAM ARGS…` runs
//! PROGRAM as root of a new user namespace with the containers' mapping. Its handshake
//! with [`spawn`]: the helper unshares, writes one byte to fd 3, and waits for one byte
//! on fd 4, which comes once its maps are written; then it becomes root there and
//! execs PROGRAM (with full capabilities over that namespace).

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxIdMapping;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// The uid and gid mappings of a rootless user's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub uids: Vec<LinuxIdMapping>,
    pub gids: Vec<LinuxIdMapping>,
}

impl Mapping {
    /// The mapping for the calling user, or None for root (whose containers are not in
    /// a user namespace unless asked).
    pub fn of_caller() -> Option<Mapping> {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        if uid.is_root() {
            return None;
        }
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        // /etc/passwd and /etc/group themselves, not NSS: hull links glibc statically,
        // where NSS modules cannot be loaded (a lookup that misses the files crashes).
        // Both files are keyed by the user's login name or uid (as newgidmap reads
        // /etc/subgid), not by its group.
        let user = name_of(&read("/etc/passwd"), uid.as_raw());
        Some(Mapping {
            uids: maps(uid.as_raw(), &subordinate(&read("/etc/subuid"), user.as_deref(), uid.as_raw())),
            gids: maps(gid.as_raw(), &subordinate(&read("/etc/subgid"), user.as_deref(), uid.as_raw())),
        })
    }

    /// True when the container has more ids than root (subordinate ids were granted).
    pub fn wide(&self) -> bool {
        self.uids.len() > 1 && self.gids.len() > 1
    }

    /// Whether container uid `uid` and gid `gid` both exist in the maps.
    pub fn maps_id(&self, uid: u32, gid: u32) -> bool {
        let has = |m: &[LinuxIdMapping], id: u32| {
            m.iter().any(|m| id >= m.container_id() && (id as u64) < m.container_id() as u64 + m.size() as u64)
        };
        has(&self.uids, uid) && has(&self.gids, gid)
    }
}

fn idmap(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .expect("an id mapping from three numbers has every field")
}

/// Root to `own`, then every subordinate range in order from container id 1.
fn maps(own: u32, ranges: &[(u32, u32)]) -> Vec<LinuxIdMapping> {
    let mut out = vec![idmap(0, own, 1)];
    let mut next: u32 = 1;
    for &(start, count) in ranges {
        let Some(end) = next.checked_add(count) else { break };
        out.push(idmap(next, start, count));
        next = end;
    }
    out
}

/// The name of `id` in a passwd or group file (`name:x:id:…`).
fn name_of(text: &str, id: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_string())
    })
}

/// The ranges (start, count) granted to `name` or `id` in a subuid/subgid file.
fn subordinate(text: &str, name: Option<&str>, id: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split(':');
        let (Some(who), Some(start), Some(count)) = (f.next(), f.next(), f.next()) else { continue };
        let matches = Some(who) == name || who.parse::<u32>().ok() == Some(id);
        if let (true, Ok(start), Ok(count)) = (matches, start.parse::<u32>(), count.parse::<u32>()) {
            if count > 0 && !out.contains(&(start, count)) {
                out.push((start, count));
            }
        }
    }
    out
}

/// `hull __userns PROGRAM ARGS…` as a command for [`spawn`]: set its arguments and
/// stdio, then spawn it with the mapping.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("/proc/self/exe");
    c.arg0("hull").arg("__userns").arg(program);
    c
}

/// This binary's own helper verb (`hull __userns /proc/self/exe VERB ARGS…`).
pub fn hull_command(verb: &str) -> Command {
    let mut c = command("/proc/self/exe");
    c.arg(verb);
    c
}

/// Spawns a command made by [`command`] and writes its maps once it has unshared.
pub fn spawn(m: &Mapping, mut cmd: Command) -> Result<Child> {
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::io("pipe", e.into()));
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (rw, gr) = (ready_w.as_raw_fd(), go_r.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe syscalls (fcntl, dup2, close) on descriptors it owns.
    unsafe {
        cmd.pre_exec(move || {
            let a = libc::fcntl(rw, libc::F_DUPFD, 10);
            let b = libc::fcntl(gr, libc::F_DUPFD, 10);
            if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(a);
            libc::close(b);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(Error::at("start a helper in a user namespace (/proc/self/exe)"))?;
    drop(ready_w);
    drop(go_r);
    let mut byte = [0u8; 1];
    let got = std::fs::File::from(ready_r).read(&mut byte).unwrap_or(0);
    let mapped = if got == 1 {
        hull_container::namespaces::write_maps(child.id() as i32, &m.uids, &m.gids).map_err(Error::from)
    } else {
        Err(Error::Conflict("the user-namespace helper could not make its namespace".into()))
    };
    if let Err(e) = mapped {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let mut go = std::fs::File::from(go_w);
    if let Err(e) = go.write_all(b"g") {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::io("start the user-namespace helper", e));
    }
    Ok(child)
}

/// Runs `cmd` (from [`hull_command`]) in a user namespace with the mapping, to its
/// end; its error line becomes the error.
pub fn run(m: &Mapping, mut cmd: Command, what: &str) -> Result<()> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = spawn(m, cmd)?;
    let out = child.wait_with_output().map_err(Error::at(format!("wait for the helper that would {what}")))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    let msg = msg.trim().trim_start_matches("Error: ");
    Err(Error::Conflict(format!("{what} (in the user namespace): {msg}")))
}

/// `hull __userns PROGRAM ARGS…`: the helper's side of the handshake, then exec.
pub fn helper_main(args: Vec<OsString>) -> i32 {
    match helper(args) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("Error: {e}");
            125
        }
    }
}

fn helper(args: Vec<OsString>) -> Result<std::convert::Infallible> {
    let (Some(program), rest) = (args.first(), &args[args.len().min(1)..]) else {
        return Err(Error::Invalid("__userns needs a program".into()));
    };
    for fd in [3, 4] {
        // SAFETY: F_GETFD only asks whether the descriptor is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::Invalid("__userns is started by the engine only".into()));
        }
    }
    // SAFETY: descriptors 3 and 4 were set up by `spawn` for this process alone.
    let (ready, go) = unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(3), OwnedFd::from_raw_fd(4))
    };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| Error::io("unshare the user namespace", e.into()))?;
    std::fs::File::from(ready).write_all(b"r").map_err(Error::at("signal the engine"))?;
    let mut byte = [0u8; 1];
    let got = std::fs::File::from(go).read(&mut byte).map_err(Error::at("wait for the id maps"))?;
    if got != 1 {
        return Err(Error::Conflict("the engine did not write the id maps".into()));
    }
    // Supplementary groups are dropped where setgroups is allowed (a wide gid map).
    let _ = nix::unistd::setgroups(&[]);
    let root = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
    nix::unistd::setresgid(root.0, root.0, root.0).map_err(|e| Error::io("become gid 0", e.into()))?;
    nix::unistd::setresuid(root.1, root.1, root.1).map_err(|e| Error::io("become uid 0", e.into()))?;
    let e = Command::new(program).arg0("hull").args(rest).exec();
    Err(Error::io(format!("exec {}", program.to_string_lossy()), e))
}

/// Whether files in `dir` hold the `user.` xattr in which a rootless unpack records
/// the owners the layers gave (hull_image::container_root::OWNER_XATTR).
pub fn keeps_owners(dir: &std::path::Path) -> bool {
    let p = dir.join(format!(".xattr-probe-{}", std::process::id()));
    let Ok(f) = std::fs::File::create(&p) else { return true };
    // SAFETY: a valid descriptor, NUL-terminated name and a buffer of the given length.
    let r = unsafe { libc::fsetxattr(f.as_raw_fd(), c"user.hull.probe".as_ptr(), b"1".as_ptr().cast(), 1, 0) };
    let _ = std::fs::remove_file(&p);
    r == 0
}

/// `hull __rootfs DIR LOWER…` (a container's root filesystem copied from snapshots)
/// and `hull __rm PATH`: the work [`run`] does inside the namespace.
pub fn work_main(verb: &str, args: Vec<OsString>) -> i32 {
    let paths: Vec<std::path::PathBuf> = args.into_iter().map(Into::into).collect();
    let r: Result<()> = match (verb, paths.as_slice()) {
        ("__rootfs", [dir, lowers @ ..]) => {
            hull_image::container_root::prepare_from(lowers, dir, true, true).map(drop).map_err(Into::into)
        }
        ("__rm", [p]) => hull_image::store::remove_tree(p).map_err(Into::into),
        _ => Err(Error::Invalid(format!("{verb}: bad arguments"))),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_id() {
        let text = "# comment\nalice:100000:65536\n1001:200000:1000\nbob:300000:65536\nbroken\nalice:500000:0\n";
        assert_eq!(subordinate(text, Some("alice"), 1000), vec![(100000, 65536)]);
        assert_eq!(subordinate(text, Some("carol"), 1001), vec![(200000, 1000)]);
        assert_eq!(subordinate(text, None, 42), vec![]);
    }

    #[test]
    fn names_from_passwd_and_group_files() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(name_of(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(name_of(passwd, 4242), None);
        assert_eq!(name_of("staff:x:50:alice,bob\n", 50).as_deref(), Some("staff"));
    }

    #[test]
    fn root_is_the_user_then_the_ranges() {
        let m = maps(1000, &[(100000, 65536), (300000, 10)]);
        let text: Vec<_> = m.iter().map(|m| (m.container_id(), m.host_id(), m.size())).collect();
        assert_eq!(text, vec![(0, 1000, 1), (1, 100000, 65536), (65537, 300000, 10)]);
        let mapping = Mapping { uids: m.clone(), gids: m };
        assert!(mapping.wide());
        assert!(mapping.maps_id(0, 0) && mapping.maps_id(65537, 1) && !mapping.maps_id(65547, 0));
    }
}

//! cgroups, as far as the runtime core needs them: find this host's hierarchies from
//! /proc/self/mountinfo (v1, hybrid or pure v2), create the container's cgroup at
//! `linux.cgroupsPath` in each, place the init there, report freezing, and remove the
//! directories again. [`resources`] writes `linux.resources` and freezes.

pub mod devices;
pub mod resources;
pub mod stats;
pub mod systemd;

use crate::error::{Context, Error, Result};
use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted, e.g. /sys/fs/cgroup/memory.
    pub mountpoint: PathBuf,
    /// v1 controllers (or `name=…`); empty for cgroup2.
    pub controllers: Vec<String>,
    /// True for the cgroup2 (unified) hierarchy.
    pub unified: bool,
}

/// Every cgroup hierarchy mounted in this mount namespace, one entry per superblock.
pub fn hierarchies() -> Vec<Hierarchy> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
}

fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    let mut seen_dev = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (dev, root, mountpoint) = (pre[2], pre[3], unescape(pre[4]));
        let fstype = post[0];
        if (fstype != "cgroup" && fstype != "cgroup2") || root != "/" || seen_dev.contains(&dev) {
            continue;
        }
        seen_dev.push(dev);
        let controllers = if fstype == "cgroup" {
            post[2]
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro") && !o.contains("release_agent") && !o.starts_with("clone_children")
                })
                .filter(|o| !matches!(*o, "noprefix" | "xattr" | "cpuset_v2_mode"))
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        out.push(Hierarchy { mountpoint: PathBuf::from(mountpoint), controllers, unified: fstype == "cgroup2" });
    }
    out
}

use crate::mountinfo::unescape;

/// The cgroup path of a container inside each hierarchy: `linux.cgroupsPath` when it is
/// absolute; a relative one is put under `/hull`; none means `/hull/<id>`.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    match cgroups_path {
        Some(p) if p.is_absolute() => p.to_owned(),
        Some(p) if !p.as_os_str().is_empty() => Path::new("/hull").join(p),
        _ => Path::new("/hull").join(id),
    }
}

/// The directories of a container's cgroup in the given hierarchies.
pub fn dirs(hs: &[Hierarchy], path: &Path) -> Vec<PathBuf> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    hs.iter().map(|h| h.mountpoint.join(rel)).collect()
}

/// True when this process may make `path` in every hierarchy: the nearest existing
/// ancestor of each directory is writable (root, or a cgroup delegated to the user).
pub fn writable(hs: &[Hierarchy], path: &Path) -> bool {
    dirs(hs, path).iter().all(|d| {
        let mut p = d.as_path();
        while !p.exists() {
            match p.parent() {
                Some(up) => p = up,
                None => return false,
            }
        }
        nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
    })
}

/// What [`create`] would make of `dirs` now (each missing directory and its missing
/// ancestors, children first): a create records it before it makes them, so that a
/// process killed in the middle leaves a list that covers whatever it made.
pub fn missing(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        let mut p = d.as_path();
        while !p.exists() && !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
    }
    out
}

/// Creates `dirs` (and missing parents). Returns every directory it created, deepest
/// first, so that [`remove`] takes away exactly what hull made.
pub fn create(hs: &[Hierarchy], dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let cpuset_v1 = hs.get(i).is_some_and(|h| !h.unified && h.controllers.iter().any(|c| c == "cpuset"));
        // Another container's delete may remove a shared parent between our mkdirs
        // (ENOENT): walk again a few times.
        let mut tries = 0;
        while let Err(e) = create_one(d, cpuset_v1, &mut made) {
            tries += 1;
            let vanished = matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
            if !vanished || tries >= 5 {
                made.reverse();
                let _ = remove(&made);
                return Err(e);
            }
        }
    }
    made.reverse();
    Ok(made)
}

fn create_one(d: &Path, cpuset_v1: bool, made: &mut Vec<PathBuf>) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = d;
    while !p.exists() {
        missing.push(p.to_owned());
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    for m in missing.iter().rev() {
        match std::fs::create_dir(m) {
            Ok(()) => made.push(m.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx(|| format!("linux.cgroupsPath: create {}", m.display())),
        }
    }
    // Also the parents another create made but may not have filled in yet.
    if let Some(first) = missing.last().filter(|_| cpuset_v1) {
        for dir in
            d.ancestors().filter(|a| a.starts_with(first.parent().unwrap_or(first))).collect::<Vec<_>>().iter().rev()
        {
            init_cpuset_v1(dir)?;
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no cpus and no mems, and no task may join it:
/// copy both from the parent, as runc does.
fn init_cpuset_v1(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let cur = std::fs::read_to_string(dir.join(f)).ctx(|| format!("read {}", dir.join(f).display()))?;
        if cur.trim().is_empty() {
            let v = std::fs::read_to_string(parent.join(f)).ctx(|| format!("read {}", parent.join(f).display()))?;
            std::fs::write(dir.join(f), v.trim()).ctx(|| format!("write {}", dir.join(f).display()))?;
        }
    }
    Ok(())
}

/// Moves `pid` into each of `dirs`.
pub fn join(dirs: &[PathBuf], pid: i32) -> Result<()> {
    let text = pid.to_string();
    for d in dirs {
        let f = d.join("cgroup.procs");
        std::fs::write(&f, &text).ctx(|| format!("move pid {pid} into {}", f.display()))?;
    }
    Ok(())
}

/// Pids in a container's cgroup (from the first hierarchy that lists any).
pub fn procs(dirs: &[PathBuf]) -> Vec<i32> {
    for d in dirs {
        if let Ok(text) = std::fs::read_to_string(d.join("cgroup.procs")) {
            let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !pids.is_empty() {
                return pids;
            }
        }
    }
    Vec::new()
}

/// Whether the container's cgroup is frozen (v1 freezer or v2 cgroup.freeze).
pub fn is_frozen(dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| {
        std::fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            || std::fs::read_to_string(d.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
    })
}

/// Removes directories listed deepest first; retries briefly while the kernel still
/// counts exiting tasks (EBUSY). Non-empty parents shared with others stay.
pub fn remove(dirs: &[PathBuf]) -> Result<()> {
    for d in dirs {
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 && !has_children(d) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                // A parent another container still uses.
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) || e.raw_os_error() == Some(libc::EBUSY) => break,
                Err(e) => return Err(e).ctx(|| format!("remove cgroup {}", d.display())),
            }
        }
    }
    Ok(())
}

/// Removes the empty ancestors of `dirs` that lie inside hull's own `/hull` subtree
/// (containers share them, so the last one out removes them). Directories outside
/// `/hull` are never touched unless hull created them (see [`create`]).
pub fn remove_empty_hull_ancestors(dirs: &[PathBuf], path: &Path, removed: &[PathBuf]) {
    if !path.starts_with("/hull") {
        return;
    }
    let depth = path.components().count() - 1;
    for d in dirs {
        // The hierarchy's mount point is `depth` levels above the container's directory.
        let Some(top) = d.ancestors().nth(depth - 1) else { continue };
        let mut p = d.parent();
        while let Some(dir) = p.filter(|p| p.starts_with(top)) {
            if removed.iter().any(|r| r == dir) {
                p = dir.parent(); // already gone with the container's own directories
                continue;
            }
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
            p = dir.parent();
        }
    }
}

fn has_children(d: &Path) -> bool {
    std::fs::read_dir(d).map(|rd| rd.flatten().any(|e| e.file_type().is_ok_and(|t| t.is_dir()))).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 /x /mnt/memory-again rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_layout() {
        let h = parse_mountinfo(HYBRID);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].controllers, vec!["cpu"]);
        assert_eq!(h[2].controllers, vec!["name=systemd"]);
        assert!(h[3].unified && h[3].mountpoint == Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn pure_v2_layout() {
        let h = parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(h, vec![Hierarchy { mountpoint: "/sys/fs/cgroup".into(), controllers: vec![], unified: true }]);
    }

    #[test]
    fn paths() {
        assert_eq!(container_path(Some(Path::new("/a/b")), "x"), Path::new("/a/b"));
        assert_eq!(container_path(Some(Path::new("a")), "x"), Path::new("/hull/a"));
        assert_eq!(container_path(None, "x"), Path::new("/hull/x"));
        let h = parse_mountinfo(HYBRID);
        assert_eq!(dirs(&h[..1], Path::new("/a/b")), vec![PathBuf::from("/sys/fs/cgroup/cpu/a/b")]);
    }

    #[test]
    fn unescapes_mountpoints() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}

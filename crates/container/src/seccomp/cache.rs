//! The compiled-filter cache: one file per profile under the state root, named by the
//! SHA-256 of everything the program depends on (hull's version, the machine's
//! architecture, and the profile's actions, architectures and rules). A second container
//! with the same profile reads 8 bytes per instruction instead of compiling.
//!
//! The cache lives in the runtime's state root (mode 0700, root's own): whoever can
//! write there can already rewrite every container's state. Entries are written to a
//! temporary name and renamed, so a reader never sees half a program; a damaged entry
//! is ignored and rewritten. The cache holds at most [`MAX_ENTRIES`] programs: each new
//! entry past that evicts the oldest ones (a host runs a handful of distinct profiles).

use super::bpf::Chunk;
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// The name of the cache directory inside a state root. The ':' keeps it apart from
/// container ids, which may not contain one.
pub const DIR_NAME: &str = "seccomp:cache";

/// How many programs the cache keeps.
pub const MAX_ENTRIES: usize = 64;

/// The cache key of a profile.
pub fn key(s: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(b"hull-seccomp\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(b"\0");
    let relevant = (s.default_action(), s.default_errno_ret(), s.architectures(), s.syscalls());
    h.update(serde_json::to_vec(&relevant).expect("profile serialises"));
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cached program for `key`, if there is a sound one.
pub fn get(dir: &Path, key: &str) -> Option<Chunk> {
    let bytes = std::fs::read(dir.join(key)).ok()?;
    Chunk::from_bytes(&bytes)
}

/// Stores a program; failures only cost the next container a compile.
pub fn put(dir: &Path, key: &str, program: &Chunk) {
    if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, program.to_bytes()).is_ok() && std::fs::rename(&tmp, dir.join(key)).is_ok() {
        prune(dir, MAX_ENTRIES);
        return;
    }
    let _ = std::fs::remove_file(&tmp);
}

/// Removes the oldest entries (by modification time) beyond `keep`, and temporary files
/// a crashed writer left more than a minute ago.
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now();
    let mut entries = Vec::new();
    for e in rd.flatten() {
        let Ok(modified) = e.metadata().and_then(|m| m.modified()) else { continue };
        if e.file_name().to_string_lossy().ends_with(".tmp") {
            if now.duration_since(modified).is_ok_and(|age| age.as_secs() > 60) {
                let _ = std::fs::remove_file(e.path());
            }
            continue;
        }
        entries.push((modified, e.path()));
    }
    if entries.len() <= keep {
        return;
    }
    entries.sort();
    for (_, p) in &entries[..entries.len() - keep] {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entries_go_first() {
        let dir = std::env::temp_dir().join(format!("hull-seccomp-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in 0..5 {
            let f = std::fs::File::create(dir.join(format!("k{i}"))).unwrap();
            f.set_modified(old + std::time::Duration::from_secs(i)).unwrap();
        }
        let stale = std::fs::File::create(dir.join("k9.1.tmp")).unwrap();
        stale.set_modified(old).unwrap();
        prune(&dir, 3);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["k2", "k3", "k4"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

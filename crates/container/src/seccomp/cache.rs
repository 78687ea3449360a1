//! The compiled-filter cache: one file per profile under the state root, named by the
//! SHA-256 of everything the program depends on (hull's version, the machine's
//! architecture, and the profile's actions, architectures and rules). A second container
//! with the same profile reads 8 bytes per instruction instead of compiling.
//!
//! The cache lives in the runtime's state root (mode 0700, root's own): whoever can
//! write there can already rewrite every container's state. Entries are written to a
//! temporary name and renamed, so a reader never sees half a program; a damaged entry
//! is ignored and rewritten.

use super::bpf::Chunk;
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// The name of the cache directory inside a state root. The ':' keeps it apart from
/// container ids, which may not contain one.
pub const DIR_NAME: &str = "seccomp:cache";

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
        return;
    }
    let _ = std::fs::remove_file(&tmp);
}

//! The image store under hull's root: blobs, snapshots, and the names of images.
//!
//! ```text
//! <root>/blobs/sha256/<hex>     content-addressed blobs (blobs.rs)
//! <root>/snapshots/<chain hex>/ one unpacked layer each, keyed by chain ID, read-only
//!                               once renamed into place and shared by every image
//! <root>/images.json            names -> manifests (see below)
//! <root>/tmp/                   everything in flight (partial downloads, snapshots
//!                               being unpacked); nothing there is ever read as done
//! <root>/images.lock, gc.lock   flock(2) locks
//! ```
//!
//! The metadata is one small JSON file, rewritten atomically (temp file, fsync, rename)
//! under an exclusive flock. That is the right size of tool: a host holds tens to a few
//! thousand images, every command reads the whole list anyway, and a person can read
//! the file when something goes wrong. SQLite would add a C library to a static binary
//! and a schema to migrate; redb an opaque file format; neither buys anything at this
//! size, and containers/storage (Podman) made the same choice. `gc.lock` is held shared
//! by every command that adds content and exclusively by garbage collection, so a
//! collection never removes a blob or snapshot that a pull is about to name.

use crate::blobs::BlobStore;
use crate::digest::Digest;
use crate::error::{format, io, Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// An image known by the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image ID: its config's digest, as Docker's.
    pub id: String,
    /// The manifest chosen for this host (after platform selection).
    pub manifest: String,
    /// Canonical references (`docker.io/library/busybox:latest`) naming it.
    #[serde(default)]
    pub names: Vec<String>,
    /// When it entered the store (seconds since the epoch).
    #[serde(default)]
    pub added: u64,
    /// Digests of the manifest as registries know it, `repo@sha256:…`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    images: Vec<ImageRecord>,
}

/// The store.
pub struct Store {
    root: PathBuf,
    pub blobs: BlobStore,
}

/// A held flock; released on drop.
pub struct Lock(#[allow(dead_code)] File);

/// flock(2) on an open file: exclusive or shared, waiting.
pub(crate) fn flock(f: &File, exclusive: bool) -> std::io::Result<()> {
    let op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Store {
    /// The default root: `/var/lib/hull` for root, `$XDG_DATA_HOME/hull` (or
    /// `~/.local/share/hull`) for anyone else.
    pub fn default_root() -> PathBuf {
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/lib/hull");
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("hull");
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
        home.join(".local/share/hull")
    }

    /// Opens (creating) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        let blobs = BlobStore::open(root)?;
        // Snapshots hold set-id binaries and device nodes from images: the store is
        // root's (or the user's) alone, whoever made the directory first.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(io(format!("chmod {}", root.display())))?;
        let p = root.join("snapshots");
        std::fs::create_dir_all(&p).map_err(io(format!("create {}", p.display())))?;
        Ok(Store { root: root.to_owned(), blobs })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn lock(&self, name: &str, exclusive: bool) -> Result<Lock> {
        let p = self.root.join(name);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(format!("open {}", p.display())))?;
        flock(&f, exclusive).map_err(io(format!("lock {}", p.display())))?;
        Ok(Lock(f))
    }

    /// Held by anything that adds content (shared) and by garbage collection
    /// (exclusive).
    pub fn content_lock(&self, exclusive: bool) -> Result<Lock> {
        self.lock("gc.lock", exclusive)
    }

    // ---- snapshots ----

    pub fn snapshot_path(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("snapshots").join(chain_id.hex())
    }

    pub fn has_snapshot(&self, chain_id: &Digest) -> bool {
        self.snapshot_path(chain_id).is_dir()
    }

    /// A new empty directory under tmp/ to unpack a snapshot into, named by this process.
    pub(crate) fn snapshot_tmp(&self) -> Result<PathBuf> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = self.tmp().join(format!("snap-{}-{n}", std::process::id()));
        let _ = self.remove_tree(&p);
        std::fs::create_dir(&p).map_err(io(format!("create {}", p.display())))?;
        Ok(p)
    }

    /// Moves a verified snapshot into place; if another process got there first, its
    /// copy (identical by diff ID) stays and ours is removed.
    pub(crate) fn commit_snapshot(&self, tmp: &Path, chain_id: &Digest) -> Result<()> {
        let dest = self.snapshot_path(chain_id);
        match std::fs::rename(tmp, &dest) {
            Ok(()) => {
                let dir = self.root.join("snapshots");
                File::open(&dir).and_then(|d| d.sync_all()).map_err(io(format!("fsync {}", dir.display())))
            }
            Err(_) if dest.is_dir() => self.remove_tree(tmp),
            Err(e) => {
                let _ = self.remove_tree(tmp);
                Err(Error::Io { what: format!("rename {} to {}", tmp.display(), dest.display()), source: e })
            }
        }
    }

    /// Removes a tree without following symlinks (snapshots hold untrusted ones).
    pub fn remove_tree(&self, p: &Path) -> Result<()> {
        remove_tree(p)
    }

    /// Removes a snapshot: renamed into tmp/ first, so a removal cut short never leaves
    /// a half-emptied snapshot under its chain ID.
    pub fn remove_snapshot(&self, chain_id: &Digest) -> Result<()> {
        let p = self.snapshot_path(chain_id);
        let aside = self.tmp().join(format!("snap-{}-gc-{}", std::process::id(), chain_id.hex()));
        match std::fs::rename(&p, &aside) {
            Ok(()) => self.remove_tree(&aside),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io { what: format!("move {} aside", p.display()), source: e }),
        }
    }

    /// Every snapshot in the store.
    pub fn snapshots(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("snapshots");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io(format!("list {}", dir.display())))?.flatten() {
            if let Ok(d) = format!("sha256:{}", e.file_name().to_string_lossy()).parse() {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Removes what dead processes left under tmp/ (not `.partial` downloads, which a
    /// later pull resumes, unless `partials`).
    pub fn clean_tmp(&self, partials: bool) -> Result<()> {
        let tmp = self.tmp();
        for e in std::fs::read_dir(&tmp).map_err(io(format!("list {}", tmp.display())))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').nth(1).and_then(|p| p.parse::<i32>().ok());
            let dead = pid.is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_err());
            if (name.starts_with("snap-") || name.starts_with("blob-") || name.starts_with("index-")) && dead {
                // Best effort: what cannot be removed now must not stop every later
                // command; it is retried next time.
                if let Err(err) = self.remove_tree(&e.path()) {
                    eprintln!("hull: warning: {err}");
                }
            } else if partials && name.ends_with(".partial") {
                // Only if no pull holds it.
                if let Ok(f) = File::open(e.path()) {
                    // SAFETY: flock on a descriptor we own.
                    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        Ok(())
    }

    // ---- image names ----

    /// Reads the image list.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        Ok(self.read_index()?.images)
    }

    fn read_index(&self) -> Result<Index> {
        let p = self.root.join("images.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format(p.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(Error::Io { what: format!("read {}", p.display()), source: e }),
        }
    }

    /// Changes the image list under the lock; `f` edits it and returns a value.
    pub fn update_images<T>(&self, f: impl FnOnce(&mut Vec<ImageRecord>) -> Result<T>) -> Result<T> {
        let _l = self.lock("images.lock", true)?;
        let mut idx = self.read_index()?;
        let out = f(&mut idx.images)?;
        let p = self.root.join("images.json");
        let tmp = self.tmp().join(format!("index-{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(&idx).map_err(|e| format("the image list", e))?;
        (|| {
            let mut f = File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &p)?;
            File::open(&self.root)?.sync_all()
        })()
        .map_err(io(format!("write {}", p.display())))?;
        Ok(out)
    }

    /// Records an image: its names move to it from any image that had them. Returns
    /// the record (whose manifest may be an earlier one of the same ID).
    pub fn add_image(
        &self,
        id: &Digest,
        manifest: &Digest,
        names: &[String],
        repo_digest: Option<String>,
    ) -> Result<ImageRecord> {
        hull_fault::point("image-before-record");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.update_images(|images| {
            for img in images.iter_mut() {
                img.names.retain(|n| !names.contains(n));
            }
            // One record per image ID, as Docker: the same config loaded again through
            // another manifest (a docker-archive's uncompressed layers, say) keeps the
            // manifest it had, whose blobs are in the store; the new one is collected.
            let pos = images.iter().position(|i| i.id == id.to_string());
            let rec = match pos {
                Some(p) => &mut images[p],
                None => {
                    images.push(ImageRecord {
                        id: id.to_string(),
                        manifest: manifest.to_string(),
                        names: vec![],
                        added: now,
                        repo_digests: vec![],
                    });
                    images.last_mut().expect("pushed")
                }
            };
            for n in names {
                if !rec.names.contains(n) {
                    rec.names.push(n.clone());
                }
            }
            if let Some(rd) = repo_digest {
                if !rec.repo_digests.contains(&rd) {
                    rec.repo_digests.push(rd);
                }
            }
            Ok(rec.clone())
        })
    }
}

pub use crate::tree::remove_tree;

//! The content-addressed blob store: `<root>/blobs/sha256/<hex>`, one file per blob
//! (layers, configs, manifests), shared by every image that names it.
//!
//! A blob is hashed while it is written into `<root>/tmp/`, fsynced, checked against
//! the digest it was announced with and only then renamed into place (and its directory
//! fsynced), so a reader never sees a partial or wrong blob and an interrupted write
//! leaves only a temporary file. Blobs are immutable and named by their content, so
//! several hull processes may write the same blob at once without a lock: the last
//! rename wins with identical bytes.

use crate::digest::Digest;
use crate::error::{io, Error};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The store under one root directory.
pub struct BlobStore {
    root: PathBuf,
}

/// What an announced blob must be.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub digest: Digest,
    pub size: Option<u64>,
}

impl BlobStore {
    /// Opens (and creates, mode 0700) the store at `root`.
    pub fn open(root: &Path) -> Result<BlobStore, Error> {
        use std::os::unix::fs::DirBuilderExt;
        for d in [root.join("blobs/sha256"), root.join("tmp")] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(io(format!("create {}", d.display())))?;
        }
        Ok(BlobStore { root: root.to_owned() })
    }

    /// Where the blob `d` lives (whether or not it is there).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Opens the blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File, Error> {
        File::open(self.path(d)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Missing(*d),
            _ => Error::Io { what: format!("open blob {d}"), source: e },
        })
    }

    /// Writes the blob read from `r`. With `expected`, the content must match its
    /// digest (and size when given) or nothing is stored. Returns the digest and size.
    pub fn put(&self, r: &mut dyn Read, expected: Option<Expected>) -> Result<(Digest, u64), Error> {
        if let Some(e) = expected.filter(|e| self.contains(&e.digest)) {
            // Content-addressed: the bytes are already here. Drain nothing.
            let size = std::fs::metadata(self.path(&e.digest)).map_err(io(format!("stat blob {}", e.digest)))?.len();
            return Ok((e.digest, size));
        }
        let tmp = self.temp_path();
        let result = self.write_verified(r, &tmp, expected);
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_verified(&self, r: &mut dyn Read, tmp: &Path, expected: Option<Expected>) -> Result<(Digest, u64), Error> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(io(format!("create {}", tmp.display())))?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io { what: "read the blob's content".into(), source: e }),
            };
            hash.update(&buf[..n]);
            f.write_all(&buf[..n]).map_err(io(format!("write {}", tmp.display())))?;
            size += n as u64;
        }
        let actual = Digest::from_bytes(hash.finalize().into());
        if let Some(e) = expected {
            if e.size.is_some_and(|s| s != size) {
                return Err(Error::SizeMismatch { expected: e.digest, size: e.size.unwrap_or(0), actual: size });
            }
            if e.digest != actual {
                return Err(Error::DigestMismatch { expected: e.digest, actual });
            }
        }
        f.sync_all().map_err(io(format!("fsync {}", tmp.display())))?;
        drop(f);
        let dest = self.path(&actual);
        std::fs::rename(tmp, &dest).map_err(io(format!("rename into {}", dest.display())))?;
        let dir = self.root.join("blobs/sha256");
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io(format!("fsync {}", dir.display())))?;
        Ok((actual, size))
    }

    /// Moves a file the caller has verified to hold blob `d` (and fsynced) into place.
    pub(crate) fn adopt(&self, path: &Path, d: &Digest) -> Result<(), Error> {
        let dest = self.path(d);
        std::fs::rename(path, &dest).map_err(io(format!("rename into {}", dest.display())))?;
        let dir = self.root.join("blobs/sha256");
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io(format!("fsync {}", dir.display())))
    }

    /// Stores `bytes` (a manifest or config, small) under their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, Error> {
        Ok(self.put(&mut &bytes[..], None)?.0)
    }

    /// Reads a whole (small) blob.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        self.open_blob(d)?.read_to_end(&mut v).map_err(io(format!("read blob {d}")))?;
        Ok(v)
    }

    fn temp_path(&self) -> PathBuf {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.root.join("tmp").join(format!("blob-{}-{n}", std::process::id()))
    }

    /// Rehashes a stored blob: true when its content still matches its name.
    pub fn verify(&self, d: &Digest) -> Result<bool, Error> {
        let mut f = self.open_blob(d)?;
        let mut hash = Sha256::new();
        std::io::copy(&mut f, &mut hash).map_err(io(format!("read blob {d}")))?;
        Ok(Digest::from_bytes(hash.finalize().into()) == *d)
    }

    /// Every blob in the store (names that are not digests are skipped).
    pub fn list(&self) -> Result<Vec<Digest>, Error> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io(format!("list {}", dir.display())))?.flatten() {
            if let Ok(d) = format!("sha256:{}", e.file_name().to_string_lossy()).parse() {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a blob (garbage collection decides which).
    pub fn remove(&self, d: &Digest) -> Result<(), Error> {
        match std::fs::remove_file(self.path(d)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io { what: format!("remove blob {d}"), source: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> (PathBuf, BlobStore) {
        let dir = std::env::temp_dir().join(format!("hull-blobs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = BlobStore::open(&dir).unwrap();
        (dir, s)
    }

    fn digest_of(b: &[u8]) -> Digest {
        Digest::from_bytes(Sha256::digest(b).into())
    }

    #[test]
    fn stores_by_content_and_refuses_a_wrong_digest() {
        let (dir, s) = store("put");
        let data = b"layer bytes".repeat(100_000);
        let (d, size) = s.put(&mut &data[..], None).unwrap();
        assert_eq!((d, size), (digest_of(&data), data.len() as u64));
        assert!(s.contains(&d) && s.verify(&d).unwrap());
        assert_eq!(s.list().unwrap(), [d]);
        // Announced correctly: accepted (already there, not rewritten).
        let e = Expected { digest: d, size: Some(size) };
        assert_eq!(s.put(&mut &data[..], Some(e)).unwrap(), (d, size));
        // Announced with another digest or size: nothing is stored, no temp file left.
        let other = digest_of(b"something else");
        let err = s.put(&mut &b"tampered"[..], Some(Expected { digest: other, size: None })).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        let err = s.put(&mut &b"something else"[..], Some(Expected { digest: other, size: Some(3) })).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        assert!(!s.contains(&other));
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        // A damaged blob is found out.
        std::fs::write(s.path(&d), b"bit rot").unwrap();
        assert!(!s.verify(&d).unwrap());
        s.remove(&d).unwrap();
        assert!(matches!(s.open_blob(&d), Err(Error::Missing(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_of_one_blob_agree() {
        let (dir, s) = store("race");
        let data = b"shared layer".repeat(50_000);
        let s = std::sync::Arc::new(s);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (s, data) = (s.clone(), data.clone());
                std::thread::spawn(move || s.put(&mut &data[..], None).unwrap())
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(results.iter().all(|r| *r == results[0]));
        assert!(s.verify(&results[0].0).unwrap());
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

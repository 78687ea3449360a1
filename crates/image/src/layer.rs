//! Layers in one pass: bytes (from a registry, an archive or a file) are hashed and
//! kept as a blob while they are decompressed and unpacked into a snapshot — download,
//! digest, decompress, extract, with no second pass over the disk.
//!
//! A layer in flight lives only under `tmp/`: the compressed bytes in
//! `tmp/<digest>.partial` (held with an exclusive flock, so two pulls of one layer take
//! turns and the second finds it done) and the snapshot in a directory named by the
//! process that unpacks it. Only verified content is renamed into place: the blob
//! against its digest and size, the snapshot against the config's diff ID. A pull that
//! was killed leaves its `.partial`; the next one rereads it (rehashing and unpacking
//! it from disk) and asks the source only for the rest.

use crate::digest::Digest;
use crate::error::{format, io, Error, Result};
use crate::store::Store;
use crate::unpack::{self, Options};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, Write};

/// The chain IDs of a stack of diff IDs (OCI image spec: ChainID(L0) = DiffID(L0),
/// ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => *d,
            Some(prev) => Digest::from_bytes(Sha256::digest(format!("{prev} {d}").as_bytes()).into()),
        };
        out.push(next);
    }
    out
}

/// How a layer's bytes are compressed (from their first bytes; media types lie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The decompressed stream of `r`. The magic is read whole (a source may hand over its
/// first bytes one at a time, a resumed `.partial` may hold only two).
pub fn decompress<'a, R: BufRead + 'a>(mut r: R) -> Result<Box<dyn Read + 'a>> {
    let mut head = Vec::with_capacity(4);
    while head.len() < 4 {
        let buf = r.fill_buf().map_err(io("read a layer"))?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(4 - head.len());
        head.extend_from_slice(&buf[..n]);
        r.consume(n);
    }
    let kind = Compression::sniff(&head);
    let r = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(r));
    Ok(match kind {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(io("start zstd"))?),
    })
}

/// A reader that hashes and counts what passes through it.
pub struct Hashing<R> {
    inner: R,
    hash: Sha256,
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hash: Sha256::new(), count: 0 }
    }

    /// Reads to the end and returns the digest and size of everything read.
    pub fn finish(mut self) -> std::io::Result<(Digest, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((Digest::from_bytes(self.hash.finalize().into()), self.count))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A reader that appends what it reads to a file (the `.partial` of a download), and
/// notes whether the source itself failed (then the `.partial` is worth resuming).
struct Tee<'a, R> {
    inner: R,
    file: File,
    source_failed: &'a std::cell::Cell<bool>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|_| self.source_failed.set(true))?;
        self.file.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Where a layer's compressed bytes come from: `open(offset)` returns a reader that
/// starts at `offset` if the source can (an HTTP Range request) and the offset it
/// really starts at (0 when it cannot).
pub trait Source {
    fn open(&self, offset: u64) -> Result<(Box<dyn Read + '_>, u64)>;
}

/// A whole blob already in hand.
impl<F: Fn() -> Result<Box<dyn Read>>> Source for F {
    fn open(&self, _offset: u64) -> Result<(Box<dyn Read + '_>, u64)> {
        Ok((self()?, 0))
    }
}

/// One layer of an image: its blob descriptor and where it sits in the stack.
#[derive(Debug, Clone, Copy)]
pub struct LayerRef {
    pub digest: Digest,
    pub size: Option<u64>,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

/// Makes sure the layer's blob and snapshot are in the store, fetching from `src` what
/// is missing. `progress` is told of every compressed byte read.
pub fn ingest(store: &Store, l: &LayerRef, src: &dyn Source, opts: Options, progress: &dyn Fn(u64)) -> Result<()> {
    let have_blob = store.blobs.contains(&l.digest);
    let have_snap = store.has_snapshot(&l.chain_id);
    if have_blob && have_snap {
        return Ok(());
    }
    if have_blob {
        let f = store.blobs.open_blob(&l.digest)?;
        return unpack_verified(store, l, Box::new(f), opts, progress).map(|_| ());
    }
    let partial_path = store.tmp().join(format!("{}.partial", l.digest.hex()));
    let partial = lock_partial(&partial_path)?;
    if store.blobs.contains(&l.digest) {
        // Another process finished it while we waited.
        let _ = std::fs::remove_file(&partial_path);
        return if store.has_snapshot(&l.chain_id) { Ok(()) } else { ingest(store, l, src, opts, progress) };
    }
    let have = partial.metadata().map_err(io(format!("stat {}", partial_path.display())))?.len();
    let (net, start) = src.open(have)?;
    let mut old = partial.try_clone().map_err(io("dup a descriptor"))?;
    if start > have {
        return Err(Error::Registry(format!(
            "layer {}: the source resumed at byte {start}, {have} were kept",
            l.digest
        )));
    }
    if start != have {
        // The source starts earlier (0: it ignored the range): keep only what precedes.
        partial.set_len(start).map_err(io(format!("truncate {}", partial_path.display())))?;
    }
    old.rewind().map_err(io(format!("read {}", partial_path.display())))?;
    let kept = old.take(start);
    // Never more than announced (plus one byte, to notice): an endless answer does not
    // fill the disk.
    let net: Box<dyn Read + '_> = match l.size {
        Some(size) => Box::new(net.take(size.saturating_sub(start) + 1)),
        None => net,
    };
    let source_failed = std::cell::Cell::new(false);
    let tee =
        Tee { inner: net, file: partial.try_clone().map_err(io("dup a descriptor"))?, source_failed: &source_failed };
    let reader: Box<dyn Read + '_> = Box::new(kept.chain(tee));
    let (digest, size) = if have_snap {
        let mut h = Hashing::new(Progress { inner: reader, f: progress });
        std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| fetch_error(l, e))?;
        h.finish().map_err(|e| fetch_error(l, e))?
    } else {
        match unpack_verified(store, l, reader, opts, progress) {
            Ok(v) => v,
            Err(e) => {
                // A failed source (the network) is worth resuming; bad content is not.
                if !source_failed.get() {
                    let _ = std::fs::remove_file(&partial_path);
                }
                return Err(e);
            }
        }
    };
    if l.size.is_some_and(|s| s != size) {
        let _ = std::fs::remove_file(&partial_path);
        return Err(Error::SizeMismatch { expected: l.digest, size: l.size.unwrap_or(0), actual: size });
    }
    if digest != l.digest {
        let _ = std::fs::remove_file(&partial_path);
        return Err(Error::DigestMismatch { expected: l.digest, actual: digest });
    }
    partial.sync_all().map_err(io(format!("fsync {}", partial_path.display())))?;
    if !same_file(&partial, &partial_path) {
        return Err(Error::Registry(format!(
            "layer {}: {} was replaced while locked",
            l.digest,
            partial_path.display()
        )));
    }
    hull_fault::point("layer-downloaded");
    store.blobs.adopt(&partial_path, &l.digest)?;
    Ok(())
}

fn same_file(f: &File, p: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(p)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Opens and locks the `.partial` of a download. The lock is on the file the path
/// names when we hold it: a holder that failed may have unlinked the one we waited on.
fn lock_partial(p: &std::path::Path) -> Result<File> {
    loop {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(p)
            .map_err(io(format!("open {}", p.display())))?;
        crate::store::flock(&f, true).map_err(io(format!("lock {}", p.display())))?;
        if same_file(&f, p) {
            return Ok(f);
        }
    }
}

fn fetch_error(l: &LayerRef, e: std::io::Error) -> Error {
    Error::Io { what: format!("fetch layer {}", l.digest), source: e }
}

struct Progress<'a, R> {
    inner: R,
    f: &'a dyn Fn(u64),
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.f)(n as u64);
        Ok(n)
    }
}

/// Unpacks the compressed stream `r` into a new snapshot for `l`, renamed into place
/// when its diff ID matches; returns the compressed stream's digest and size.
fn unpack_verified(
    store: &Store,
    l: &LayerRef,
    r: Box<dyn Read + '_>,
    opts: Options,
    progress: &dyn Fn(u64),
) -> Result<(Digest, u64)> {
    let mut compressed = Hashing::new(Progress { inner: r, f: progress });
    let tmp = store.snapshot_tmp()?;
    let result = (|| {
        let diff_id = {
            let buffered = BufReader::with_capacity(256 * 1024, &mut compressed);
            let mut plain = Hashing::new(decompress(buffered)?);
            unpack::unpack(&mut plain, &tmp, opts)?;
            plain.finish().map_err(|e| format(format!("layer {}", l.digest), e))?.0
        };
        if diff_id != l.diff_id {
            return Err(format(
                format!("layer {}", l.digest),
                format!("its content has diff ID {diff_id}, the image says {}", l.diff_id),
            ));
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = store.remove_tree(&tmp);
        return Err(e);
    }
    let (digest, size) = compressed.finish().map_err(|e| fetch_error(l, e))?;
    if digest != l.digest {
        let _ = store.remove_tree(&tmp);
        return Err(Error::DigestMismatch { expected: l.digest, actual: digest });
    }
    store.commit_snapshot(&tmp, &l.chain_id)?;
    Ok((digest, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a: Digest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
        let b: Digest = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".parse().unwrap();
        let c = chain_ids(&[a, b]);
        assert_eq!(c[0], a);
        let want = Sha256::digest(format!("{a} {b}").as_bytes());
        assert_eq!(c[1], Digest::from_bytes(want.into()));
    }

    #[test]
    fn gzip_zstd_and_plain_layers_unpack_alike_and_bad_bytes_leave_nothing() {
        use crate::unpack::tests::{tempdir, Layer};
        use std::io::Write as _;
        let dir = tempdir("ingest");
        let store = Store::open(&dir.join("store")).unwrap();
        let plain = Layer::new().dir("etc", 0o755).file("etc/f", b"same").bytes();
        let diff_id = Digest::from_bytes(Sha256::digest(&plain).into());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::stream::encode_all(&plain[..], 3).unwrap();
        for (i, bytes) in [plain.clone(), gz, zst].into_iter().enumerate() {
            // A distinct chain per form so each is really unpacked.
            let chain = Digest::from_bytes([i as u8 + 1; 32]);
            let l = LayerRef {
                digest: Digest::from_bytes(Sha256::digest(&bytes).into()),
                size: Some(bytes.len() as u64),
                diff_id,
                chain_id: chain,
            };
            let b2 = bytes.clone();
            let src = move || -> Result<Box<dyn Read>> { Ok(Box::new(std::io::Cursor::new(b2.clone()))) };
            let seen = std::sync::atomic::AtomicU64::new(0);
            ingest(&store, &l, &src, Options::default(), &|n| {
                seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
            assert_eq!(seen.into_inner(), bytes.len() as u64, "progress counts every compressed byte");
            assert_eq!(std::fs::read(store.snapshot_path(&chain).join("etc/f")).unwrap(), b"same");
            assert!(store.blobs.verify(&l.digest).unwrap());
        }
        // Bytes that do not match the announced digest: no blob, no snapshot, no partial.
        let chain = Digest::from_bytes([9; 32]);
        let l = LayerRef { digest: Digest::from_bytes([7; 32]), size: None, diff_id, chain_id: chain };
        let p2 = plain.clone();
        let src = move || -> Result<Box<dyn Read>> { Ok(Box::new(std::io::Cursor::new(p2.clone()))) };
        let e = ingest(&store, &l, &src, Options::default(), &|_| {}).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(!store.has_snapshot(&chain) && !store.blobs.contains(&l.digest));
        assert_eq!(std::fs::read_dir(store.tmp()).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Hands out one byte per read, as a slow network may.
    struct Trickle<R>(R);
    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn compression_is_sniffed_from_whole_magic_even_a_byte_at_a_time() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"payload").unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::stream::encode_all(&b"payload"[..], 3).unwrap();
        for data in [gz, zst, b"payload".to_vec()] {
            // A BufReader of capacity 1 over a trickle: fill_buf yields one byte.
            let r = BufReader::with_capacity(1, Trickle(std::io::Cursor::new(data)));
            let mut out = Vec::new();
            decompress(r).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, b"payload");
        }
    }

    #[test]
    fn sniffs_compression() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(Compression::sniff(b"etc/\0\0"), Compression::None);
    }
}

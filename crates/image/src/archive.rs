//! Images in files: OCI image layouts (a directory), oci-archive (a tar of one),
//! docker-archive (`docker save`: `manifest.json` with `RepoTags`), both ways; and
//! `hull import`, which makes a one-layer image of a root filesystem.
//!
//! An archive is read in place: one pass over its tar headers records where every
//! member lies (seeking over the data), then members are read where they are, so
//! `index.json` or `manifest.json` may come anywhere in it. Layers go through the same
//! one-pass ingest as a pull (hashed, kept as blobs, unpacked into snapshots).

use crate::digest::Digest;
use crate::error::{format, io, Error, Result};
use crate::image::{
    self, digest_of, parse_manifest, Manifestish, Platform, DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX,
    OCI_LAYER_GZIP, OCI_MANIFEST,
};
use crate::layer::{self, Hashing, LayerRef};
use crate::reference::Reference;
use crate::store::Store;
use crate::unpack::Options;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The members of an archive or layout directory, read by path.
enum Members {
    Dir(PathBuf),
    Tar { file: PathBuf, index: HashMap<String, (u64, u64)> },
}

fn clean_member(p: &str) -> String {
    p.trim_start_matches("./").trim_start_matches('/').to_string()
}

impl Members {
    fn open_tar(path: &Path) -> Result<Members> {
        let f = File::open(path).map_err(io(format!("open {}", path.display())))?;
        let mut a = tar::Archive::new(f);
        let mut index = HashMap::new();
        // The tar crate's reasons quote the header's bytes: their first clause is enough.
        let not_tar = |e: std::io::Error| {
            let why = e.to_string();
            let head = why.split(':').next().unwrap_or_default().to_owned();
            format(path.display().to_string(), format!("not a tar archive, or a damaged one ({head})"))
        };
        for e in a.entries_with_seek().map_err(not_tar)? {
            let e = e.map_err(not_tar)?;
            let t = e.header().entry_type();
            if t.is_file() {
                let name = clean_member(&String::from_utf8_lossy(&e.path_bytes()));
                index.insert(name, (e.raw_file_position(), e.size()));
            } else if t.is_symlink() || t.is_hard_link() {
                // Docker's archives link duplicate layers; resolve once the target is seen.
                if let Some(target) = e.link_name_bytes() {
                    let name = clean_member(&String::from_utf8_lossy(&e.path_bytes()));
                    let mut t = clean_member(&String::from_utf8_lossy(&target));
                    if e.header().entry_type().is_symlink() {
                        if let Some(dir) = Path::new(&name).parent().filter(|d| !d.as_os_str().is_empty()) {
                            t = clean_member(&normalize(&dir.join(&t)));
                        }
                    }
                    if let Some(v) = index.get(&t).copied() {
                        index.insert(name, v);
                    }
                }
            }
        }
        Ok(Members::Tar { file: path.to_owned(), index })
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        let name = clean_member(name);
        match self {
            Members::Dir(d) => {
                if name.split('/').any(|c| c == "..") {
                    return Err(format(d.display().to_string(), format!("member {name:?} is outside the layout")));
                }
                let p = d.join(&name);
                Ok(Box::new(File::open(&p).map_err(io(format!("open {}", p.display())))?))
            }
            Members::Tar { file, index } => {
                let (pos, size) = *index
                    .get(&name)
                    .ok_or_else(|| format(file.display().to_string(), format!("no member {name:?}")))?;
                let mut f = File::open(file).map_err(io(format!("open {}", file.display())))?;
                f.seek(SeekFrom::Start(pos)).map_err(io(format!("read {}", file.display())))?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            Members::Dir(d) => d.join(clean_member(name)).is_file(),
            Members::Tar { index, .. } => index.contains_key(&clean_member(name)),
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open(name)?.read_to_end(&mut v).map_err(io(format!("read {name}")))?;
        Ok(v)
    }
}

fn normalize(p: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    out.join("/")
}

/// What `load` found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// (canonical names, image ID) per image.
    pub images: Vec<(Vec<String>, Digest)>,
}

/// Loads every image in a docker-archive, oci-archive or OCI layout directory.
pub fn load(store: &Store, path: &Path, platform: &Platform, opts: Options) -> Result<Loaded> {
    let _content = store.content_lock(false)?;
    let members = if path.is_dir() { Members::Dir(path.to_owned()) } else { Members::open_tar(path)? };
    if members.exists("manifest.json") {
        load_docker(store, &members, opts)
    } else if members.exists("index.json") {
        load_oci(store, &members, platform, opts)
    } else {
        Err(format(
            path.display().to_string(),
            "neither a docker-archive (manifest.json) nor an OCI layout (index.json)",
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn load_docker(store: &Store, m: &Members, opts: Options) -> Result<Loaded> {
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(&m.read("manifest.json")?).map_err(|e| format("manifest.json", e))?;
    let mut out = Loaded::default();
    for e in entries {
        let config_bytes = m.read(&e.config)?;
        let config: oci_spec::image::ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(|err| format(e.config.clone(), err))?;
        let diff_ids: Vec<Digest> = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse().map_err(|err| format(e.config.clone(), err)))
            .collect::<Result<_>>()?;
        if diff_ids.len() != e.layers.len() {
            return Err(format(
                &e.config,
                format!("{} layers listed, {} diff IDs in the config", e.layers.len(), diff_ids.len()),
            ));
        }
        let chains = layer::chain_ids(&diff_ids);
        let mut descs = Vec::new();
        for (i, path) in e.layers.iter().enumerate() {
            // The blob is the member as it is (docker save writes uncompressed tars);
            // its digest is learnt while it is ingested.
            let (digest, size, media) = ingest_unknown(store, m, path, diff_ids[i], chains[i], opts)?;
            descs.push(serde_json::json!({"mediaType": media, "size": size, "digest": digest.to_string()}));
        }
        let config_digest = store.blobs.put_bytes(&config_bytes)?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": config_bytes.len(), "digest": config_digest.to_string()},
            "layers": descs,
        });
        let manifest_digest = store.blobs.put_bytes(&serde_json::to_vec(&manifest).expect("json"))?;
        let names: Vec<String> = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t).map(|r| r.to_string()))
            .collect::<Result<_>>()?;
        store.add_image(&config_digest, &manifest_digest, &names, None)?;
        out.images.push((names, config_digest));
    }
    Ok(out)
}

/// Ingests a layer whose blob digest is not known in advance (docker-archive): hash it
/// first (a read of the member), then ingest it as a known blob.
fn ingest_unknown(
    store: &Store,
    m: &Members,
    path: &str,
    diff_id: Digest,
    chain_id: Digest,
    opts: Options,
) -> Result<(Digest, u64, &'static str)> {
    let mut head = [0u8; 4];
    let n = m.open(path)?.read(&mut head).map_err(io(format!("read {path}")))?;
    let media = match layer::Compression::sniff(&head[..n]) {
        layer::Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
        layer::Compression::Gzip => image::DOCKER_LAYER_GZIP,
        layer::Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    };
    let (digest, size) = if media == "application/vnd.docker.image.rootfs.diff.tar" {
        // Uncompressed: the blob digest is the diff ID; the config vouches for it and
        // ingest checks it.
        (diff_id, None)
    } else {
        let (d, s) = Hashing::new(m.open(path)?).finish().map_err(io(format!("read {path}")))?;
        (d, Some(s))
    };
    let l = LayerRef { digest, size, diff_id, chain_id };
    let src = || -> Result<Box<dyn Read>> { m.open(path).map(|r| r as Box<dyn Read>) };
    layer::ingest(store, &l, &src, opts, &|_| {})?;
    let size = std::fs::metadata(store.blobs.path(&digest)).map_err(io(format!("stat blob {digest}")))?.len();
    Ok((digest, size, media))
}

fn load_oci(store: &Store, m: &Members, platform: &Platform, opts: Options) -> Result<Loaded> {
    let index_bytes = m.read("index.json")?;
    let Manifestish::Index(index) = parse_manifest(&index_bytes, Some(OCI_INDEX), "index.json")? else {
        return Err(format("index.json", "not an image index"));
    };
    let mut out = Loaded::default();
    for desc in index.manifests() {
        let ann = desc.annotations().clone().unwrap_or_default();
        let name = ann.get("io.containerd.image.name").cloned().or_else(|| {
            ann.get("org.opencontainers.image.ref.name").filter(|n| n.contains('/') || n.contains(':')).cloned()
        });
        let names: Vec<String> = match name {
            Some(n) => vec![Reference::parse(&n)?.to_string()],
            None => vec![],
        };
        let (id, manifest_digest) = load_oci_manifest(store, m, desc, platform, opts, 0)?;
        store.add_image(&id, &manifest_digest, &names, None)?;
        out.images.push((names, id));
    }
    Ok(out)
}

fn blob_member(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Copies a small blob (manifest, config) from the archive into the store, verified.
fn copy_blob(store: &Store, m: &Members, d: &Digest, size: u64) -> Result<Vec<u8>> {
    if size > 64 << 20 {
        return Err(format(d.to_string(), "a manifest or config over 64 MiB"));
    }
    let mut r = m.open(&blob_member(d))?;
    store.blobs.put(&mut r, Some(crate::blobs::Expected { digest: *d, size: Some(size) }))?;
    store.blobs.read(d)
}

fn load_oci_manifest(
    store: &Store,
    m: &Members,
    desc: &oci_spec::image::Descriptor,
    platform: &Platform,
    opts: Options,
    depth: u32,
) -> Result<(Digest, Digest)> {
    let d = digest_of(desc)?;
    let bytes = copy_blob(store, m, &d, desc.size())?;
    match parse_manifest(&bytes, Some(desc.media_type().as_ref()), &format!("manifest {d}"))? {
        Manifestish::Index(idx) => {
            if depth > 4 {
                return Err(format(d.to_string(), "indexes nested too deep"));
            }
            let chosen =
                platform.select(&idx).ok_or_else(|| format(d.to_string(), format!("no image for {platform}")))?;
            load_oci_manifest(store, m, chosen, platform, opts, depth + 1)
        }
        Manifestish::Manifest(man) => {
            let cd = digest_of(man.config())?;
            let config_bytes = copy_blob(store, m, &cd, man.config().size())?;
            let config: oci_spec::image::ImageConfiguration =
                serde_json::from_slice(&config_bytes).map_err(|e| format(format!("config {cd}"), e))?;
            for l in image::layers_of(&man, &config)? {
                let member = blob_member(&l.digest);
                let src = || -> Result<Box<dyn Read>> { m.open(&member).map(|r| r as Box<dyn Read>) };
                layer::ingest(store, &l, &src, opts, &|_| {})?;
            }
            Ok((cd, d))
        }
    }
}

/// The format `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

/// Writes the images named to `out` as a tar archive.
pub fn save(store: &Store, names: &[String], format_: Format, out: &mut dyn Write) -> Result<()> {
    let _content = store.content_lock(false)?;
    let mut images = Vec::new();
    for n in names {
        let rec = store.find(n)?;
        let tag = Reference::parse(n).ok().map(|r| r.to_string()).filter(|c| rec.names.contains(c));
        images.push((store.load(&rec)?, tag, rec));
    }
    let mut b = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    match format_ {
        Format::DockerArchive => {
            let mut entries = Vec::new();
            for (img, tag, rec) in &images {
                let id = img.id();
                let config_name = format!("{}.json", id.hex());
                if written.insert(config_name.clone()) {
                    append(&mut b, &config_name, &img.config_bytes)?;
                }
                let mut layers = Vec::new();
                for l in &img.layers {
                    let name = format!("{}/layer.tar", l.diff_id.hex());
                    if written.insert(name.clone()) {
                        append_layer_uncompressed(store, &mut b, &name, l)?;
                    }
                    layers.push(name);
                }
                let tags: Vec<String> = match tag {
                    Some(t) => vec![Reference::familiar(t)],
                    None => rec.names.iter().map(|n| Reference::familiar(n)).collect(),
                };
                entries.push(serde_json::json!({"Config": config_name, "RepoTags": tags, "Layers": layers}));
            }
            append(&mut b, "manifest.json", &serde_json::to_vec(&entries).expect("json"))?;
        }
        Format::OciArchive => {
            append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            let mut manifests = Vec::new();
            for (img, tag, rec) in &images {
                let mut blobs: Vec<(Digest, Option<Vec<u8>>)> =
                    vec![(img.manifest_digest, Some(img.manifest_bytes.clone()))];
                blobs.push((img.id(), Some(img.config_bytes.clone())));
                blobs.extend(img.layers.iter().map(|l| (l.digest, None)));
                for (d, bytes) in blobs {
                    let name = blob_member(&d);
                    if !written.insert(name.clone()) {
                        continue;
                    }
                    match bytes {
                        Some(bytes) => append(&mut b, &name, &bytes)?,
                        None => append_blob(store, &mut b, &name, &d)?,
                    }
                }
                let mt = serde_json::from_slice::<serde_json::Value>(&img.manifest_bytes)
                    .ok()
                    .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
                    .unwrap_or_else(|| OCI_MANIFEST.to_string());
                let name = tag.clone().or_else(|| rec.names.first().cloned());
                let mut desc = serde_json::json!({"mediaType": mt, "digest": img.manifest_digest.to_string(), "size": img.manifest_bytes.len()});
                if let Some(n) = name {
                    let r = Reference::parse(&n)?;
                    desc["annotations"] = serde_json::json!({
                        "io.containerd.image.name": n,
                        "org.opencontainers.image.ref.name": r.tag.unwrap_or_else(|| "latest".into()),
                    });
                }
                manifests.push(desc);
            }
            let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
            append(&mut b, "index.json", &serde_json::to_vec(&index).expect("json"))?;
        }
    }
    b.into_inner().and_then(|w| w.flush()).map_err(io("write the archive"))?;
    Ok(())
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    h
}

fn append(b: &mut tar::Builder<&mut dyn Write>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = header(data.len() as u64);
    b.append_data(&mut h, name, data).map_err(io(format!("write {name} into the archive")))
}

fn append_blob(store: &Store, b: &mut tar::Builder<&mut dyn Write>, name: &str, d: &Digest) -> Result<()> {
    let f = store.blobs.open_blob(d)?;
    let size = f.metadata().map_err(io(format!("stat blob {d}")))?.len();
    let mut h = header(size);
    b.append_data(&mut h, name, f).map_err(io(format!("write {name} into the archive")))
}

/// docker-archive layers are uncompressed tars: decompress into tmp/ (the size goes in
/// the header before the data), checked against the diff ID.
fn append_layer_uncompressed(
    store: &Store,
    b: &mut tar::Builder<&mut dyn Write>,
    name: &str,
    l: &LayerRef,
) -> Result<()> {
    let f = BufReader::new(store.blobs.open_blob(&l.digest)?);
    let mut plain = Hashing::new(layer::decompress(f)?);
    let tmp = store.tmp().join(format!("blob-{}-save-{}", std::process::id(), l.diff_id.hex()));
    let result = (|| {
        let mut out = File::create(&tmp).map_err(io(format!("create {}", tmp.display())))?;
        std::io::copy(&mut plain, &mut out).map_err(io(format!("decompress layer {}", l.digest)))?;
        let (diff, size) = plain.finish().map_err(io(format!("decompress layer {}", l.digest)))?;
        if diff != l.diff_id {
            return Err(format(
                format!("layer {}", l.digest),
                format!("decompresses to {diff}, the config says {}", l.diff_id),
            ));
        }
        let f = File::open(&tmp).map_err(io(format!("open {}", tmp.display())))?;
        let mut h = header(size);
        b.append_data(&mut h, name, f).map_err(io(format!("write {name} into the archive")))
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// `hull import`: a root filesystem (a tarball, compressed or not, or a directory)
/// becomes a one-layer image named `name` (if given). Returns its ID.
pub fn import(store: &Store, src: &Path, name: Option<&str>, opts: Options) -> Result<Digest> {
    let names: Vec<String> = match name {
        Some(n) => vec![Reference::parse(n)?.to_string()],
        None => vec![],
    };
    let _content = store.content_lock(false)?;
    let (diff_id, digest, size) = write_layer(store, &mut |tee| {
        if src.is_dir() {
            crate::pack::pack_dir(src, tee)
        } else {
            let f = File::open(src).map_err(io(format!("open {}", src.display())))?;
            let mut plain = layer::decompress(BufReader::new(f))?;
            std::io::copy(&mut plain, tee).map_err(io(format!("read {}", src.display())))?;
            Ok(())
        }
    })?;
    let l = LayerRef { digest, size: Some(size), diff_id, chain_id: diff_id };
    let src_fn = || -> Result<Box<dyn Read>> { Err(Error::Missing(digest)) };
    layer::ingest(store, &l, &src_fn, opts, &|_| {})?;
    let p = Platform::host();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let config = serde_json::json!({
        "created": now,
        "architecture": p.arch,
        "os": p.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": now, "created_by": "hull import", "comment": format!("imported from {}", src.display())}],
    });
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let config_digest = store.blobs.put_bytes(&config_bytes)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config_bytes.len(), "digest": config_digest.to_string()},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "size": size, "digest": digest.to_string()}],
    });
    let manifest_digest = store.blobs.put_bytes(&serde_json::to_vec(&manifest).expect("json"))?;
    store.add_image(&config_digest, &manifest_digest, &names, None)?;
    Ok(config_digest)
}

/// Makes a gzipped layer blob in the store of the uncompressed tar that `write`
/// writes, hashing both on the way. Returns the diff ID, the blob's digest and size.
/// The caller holds the content lock.
pub(crate) fn write_layer(
    store: &Store,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<(Digest, Digest, u64)> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = store.tmp().join(format!("blob-{}-{n}-layer", std::process::id()));
    let result = (|| {
        let out = File::create(&tmp).map_err(io(format!("create {}", tmp.display())))?;
        let gz = flate2::write::GzEncoder::new(HashingWriter::new(out), flate2::Compression::fast());
        let mut tee = HashingWriter::new(gz);
        write(&mut tee)?;
        let (diff_id, _) = tee.finish();
        let gz = tee.inner;
        let hw = gz.finish().map_err(io(format!("write {}", tmp.display())))?;
        let (digest, size) = hw.finish();
        hw.inner.sync_all().map_err(io(format!("fsync {}", tmp.display())))?;
        Ok((diff_id, digest, size))
    })();
    let (diff_id, digest, size) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if store.blobs.contains(&digest) {
        let _ = std::fs::remove_file(&tmp);
    } else {
        store.blobs.adopt(&tmp, &digest)?;
    }
    Ok((diff_id, digest, size))
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: sha2::Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter { inner, hash: <sha2::Sha256 as sha2::Digest>::new(), count: 0 }
    }

    fn finish(&self) -> (Digest, u64) {
        (Digest::from_bytes(sha2::Digest::finalize(self.hash.clone()).into()), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hash, &buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Docker's lines for what `load` loaded (`Loaded image: …` or `Loaded image ID: …`).
pub fn describe(loaded: &Loaded) -> Vec<String> {
    loaded
        .images
        .iter()
        .flat_map(|(names, id)| {
            if names.is_empty() {
                vec![format!("Loaded image ID: {id}")]
            } else {
                names.iter().map(|n| format!("Loaded image: {}", Reference::familiar(n))).collect()
            }
        })
        .collect()
}

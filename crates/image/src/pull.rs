//! `hull pull`: a manifest (through an index, for this platform), its config, and its
//! layers, several at a time, each streamed from the registry through the one-pass
//! ingest (hashed, kept, decompressed, unpacked) and resumed from its `.partial` if an
//! earlier pull was cut off.

use crate::digest::Digest;
use crate::error::{format, Error, Result};
use crate::image::{digest_of, layers_of, parse_manifest, Manifestish, Platform};
use crate::layer::{self, LayerRef, Source};
use crate::reference::Reference;
use crate::registry::{self, Client};
use crate::store::Store;
use crate::unpack;
use std::io::Read;
use std::sync::Mutex;

/// What a transfer reports, layer by layer (the command line draws it).
pub trait Progress: Sync {
    /// A layer is known, with its compressed size.
    fn start(&self, _layer: &Digest, _size: Option<u64>) {}
    /// `n` more bytes of it arrived.
    fn advance(&self, _layer: &Digest, _n: u64) {}
    /// It is done: `status` is Docker's word ("Pull complete", "Already exists", …).
    fn finish(&self, _layer: &Digest, _status: &str) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: Platform,
    pub registry: registry::Options,
    pub unpack: unpack::Options,
    /// Layers fetched at once (Docker's max-concurrent-downloads is 3).
    pub jobs: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions { platform: Platform::host(), registry: Default::default(), unpack: Default::default(), jobs: 3 }
    }
}

/// What a pull brought.
#[derive(Debug)]
pub struct Pulled {
    pub reference: Reference,
    pub id: Digest,
    /// The digest the registry knows the image by (the index's, for a multi-platform
    /// image), as `docker pull` prints it.
    pub repo_digest: Digest,
    /// True when everything was already in the store.
    pub up_to_date: bool,
}

struct BlobSource<'a> {
    client: &'a Client,
    digest: Digest,
}

impl Source for BlobSource<'_> {
    fn open(&self, offset: u64) -> Result<(Box<dyn Read + '_>, u64)> {
        let (r, start) = self.client.blob(&self.digest, offset)?;
        Ok((r, start))
    }
}

/// Pulls `name` into the store.
pub fn pull(store: &Store, name: &str, opts: &PullOptions, progress: &dyn Progress) -> Result<Pulled> {
    let reference = Reference::parse(name)?;
    let client = Client::new(&reference, opts.registry.clone(), false, None)?;
    let _content = store.content_lock(false)?;
    store.clean_tmp(false)?;
    let top = client.manifest(&reference.object())?;
    let repo_digest = top.digest;
    let mut fetched = top;
    let manifest = loop {
        let what = format!("manifest {} of {}", fetched.digest, reference);
        match parse_manifest(&fetched.bytes, fetched.media_type.as_deref(), &what)? {
            Manifestish::Manifest(m) => break m,
            Manifestish::Index(idx) => {
                let chosen = opts.platform.select(&idx).ok_or_else(|| {
                    let have: Vec<String> = idx
                        .manifests()
                        .iter()
                        .filter_map(|d| d.platform().as_ref().map(|p| format!("{}/{}", p.os(), p.architecture())))
                        .collect();
                    Error::Registry(format!(
                        "{reference}: no image for {} (the index has {})",
                        opts.platform,
                        have.join(", ")
                    ))
                })?;
                let d = digest_of(chosen)?;
                if d == fetched.digest {
                    return Err(format(what, "an index that names itself"));
                }
                fetched = client.manifest(&d.to_string())?;
            }
        }
    };
    let manifest_digest = fetched.digest;
    let config_digest = digest_of(manifest.config())?;
    let config_bytes = if store.blobs.contains(&config_digest) {
        store.blobs.read(&config_digest)?
    } else {
        client.blob_bytes(&config_digest, 16 << 20)?
    };
    let config: oci_spec::image::ImageConfiguration = serde_json::from_slice(&config_bytes)
        .map_err(|e| format(format!("config {config_digest} of {reference}"), e))?;
    let layers = layers_of(&manifest, &config)?;
    let up_to_date = store.blobs.contains(&manifest_digest)
        && layers.iter().all(|l| store.blobs.contains(&l.digest) && store.has_snapshot(&l.chain_id));
    fetch_layers(store, &client, &layers, opts, progress)?;
    store.blobs.put_bytes(&config_bytes)?;
    store.blobs.put_bytes(&fetched.bytes)?;
    let names = if reference.digest.is_none() { vec![reference.to_string()] } else { vec![] };
    let rec = store.add_image(
        &config_digest,
        &manifest_digest,
        &names,
        Some(format!("{}@{repo_digest}", reference.name())),
    )?;
    Ok(Pulled { reference, id: rec.id.parse().map_err(|e| format("the image list", e))?, repo_digest, up_to_date })
}

/// Ingests the layers, `opts.jobs` at a time; the first error stops the others from
/// starting new layers.
fn fetch_layers(
    store: &Store,
    client: &Client,
    layers: &[LayerRef],
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let queue = Mutex::new(layers.iter().collect::<std::collections::VecDeque<_>>());
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    for l in layers {
        progress.start(&l.digest, l.size);
    }
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(layers.len().max(1)) {
            s.spawn(|| loop {
                if failed.lock().expect("lock").is_some() {
                    return;
                }
                let Some(l) = queue.lock().expect("lock").pop_front() else { return };
                if store.blobs.contains(&l.digest) && store.has_snapshot(&l.chain_id) {
                    progress.finish(&l.digest, "Already exists");
                    continue;
                }
                let src = BlobSource { client, digest: l.digest };
                let d = l.digest;
                match layer::ingest(store, l, &src, opts.unpack, &|n| progress.advance(&d, n)) {
                    Ok(()) => progress.finish(&l.digest, "Pull complete"),
                    Err(e) => {
                        progress.finish(&l.digest, "Failed");
                        failed.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    match failed.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

//! Images in the store: manifests (OCI and Docker v2 schema 2), indexes and manifest
//! lists with platform selection, configs, their layer stacks, lookup by name or ID,
//! removal and garbage collection.

use crate::digest::Digest;
use crate::error::{format, Error, Result};
use crate::layer::{chain_ids, LayerRef};
use crate::reference::Reference;
use crate::store::{ImageRecord, Store};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use std::collections::HashSet;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type hull reads, for Accept headers.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// A manifest or an index (manifest list); short-lived, so not boxed.
#[allow(clippy::large_enum_variant)]
pub enum Manifestish {
    Manifest(ImageManifest),
    Index(ImageIndex),
}

/// Parses manifest bytes; `media_type` is what the source said (a registry's
/// Content-Type), used when the document does not say itself.
pub fn parse_manifest(bytes: &[u8], media_type: Option<&str>, what: &str) -> Result<Manifestish> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format(what, e))?;
    let declared = v.get("mediaType").and_then(|m| m.as_str()).or(media_type).unwrap_or("");
    let is_index =
        declared == OCI_INDEX || declared == DOCKER_LIST || (declared.is_empty() && v.get("manifests").is_some());
    if v.get("schemaVersion").and_then(|s| s.as_u64()) != Some(2) {
        return Err(format(what, "not a schema version 2 manifest (schema 1 is not supported)"));
    }
    if is_index {
        Ok(Manifestish::Index(serde_json::from_value(v).map_err(|e| format(what, e))?))
    } else {
        Ok(Manifestish::Manifest(serde_json::from_value(v).map_err(|e| format(what, e))?))
    }
}

/// An OS/architecture pair (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This host's platform, in Go's names.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform { os: "linux".into(), arch: arch.into(), variant: None }
    }

    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] => Ok(Platform { os: os.to_string(), arch: arch.to_string(), variant: None }),
            [os, arch, v] => Ok(Platform { os: os.to_string(), arch: arch.to_string(), variant: Some(v.to_string()) }),
            _ => Err(Error::Reference(format!("invalid platform {s:?}: want os/arch[/variant]"))),
        }
    }

    /// The descriptor in `index` for this platform.
    pub fn select<'a>(&self, index: &'a ImageIndex) -> Option<&'a Descriptor> {
        let matches = |d: &&Descriptor| {
            d.platform().as_ref().is_some_and(|p| {
                p.os().to_string() == self.os
                    && p.architecture().to_string() == self.arch
                    && self.variant.as_ref().is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
            })
        };
        index.manifests().iter().find(matches)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

pub(crate) fn digest_of(d: &Descriptor) -> Result<Digest> {
    d.digest().to_string().parse::<Digest>().map_err(|e| format("a descriptor", e))
}

/// The layers of an image: its manifest's blobs paired with its config's diff IDs.
pub fn layers_of(manifest: &ImageManifest, config: &ImageConfiguration) -> Result<Vec<LayerRef>> {
    let diff_ids: Vec<Digest> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| d.parse::<Digest>().map_err(|e| format("the image config's diff IDs", e)))
        .collect::<Result<_>>()?;
    if diff_ids.len() != manifest.layers().len() {
        return Err(format(
            "the image",
            format!("{} layers in the manifest, {} diff IDs in the config", manifest.layers().len(), diff_ids.len()),
        ));
    }
    let chains = chain_ids(&diff_ids);
    manifest
        .layers()
        .iter()
        .zip(diff_ids.iter().zip(chains))
        .map(|(l, (diff_id, chain_id))| {
            Ok(LayerRef { digest: digest_of(l)?, size: Some(l.size()), diff_id: *diff_id, chain_id })
        })
        .collect()
}

/// An image read from the store.
pub struct Image {
    pub record: ImageRecord,
    pub manifest_digest: Digest,
    pub manifest_bytes: Vec<u8>,
    pub manifest: ImageManifest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfiguration,
    pub layers: Vec<LayerRef>,
}

impl Image {
    /// A key of the config's `config` section that Docker has and the OCI types leave
    /// out (`Healthcheck`, `Shell`, `OnBuild`), read from the config's raw bytes: the one
    /// place hull reads them.
    pub fn docker_config(&self, key: &str) -> Option<serde_json::Value> {
        docker_config(&self.config_bytes, key)
    }

    pub fn id(&self) -> Digest {
        self.record.id.parse().expect("IDs in the store are digests")
    }

    /// Total size of the unpacked layers' blobs (what `docker images` calls SIZE is
    /// the uncompressed size; the compressed one is what we know without walking).
    pub fn size(&self) -> u64 {
        self.manifest.layers().iter().map(|l| l.size()).sum::<u64>() + self.config_bytes.len() as u64
    }
}

impl Store {
    /// Finds an image by name (`busybox`, `busybox:1`, `localhost:5000/x@sha256:…`), by
    /// ID or by a unique prefix of its ID's hex.
    pub fn find(&self, name: &str) -> Result<ImageRecord> {
        let images = self.images()?;
        if let Ok(r) = Reference::parse(name) {
            let canonical = r.to_string();
            if let Some(i) = images.iter().find(|i| i.names.contains(&canonical)) {
                return Ok(i.clone());
            }
            if let Some(d) = &r.digest {
                let want = format!("{}@{d}", r.name());
                if let Some(i) = images.iter().find(|i| i.repo_digests.contains(&want) || i.manifest == d.to_string()) {
                    return Ok(i.clone());
                }
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let found: Vec<&ImageRecord> =
                images.iter().filter(|i| i.id.strip_prefix("sha256:").is_some_and(|h| h.starts_with(hex))).collect();
            let ids: HashSet<&str> = found.iter().map(|i| i.id.as_str()).collect();
            match ids.len() {
                1 => return Ok(found[0].clone()),
                0 => {}
                _ => return Err(Error::Reference(format!("{name}: more than one image has an ID starting so"))),
            }
        }
        Err(Error::NoSuchImage(name.to_owned()))
    }

    /// Reads an image's manifest, config and layers.
    pub fn load(&self, record: &ImageRecord) -> Result<Image> {
        let manifest_digest: Digest = record.manifest.parse().map_err(|e| format("the image list", e))?;
        let manifest_bytes = self.blobs.read(&manifest_digest)?;
        let what = format!("manifest {manifest_digest}");
        let Manifestish::Manifest(manifest) = parse_manifest(&manifest_bytes, None, &what)? else {
            return Err(format(what, "an index where a manifest was expected"));
        };
        let config_digest = digest_of(manifest.config())?;
        let config_bytes = self.blobs.read(&config_digest)?;
        let config: ImageConfiguration =
            serde_json::from_slice(&config_bytes).map_err(|e| format(format!("config {config_digest}"), e))?;
        let layers = layers_of(&manifest, &config)?;
        Ok(Image { record: record.clone(), manifest_digest, manifest_bytes, manifest, config_bytes, config, layers })
    }

    /// Gives the image `source` the name `target` (`hull tag`).
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let rec = self.find(source)?;
        let r = Reference::parse(target)?;
        if r.digest.is_some() {
            return Err(Error::Reference(format!("refusing to create a tag with a digest reference: {target}")));
        }
        let name = r.to_string();
        self.update_images(|images| {
            for i in images.iter_mut() {
                i.names.retain(|n| *n != name);
            }
            if let Some(i) = images.iter_mut().find(|i| i.id == rec.id) {
                i.names.push(name.clone());
            }
            Ok(())
        })
    }

    /// `hull rmi`: removes a name; the image goes when no name is left (or when named
    /// by ID, with all its names if `force`). Returns Docker's lines (`Untagged: …`,
    /// `Deleted: …`). Unreferenced content is collected afterwards.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<String>> {
        let rec = self.find(name)?;
        let by_name = Reference::parse(name).ok().map(|r| r.to_string()).filter(|c| rec.names.contains(c));
        let mut lines = Vec::new();
        self.update_images(|images| {
            let Some(pos) = images.iter().position(|i| i.id == rec.id) else {
                return Err(Error::NoSuchImage(name.to_owned()));
            };
            match &by_name {
                Some(n) if images[pos].names.len() > 1 => {
                    images[pos].names.retain(|x| x != n);
                    lines.push(format!("Untagged: {}", Reference::familiar(n)));
                }
                _ => {
                    if by_name.is_none() && images[pos].names.len() > 1 && !force {
                        return Err(Error::Reference(format!(
                            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                            short_id(&rec.id)
                        )));
                    }
                    let gone = images.remove(pos);
                    for n in &gone.names {
                        lines.push(format!("Untagged: {}", Reference::familiar(n)));
                    }
                    lines.push(format!("Deleted: {}", gone.id));
                }
            }
            Ok(())
        })?;
        self.collect_garbage()?;
        Ok(lines)
    }

    /// Removes every blob and snapshot no image needs, and what dead processes left in
    /// tmp/. Waits for commands that are adding content. Returns (blobs, snapshots)
    /// removed.
    pub fn collect_garbage(&self) -> Result<(usize, usize)> {
        let _gc = self.content_lock(true)?;
        let mut blobs = HashSet::new();
        let mut snaps = HashSet::new();
        for rec in self.images()? {
            let Ok(manifest) = rec.manifest.parse::<Digest>() else { continue };
            blobs.insert(manifest);
            // A damaged image keeps what it still names; rmi removes it.
            match self.load(&rec) {
                Ok(img) => {
                    blobs.insert(digest_of(img.manifest.config())?);
                    for l in &img.layers {
                        blobs.insert(l.digest);
                        snaps.insert(l.chain_id);
                    }
                }
                Err(_) => continue,
            }
        }
        let mut removed = (0, 0);
        for b in self.blobs.list()? {
            if !blobs.contains(&b) {
                self.blobs.remove(&b)?;
                removed.0 += 1;
            }
        }
        for s in self.snapshots()? {
            if !snaps.contains(&s) {
                self.remove_snapshot(&s)?;
                removed.1 += 1;
            }
        }
        self.clean_tmp(false)?;
        Ok(removed)
    }

    /// `hull image prune`: removes images without a name (all unused images with
    /// `all`), except those in `in_use` (containers' images), then collects garbage.
    /// Returns the IDs removed.
    pub fn prune(&self, all: bool, in_use: &[String]) -> Result<Vec<String>> {
        let removed = self.update_images(|images| {
            let (gone, kept): (Vec<_>, Vec<_>) =
                images.drain(..).partition(|i| (all || i.names.is_empty()) && !in_use.contains(&i.id));
            *images = kept;
            Ok(gone.into_iter().map(|i| i.id).collect::<Vec<_>>())
        })?;
        self.collect_garbage()?;
        Ok(removed)
    }
}

/// The 12-hex-digit form of an ID, as Docker prints it.
/// A key of the `config` section of an image config's raw bytes (see
/// [`Image::docker_config`]).
pub fn docker_config(config_bytes: &[u8], key: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(config_bytes).ok()?;
    v.get("config")?.get(key).cloned()
}

pub fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).chars().take(12).collect()
}

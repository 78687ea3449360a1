//! `hull push`: blobs the registry lacks (asked with HEAD first), mounted from another
//! repository of the same registry when the image came from one, else uploaded; then
//! the manifest under the tag.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::{digest_of, OCI_MANIFEST};
use crate::pull::Progress;
use crate::reference::Reference;
use crate::registry::{self, Client};
use crate::store::Store;

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    pub reference: Reference,
    pub digest: Digest,
    pub size: usize,
}

/// Pushes the image `name` to `dest` (default: its own name).
pub fn push(
    store: &Store,
    name: &str,
    dest: Option<&str>,
    opts: registry::Options,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let _content = store.content_lock(false)?;
    let rec = store.find(name)?;
    let img = store.load(&rec)?;
    let target = dest.unwrap_or(name);
    let reference = Reference::parse(target)?;
    if dest.is_none() && !rec.names.contains(&reference.to_string()) {
        return Err(Error::Reference(format!("{name}: push needs a name (hull tag {name} REGISTRY/REPOSITORY:TAG)")));
    }
    let client = Client::new(&reference, opts, true, None)?;
    // Repositories of the same registry the image is known in: sources for mounts.
    let sources: Vec<String> = rec
        .repo_digests
        .iter()
        .chain(rec.names.iter())
        .filter_map(|n| Reference::parse_bare(n.split('@').next().unwrap_or(n)).ok())
        .filter(|r| r.registry == reference.registry && r.repository != reference.repository)
        .map(|r| r.repository)
        .collect();
    let mut blobs: Vec<(Digest, Option<u64>)> = img.layers.iter().map(|l| (l.digest, l.size)).collect();
    blobs.push((digest_of(img.manifest.config())?, Some(img.config_bytes.len() as u64)));
    for (d, size) in &blobs {
        progress.start(d, *size);
        if client.has_blob(d)? {
            progress.finish(d, "Layer already exists");
            continue;
        }
        let mut mounted = false;
        for from in &sources {
            if client.mount_blob(d, from)? {
                progress.finish(d, &format!("Mounted from {from}"));
                mounted = true;
                break;
            }
        }
        if mounted {
            continue;
        }
        let path = store.blobs.path(d);
        if !path.is_file() {
            return Err(Error::Missing(*d));
        }
        client.upload_blob(d, &path)?;
        progress.advance(d, size.unwrap_or(0));
        progress.finish(d, "Pushed");
    }
    let media_type = serde_json::from_slice::<serde_json::Value>(&img.manifest_bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| OCI_MANIFEST.into());
    let digest = client.put_manifest(&reference.object(), &img.manifest_bytes, &media_type)?;
    store.add_image(&img.id(), &img.manifest_digest, &[], Some(format!("{}@{digest}", reference.name())))?;
    Ok(Pushed { reference, digest, size: img.manifest_bytes.len() })
}

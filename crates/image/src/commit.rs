//! Images made from a container (`hull commit`): the parent image's layers and one
//! more, a new config (the container's run settings) and history entry, and a
//! manifest of the parent's kind. The new layer goes through the same ingest as a
//! pulled one, so its snapshot is unpacked from the blob and checked against its
//! diff ID.

use crate::archive::write_layer;
use crate::digest::Digest;
use crate::error::{format, Error, Result};
use crate::image::{Image, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_LAYER_GZIP};
use crate::layer::{self, chain_ids, LayerRef};
use crate::reference::Reference;
use crate::store::Store;
use crate::unpack::Options;
use serde_json::{json, Value};
use std::io::{Read, Write};

/// What the new image says about itself.
pub struct Commit<'a> {
    pub parent: &'a Image,
    /// The image config's `config` section (Cmd, Entrypoint, Env, …).
    pub config: Value,
    /// The history entry's `created_by` (the container's command).
    pub created_by: String,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Names to give it (`repo:tag`), may be empty.
    pub names: Vec<String>,
}

/// Makes the image; `write` writes the new layer as an uncompressed tar. Returns the
/// new image's ID.
pub fn commit(
    store: &Store,
    c: Commit<'_>,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    opts: Options,
) -> Result<Digest> {
    let names: Vec<String> =
        c.names.iter().map(|n| Reference::parse(n).map(|r| r.to_string())).collect::<Result<_>>()?;
    let _content = store.content_lock(false)?;
    let (diff_id, digest, size) = write_layer(store, write)?;
    let mut diff_ids: Vec<Digest> = c.parent.layers.iter().map(|l| l.diff_id).collect();
    diff_ids.push(diff_id);
    let chain_id = *chain_ids(&diff_ids).last().expect("one layer at least");
    let l = LayerRef { digest, size: Some(size), diff_id, chain_id };
    let src = || -> Result<Box<dyn Read>> { Err(Error::Missing(digest)) };
    layer::ingest(store, &l, &src, opts, &|_| {})?;

    let what = format!("config of image {}", c.parent.record.id);
    let mut config: Value = serde_json::from_slice(&c.parent.config_bytes).map_err(|e| format(&what, e))?;
    let obj = config.as_object_mut().ok_or_else(|| format(&what, "not an object"))?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    obj.insert("created".into(), json!(now));
    obj.insert("config".into(), c.config);
    obj.remove("container_config");
    obj.remove("container");
    match &c.author {
        Some(a) => obj.insert("author".into(), json!(a)),
        None => obj.remove("author"),
    };
    obj.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids.iter().map(Digest::to_string).collect::<Vec<_>>()}),
    );
    let mut entry = json!({"created": now, "created_by": c.created_by});
    if let Some(m) = &c.comment {
        entry["comment"] = json!(m);
    }
    if let Some(a) = &c.author {
        entry["author"] = json!(a);
    }
    match obj.get_mut("history").and_then(Value::as_array_mut) {
        Some(h) => h.push(entry),
        None => {
            obj.insert("history".into(), json!([entry]));
        }
    }
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let config_digest = store.blobs.put_bytes(&config_bytes)?;

    let what = format!("manifest {}", c.parent.manifest_digest);
    let mut manifest: Value = serde_json::from_slice(&c.parent.manifest_bytes).map_err(|e| format(&what, e))?;
    let docker = manifest.get("mediaType").and_then(Value::as_str) == Some(DOCKER_MANIFEST);
    manifest["config"]["digest"] = json!(config_digest.to_string());
    manifest["config"]["size"] = json!(config_bytes.len());
    let layer_type = if docker { DOCKER_LAYER_GZIP } else { OCI_LAYER_GZIP };
    let layers = manifest.get_mut("layers").and_then(Value::as_array_mut).ok_or_else(|| format(&what, "no layers"))?;
    layers.push(json!({"mediaType": layer_type, "size": size, "digest": digest.to_string()}));
    if let Some(m) = manifest.as_object_mut() {
        m.remove("annotations");
    }
    let manifest_digest = store.blobs.put_bytes(&serde_json::to_vec(&manifest).expect("json"))?;
    store.add_image(&config_digest, &manifest_digest, &names, None)?;
    Ok(config_digest)
}

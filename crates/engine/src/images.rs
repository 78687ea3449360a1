//! The image operations as the engine does them: hull-image's, with what the engine
//! adds — images that containers use are kept, and every change is in the event log
//! (pull, push, tag, untag, delete, load, import, save). Front ends call these rather
//! than hull-image directly for anything that changes the store.

use crate::error::{Error, Result};
use crate::events::Event;
use crate::Engine;
use hull_image::image::short_id;
use hull_image::pull::Progress;
use hull_image::pull::{PullOptions, Pulled};
use hull_image::push::Pushed;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of Docker's image delete response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageDeleted {
    Untagged(String),
    Deleted(String),
}

/// Docker's `image inspect` shape, for the fields an image has.
pub fn inspect_json(img: &hull_image::image::Image) -> serde_json::Value {
    let c = &img.config;
    let cfg = c.config().clone().unwrap_or_default();
    let map_set = |v: &Option<Vec<String>>| -> serde_json::Value {
        match v {
            Some(v) => v.iter().map(|k| (k.clone(), serde_json::json!({}))).collect::<serde_json::Map<_, _>>().into(),
            None => serde_json::Value::Null,
        }
    };
    serde_json::json!({
        "Id": img.record.id,
        "RepoTags": img.record.names.iter().map(|n| hull_image::reference::Reference::familiar(n)).collect::<Vec<_>>(),
        "RepoDigests": img.record.repo_digests.iter().map(|n| hull_image::reference::Reference::familiar(n)).collect::<Vec<_>>(),
        "Created": c.created(),
        "Author": c.author(),
        "Architecture": c.architecture().to_string(),
        "Variant": c.variant(),
        "Os": c.os().to_string(),
        "Size": img.size(),
        "Config": {
            "User": cfg.user().clone().unwrap_or_default(),
            "Env": cfg.env(),
            "Cmd": cfg.cmd(),
            "Entrypoint": cfg.entrypoint(),
            "WorkingDir": cfg.working_dir().clone().unwrap_or_default(),
            "ExposedPorts": map_set(cfg.exposed_ports()),
            "Volumes": map_set(cfg.volumes()),
            "Labels": cfg.labels(),
            "StopSignal": cfg.stop_signal(),
        },
        "RootFS": { "Type": "layers", "Layers": c.rootfs().diff_ids() },
        "Metadata": { "LastTagTime": "" },
        "Manifest": img.manifest_digest.to_string(),
    })
}

/// Seconds since the epoch of an RFC 3339 time (fractions and `Z` dropped); 0 when it
/// does not parse.
fn unix_seconds(t: &str) -> i64 {
    humantime::parse_rfc3339_weak(t.split('.').next().unwrap_or(t).trim_end_matches('Z'))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// One step of an image's history as Docker's `GET /images/{name}/history` lists it,
/// newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The image's id on the newest step, `<missing>` on the others (as Docker shows
    /// steps of a pulled image).
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: i64,
    pub comment: String,
}

/// One image as Docker's `GET /images/json` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Seconds since the epoch.
    pub created: i64,
    pub size: u64,
    pub shared_size: i64,
    pub virtual_size: u64,
    pub labels: std::collections::BTreeMap<String, String>,
    pub containers: i64,
}

impl Engine {
    /// Every image, newest first, as Docker's list shows them.
    pub fn image_summaries(&self) -> Result<Vec<ImageSummary>> {
        let mut records = self.images.images()?;
        records.sort_by_key(|r| std::cmp::Reverse(r.added));
        let mut out = Vec::new();
        for rec in records {
            let Ok(img) = self.images.load(&rec) else { continue };
            let created = img.config.created().as_deref().map_or(0, unix_seconds);
            let size = img.size();
            out.push(ImageSummary {
                id: rec.id.clone(),
                parent_id: String::new(),
                repo_tags: rec.names.iter().map(|n| hull_image::reference::Reference::familiar(n)).collect(),
                repo_digests: rec.repo_digests.iter().map(|n| hull_image::reference::Reference::familiar(n)).collect(),
                created,
                size,
                shared_size: -1,
                virtual_size: size,
                labels: img
                    .config
                    .config()
                    .as_ref()
                    .and_then(|c| c.labels().clone())
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                containers: -1,
            });
        }
        Ok(out)
    }

    /// Image `name`'s history (its config's), newest first.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let rec = self.images.find(name)?;
        let img = self.images.load(&rec)?;
        let steps = img.config.history().clone().unwrap_or_default();
        let mut out: Vec<HistoryEntry> = steps
            .iter()
            .rev()
            .map(|h| HistoryEntry {
                id: "<missing>".into(),
                created: h.created().as_deref().map_or(0, unix_seconds),
                created_by: h.created_by().clone().unwrap_or_default(),
                tags: Vec::new(),
                size: 0,
                comment: h.comment().clone().unwrap_or_default(),
            })
            .collect();
        if out.is_empty() {
            out.push(HistoryEntry {
                id: String::new(),
                created: img.config.created().as_deref().map_or(0, unix_seconds),
                created_by: String::new(),
                tags: Vec::new(),
                size: 0,
                comment: String::new(),
            });
        }
        out[0].id = rec.id.clone();
        out[0].tags = rec.names.iter().map(|n| hull_image::reference::Reference::familiar(n)).collect();
        out[0].size = img.size() as i64;
        Ok(out)
    }

    /// Image `name` (a reference or id) as Docker's inspect shows it.
    pub fn inspect_image(&self, name: &str) -> Result<serde_json::Value> {
        let rec = self.images.find(name)?;
        Ok(inspect_json(&self.images.load(&rec)?))
    }

    fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut e = Event::new("image", action, id);
        if !name.is_empty() {
            e = e.with("name", name);
        }
        let _ = self.events().emit(&e);
    }

    /// Pulls `name` from its registry.
    pub fn pull(&self, name: &str, opts: &PullOptions, progress: &dyn Progress) -> Result<Pulled> {
        let pulled = hull_image::pull::pull(&self.images, name, opts, progress)?;
        let reference = pulled.reference.to_string();
        self.image_event("pull", &reference, &reference);
        Ok(pulled)
    }

    /// Pushes `name` (to `dest`, its own name by default).
    pub fn push(
        &self,
        name: &str,
        dest: Option<&str>,
        opts: hull_image::registry::Options,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let pushed = hull_image::push::push(&self.images, name, dest, opts, progress)?;
        let reference = pushed.reference.to_string();
        self.image_event("push", &reference, &reference);
        Ok(pushed)
    }

    /// Gives image `source` the name `target`.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.images.tag(source, target)?;
        if let Ok(r) = self.images.find(target) {
            let name = hull_image::reference::Reference::parse(target).map_or(target.to_owned(), |r| r.to_string());
            self.image_event("tag", &r.id, &name);
        }
        Ok(())
    }

    /// Removes image `name` (its name only, when it has others): refused while a
    /// container uses it, as its snapshots are that container's lower layers.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<ImageDeleted>> {
        let r = self.images.find(name)?;
        let untag_only = r.names.len() > 1
            && hull_image::reference::Reference::parse(name).is_ok_and(|x| r.names.contains(&x.to_string()));
        if !untag_only {
            if let Some((_, c)) = self.images_in_use()?.into_iter().find(|(image, _)| *image == r.id) {
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by container {}",
                    short_id(&r.id),
                    short_id(&c)
                )));
            }
        }
        let mut out = Vec::new();
        for l in self.images.remove_image(name, force)? {
            if let Some(n) = l.strip_prefix("Untagged: ") {
                self.image_event("untag", n, n);
                out.push(ImageDeleted::Untagged(n.to_owned()));
            } else if let Some(id) = l.strip_prefix("Deleted: ") {
                self.image_event("delete", id, "");
                out.push(ImageDeleted::Deleted(id.to_owned()));
            }
        }
        Ok(out)
    }

    /// Removes dangling images (with `all`, every image no container uses, and the
    /// downloads killed pulls left to resume); returns their IDs.
    pub fn prune_images(&self, all: bool) -> Result<Vec<String>> {
        let keep: Vec<String> = self.images_in_use()?.into_iter().map(|(i, _)| i).collect();
        let gone = self.images.prune(all, &keep)?;
        self.images.clean_tmp(all)?;
        for id in &gone {
            self.image_event("delete", id, "");
        }
        Ok(gone)
    }

    /// Loads the images of an archive or OCI layout at `path`; errors name it `label`
    /// when given (`standard input` for a copy of it).
    pub fn load_images(
        &self,
        path: &Path,
        label: Option<&str>,
        platform: &hull_image::image::Platform,
    ) -> Result<hull_image::archive::Loaded> {
        let loaded =
            hull_image::archive::load(&self.images, path, platform, unpack_options()).map_err(|e| match label {
                Some(l) => Error::Invalid(e.to_string().replace(&path.display().to_string(), l)),
                None => e.into(),
            })?;
        for (names, id) in &loaded.images {
            let name = names.first().cloned().unwrap_or_default();
            let actor = if name.is_empty() { id.to_string() } else { name.clone() };
            self.image_event("load", &actor, &name);
        }
        Ok(loaded)
    }

    /// Makes a one-layer image of the root filesystem at `src` (a tar or a directory).
    pub fn import_image(&self, src: &Path, name: Option<&str>) -> Result<hull_image::Digest> {
        let id = hull_image::archive::import(&self.images, src, name, unpack_options())?;
        self.image_event("import", &id.to_string(), name.unwrap_or(""));
        Ok(id)
    }

    /// Writes `names` as one archive of `format` to `out`.
    pub fn save_images(
        &self,
        names: &[String],
        format: hull_image::archive::Format,
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        hull_image::archive::save(&self.images, names, format, out)?;
        for n in names {
            self.image_event("save", n, n);
        }
        Ok(())
    }
}

/// How layers are unpacked by this process (rootless: owners recorded, not applied).
pub fn unpack_options() -> hull_image::unpack::Options {
    hull_image::unpack::Options { rootless: !nix::unistd::geteuid().is_root(), ..Default::default() }
}

//! Named volumes: `volumes/<name>/_data` under the store root, made on first use (as
//! Docker's local driver), with `volumes/<name>/volume.json` holding labels and
//! whether the volume is anonymous (made for an image's VOLUME, removed with its
//! container under `rm -v` or `--rm`).

use crate::error::{Error, Result};
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A volume as Docker's API shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInspect {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// hull's own: made for one container alone.
    pub anonymous: bool,
}

/// What `volume.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
}

impl Engine {
    pub fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    /// The data directory of volume `name`, made if missing; true if it was made.
    pub fn volume(&self, name: &str, anonymous: bool, labels: BTreeMap<String, String>) -> Result<(PathBuf, bool)> {
        if !crate::record::valid_name(name) {
            return Err(Error::Invalid(format!(
                "{name:?} includes invalid characters for a local volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let dir = self.volumes_dir().join(name);
        let data = dir.join("_data");
        std::fs::create_dir_all(self.volumes_dir()).map_err(Error::at(format!("create {}", dir.display())))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let v = Volume { name: name.to_owned(), created: crate::now(), labels, anonymous };
                std::fs::create_dir(&data).map_err(Error::at(format!("create {}", data.display())))?;
                crate::write_atomic(&dir.join("volume.json"), &serde_json::to_vec_pretty(&v)?)?;
                let _ =
                    self.events().emit(&crate::events::Event::new("volume", "create", name).with("driver", "local"));
                Ok((data, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((data, false)),
            Err(e) => Err(Error::io(format!("create {}", dir.display()), e)),
        }
    }

    /// Volume `name` as Docker's volume inspect shows it.
    pub fn inspect_volume(&self, name: &str) -> Result<VolumeInspect> {
        let v = self.volume_info(name)?;
        Ok(VolumeInspect {
            created_at: v.created,
            driver: "local".into(),
            labels: v.labels,
            mountpoint: self.volumes_dir().join(name).join("_data"),
            name: v.name,
            options: BTreeMap::new(),
            scope: "local".into(),
            anonymous: v.anonymous,
        })
    }

    /// Removes the volumes no container uses: anonymous ones, and with `all` named
    /// ones too (Docker's `volume prune [-a]`). Returns their names.
    pub fn prune_volumes(&self, all: bool) -> Result<Vec<String>> {
        let used = self.volumes_in_use()?;
        let mut gone = Vec::new();
        for n in self.volume_names()? {
            let Ok(v) = self.volume_info(&n) else { continue };
            if used.contains(&n) || !(all || v.anonymous) {
                continue;
            }
            self.remove_volume(&n, true)?;
            gone.push(n);
        }
        Ok(gone)
    }

    pub fn volume_info(&self, name: &str) -> Result<Volume> {
        let p = self.volumes_dir().join(name).join("volume.json");
        let b = std::fs::read(&p).map_err(|_| Error::NoSuchVolume(name.to_owned()))?;
        Ok(serde_json::from_slice(&b)?)
    }

    pub fn volume_names(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = match std::fs::read_dir(self.volumes_dir()) {
            Ok(d) => d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect(),
            Err(_) => Vec::new(),
        };
        out.sort();
        Ok(out)
    }

    /// Names of volumes mounted by any container.
    pub fn volumes_in_use(&self) -> Result<Vec<String>> {
        let mut used = Vec::new();
        for id in self.ids()? {
            if let Ok(r) = self.record(&id) {
                used.extend(r.mounts.into_iter().filter_map(|m| m.name));
            }
        }
        Ok(used)
    }

    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        if !force && self.volumes_in_use()?.iter().any(|n| n == name) {
            return Err(Error::Conflict(format!("remove {name}: volume is in use")));
        }
        let dir = self.volumes_dir().join(name);
        if !dir.join("volume.json").exists() {
            return Err(Error::NoSuchVolume(name.to_owned()));
        }
        self.remove_tree(&dir)?;
        let _ = self.events().emit(&crate::events::Event::new("volume", "destroy", name).with("driver", "local"));
        Ok(())
    }
}

//! The engine as a whole, in the shapes of Docker's API: [`Info`] (`GET /info`) and
//! [`DiskUsage`] (`GET /system/df`: images by the snapshots they hold, containers by
//! their writable layer, volumes by their data, with what could be reclaimed).

use crate::error::Result;
use crate::record::ContainerStatus;
use crate::units::disk_usage;
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What `info` tells (Docker's field names, the ones hull has).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    /// `overlay`, or `copy` rootless.
    pub driver: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub name: String,
    pub docker_root_dir: String,
    pub server_version: String,
    pub security_options: Vec<String>,
    pub default_runtime: String,
}

/// Docker's `system df` figures, by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    pub images: Usage,
    pub containers: Usage,
    pub volumes: Usage,
}

/// One kind's figures: how many, how many in use, their size and what removing the
/// unused ones would free (bytes).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Usage {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

impl Engine {
    pub fn info(&self) -> Result<Info> {
        let ids = self.ids()?;
        let mut info = Info { containers: ids.len(), ..Default::default() };
        for id in &ids {
            match self.container(id).map(|c| c.status) {
                Ok(ContainerStatus::Running | ContainerStatus::Restarting) => info.containers_running += 1,
                Ok(ContainerStatus::Paused) => info.containers_paused += 1,
                _ => info.containers_stopped += 1,
            }
        }
        let uts = nix::sys::utsname::uname().ok();
        let rootless = !nix::unistd::geteuid().is_root();
        info.images = self.images.images()?.len();
        info.driver = if rootless { "copy" } else { "overlay" }.into();
        info.logging_driver = "json-file".into();
        info.cgroup_driver = "cgroupfs".into();
        info.cgroup_version =
            if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" }.into();
        info.kernel_version = uts.as_ref().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
        info.name = uts.as_ref().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default();
        info.operating_system = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .unwrap_or_else(|| "Linux".into());
        info.os_type = "linux".into();
        info.architecture = std::env::consts::ARCH.into();
        info.ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        info.mem_total = crate::stats::host_memory();
        info.docker_root_dir = self.root().display().to_string();
        info.server_version = env!("CARGO_PKG_VERSION").into();
        info.security_options = vec!["name=seccomp,profile=builtin".into()];
        if rootless {
            info.security_options.push("name=rootless".into());
        }
        info.default_runtime = "hull (in-process)".into();
        Ok(info)
    }

    /// What images, containers and volumes take on disk.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let store = &self.images;
        let in_use: HashSet<String> = self.images_in_use()?.into_iter().map(|(i, _)| i).collect();
        // Images: their snapshots, each counted once; reclaimable is what no used image shares.
        let (mut all_snaps, mut used_snaps) = (HashSet::new(), HashSet::new());
        let images = store.images()?;
        for r in &images {
            let Ok(img) = store.load(r) else { continue };
            for l in &img.layers {
                all_snaps.insert(l.chain_id);
                if in_use.contains(&r.id) {
                    used_snaps.insert(l.chain_id);
                }
            }
        }
        let size_of = |s: &HashSet<hull_image::Digest>| s.iter().map(|c| disk_usage(&store.snapshot_path(c))).sum();
        let size: u64 = size_of(&all_snaps);
        let mut du = DiskUsage {
            images: Usage {
                total: images.len(),
                active: images.iter().filter(|r| in_use.contains(&r.id)).count(),
                size,
                reclaimable: size.saturating_sub(size_of(&used_snaps)),
            },
            ..Default::default()
        };
        // Containers: their writable layer.
        for id in self.ids()? {
            let Ok(c) = self.container(&id) else { continue };
            let rootfs = self.dir(&id).join("rootfs");
            let upper = rootfs.join("upper");
            let s = disk_usage(if upper.is_dir() { &upper } else { &rootfs });
            du.containers.total += 1;
            du.containers.size += s;
            if c.status.is_live() {
                du.containers.active += 1;
            } else {
                du.containers.reclaimable += s;
            }
        }
        let used_vols = self.volumes_in_use()?;
        for v in self.volume_names()? {
            let s = disk_usage(&self.volumes_dir().join(&v).join("_data"));
            du.volumes.total += 1;
            du.volumes.size += s;
            if used_vols.contains(&v) {
                du.volumes.active += 1;
            } else {
                du.volumes.reclaimable += s;
            }
        }
        Ok(du)
    }
}

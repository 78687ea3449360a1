//! Remove (Docker's `DELETE /containers/{id}` with `force` and `v`).

use crate::error::{Error, Result};
use crate::record::{Container, ContainerStatus, REMOVING};
use crate::Engine;
use hull_container::container;
use std::time::{Duration, Instant};

/// How to remove a container.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Kill a live container first.
    pub force: bool,
    /// Remove its anonymous volumes too.
    pub volumes: bool,
}

/// What `prune_containers` did.
#[derive(Debug, Default)]
pub struct Pruned {
    pub deleted: Vec<String>,
    /// The containers that could not be removed, with why.
    pub errors: Vec<Error>,
}

impl Engine {
    /// Removes every container that is not running (Docker's container prune).
    pub fn prune_containers(&self) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        self.drop_stale_names()?;
        for id in self.ids()? {
            let Ok(c) = self.container(&id) else { continue };
            // Live, or a create still at work (its lock held).
            if c.status.is_live() || (c.half_made && c.status == ContainerStatus::Created) {
                continue;
            }
            match self.remove(&id, RemoveOptions::default()) {
                Ok(()) => pruned.deleted.push(id),
                Err(e) => pruned.errors.push(e),
            }
        }
        Ok(pruned)
    }

    /// Removes a container: its processes (with `force`), cgroups, root filesystem,
    /// directory, name and, with `volumes`, its anonymous volumes.
    pub fn remove(&self, id: &str, opts: RemoveOptions) -> Result<()> {
        let _lock = self.lock(id)?;
        let c = self.container(id)?;
        if c.status.is_live() && !opts.force {
            return Err(Error::Conflict(format!(
                "You cannot remove a {} container {id}. Stop the container before attempting removal or force remove",
                c.status.word()
            )));
        }
        // A --rm monitor waiting for the lock leaves the removal to us (and to itself
        // again if this removal fails).
        let marker = self.dir(id).join(REMOVING);
        let _ = std::fs::write(&marker, b"");
        let r = self.remove_marked(id, &c, opts.volumes);
        if r.is_err() {
            let _ = std::fs::remove_file(&marker);
        }
        r
    }

    fn remove_marked(&self, id: &str, c: &Container, volumes: bool) -> Result<()> {
        self.mark_stopped(id);
        if c.status.is_live() {
            // Kills every process of the container and removes its cgroups: works with
            // or without a monitor.
            match container::delete(&self.runtime, id, true) {
                Ok(_) => {}
                // The runtime's state is lost: the init is still known by pid and start
                // time (killing it ends its pid namespace).
                Err(hull_container::Error::NotFound(_)) if c.run.pid > 0 && c.run.pid_start > 0 => {
                    let _ = hull_container::process::signal(c.run.pid, c.run.pid_start, libc::SIGKILL);
                }
                Err(hull_container::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The monitor records the exit and goes (under --rm it leaves the removal to us).
        if c.monitored {
            let until = Instant::now() + Duration::from_secs(5);
            while hull_container::process::is_alive(c.run.monitor_pid, c.run.monitor_start) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if hull_container::process::is_alive(c.run.monitor_pid, c.run.monitor_start) {
                // SAFETY: kill of the monitor's pid, checked against its start time just now.
                unsafe { libc::kill(c.run.monitor_pid, libc::SIGKILL) };
            }
        }
        // A runtime container left by a killed monitor.
        match container::delete(&self.runtime, id, true) {
            Ok(_) => {}
            Err(hull_container::Error::NotFound(_)) if c.status.is_live() => {
                // Its state was lost: the cgroups the runtime made for it, at the path
                // its config gives (empty now that the init is dead and reaped).
                use hull_container::cgroups;
                let config: serde_json::Value = std::fs::read(self.dir(id).join("config.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                let path = config.pointer("/linux/cgroupsPath").and_then(|p| p.as_str()).map(std::path::Path::new);
                let dirs = cgroups::dirs(&cgroups::hierarchies(), &cgroups::container_path(path, id));
                cgroups::remove(&dirs)?;
            }
            Err(hull_container::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.remove_container_files(&c.record, volumes)
    }
}

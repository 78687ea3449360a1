//! hull-engine: the engine as a library. It owns containers, volumes and their
//! monitors on disk; every front end (the `hull` command line, and next the Docker
//! Engine API and `hull build`) drives it. Nothing here parses flags or prints for a
//! user: front ends turn [`Error`] into their own words and statuses.
//!
//! Modules: [`create`] (a container from an image and Docker's create body),
//! [`files`] (export, changes, commit, cp's archives), [`images`] (image operations
//! that keep what containers use and log events), [`inspect`] (containers in
//! Docker's inspect and list shapes), [`lifecycle`] (the
//! operations on a container, one file each), [`events`] (the
//! event log), [`record`]
//! (what a container is, its status), [`runtime_config`] (the OCI
//! runtime config a container runs with), [`monitor`] (the per-container process that
//! owns a running container), [`attach`] (the monitor's socket protocol), [`logs`]
//! (Docker's json-file logs), [`health`] (health checks), [`stats`] (resource use),
//! [`system`] (info, disk usage), [`volumes`], [`userns`]
//! (rootless: the user namespace of a user's containers), [`seccomp_profile`] (Docker's
//! default profile), [`units`] (sizes and durations), [`error`].
//!
//! Layout under the store root (beside the images of hull-image):
//! - `containers/<id>/container.json`: the [`record::Record`] written by `create` (what
//!   was asked for: image, command, flags);
//! - `containers/<id>/state.json`: the [`record::RunState`] the container's monitor
//!   keeps (pids, start and finish times, exit code, restarts), replaced atomically;
//! - `containers/<id>/config.json`: the runtime-spec config (the directory is the
//!   bundle), `rootfs/` (overlay upper, work and merged), `hosts`, `hostname`,
//!   `resolv.conf`, `<id>-json.log*` (Docker's json-file logs), `attach.sock`, `lock`;
//! - `names/<name>`: a symlink to the id, so names are claimed atomically;
//! - `runtime/`: hull-container's state store (the containers that have an init);
//! - `volumes/<name>/_data`: named volumes.
//!
//! Nothing here holds a lock for long: commands that change a container take its
//! `lock` (flock); readers rely on files being replaced by rename.

pub mod attach;
pub mod create;
pub mod error;
pub mod events;
pub mod fault;
pub mod files;
pub mod health;
pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod networks;
pub mod record;
pub mod runtime_config;
pub mod seccomp_profile;
pub mod stats;
pub mod system;
pub mod units;
pub mod userns;
pub mod volumes;

pub use error::{Error, Result};
use hull_container::state::StateStore;
use hull_image::store::Store;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The stores a command works with.
pub struct Engine {
    pub images: Store,
    pub runtime: StateStore,
    pub networks: hull_network::Networks,
    root: PathBuf,
    /// Rootless: the user namespace of this user's containers.
    userns: Option<userns::Mapping>,
    /// hull's binary: what runs as a container's monitor (`__monitor`) and as its init
    /// under `--init`.
    exe: PathBuf,
}

/// A lock file held (a container's, the names', the event log's) until this drops.
pub struct Locked(#[allow(dead_code)] Flock<File>);

impl Engine {
    pub fn open(root: &Path) -> Result<Engine> {
        let images = Store::open(root)?;
        let root = images.root().to_owned();
        Ok(Engine {
            runtime: StateStore::new(root.join("runtime")),
            networks: hull_network::Networks::open(&root),
            images,
            root,
            userns: userns::Mapping::of_caller(),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        })
    }

    /// The engine with `exe` as hull's binary (a program that embeds the engine but is
    /// not hull itself, such as a test, names it).
    pub fn with_exe(mut self, exe: &Path) -> Engine {
        self.exe = exe.to_owned();
        self
    }

    /// hull's binary.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Rootless: the mapping of this user's containers (None as root).
    pub fn userns(&self) -> Option<&userns::Mapping> {
        self.userns.as_ref()
    }

    /// Prepares a container's root filesystem from `image` under `dir`. Rootless with
    /// subordinate ids, the copy is made inside the containers' user namespace, so that
    /// files get the owners the layers gave them; what the user should know goes to
    /// `warnings`.
    pub fn prepare_rootfs(
        &self,
        image: &hull_image::image::Image,
        dir: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<hull_image::container_root::Rootfs> {
        let Some(m) = self.userns.as_ref().filter(|m| m.wide()) else {
            return Ok(hull_image::container_root::prepare(&self.images, image, dir, false)?);
        };
        let lowers = hull_image::container_root::lowers(&self.images, image)?;
        if !userns::keeps_owners(&self.images.tmp()) {
            warnings.push(format!(
                "the filesystem of {} keeps no user xattrs (tmpfs before Linux 6.6): the files of rootless \
                 images all belong to the container's root",
                self.root.display()
            ));
        }
        let mut cmd = userns::hull_command("__rootfs");
        cmd.arg(dir).args(&lowers);
        userns::run(m, cmd, &format!("prepare the root filesystem {}", dir.display()))?;
        Ok(hull_image::container_root::Rootfs {
            kind: hull_image::container_root::Kind::Copy,
            path: dir.join("merged"),
            dir: dir.into(),
        })
    }

    /// Removes a tree of a container's (its root filesystem, a volume). Rootless, files
    /// a container user made are removed from inside the containers' user namespace.
    pub fn remove_tree(&self, p: &Path) -> Result<()> {
        match hull_image::container_root::release(p) {
            Ok(()) => Ok(()),
            Err(e) => match self.userns.as_ref().filter(|m| m.wide()) {
                Some(m) => {
                    let mut cmd = userns::hull_command("__rm");
                    cmd.arg(p);
                    userns::run(m, cmd, &format!("remove {}", p.display()))
                }
                None => Err(e.into()),
            },
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    pub fn names_dir(&self) -> PathBuf {
        self.root.join("names")
    }

    /// Every container id (directories with a record; one being created may lack it).
    pub fn ids(&self) -> Result<Vec<String>> {
        let dir = self.containers_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The id of the container called `name_or_id`: a name, a full id or a unique id
    /// prefix, as Docker.
    pub fn resolve(&self, name_or_id: &str) -> Result<String> {
        let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if record::valid_name(name) {
            if let Ok(target) = std::fs::read_link(self.names_dir().join(name)) {
                if let Some(id) = target.to_str() {
                    // A half-made container (no record yet) is found too: rm -f of it
                    // finishes what a dead create left.
                    if self.dir(id).is_dir() {
                        return Ok(id.to_owned());
                    }
                }
            }
        }
        if !name_or_id.is_empty() && name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<String> = self.ids()?.into_iter().filter(|i| i.starts_with(name_or_id)).collect();
            match hits.len() {
                1 => return Ok(hits.into_iter().next().expect("one")),
                0 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "multiple containers found with provided prefix: {name_or_id}"
                    )))
                }
            }
        }
        Err(Error::NoSuchContainer(name_or_id.to_owned()))
    }

    /// Takes the container's lock (waiting for another command that holds it).
    pub fn lock(&self, id: &str) -> Result<Locked> {
        lock_file(&self.dir(id).join("lock")).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::NoSuchContainer(id.to_owned())
            }
            e => e,
        })
    }

    /// Takes the container's lock unless another command holds it (None then).
    pub fn try_lock(&self, id: &str) -> Result<Option<Locked>> {
        let p = self.dir(id).join("lock");
        let f = File::options().write(true).open(&p).map_err(Error::at(format!("open {}", p.display())))?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(Locked(l))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::io(format!("lock {}", p.display()), e.into())),
        }
    }

    /// The store's event log.
    pub fn events(&self) -> events::Log {
        events::Log::new(&self.root)
    }

    /// Logs an event about container `r`, with Docker's attributes (its image, name and
    /// labels) and `extra`. Never fails the operation: an event that cannot be written
    /// is lost.
    pub fn container_event(&self, r: &record::Record, action: &str, extra: &[(&str, String)]) {
        let mut e = events::Event::new("container", action, &r.id);
        for (k, v) in &r.config.labels {
            e = e.with(k, v.as_str());
        }
        e = e.with("image", r.image.as_str()).with("name", r.name.as_str());
        for (k, v) in extra {
            e = e.with(k, v.as_str());
        }
        let _ = self.events().emit(&e);
    }

    /// Removes what a stopped container leaves: its root filesystem (unmounted), its
    /// anonymous volumes (when `volumes`), its directory and its name. The caller holds its lock.
    pub fn remove_container_files(&self, r: &record::Record, volumes: bool) -> Result<()> {
        let dir = self.dir(&r.id);
        // Its address and veth, whoever was to release them (a monitor killed), and
        // its pasta (rootless), which such a monitor did not end.
        if let Some(p) = self.run_state(&r.id).pasta {
            let _ = hull_container::pid::signal(p.pid, p.pid_start, libc::SIGKILL);
        }
        self.leave_networks(&r.id, r);
        self.remove_tree(&dir.join("rootfs"))?;
        crate::fault::point("remove-rootfs");
        for m in &r.mounts {
            if let Some(v) = m.name.as_ref().filter(|_| volumes && m.anonymous) {
                let _ = self.remove_volume(v, true);
            }
        }
        hull_image::store::remove_tree(&dir)?;
        self.release_name(&r.name, &r.id);
        self.container_event(r, "destroy", &[]);
        Ok(())
    }

    /// Takes container `id` off its networks (its lease, its veth); what is already
    /// gone is no error.
    pub(crate) fn leave_networks(&self, id: &str, r: &record::Record) {
        for ep in r.host.endpoints() {
            if let Ok(n) = self.networks.get(&ep.network) {
                let _ = self.networks.detach(&n, id);
            }
        }
    }

    /// Claims `name` for `id`; fails as Docker when it is taken.
    pub fn claim_name(&self, name: &str, id: &str) -> Result<()> {
        if !record::valid_name(name) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let dir = self.names_dir();
        std::fs::create_dir_all(&dir).map_err(Error::at(format!("create {}", dir.display())))?;
        let link = dir.join(name);
        loop {
            match std::os::unix::fs::symlink(id, &link) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A name left by a container that is gone (removed by a crash) is free.
                    let holder = std::fs::read_link(&link).ok().and_then(|t| t.to_str().map(str::to_owned));
                    match holder {
                        Some(h) if self.dir(&h).exists() => {
                            return Err(Error::Conflict(format!(
                                "Conflict. The container name \"/{name}\" is already in use by container \"{h}\". \
                                 You have to remove (or rename) that container to be able to reuse that name."
                            )))
                        }
                        _ => self.drop_stale_name(&link)?,
                    }
                }
                Err(e) => return Err(Error::io(format!("create {}", link.display()), e)),
            }
        }
    }

    /// (image ID, container id) for every container: their images must stay.
    pub fn images_in_use(&self) -> Result<Vec<(String, String)>> {
        Ok(self.ids()?.into_iter().filter_map(|id| self.record(&id).ok()).map(|r| (r.image_id, r.id)).collect())
    }

    /// Removes the name link at `link` if it leads to no container (a removal killed
    /// after the directory went). Under the store's names lock: two commands that both
    /// found it stale must not each remove the other's new link.
    fn drop_stale_name(&self, link: &Path) -> Result<()> {
        let _l = lock_file(&self.root.join("names.lock"))?;
        let holder = std::fs::read_link(link).ok().and_then(|t| t.to_str().map(str::to_owned));
        if holder.is_some_and(|h| !self.dir(&h).is_dir()) {
            let _ = std::fs::remove_file(link);
        }
        Ok(())
    }

    /// Drops every stale name (see `drop_stale_name`).
    pub(crate) fn drop_stale_names(&self) -> Result<()> {
        for e in std::fs::read_dir(self.names_dir()).into_iter().flatten().flatten() {
            let path = e.path();
            let stale = std::fs::read_link(&path).is_ok_and(|t| !self.containers_dir().join(&t).is_dir());
            if stale {
                self.drop_stale_name(&path)?;
            }
        }
        Ok(())
    }

    /// Releases `name` if it still points to `id`.
    pub fn release_name(&self, name: &str, id: &str) {
        let link = self.names_dir().join(name);
        if std::fs::read_link(&link).ok().is_some_and(|t| t.as_os_str() == id) {
            let _ = std::fs::remove_file(link);
        }
    }
}

/// 32 random bytes as 64 hex digits (Docker's container id shape).
pub fn new_id() -> Result<String> {
    Ok(hull_network::new_id()?)
}

/// Now, in RFC 3339 with nanoseconds (Docker's timestamps).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// Opens (creating) the lock file `p` and holds an exclusive `flock` on it until the
/// returned guard drops.
pub(crate) fn lock_file(p: &Path) -> Result<Locked> {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p)
        .map_err(Error::at(format!("open {}", p.display())))?;
    let l = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io(format!("lock {}", p.display()), e.into()))?;
    Ok(Locked(l))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(Error::at(format!("write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(Error::at(format!("rename {}", path.display())))
}

//! The state store: one directory per container under the runtime's `--root`, holding
//! `state.json` (written atomically), the `exec.fifo` that holds a created container
//! until `start`, and a lock so that concurrent commands on one id are serialised.
//!
//! The status is never stored: it is derived from the live init process (pid plus its
//! start time, so a reused pid is not mistaken for the container) and the fifo.

use crate::error::{Context, Error, Result};
use crate::status::Status;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What hull remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    /// runtime-spec version of the config.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/PID/stat), to detect pid reuse.
    pub pid_start: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute root filesystem path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Uid of the user that created the container.
    pub owner: u32,
    /// The config's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup path inside each hierarchy (`linux.cgroupsPath` resolved).
    #[serde(default)]
    pub cgroup_path: PathBuf,
    /// The container's cgroup directory in each hierarchy.
    #[serde(default)]
    pub cgroup_dirs: Vec<PathBuf>,
    /// The cgroup directories hull created, deepest first (removed on delete).
    #[serde(default)]
    pub cgroup_made: Vec<PathBuf>,
    /// Hooks that run after create (poststart, poststop), kept from the config.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// How the container's seccomp filter loads (its program is in the container's
    /// directory), for `exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<crate::seccomp::Settings>,
}

/// The state root: `--root`, one subdirectory per container.
#[derive(Debug, Clone)]
pub struct StateStore {
    root: PathBuf,
}

/// One container's state directory, locked for the lifetime of this value.
#[derive(Debug)]
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    _lock: Flock<File>,
}

const STATE_FILE: &str = "state.json";
/// What `create` has made so far, written before each step that could leak (the init,
/// its cgroups) and removed with the state's first save: a create killed before that
/// is undone from it by `delete --force`.
const INTENT_FILE: &str = "creating.json";

/// See [`INTENT_FILE`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Intent {
    /// The init once cloned (0 before), and its start time.
    pub pid: i32,
    pub pid_start: u64,
    pub cgroup_path: PathBuf,
    pub cgroup_dirs: Vec<PathBuf>,
    /// The cgroups this create made (only those are removed).
    pub cgroup_made: Vec<PathBuf>,
}
const FIFO: &str = "exec.fifo";

impl StateStore {
    /// A store rooted at `root` (created on first use, mode 0700).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory of a new container; fails if the id exists.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        crate::spec::validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("state root {}", self.root.display()))?;
        let path = self.root.join(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::AlreadyExists(id.to_owned())),
            Err(e) => return Err(Error::io(format!("state dir {}", path.display()), e)),
        }
        Self::lock(id, path)
    }

    /// Opens and locks the directory of an existing container.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        crate::spec::validate_id(id)?;
        Self::lock(id, self.root.join(id))
    }

    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir> {
        let dir = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound(id.to_owned())),
            Err(e) => return Err(Error::io(format!("state dir {}", path.display()), e)),
        };
        let lock = Flock::lock(dir, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("lock {}", path.display()), e))?;
        // The directory may have been deleted while we waited for the lock.
        if lock.metadata().ctx(|| format!("stat {}", path.display()))?.nlink() == 0 {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(ContainerDir { id: id.to_owned(), path, _lock: lock })
    }

    /// Ids of all containers in the store, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(Error::io(format!("state root {}", self.root.display()), e)),
        };
        for entry in rd {
            let entry = entry.ctx(|| format!("read {}", self.root.display()))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                // Skips what is not a container (the seccomp cache).
                if let Some(name) = entry.file_name().to_str().filter(|n| crate::spec::validate_id(n).is_ok()) {
                    ids.push(name.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

impl ContainerDir {
    /// Container id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Directory path.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Closes this process's copy of the lock without releasing the lock (used in a
    /// cloned child, whose copy would otherwise keep the lock held after the parent).
    pub fn forget_in_child(self) {
        use std::os::fd::AsRawFd;
        // SAFETY: closes our own descriptor; `forget` below never touches it again.
        unsafe { libc::close(self._lock.as_raw_fd()) };
        std::mem::forget(self);
    }

    /// Path of the fifo that holds a created init until `start`.
    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    /// Path of the compiled seccomp program of the container's processes.
    pub fn seccomp_path(&self) -> PathBuf {
        self.path.join("seccomp.bpf")
    }

    /// Writes what a create has made so far (see [`Intent`]), atomically.
    pub fn save_intent(&self, i: &Intent) -> Result<()> {
        let tmp = self.path.join(".creating.json.tmp");
        let data = serde_json::to_vec(i).map_err(|e| Error::Init(format!("serialise the create's intent: {e}")))?;
        std::fs::write(&tmp, data).ctx(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, self.path.join(INTENT_FILE)).ctx(|| format!("rename {}", tmp.display()))
    }

    /// Removes the intent once the state is written.
    pub fn remove_intent(&self) {
        let _ = std::fs::remove_file(self.path.join(INTENT_FILE));
    }

    /// What a create that never wrote its state had made, if it said.
    pub fn load_intent(&self) -> Option<Intent> {
        serde_json::from_slice(&std::fs::read(self.path.join(INTENT_FILE)).ok()?).ok()
    }

    /// Writes state.json atomically (temp file, rename). No fsync: the state root lives
    /// on tmpfs (/run) and means nothing after a reboot.
    pub fn save(&self, state: &StateFile) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(state).expect("state serialises");
        let mut f = File::create(&tmp).ctx(|| format!("write {}", tmp.display()))?;
        f.write_all(&data).ctx(|| format!("write {}", tmp.display()))?;
        let dst = self.path.join(STATE_FILE);
        std::fs::rename(&tmp, &dst).ctx(|| format!("rename to {}", dst.display()))
    }

    /// Reads state.json; `None` while the container is still being created.
    pub fn load(&self) -> Result<Option<StateFile>> {
        let p = self.path.join(STATE_FILE);
        match std::fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data).map(Some).map_err(|e| Error::StateCorrupt {
                id: self.id.clone(),
                path: p,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("read {}", p.display()), e)),
        }
    }

    /// The live status of the container described by `state`.
    pub fn status(&self, state: Option<&StateFile>) -> Status {
        let Some(st) = state else { return Status::Creating };
        if !crate::pid::is_alive(st.pid, st.pid_start) {
            return Status::Stopped;
        }
        if self.fifo_path().exists() {
            return Status::Created;
        }
        if crate::cgroups::is_frozen(&st.cgroup_dirs) {
            return Status::Paused;
        }
        Status::Running
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", self.path.display()), e)),
        }
    }
}

/// The OCI state document (what `state` prints and hooks read), in runc's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    /// The owner's user name; filled only for `state` and `list` (hooks do not need it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl OciState {
    /// The same document with the owner's name, as `state` and `list` print it.
    pub fn with_owner(mut self, uid: u32) -> Self {
        self.owner = crate::pid::user_name(uid);
        self
    }

    /// The JSON bytes, as hooks receive them.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("state serialises")
    }

    /// The document for a container in `status`; the pid is 0 once it has stopped.
    pub fn new(st: &StateFile, status: Status) -> Self {
        OciState {
            oci_version: st.oci_version.clone(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status,
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            owner: String::new(),
            annotations: st.annotations.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> StateFile {
        StateFile {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid: std::process::id() as i32,
            pid_start: crate::pid::start_time(std::process::id() as i32).unwrap(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: 0,
            annotations: BTreeMap::new(),
            cgroup_path: PathBuf::new(),
            cgroup_dirs: vec![],
            cgroup_made: vec![],
            hooks: None,
            seccomp: None,
        }
    }

    fn tmp_store() -> StateStore {
        let dir = std::env::temp_dir().join(format!(
            "hull-state-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        StateStore::new(dir)
    }

    #[test]
    fn create_save_load_list_remove() {
        let store = tmp_store();
        let d = store.create("c1").unwrap();
        assert_eq!(d.status(None), Status::Creating);
        d.save(&sample("c1")).unwrap();
        let st = d.load().unwrap().unwrap();
        assert_eq!(st.id, "c1");
        // Our own process is alive and has no fifo: running.
        assert_eq!(d.status(Some(&st)), Status::Running);
        std::fs::write(d.fifo_path(), b"").unwrap();
        assert_eq!(d.status(Some(&st)), Status::Created);
        drop(d);
        assert!(matches!(store.create("c1"), Err(Error::AlreadyExists(_))));
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
        store.open("c1").unwrap().remove().unwrap();
        assert!(matches!(store.open("c1"), Err(Error::NotFound(_))));
        std::fs::remove_dir_all(store.root()).unwrap();
    }

    #[test]
    fn reused_pid_is_stopped() {
        let store = tmp_store();
        let d = store.create("c2").unwrap();
        let mut st = sample("c2");
        st.pid_start += 1;
        assert_eq!(d.status(Some(&st)), Status::Stopped);
        d.remove().unwrap();
        std::fs::remove_dir_all(store.root()).unwrap();
    }
}

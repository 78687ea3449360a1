//! What the engine remembers about a container: the [`Record`] of what was asked for
//! (written once by `create`, changed only by `rename`), the [`RunState`] its monitor
//! keeps, and the [`ContainerStatus`] derived from both and the live processes, never stored:
//! a monitor or init that died without a word is reported as it is.

use crate::error::{Error, Result};
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const RECORD: &str = "container.json";
pub const RUN_STATE: &str = "state.json";
/// Present while the user wants the container stopped (`stop`, `kill`): the monitor
/// does not restart it.
pub const STOPPED_BY_USER: &str = "stopped-by-user";
/// Made by `rm` under the container's lock: a `--rm` monitor leaves the removal to it.
pub const REMOVING: &str = "removing";
/// Written by `create` first, under the container's lock it holds until the record is
/// saved: the container's name, so that a create that died half way is a container
/// `ps -a` lists and `rm -f` and `prune` finish removing.
pub const CREATING: &str = "creating";
/// Written by `commit` while it has the container frozen (`PID START` of the process):
/// a commit killed before it thawed the container is undone by the next reader.
pub const PAUSED_BY: &str = "paused-by";

/// The container as created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    pub created: String,
    /// The command: `path` and `args` as Docker's inspect shows them.
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host: HostConfig,
    /// `overlay` or `copy`.
    pub rootfs: String,
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
}

/// Docker's `Config`: the container's process as resolved from image and flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    pub hostname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    /// `--expose` ports with the image's (`80/tcp`).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// The image's HEALTHCHECK with the `--health-*` flags on top.
    #[serde(default)]
    pub healthcheck: Option<crate::health::Healthcheck>,
    /// The image's SHELL (Docker's `Config.Shell`): what runs a CMD-SHELL health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// Docker's `HostConfig`: how the engine runs the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostConfig {
    pub auto_remove: bool,
    /// `json-file` (Docker's default) or `none`.
    #[serde(default = "json_file")]
    pub log_driver: String,
    pub restart: RestartPolicy,
    pub log_max_size: Option<u64>,
    pub log_max_file: u32,
    pub network: String,
    pub privileged: bool,
    pub read_only: bool,
    pub init: bool,
    /// `-p`: Docker's `PortBindings` (`80/tcp` → host address and port, or range).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub port_bindings: std::collections::BTreeMap<String, Vec<crate::create::body::PortBinding>>,
    /// `-P`: every exposed port to a free host port.
    #[serde(default)]
    pub publish_all: bool,
    /// `--ip`: the address asked for on its network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--mac-address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The networks it joins, in order (eth0, eth1, …), with what it asks of each.
    /// Records from before several networks have none: see [`HostConfig::endpoints`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<Endpoint>>,
    /// `--dns`: on a user-defined network, where its resolver sends the container's
    /// look-ups of names outside the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<std::net::IpAddr>,
}

/// A container's place on one network, as asked (Docker's `EndpointSettings` of a
/// create body or a `network connect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    /// `--network-alias`: more names it answers to on the network's resolver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--ip6`, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// `--mac-address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Record {
    /// The names the container answers to on the resolver of `ep`'s network: its name,
    /// short id and aliases on a user-defined network; none on the default network
    /// (which has no resolver, as Docker's).
    pub fn dns_names(&self, ep: &Endpoint) -> Vec<String> {
        if ep.network == hull_network::DEFAULT {
            return Vec::new();
        }
        [self.name.clone(), self.id[..12].to_owned()].into_iter().chain(ep.aliases.iter().cloned()).collect()
    }
}

impl HostConfig {
    /// The networks the container joins, first (eth0) first.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        match &self.endpoints {
            Some(e) => e.clone(),
            None if hull_network::is_network(&self.network) => {
                vec![Endpoint {
                    network: self.network.clone(),
                    aliases: Vec::new(),
                    ip: self.ip,
                    ip6: None,
                    mac: self.mac.clone(),
                }]
            }
            None => Vec::new(),
        }
    }
}

fn json_file() -> String {
    "json-file".into()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always`, `unless-stopped`.
    pub name: String,
    pub max_retries: u32,
}

impl RestartPolicy {
    /// Whether a container that exited with `code` after `restarts` restarts.
    pub fn restarts(&self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => code != 0 && (self.max_retries == 0 || restarts < self.max_retries),
            _ => false,
        }
    }
}

/// A mount as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    pub rw: bool,
    /// A volume made for this container alone (`-v DST`, an image's VOLUME): removed
    /// with it under `--rm` and `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
    /// A bind mount's propagation (`rshared`, `slave`, …; Docker's default rprivate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
}

/// What the monitor reports, replaced atomically at each change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// The init's host pid while it runs (0 otherwise), and its start time (to tell
    /// it from a later process with the same pid).
    pub pid: i32,
    #[serde(default)]
    pub pid_start: u64,
    /// The kernel's OOM killer killed a process of the container during its last run.
    #[serde(default)]
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub restart_count: u32,
    /// Waiting to restart.
    pub restarting: bool,
    /// Why the last start failed.
    pub error: Option<String>,
    /// The health check's state while the container runs with one.
    #[serde(default)]
    pub health: Option<crate::health::Health>,
    /// Its places on networks while it runs (the monitor joins them before the start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<hull_network::Attachment>,
    /// Rootless: its pasta process while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pasta: Option<hull_network::pasta::Pasta>,
}

impl RunState {
    /// Its published ports: on its networks, or through pasta.
    pub fn published(&self) -> impl Iterator<Item = &hull_network::ports::PortMap> {
        self.networks.iter().flat_map(|a| &a.ports).chain(self.pasta.iter().flat_map(|p| &p.ports))
    }
}

/// A container's status, Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Exited(i32),
    /// The monitor died without recording an exit.
    Dead,
}

impl ContainerStatus {
    pub fn word(&self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Exited(_) => "exited",
            ContainerStatus::Dead => "dead",
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self, ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Restarting)
    }
}

/// A container as read from disk, with its derived status.
#[derive(Debug, Clone)]
pub struct Container {
    pub record: Record,
    pub run: RunState,
    pub status: ContainerStatus,
    /// The monitor is alive.
    pub monitored: bool,
    /// A container whose create never finished (no record): `record` holds only its
    /// id and name. Dead when its creator is gone, Created while it works.
    pub half_made: bool,
}

impl Engine {
    pub fn record(&self, id: &str) -> Result<Record> {
        let p = self.dir(id).join(RECORD);
        let bytes = std::fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NoSuchContainer(id.to_owned()),
            _ => Error::io(format!("read {}", p.display()), e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
    }

    pub fn save_record(&self, r: &Record) -> Result<()> {
        crate::write_atomic(&self.dir(&r.id).join(RECORD), &serde_json::to_vec_pretty(r)?)
    }

    pub fn run_state(&self, id: &str) -> RunState {
        std::fs::read(self.dir(id).join(RUN_STATE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save_run_state(&self, id: &str, s: &RunState) -> Result<()> {
        crate::write_atomic(&self.dir(id).join(RUN_STATE), &serde_json::to_vec(s)?)
    }

    /// A container whose directory has no record: a create that has not finished, or
    /// died half way (its lock is then free), or a removal that died half way.
    fn half_made(&self, id: &str) -> Result<Container> {
        let dir = self.dir(id);
        if !dir.is_dir() {
            return Err(Error::NoSuchContainer(id.to_owned()));
        }
        let name = std::fs::read_to_string(dir.join(CREATING))
            .ok()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .or_else(|| self.name_of(id))
            .unwrap_or_default();
        let working = matches!(self.try_lock(id), Ok(None));
        let record = Record {
            id: id.to_owned(),
            name,
            image: String::new(),
            image_id: String::new(),
            // When its create began.
            created: std::fs::metadata(&dir)
                .and_then(|m| m.created().or_else(|_| m.modified()))
                .map(|t| humantime::format_rfc3339_nanos(t).to_string())
                .unwrap_or_default(),
            path: String::new(),
            args: Vec::new(),
            config: Config::default(),
            host: HostConfig::default(),
            rootfs: String::new(),
            mounts: Vec::new(),
        };
        let status = if working { ContainerStatus::Created } else { ContainerStatus::Dead };
        Ok(Container { record, run: RunState::default(), status, monitored: false, half_made: true })
    }

    /// The name whose link leads to `id`, if one does.
    fn name_of(&self, id: &str) -> Option<String> {
        std::fs::read_dir(self.names_dir()).ok()?.flatten().find_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            (target.as_os_str() == id).then(|| e.file_name().to_string_lossy().into_owned())
        })
    }

    /// Thaws a container a dead `commit` left frozen (its PAUSED_BY marker names a
    /// process that is gone).
    fn thaw_if_abandoned(&self, id: &str) {
        let marker = self.dir(id).join(PAUSED_BY);
        let Ok(text) = std::fs::read_to_string(&marker) else { return };
        let mut f = text.split_whitespace().map(|x| x.parse::<u64>().ok());
        if let (Some(Some(pid)), Some(Some(start))) = (f.next(), f.next()) {
            if hull_container::pid::is_alive(pid as i32, start) {
                return;
            }
        }
        let _ = hull_container::container::resume(&self.runtime, id);
        let _ = std::fs::remove_file(&marker);
    }

    /// Loads a container and derives its status.
    pub fn container(&self, id: &str) -> Result<Container> {
        self.thaw_if_abandoned(id);
        let record = match self.record(id) {
            Ok(r) => r,
            Err(Error::NoSuchContainer(_)) => return self.half_made(id),
            Err(e) => return Err(e),
        };
        let run = self.run_state(id);
        let monitored = run.monitor_pid > 0 && hull_container::process::is_alive(run.monitor_pid, run.monitor_start);
        let init = match hull_container::container::state(&self.runtime, id) {
            Ok(s) => Some(s.status),
            Err(_) => None,
        };
        use hull_container::status::Status as Rt;
        let status = match init {
            // Created by a monitor that died before starting it: it never ran.
            Some(Rt::Created) | Some(Rt::Creating) if !monitored => ContainerStatus::Created,
            Some(Rt::Running) | Some(Rt::Created) | Some(Rt::Creating) => ContainerStatus::Running,
            Some(Rt::Paused) => ContainerStatus::Paused,
            _ if monitored && run.restarting => ContainerStatus::Restarting,
            _ if run.exit_code.is_some() => ContainerStatus::Exited(run.exit_code.unwrap_or(0)),
            _ if monitored => ContainerStatus::Running,
            _ if run.started_at.is_some() => ContainerStatus::Dead,
            _ => ContainerStatus::Created,
        };
        Ok(Container { record, run, status, monitored, half_made: false })
    }
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 2
        && b.len() <= 253
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "fond", "gentle", "happy", "jolly", "keen", "kind", "lucid", "merry", "nifty",
    "proud", "quiet", "quirky", "sharp", "stoic", "sweet", "tender", "vivid", "wise", "zealous", "bold",
];
const NOUNS: &[&str] = &[
    "anchor", "beacon", "breeze", "cove", "current", "dock", "harbor", "helm", "island", "keel", "lagoon", "mast",
    "reef", "rudder", "sail", "shoal", "skiff", "tide", "wake", "wharf", "ketch", "sloop", "buoy", "compass",
];

/// A generated name, `adjective_noun` as Docker's (from hull's own words), with a
/// number appended when `attempt` > 0.
pub fn generated_name(seed: &[u8], attempt: u32) -> String {
    let a = ADJECTIVES[seed[0] as usize % ADJECTIVES.len()];
    let n = NOUNS[seed[1] as usize % NOUNS.len()];
    if attempt == 0 {
        format!("{a}_{n}")
    } else {
        format!("{a}_{n}{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_as_docker() {
        let p = |s: &str| {
            let (name, n) = s.split_once(':').unwrap_or((s, "0"));
            RestartPolicy { name: name.into(), max_retries: n.parse().unwrap() }
        };
        assert!(!p("no").restarts(1, 0, false));
        assert!(p("always").restarts(0, 9, false));
        assert!(!p("always").restarts(0, 0, true));
        assert!(p("on-failure").restarts(1, 100, false));
        assert!(!p("on-failure").restarts(0, 0, false));
        assert!(p("on-failure:2").restarts(1, 1, false));
        assert!(!p("on-failure:2").restarts(1, 2, false));
    }

    #[test]
    fn names_as_docker() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(valid_name(&generated_name(&[3, 200], 0)));
        assert!(valid_name(&generated_name(&[3, 200], 7)));
    }
}

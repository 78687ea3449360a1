//! What the engine tells about its containers, in the shapes of Docker's API:
//! [`ContainerInspect`] (`GET /containers/{id}/json`) and [`ContainerSummary`] (`GET
//! /containers/json`, with Docker's list filters), typed with serde so that the API
//! server writes them as they are and the command line formats them.

use crate::create::body::{self, Empty};
use crate::error::{Error, Result};
use crate::health::{Health, Healthcheck};
use crate::record::{Container, ContainerStatus};
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Docker's zero time, for times that never were.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A container as Docker's inspect shows it (the fields hull has).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    /// The image's ID.
    pub image: String,
    pub resolv_conf_path: PathBuf,
    pub hostname_path: PathBuf,
    pub hosts_path: PathBuf,
    pub log_path: PathBuf,
    /// `/NAME`.
    pub name: String,
    pub restart_count: u32,
    pub driver: String,
    pub platform: String,
    pub host_config: body::HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<MountInfo>,
    pub config: body::Config,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `exited`, `dead`.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub health: Option<Health>,
    /// hull's own: the container's monitor (conmon's place).
    pub monitor_pid: i32,
    pub monitor_alive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountInfo {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// Docker's `NetworkSettings` (hull's networks fill it in).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub ports: BTreeMap<String, Option<Vec<body::PortBinding>>>,
    /// The default network's address, as Docker's top-level fields (empty otherwise).
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// A container's place on one network (Docker's `EndpointSettings`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub mac_address: String,
    /// `--network-alias` (null when none, as Docker's).
    pub aliases: Option<Vec<String>>,
    /// The names it answers to on the network's resolver: its name, short id, aliases
    /// (none on the default network).
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
    /// The addresses asked for (`--ip`, `--ip6`).
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<crate::create::body::EndpointIpamConfig>,
}

impl NetworkSettings {
    /// The container's networks; addresses and ports while it runs (a stopped one
    /// keeps its endpoints with empty addresses, as Docker's).
    fn of(c: &Container) -> NetworkSettings {
        let mut s = NetworkSettings::default();
        let live = c.status.is_live();
        for p in c.record.config.exposed_ports.iter().filter(|_| live) {
            s.ports.insert(p.clone(), None);
        }
        for m in c.run.published().filter(|_| live) {
            s.ports
                .entry(m.key())
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(body::PortBinding { host_ip: m.host_ip.to_string(), host_port: m.host_port.to_string() });
        }
        // Every network the container is on, with its address while it runs.
        for ep in c.record.host.endpoints() {
            let user = ep.network != hull_network::DEFAULT;
            let mut e = EndpointSettings {
                aliases: Some(ep.aliases.clone()).filter(|a| !a.is_empty()),
                dns_names: user.then(|| c.record.dns_names(&ep)),
                ipam_config: (ep.ip.is_some() || ep.ip6.is_some()).then(|| body::EndpointIpamConfig {
                    ipv4_address: ep.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    ipv6_address: ep.ip6.map(|ip| ip.to_string()).unwrap_or_default(),
                }),
                mac_address: ep.mac.clone().unwrap_or_default(),
                ..Default::default()
            };
            if let Some(a) = c.run.networks.iter().find(|a| a.network == ep.network).filter(|_| live) {
                e.network_id = a.network_id.clone();
                e.endpoint_id = a.host_veth.clone();
                e.gateway = a.gateway.to_string();
                e.ip_address = a.ip.to_string();
                e.ip_prefix_len = a.prefix;
                e.mac_address = a.mac.clone();
                e.global_ipv6_address = a.ip6.map(|ip| ip.to_string()).unwrap_or_default();
                e.global_ipv6_prefix_len = a.prefix6;
                e.ipv6_gateway = a.gateway6.map(|ip| ip.to_string()).unwrap_or_default();
            }
            if ep.network == hull_network::DEFAULT {
                s.ip_address = e.ip_address.clone();
                s.ip_prefix_len = e.ip_prefix_len;
                s.gateway = e.gateway.clone();
                s.mac_address = e.mac_address.clone();
                s.global_ipv6_address = e.global_ipv6_address.clone();
                s.global_ipv6_prefix_len = e.global_ipv6_prefix_len;
                s.ipv6_gateway = e.ipv6_gateway.clone();
            }
            s.networks.insert(ep.network.clone(), e);
        }
        s
    }
}

/// A port of a container as Docker's list shows it: published (`IP`, `PublicPort`) or
/// only exposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    #[serde(rename = "IP", default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", default, skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    #[serde(rename = "Type")]
    pub kind: String,
}

/// A container as Docker's list shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    /// `["/NAME"]`.
    pub names: Vec<String>,
    /// The image as the container was created from it.
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size_rw: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// `running`, `exited`, …
    pub state: String,
    /// `Up 3 minutes (healthy)`, `Exited (0) 2 hours ago`, …
    pub status: String,
    pub host_config: SummaryHostConfig,
    pub mounts: Vec<MountInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

/// Docker's `label` filter: `KEY` (present) or `KEY=VALUE` (present with that value).
pub fn label_matches(labels: &BTreeMap<String, String>, cond: &str) -> bool {
    match cond.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(cond),
    }
}

/// What `list` returns (Docker's `all`, `limit`, `size`, `filters`).
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too.
    pub all: bool,
    /// The newest N only (stopped ones included).
    pub limit: Option<usize>,
    /// Compute the size of each container's changes.
    pub size: bool,
    /// `KEY=VALUE`: `id`, `name`, `status`, `label`, `ancestor`, `exited`, `health`,
    /// `volume`, `restart-policy`.
    pub filters: Vec<String>,
}

impl Engine {
    /// Container `id` as Docker's inspect shows it.
    pub fn inspect(&self, id: &str) -> Result<ContainerInspect> {
        Ok(self.inspect_container(&self.container(id)?))
    }

    /// A container read already, as Docker's inspect shows it.
    pub fn inspect_container(&self, c: &Container) -> ContainerInspect {
        let r = &c.record;
        let dir = self.dir(&r.id);
        let driver = if r.rootfs == "overlay" { "overlay" } else { "vfs" };
        let mut labels = BTreeMap::new();
        labels.extend(r.config.labels.clone());
        let config = body::Config {
            hostname: r.config.hostname.clone(),
            user: r.config.user.clone(),
            tty: r.config.tty,
            open_stdin: r.config.open_stdin,
            env: r.config.env.clone(),
            cmd: r.config.cmd.clone(),
            image: r.image.clone(),
            working_dir: r.config.working_dir.clone(),
            entrypoint: r.config.entrypoint.clone(),
            labels,
            stop_signal: Some(r.config.stop_signal.clone()),
            stop_timeout: r.config.stop_timeout,
            healthcheck: r.config.healthcheck.clone().filter(|h: &Healthcheck| !h.test.is_empty()),
            exposed_ports: r.config.exposed_ports.iter().map(|p| (p.clone(), Empty {})).collect(),
            shell: r.config.shell.clone(),
            ..Default::default()
        };
        let mut log_config = BTreeMap::new();
        if let Some(s) = r.host.log_max_size {
            log_config.insert("max-size".to_string(), s.to_string());
        }
        log_config.insert("max-file".to_string(), r.host.log_max_file.to_string());
        // The limits as the runtime config has them now (`update` changes them there).
        let rc: serde_json::Value = std::fs::read(dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let int = |p: &str| rc.pointer(&format!("/linux/resources{p}")).and_then(|v| v.as_i64()).unwrap_or(0);
        let text =
            |p: &str| rc.pointer(&format!("/linux/resources{p}")).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let cgroup_parent = rc
            .pointer("/linux/cgroupsPath")
            .and_then(|v| v.as_str())
            .and_then(|p| p.rsplit_once('/').map(|(parent, _)| parent.to_owned()))
            .unwrap_or_default();
        let host_config = body::HostConfig {
            auto_remove: r.host.auto_remove,
            restart_policy: body::RestartPolicy {
                name: r.host.restart.name.clone(),
                maximum_retry_count: r.host.restart.max_retries,
            },
            network_mode: r.host.network.clone(),
            privileged: r.host.privileged,
            readonly_rootfs: r.host.read_only,
            init: Some(r.host.init),
            log_config: body::LogConfig { kind: r.host.log_driver.clone(), config: log_config },
            resources: body::Resources {
                memory: int("/memory/limit"),
                memory_swap: int("/memory/swap"),
                memory_reservation: int("/memory/reservation"),
                cpu_shares: int("/cpu/shares"),
                cpu_period: int("/cpu/period"),
                cpu_quota: int("/cpu/quota"),
                pids_limit: Some(int("/pids/limit")),
                blkio_weight: int("/blockIO/weight") as u16,
                cpuset_cpus: text("/cpu/cpus"),
                cpuset_mems: text("/cpu/mems"),
                cgroup_parent,
                ..Default::default()
            },
            ..Default::default()
        };
        let live = c.status.is_live();
        ContainerInspect {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: State {
                status: c.status.word().into(),
                running: matches!(c.status, ContainerStatus::Running | ContainerStatus::Paused),
                paused: c.status == ContainerStatus::Paused,
                restarting: c.status == ContainerStatus::Restarting,
                oom_killed: c.run.oom_killed,
                dead: c.status == ContainerStatus::Dead,
                pid: if live { c.run.pid } else { 0 },
                exit_code: c.run.exit_code.unwrap_or(0),
                error: c.run.error.clone().unwrap_or_default(),
                started_at: c.run.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
                finished_at: c.run.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
                health: c.run.health.clone(),
                monitor_pid: c.run.monitor_pid,
                monitor_alive: c.monitored,
            },
            image: r.image_id.clone(),
            resolv_conf_path: dir.join("resolv.conf"),
            hostname_path: dir.join("hostname"),
            hosts_path: dir.join("hosts"),
            log_path: crate::logs::path_of(&dir, &r.id),
            name: format!("/{}", r.name),
            restart_count: c.run.restart_count,
            driver: driver.into(),
            platform: "linux".into(),
            host_config,
            graph_driver: GraphDriver {
                name: driver.into(),
                data: [("MergedDir", "merged"), ("UpperDir", "upper"), ("WorkDir", "work")]
                    .into_iter()
                    .map(|(k, d)| (k.to_owned(), dir.join("rootfs").join(d)))
                    .collect(),
            },
            mounts: mounts(c),
            config,
            network_settings: {
                let mut n = NetworkSettings::of(c);
                // A stopped container's endpoints still name their networks.
                for (name, e) in n.networks.iter_mut().filter(|(_, e)| e.network_id.is_empty()) {
                    e.network_id = self.networks.get(name).map(|n| n.id).unwrap_or_default();
                }
                n
            },
        }
    }

    /// The containers, newest first, as Docker's list shows them.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        Ok(self.list_containers(opts)?.iter().map(|c| self.summary(c, opts.size)).collect())
    }

    /// The containers `list` selects, as read from disk.
    pub fn list_containers(&self, opts: &ListOptions) -> Result<Vec<Container>> {
        let filters = opts.filters.iter().map(|f| ListFilter::parse(f)).collect::<Result<Vec<_>>>()?;
        let mut all: Vec<Container> = self.ids()?.iter().filter_map(|id| self.container(id).ok()).collect();
        all.sort_by(|x, y| y.record.created.cmp(&x.record.created));
        let by_status = filters.iter().any(|f| f.key == "status");
        let mut keep: Vec<Container> = all
            .into_iter()
            .filter(|c| opts.all || opts.limit.is_some() || by_status || c.status.is_live())
            .filter(|c| filters.iter().all(|f| f.matches(c)))
            .collect();
        if let Some(n) = opts.limit {
            keep.truncate(n);
        }
        Ok(keep)
    }

    /// A container read already, as Docker's list shows it.
    pub fn summary(&self, c: &Container, size: bool) -> ContainerSummary {
        let r = &c.record;
        let created = humantime::parse_rfc3339_weak(&r.created)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        ContainerSummary {
            id: r.id.clone(),
            names: vec![format!("/{}", r.name)],
            image: r.image.clone(),
            image_id: r.image_id.clone(),
            command: std::iter::once(r.path.as_str())
                .chain(r.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            created,
            ports: ports(c),
            size_rw: size.then(|| crate::units::disk_usage(&self.dir(&r.id).join("rootfs/upper"))),
            labels: r.config.labels.clone(),
            state: c.status.word().into(),
            status: status_text(c),
            host_config: SummaryHostConfig { network_mode: r.host.network.clone() },
            mounts: mounts(c),
        }
    }
}

fn mounts(c: &Container) -> Vec<MountInfo> {
    c.record
        .mounts
        .iter()
        .map(|m| MountInfo {
            kind: m.kind.clone(),
            name: m.name.clone(),
            source: m.source.clone(),
            destination: m.destination.clone(),
            driver: if m.kind == "volume" { "local".into() } else { String::new() },
            mode: if m.rw { String::new() } else { "ro".into() },
            rw: m.rw,
            propagation: m.propagation.clone().unwrap_or_else(|| {
                if m.kind == "bind" {
                    "rprivate".into()
                } else {
                    String::new()
                }
            }),
        })
        .collect()
}

/// Docker's STATUS: `Up 3 minutes (healthy)`, `Exited (0) 2 hours ago`, …
pub fn status_text(c: &Container) -> String {
    let ago = crate::units::ago;
    let up = |t: &Option<String>| ago(t.as_deref()).trim_end_matches(" ago").to_string();
    match &c.status {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running if !c.monitored => format!("Up {} (monitor gone)", up(&c.run.started_at)),
        ContainerStatus::Running => match c.run.health.as_ref().map(|h| h.status.as_str()) {
            Some("starting") => format!("Up {} (health: starting)", up(&c.run.started_at)),
            Some(h) => format!("Up {} ({h})", up(&c.run.started_at)),
            None => format!("Up {}", up(&c.run.started_at)),
        },
        ContainerStatus::Paused => format!("Up {} (Paused)", up(&c.run.started_at)),
        ContainerStatus::Restarting => {
            format!("Restarting ({}) {}", c.run.exit_code.unwrap_or(0), ago(c.run.finished_at.as_deref()))
        }
        ContainerStatus::Exited(code) => format!("Exited ({code}) {}", ago(c.run.finished_at.as_deref())),
        ContainerStatus::Dead => "Dead".into(),
    }
}

/// The processes of a container, as Docker's `top` shows them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl Engine {
    /// The processes of running container `id`: UID, PID, PPID and CMD of each.
    pub fn top(&self, id: &str) -> Result<Top> {
        let c = self.container(id)?;
        if !matches!(c.status, ContainerStatus::Running | ContainerStatus::Paused) {
            return Err(Error::NotRunning(format!("Container {id} is not running")));
        }
        let mut top = Top { titles: ["UID", "PID", "PPID", "CMD"].map(String::from).to_vec(), processes: Vec::new() };
        for pid in hull_container::container::pids(&self.runtime, id)? {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |k: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .and_then(|v| v.split_whitespace().next())
                    .unwrap_or("?")
                    .to_string()
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd: Vec<String> = cmd
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            top.processes.push(vec![field("Uid:"), pid.to_string(), field("PPid:"), cmd.join(" ")]);
        }
        Ok(top)
    }
}

/// One of Docker's list filters.
struct ListFilter {
    key: String,
    value: String,
}

impl ListFilter {
    fn parse(filter: &str) -> Result<ListFilter> {
        let (k, v) = filter
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("bad format of filter (expected name=value): {filter}")))?;
        match k {
            "id" | "name" | "status" | "label" | "ancestor" | "exited" | "restart-policy" | "health" | "volume" => {
                Ok(ListFilter { key: k.into(), value: v.into() })
            }
            _ => Err(Error::Invalid(format!("invalid filter '{k}'"))),
        }
    }

    fn matches(&self, c: &Container) -> bool {
        let (r, v) = (&c.record, self.value.as_str());
        match self.key.as_str() {
            "id" => r.id.starts_with(v),
            "name" => r.name.contains(v.trim_start_matches('/')),
            "status" => c.status.word() == v,
            "label" => label_matches(&r.config.labels, v),
            "ancestor" => r.image == v || r.image_id.contains(v),
            "exited" => matches!(c.status, ContainerStatus::Exited(code) if code.to_string() == v),
            "restart-policy" => r.host.restart.name == v,
            "health" => {
                let h =
                    c.run.health.as_ref().filter(|_| c.status == ContainerStatus::Running).map(|h| h.status.as_str());
                h.unwrap_or("none") == v
            }
            "volume" => r.mounts.iter().any(|m| m.name.as_deref() == Some(v) || m.destination == v),
            _ => false,
        }
    }
}

/// Whether container `c` passes the list filter `filter` (`KEY=VALUE`).
pub fn matches(c: &Container, filter: &str) -> Result<bool> {
    Ok(ListFilter::parse(filter)?.matches(c))
}

/// A container's ports for its summary: each published one, then each exposed one
/// that is not published.
fn ports(c: &Container) -> Vec<Port> {
    let mut out: Vec<Port> = Vec::new();
    if c.status.is_live() {
        for m in c.run.published() {
            out.push(Port {
                ip: m.host_ip.to_string(),
                private_port: m.container_port,
                public_port: Some(m.host_port),
                kind: m.proto.name().into(),
            });
        }
    }
    for e in &c.record.config.exposed_ports {
        let (p, kind) = e.split_once('/').unwrap_or((e, "tcp"));
        let Ok(private_port) = p.parse() else { continue };
        if !out.iter().any(|o| o.private_port == private_port && o.kind == kind) {
            out.push(Port { private_port, kind: kind.into(), ..Default::default() });
        }
    }
    out
}

//! Networks as the engine manages them (Docker's `/networks` endpoints): hull-network's
//! networks, with what the engine adds — the containers on each (a network in use is
//! not removed), Docker's JSON shape for inspect and list, and events.

use crate::error::{Error, Result};
use crate::events::Event;
use crate::Engine;
use hull_network::{CreateNetwork, Network};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's network document (`network inspect`, `GET /networks/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInspect {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: String,
    pub gateway: String,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

/// A running container on a network.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

impl Engine {
    fn network_event(&self, action: &str, n: &Network) {
        let _ = self.events().emit(&Event::new("network", action, &n.id).with("name", &n.name).with("type", "bridge"));
    }

    /// Makes a network.
    pub fn create_network(&self, c: &CreateNetwork) -> Result<Network> {
        let n = self.networks.create(c)?;
        self.network_event("create", &n);
        Ok(n)
    }

    /// Network `name` (its name, full id or a unique id prefix).
    pub fn network(&self, name: &str) -> Result<Network> {
        match self.networks.get(name) {
            Err(hull_network::Error::NotFound(_)) => {
                let found: Vec<Network> =
                    self.networks.list()?.into_iter().filter(|n| !name.is_empty() && n.id.starts_with(name)).collect();
                match found.len() {
                    1 => Ok(found.into_iter().next().expect("one")),
                    0 => Err(hull_network::Error::NotFound(name.to_owned()).into()),
                    _ => Err(Error::Invalid(format!("network {name} is ambiguous ({} matches found)", found.len()))),
                }
            }
            r => Ok(r?),
        }
    }

    /// Every network (the default one made if it is not yet).
    pub fn list_networks(&self) -> Result<Vec<Network>> {
        let mut all = self.networks.list()?;
        if !all.iter().any(|n| n.name == hull_network::DEFAULT) && nix::unistd::geteuid().is_root() {
            all.push(self.networks.get(hull_network::DEFAULT)?);
            all.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(all)
    }

    /// The containers whose network is `n` (running or not).
    fn containers_on(&self, n: &Network) -> Result<Vec<crate::record::Container>> {
        Ok(self
            .ids()?
            .iter()
            .filter_map(|id| self.container(id).ok())
            .filter(|c| c.record.host.endpoints().iter().any(|e| e.network == n.name))
            .collect())
    }

    /// Docker's document for network `name`.
    pub fn inspect_network(&self, name: &str) -> Result<NetworkInspect> {
        let n = self.network(name)?;
        let mut containers = BTreeMap::new();
        for c in self.containers_on(&n)? {
            if let Some(a) = c.run.networks.iter().find(|a| a.network == n.name).filter(|_| c.status.is_live()) {
                containers.insert(
                    c.record.id.clone(),
                    NetworkContainer {
                        name: c.record.name.clone(),
                        endpoint_id: a.host_veth.clone(),
                        mac_address: a.mac.clone(),
                        ipv4_address: format!("{}/{}", a.ip, a.prefix),
                        ipv6_address: a.ip6.map(|ip| format!("{ip}/{}", a.prefix6)).unwrap_or_default(),
                    },
                );
            }
        }
        Ok(NetworkInspect {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local".into(),
            driver: n.driver.clone(),
            enable_ipv6: n.ipv6().is_some(),
            ipam: Ipam {
                driver: "default".into(),
                config: std::iter::once(IpamConfig {
                    subnet: n.subnet.to_string(),
                    gateway: n.gateway.to_string(),
                    ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                })
                .chain(n.ipv6().map(|(s6, g6)| IpamConfig {
                    subnet: s6.to_string(),
                    gateway: g6.to_string(),
                    ip_range: String::new(),
                }))
                .collect(),
            },
            internal: n.internal,
            attachable: false,
            ingress: false,
            containers,
            options: [("com.docker.network.bridge.name".to_string(), n.bridge.clone())]
                .into_iter()
                .chain(n.mtu.map(|m| ("com.docker.network.driver.mtu".to_string(), m.to_string())))
                .collect(),
            labels: n.labels.clone(),
        })
    }

    /// Removes network `name`: refused while a container is on it, as Docker's.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        if let Some(c) = self.containers_on(&n)?.first() {
            return Err(Error::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints (container {})",
                n.name,
                n.id,
                hull_image::image::short_id(&c.record.id)
            )));
        }
        let n = self.networks.remove(&n.name)?;
        self.network_event("destroy", &n);
        Ok(())
    }

    /// Removes every user-defined network no container is on; returns their names.
    pub fn prune_networks(&self) -> Result<Vec<String>> {
        let mut gone = Vec::new();
        for n in self.networks.list()? {
            if n.name != hull_network::DEFAULT && self.containers_on(&n)?.is_empty() {
                self.networks.remove(&n.name)?;
                self.network_event("destroy", &n);
                gone.push(n.name);
            }
        }
        Ok(gone)
    }

    /// Connects container `container` to network `network` (`network connect`; Docker's
    /// `POST /networks/{id}/connect`), live when it runs, and for its later runs.
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        e: &crate::create::body::EndpointConfig,
    ) -> Result<()> {
        let n = self.network(network)?;
        self.change_endpoints(&n, container, crate::attach::CONNECT, |r, endpoints| {
            if !hull_network::is_network(&r.host.network) {
                return Err(Error::Invalid(format!(
                    "container {} cannot be connected to network {}: its network mode is {}",
                    r.name, n.name, r.host.network
                )));
            }
            if endpoints.iter().any(|x| x.network == n.name) {
                return Err(Error::Conflict(format!(
                    "endpoint with name {} already exists in network {}",
                    r.name, n.name
                )));
            }
            endpoints.push(self.endpoint(&n.name, Some(e), "")?);
            Ok(())
        })
    }

    /// Disconnects container `container` from network `network` (`network
    /// disconnect`), live when it runs.
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<()> {
        let n = self.network(network)?;
        self.change_endpoints(&n, container, crate::attach::DISCONNECT, |r, endpoints| {
            let Some(k) = endpoints.iter().position(|x| x.network == n.name) else {
                return Err(Error::Invalid(format!("container {} is not connected to network {}", r.name, n.name)));
            };
            endpoints.remove(k);
            Ok(())
        })
    }

    /// Changes the networks of container `container` by `change` under its lock: its
    /// record first, then, when it runs, its monitor told (`kind`: CONNECT or
    /// DISCONNECT of `n`); the record is put back if the monitor fails.
    fn change_endpoints(
        &self,
        n: &Network,
        container: &str,
        kind: u8,
        change: impl FnOnce(&crate::record::Record, &mut Vec<crate::record::Endpoint>) -> Result<()>,
    ) -> Result<()> {
        let id = self.resolve(container)?;
        let _lock = self.lock(&id)?;
        let mut r = self.record(&id)?;
        let mut endpoints = r.host.endpoints();
        change(&r, &mut endpoints)?;
        let before = (r.host.endpoints.clone(), r.host.ip, r.host.mac.clone());
        (r.host.endpoints, r.host.ip, r.host.mac) = (Some(endpoints), None, None);
        self.save_record(&r)?;
        if self.container(&id)?.status.is_live() {
            if let Err(err) = self.tell_monitor(&id, kind, &n.name) {
                (r.host.endpoints, r.host.ip, r.host.mac) = before;
                self.save_record(&r)?;
                return Err(err);
            }
        }
        let action = if kind == crate::attach::CONNECT { "connect" } else { "disconnect" };
        let _ = self.events().emit(
            &Event::new("network", action, &n.id).with("name", &n.name).with("type", "bridge").with("container", &id),
        );
        Ok(())
    }

    /// Sends container `id`'s monitor a CONNECT or DISCONNECT for `network` and waits
    /// for it to be done.
    fn tell_monitor(&self, id: &str, kind: u8, network: &str) -> Result<()> {
        use crate::attach;
        let gone = || Error::NotRunning(format!("container {id} stopped while its networks changed"));
        let mut s = attach::connect(&self.dir(id)).map_err(|_| gone())?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(60))).map_err(Error::at("set a socket timeout"))?;
        attach::write_frame(&mut s, kind, network.as_bytes()).map_err(|_| gone())?;
        loop {
            match attach::read_frame(&mut s) {
                Ok(Some((attach::DONE, msg))) if msg.is_empty() => return Ok(()),
                Ok(Some((attach::DONE, msg))) => {
                    return Err(Error::Invalid(String::from_utf8_lossy(&msg).into_owned()))
                }
                Ok(Some((attach::EXIT | attach::ERROR, _))) | Ok(None) => return Err(gone()),
                Ok(Some(_)) => {}
                Err(e) => return Err(Error::io(format!("talk to the monitor of {id}"), e)),
            }
        }
    }

    /// Starts network `n`'s resolver unless it runs (a container just joined it).
    pub(crate) fn ensure_resolver(&self, n: &Network) {
        use std::os::unix::process::CommandExt;
        if hull_network::dns::is_running(self.networks.dir(), n).unwrap_or(true) {
            return;
        }
        let mut cmd = std::process::Command::new(self.exe());
        cmd.arg0("hull-dns")
            .arg("__dns")
            .arg(self.root())
            .arg(&n.name)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // It forks at once and its parent exits: the resolver is nobody's child.
        if let Ok(mut c) = cmd.spawn() {
            let _ = c.wait();
        }
    }

    /// Rewrites hull's firewall table and starts the resolvers of networks that have
    /// running containers and lost theirs (`network reload`).
    pub fn reload_networks(&self) -> Result<()> {
        self.networks.reload_all()?;
        for n in self.networks.list()? {
            let alive = |l: &hull_network::ipam::Lease| hull_container::pid::is_alive(l.pid, l.pid_start);
            let used = self.networks.ipam(&n).read().unwrap_or_default().iter().any(|(_, l)| alive(l));
            if n.name != hull_network::DEFAULT && used {
                self.ensure_resolver(&n);
            }
        }
        Ok(())
    }
}

/// The resolver's entry point (`hull __dns ROOT NETWORK`): forks, and the child, in a
/// session of its own, serves network `name`'s names until it has no running
/// container. The parent exits once the child listens (or has failed), so a container
/// started after [`Engine::ensure_resolver`] returns finds it answering. Returns the
/// exit status.
pub fn dns_main(root: &std::path::Path, name: &str) -> i32 {
    let Ok((ready_r, ready_w)) = nix::unistd::pipe() else { return 1 };
    // SAFETY: fork in a single-threaded process (nothing has started a thread yet).
    match unsafe { libc::fork() } {
        -1 => return 1,
        0 => drop(ready_r),
        _ => {
            drop(ready_w);
            // One byte once it listens; end of file if it died first.
            let mut b = [0u8; 1];
            return if nix::unistd::read(&ready_r, &mut b) == Ok(1) { 0 } else { 1 };
        }
    }
    // SAFETY: setsid in our own new process.
    unsafe { libc::setsid() };
    let run = move || -> Result<()> {
        let engine = Engine::open(root)?;
        let n = engine.networks.get(name)?;
        let alive = |l: &hull_network::ipam::Lease| hull_container::pid::is_alive(l.pid, l.pid_start);
        let ready = move || {
            let _ = nix::unistd::write(&ready_w, b"r");
        };
        hull_network::dns::serve(engine.networks.dir(), &n, &engine.networks.ipam(&n), &alive, ready)?;
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hull-dns {name}: {e}");
            1
        }
    }
}

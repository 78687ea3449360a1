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
            .filter(|c| c.record.host.network == n.name)
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
                        ipv6_address: String::new(),
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
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                config: vec![IpamConfig {
                    subnet: n.subnet.to_string(),
                    gateway: n.gateway.to_string(),
                    ip_range: n.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                }],
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
}

//! hull-network: container networks, as Docker's bridge driver makes them. A network
//! is a Linux bridge with a subnet; each container on it gets a veth pair (the host end
//! on the bridge, the other end made straight inside the container's network namespace
//! as `eth0`), an address from the network's IPAM, a default route through the bridge's
//! address, and egress through masquerade in hull's own nftables table. A network made
//! with `--ipv6` is dual stack: an IPv6 subnet, address, route and NAT66 beside them.
//!
//! Modules: [`subnet`] (CIDR arithmetic, the default subnet's choice), [`ipam`] (leases
//! under a lock), [`netlink`] (links, addresses, routes through rtnetlink), [`firewall`]
//! (the `inet hull` table), [`attach`] (a container joined to a network and left),
//! [`dns`] (a user-defined network's resolver), [`pasta`] (rootless networking).
//! State lives in the engine's store under `networks/`: `NAME.json` (the network),
//! `NAME.leases` (its IPAM). Nothing here forks or keeps a thread: the engine's monitor
//! calls [`Networks::attach`] between the runtime's create and start.

pub mod attach;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod pasta;
pub mod ports;
pub mod subnet;

pub use attach::Attachment;
pub use error::{Error, Result};
pub use subnet::{Subnet, Subnet6};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The default network's name (Docker's) and its bridge.
pub const DEFAULT: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "hull0";

/// A network, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    /// `bridge` (the only driver so far).
    pub driver: String,
    /// The bridge device's name.
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// Where container addresses are taken from, when narrower than the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    /// No egress: containers reach only each other.
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The MTU of the bridge and its veths (the host's default route's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    pub created: String,
    /// Dual stack (`--ipv6`): the IPv6 subnet beside the IPv4 one, and its gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Subnet6>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

impl Network {
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, bridge: &str, subnet: &str, internal: bool) -> Network {
        let subnet: Subnet = subnet.parse().unwrap();
        Network {
            name: name.into(),
            id: "0".repeat(64),
            driver: "bridge".into(),
            bridge: bridge.into(),
            gateway: subnet.nth(1).unwrap(),
            subnet,
            ip_range: None,
            internal,
            labels: BTreeMap::new(),
            mtu: None,
            created: String::new(),
            subnet6: None,
            gateway6: None,
        }
    }
}

impl Network {
    /// Its IPv6 subnet and gateway, when it is dual stack.
    pub fn ipv6(&self) -> Option<(Subnet6, Ipv6Addr)> {
        self.subnet6.zip(self.gateway6)
    }
}

/// A network to make (`hull network create`, Docker's `POST /networks/create`).
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Subnet>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub mtu: Option<u32>,
    /// Dual stack: an IPv6 subnet too (`subnet6`, or a unique local /64 of its own).
    pub ipv6: bool,
    pub subnet6: Option<Subnet6>,
    pub gateway6: Option<Ipv6Addr>,
}

impl CreateNetwork {
    /// Takes a `--subnet` (Docker's `IPAM.Config[].Subnet`) of either family: an IPv4
    /// one is the network's subnet, an IPv6 one makes it dual stack.
    pub fn add_subnet(&mut self, cidr: &str) -> Result<()> {
        if cidr.contains(':') {
            if self.subnet6.replace(cidr.parse()?).is_some() {
                return Err(Error::Invalid("only one IPv6 --subnet is supported".into()));
            }
        } else if self.subnet.replace(cidr.parse()?).is_some() {
            return Err(Error::Invalid("only one IPv4 --subnet is supported".into()));
        }
        Ok(())
    }

    /// Takes a `--gateway` of either family.
    pub fn add_gateway(&mut self, ip: &str) -> Result<()> {
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(g)) if self.gateway.replace(g).is_none() => Ok(()),
            Ok(std::net::IpAddr::V6(g)) if self.gateway6.replace(g).is_none() => Ok(()),
            Ok(_) => Err(Error::Invalid(format!("only one gateway per address family: {ip}"))),
            Err(_) => Err(Error::Invalid(format!("invalid gateway {ip:?}: an IP address"))),
        }
    }
}

/// Whether `mode` (a container's network setting) names a network of this crate's
/// rather than `none`, `host`, a namespace with loopback only (`private`), a rootless
/// one through pasta (`pasta`) or another container's.
pub fn is_network(mode: &str) -> bool {
    !matches!(mode, "none" | "host" | "private" | "pasta" | "") && !mode.starts_with("container:")
}

/// Docker's rule for network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The networks of one store (`ROOT/networks`).
pub struct Networks {
    dir: PathBuf,
}

impl Networks {
    pub fn open(root: &Path) -> Networks {
        Networks { dir: root.join("networks") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Holds the store's network lock (creation, removal, the firewall's rewrite).
    fn lock(&self) -> Result<Locked> {
        std::fs::create_dir_all(&self.dir).map_err(Error::at(format!("create {}", self.dir.display())))?;
        lock_file(&self.dir.join("networks.lock"))
    }

    /// Network `name` (the default one is made on first use).
    pub fn get(&self, name: &str) -> Result<Network> {
        if !valid_name(name) {
            return Err(Error::NotFound(name.to_owned()));
        }
        match std::fs::read(self.path(name)) {
            Ok(b) => {
                serde_json::from_slice(&b).map_err(|e| Error::Invalid(format!("{}: {e}", self.path(name).display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name == DEFAULT => self.make_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound(name.to_owned())),
            Err(e) => Err(Error::io(format!("read {}", self.path(name).display()), e)),
        }
    }

    /// Every network on disk.
    pub fn list(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_suffix(".json") {
                out.push(self.get(n)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn make_default(&self) -> Result<Network> {
        let _l = self.lock()?;
        if let Ok(b) = std::fs::read(self.path(DEFAULT)) {
            return serde_json::from_slice(&b).map_err(|e| Error::Invalid(format!("{}: {e}", DEFAULT)));
        }
        let mut taken = subnet::host_routes();
        taken.extend(self.list()?.into_iter().map(|n| n.subnet));
        let subnet = subnet::free_default(&taken)?;
        let n = Network {
            name: DEFAULT.into(),
            id: new_id()?,
            driver: "bridge".into(),
            bridge: DEFAULT_BRIDGE.into(),
            gateway: subnet.nth(1).expect("a /16 has a first host"),
            subnet,
            ip_range: None,
            internal: false,
            labels: BTreeMap::new(),
            mtu: None,
            created: humantime_now(),
            subnet6: None,
            gateway6: None,
        };
        self.save(&n)?;
        Ok(n)
    }

    /// Makes a network (its bridge comes with its first container).
    pub fn create(&self, c: &CreateNetwork) -> Result<Network> {
        if !valid_name(&c.name) {
            return Err(Error::Invalid(format!(
                "invalid network name {:?}: [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed",
                c.name
            )));
        }
        if matches!(c.name.as_str(), DEFAULT | "none" | "host") {
            return Err(Error::Conflict(format!("network with name {} already exists (a pre-defined one)", c.name)));
        }
        let _l = self.lock()?;
        if self.path(&c.name).exists() {
            return Err(Error::Conflict(format!("network with name {} already exists", c.name)));
        }
        let others: Vec<Subnet> = self.list()?.into_iter().map(|n| n.subnet).collect();
        let subnet = match c.subnet {
            Some(s) => {
                if let Some(o) = others.iter().find(|o| o.overlaps(&s)) {
                    return Err(Error::Conflict(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({s} and {o})"
                    )));
                }
                s
            }
            None => {
                let mut taken = subnet::host_routes();
                taken.extend(others);
                subnet::free_default(&taken)?
            }
        };
        let gateway = c.gateway.unwrap_or_else(|| subnet.nth(1).expect("a subnet of /30 or wider has hosts"));
        if !subnet.contains(gateway) || gateway == subnet.addr || gateway == subnet.broadcast() {
            return Err(Error::Invalid(format!("gateway {gateway} is not a host address of subnet {subnet}")));
        }
        if let Some(r) = c.ip_range {
            if !subnet.contains(r.addr) || r.prefix < subnet.prefix {
                return Err(Error::Invalid(format!("ip range {r} is not inside subnet {subnet}")));
            }
        }
        let id = new_id()?;
        let (subnet6, gateway6) = if c.ipv6 || c.subnet6.is_some() || c.gateway6.is_some() {
            let s6 = c.subnet6.unwrap_or_else(|| Subnet6::unique_local(&id));
            if let Some(o) = self.list()?.iter().filter_map(|n| n.subnet6).find(|o| o.overlaps(&s6)) {
                return Err(Error::Conflict(format!(
                    "invalid pool request: Pool overlaps with other one on this address space ({s6} and {o})"
                )));
            }
            let g6 = c.gateway6.unwrap_or_else(|| s6.nth(1).expect("a /126 or wider has hosts"));
            if !s6.contains(g6) || g6 == s6.addr {
                return Err(Error::Invalid(format!("gateway {g6} is not a host address of subnet {s6}")));
            }
            (Some(s6), Some(g6))
        } else {
            (None, None)
        };
        let n = Network {
            name: c.name.clone(),
            bridge: format!("hbr-{}", &id[..10]),
            id,
            driver: "bridge".into(),
            subnet,
            gateway,
            ip_range: c.ip_range,
            internal: c.internal,
            labels: c.labels.clone(),
            mtu: c.mtu,
            created: humantime_now(),
            subnet6,
            gateway6,
        };
        self.save(&n)?;
        Ok(n)
    }

    /// Removes a network that no container is on (the caller checks that): its bridge,
    /// its files, its rules.
    pub fn remove(&self, name: &str) -> Result<Network> {
        if matches!(name, DEFAULT | "none" | "host") {
            return Err(Error::Conflict(format!("{name} is a pre-defined network and cannot be removed")));
        }
        let n = self.get(name)?;
        let _l = self.lock()?;
        netlink::Handle::new()?.del_link(&n.bridge)?;
        firewall::docker_user(&n.bridge, n.ipv6().is_some(), false)?;
        for p in [
            self.path(name),
            self.dir.join(format!("{name}.leases")),
            self.dir.join(format!("{name}.leases.lock")),
            dns::lock_path(&self.dir, &n),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("remove {}", p.display()), e)),
            }
        }
        self.reload_locked()?;
        Ok(n)
    }

    fn save(&self, n: &Network) -> Result<()> {
        let p = self.path(&n.name);
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(n).expect("a network serialises"))
            .map_err(Error::at(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &p).map_err(Error::at(format!("rename {}", p.display())))
    }

    /// Where the networks' files are (`ROOT/networks`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The IPAM of network `n`.
    pub fn ipam(&self, n: &Network) -> ipam::Ipam {
        ipam::Ipam::new(&self.dir.join(format!("{}.leases", n.name)), n.subnet, n.gateway, n.ip_range, n.ipv6())
    }

    /// Rewrites hull's nftables table from the networks and published ports on disk.
    pub fn reload_firewall(&self) -> Result<()> {
        let _l = self.lock()?;
        self.reload_locked()
    }

    /// [`Networks::reload_firewall`], and each bridge's rules in Docker's `DOCKER-USER`
    /// chain put back (`network reload`).
    pub fn reload_all(&self) -> Result<()> {
        self.reload_firewall()?;
        let mut h = netlink::Handle::new()?;
        for n in self.list()? {
            if h.link_index(&n.bridge)?.is_some() {
                firewall::docker_user(&n.bridge, n.ipv6().is_some(), true)?;
            }
        }
        Ok(())
    }

    fn reload_locked(&self) -> Result<()> {
        firewall::apply(&firewall::batch(&self.list()?, &self.all_ports()?))
    }

    fn ports_path(&self, container: &str) -> PathBuf {
        self.dir.join("ports").join(format!("{container}.json"))
    }

    /// Every container's published ports.
    fn all_ports(&self) -> Result<Vec<ports::PortMap>> {
        self.ports_except("")
    }

    /// Every container's published ports but `container`'s.
    fn ports_except(&self, container: &str) -> Result<Vec<ports::PortMap>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.join("ports")).into_iter().flatten().flatten() {
            if e.file_name().to_str() == Some(&format!("{container}.json")) {
                continue;
            }
            let b = std::fs::read(e.path()).map_err(Error::at(format!("read {}", e.path().display())))?;
            // A file half written by a killed process was never renamed into place.
            let maps: Vec<ports::PortMap> =
                serde_json::from_slice(&b).map_err(|e2| Error::Invalid(format!("{}: {e2}", e.path().display())))?;
            out.extend(maps);
        }
        Ok(out)
    }

    /// Publishes `maps` for `container`: its file first, then the table rewritten.
    pub fn publish(&self, container: &str, maps: &[ports::PortMap]) -> Result<()> {
        if maps.is_empty() {
            return Ok(());
        }
        let _l = self.lock()?;
        if let Some(m) = ports::clash(&self.ports_except(container)?, maps) {
            return Err(Error::Conflict(format!("Bind for {} failed: port is already allocated", m.host())));
        }
        let p = self.ports_path(container);
        let dir = self.dir.join("ports");
        std::fs::create_dir_all(&dir).map_err(Error::at(format!("create {}", dir.display())))?;
        let tmp = dir.join(format!(".{container}.tmp{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(maps).expect("port maps serialise"))
            .map_err(Error::at(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &p).map_err(Error::at(format!("rename {}", p.display())))?;
        self.reload_locked()
    }

    /// Withdraws `container`'s published ports, if it has any.
    pub fn unpublish(&self, container: &str) -> Result<()> {
        let p = self.ports_path(container);
        if !p.exists() {
            return Ok(());
        }
        let _l = self.lock()?;
        match std::fs::remove_file(&p) {
            Ok(()) => self.reload_locked(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", p.display()), e)),
        }
    }
}

/// A lock file held (an exclusive `flock`) for as long as this lives.
pub struct Locked(#[allow(dead_code)] Flock<File>);

fn open_lock(p: &Path) -> Result<File> {
    File::options().create(true).truncate(false).write(true).open(p).map_err(Error::at(format!("open {}", p.display())))
}

/// Opens (creating) `p` and waits for its exclusive lock.
pub(crate) fn lock_file(p: &Path) -> Result<Locked> {
    Flock::lock(open_lock(p)?, FlockArg::LockExclusive)
        .map(Locked)
        .map_err(|(_, e)| Error::io(format!("lock {}", p.display()), e.into()))
}

/// Opens (creating) `p` and takes its exclusive lock if nobody holds it.
pub(crate) fn try_lock_file(p: &Path) -> Result<Option<Locked>> {
    match Flock::lock(open_lock(p)?, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(Locked(l))),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(Error::io(format!("lock {}", p.display()), e.into())),
    }
}

/// 32 random bytes as 64 hex digits (Docker's shape for container and network ids).
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 32];
    let mut got = 0;
    while got < b.len() {
        // SAFETY: getrandom writes at most the given length into the buffer.
        let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n < 0 {
            return Err(Error::io("getrandom", std::io::Error::last_os_error()));
        }
        got += n as usize;
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

//! A container joined to a network and left: its address leased, a veth pair made
//! (the host end on the network's bridge, the peer straight inside the container's
//! network namespace as `eth0`), the peer addressed, up, and routed through the
//! bridge's address; on a dual-stack network an IPv6 address and default route too.
//! Leaving releases the lease and the published ports; the pair goes with the
//! container's namespace.
//!
//! The bridge is made on first use: a fixed MAC, the gateway's address, up,
//! `net.ipv4.ip_forward` (and on a dual-stack network IPv6 forwarding) set, and hull's
//! nftables table rewritten to hold its rules.

use crate::error::{Error, Result};
use crate::ipam::Lease;
use crate::netlink::Handle;
use crate::{Network, Networks};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

/// How a container joins a network.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// The address asked for (`--ip`), or the next free one.
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address asked for (`--ip6`) on a dual-stack network.
    pub ip6: Option<Ipv6Addr>,
    /// The MAC asked for (`--mac-address`), or one derived from the address.
    pub mac: Option<[u8; 6]>,
    /// The interface's name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    /// The names it answers to on the network's resolver (none on the default network,
    /// which has no resolver, as Docker's).
    pub names: Vec<String>,
    /// Its `--dns` servers, for the resolver's look-ups of other names.
    pub dns: Vec<std::net::IpAddr>,
    /// Whether the container's default route goes through this network (its first).
    pub default_route: bool,
}

/// A container's place on a network (Docker's `NetworkSettings.Networks[NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub network_id: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// The host end of the veth pair.
    pub host_veth: String,
    pub ifname: String,
    /// Its published ports on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::ports::PortMap>,
    /// Its IPv6 address, prefix length and gateway on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefix6: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Networks {
    /// Joins container `container` (its init: `pid`, `pid_start`; its network namespace:
    /// `netns`) to network `n`. `alive` tells whether another lease's holder still
    /// lives (those that do not are taken back). On error, nothing of it is left.
    pub fn attach(
        &self,
        n: &Network,
        container: &str,
        (pid, pid_start): (i32, u64),
        netns: BorrowedFd<'_>,
        opts: &AttachOptions,
        alive: &dyn Fn(&Lease) -> bool,
    ) -> Result<Attachment> {
        let mut host = Handle::new()?;
        let (bridge, bridge_mtu) = self.ensure_bridge(&mut host, n)?;
        let ipam = self.ipam(n);
        let holder = Lease {
            container: container.to_owned(),
            pid,
            pid_start,
            names: opts.names.clone(),
            dns: opts.dns.clone(),
            ip6: None,
        };
        let (ip, ip6) = ipam.allocate(&holder, opts.ip, opts.ip6, alive)?;
        let v6 = n.ipv6().zip(ip6);
        let veth = host_veth_name(container, n);
        let r = (|| {
            let mac = opts.mac.unwrap_or_else(|| mac_of(ip));
            let mtu = n.mtu.or(bridge_mtu);
            hull_fault::point("network-leased");
            match host.add_veth(&veth, &opts.ifname, netns.as_raw_fd(), mac, mtu) {
                // One left by a namespace something else still holds (the name is the
                // container's and the network's): replaced.
                Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                    host.del_link(&veth)?;
                    host.add_veth(&veth, &opts.ifname, netns.as_raw_fd(), mac, mtu)?;
                }
                r => r?,
            }
            let index = host.link_index(&veth)?.ok_or_else(|| Error::Invalid(format!("veth {veth} vanished")))?;
            host.set_up(index, Some(bridge))?;
            let mut inside = Handle::in_netns(netns)?;
            let eth = inside
                .link_index(&opts.ifname)?
                .ok_or_else(|| Error::Invalid(format!("{} is missing in the container", opts.ifname)))?;
            inside.add_address(eth, IpAddr::V4(ip), n.subnet.prefix)?;
            if let Some(((s6, _), ip6)) = v6 {
                // No duplicate address detection on the container's link-local
                // address either (as netavark): it would stay "tentative" for the
                // first second or two, which breaks programs that look at their
                // addresses then (a static glibc's getaddrinfo crashes on it).
                crate::netlink::set_ipv6_conf(netns, &opts.ifname, "accept_dad", "0")?;
                inside.add_address(eth, IpAddr::V6(ip6), s6.prefix)?;
            }
            // (Loopback is up already: the runtime brings it up in a new namespace.)
            inside.set_up(eth, None)?;
            if opts.default_route {
                inside.add_default_route(IpAddr::V4(n.gateway))?;
                if let Some(((_, g6), _)) = v6 {
                    inside.add_default_route(IpAddr::V6(g6))?;
                }
            }
            Ok(mac)
        })();
        match r {
            Ok(mac) => Ok(Attachment {
                network: n.name.clone(),
                network_id: n.id.clone(),
                ip,
                prefix: n.subnet.prefix,
                gateway: n.gateway,
                mac: format_mac(mac),
                host_veth: veth,
                ifname: opts.ifname.clone(),
                ports: Vec::new(),
                ip6,
                prefix6: v6.map_or(0, |((s6, _), _)| s6.prefix),
                gateway6: v6.map(|((_, g6), _)| g6),
            }),
            Err(e) => {
                let _ = host.del_link(&veth);
                let _ = ipam.release(container);
                Err(e)
            }
        }
    }

    /// Takes container `container` off network `n`: its published ports and its lease.
    /// Its veth pair is not removed here: it goes with the container's network
    /// namespace, which the kernel tears down (asynchronously) once the container's
    /// last process is gone; removing it by hand waits for RCU grace periods, about
    /// 20 ms on every container's exit. A pair left by a namespace something else
    /// still holds is replaced by the next attach of the same container (its name is
    /// the container's).
    pub fn detach(&self, n: &Network, container: &str) -> Result<()> {
        self.unpublish(container)?;
        self.ipam(n).release(container)
    }

    /// Takes a running container off network `n` (`network disconnect`): as
    /// [`Networks::detach`], and its veth pair removed, since its namespace stays.
    pub fn detach_live(&self, n: &Network, container: &str, host_veth: &str) -> Result<()> {
        Handle::new()?.del_link(host_veth)?;
        self.detach(n, container)
    }

    /// The bridge of `n`, made if missing; returns its index and MTU.
    fn ensure_bridge(&self, h: &mut Handle, n: &Network) -> Result<(u32, Option<u32>)> {
        if let Some(found) = h.link(&n.bridge)? {
            // Each join checks hull's table (a firewall reload may have wiped it).
            if !crate::firewall::table_complete()? {
                self.reload_all()?;
            }
            return Ok(found);
        }
        let mtu = match n.mtu {
            Some(m) => Some(m),
            None => h.default_route_mtu()?,
        };
        let g = n.gateway.octets();
        match h.add_bridge(&n.bridge, [0x02, 0x43, g[0], g[1], g[2], g[3]], mtu) {
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {}
            r => r?,
        }
        let index = h.link_index(&n.bridge)?.ok_or_else(|| Error::Invalid(format!("bridge {} vanished", n.bridge)))?;
        h.add_address(index, IpAddr::V4(n.gateway), n.subnet.prefix)?;
        if let Some((s6, g6)) = n.ipv6() {
            h.add_address(index, IpAddr::V6(g6), s6.prefix)?;
        }
        h.set_up(index, None)?;
        // Published ports answer on 127.0.0.1 too: the bridge must route loopback
        // sources (hull's table drops what containers send to 127.0.0.0/8).
        let localnet = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge);
        std::fs::write(&localnet, b"1").map_err(Error::at(format!("set {localnet}")))?;
        if !n.internal {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", b"1")
                .map_err(Error::at("set net.ipv4.ip_forward (containers' egress)"))?;
            if n.ipv6().is_some() {
                std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", b"1")
                    .map_err(Error::at("set net.ipv6.conf.all.forwarding (containers' IPv6 egress)"))?;
            }
        }
        self.reload_firewall()?;
        crate::firewall::docker_user(&n.bridge, n.ipv6().is_some(), true)?;
        Ok((index, mtu))
    }
}

/// The host end's name: `vh` + the container's id and the network's, shortened (15
/// bytes at most for a Linux interface name).
pub fn host_veth_name(container: &str, n: &Network) -> String {
    format!("vh{}{}", &container[..container.len().min(8)], &n.id[..n.id.len().min(4)])
}

/// A locally administered MAC made of the address, as Docker's: `02:42:a:b:c:d`.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || Error::Invalid(format!("invalid MAC address {s:?}"));
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad());
        }
        m[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs() {
        let n = Network::for_test("bridge", "hull0", "10.89.0.0/16", false);
        let v = host_veth_name(&"ab".repeat(32), &n);
        assert_eq!(v, "vhabababab0000");
        assert!(v.len() <= 15);
        assert_eq!(format_mac(mac_of(Ipv4Addr::new(10, 89, 0, 2))), "02:42:0a:59:00:02");
        assert_eq!(parse_mac("02:42:0a:59:00:02").unwrap(), mac_of(Ipv4Addr::new(10, 89, 0, 2)));
        assert!(parse_mac("02:42:0a:59:00").is_err() && parse_mac("zz:42:0a:59:00:02").is_err());
    }
}

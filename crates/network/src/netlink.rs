//! Links, addresses and routes through rtnetlink (the `netlink-packet-route` message
//! types on a blocking `netlink-sys` socket, as netavark does, without its async
//! runtime): a bridge, a veth pair whose peer is made straight inside a container's
//! network namespace, addresses, a default route, links up, a link's removal. A
//! [`Handle`] speaks to one network namespace: the caller's, or a container's
//! ([`Handle::in_netns`]: the socket is opened inside it and stays bound to it).

use crate::error::{Error, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, BorrowedFd, RawFd};

/// An rtnetlink socket in one network namespace.
pub struct Handle {
    sock: Socket,
    seq: u32,
}

impl Handle {
    /// A socket in the caller's network namespace.
    pub fn new() -> Result<Handle> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| nl("open an rtnetlink socket", e))?;
        sock.bind_auto().map_err(|e| nl("bind an rtnetlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(|e| nl("connect an rtnetlink socket", e))?;
        Ok(Handle { sock, seq: 0 })
    }

    /// A socket inside the network namespace `netns` (an `nsfs` descriptor such as
    /// `/proc/PID/ns/net`). The calling thread enters it for the socket's creation only.
    pub fn in_netns(netns: BorrowedFd<'_>) -> Result<Handle> {
        within(netns, Handle::new)?
    }

    /// Sends one request and reads until its ACK, returning the messages before it.
    fn request(&mut self, what: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| nl(what, e))?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(|e| nl(what, e))?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| nl(what, std::io::Error::other(e.to_string())))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(nl(what, std::io::Error::other("a netlink message of length 0")));
                }
                offset += len;
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(nl(what, std::io::Error::from_raw_os_error(-code.get()))),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// The index of link `name`, None if there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.link(name)?.map(|(index, _)| index))
    }

    /// The index and MTU of link `name` (one request), None if there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<(u32, Option<u32>)>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(&format!("look up link {name}"), RouteNetlinkMessage::GetLink(m), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => {
                    let mtu = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Mtu(m) => Some(*m),
                        _ => None,
                    });
                    Some((l.header.index, mtu))
                }
                _ => None,
            })),
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The MTU of link `index`.
    pub fn link_mtu(&mut self, index: u32) -> Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let replies = self.request("look up a link's MTU", RouteNetlinkMessage::GetLink(m), 0)?;
        Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::Mtu(m) => Some(m),
                _ => None,
            }),
            _ => None,
        }))
    }

    /// Makes bridge `name` with a fixed MAC address (a bridge otherwise takes the
    /// lowest of its ports', which changes as containers come and go).
    pub fn add_bridge(&mut self, name: &str, mac: [u8; 6], mtu: Option<u32>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(&format!("create bridge {name}"), RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// Makes a veth pair: `host` here, `peer` (with `peer_mac`) inside the network
    /// namespace `peer_netns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_netns: RawFd,
        peer_mac: [u8; 6],
        mtu: Option<u32>,
    ) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_owned()));
        p.attributes.push(LinkAttribute::Address(peer_mac.to_vec()));
        p.attributes.push(LinkAttribute::NetNsFd(peer_netns));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.to_owned()));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
            p.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(&format!("create veth {host}"), RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// Sets link `index` up, on bridge `controller` when given.
    pub fn set_up(&mut self, index: u32, controller: Option<u32>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        if let Some(c) = controller {
            m.attributes.push(LinkAttribute::Controller(c));
        }
        self.request("set a link up", RouteNetlinkMessage::SetLink(m), 0).map(drop)
    }

    /// Removes link `name`; one that does not exist is no error.
    pub fn del_link(&mut self, name: &str) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(&format!("remove link {name}"), RouteNetlinkMessage::DelLink(m), 0) {
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Gives link `index` the address `ip/prefix` (already there: no error). An IPv6
    /// address skips duplicate address detection (`IFA_F_NODAD`): the subnet's leases
    /// already make it unique, and DAD would keep it unusable ("tentative") for a second
    /// or more after the container starts.
    pub fn add_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(ip));
        m.attributes.push(AddressAttribute::Address(ip));
        match ip {
            IpAddr::V4(v4) => {
                m.header.family = AddressFamily::Inet;
                let bits = u32::from(v4) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
                m.attributes.push(AddressAttribute::Broadcast(Ipv4Addr::from(bits)));
            }
            IpAddr::V6(_) => {
                m.header.family = AddressFamily::Inet6;
                m.header.flags = AddressHeaderFlags::Nodad;
                m.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match self.request(
            &format!("add address {ip}/{prefix}"),
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Adds the default route (IPv4 or IPv6, as `gateway` is) through `gateway`.
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header = RouteHeader {
            address_family: if gateway.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 },
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..Default::default()
        };
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        self.request(
            &format!("add the default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// The MTU of the interface the default IPv4 route goes out of, if there is one.
    pub fn default_route_mtu(&mut self) -> Result<Option<u32>> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        let routes = self.request("list routes", RouteNetlinkMessage::GetRoute(m), netlink_packet_core::NLM_F_DUMP)?;
        let oif = routes.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewRoute(r)
                if r.header.destination_prefix_length == 0 && r.header.table == RouteHeader::RT_TABLE_MAIN =>
            {
                r.attributes.into_iter().find_map(|a| match a {
                    RouteAttribute::Oif(i) => Some(i),
                    _ => None,
                })
            }
            _ => None,
        });
        match oif {
            Some(i) => self.link_mtu(i),
            None => Ok(None),
        }
    }
}

/// Runs `f` with the calling thread inside the network namespace `netns`, and returns
/// it to its own namespace after.
pub fn within<T>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> Result<T> {
    use nix::sched::{setns, CloneFlags};
    let ours = std::fs::File::open("/proc/thread-self/ns/net").map_err(Error::at("open our network namespace"))?;
    setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| nl("enter the container's network namespace", e.into()))?;
    let r = f();
    // Back where we were, whatever happened: the rest of this process must not find
    // itself inside a container's namespace.
    if let Err(e) = setns(ours.as_fd(), CloneFlags::CLONE_NEWNET) {
        // No way to go on safely in this thread.
        panic!("cannot return to our network namespace: {e}");
    }
    Ok(r)
}

/// Writes `value` to the sysctl `net.ipv6.conf.IFACE.NAME` of the network namespace
/// `netns` (`/proc/sys/net` shows the namespace of the process that opens it).
pub fn set_ipv6_conf(netns: BorrowedFd<'_>, iface: &str, name: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{iface}/{name}");
    within(netns, || std::fs::write(&path, value))?.map_err(Error::at(format!("set {path} in the container")))
}

fn nl(what: &str, source: std::io::Error) -> Error {
    Error::Netlink { what: what.to_owned(), source }
}

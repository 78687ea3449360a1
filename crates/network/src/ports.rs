//! Published ports (`-p`, `-P`): a host port reserved by a socket the container's
//! monitor holds for as long as the container runs (so no other process can take it,
//! and a port already taken fails the start with Docker's words), and DNAT rules in
//! hull's table that send the host's traffic to the container: from other hosts
//! (prerouting), from the host itself including 127.0.0.1 (output, with the bridge's
//! `route_localnet` and a masquerade of loopback sources), and from another container
//! through the host's address (hairpin: masqueraded back onto the bridge).
//!
//! Each container's maps are a file `networks/ports/ID.json`, written before the table
//! is rewritten and removed when it leaves, so the table always follows the files.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

/// A port to publish, as asked (`[IP:][HOSTPORT[-LAST]:]PORT[/PROTO]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    /// The host address to listen on (all of them when unset).
    pub host_ip: Option<Ipv4Addr>,
    /// The host ports it may take, first to last; none: any free one.
    pub host_ports: Option<(u16, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Result<Proto> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(Error::Invalid(format!("invalid protocol {s:?}: tcp, udp or sctp"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// A published port: the host's side and the container's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMap {
    pub proto: Proto,
    /// 0.0.0.0 for every host address.
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    /// The bridge the container is on (hairpin and loopback rules name it).
    pub bridge: String,
}

impl PortMap {
    /// Docker's key for it (`80/tcp`).
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto.name())
    }
}

/// Parses Docker's `-p` forms: `PORT`, `HOSTPORT:PORT`, `IP:HOSTPORT:PORT`, `IP::PORT`,
/// ranges on either side (`8000-8001:80-81`; a host range for one port: any free one
/// of it), each with `/tcp` (the default), `/udp` or `/sctp`.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>> {
    let bad = |why: &str| Error::Invalid(format!("invalid publish spec {spec:?}: {why}"));
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, Proto::parse(p)?),
        None => (spec, Proto::Tcp),
    };
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(bad("want [IP:][HOSTPORT:]PORT")),
    };
    let host_ip = match host_ip {
        "" => None,
        ip => Some(ip.parse::<Ipv4Addr>().map_err(|_| bad("the host address is not an IPv4 address"))?),
    };
    let range = |r: &str| -> Result<(u16, u16)> {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let a: u16 = a.parse().map_err(|_| bad("a port is a number from 1 to 65535"))?;
        let b: u16 = b.parse().map_err(|_| bad("a port is a number from 1 to 65535"))?;
        if a == 0 || b < a {
            return Err(bad("a port is a number from 1 to 65535, a range FIRST-LAST"));
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    let host = if host_port.is_empty() { None } else { Some(range(host_port)?) };
    let count = c1 - c0;
    match host {
        Some((h0, h1)) if count > 0 && h1 - h0 != count => {
            Err(bad("the host and container port ranges differ in length"))
        }
        Some((h0, _)) if count > 0 => Ok((0..=count)
            .map(|i| PortRequest { proto, container_port: c0 + i, host_ip, host_ports: Some((h0 + i, h0 + i)) })
            .collect()),
        _ => Ok((c0..=c1).map(|p| PortRequest { proto, container_port: p, host_ip, host_ports: host }).collect()),
    }
}

/// Reserves a host port for each request by binding a socket to it (the caller holds
/// the sockets while the container runs). A taken port fails as Docker's does.
pub fn reserve(requests: &[PortRequest], container_ip: Ipv4Addr, bridge: &str) -> Result<(Vec<PortMap>, Vec<OwnedFd>)> {
    let mut maps = Vec::new();
    let mut held = Vec::new();
    for r in requests {
        let ip = r.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (fd, port) = match r.host_ports {
            None => bind(r.proto, ip, 0)?,
            Some((first, last)) => {
                let mut got = None;
                let mut last_err = None;
                for p in first..=last {
                    match bind(r.proto, ip, p) {
                        Ok(x) => {
                            got = Some(x);
                            break;
                        }
                        Err(e) => last_err = Some(e),
                    }
                }
                match got {
                    Some(x) => x,
                    None => return Err(last_err.expect("a range has a port")),
                }
            }
        };
        held.push(fd);
        maps.push(PortMap {
            proto: r.proto,
            host_ip: ip,
            host_port: port,
            container_ip,
            container_port: r.container_port,
            bridge: bridge.to_owned(),
        });
    }
    Ok((maps, held))
}

/// A socket bound to `ip:port` of `proto` (port 0: one the kernel picks); returns it
/// and the port it holds.
fn bind(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16)> {
    use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn};
    let (ty, protocol) = match proto {
        Proto::Tcp => (SockType::Stream, SockProtocol::Tcp),
        Proto::Udp => (SockType::Datagram, SockProtocol::Udp),
        Proto::Sctp => (SockType::Stream, SockProtocol::Sctp),
    };
    let fd = socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, protocol)
        .map_err(|e| Error::io(format!("a {} socket", proto.name()), e.into()))?;
    let addr = SockaddrIn::from(SocketAddrV4::new(ip, port));
    if let Err(e) = bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
        return Err(if e == nix::errno::Errno::EADDRINUSE {
            Error::Conflict(format!("Bind for {ip}:{port} failed: port is already allocated"))
        } else {
            Error::io(format!("bind {ip}:{port}/{}", proto.name()), e.into())
        });
    }
    let got: SockaddrIn =
        getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(|e| Error::io("getsockname", e.into()))?;
    Ok((fd, got.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortRequest {
        let mut v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn docker_publish_forms() {
        let r = one("80");
        assert_eq!((r.proto, r.container_port, r.host_ip, r.host_ports), (Proto::Tcp, 80, None, None));
        let r = one("8080:80/udp");
        assert_eq!((r.proto, r.container_port, r.host_ports), (Proto::Udp, 80, Some((8080, 8080))));
        let r = one("127.0.0.1:8080:80");
        assert_eq!((r.host_ip, r.host_ports), (Some(Ipv4Addr::LOCALHOST), Some((8080, 8080))));
        let r = one("127.0.0.1::80");
        assert_eq!((r.host_ip, r.host_ports), (Some(Ipv4Addr::LOCALHOST), None));
        let r = one("8000-8010:80");
        assert_eq!(r.host_ports, Some((8000, 8010)));
        let v = parse_publish("8000-8001:80-81/tcp").unwrap();
        assert_eq!(
            v.iter().map(|r| (r.host_ports.unwrap().0, r.container_port)).collect::<Vec<_>>(),
            [(8000, 80), (8001, 81)]
        );
        assert_eq!(parse_publish("80-82").unwrap().len(), 3);
        for bad in ["", "x", "0", "80/icmp", "8000-8002:80-81", "1.2.3:80:80", "70000", "90-80", "a:b:c:d"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_taken_port_is_refused_in_dockers_words() {
        let (held, port) = bind(Proto::Tcp, Ipv4Addr::LOCALHOST, 0).unwrap();
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_ports: Some((port, port)),
        };
        let e = reserve(std::slice::from_ref(&req), Ipv4Addr::new(10, 89, 0, 2), "hull0").unwrap_err();
        assert!(e.to_string().contains("port is already allocated"), "{e}");
        drop(held);
        let (maps, fds) = reserve(&[req], Ipv4Addr::new(10, 89, 0, 2), "hull0").unwrap();
        assert_eq!((maps[0].host_port, maps[0].key(), fds.len()), (port, "80/tcp".to_string(), 1));
    }
}

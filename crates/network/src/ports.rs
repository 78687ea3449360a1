//! Published ports (`-p`, `-P`): a host port reserved by a socket the container's
//! monitor holds for as long as the container runs (so no other process can take it,
//! and a port already taken fails the start with Docker's words), and DNAT rules in
//! hull's table that send the host's traffic to the container: from other hosts
//! (prerouting), from the host itself including 127.0.0.1 (output, with the bridge's
//! `route_localnet` and a masquerade of loopback sources), and from another container
//! through the host's address (hairpin: masqueraded back onto the bridge). A container
//! with an IPv6 address (a dual-stack network) has a port published on every host
//! address published on `::` too, with the same port number, as Docker's.
//!
//! Each container's maps are a file `networks/ports/ID.json`, written before the table
//! is rewritten and removed when it leaves, so the table always follows the files.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;

/// A port to publish, as asked (`[IP:][HOSTPORT[-LAST]:]PORT[/PROTO]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    /// The host address to listen on (all of them when unset).
    pub host_ip: Option<IpAddr>,
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
    /// 0.0.0.0 (`::`) for every host IPv4 (IPv6) address.
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
    /// The bridge the container is on (hairpin and loopback rules name it).
    pub bridge: String,
}

impl PortMap {
    /// Docker's key for it (`80/tcp`).
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto.name())
    }

    /// The host side as Docker prints it: `0.0.0.0:8080`, `[::]:8080`.
    pub fn host(&self) -> String {
        SocketAddr::new(self.host_ip, self.host_port).to_string()
    }
}

/// Parses Docker's `-p` forms: `PORT`, `HOSTPORT:PORT`, `IP:HOSTPORT:PORT`, `IP::PORT`
/// (an IPv6 address in brackets: `[::1]:8080:80`),
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
        ip => {
            let inner = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']'));
            Some(match inner {
                Some(v6) => IpAddr::V6(v6.parse().map_err(|_| bad("the host address is not an IPv6 address"))?),
                None => {
                    IpAddr::V4(ip.parse().map_err(|_| bad("the host address is not an IP address ([v6] in brackets)"))?)
                }
            })
        }
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
/// the sockets while the container runs), for a container at `container_ip` (and
/// `container_ip6` on a dual-stack network). A request for every host address gets an
/// IPv6 map on `::` too when the container has an IPv6 address, on the same port. A
/// taken port fails as Docker's does.
pub fn reserve(
    requests: &[PortRequest],
    container_ip: Ipv4Addr,
    container_ip6: Option<Ipv6Addr>,
    bridge: &str,
) -> Result<(Vec<PortMap>, Vec<OwnedFd>)> {
    let mut maps = Vec::new();
    let mut held = Vec::new();
    for r in requests {
        let map = |host_ip: IpAddr, host_port: u16, container_ip: IpAddr| PortMap {
            proto: r.proto,
            host_ip,
            host_port,
            container_ip,
            container_port: r.container_port,
            bridge: bridge.to_owned(),
        };
        match r.host_ip {
            Some(ip @ IpAddr::V4(_)) => {
                let (fd, port) = bind_first(r, &[ip])?.remove(0);
                held.push(fd);
                maps.push(map(ip, port, IpAddr::V4(container_ip)));
            }
            Some(ip @ IpAddr::V6(_)) => {
                let c6 = container_ip6.ok_or_else(|| {
                    Error::Invalid(format!(
                        "cannot publish on {ip}: the container has no IPv6 address (its network is not --ipv6)"
                    ))
                })?;
                let (fd, port) = bind_first(r, &[ip])?.remove(0);
                held.push(fd);
                maps.push(map(ip, port, IpAddr::V6(c6)));
            }
            None => {
                let v4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                let v6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                let hosts: &[IpAddr] = if container_ip6.is_some() { &[v4, v6] } else { &[v4] };
                let got = bind_first(r, hosts)?;
                let port = got[0].1;
                maps.push(map(v4, port, IpAddr::V4(container_ip)));
                if let Some(c6) = container_ip6 {
                    maps.push(map(v6, port, IpAddr::V6(c6)));
                }
                held.extend(got.into_iter().map(|(fd, _)| fd));
            }
        }
    }
    Ok((maps, held))
}

/// Binds `r`'s port (the first free one of its range, or one the kernel picks) on every
/// address of `hosts`, one port number for all; returns the sockets and the port.
fn bind_first(r: &PortRequest, hosts: &[IpAddr]) -> Result<Vec<(OwnedFd, u16)>> {
    let all = |port: u16| -> Result<Vec<(OwnedFd, u16)>> {
        let (fd, port) = bind(r.proto, hosts[0], port)?;
        let mut out = vec![(fd, port)];
        for h in &hosts[1..] {
            out.push(bind(r.proto, *h, port)?);
        }
        Ok(out)
    };
    let mut last_err = None;
    match r.host_ports {
        // A port the kernel picks for the first address may be taken on another:
        // a few tries.
        None => {
            for _ in 0..8 {
                match all(0) {
                    Ok(x) => return Ok(x),
                    Err(e) => last_err = Some(e),
                }
            }
        }
        Some((first, last)) => {
            for p in first..=last {
                match all(p) {
                    Ok(x) => return Ok(x),
                    Err(e) => last_err = Some(e),
                }
            }
        }
    }
    Err(last_err.expect("at least one try"))
}

/// A socket bound to `ip:port` of `proto` (port 0: one the kernel picks); returns it
/// and the port it holds. An IPv6 socket is IPv6-only (its IPv4 twin is separate).
fn bind(proto: Proto, ip: IpAddr, port: u16) -> Result<(OwnedFd, u16)> {
    use nix::sys::socket::{
        bind, getsockname, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockProtocol, SockType,
        SockaddrStorage,
    };
    let (ty, protocol) = match proto {
        Proto::Tcp => (SockType::Stream, SockProtocol::Tcp),
        Proto::Udp => (SockType::Datagram, SockProtocol::Udp),
        Proto::Sctp => (SockType::Stream, SockProtocol::Sctp),
    };
    let family = if ip.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, protocol)
        .map_err(|e| Error::io(format!("a {} socket", proto.name()), e.into()))?;
    if ip.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(|e| Error::io("set IPV6_V6ONLY", e.into()))?;
    }
    // A TCP port a stopped server of the host left in TIME_WAIT is free (as Docker's
    // proxy binds it). A listening socket still refuses the bind; two hull containers
    // asking for one port are told apart by [`clash`] under the networks' lock.
    if proto != Proto::Udp {
        setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| Error::io("set SO_REUSEADDR", e.into()))?;
    }
    let want = SocketAddr::new(ip, port);
    let addr = SockaddrStorage::from(want);
    if let Err(e) = bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
        return Err(if e == nix::errno::Errno::EADDRINUSE {
            Error::Conflict(format!("Bind for {want} failed: port is already allocated"))
        } else {
            Error::io(format!("bind {want}/{}", proto.name()), e.into())
        });
    }
    let got: SockaddrStorage =
        getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(|e| Error::io("getsockname", e.into()))?;
    let port = got.as_sockaddr_in().map(|a| a.port()).or_else(|| got.as_sockaddr_in6().map(|a| a.port()));
    Ok((fd, port.unwrap_or(0)))
}

/// The first of `new` that another container's published port in `others` already
/// takes: one protocol and port, on one address or either on every address of the
/// family.
pub fn clash<'a>(others: &[PortMap], new: &'a [PortMap]) -> Option<&'a PortMap> {
    new.iter().find(|n| {
        others.iter().any(|o| {
            o.proto == n.proto
                && o.host_port == n.host_port
                && o.host_ip.is_ipv4() == n.host_ip.is_ipv4()
                && (o.host_ip == n.host_ip || o.host_ip.is_unspecified() || n.host_ip.is_unspecified())
        })
    })
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
        assert_eq!((r.host_ip, r.host_ports), (Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some((8080, 8080))));
        let r = one("127.0.0.1::80");
        assert_eq!((r.host_ip, r.host_ports), (Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), None));
        let r = one("[::1]:8080:80/udp");
        assert_eq!(
            (r.host_ip, r.host_ports, r.proto),
            (Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), Some((8080, 8080)), Proto::Udp)
        );
        let r = one("8000-8010:80");
        assert_eq!(r.host_ports, Some((8000, 8010)));
        let v = parse_publish("8000-8001:80-81/tcp").unwrap();
        assert_eq!(
            v.iter().map(|r| (r.host_ports.unwrap().0, r.container_port)).collect::<Vec<_>>(),
            [(8000, 80), (8001, 81)]
        );
        assert_eq!(parse_publish("80-82").unwrap().len(), 3);
        for bad in [
            "",
            "x",
            "0",
            "80/icmp",
            "8000-8002:80-81",
            "1.2.3:80:80",
            "70000",
            "90-80",
            "a:b:c:d",
            "::1:80:80",
            "[1.2.3.4]:80:80",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_taken_port_is_refused_in_dockers_words() {
        // A server of the host listens on it.
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports: Some((port, port)),
        };
        let c = Ipv4Addr::new(10, 89, 0, 2);
        let e = reserve(std::slice::from_ref(&req), c, None, "hull0").unwrap_err();
        assert!(e.to_string().contains("port is already allocated"), "{e}");
        drop(held);
        let (maps, fds) = reserve(&[req], c, None, "hull0").unwrap();
        assert_eq!((maps[0].host_port, maps[0].key(), fds.len()), (port, "80/tcp".to_string(), 1));
    }

    #[test]
    fn a_port_in_time_wait_is_free_and_clashes_between_containers_are_found() {
        use std::io::Read;
        // A server of the host that closed first leaves its port in TIME_WAIT.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, _) = l.accept().unwrap();
        drop(s);
        drop(l);
        let _ = c.read(&mut [0u8; 1]);
        drop(c);
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports: Some((port, port)),
        };
        let (maps, _held) = reserve(&[req], Ipv4Addr::new(10, 89, 0, 2), None, "hull0").unwrap();
        // A listening socket still refuses it.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let bport = busy.local_addr().unwrap().port();
        let req = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports: Some((bport, bport)),
        };
        assert!(reserve(&[req], Ipv4Addr::new(10, 89, 0, 2), None, "hull0").is_err());
        // Another container's map of the same port: on 0.0.0.0 it takes every address
        // of its family, not the other family's, nor the other protocol's.
        let any = PortMap { host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), ..maps[0].clone() };
        assert!(clash(std::slice::from_ref(&any), &maps).is_some());
        assert!(clash(&maps, &maps).is_some());
        let v6 = PortMap { host_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED), ..maps[0].clone() };
        assert!(clash(&[v6], &maps).is_none());
        let udp = PortMap { proto: Proto::Udp, ..maps[0].clone() };
        assert!(clash(&[udp], &maps).is_none());
    }

    #[test]
    fn a_dual_stack_container_is_published_on_both_families_with_one_port() {
        let c6: Ipv6Addr = "fd00::2".parse().unwrap();
        let any = PortRequest { proto: Proto::Udp, container_port: 53, host_ip: None, host_ports: None };
        let (maps, fds) = reserve(std::slice::from_ref(&any), Ipv4Addr::new(10, 89, 0, 2), Some(c6), "hbr").unwrap();
        assert_eq!((maps.len(), fds.len()), (2, 2));
        assert_eq!(maps[0].host_port, maps[1].host_port);
        assert_eq!(maps[1].host(), format!("[::]:{}", maps[1].host_port));
        assert_eq!(maps[1].container_ip, IpAddr::V6(c6));
        // Without an IPv6 address: IPv4 only, and an IPv6 host address is refused.
        let (maps, _) = reserve(&[any], Ipv4Addr::new(10, 89, 0, 2), None, "hull0").unwrap();
        assert_eq!(maps.len(), 1);
        let v6 = PortRequest {
            proto: Proto::Tcp,
            container_port: 80,
            host_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            host_ports: None,
        };
        assert!(reserve(&[v6], Ipv4Addr::new(10, 89, 0, 2), None, "hull0").is_err());
    }
}

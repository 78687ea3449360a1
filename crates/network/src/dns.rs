//! The resolver of a user-defined network, as Docker's embedded DNS server and Podman's
//! aardvark-dns: containers on the network look each other up by name, short id and
//! alias, and every other name goes on to the host's resolvers (or the container's
//! `--dns` servers).
//!
//! One small single-threaded process per network (`hull __dns ROOT NETWORK`, started by
//! the first monitor whose container joins it) answers on the network's gateway, port
//! 53, UDP and TCP, while the network has running containers, and exits when it has
//! none: no daemon otherwise. Its names are the network's leases (each names its
//! container); a lease whose holder is gone names nothing, so a name appears when its
//! container starts and vanishes when it stops or dies.
//!
//! Exactly one resolver per network: it holds `NAME.dns.lock` while it serves. It
//! leaves only while holding the network's IPAM lock and only after closing its
//! sockets and that lock, so a container that takes a lease after its last look either
//! was seen by it (it stays) or finds the lock free (and starts a new one).

use crate::error::{Error, Result};
use crate::ipam::{Ipam, Lease};
use crate::Network;
use simple_dns::rdata::{RData, A, AAAA, PTR};
use simple_dns::{Name, Packet, PacketFlag, ResourceRecord, CLASS, QTYPE, RCODE, TYPE};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Containers come and go: answers are not to be cached.
const TTL: u32 = 0;
/// How long an upstream server has to answer before the next is asked.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Queries waiting for upstream answers, at most (the oldest is dropped beyond).
const MAX_PENDING: usize = 256;
/// How often the resolver looks whether its network still has running containers.
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// The names a resolver answers, from its network's leases.
#[derive(Debug, Default, PartialEq)]
pub struct Names {
    /// Name (lowercase) → its addresses, IPv4 and (dual stack) IPv6 (an alias several
    /// containers share has several).
    by_name: BTreeMap<String, Vec<IpAddr>>,
    /// Address → its first name and the upstream servers its container asked for.
    by_ip: BTreeMap<IpAddr, (String, Vec<IpAddr>)>,
}

impl Names {
    /// The names of the leases whose holders `alive` says run.
    pub fn from_leases(leases: &[(Ipv4Addr, Lease)], alive: &dyn Fn(&Lease) -> bool) -> Names {
        let mut n = Names::default();
        for (ip, l) in leases.iter().filter(|(_, l)| alive(l)) {
            let ips = std::iter::once(IpAddr::V4(*ip)).chain(l.ip6.map(IpAddr::V6));
            for ip in ips {
                for name in &l.names {
                    let known = n.by_name.entry(name.to_ascii_lowercase()).or_default();
                    if !known.contains(&ip) {
                        known.push(ip);
                    }
                }
                n.by_ip.insert(ip, (l.names.first().cloned().unwrap_or_default(), l.dns.clone()));
            }
        }
        n
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    /// The upstream servers of the container at `ip` (its `--dns`), if it asked for any.
    pub fn upstreams_of(&self, ip: IpAddr) -> Option<&[IpAddr]> {
        self.by_ip.get(&ip).map(|(_, d)| d.as_slice()).filter(|d| !d.is_empty())
    }
}

/// What to do with a query.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Answered from the network's names.
    Local(Vec<u8>),
    /// Not a name of the network: for the upstream servers.
    Forward,
    /// Not a DNS query at all.
    Drop,
}

/// Answers `query` from `names`, or says it is for upstream.
pub fn answer(query: &[u8], names: &Names) -> Reply {
    let Ok(q) = Packet::parse(query) else { return Reply::Drop };
    if q.has_flags(PacketFlag::RESPONSE) {
        return Reply::Drop;
    }
    let [question] = q.questions.as_slice() else { return Reply::Forward };
    let name = question.qname.to_string().trim_end_matches('.').to_ascii_lowercase();
    let wants = |t: TYPE| question.qtype == QTYPE::TYPE(t) || question.qtype == QTYPE::ANY;
    let mut reply = Packet::new_reply(q.id());
    reply.set_flags(PacketFlag::AUTHORITATIVE_ANSWER | PacketFlag::RECURSION_AVAILABLE);
    if q.has_flags(PacketFlag::RECURSION_DESIRED) {
        reply.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    reply.questions.push(question.clone());
    let ptr_name;
    if let Some(ips) = names.by_name.get(&name) {
        // A known name: its addresses for A and AAAA (and ANY); for other types, or
        // AAAA of a name without IPv6, NOERROR with no answer, not NXDOMAIN.
        for ip in ips {
            let rr = match ip {
                IpAddr::V4(v4) if wants(TYPE::A) => RData::A(A { address: u32::from(*v4) }),
                IpAddr::V6(v6) if wants(TYPE::AAAA) => RData::AAAA(AAAA { address: u128::from(*v6) }),
                _ => continue,
            };
            reply.answers.push(ResourceRecord::new(question.qname.clone(), CLASS::IN, TTL, rr));
        }
    } else if let Some((_, (first, _))) = reverse(&name).and_then(|ip| names.by_ip.get_key_value(&ip)) {
        if first.is_empty() {
            return Reply::Forward;
        }
        if wants(TYPE::PTR) {
            ptr_name = first.clone();
            let rr = RData::PTR(PTR(Name::new_unchecked(&ptr_name)));
            reply.answers.push(ResourceRecord::new(question.qname.clone(), CLASS::IN, TTL, rr));
        }
    } else {
        return Reply::Forward;
    }
    match reply.build_bytes_vec_compressed() {
        Ok(b) => Reply::Local(b),
        Err(_) => Reply::Drop,
    }
}

/// `query` answered with `rcode` and nothing else (SERVFAIL when no upstream answers,
/// REFUSED on an internal network).
pub fn error_reply(query: &[u8], rcode: RCODE) -> Option<Vec<u8>> {
    let q = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(q.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE);
    if q.has_flags(PacketFlag::RECURSION_DESIRED) {
        reply.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    reply.questions = q.questions.clone();
    *reply.rcode_mut() = rcode;
    reply.build_bytes_vec_compressed().ok()
}

/// The address a `d.c.b.a.in-addr.arpa` or (32 nibbles) `….ip6.arpa` name stands for.
fn reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<u32> = rest
            .split('.')
            .map(|p| (p.len() == 1).then(|| p.chars().next()?.to_digit(16)).flatten())
            .collect::<Option<_>>()?;
        if nibbles.len() != 32 {
            return None;
        }
        let bits = nibbles.iter().rev().fold(0u128, |acc, n| (acc << 4) | u128::from(*n));
        return Some(IpAddr::V6(Ipv6Addr::from(bits)));
    }
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut o: Vec<u8> = rest.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if o.len() != 4 {
        return None;
    }
    o.reverse();
    Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])))
}

/// The host's resolv.conf as a container sees it: without loopback nameservers, which
/// the container cannot reach; when those were all it had (systemd-resolved's stub,
/// 127.0.0.53), the upstream servers systemd-resolved lists, as Docker does.
pub fn host_resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = without_loopback(&host);
    if nameservers(&resolv).is_empty() {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            let upstream = without_loopback(&upstream);
            if !nameservers(&upstream).is_empty() {
                return upstream;
            }
        }
    }
    resolv
}

/// The `nameserver` addresses of a resolv.conf.
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()?.parse().ok())?
        })
        .collect()
}

/// A resolv.conf without its loopback nameservers.
pub fn without_loopback(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver") && w.next().is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The lock a network's resolver holds while it serves.
pub fn lock_path(dir: &Path, n: &Network) -> PathBuf {
    dir.join(format!("{}.dns.lock", n.name))
}

/// Whether network `n`'s resolver is running.
pub fn is_running(dir: &Path, n: &Network) -> Result<bool> {
    Ok(crate::try_lock_file(&lock_path(dir, n))?.is_none())
}

/// A query sent upstream, waiting for its answer.
struct Pending {
    sock: UdpSocket,
    client: SocketAddr,
    query: Vec<u8>,
    servers: Vec<IpAddr>,
    next: usize,
    deadline: Instant,
}

impl Pending {
    /// Sends `query` to the first of `servers` that takes it.
    fn start(client: SocketAddr, query: &[u8], servers: Vec<IpAddr>) -> Option<Pending> {
        let mut next = 0;
        let sock = send_to_next(&servers, &mut next, query)?;
        let deadline = Instant::now() + UPSTREAM_TIMEOUT;
        Some(Pending { sock, client, query: query.to_vec(), servers, next, deadline })
    }

    /// Sends the query to the next server; false when none is left.
    fn retry(&mut self) -> bool {
        match send_to_next(&self.servers, &mut self.next, &self.query) {
            Some(s) => {
                self.sock = s;
                self.deadline = Instant::now() + UPSTREAM_TIMEOUT;
                true
            }
            None => false,
        }
    }
}

/// A socket that has sent `query` to `servers[*next..]`'s first taker.
fn send_to_next(servers: &[IpAddr], next: &mut usize, query: &[u8]) -> Option<UdpSocket> {
    while *next < servers.len() {
        let server = SocketAddr::new(servers[*next], 53);
        *next += 1;
        let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("an address");
        let Ok(s) = UdpSocket::bind(bind) else { continue };
        if s.connect(server).is_ok() && s.send(query).is_ok() && s.set_nonblocking(true).is_ok() {
            return Some(s);
        }
    }
    None
}

/// Serves network `n`'s names (its leases: `ipam`) on its gateway until it has no
/// running container; `ready` is called once its sockets listen. Returns at once (ready)
/// if another resolver serves it.
pub fn serve(dir: &Path, n: &Network, ipam: &Ipam, alive: &dyn Fn(&Lease) -> bool, ready: impl FnOnce()) -> Result<()> {
    let Some(lock) = crate::try_lock_file(&lock_path(dir, n))? else {
        ready();
        return Ok(());
    };
    let at = SocketAddr::new(IpAddr::V4(n.gateway), 53);
    let udp = UdpSocket::bind(at).map_err(Error::at(format!("listen on {at}/udp")))?;
    udp.set_nonblocking(true).map_err(Error::at("set the DNS socket non-blocking"))?;
    let tcp = TcpListener::bind(at).map_err(Error::at(format!("listen on {at}/tcp")))?;
    tcp.set_nonblocking(true).map_err(Error::at("set the DNS socket non-blocking"))?;
    ready();
    let host_upstreams = nameservers(&host_resolv_conf());
    let mut names = Names::default();
    let mut seen: Option<(u64, i64, i64)> = None;
    let mut reload = |names: &mut Names, force: bool| {
        let stamp = ipam.stamp();
        if force || stamp != seen {
            seen = stamp;
            if let Ok(l) = ipam.read() {
                *names = Names::from_leases(&l, alive);
            }
        }
    };
    reload(&mut names, true);
    let mut pending: Vec<Pending> = Vec::new();
    let mut buf = vec![0u8; 65535];
    let mut last_check = Instant::now();
    loop {
        let now = Instant::now();
        if now.duration_since(last_check) >= IDLE_CHECK {
            last_check = now;
            reload(&mut names, true);
            if names.is_empty() {
                // Leave only under the IPAM lock (see the module's doc), sockets and
                // our lock closed first.
                if let Some(_ipam_lock) = ipam.lock_if_unused(alive)? {
                    drop((udp, tcp, pending));
                    drop(lock);
                    return Ok(());
                }
            }
        }
        let next_deadline = pending.iter().map(|p| p.deadline).min();
        let wait = next_deadline
            .map(|d| d.saturating_duration_since(now))
            .unwrap_or(IDLE_CHECK)
            .min(IDLE_CHECK.saturating_sub(now.duration_since(last_check)));
        let mut fds: Vec<libc::pollfd> = [udp.as_raw_fd(), tcp.as_raw_fd()]
            .into_iter()
            .chain(pending.iter().map(|p| p.sock.as_raw_fd()))
            .map(|fd: RawFd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: a valid array of pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait.as_millis() as i32 + 1) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::io("poll", e));
        }
        // Upstream answers (and timeouts), newest last so removal keeps indexes valid.
        for i in (0..pending.len()).rev() {
            if fds[2 + i].revents != 0 {
                if let Ok(len) = pending[i].sock.recv(&mut buf) {
                    let p = pending.swap_remove(i);
                    if len >= 2 && buf[..2] == p.query[..2] {
                        let _ = udp.send_to(&buf[..len], p.client);
                    }
                    continue;
                }
            }
            if pending[i].deadline <= Instant::now() && !pending[i].retry() {
                let p = pending.swap_remove(i);
                if let Some(r) = error_reply(&p.query, RCODE::ServerFailure) {
                    let _ = udp.send_to(&r, p.client);
                }
            }
        }
        if fds[0].revents != 0 {
            reload(&mut names, false);
            while let Ok((len, client)) = udp.recv_from(&mut buf) {
                let query = &buf[..len];
                match answer(query, &names) {
                    Reply::Local(r) => {
                        let _ = udp.send_to(&r, client);
                    }
                    Reply::Drop => {}
                    Reply::Forward => {
                        let servers = names.upstreams_of(client.ip()).unwrap_or(&host_upstreams).to_vec();
                        let p = if n.internal {
                            Err(RCODE::Refused)
                        } else {
                            Pending::start(client, query, servers).ok_or(RCODE::ServerFailure)
                        };
                        let p = match p {
                            Ok(p) => p,
                            Err(rcode) => {
                                if let Some(r) = error_reply(query, rcode) {
                                    let _ = udp.send_to(&r, client);
                                }
                                continue;
                            }
                        };
                        if pending.len() >= MAX_PENDING {
                            pending.remove(0);
                        }
                        pending.push(p);
                    }
                }
            }
        }
        if fds[1].revents != 0 {
            reload(&mut names, false);
            while let Ok((conn, client)) = tcp.accept() {
                let servers = names.upstreams_of(client.ip()).unwrap_or(&host_upstreams).to_vec();
                let _ = serve_tcp(conn, &names, &servers, n.internal);
            }
        }
    }
}

/// One query over TCP (for answers too large for UDP), answered or relayed to the
/// upstream servers over TCP. Blocking with short timeouts: TCP queries are rare.
fn serve_tcp(mut conn: TcpStream, names: &Names, servers: &[IpAddr], internal: bool) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    conn.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len)?;
    let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
    conn.read_exact(&mut query)?;
    let reply = match answer(&query, names) {
        Reply::Local(r) => Some(r),
        Reply::Drop => None,
        Reply::Forward if internal => error_reply(&query, RCODE::Refused),
        Reply::Forward => servers
            .iter()
            .find_map(|s| relay_tcp(SocketAddr::new(*s, 53), &query).ok())
            .or_else(|| error_reply(&query, RCODE::ServerFailure)),
    };
    if let Some(r) = reply {
        let mut out = (r.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&r);
        conn.write_all(&out)?;
    }
    Ok(())
}

fn relay_tcp(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&server, UPSTREAM_TIMEOUT)?;
    s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    let mut out = (query.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(query);
    s.write_all(&out)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut reply)?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, t: TYPE) -> Vec<u8> {
        let mut p = Packet::new_query(0x1234);
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p.questions.push(simple_dns::Question::new(Name::new_unchecked(name), t.into(), CLASS::IN.into(), false));
        p.build_bytes_vec().unwrap()
    }

    fn lease(c: &str, names: &[&str]) -> Lease {
        Lease {
            container: c.into(),
            pid: 1,
            pid_start: 0,
            names: names.iter().map(|s| s.to_string()).collect(),
            dns: vec![],
            ip6: None,
        }
    }

    fn names() -> Names {
        let leases = vec![
            (
                Ipv4Addr::new(10, 5, 0, 2),
                Lease { ip6: "fd00:5::2".parse().ok(), ..lease("a", &["web", "0123456789ab", "front"]) },
            ),
            (Ipv4Addr::new(10, 5, 0, 3), lease("b", &["db", "front"])),
            (Ipv4Addr::new(10, 5, 0, 4), lease("dead", &["gone"])),
        ];
        Names::from_leases(&leases, &|l: &Lease| l.container != "dead")
    }

    fn answers(r: Reply) -> (RCODE, Vec<String>) {
        let Reply::Local(b) = r else { panic!("not local: {r:?}") };
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.id(), 0x1234);
        assert!(p.has_flags(PacketFlag::RESPONSE | PacketFlag::RECURSION_DESIRED));
        let a = p
            .answers
            .iter()
            .map(|rr| match &rr.rdata {
                RData::A(a) => Ipv4Addr::from(a.address).to_string(),
                RData::AAAA(a) => Ipv6Addr::from(a.address).to_string(),
                RData::PTR(n) => n.0.to_string(),
                o => format!("{o:?}"),
            })
            .collect();
        (p.rcode(), a)
    }

    #[test]
    fn names_ids_and_aliases_are_answered_case_blind() {
        let n = names();
        assert_eq!(answers(answer(&query("web", TYPE::A), &n)), (RCODE::NoError, vec!["10.5.0.2".into()]));
        assert_eq!(answers(answer(&query("WEB.", TYPE::A), &n)).1, ["10.5.0.2"]);
        assert_eq!(answers(answer(&query("0123456789ab", TYPE::A), &n)).1, ["10.5.0.2"]);
        assert_eq!(answers(answer(&query("front", TYPE::A), &n)).1, ["10.5.0.2", "10.5.0.3"]);
        // No IPv6 address: NOERROR, nothing (not NXDOMAIN, which would stop the A look-up).
        assert_eq!(answers(answer(&query("db", TYPE::AAAA), &n)), (RCODE::NoError, vec![]));
        assert_eq!(answers(answer(&query("3.0.5.10.in-addr.arpa", TYPE::PTR), &n)).1, ["db"]);
        // Dual stack: AAAA and its reverse name.
        assert_eq!(answers(answer(&query("web", TYPE::AAAA), &n)).1, ["fd00:5::2"]);
        assert_eq!(answers(answer(&query("front", TYPE::AAAA), &n)).1, ["fd00:5::2"]);
        assert_eq!(answers(answer(&query("web", TYPE::A), &n)).1, ["10.5.0.2"]);
        let arpa = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(answers(answer(&query(arpa, TYPE::PTR), &n)).1, ["web"]);
    }

    #[test]
    fn other_names_go_upstream_and_garbage_is_dropped() {
        let n = names();
        assert_eq!(answer(&query("gone", TYPE::A), &n), Reply::Forward, "a dead container's name");
        assert_eq!(answer(&query("example.org", TYPE::A), &n), Reply::Forward);
        assert_eq!(answer(&query("9.9.5.10.in-addr.arpa", TYPE::PTR), &n), Reply::Forward);
        assert_eq!(answer(b"\x00\x01garbage", &n), Reply::Drop);
        let r = error_reply(&query("example.org", TYPE::A), RCODE::Refused).unwrap();
        assert_eq!(Packet::parse(&r).unwrap().rcode(), RCODE::Refused);
        assert_eq!(n.upstreams_of("10.5.0.2".parse().unwrap()), None);
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "nameserver 127.0.0.53\noptions edns0\nnameserver 192.0.2.53\nnameserver ::1\nsearch lan\n";
        assert_eq!(without_loopback(text), "options edns0\nnameserver 192.0.2.53\nsearch lan\n");
        assert_eq!(nameservers(text).len(), 3);
        assert_eq!(reverse("4.3.2.1.in-addr.arpa"), Some(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))));
        assert_eq!(reverse("1.0.ip6.arpa"), None);
        assert_eq!(reverse("3.2.1.in-addr.arpa"), None);
    }
}

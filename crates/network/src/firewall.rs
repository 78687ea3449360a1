//! hull's nftables rules: all of them in one table of its own, `inet hull`, never
//! touching another table's rules or policies. The table is a function of the networks
//! and published ports on disk: each change rewrites it in one atomic `nft -f -` batch
//! (its chains made if missing, flushed and refilled; the kernel applies a batch all or
//! nothing), so it is never half made, a rerun repairs one a firewall reload wiped, and
//! the last network gone takes it away.
//!
//! The `nft` command (Debian's nftables package) is used rather than a netlink client
//! of nf_tables: its batch language is the stable interface, and a change happens only
//! when a network is made, removed or reloaded, not per container.
//!
//! One exception to "never another table's rules", the one Docker documents: a packet
//! must be accepted by every table's forward hook, and Docker sets iptables' `FORWARD`
//! policy to drop. Where Docker's `DOCKER-USER` chain exists, [`docker_user`] puts two
//! accept rules for each of hull's bridges at its top (through `iptables`, the
//! interface of that table), so hull's own table alone decides their traffic; they go
//! with the network.

use crate::error::{Error, Result};
use crate::ports::PortMap;
use crate::Network;
use std::io::Write;
use std::process::{Command, Stdio};

/// The table's name (family inet: IPv4 and IPv6 in one).
pub const TABLE: &str = "hull";

/// The base chains: name, hook definition. They stay registered from one rewrite to
/// the next (only their rules are flushed and refilled): unregistering a netfilter hook
/// waits for RCU grace periods, about 20 ms a rewrite with five of them.
const BASE: &[(&str, &str)] = &[
    ("forward", "type filter hook forward priority filter; policy accept;"),
    ("input", "type filter hook input priority filter; policy accept;"),
    ("prerouting", "type nat hook prerouting priority -100; policy accept;"),
    ("output", "type nat hook output priority -100; policy accept;"),
    ("postrouting", "type nat hook postrouting priority srcnat; policy accept;"),
];

/// The batch that makes the table hold exactly the rules of `networks` and the
/// published ports `ports`: its chains made if missing, every chain flushed, the rules
/// added. Without networks the table goes.
pub fn batch(networks: &[Network], ports: &[PortMap]) -> String {
    let t = format!("inet {TABLE}");
    if networks.is_empty() {
        return format!("add table {t}\ndelete table {t}\n");
    }
    let mut b = format!("add table {t}\n");
    for (name, def) in BASE {
        b.push_str(&format!("add chain {t} {name} {{ {def} }}\n"));
    }
    b.push_str(&format!("add chain {t} ports\n"));
    for name in BASE.iter().map(|(n, _)| *n).chain(["ports"]) {
        b.push_str(&format!("flush chain {t} {name}\n"));
    }
    let mut rule = |chain: &str, r: String| b.push_str(&format!("add rule {t} {chain} {r}\n"));
    // Forwarding: a bridge's traffic to its own containers and out (unless internal);
    // replies back in; one network's containers never reach another's.
    for n in networks {
        let br = &n.bridge;
        if n.internal {
            rule("forward", format!("iifname \"{br}\" oifname != \"{br}\" drop"));
            rule("forward", format!("oifname \"{br}\" iifname != \"{br}\" drop"));
        }
        for m in networks.iter().filter(|m| m.bridge != n.bridge) {
            rule("forward", format!("iifname \"{br}\" oifname \"{}\" drop", m.bridge));
        }
        rule("forward", format!("iifname \"{br}\" accept"));
        rule("forward", format!("oifname \"{br}\" ct state established,related accept"));
        // From elsewhere, only published ports (DNAT) reach the containers: an address
        // routed straight to a container's is dropped, as Docker 28 does.
        rule("forward", format!("oifname \"{br}\" ct status dnat accept"));
        rule("forward", format!("oifname \"{br}\" drop"));
        // The bridges route loopback addresses (route_localnet, for published ports seen
        // on 127.0.0.1): nothing a container starts may reach the host's loopback
        // services. Replies to the host's own connections to 127.0.0.1 (un-masqueraded
        // back to it) are the reply direction and pass.
        rule("input", format!("iifname \"{br}\" ip daddr 127.0.0.0/8 ct direction original drop"));
    }
    // Published ports: traffic to one of the host's own addresses, from outside
    // (prerouting) or from the host itself (output), sent on to the container.
    if !ports.is_empty() {
        rule("prerouting", "fib daddr type local jump ports".into());
        // IPv6 has no route_localnet: traffic to ::1 cannot be sent on to a
        // container, so it is left to find the port's reserving socket, which refuses
        // it at once (sent on, it would hang until its timeout).
        rule("output", "ip6 daddr ::1 return".into());
        rule("output", "fib daddr type local jump ports".into());
    }
    for p in ports {
        // Each rule names its family: a port published on 0.0.0.0 is not one on `::`.
        let (family, ip) = if p.host_ip.is_ipv4() { ("ipv4", "ip") } else { ("ipv6", "ip6") };
        let daddr = if p.host_ip.is_unspecified() { String::new() } else { format!("{ip} daddr {} ", p.host_ip) };
        let to = std::net::SocketAddr::new(p.container_ip, p.container_port);
        rule(
            "ports",
            format!("meta nfproto {family} {daddr}{} dport {} dnat {ip} to {to}", p.proto.name(), p.host_port),
        );
    }
    // Egress: the containers' addresses hidden behind the host's. With published
    // ports, also the host's loopback sources (the bridge routes them with
    // route_localnet) and hairpin traffic, a container reaching a published port
    // through the host's address, which must come back through the host.
    for n in networks.iter().filter(|n| !n.internal) {
        rule("postrouting", format!("ip saddr {} oifname != \"{}\" masquerade", n.subnet, n.bridge));
        // IPv6 egress hidden behind the host's address too (NAT66), as Docker does
        // for a unique local subnet.
        if let Some(s6) = n.subnet6 {
            rule("postrouting", format!("ip6 saddr {s6} oifname != \"{}\" masquerade", n.bridge));
        }
    }
    let mut bridges: Vec<&str> = ports.iter().map(|p| p.bridge.as_str()).collect();
    bridges.sort();
    bridges.dedup();
    for br in bridges {
        rule("postrouting", format!("ip saddr 127.0.0.0/8 oifname \"{br}\" masquerade"));
        rule("postrouting", format!("iifname \"{br}\" oifname \"{br}\" ct status dnat masquerade"));
    }
    b
}

/// Applies `batch` through `nft -f -`.
pub fn apply(batch: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Firewall("the nft command is needed for container networks (apt-get install nftables)".into())
            } else {
                Error::io("run nft", e)
            }
        })?;
    child.stdin.take().expect("piped").write_all(batch.as_bytes()).map_err(Error::at("write to nft"))?;
    let out = child.wait_with_output().map_err(Error::at("wait for nft"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Firewall(msg.lines().next().unwrap_or("nft failed").to_owned()));
    }
    Ok(())
}

/// How many chains hull's table holds, None when it is missing: asked of nf_tables
/// through netlink (`NFT_MSG_GETTABLE`, about 0.1 ms) rather than `nft` (about 4 ms),
/// so each container's join can check the table a firewall reload may have wiped.
/// The message is small enough to build by hand: a netlink header, the nfnetlink
/// header, and the table's name.
pub fn table_chains() -> Result<Option<u32>> {
    use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_NEWTABLE: u16 = 0;
    const NFT_MSG_GETTABLE: u16 = 1;
    const NFTA_TABLE_NAME: u16 = 1;
    const NFTA_TABLE_USE: u16 = 3;
    const NFPROTO_INET: u8 = 1;
    let err = |e: std::io::Error| Error::Netlink { what: "look up nftables table inet hull".into(), source: e };
    let mut sock = Socket::new(NETLINK_NETFILTER).map_err(err)?;
    sock.bind_auto().map_err(err)?;
    sock.connect(&SocketAddr::new(0, 0)).map_err(err)?;
    let name = format!("{TABLE}\0");
    let attr_len = 4 + name.len();
    let len = 16 + 4 + attr_len.next_multiple_of(4);
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE).to_ne_bytes());
    m.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel's
    m.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]); // nfgenmsg: family, version, res_id
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
    m.extend_from_slice(name.as_bytes());
    m.resize(len, 0);
    sock.send(&m, 0).map_err(err)?;
    let mut chains = None;
    loop {
        let (data, _) = sock.recv_from_full().map_err(err)?;
        let mut off = 0;
        while off + 16 <= data.len() {
            let mlen = u32::from_ne_bytes(data[off..off + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(data[off + 4..off + 6].try_into().expect("2 bytes"));
            if mlen < 16 || off + mlen > data.len() {
                return Err(err(std::io::Error::other("a short netlink message")));
            }
            let body = &data[off + 16..off + mlen];
            if kind == libc::NLMSG_ERROR as u16 {
                let code = i32::from_ne_bytes(body.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]));
                return match -code {
                    0 => Ok(chains),
                    libc::ENOENT => Ok(None),
                    e => Err(err(std::io::Error::from_raw_os_error(e))),
                };
            }
            if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE {
                // The table; its attributes follow the nfgenmsg.
                let mut a = 4;
                while a + 4 <= body.len() {
                    let alen = u16::from_ne_bytes([body[a], body[a + 1]]) as usize;
                    let atype = u16::from_ne_bytes([body[a + 2], body[a + 3]]) & 0x3fff;
                    if alen < 4 || a + alen > body.len() {
                        break;
                    }
                    if atype == NFTA_TABLE_USE && alen >= 8 {
                        chains = Some(u32::from_be_bytes(body[a + 4..a + 8].try_into().expect("4 bytes")));
                    }
                    a += alen.next_multiple_of(4);
                }
                chains.get_or_insert(0);
            }
            off += mlen.next_multiple_of(4);
        }
    }
}

/// Whether the table holds every chain [`batch`] makes (a firewall reload that
/// flushed the ruleset took it all).
pub fn table_complete() -> Result<bool> {
    Ok(table_chains()? >= Some(BASE.len() as u32 + 1))
}

/// The rules [`docker_user`] keeps in `DOCKER-USER` for a bridge.
fn docker_user_rules(bridge: &str) -> [[&str; 4]; 2] {
    [["-i", bridge, "-j", "ACCEPT"], ["-o", bridge, "-j", "ACCEPT"]]
}

/// Adds (`add`) or removes the accept rules for `bridge` in Docker's `DOCKER-USER`
/// chain, of iptables and (`ipv6`) ip6tables, where the chain exists; nothing where it
/// does not or iptables is not installed.
pub fn docker_user(bridge: &str, ipv6: bool, add: bool) -> Result<()> {
    let tools: &[&str] = if ipv6 { &["iptables", "ip6tables"] } else { &["iptables"] };
    for tool in tools {
        let run = |args: &[&str]| {
            Command::new(tool).arg("-w").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status()
        };
        match run(&["-n", "-L", "DOCKER-USER"]) {
            Ok(s) if s.success() => {}
            _ => continue,
        }
        for r in docker_user_rules(bridge).iter().rev() {
            let present = run(&[&["-C", "DOCKER-USER"], &r[..]].concat()).is_ok_and(|s| s.success());
            let change: &[&str] = match (add, present) {
                (true, false) => &["-I", "DOCKER-USER", "1"],
                (false, true) => &["-D", "DOCKER-USER"],
                _ => continue,
            };
            let st = run(&[change, &r[..]].concat()).map_err(Error::at(format!("run {tool}")))?;
            if !st.success() {
                return Err(Error::Firewall(format!("{tool} {} DOCKER-USER {} failed", change[0], r.join(" "))));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Proto;

    #[test]
    fn the_table_follows_the_networks() {
        let empty = batch(&[], &[]);
        assert_eq!(empty, "add table inet hull\ndelete table inet hull\n");
        let a = Network::for_test("bridge", "hull0", "10.89.0.0/16", false);
        let b = Network::for_test("back", "hbr-back", "10.90.0.0/16", true);
        let t = batch(&[a.clone(), b], &[]);
        assert!(!t.contains(" dnat ip"), "{t}");
        assert!(t.contains("ip saddr 10.89.0.0/16 oifname != \"hull0\" masquerade"), "{t}");
        assert!(!t.contains("10.90.0.0/16 oifname"), "internal: no egress\n{t}");
        assert!(t.contains("iifname \"hull0\" oifname \"hbr-back\" drop"), "{t}");
        assert!(t.contains("iifname \"hbr-back\" oifname != \"hbr-back\" drop"), "{t}");
        // Only published ports from elsewhere: DNAT accepted, the rest to the bridge dropped.
        let dnat = t.find("oifname \"hull0\" ct status dnat accept").expect("dnat accept");
        assert!(t[dnat..].contains("oifname \"hull0\" drop"), "{t}");
    }

    #[test]
    fn published_ports_are_dnat_rules_with_loopback_and_hairpin() {
        let a = Network::for_test("bridge", "hull0", "10.89.0.0/16", false);
        let m = |host_ip: [u8; 4], proto| PortMap {
            proto,
            host_ip: std::net::Ipv4Addr::from(host_ip).into(),
            host_port: 8080,
            container_ip: std::net::Ipv4Addr::new(10, 89, 0, 2).into(),
            container_port: 80,
            bridge: "hull0".into(),
        };
        let t = batch(&[a], &[m([0, 0, 0, 0], Proto::Tcp), m([127, 0, 0, 1], Proto::Udp)]);
        assert!(t.contains("fib daddr type local jump ports"), "{t}");
        assert!(
            t.contains("add rule inet hull ports meta nfproto ipv4 tcp dport 8080 dnat ip to 10.89.0.2:80\n"),
            "{t}"
        );
        assert!(t.contains("ip daddr 127.0.0.1 udp dport 8080 dnat ip to 10.89.0.2:80"), "{t}");
        assert!(t.contains("ip saddr 127.0.0.0/8 oifname \"hull0\" masquerade"), "{t}");
        assert!(t.contains("iifname \"hull0\" oifname \"hull0\" ct status dnat masquerade"), "{t}");
    }

    #[test]
    fn dual_stack_networks_get_nat66_and_ipv6_port_rules() {
        let mut a = Network::for_test("v6", "hbr-v6", "10.91.0.0/16", false);
        a.subnet6 = Some("fd00:91::/64".parse().unwrap());
        a.gateway6 = Some("fd00:91::1".parse().unwrap());
        let p = PortMap {
            proto: Proto::Tcp,
            host_ip: std::net::Ipv6Addr::UNSPECIFIED.into(),
            host_port: 8080,
            container_ip: "fd00:91::2".parse::<std::net::Ipv6Addr>().unwrap().into(),
            container_port: 80,
            bridge: "hbr-v6".into(),
        };
        let t = batch(&[a], &[p]);
        assert!(t.contains("ip6 saddr fd00:91::/64 oifname != \"hbr-v6\" masquerade"), "{t}");
        assert!(t.contains("meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:91::2]:80"), "{t}");
    }
}

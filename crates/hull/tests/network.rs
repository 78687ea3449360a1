//! Container networks, never on the machine's own network: each test's store runs in a
//! network namespace of its own (see `common::NetNs`), and a second namespace joined to
//! it by a veth pair plays "the internet" (192.0.2.1, a documentation address, with an
//! HTTP server). Traffic goes only to addresses inside those namespaces.
//!
//! Covered: the default network (bridge, veth, address, route, masquerade egress),
//! containers reaching each other, /etc/hosts, NetworkSettings, hull's nftables table,
//! published ports (from another host, from the host on 127.0.0.1 and its address,
//! hairpin from a container, -P, a port already taken, `hull port`), concurrent runs
//! (no address twice), cleanup after rm -f and after the monitor is killed, DNS by name,
//! id and alias on user networks (and its absence elsewhere; other names relayed to a
//! fake upstream), network connect/disconnect live, several networks,
//! `--network container:NAME`, and dual-stack networks (IPv6 addresses, AAAA, NAT66
//! egress to the internet's 2001:db8::1, ports on `::`).

mod common;

use common::*;
use std::process::Command;

fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits until the server in container `name` listens on TCP `port` (`run -d` returns
/// once its command runs, before it has bound its socket).
fn listening(h: &Hull, name: &str, port: u16) {
    let want = format!(":{port} ");
    for _ in 0..100 {
        let o = h.run(&["exec", name, "busybox", "netstat", "-ltn"]);
        if String::from_utf8_lossy(&o.stdout).contains(&want) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{name} does not listen on {port}");
}

fn inspect(h: &Hull, name: &str, format: &str) -> String {
    h.ok(&["inspect", "--format", format, name]).trim().to_string()
}

#[test]
fn the_default_network_gives_egress_addresses_and_a_way_between_containers() {
    let h = busybox_store("net-default");
    let _internet = Internet::new(&h.net, &h.root.with_file_name("www"));

    // Egress through masquerade: the internet has no route back to the containers'
    // subnet, so a reply means the source was rewritten.
    let got = h.ok(&["run", "--rm", "busybox", "busybox", "wget", "-q", "-O-", "http://192.0.2.1:8080/hello"]);
    assert_eq!(got, "hello from the internet\n");

    // A server container and a client reaching it by address.
    h.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "webhost",
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    listening(&h, "web", 80);
    let ip = inspect(&h, "web", "{{.NetworkSettings.IPAddress}}");
    let subnet_gw = inspect(&h, "web", "{{.NetworkSettings.Gateway}}");
    assert!(ip.starts_with("10.89.") && subnet_gw == "10.89.0.1", "{ip} via {subnet_gw}");
    let mac = inspect(&h, "web", "{{.NetworkSettings.MacAddress}}");
    assert!(mac.starts_with("02:42:0a:59:"), "{mac}");
    assert_eq!(inspect(&h, "web", "{{.NetworkSettings.Networks.bridge.IPAddress}}"), ip);
    let hosts = h.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{ip}\twebhost")), "{hosts}");
    let addr = h.ok(&["exec", "web", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("{ip}/16")), "{addr}");
    let page = h.ok(&["run", "--rm", "busybox", "busybox", "wget", "-q", "-O-", &format!("http://{ip}/hostname")]);
    assert_eq!(page, "webhost\n");

    // hull's own table, with the network's masquerade.
    let table = run_ok(h.net.cmd("nft").args(["list", "table", "inet", "hull"]));
    assert!(table.contains("ip saddr 10.89.0.0/16 oifname != \"hull0\" masquerade"), "{table}");

    // A firewall reload that flushed the whole ruleset: the next run finds the table
    // gone and makes it again, and its egress works.
    run_ok(h.net.cmd("nft").args(["flush", "ruleset"]));
    let got = h.ok(&["run", "--rm", "busybox", "busybox", "wget", "-q", "-O-", "http://192.0.2.1:8080/hello"]);
    assert_eq!(got, "hello from the internet\n");
    let again = run_ok(h.net.cmd("nft").args(["list", "table", "inet", "hull"]));
    assert_eq!(again, table);

    // --add-host NAME:host-gateway: the network's gateway.
    let gw = h.ok(&["run", "--rm", "--add-host", "gw:host-gateway", "busybox", "busybox", "grep", "gw", "/etc/hosts"]);
    assert_eq!(gw, "10.89.0.1\tgw\n");

    // --network none: loopback only; host: the store's namespace.
    let none = h.ok(&["run", "--rm", "--network", "none", "busybox", "busybox", "ip", "-o", "link"]);
    assert!(!none.contains("eth0"), "{none}");

    // A container not running keeps its endpoint (its network's id, no address), as
    // Docker's.
    h.ok(&["create", "--name", "idle", "busybox", "true"]);
    let nid = inspect(&h, "idle", "{{.NetworkSettings.Networks.bridge.NetworkID}}");
    assert_eq!(nid.len(), 64, "{nid}");
    assert_eq!(inspect(&h, "idle", "{{.NetworkSettings.Networks.bridge.IPAddress}}"), "");

    // Removal takes the address and the veth.
    h.ok(&["rm", "-f", "web", "idle"]);
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn concurrent_runs_never_share_an_address_and_a_killed_monitor_leaves_nothing() {
    let h = busybox_store("net-conc");
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let all: Vec<_> = (0..8).map(|_| s.spawn(|| h.run(&["run", "-d", "busybox", "sleep", "100"]))).collect();
        all.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut ips = Vec::new();
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        ips.push(inspect(&h, &id, "{{.NetworkSettings.IPAddress}}"));
    }
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 8, "{ips:?}");

    // A monitor killed: rm -f still takes the address and the veth.
    let id = String::from_utf8_lossy(&outs[0].stdout).trim().to_string();
    let init: i32 = h.ok(&["inspect", "--format", "{{.State.Pid}}", &id]).trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap();
    let ppid: i32 = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: kill of the container's monitor (the init's parent), which this test made.
    unsafe { libc::kill(ppid, libc::SIGKILL) };
    for id in h.ok(&["ps", "-aq"]).lines() {
        h.ok(&["rm", "-f", id]);
    }
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
    // The subnet's first addresses are free again.
    let ip = h.ok(&["run", "--rm", "busybox", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(ip.contains("10.89.0."), "{ip}");
}

fn wget(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn published_ports_answer_other_hosts_the_host_and_containers() {
    let h = busybox_store("net-ports");
    let internet = Internet::new(&h.net, &h.root.with_file_name("www"));
    let web = ["busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"];
    let mut args = vec!["run", "-d", "--name", "web", "--hostname", "webhost", "-p", "8080:80", "-p", "127.0.0.1::80"];
    args.extend(web);
    h.ok(&args);
    listening(&h, "web", 80);
    // From another host, to the host's address.
    let url = "http://192.0.2.2:8080/hostname";
    assert_eq!(wget(internet.ns.cmd(busybox()).args(["wget", "-q", "-O-", url])), "webhost\n");
    // From the host itself: its own address and 127.0.0.1.
    for u in [url, "http://127.0.0.1:8080/hostname"] {
        assert_eq!(wget(h.net.cmd(busybox()).args(["wget", "-q", "-O-", u])), "webhost\n", "{u}");
    }
    // Hairpin: another container through the host's address.
    assert_eq!(h.ok(&["run", "--rm", "busybox", "busybox", "wget", "-q", "-O-", url]), "webhost\n");
    // hull port, ps and inspect say where.
    let ports = h.ok(&["port", "web"]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:8080\n") && ports.contains("80/tcp -> 127.0.0.1:"), "{ports}");
    let local = h.ok(&["port", "web", "80"]).lines().find(|l| l.starts_with("127.0.0.1:")).unwrap().to_string();
    assert_eq!(
        wget(h.net.cmd(busybox()).args(["wget", "-q", "-O-", &format!("http://{local}/hostname")])),
        "webhost\n"
    );
    assert!(h.ok(&["ps"]).contains("0.0.0.0:8080->80/tcp"), "{}", h.ok(&["ps"]));
    let v = h.ok(&["inspect", "--format", "{{json .NetworkSettings.Ports}}", "web"]);
    assert!(v.contains(r#""80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}"#), "{v}");
    // A host port already taken: one line, exit 125, nothing left of the container.
    let o = h.run(&["run", "--rm", "-p", "8080:80", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", String::from_utf8_lossy(&o.stderr));
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(e.contains("Bind for 0.0.0.0:8080 failed: port is already allocated") && e.lines().count() == 1, "{e}");
    assert_eq!(h.ok(&["ps", "-aq"]).lines().count(), 1);
    // -P: every exposed port to a free host port.
    let mut args = vec!["run", "-d", "--name", "all", "-P", "--expose", "80"];
    args.extend(web);
    h.ok(&args);
    listening(&h, "all", 80);
    let any = h.ok(&["port", "all", "80/tcp"]).trim().to_string();
    assert!(any.starts_with("0.0.0.0:"), "{any}");
    let port = any.trim_start_matches("0.0.0.0:");
    let page = wget(h.net.cmd(busybox()).args(["wget", "-q", "-O-", &format!("http://127.0.0.1:{port}/hostname")]));
    assert_eq!(page.len(), 13, "{page}");
    // Removal withdraws the rules.
    h.ok(&["rm", "-f", "web", "all"]);
    let table = run_ok(h.net.cmd("nft").args(["list", "table", "inet", "hull"]));
    assert!(!table.contains(" dnat ip"), "{table}");
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn user_defined_networks_are_isolated_and_go_when_unused() {
    let h = busybox_store("net-user");
    let _internet = Internet::new(&h.net, &h.root.with_file_name("www"));
    let id = h.ok(&["network", "create", "--subnet", "10.123.0.0/24", "--label", "tier=front", "front"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    h.ok(&["network", "create", "--internal", "back"]);
    // Refused: a name taken, an overlapping subnet, a bad name, a pre-defined one.
    assert!(h.fails(&["network", "create", "front"]).contains("already exists"));
    assert!(h.fails(&["network", "create", "--subnet", "10.123.0.128/25", "other"]).contains("overlaps"));
    assert!(h.fails(&["network", "create", "bad/name"]).contains("invalid network name"));
    assert!(h.fails(&["network", "rm", "bridge"]).contains("pre-defined"));
    let ls = h.ok(&["network", "ls"]);
    for n in ["bridge", "front", "back"] {
        assert!(ls.lines().any(|l| l.split_whitespace().nth(1) == Some(n)), "{n}: {ls}");
    }
    let o = h.run(&["run", "--rm", "--network", "nope", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("network nope not found"));

    // A server on front: a client on front reaches it, one on back or on the default
    // network does not.
    let web = ["busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"];
    let mut args = vec!["run", "-d", "--name", "web", "--hostname", "webhost", "--network", "front"];
    args.extend(web);
    let web_id = h.ok(&args).trim().to_string();
    listening(&h, "web", 80);
    let ip = inspect(&h, "web", "{{.NetworkSettings.Networks.front.IPAddress}}");
    assert!(ip.starts_with("10.123.0."), "{ip}");
    let url = format!("http://{ip}/hostname");
    assert_eq!(
        h.ok(&["run", "--rm", "--network", "front", "busybox", "busybox", "wget", "-q", "-O-", &url]),
        "webhost\n"
    );
    // (busybox's wget crashes when it times out: nc says "timed out".)
    let reaches = |net: &str, ip: &str, port: &str| {
        let o = h.run(&["run", "--rm", "--network", net, "busybox", "busybox", "nc", "-w", "2", ip, port]);
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success() || e.contains("timed out"), "{net} -> {ip}:{port}: {:?} {e}", o.status);
        o.status.success()
    };
    assert!(reaches("front", &ip, "80"));
    assert!(!reaches("back", &ip, "80"), "back reached front");
    assert!(!reaches("bridge", &ip, "80"), "the default network reached front");
    // An internal network has no way out; front has.
    assert!(!reaches("back", "192.0.2.1", "8080"), "back (internal) reached the internet");
    let hello = "http://192.0.2.1:8080/hello";
    assert_eq!(
        h.ok(&["run", "--rm", "--network", "front", "busybox", "busybox", "wget", "-q", "-O-", hello]),
        "hello from the internet\n"
    );

    // --ip and --mac-address on a user network; an address taken; --ip on the default.
    let fixed = h.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "--ip",
        "10.123.0.50",
        "--mac-address",
        "02:00:00:00:00:50",
        "busybox",
        "sh",
        "-c",
        "busybox ip -o link show eth0; busybox ip -o -4 addr show eth0",
    ]);
    assert!(fixed.contains("02:00:00:00:00:50") && fixed.contains("10.123.0.50/24"), "{fixed}");
    let o = h.run(&["run", "--rm", "--network", "front", "--ip", &ip, "busybox", "true"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(125) && e.contains("Address already in use") && e.lines().count() == 1, "{e}");
    assert!(h.fails(&["run", "--rm", "--ip", "10.89.0.50", "busybox", "true"]).contains("user defined networks only"));
    assert!(h
        .fails(&["run", "--rm", "--network", "front", "--ip", "10.1.0.5", "busybox", "true"])
        .contains("no configured subnet"));

    // A firewall reload that wiped hull's table: network reload rewrites it.
    run_ok(h.net.cmd("nft").args(["delete", "table", "inet", "hull"]));
    h.ok(&["network", "reload", "--all"]);
    let table = run_ok(h.net.cmd("nft").args(["list", "table", "inet", "hull"]));
    assert!(table.contains("ip saddr 10.123.0.0/24 oifname"), "{table}");
    assert!(reaches("front", &ip, "80"));

    // inspect: the subnet, the label, the container on it.
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["network", "inspect", "front"])).unwrap();
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.123.0.0/24");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Gateway"], "10.123.0.1");
    assert_eq!(v[0]["Labels"]["tier"], "front");
    assert_eq!(v[0]["Containers"][&web_id]["IPv4Address"], format!("{ip}/24"));
    let bridge = v[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();

    // Not removed while a container is on it; then removed with its bridge.
    assert!(h.fails(&["network", "rm", "front"]).contains("active endpoints"));
    h.ok(&["rm", "-f", "web"]);
    h.ok(&["network", "rm", "front"]);
    let links = run_ok(h.net.cmd("ip").args(["-o", "link"]));
    assert!(!links.contains(&bridge), "{links}");
    // A network named as the store's own files are: its lock is its own.
    h.ok(&["network", "create", "networks"]);
    h.ok(&["run", "--rm", "--network", "networks", "busybox", "true"]);
    h.ok(&["network", "rm", "networks"]);
    assert!(h.root.join("networks/networks.lock").exists() && !h.root.join("networks/networks.leases.lock").exists());
    assert!(h.ok(&["network", "prune", "-f"]).contains("back"));
    let ls = h.ok(&["network", "ls"]);
    assert!(!ls.contains("front") && !ls.contains("back") && ls.contains("bridge"), "{ls}");
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
}

/// A DNS server at 192.0.2.1:53 in "the internet" (what a container's `--dns` names):
/// `example.test` is 198.51.100.7, every other name NXDOMAIN. Ends when dropped.
struct Upstream {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn new(internet: &Internet) -> Upstream {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ns = internet.ns.0.try_clone().unwrap();
        let s = stop.clone();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            ns_enter(&ns);
            let sock = std::net::UdpSocket::bind("192.0.2.1:53").expect("bind 192.0.2.1:53");
            sock.set_read_timeout(Some(std::time::Duration::from_millis(100))).unwrap();
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 512];
            while !s.load(Ordering::Relaxed) {
                let Ok((len, from)) = sock.recv_from(&mut buf) else { continue };
                if let Some(r) = fake_answer(&buf[..len]) {
                    let _ = sock.send_to(&r, from);
                }
            }
        });
        ready.recv().unwrap();
        Upstream { stop, thread: Some(thread) }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.take().map(|t| t.join());
    }
}

fn ns_enter(ns: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: setns(2) of this thread only, with a descriptor we hold.
    assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
}

/// The fake upstream's reply to `q` (one question): an A record for example.test.
fn fake_answer(q: &[u8]) -> Option<Vec<u8>> {
    let mut name = Vec::new();
    let mut i = 12;
    while i < q.len() && q[i] != 0 {
        let l = q[i] as usize;
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend_from_slice(q.get(i + 1..i + 1 + l)?);
        i += 1 + l;
    }
    let end = i + 5; // the root label, type, class
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let known = name.eq_ignore_ascii_case(b"example.test");
    let mut r = q.get(..end)?.to_vec();
    r[2] = 0x81; // response, recursion desired
    r[3] = if known { 0x80 } else { 0x83 }; // recursion available; NOERROR or NXDOMAIN
    r[6..12].copy_from_slice(&[0, u8::from(known && qtype == 1), 0, 0, 0, 0]);
    if known && qtype == 1 {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]);
    }
    Some(r)
}

/// The addresses `nslookup NAME` prints for the name, from a container on `net`.
fn lookup(h: &Hull, net: &str, extra: &[&str], name: &str) -> Vec<String> {
    lookup_type(h, net, extra, name, "a")
}

/// The same for records of `kind` (`a`, `aaaa`).
fn lookup_type(h: &Hull, net: &str, extra: &[&str], name: &str, kind: &str) -> Vec<String> {
    let kind = format!("-type={kind}");
    let mut args = vec!["run", "--rm", "--network", net];
    args.extend(extra);
    args.extend(["busybox", "busybox", "nslookup", &kind, name]);
    let o = h.run(&args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // The answer follows "Name:"; the server's own address comes before it.
    out.split_once("Name:")
        .map(|(_, a)| {
            a.lines().filter_map(|l| l.trim().strip_prefix("Address:")).map(|a| a.trim().to_string()).collect()
        })
        .unwrap_or_default()
}

#[test]
fn names_resolve_on_user_networks_and_connect_disconnect_are_live() {
    let h = busybox_store("net-dns");
    let internet = Internet::new(&h.net, &h.root.with_file_name("www"));
    let _upstream = Upstream::new(&internet);
    h.ok(&["network", "create", "--subnet", "10.124.0.0/24", "app"]);
    h.ok(&["network", "create", "--subnet", "10.125.0.0/24", "other"]);
    // The network's first container finds its resolver answering from its first
    // instant (the resolver is up before the container starts).
    let me = h.ok(&[
        "run",
        "--rm",
        "--name",
        "first",
        "--network",
        "app",
        "busybox",
        "busybox",
        "nslookup",
        "-type=a",
        "first",
    ]);
    assert!(me.split_once("Name:").is_some_and(|(_, a)| a.contains("Address: 10.124.0.")), "{me}");
    let mut args = vec!["run", "-d", "--name", "web", "--hostname", "webhost", "--network", "app"];
    args.extend(["--network-alias", "front", "--network-alias", "www"]);
    args.extend(["busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let id = h.ok(&args).trim().to_string();
    listening(&h, "web", 80);
    let ip = inspect(&h, "web", "{{.NetworkSettings.Networks.app.IPAddress}}");
    assert!(ip.starts_with("10.124.0."), "{ip}");
    let resolv = h.ok(&["run", "--rm", "--network", "app", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 10.124.0.1\n")
            && resolv.lines().filter(|l| l.starts_with("nameserver")).count() == 1,
        "{resolv}"
    );
    // Its name, short id and aliases, case-blind; not from another network, nor from the
    // default one (which has /etc/hosts only, as Docker's).
    for name in ["web", "WEB", &id[..12], "front", "www"] {
        assert_eq!(lookup(&h, "app", &[], name), [ip.as_str()], "{name}");
    }
    assert!(lookup(&h, "other", &["--dns", "192.0.2.1"], "web").is_empty());
    assert!(lookup(&h, "bridge", &["--dns", "192.0.2.1"], "web").is_empty());
    // Other names go to the container's --dns servers.
    assert_eq!(lookup(&h, "app", &["--dns", "192.0.2.1"], "example.test"), ["198.51.100.7"]);
    let aliases = inspect(&h, "web", "{{json .NetworkSettings.Networks.app.Aliases}}");
    assert_eq!(aliases, r#"["front","www"]"#);
    // Renamed while it runs: the new name answers at once, the old one no more.
    h.ok(&["rename", "web", "site"]);
    assert_eq!(lookup(&h, "app", &[], "site"), [ip.as_str()]);
    assert!(lookup(&h, "app", &["--dns", "192.0.2.1"], "web").is_empty());
    h.ok(&["rename", "site", "web"]);
    assert_eq!(lookup(&h, "app", &[], "web"), [ip.as_str()]);

    // Connected live to another network: an eth1 there, its names there too, and the
    // way to it from that network; then disconnected live.
    h.ok(&["network", "connect", "--alias", "api", "other", "web"]);
    let ip2 = inspect(&h, "web", "{{.NetworkSettings.Networks.other.IPAddress}}");
    assert!(ip2.starts_with("10.125.0."), "{ip2}");
    let eth1 = h.ok(&["exec", "web", "busybox", "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(eth1.contains(&format!("{ip2}/24")), "{eth1}");
    assert_eq!(lookup(&h, "other", &[], "api"), [ip2.as_str()]);
    assert_eq!(lookup(&h, "other", &[], "web"), [ip2.as_str()]);
    let url = format!("http://{ip2}/hostname");
    assert_eq!(
        h.ok(&["run", "--rm", "--network", "other", "busybox", "busybox", "wget", "-q", "-O-", &url]),
        "webhost\n"
    );
    assert!(h.fails(&["network", "connect", "other", "web"]).contains("already exists"));
    assert!(h.fails(&["network", "rm", "other"]).contains("active endpoints"));
    h.ok(&["network", "disconnect", "other", "web"]);
    let links = h.ok(&["exec", "web", "busybox", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    assert!(lookup(&h, "other", &["--dns", "192.0.2.1"], "api").is_empty());
    assert!(h.fails(&["network", "disconnect", "other", "web"]).contains("is not connected"));
    assert_eq!(lookup(&h, "app", &[], "web"), [ip.as_str()], "still on app");

    // --network container:NAME: web's namespace (its loopback, its address), its
    // hostname and resolv.conf; flags that would contradict it are refused.
    let mut args = vec!["run", "--rm", "--network", "container:web", "busybox", "sh", "-c"];
    args.push("busybox wget -q -O- http://127.0.0.1/hostname; hostname; busybox ip -o -4 addr show eth0; cat /etc/resolv.conf");
    let shared = h.ok(&args);
    assert!(shared.starts_with("webhost\nwebhost\n"), "{shared}");
    assert!(shared.contains(&format!("{ip}/24")) && shared.contains("nameserver 10.124.0.1"), "{shared}");
    assert!(h
        .fails(&["run", "--rm", "--network", "container:web", "-p", "80", "busybox", "true"])
        .contains("conflicting options"));
    assert!(h
        .fails(&["run", "--rm", "--network", "container:nosuch", "busybox", "true"])
        .contains("No such container"));

    // A resolver killed (kill -9) is started again by `network reload`, as by the
    // next container to join its network.
    let root = h.root.to_string_lossy().into_owned();
    let resolver = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find(|p| {
            let cmd =
                String::from_utf8_lossy(&std::fs::read(p.path().join("cmdline")).unwrap_or_default()).into_owned();
            cmd.contains("__dns") && cmd.contains(&root) && cmd.ends_with("\0app\0")
        })
        .expect("app's resolver runs");
    let pid: i32 = resolver.file_name().to_string_lossy().parse().unwrap();
    // SAFETY: kill(2) of the resolver this test's store started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    while resolver.path().join("stat").exists()
        && !std::fs::read_to_string(resolver.path().join("stat")).unwrap_or_default().contains(") Z")
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.ok(&["network", "reload"]);
    assert_eq!(lookup(&h, "app", &[], "web"), [ip.as_str()], "after the resolver was killed");

    // Several networks from the start, and a connect while stopped that the next
    // start honours.
    let both = h.ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        "--network",
        "other",
        "busybox",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(
        both.contains("eth0") && both.contains("10.124.0.") && both.contains("eth1") && both.contains("10.125.0."),
        "{both}"
    );
    h.ok(&["create", "--name", "later", "--network", "app", "busybox", "busybox", "ip", "-o", "-4", "addr"]);
    h.ok(&["network", "connect", "other", "later"]);
    let later = h.ok(&["start", "-a", "later"]);
    assert!(later.contains("10.124.0.") && later.contains("10.125.0."), "{later}");
    assert!(h.fails(&["network", "connect", "other", "nosuch"]).contains("No such container"));
    h.ok(&["create", "--name", "alone", "--network", "none", "busybox", "true"]);
    assert!(h.fails(&["network", "connect", "other", "alone"]).contains("network mode is none"));
    assert!(h.fails(&["run", "--rm", "--network-alias", "x", "busybox", "true"]).contains("user defined networks"));

    // Gone with its container: its names, and the resolver once the network is unused.
    h.ok(&["rm", "-f", "web", "later", "alone"]);
    assert!(lookup(&h, "app", &["--dns", "192.0.2.1"], "web").is_empty());
    assert_eq!(store_leftovers(&h), Vec::<String>::new());
    h.ok(&["network", "rm", "app", "other"]);
    let files = h.entries("networks");
    assert!(!files.iter().any(|f| f.starts_with("app.") || f.starts_with("other.")), "{files:?}");
}

// (busybox 1.35's static wget crashes when given -T where the namespace has an IPv6
// address, even a link-local one: the checks here do without it.)
#[test]
fn dual_stack_networks_give_ipv6_addresses_names_nat66_egress_and_published_ports() {
    let h = busybox_store("net-v6");
    let mut internet = Internet::new(&h.net, &h.root.with_file_name("www"));
    internet.add_ipv6(&h.net);
    h.ok(&["network", "create", "--ipv6", "--subnet", "10.126.0.0/24", "--subnet", "fd00:126::/64", "dual"]);
    let n = h.ok(&["network", "inspect", "dual"]);
    assert!(n.contains(r#""EnableIPv6": true"#) && n.contains(r#""Gateway": "fd00:126::1""#), "{n}");
    // --ipv6 alone: a unique local /64 of the network's own.
    h.ok(&["network", "create", "--ipv6", "ula"]);
    let ula = h.ok(&["network", "inspect", "--format", "{{json .IPAM.Config}}", "ula"]);
    assert!(ula.contains(r#""Subnet":"fd"#) && ula.contains("::/64"), "{ula}");
    // An overlapping IPv6 subnet, and an IPv6 address on a network without IPv6, are refused.
    let o = h.run(&["network", "create", "--subnet", "fd00:126:0:0:1::/80", "over"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("overlaps"));
    let o = h.run(&["run", "--rm", "--network", "bridge", "--ip6", "fd00:126::9", "busybox", "true"]);
    assert!(!o.status.success(), "--ip6 on the default network");

    let web = ["busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"];
    let mut args = vec!["run", "-d", "--name", "web", "--hostname", "webhost", "--network", "dual"];
    args.extend(["--network-alias", "front", "--ip6", "fd00:126::80", "-p", "8080:80"]);
    args.extend(web);
    h.ok(&args);
    listening(&h, "web", 80);
    assert_eq!(inspect(&h, "web", "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}"), "fd00:126::80");
    assert_eq!(inspect(&h, "web", "{{.NetworkSettings.Networks.dual.IPv6Gateway}}"), "fd00:126::1");
    assert_eq!(inspect(&h, "web", "{{.NetworkSettings.Networks.dual.GlobalIPv6PrefixLen}}"), "64");
    let hosts = h.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains("fd00:126::80\twebhost\n"), "{hosts}");
    // AAAA by name and alias; A still answers.
    assert_eq!(lookup_type(&h, "dual", &[], "front", "aaaa"), ["fd00:126::80"]);
    assert_eq!(lookup_type(&h, "dual", &[], "web", "aaaa"), ["fd00:126::80"]);
    assert_eq!(lookup(&h, "dual", &[], "web").len(), 1);
    // Container to container over IPv6.
    let url6 = "http://[fd00:126::80]/hostname";
    assert_eq!(
        h.ok(&["run", "--rm", "--network", "dual", "busybox", "busybox", "wget", "-q", "-O-", url6]),
        "webhost\n"
    );
    // Egress through NAT66: the internet has no route back to fd00:126::/64.
    let out6 = "http://[2001:db8::1]:8080/hello";
    let got = h.ok(&["run", "--rm", "--network", "dual", "busybox", "busybox", "wget", "-q", "-O-", out6]);
    assert_eq!(got, "hello from the internet\n");
    // Published on 0.0.0.0 and on :: with one port: from another host over both
    // families, and from a container through the host's IPv6 address (hairpin).
    let ports = h.ok(&["port", "web"]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:8080\n") && ports.contains("80/tcp -> [::]:8080\n"), "{ports}");
    assert!(h.ok(&["ps"]).contains("[::]:8080->80/tcp"), "{}", h.ok(&["ps"]));
    for u in ["http://[2001:db8::2]:8080/hostname", "http://192.0.2.2:8080/hostname"] {
        assert_eq!(wget(internet.ns.cmd(busybox()).args(["wget", "-q", "-O-", u])), "webhost\n", "{u}");
    }
    let hairpin = "http://[2001:db8::2]:8080/hostname";
    assert_eq!(
        h.ok(&["run", "--rm", "--network", "dual", "busybox", "busybox", "wget", "-q", "-O-", hairpin]),
        "webhost\n"
    );
    // ::1 cannot be sent on to a container (IPv6 has no route_localnet): refused at
    // once rather than left to time out.
    let t = std::time::Instant::now();
    let o = h.net.cmd(busybox()).args(["wget", "-q", "-O-", "http://[::1]:8080/hostname"]).output().unwrap();
    assert!(!o.status.success() && t.elapsed() < std::time::Duration::from_secs(5));
    let table = run_ok(h.net.cmd("nft").args(["list", "table", "inet", "hull"]));
    assert!(
        table.contains("ip6 saddr fd00:126::/64 oifname != ") && table.contains("dnat ip6 to [fd00:126::80]:80"),
        "{table}"
    );
    // A second container gets the next address; the asked one is refused while held.
    let o = h.run(&["run", "--rm", "--network", "dual", "--ip6", "fd00:126::80", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Address already in use"), "{o:?}");
    h.ok(&["rm", "-f", "web"]);
    h.ok(&["network", "rm", "dual", "ula"]);
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_docker_forward_drop_policy_still_forwards_and_only_published_ports_are_reachable() {
    let h = busybox_store("net-fwdrop");
    let internet = Internet::new(&h.net, &h.root.with_file_name("www"));
    // What dockerd leaves on a host: FORWARD's policy drop, DOCKER-USER first in it.
    for args in [
        &["-N", "DOCKER-USER"][..],
        &["-A", "DOCKER-USER", "-j", "RETURN"],
        &["-A", "FORWARD", "-j", "DOCKER-USER"],
        &["-P", "FORWARD", "DROP"],
    ] {
        run_ok(h.net.cmd("iptables").args(args));
    }
    h.ok(&["network", "create", "--subnet", "10.127.0.0/24", "app"]);
    let hello = "http://192.0.2.1:8080/hello";
    for net in ["bridge", "app"] {
        let got = h.ok(&["run", "--rm", "--network", net, "busybox", "busybox", "wget", "-q", "-O-", hello]);
        assert_eq!(got, "hello from the internet\n", "{net}");
    }
    let rules = run_ok(h.net.cmd("iptables").args(["-S", "DOCKER-USER"]));
    let app_bridge = inspect_network_bridge(&h, "app");
    for br in ["hull0", app_bridge.as_str()] {
        assert!(rules.contains(&format!("-A DOCKER-USER -i {br} -j ACCEPT")), "{rules}");
        assert!(rules.contains(&format!("-A DOCKER-USER -o {br} -j ACCEPT")), "{rules}");
    }
    // Reached from another host: its published port through the host's address, but
    // not its address routed straight to (an unpublished port, as Docker 28).
    let web = ["busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"];
    let mut args = vec!["run", "-d", "--name", "web", "--hostname", "webhost", "--network", "app", "-p", "8080:80"];
    args.extend(web);
    h.ok(&args);
    listening(&h, "web", 80);
    let ip = inspect(&h, "web", "{{.NetworkSettings.Networks.app.IPAddress}}");
    run_ok(internet.ns.cmd("ip").args(["route", "add", "10.127.0.0/24", "via", "192.0.2.2"]));
    // (busybox's wget -T crashes where the namespace has any IPv6 address: timeout(1).)
    let page =
        |u: &str| internet.ns.cmd("timeout").arg("3").arg(busybox()).args(["wget", "-q", "-O-", u]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&page("http://192.0.2.2:8080/hostname").stdout), "webhost\n");
    assert!(!page(&format!("http://{ip}:80/hostname")).status.success(), "reached {ip} straight");
    // A reload puts missing rules back; the network's removal takes its rules away.
    run_ok(h.net.cmd("iptables").args(["-F", "DOCKER-USER"]));
    h.ok(&["network", "reload"]);
    let rules = run_ok(h.net.cmd("iptables").args(["-S", "DOCKER-USER"]));
    assert!(rules.contains(&format!("-A DOCKER-USER -i {app_bridge} -j ACCEPT")), "{rules}");
    h.ok(&["rm", "-f", "web"]);
    h.ok(&["network", "rm", "app"]);
    let rules = run_ok(h.net.cmd("iptables").args(["-S", "DOCKER-USER"]));
    assert!(!rules.contains(&app_bridge) && rules.contains("-i hull0"), "{rules}");
    let left = store_leftovers(&h);
    assert!(left.is_empty(), "{left:?}");
}

fn inspect_network_bridge(h: &Hull, net: &str) -> String {
    h.ok(&["network", "inspect", "--format", "{{json .Options}}", net])
        .split("\"com.docker.network.bridge.name\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the bridge's name")
        .to_string()
}

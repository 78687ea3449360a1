//! The `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` written for a container.

use super::*;

/// What goes into the container's /etc/hosts and /etc/resolv.conf besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct EtcOptions {
    /// (host name, address) from `--add-host`.
    pub hosts: Vec<(String, String)>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
}

/// Writes `hosts`, `hostname` and `resolv.conf` into the container's directory. With
/// a `resolver` (a user-defined network's), resolv.conf names only it, and `--dns`
/// servers are where it forwards (as Docker's embedded server).
pub fn write_etc_files(
    dir: &Path,
    hostname: &str,
    network: &str,
    etc: &EtcOptions,
    resolver: Option<std::net::Ipv4Addr>,
) -> Result<()> {
    let (mut hosts, mut resolv) = if network == "host" {
        (
            std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        )
    } else {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
                     ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
            .to_string();
        (hosts, hull_network::dns::host_resolv_conf())
    };
    for (host, addr) in &etc.hosts {
        hosts.push_str(&format!("{addr}\t{host}\n"));
    }
    // --dns* replace what the host's file says about that part, as Docker.
    let keep = |resolv: &str, key: &str| -> String {
        resolv.lines().filter(|l| l.split_whitespace().next() != Some(key)).map(|l| format!("{l}\n")).collect()
    };
    if let Some(r) = resolver {
        resolv = keep(&resolv, "nameserver");
        resolv.push_str(&format!("nameserver {r}\n"));
        if etc.dns_options.is_empty() {
            // Names of the network are single labels: asked as they are first.
            resolv = keep(&resolv, "options");
            resolv.push_str("options ndots:0\n");
        }
    } else if !etc.dns.is_empty() {
        resolv = keep(&resolv, "nameserver");
        resolv.extend(etc.dns.iter().map(|d| format!("nameserver {d}\n")));
    }
    if !etc.dns_search.is_empty() {
        resolv = keep(&keep(&resolv, "search"), "domain");
        resolv.push_str(&format!("search {}\n", etc.dns_search.join(" ")));
    }
    if !etc.dns_options.is_empty() {
        resolv = keep(&resolv, "options");
        resolv.push_str(&format!("options {}\n", etc.dns_options.join(" ")));
    }
    for (name, text) in [("hosts", hosts), ("hostname", format!("{hostname}\n")), ("resolv.conf", resolv)] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(Error::at(format!("write {}", p.display())))?;
    }
    Ok(())
}

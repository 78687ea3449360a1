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

/// Writes `hosts`, `hostname` and `resolv.conf` into the container's directory.
pub fn write_etc_files(dir: &Path, hostname: &str, network: &str, etc: &EtcOptions) -> Result<()> {
    let (mut hosts, mut resolv) = if network == "host" {
        (
            std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        )
    } else {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
                     ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
            .to_string();
        // The host's resolvers without loopback ones, which the container cannot reach;
        // when those were all it had (systemd-resolved's stub, 127.0.0.53), the
        // upstream servers systemd-resolved lists, as Docker does.
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let mut resolv = without_loopback(&host);
        if !resolv.lines().any(|l| l.starts_with("nameserver")) {
            if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
                let upstream = without_loopback(&upstream);
                if upstream.lines().any(|l| l.starts_with("nameserver")) {
                    resolv = upstream;
                }
            }
        }
        (hosts, resolv)
    };
    for (host, addr) in &etc.hosts {
        hosts.push_str(&format!("{addr}\t{host}\n"));
    }
    // --dns* replace what the host's file says about that part, as Docker.
    let keep = |resolv: &str, key: &str| -> String {
        resolv.lines().filter(|l| l.split_whitespace().next() != Some(key)).map(|l| format!("{l}\n")).collect()
    };
    if !etc.dns.is_empty() {
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

/// A resolv.conf without its loopback nameservers.
fn without_loopback(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver") && w.next().is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_nameservers_are_dropped() {
        let text = "nameserver 127.0.0.53\noptions edns0\nnameserver 192.0.2.53\nnameserver ::1\nsearch lan\n";
        assert_eq!(super::without_loopback(text), "options edns0\nnameserver 192.0.2.53\nsearch lan\n");
    }
}

//! Rootless networking through pasta (Debian's `passt` package), Podman 5's default:
//! an ordinary user cannot make bridges, veths or nftables rules, so a container's
//! network namespace gets a tap device that pasta (an unprivileged process of the
//! user's) ties to the host's sockets. The container sees the host's addresses and
//! routes (`--config-net`), reaches what the host reaches, and published ports are
//! sockets pasta listens on in the host's namespace.
//!
//! pasta runs in the background for as long as the container does; its pid (and start
//! time) is in the container's run state, and whoever ends the container ends it.
//! Needs `/dev/net/tun` open to the user (mode 0666, as udev makes it on Debian).

use crate::error::{Error, Result};
use crate::ports::{PortMap, Proto};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A container's pasta process, and the ports it publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pasta {
    pub pid: i32,
    pub pid_start: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMap>,
}

/// The pasta binary on PATH, if any.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join("pasta")).find(|p| p.is_file())
}

/// Whether rootless networking can work here: pasta installed and the tun device
/// open to the caller.
pub fn usable() -> bool {
    binary().is_some() && std::fs::File::options().read(true).write(true).open("/dev/net/tun").is_ok()
}

/// pasta's arguments for the published ports `maps` (none: no port forwarded either
/// way, as Podman asks).
pub fn port_args(maps: &[PortMap]) -> Result<Vec<String>> {
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for m in maps {
        let addr = if m.host_ip.is_unspecified() { String::new() } else { format!("{}/", m.host_ip) };
        let spec = format!("{addr}{}:{}", m.host_port, m.container_port);
        match m.proto {
            Proto::Tcp => tcp.push(spec),
            Proto::Udp => udp.push(spec),
            Proto::Sctp => return Err(Error::Invalid("sctp ports cannot be published rootless (pasta)".into())),
        }
    }
    let mut args = Vec::new();
    for (flag, specs) in [("-t", tcp), ("-u", udp)] {
        if specs.is_empty() {
            args.extend([flag.to_owned(), "none".to_owned()]);
        }
        for s in specs {
            args.extend([flag.to_owned(), s]);
        }
    }
    // Nothing from the container to the host's own loopback ports.
    args.extend(["-T", "none", "-U", "none"].map(str::to_owned));
    Ok(args)
}

/// Starts pasta for a container whose network namespace the caller holds open as
/// `netns` (its init, no longer dumpable, cannot be entered through `/proc/PID/ns`:
/// pasta opens the caller's descriptor through `/proc/CALLER/fd`),
/// publishing `maps`; returns pasta's pid once the namespace is set up. `pid_file` is
/// where pasta writes its pid.
pub fn start(ns: (BorrowedFd<'_>, BorrowedFd<'_>), maps: &[PortMap], pid_file: &Path) -> Result<i32> {
    let bin = binary().ok_or_else(|| {
        Error::Invalid("rootless networking needs pasta (apt-get install passt), or use --network none|host".into())
    })?;
    let _ = std::fs::remove_file(pid_file);
    let (user, net) = (ns.0.as_raw_fd(), ns.1.as_raw_fd());
    let mut cmd = Command::new(bin);
    // SAFETY: dup2 only (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(user, 3) < 0 || libc::dup2(net, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd
        .args(["--config-net", "--quiet", "--no-map-gw"])
        .args(port_args(maps)?)
        .args(["--userns", "/proc/self/fd/3", "--netns", "/proc/self/fd/4"])
        .arg("--pid")
        .arg(pid_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(Error::at("run pasta"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Its informational lines come first; the reason is its last line.
        let why = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("failed");
        return Err(Error::Invalid(format!("pasta (rootless networking): {why}")));
    }
    let text = std::fs::read_to_string(pid_file).map_err(Error::at(format!("read {}", pid_file.display())))?;
    let _ = std::fs::remove_file(pid_file);
    text.trim().parse().map_err(|_| Error::Invalid(format!("pasta wrote {text:?} as its pid")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_become_pasta_specs() {
        let m = |proto, host_ip: [u8; 4], host_port, container_port| PortMap {
            proto,
            host_ip: host_ip.into(),
            host_port,
            container_ip: [0, 0, 0, 0].into(),
            container_port,
            bridge: String::new(),
        };
        assert_eq!(port_args(&[]).unwrap().join(" "), "-t none -u none -T none -U none");
        let a = port_args(&[m(Proto::Tcp, [0, 0, 0, 0], 8080, 80), m(Proto::Udp, [127, 0, 0, 1], 5353, 53)]).unwrap();
        assert_eq!(a.join(" "), "-t 8080:80 -u 127.0.0.1/5353:53 -T none -U none");
        assert!(port_args(&[m(Proto::Sctp, [0, 0, 0, 0], 1, 1)]).is_err());
    }
}

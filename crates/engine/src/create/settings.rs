//! A create body checked and converted, before anything is made: Docker's rules for
//! each field (its conflicts refused, its units converted) and the strings the API
//! carries parsed (`Binds`, `Tmpfs`, `SecurityOpt`, `ExtraHosts`, log options), so
//! that bad input leaves nothing behind.

use super::body::{self, CreateBody, Mount};
use crate::error::{Error, Result};
use crate::record::{MountPoint, RestartPolicy};
use crate::runtime_config::{self as rc, Device, Resources, Seccomp};
use crate::units;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Docker's floor for a memory limit.
const MIN_MEMORY: i64 = 6 << 20;
/// Linux's limit on a host name (HOST_NAME_MAX).
const MAX_HOSTNAME: usize = 64;

/// The body, checked.
pub(crate) struct Settings {
    pub env: Vec<String>,
    pub mounts: Vec<MountPoint>,
    pub tmpfs: Vec<(String, String)>,
    pub devices: Vec<Device>,
    pub resources: Resources,
    pub ulimits: Vec<(String, u64, u64)>,
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
    /// `private`, `none` or `host`.
    pub network: String,
    pub log_driver: String,
    pub log_max_size: Option<u64>,
    pub log_max_file: u32,
    pub etc: rc::EtcOptions,
    pub shm_size: Option<i64>,
    pub sysctls: Vec<(String, String)>,
    pub cgroupns: Option<bool>,
    pub extra: rc::Extra,
    pub restart: RestartPolicy,
}

impl Settings {
    /// Checks `body`; things worth a word that do not stop the create go to `warnings`.
    pub fn of(body: &CreateBody, warnings: &mut Vec<String>) -> Result<Settings> {
        let (c, h) = (&body.config, &body.host_config);
        if c.hostname.len() > MAX_HOSTNAME {
            return Err(Error::Invalid(format!(
                "invalid hostname {}…: longer than {MAX_HOSTNAME} characters",
                c.hostname.chars().take(16).collect::<String>()
            )));
        }
        let restart = restart_policy(&h.restart_policy)?;
        if h.auto_remove && restart.name != "no" {
            return Err(Error::Invalid("Conflicting options: --restart and --rm".into()));
        }
        let mut extra =
            rc::Extra { domainname: Some(c.domainname.clone()).filter(|d| !d.is_empty()), ..Default::default() };
        for (k, v) in &h.annotations {
            if k.is_empty() {
                return Err(Error::Invalid(format!("invalid annotation {k}={v}: the key is empty")));
            }
            extra.annotations.push((k.clone(), v.clone()));
        }
        for r in &h.resources.device_cgroup_rules {
            extra.device_rules.push(rc::device_rule(r)?);
        }
        let mut mounts = Vec::new();
        for b in &h.binds {
            mounts.push(bind(b)?);
        }
        let mut tmpfs = Vec::new();
        for (d, o) in &h.tmpfs {
            check_destination(d)?;
            tmpfs.push((d.clone(), o.clone()));
        }
        for m in &h.mounts {
            match mount(m)? {
                Placed::Point(p) => mounts.push(p),
                Placed::Tmpfs(d, o) => tmpfs.push((d, o)),
            }
        }
        // `-v DST`: anonymous volumes, where nothing else is mounted.
        for d in c.volumes.keys() {
            check_destination(d)?;
            if !mounts.iter().any(|m| Path::new(&m.destination) == Path::new(d)) && !tmpfs.iter().any(|(t, _)| t == d) {
                mounts.push(MountPoint {
                    kind: "volume".into(),
                    name: Some(crate::new_id()?),
                    source: String::new(),
                    destination: d.clone(),
                    rw: true,
                    anonymous: true,
                    propagation: None,
                });
            }
        }
        let devices = h
            .resources
            .devices
            .iter()
            .map(|d| {
                let host = PathBuf::from(&d.path_on_host);
                let container =
                    if d.path_in_container.is_empty() { host.clone() } else { PathBuf::from(&d.path_in_container) };
                let perms = if d.cgroup_permissions.is_empty() { "rwm".into() } else { d.cgroup_permissions.clone() };
                Device { host, container, perms }
            })
            .collect();
        let resources = resources(&h.resources, false)?;
        if h.resources.kernel_memory > 0 {
            warnings.push("Specifying a kernel memory limit is deprecated and has no effect".into());
        }
        let cgroupns = match h.cgroupns_mode.as_str() {
            "" => None,
            "private" => Some(true),
            "host" => Some(false),
            o => return Err(Error::Invalid(format!("invalid cgroup namespace mode {o:?}: private or host"))),
        };
        let ulimits = h.resources.ulimits.iter().map(ulimit).collect::<Result<_>>()?;
        let mut seccomp = Seccomp::Default;
        let mut no_new_privileges = false;
        for o in &h.security_opt {
            let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
            match (k, v) {
                ("seccomp", "unconfined") => seccomp = Seccomp::Unconfined,
                ("seccomp", "") => return Err(Error::Invalid("security option seccomp needs a profile".into())),
                ("seccomp", profile) => seccomp = Seccomp::Profile(profile.to_owned()),
                ("no-new-privileges", "" | "true") => no_new_privileges = true,
                ("no-new-privileges", "false") => no_new_privileges = false,
                ("systempaths", "unconfined") => extra.systempaths_unconfined = true,
                ("label" | "apparmor", _) => {}
                _ => return Err(Error::Invalid(format!("invalid --security-opt: {o:?}"))),
            }
        }
        let network = match h.network_mode.as_str() {
            _ if c.network_disabled => "none",
            // The default network; rootless, pasta's (Podman's default) where it can
            // work, a namespace with loopback only otherwise.
            "" | "default" | "bridge" if nix::unistd::geteuid().is_root() => "bridge",
            "pasta" if nix::unistd::geteuid().is_root() => {
                return Err(Error::Invalid("--network pasta is for rootless containers (root has bridge)".into()))
            }
            "" | "default" | "bridge" | "pasta" if hull_network::pasta::usable() => "pasta",
            "pasta" => {
                return Err(Error::Invalid(
                    "--network pasta: pasta is not installed (apt-get install passt) or /dev/net/tun is not open \
                     to you"
                        .into(),
                ))
            }
            "" | "default" | "bridge" | "private" => "private",
            "none" => "none",
            "host" => "host",
            // Another container's namespace: the engine finds it (it must run).
            n if n.starts_with("container:") => {
                let conflicts = [
                    ("hostname", !c.hostname.is_empty()),
                    ("dns", !h.dns.is_empty() || !h.dns_search.is_empty() || !h.dns_options.is_empty()),
                    ("add-host", !h.extra_hosts.is_empty()),
                    ("mac-address", !c.mac_address.is_empty()),
                    ("publish", !h.port_bindings.is_empty() || h.publish_all_ports),
                ];
                if let Some((flag, _)) = conflicts.iter().find(|(_, set)| *set) {
                    return Err(Error::Invalid(format!(
                        "conflicting options: --{flag} and the network mode ({n} shares that container's)"
                    )));
                }
                n
            }
            // A user-defined network: the engine checks that it exists.
            n if nix::unistd::geteuid().is_root() => n,
            n => return Err(Error::Invalid(format!("network {n}: rootless containers have no networks yet"))),
        }
        .to_owned();
        let log_driver = match h.log_config.kind.as_str() {
            "" | "json-file" => "json-file",
            "none" => "none",
            d => return Err(Error::Invalid(format!("logging driver {d:?} is not supported (json-file or none)"))),
        }
        .to_owned();
        if log_driver == "none" && !h.log_config.config.is_empty() {
            return Err(Error::Invalid("the none logging driver takes no --log-opt".into()));
        }
        let (log_max_size, log_max_file) = log_options(&h.log_config.config)?;
        if !h.port_bindings.is_empty() || h.publish_all_ports {
            match network.as_str() {
                "host" => warnings.push("Published ports are discarded when using host network mode".into()),
                n if hull_network::is_network(n) || n == "pasta" => {
                    for (key, bindings) in &h.port_bindings {
                        for b in bindings {
                            port_request(key, b)?;
                        }
                        if bindings.is_empty() {
                            port_request(key, &body::PortBinding::default())?;
                        }
                    }
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "publishing ports (-p, -P) needs the bridge network (this container's is {}); \
                         --network host shares the host's ports",
                        if network == "private" {
                            "loopback only: pasta (apt-get install passt) and /dev/net/tun open to you give rootless \
                             containers a network"
                        } else {
                            "none"
                        }
                    )))
                }
            }
        }
        let mut etc = rc::EtcOptions {
            dns: h.dns.clone(),
            dns_search: h.dns_search.clone(),
            dns_options: h.dns_options.clone(),
            ..Default::default()
        };
        for x in &h.extra_hosts {
            match x.split_once([':', '=']) {
                Some((host, addr))
                    if !host.is_empty() && (addr == HOST_GATEWAY || addr.parse::<std::net::IpAddr>().is_ok()) =>
                {
                    etc.hosts.push((host.to_owned(), addr.to_owned()))
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid --add-host {x:?}: HOST:IP or HOST:host-gateway expected"
                    )))
                }
            }
        }
        for d in &h.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Invalid(format!("invalid --dns {d:?}: an IP address expected")));
            }
        }
        if !h.userns_mode.is_empty() && h.userns_mode != "host" {
            return Err(Error::Invalid(format!(
                "--userns {}: only host is supported (rootful containers share the host's user namespace)",
                h.userns_mode
            )));
        }
        if h.shm_size < 0 {
            return Err(Error::Invalid("invalid --shm-size: it cannot be negative".into()));
        }
        Ok(Settings {
            env: c.env.iter().filter(|e| !e.is_empty()).cloned().collect(),
            mounts,
            tmpfs,
            devices,
            resources,
            ulimits,
            seccomp,
            no_new_privileges,
            network,
            log_driver,
            log_max_size,
            log_max_file,
            etc,
            shm_size: Some(h.shm_size).filter(|s| *s > 0),
            sysctls: h.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            cgroupns,
            extra,
            restart,
        })
    }
}

/// Docker's restart policy, checked.
pub fn restart_policy(p: &body::RestartPolicy) -> Result<RestartPolicy> {
    let name = if p.name.is_empty() { "no" } else { p.name.as_str() };
    match name {
        "no" | "always" | "unless-stopped" if p.maximum_retry_count > 0 => Err(Error::Invalid(format!(
            "invalid restart policy: maximum retry count cannot be used with restart policy '{name}'"
        ))),
        "no" | "always" | "unless-stopped" | "on-failure" => {
            Ok(RestartPolicy { name: name.to_owned(), max_retries: p.maximum_retry_count })
        }
        _ => Err(Error::Invalid(format!("invalid restart policy: unknown policy {name:?}"))),
    }
}

/// Docker's `Resources` as the runtime config's limits. `update` (true) lifts the
/// pids limit on zero or -1; a new container has none then anyway.
pub fn resources(r: &body::Resources, update: bool) -> Result<Resources> {
    let positive = |v: i64| (v > 0).then_some(v);
    if r.memory > 0 && r.memory < MIN_MEMORY {
        return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()));
    }
    if r.nano_cpus < 0 {
        return Err(Error::Invalid(format!("invalid --cpus {}: must be positive", r.nano_cpus as f64 / 1e9)));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    if r.nano_cpus > cpus * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if r.nano_cpus > 0 && (r.cpu_period > 0 || r.cpu_quota > 0) {
        return Err(Error::Invalid("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set".into()));
    }
    let memory_swap = match r.memory_swap {
        0 => None,
        -1 => Some(-1),
        s if s < 0 => return Err(Error::Invalid(format!("invalid memory swap limit {s}"))),
        s => Some(s),
    };
    if let (m, Some(s)) = (r.memory, memory_swap) {
        if m > 0 && s != -1 && s < m {
            return Err(Error::Invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ));
        }
    }
    let blkio_weight_devices = r
        .blkio_weight_device
        .iter()
        .map(|w| {
            let (major, minor) = rc::block_device("blkio-weight-device", &w.path)?;
            Ok(rc::DeviceWeight { major, minor, weight: w.weight })
        })
        .collect::<Result<_>>()?;
    let mut throttles = Vec::new();
    for (flag, field, list) in [
        ("device-read-bps", "throttleReadBpsDevice", &r.blkio_device_read_bps),
        ("device-write-bps", "throttleWriteBpsDevice", &r.blkio_device_write_bps),
        ("device-read-iops", "throttleReadIOPSDevice", &r.blkio_device_read_iops),
        ("device-write-iops", "throttleWriteIOPSDevice", &r.blkio_device_write_iops),
    ] {
        for t in list {
            let (major, minor) = rc::block_device(flag, &t.path)?;
            throttles.push(rc::Throttle { field, major, minor, rate: t.rate });
        }
    }
    let memory_swappiness = match r.memory_swappiness {
        None | Some(-1) => None,
        Some(v @ 0..=100) => Some(v as u64),
        Some(v) => {
            return Err(Error::Invalid(format!(
                "invalid --memory-swappiness {v}: a value between 0 and 100 (or -1 for the default)"
            )))
        }
    };
    Ok(Resources {
        memory: positive(r.memory),
        memory_swap,
        nano_cpus: positive(r.nano_cpus).map(|n| n as u64),
        cpu_shares: positive(r.cpu_shares).map(|n| n as u64),
        cpuset_cpus: Some(r.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        pids_limit: match r.pids_limit {
            Some(p) if p > 0 => Some(p),
            Some(_) if update => Some(-1),
            _ => None,
        },
        memory_reservation: positive(r.memory_reservation),
        oom_kill_disable: r.oom_kill_disable.unwrap_or(false),
        cpu_period: positive(r.cpu_period).map(|n| n as u64),
        cpu_quota: Some(r.cpu_quota).filter(|q| *q != 0),
        cpuset_mems: Some(r.cpuset_mems.clone()).filter(|s| !s.is_empty()),
        blkio_weight: Some(r.blkio_weight).filter(|w| *w > 0),
        blkio_weight_devices,
        throttles,
        memory_swappiness,
        cpu_rt_runtime: Some(r.cpu_realtime_runtime).filter(|v| *v != 0),
        cpu_rt_period: positive(r.cpu_realtime_period).map(|n| n as u64),
    })
}

/// The json-file driver's `max-size` and `max-file`.
fn log_options(opts: &BTreeMap<String, String>) -> Result<(Option<u64>, u32)> {
    let mut max_size = None;
    let mut max_file = 1;
    for (k, v) in opts {
        match k.as_str() {
            "max-size" => max_size = Some(units::bytes(v)? as u64),
            "max-file" => {
                max_file = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| Error::Invalid(format!("invalid max-file {v:?}")))?
            }
            _ => return Err(Error::Invalid(format!("unknown log opt {k:?} for json-file log driver"))),
        }
    }
    Ok((max_size, max_file))
}

/// A ulimit as (RLIMIT_NAME, soft, hard).
fn ulimit(u: &body::Ulimit) -> Result<(String, u64, u64)> {
    let value = |x: i64| if x < 0 { u64::MAX } else { x as u64 };
    let (soft, hard) = (value(u.soft), value(u.hard));
    if soft > hard {
        return Err(Error::Invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    let kind = match u.name.as_str() {
        "core" | "cpu" | "data" | "fsize" | "locks" | "memlock" | "msgqueue" | "nice" | "nofile" | "nproc" | "rss"
        | "rtprio" | "rttime" | "sigpending" | "stack" | "as" => format!("RLIMIT_{}", u.name.to_ascii_uppercase()),
        n => return Err(Error::Invalid(format!("invalid ulimit type: {n}"))),
    };
    Ok((kind, soft, hard))
}

/// A mount destination: absolute, not the root, and not inside `/proc` (runc refuses
/// those: a mount there could hide or replace the kernel's files).
pub fn check_destination(d: &str) -> Result<()> {
    if !d.starts_with('/') {
        return Err(Error::Invalid(format!("invalid mount destination {d:?}: it must be an absolute path")));
    }
    let clean: PathBuf = Path::new(d).components().collect();
    if clean == Path::new("/") {
        return Err(Error::Invalid("invalid mount destination \"/\": the root cannot be a mount".into()));
    }
    if clean == Path::new("/proc") || clean.starts_with("/proc/") {
        return Err(Error::Invalid(format!("invalid mount destination {d:?}: mounts on or inside /proc are refused")));
    }
    Ok(())
}

const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// A `Binds` entry, `SRC:DST[:OPTS]`: an absolute SRC binds a host path (made when
/// missing, as Docker's), a name uses that volume.
fn bind(v: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(Error::Invalid(format!("invalid volume specification: {v:?}"))),
    };
    if src.is_empty() {
        return Err(Error::Invalid(format!("invalid volume specification: {v:?}")));
    }
    check_destination(dst)?;
    let mut rw = true;
    let mut propagation = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            _ if PROPAGATIONS.contains(&o) => propagation = Some(o.to_owned()),
            // SELinux relabelling (no SELinux here) and volume copy-up (kept as Docker's default).
            "z" | "Z" | "nocopy" => {}
            _ => return Err(Error::Invalid(format!("invalid mode {o:?} in volume specification {v:?}"))),
        }
    }
    if src.starts_with('/') {
        let p = Path::new(src);
        if !p.exists() {
            std::fs::create_dir_all(p).map_err(Error::at(format!("create bind mount source {src}")))?;
        }
        return Ok(MountPoint {
            kind: "bind".into(),
            name: None,
            source: src.to_owned(),
            destination: dst.to_owned(),
            rw,
            anonymous: false,
            propagation,
        });
    }
    if propagation.is_some() {
        return Err(Error::Invalid(format!("invalid volume specification {v:?}: propagation is for bind mounts")));
    }
    Ok(MountPoint {
        kind: "volume".into(),
        name: Some(src.to_owned()),
        source: String::new(),
        destination: dst.to_owned(),
        rw,
        anonymous: false,
        propagation: None,
    })
}

enum Placed {
    Point(MountPoint),
    Tmpfs(String, String),
}

/// A `Mounts` entry (`--mount`).
fn mount(m: &Mount) -> Result<Placed> {
    if m.target.is_empty() {
        return Err(Error::Invalid("invalid mount config: the target is required".into()));
    }
    check_destination(&m.target)?;
    let propagation = match m.bind_options.as_ref().map(|b| b.propagation.as_str()).filter(|p| !p.is_empty()) {
        Some(p) if m.kind != "bind" => {
            return Err(Error::Invalid(format!(
                "invalid mount config for {}: bind-propagation {p} is for bind mounts",
                m.target
            )))
        }
        Some(p) if !PROPAGATIONS.contains(&p) => {
            return Err(Error::Invalid(format!("invalid bind-propagation {p:?} for {}", m.target)))
        }
        p => p.map(str::to_owned),
    };
    match m.kind.as_str() {
        "bind" => {
            if !Path::new(&m.source).is_absolute() || !Path::new(&m.source).exists() {
                return Err(Error::Invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
            Ok(Placed::Point(MountPoint {
                kind: "bind".into(),
                name: None,
                source: m.source.clone(),
                destination: m.target.clone(),
                rw: !m.read_only,
                anonymous: false,
                propagation,
            }))
        }
        "volume" | "" => {
            let anonymous = m.source.is_empty();
            Ok(Placed::Point(MountPoint {
                kind: "volume".into(),
                name: Some(if anonymous { crate::new_id()? } else { m.source.clone() }),
                source: String::new(),
                destination: m.target.clone(),
                rw: !m.read_only,
                anonymous,
                propagation: None,
            }))
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(Error::Invalid("invalid mount config for type \"tmpfs\": source must be empty".into()));
            }
            let mut opts = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes > 0 {
                    opts.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    opts.push(format!("mode={:o}", t.mode));
                }
            }
            if m.read_only {
                opts.push("ro".into());
            }
            Ok(Placed::Tmpfs(m.target.clone(), opts.join(",")))
        }
        k => Err(Error::Invalid(format!("invalid mount type {k:?} (bind, volume or tmpfs)"))),
    }
}

/// `--add-host NAME:host-gateway`: the host as the container reaches it (the gateway of
/// its network, the default network's otherwise), resolved at create.
pub const HOST_GATEWAY: &str = "host-gateway";

/// One of Docker's `PortBindings` (`80/tcp`, `{HostIp, HostPort}`) as a request to
/// reserve a host port; checked at create, used by the monitor at each start.
pub fn port_request(key: &str, b: &body::PortBinding) -> Result<hull_network::ports::PortRequest> {
    use hull_network::ports::{PortRequest, Proto};
    let bad = |why: &str| Error::Invalid(format!("invalid port binding {key} -> {}:{}: {why}", b.host_ip, b.host_port));
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let container_port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad("not a port"))?;
    let proto = Proto::parse(proto)?;
    let host_ip = match b.host_ip.as_str() {
        "" | "0.0.0.0" => None,
        ip => Some(ip.parse().map_err(|_| bad("the host address is not an IPv4 address"))?),
    };
    let host_ports = match b.host_port.as_str() {
        "" | "0" => None,
        r => {
            let (a, z) = r.split_once('-').unwrap_or((r, r));
            let a: u16 = a.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad("not a host port"))?;
            let z: u16 = z.parse().ok().filter(|p| *p >= a).ok_or_else(|| bad("not a host port range"))?;
            Some((a, z))
        }
    };
    Ok(PortRequest { proto, container_port, host_ip, host_ports })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_inside_proc_are_refused() {
        for bad in ["/proc", "/proc/sys/kernel", "//proc/./sys", "relative", "/"] {
            assert!(check_destination(bad).is_err(), "{bad}");
        }
        for good in ["/data", "/procfs", "/etc/proc"] {
            check_destination(good).unwrap();
        }
    }

    #[test]
    fn binds() {
        let b = bind("vol:/data:ro").unwrap();
        assert_eq!((b.kind.as_str(), b.name.as_deref(), b.rw), ("volume", Some("vol"), false));
        let b = bind("/tmp:/t:rshared").unwrap();
        assert_eq!((b.kind.as_str(), b.propagation.as_deref()), ("bind", Some("rshared")));
        for bad in ["/data", ":/x", "vol:/x:rshared", "/tmp:/x:bogus", "/tmp:/proc/sys"] {
            assert!(bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_follow_dockers_rules() {
        let r = |f: &dyn Fn(&mut body::Resources)| {
            let mut b = body::Resources::default();
            f(&mut b);
            resources(&b, false)
        };
        assert!(r(&|b| b.memory = 1).is_err());
        assert!(r(&|b| b.nano_cpus = 100_000 * 1_000_000_000).is_err());
        assert!(r(&|b| {
            b.nano_cpus = 500_000_000;
            b.cpu_quota = 1000
        })
        .is_err());
        assert!(r(&|b| {
            b.memory = 64 << 20;
            b.memory_swap = 32 << 20
        })
        .is_err());
        let ok = r(&|b| {
            b.memory = 64 << 20;
            b.pids_limit = Some(-1)
        })
        .unwrap();
        assert_eq!((ok.memory, ok.pids_limit), (Some(64 << 20), None));
        let mut b = body::Resources { pids_limit: Some(0), ..Default::default() };
        assert_eq!(resources(&b, true).unwrap().pids_limit, Some(-1));
        b.pids_limit = Some(9);
        assert_eq!(resources(&b, true).unwrap().pids_limit, Some(9));
    }

    #[test]
    fn restart_policies() {
        let p = |n: &str, m| restart_policy(&body::RestartPolicy { name: n.into(), maximum_retry_count: m });
        assert_eq!(p("", 0).unwrap().name, "no");
        assert_eq!(p("on-failure", 3).unwrap().max_retries, 3);
        assert!(p("always", 3).is_err());
        assert!(p("sometimes", 0).is_err());
    }
}

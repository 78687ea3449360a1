//! Docker's compound flags, parsed as its command line parses them, into hull-engine's
//! Docker-shaped options: `create`/`run`'s flags into a create body (`-e`/`--env-file`,
//! `--label-file`, `--mount`, `--device`, `--ulimit`, `--restart`, `--expose`,
//! `--log-opt`, `--health-*`, per-device limits, `--security-opt seccomp=FILE`), and
//! the limits of `run`/`update`. What Docker's daemon parses (`-v` binds, `--tmpfs`,
//! `--add-host`, namespace modes) is hull-engine's to check.

use crate::cli::{CreateArgs, ResourceArgs};
use hull_engine::create::body::{self, CreateBody, Empty};
use hull_engine::create::CreateOptions;
use hull_engine::error::{Error, Result};
use hull_engine::health::Healthcheck;
use hull_engine::units;
use std::collections::BTreeMap;
use std::io::BufRead;

/// `create`'s and `run`'s flags as a create request.
pub fn create_options(a: &CreateArgs) -> Result<CreateOptions> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let file = std::fs::File::open(f).map_err(Error::at(format!("open env file {}", f.display())))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(Error::at(format!("read env file {}", f.display())))?;
            let t = line.trim_start();
            if !t.is_empty() && !t.starts_with('#') {
                env.push(env_entry(t));
            }
        }
    }
    env.extend(a.env.iter().map(|e| env_entry(e)));
    env.retain(|e| !e.is_empty());
    let mut labels = BTreeMap::new();
    let mut label_lines = Vec::new();
    for f in &a.label_file {
        let text = std::fs::read_to_string(f).map_err(Error::at(format!("read label file {}", f.display())))?;
        label_lines
            .extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned));
    }
    for l in label_lines.iter().chain(&a.label) {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_owned(), v.to_owned());
    }
    let mut annotations = BTreeMap::new();
    for an in &a.annotation {
        let (k, v) = an
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::Invalid(format!("invalid --annotation {an:?}: KEY=VALUE")))?;
        annotations.insert(k.to_owned(), v.to_owned());
    }
    // `-v SRC:DST` binds a path or a named volume; `-v DST` is an anonymous volume.
    let (mut binds, mut volumes) = (Vec::new(), BTreeMap::new());
    for v in &a.volume {
        if v.contains(':') {
            binds.push(v.clone());
        } else {
            volumes.insert(v.clone(), Empty {});
        }
    }
    let mut tmpfs = BTreeMap::new();
    for t in &a.tmpfs {
        let (d, o) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(d.to_owned(), o.to_owned());
    }
    let mut exposed_ports = BTreeMap::new();
    for e in &a.expose {
        for p in exposed(e)? {
            exposed_ports.insert(p, Empty {});
        }
    }
    let mut sysctls = BTreeMap::new();
    for kv in &a.sysctl {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| Error::Invalid(format!("invalid --sysctl {kv:?}: KEY=VALUE expected")))?;
        sysctls.insert(k.to_owned(), v.to_owned());
    }
    let mut log_config = body::LogConfig { kind: a.log_driver.clone(), config: BTreeMap::new() };
    for o in &a.log_opt {
        // Docker's form is one option per flag; `max-size=N,max-file=N` is read too.
        for kv in o.split(',') {
            let (k, v) =
                kv.split_once('=').ok_or_else(|| Error::Invalid(format!("invalid --log-opt {o:?}: KEY=VALUE")))?;
            log_config.config.insert(k.to_owned(), v.to_owned());
        }
    }
    let mut resources = resources(&a.resources)?;
    resources.oom_kill_disable = a.oom_kill_disable.then_some(true);
    resources.blkio_weight_device = a
        .blkio_weight_device
        .iter()
        .map(|w| {
            let (path, weight) = device_pair("blkio-weight-device", w)?;
            let weight =
                weight.parse().map_err(|_| Error::Invalid(format!("invalid --blkio-weight-device {w}: bad weight")))?;
            Ok(body::WeightDevice { path: path.to_owned(), weight })
        })
        .collect::<Result<_>>()?;
    resources.blkio_device_read_bps = throttles("device-read-bps", &a.device_read_bps, true)?;
    resources.blkio_device_write_bps = throttles("device-write-bps", &a.device_write_bps, true)?;
    resources.blkio_device_read_iops = throttles("device-read-iops", &a.device_read_iops, false)?;
    resources.blkio_device_write_iops = throttles("device-write-iops", &a.device_write_iops, false)?;
    resources.memory_swappiness = a.memory_swappiness;
    resources.cpu_realtime_runtime = a.cpu_rt_runtime.unwrap_or(0);
    resources.cpu_realtime_period = a.cpu_rt_period.map_or(0, |p| p as i64);
    resources.kernel_memory = a.kernel_memory.as_deref().map(units::bytes).transpose()?.unwrap_or(0);
    resources.cgroup_parent = a.cgroup_parent.clone().unwrap_or_default();
    resources.device_cgroup_rules = a.device_cgroup_rule.clone();
    resources.devices = a.device.iter().map(|d| device(d)).collect();
    resources.ulimits = a.ulimit.iter().map(|u| ulimit(u)).collect::<Result<_>>()?;
    let mut security_opt = Vec::new();
    for o in &a.security_opt {
        // Docker's command line sends the profile itself, not its path.
        match o.split_once(['=', ':']) {
            Some(("seccomp", f)) if !f.is_empty() && f != "unconfined" => {
                let text = std::fs::read_to_string(f).map_err(Error::at(format!("read seccomp profile {f}")))?;
                security_opt.push(format!("seccomp={text}"));
            }
            _ => security_opt.push(o.clone()),
        }
    }
    // `-p`, as Docker's command line sends it: PortBindings, and the port exposed.
    let mut port_bindings: BTreeMap<String, Vec<body::PortBinding>> = BTreeMap::new();
    for p in &a.publish {
        for r in hull_network::ports::parse_publish(p).map_err(|e| Error::Invalid(e.to_string()))? {
            let key = format!("{}/{}", r.container_port, r.proto.name());
            let host_port = match r.host_ports {
                None => String::new(),
                Some((a, z)) if a == z => a.to_string(),
                Some((a, z)) => format!("{a}-{z}"),
            };
            let host_ip = r.host_ip.map(|i| i.to_string()).unwrap_or_default();
            exposed_ports.insert(key.clone(), Empty {});
            port_bindings.entry(key).or_default().push(body::PortBinding { host_ip, host_port });
        }
    }
    let config = body::Config {
        mac_address: String::new(),
        hostname: a.hostname.clone().unwrap_or_default(),
        domainname: a.domainname.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        attach_stdin: a.interactive,
        attach_stdout: true,
        attach_stderr: true,
        exposed_ports,
        tty: a.tty,
        open_stdin: a.interactive,
        stdin_once: false,
        env,
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        healthcheck: healthcheck(a)?,
        image: a.image.clone(),
        volumes,
        working_dir: a.workdir.clone().unwrap_or_default(),
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        network_disabled: false,
        labels,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout.map(|t| t as i64),
        shell: None,
    };
    let host_config = body::HostConfig {
        binds,
        log_config,
        network_mode: a.network.first().cloned().unwrap_or_else(|| "bridge".into()),
        port_bindings,
        restart_policy: restart(&a.restart)?,
        auto_remove: a.rm,
        volumes_from: a.volumes_from.clone(),
        mounts: a.mount.iter().map(|m| mount(m)).collect::<Result<_>>()?,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        cgroupns_mode: match a.cgroupns {
            None => String::new(),
            Some(crate::cli::CgroupnsMode::Private) => "private".into(),
            Some(crate::cli::CgroupnsMode::Host) => "host".into(),
        },
        dns: a.dns.clone(),
        dns_options: a.dns_option.clone(),
        dns_search: a.dns_search.clone(),
        extra_hosts: a.add_host.clone(),
        group_add: a.group_add.clone(),
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        oom_score_adj: a.oom_score_adj.unwrap_or(0),
        pid_mode: a.pid.clone().unwrap_or_default(),
        privileged: a.privileged,
        publish_all_ports: a.publish_all,
        readonly_rootfs: a.read_only,
        security_opt,
        tmpfs,
        uts_mode: a.uts.clone().unwrap_or_default(),
        userns_mode: a.userns.clone().unwrap_or_default(),
        shm_size: a.shm_size.as_deref().map(units::bytes).transpose()?.unwrap_or(0),
        sysctls,
        init: a.init.then_some(true),
        annotations,
        resources,
    };
    // --ip, --ip6, --mac-address and --network-alias: the endpoint on the container's first
    // network, and one for each further --network, as Docker's command line sends them.
    let mut networking_config = body::NetworkingConfig::default();
    let first = host_config.network_mode.clone();
    if a.ip.is_some() || a.ip6.is_some() || a.mac_address.is_some() || !a.network_alias.is_empty() {
        networking_config.endpoints_config.insert(
            first.clone(),
            body::EndpointConfig {
                ipam_config: (a.ip.is_some() || a.ip6.is_some()).then(|| body::EndpointIpamConfig {
                    ipv4_address: a.ip.clone().unwrap_or_default(),
                    ipv6_address: a.ip6.clone().unwrap_or_default(),
                }),
                mac_address: a.mac_address.clone().unwrap_or_default(),
                aliases: Some(a.network_alias.clone()).filter(|v| !v.is_empty()),
            },
        );
    }
    for n in a.network.iter().skip(1) {
        if *n == first || networking_config.endpoints_config.contains_key(n) {
            return Err(Error::Invalid(format!("network {n} is given twice")));
        }
        networking_config.endpoints_config.insert(n.clone(), body::EndpointConfig::default());
    }
    Ok(CreateOptions { name: a.name.clone(), body: CreateBody { config, host_config, networking_config } })
}

/// The limits of `run`, `create` and `update`, in Docker's units.
pub fn resources(a: &ResourceArgs) -> Result<body::Resources> {
    let size = |s: &Option<String>| s.as_deref().map(units::bytes).transpose().map(Option::unwrap_or_default);
    let nano_cpus = match a.cpus {
        None => 0,
        Some(c) if c > 0.0 && c.is_finite() && c < 1e9 => (c * 1e9) as i64,
        Some(c) => return Err(Error::Invalid(format!("invalid --cpus {c}: must be positive"))),
    };
    Ok(body::Resources {
        memory: size(&a.memory)?,
        memory_swap: match a.memory_swap.as_deref() {
            Some("-1") => -1,
            s => s.map(units::bytes).transpose()?.unwrap_or(0),
        },
        nano_cpus,
        cpu_shares: a.cpu_shares.map_or(0, |s| s as i64),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        pids_limit: a.pids_limit,
        memory_reservation: size(&a.memory_reservation)?,
        cpu_period: a.cpu_period.map_or(0, |p| p as i64),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        blkio_weight: a.blkio_weight.unwrap_or(0),
        ..Default::default()
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn restart(s: &str) -> Result<body::RestartPolicy> {
    let (name, n) = s.split_once(':').map_or((s, None), |(a, b)| (a, Some(b)));
    let maximum_retry_count = match n {
        None => 0,
        Some(n) => {
            n.parse().map_err(|_| Error::Invalid(format!("invalid restart policy: maximum retry count {n:?}")))?
        }
    };
    Ok(body::RestartPolicy { name: name.to_owned(), maximum_retry_count })
}

/// The `--health-*` flags as a check over the image's (None: the image's as it is).
fn healthcheck(a: &CreateArgs) -> Result<Option<Healthcheck>> {
    let duration = |flag: &str, v: &Option<String>| -> Result<u64> {
        v.as_deref()
            .map(|s| {
                units::duration(s)
                    .ok_or_else(|| Error::Invalid(format!("invalid --{flag} {s:?}: a duration such as 30s or 1m30s")))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    };
    if a.no_healthcheck {
        if a.health_cmd.is_some() {
            return Err(Error::Invalid("--no-healthcheck conflicts with --health-* options".into()));
        }
        return Ok(Some(Healthcheck { test: vec!["NONE".into()], ..Default::default() }));
    }
    let h = Healthcheck {
        test: a.health_cmd.iter().flat_map(|c| ["CMD-SHELL".to_string(), c.clone()]).collect(),
        interval: duration("health-interval", &a.health_interval)?,
        timeout: duration("health-timeout", &a.health_timeout)?,
        start_period: duration("health-start-period", &a.health_start_period)?,
        retries: a.health_retries.unwrap_or(0),
    };
    Ok((h != Healthcheck::default()).then_some(h))
}

/// `KEY=VALUE`, or `KEY` taking our own environment's value (dropped when unset).
pub fn env_entry(e: &str) -> String {
    if e.contains('=') {
        e.to_owned()
    } else {
        std::env::var(e).map(|v| format!("{e}={v}")).unwrap_or_default()
    }
}

/// `--expose PORT[/PROTO]` or a range `FIRST-LAST[/PROTO]`, as `PORT/PROTO` each.
pub fn exposed(e: &str) -> Result<Vec<String>> {
    let bad = || Error::Invalid(format!("invalid --expose {e:?}: PORT[/tcp|udp|sctp] or FIRST-LAST"));
    let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
    let (first, last): (u16, u16) = (first.parse().map_err(|_| bad())?, last.parse().map_err(|_| bad())?);
    if first == 0 || last < first {
        return Err(bad());
    }
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

/// `PATH:VALUE` of a per-device flag.
fn device_pair<'a>(flag: &str, v: &'a str) -> Result<(&'a str, &'a str)> {
    v.rsplit_once(':')
        .filter(|(p, v)| !p.is_empty() && !v.is_empty())
        .ok_or_else(|| Error::Invalid(format!("invalid --{flag} {v:?}: PATH:VALUE")))
}

/// `--device-{read,write}-{bps,iops} PATH:RATE` (bps rates take sizes).
fn throttles(flag: &str, list: &[String], in_bytes: bool) -> Result<Vec<body::ThrottleDevice>> {
    list.iter()
        .map(|v| {
            let (path, rate) = device_pair(flag, v)?;
            let rate = if in_bytes {
                units::bytes(rate).ok().and_then(|r| u64::try_from(r).ok())
            } else {
                rate.parse::<u64>().ok()
            }
            .ok_or_else(|| Error::Invalid(format!("invalid --{flag} {v:?}: bad rate")))?;
            Ok(body::ThrottleDevice { path: path.to_owned(), rate })
        })
        .collect()
}

/// `--device HOST[:CONTAINER[:PERMS]]`.
fn device(d: &str) -> body::DeviceMapping {
    let mut parts = d.splitn(3, ':');
    let host = parts.next().unwrap_or_default().to_owned();
    body::DeviceMapping {
        path_in_container: parts.next().map_or_else(|| host.clone(), str::to_owned),
        cgroup_permissions: parts.next().unwrap_or("rwm").to_owned(),
        path_on_host: host,
    }
}

/// `--ulimit name=soft[:hard]` (`-1` or `unlimited` for no limit).
fn ulimit(u: &str) -> Result<body::Ulimit> {
    let bad = || Error::Invalid(format!("invalid ulimit argument: {u:?}"));
    let (name, v) = u.split_once('=').ok_or_else(bad)?;
    let (s, h) = v.split_once(':').unwrap_or((v, v));
    let num = |x: &str| -> Result<i64> {
        if x == "-1" || x == "unlimited" {
            Ok(-1)
        } else {
            x.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok()).ok_or_else(bad)
        }
    };
    Ok(body::Ulimit { name: name.to_owned(), soft: num(s)?, hard: num(h)? })
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`.
fn mount(m: &str) -> Result<body::Mount> {
    let mut out = body::Mount { kind: "volume".into(), ..Default::default() };
    let mut tmpfs = body::TmpfsOptions::default();
    for field in m.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => out.kind = v.to_owned(),
            "source" | "src" => out.source = v.to_owned(),
            "target" | "destination" | "dst" => out.target = v.to_owned(),
            "readonly" | "ro" => out.read_only = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => tmpfs.size_bytes = units::bytes(v)?,
            "tmpfs-mode" => {
                tmpfs.mode = u32::from_str_radix(v, 8)
                    .map_err(|_| Error::Invalid(format!("invalid tmpfs-mode {v:?} in --mount {m:?}: octal")))?
            }
            "bind-propagation" => out.bind_options = Some(body::BindOptions { propagation: v.to_owned() }),
            "consistency" | "volume-nocopy" => {}
            _ => return Err(Error::Invalid(format!("invalid field {k:?} in --mount {m:?}"))),
        }
    }
    if out.target.is_empty() {
        return Err(Error::Invalid(format!("invalid --mount {m:?}: target is required")));
    }
    if tmpfs.size_bytes != 0 || tmpfs.mode != 0 {
        out.tmpfs_options = Some(tmpfs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_args(flags: &[&str]) -> CreateArgs {
        use clap::Parser;
        let mut argv = vec!["hull", "create"];
        argv.extend_from_slice(flags);
        argv.push("img");
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Containers(crate::cli::ContainerVerb::Create(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exposed_ports_and_ranges() {
        assert_eq!(exposed("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(exposed("53/udp").unwrap(), vec!["53/udp"]);
        assert_eq!(exposed("8000-8002").unwrap(), vec!["8000/tcp", "8001/tcp", "8002/tcp"]);
        for bad in ["", "http", "0", "80/icmp", "9-8", "70000"] {
            assert!(exposed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_flags() {
        assert!(healthcheck(&create_args(&[])).unwrap().is_none());
        let h = healthcheck(&create_args(&["--health-cmd", "true", "--health-timeout", "2s"])).unwrap().unwrap();
        assert_eq!((h.test, h.timeout, h.interval), (vec!["CMD-SHELL".to_string(), "true".into()], 2_000_000_000, 0));
        assert_eq!(healthcheck(&create_args(&["--no-healthcheck"])).unwrap().unwrap().test, vec!["NONE".to_string()]);
        assert!(healthcheck(&create_args(&["--health-interval", "5"])).is_err());
        assert!(healthcheck(&create_args(&["--no-healthcheck", "--health-cmd", "x"])).is_err());
    }

    #[test]
    fn flags_parse_as_docker() {
        let u = ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(ulimit("core=-1").unwrap().hard, -1);
        assert!(ulimit("nofile").is_err() && ulimit("nofile=x").is_err());
        let m = mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!((m.kind.as_str(), t.size_bytes, t.mode), ("tmpfs", 1 << 20, 0o1777));
        assert!(mount("type=bind,source=/x").is_err());
        assert_eq!(restart("on-failure:3").unwrap().maximum_retry_count, 3);
        assert!(restart("on-failure:x").is_err());
        let o =
            create_args(&["-v", "/data", "-v", "vol:/srv:ro", "--log-opt", "max-size=1m,max-file=2", "--cpus", "1.5"]);
        let o = create_options(&o).unwrap();
        assert!(o.body.config.volumes.contains_key("/data"));
        assert_eq!(o.body.host_config.binds, vec!["vol:/srv:ro".to_string()]);
        assert_eq!(o.body.host_config.log_config.config.len(), 2);
        assert_eq!(o.body.host_config.resources.nano_cpus, 1_500_000_000);
        let d = device("/dev/null:/dev/x");
        assert_eq!((d.path_in_container.as_str(), d.cgroup_permissions.as_str()), ("/dev/x", "rwm"));
    }
}

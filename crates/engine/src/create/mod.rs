//! Create (Docker's `POST /containers/create`): a container made from an image and a
//! [`body::CreateBody`], everything on disk and no process yet: its name claimed, its
//! root filesystem prepared, volumes made and seeded, `/etc` files and the runtime
//! config written, and last its record, which makes it a container. Undone on any
//! failure. The body is checked whole ([`settings`]) before anything is made.

pub mod body;
pub mod settings;

use crate::error::{Error, Result};
use crate::health::{self, Healthcheck};
use crate::record::{Config, Endpoint, HostConfig, MountPoint, Record};
use crate::runtime_config as rc;
use crate::Engine;
use body::CreateBody;
use hull_image::runconfig::{self, Overrides};
use settings::Settings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A create request: the body and its query parameters.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// None: a generated name.
    pub name: Option<String>,
    pub body: CreateBody,
}

/// Docker's create response.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

impl Engine {
    /// Makes a container. An image that is not in the store is [`Error::Image`] with
    /// `NoSuchImage` (kind NotFound): the caller pulls it and asks again, as Docker's
    /// command line does.
    pub fn create(&self, opts: &CreateOptions) -> Result<Created> {
        let body = &opts.body;
        if let Some(n) = &opts.name {
            if !crate::record::valid_name(n.strip_prefix('/').unwrap_or(n)) {
                return Err(Error::Invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        let mut warnings = Vec::new();
        let mut s = Settings::of(body, &mut warnings)?;
        let h = &body.host_config;
        // --network container:NAME: its namespace, hostname, /etc/hosts and resolv.conf.
        let net_of = match s.network.strip_prefix("container:") {
            Some(other) => {
                let id = self.resolve(other)?;
                s.network = format!("container:{id}");
                Some((self.record(&id)?, self.namespace("net", &s.network, &[])?))
            }
            None => None,
        };
        let sharing = rc::Sharing {
            net: net_of.as_ref().map(|(_, ns)| ns.clone()).unwrap_or_default(),
            ipc: self.namespace("ipc", &h.ipc_mode, &["private", "shareable"])?,
            pid: self.namespace("pid", &h.pid_mode, &["private"])?,
            uts: self.namespace("uts", &h.uts_mode, &["private"])?,
        };
        if matches!(sharing.uts, rc::Ns::Path(_)) {
            return Err(Error::Invalid("--uts: only host is supported".into()));
        }
        if sharing.uts == rc::Ns::Host && !body.config.hostname.is_empty() {
            return Err(Error::Invalid("Conflicting options: hostname and the UTS mode".into()));
        }
        for (k, _) in &s.sysctls {
            rc::check_sysctl(k, &s.network, &sharing.ipc)?;
        }
        let stop_signal = body.config.stop_signal.clone().filter(|s| !s.is_empty());
        if let Some(sig) = &stop_signal {
            hull_container::signal::parse(sig)?;
        }
        let endpoints = self.endpoints(body, &s.network)?;
        // Ports are published on a network of hull's, or by pasta (rootless).
        let publishes = hull_network::is_network(&s.network) || s.network == "pasta";
        let store = &self.images;
        // Held until the record names the image: GC keeps what containers use.
        let _content = store.content_lock(false)?;
        let image_record = store.find(&body.config.image)?;
        let image = store.load(&image_record)?;
        let id = crate::new_id()?;
        let mut undo =
            Undo { engine: self, id: &id, name: String::new(), volumes: Vec::new(), armed: true, lock: None };
        // The directory first, the name second: a name link always leads to a directory
        // that `ps -a` lists and `rm -f` removes, or to a container that is gone (a
        // stale name, which the next claim or prune drops).
        let dir = self.dir(&id);
        std::fs::create_dir_all(&dir).map_err(Error::at(format!("create {}", dir.display())))?;
        // Held until the record is saved: other commands wait for this create, or find
        // the lock free and the container half made if it died (see record::CREATING).
        undo.lock = Some(self.lock(&id)?);
        crate::fault::point("create-dir");
        let name = self.claim_new_name(opts.name.as_deref(), &id)?;
        undo.name = name.clone();
        crate::write_atomic(&dir.join(crate::record::CREATING), name.as_bytes())?;
        crate::fault::point("create-claimed");
        let rootfs = self.prepare_rootfs(&image, &dir.join("rootfs"), &mut warnings)?;
        let c = &body.config;
        let overrides = Overrides {
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            env: s.env.clone(),
            user: Some(c.user.clone()).filter(|u| !u.is_empty()),
            workdir: Some(c.working_dir.clone()).filter(|w| !w.is_empty()),
        };
        let mut run = runconfig::resolve(&image.config, &rootfs.path, &overrides)?;
        for g in &h.group_add {
            let gid = runconfig::resolve_group(&rootfs.path, g)?;
            if !run.additional_gids.contains(&gid) {
                run.additional_gids.push(gid);
            }
        }
        let hostname = if let Some((other, _)) = &net_of {
            other.config.hostname.clone()
        } else if !c.hostname.is_empty() {
            c.hostname.clone()
        } else if s.network == "host" || sharing.uts == rc::Ns::Host {
            nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default()
        } else {
            id[..12].to_string()
        };
        let mounts = self.mounts(&s, &h.volumes_from, &run.volumes, &rootfs.path, &mut undo)?;
        let mut etc = s.etc.clone();
        for (_, addr) in etc.hosts.iter_mut().filter(|(_, a)| a == settings::HOST_GATEWAY) {
            let name = if hull_network::is_network(&s.network) { s.network.as_str() } else { hull_network::DEFAULT };
            *addr = self.networks.get(name)?.gateway.to_string();
        }
        // A user-defined network's resolver answers on its gateway (Docker's 127.0.0.11).
        let resolver = match endpoints.first() {
            Some(e) if e.network != hull_network::DEFAULT => Some(self.networks.get(&e.network)?.gateway),
            _ => None,
        };
        rc::write_etc_files(&dir, &hostname, &s.network, &etc, resolver)?;
        if let Some((other, _)) = &net_of {
            for f in ["hosts", "resolv.conf"] {
                let from = self.dir(&other.id).join(f);
                std::fs::copy(&from, dir.join(f)).map_err(Error::at(format!("copy {}", from.display())))?;
            }
        }
        let init = h.init.unwrap_or(false).then(|| self.exe().to_owned());
        let stop_signal = stop_signal.or(run.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into());
        hull_container::signal::parse(&stop_signal)?;
        let config = rc::build(&rc::Input {
            id: &id,
            rc: &run,
            rootfs: &rootfs.path,
            dir: &dir,
            hostname: &hostname,
            tty: c.tty,
            read_only: h.readonly_rootfs,
            privileged: h.privileged,
            cap_add: &h.cap_add,
            cap_drop: &h.cap_drop,
            seccomp: &s.seccomp,
            no_new_privileges: s.no_new_privileges,
            network: &s.network,
            mounts: &mounts,
            tmpfs: &s.tmpfs,
            devices: &s.devices,
            resources: &s.resources,
            ulimits: &s.ulimits,
            init: init.as_deref(),
            sharing: &sharing,
            shm_size: s.shm_size,
            sysctls: &s.sysctls,
            oom_score_adj: Some(h.oom_score_adj).filter(|a| *a != 0),
            userns: self.userns(),
            cgroup_parent: Some(h.resources.cgroup_parent.as_str()).filter(|p| !p.is_empty()),
            cgroupns: s.cgroupns,
            extra: &s.extra,
        })?;
        crate::write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(&config)?)?;
        let mut labels = run.labels.clone();
        labels.extend(c.labels.clone());
        let image_process = image.config.config().as_ref();
        let mut exposed_ports = run.exposed_ports.clone();
        for p in c.exposed_ports.keys() {
            if !exposed_ports.contains(p) {
                exposed_ports.push(p.clone());
            }
        }
        exposed_ports.sort();
        let rec = Record {
            id: id.clone(),
            name: name.clone(),
            image: c.image.clone(),
            image_id: image_record.id.clone(),
            created: crate::now(),
            path: run.args.first().cloned().unwrap_or_default(),
            args: run.args.iter().skip(1).cloned().collect(),
            config: Config {
                hostname,
                user: c.user.clone(),
                env: run.env.clone(),
                cmd: c.cmd.clone().or(image_process.and_then(|p| p.cmd().clone())),
                entrypoint: c.entrypoint.clone().or(image_process.and_then(|p| p.entrypoint().clone())),
                working_dir: run.cwd.clone(),
                labels,
                tty: c.tty,
                open_stdin: c.open_stdin,
                stop_signal,
                stop_timeout: c.stop_timeout,
                healthcheck: healthcheck(c.healthcheck.as_ref(), &image.config_bytes)?,
                shell: image
                    .docker_config("Shell")
                    .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                    .filter(|s| !s.is_empty()),
                exposed_ports,
            },
            host: HostConfig {
                auto_remove: h.auto_remove,
                restart: s.restart.clone(),
                log_max_size: s.log_max_size,
                log_max_file: s.log_max_file,
                log_driver: s.log_driver.clone(),
                network: s.network.clone(),
                privileged: h.privileged,
                read_only: h.readonly_rootfs,
                init: h.init.unwrap_or(false),
                port_bindings: if publishes { h.port_bindings.clone() } else { Default::default() },
                publish_all: publishes && h.publish_all_ports,
                ip: None,
                mac: None,
                endpoints: Some(endpoints),
                dns: s.etc.dns.iter().filter_map(|d| d.parse().ok()).collect(),
            },
            rootfs: match rootfs.kind {
                hull_image::container_root::Kind::Overlay => "overlay",
                hull_image::container_root::Kind::Copy => "copy",
            }
            .into(),
            mounts,
        };
        crate::fault::point("create-before-record");
        self.save_record(&rec)?;
        let _ = std::fs::remove_file(dir.join(crate::record::CREATING));
        undo.disarm();
        self.container_event(&rec, "create", &[]);
        Ok(Created { id, warnings })
    }

    /// The container's networks checked (its first, `network`, and any more the body's
    /// `NetworkingConfig` names), and what it asks of each: address, MAC (or
    /// `Config.MacAddress` on the first), aliases; as Docker checks them.
    fn endpoints(&self, body: &body::CreateBody, network: &str) -> Result<Vec<Endpoint>> {
        let configs = &body.networking_config.endpoints_config;
        let first = configs.get(network).or_else(|| configs.get(&body.host_config.network_mode));
        if !hull_network::is_network(network) {
            let asks = first.is_some_and(|e| {
                e.ipam_config.as_ref().is_some_and(|c| !c.ipv4_address.is_empty() || !c.ipv6_address.is_empty())
                    || !e.mac_address.is_empty()
                    || e.aliases.as_ref().is_some_and(|a| !a.is_empty())
            });
            if asks || !body.config.mac_address.is_empty() {
                return Err(Error::Invalid(format!(
                    "--ip, --ip6, --mac-address and --network-alias need a network (this container's is {network})"
                )));
            }
            if let Some(other) = configs.keys().find(|k| *k != network && **k != body.host_config.network_mode) {
                return Err(Error::Invalid(format!(
                    "a container on network {network} cannot also join network {other}"
                )));
            }
            return Ok(Vec::new());
        }
        let mut out = vec![self.endpoint(network, first, &body.config.mac_address)?];
        for (name, e) in configs {
            if name == network || *name == body.host_config.network_mode {
                continue;
            }
            if !hull_network::is_network(name) {
                return Err(Error::Invalid(format!("a container on network {network} cannot also join {name}")));
            }
            out.push(self.endpoint(name, Some(e), "")?);
        }
        Ok(out)
    }

    /// What a container asks of network `network` (which must exist): `e`'s address,
    /// MAC (or `mac`) and aliases, checked.
    pub(crate) fn endpoint(&self, network: &str, e: Option<&body::EndpointConfig>, mac: &str) -> Result<Endpoint> {
        let ipam = e.and_then(|e| e.ipam_config.as_ref());
        let ip = ipam.map(|c| c.ipv4_address.as_str()).filter(|a| !a.is_empty());
        let ip6 = ipam.map(|c| c.ipv6_address.as_str()).filter(|a| !a.is_empty());
        let mac = e.map(|e| e.mac_address.as_str()).filter(|m| !m.is_empty()).or(Some(mac).filter(|m| !m.is_empty()));
        let aliases: Vec<String> = e.and_then(|e| e.aliases.clone()).unwrap_or_default();
        let n = self.networks.get(network)?;
        let is_default = n.name == hull_network::DEFAULT;
        if is_default && (ip.is_some() || ip6.is_some()) {
            return Err(Error::Invalid("user specified IP address is supported on user defined networks only".into()));
        }
        if is_default && !aliases.is_empty() {
            return Err(Error::Invalid(
                "network-scoped alias is supported only for containers in user defined networks".into(),
            ));
        }
        let ip = match ip {
            None => None,
            Some(a) => {
                let ip: std::net::Ipv4Addr =
                    a.parse().map_err(|_| Error::Invalid(format!("invalid IPv4 address: {a}")))?;
                if !n.subnet.contains(ip) {
                    return Err(Error::Invalid(format!("no configured subnet contains IP address {ip}")));
                }
                Some(ip)
            }
        };
        let ip6 = match ip6 {
            None => None,
            Some(a) => {
                let ip6: std::net::Ipv6Addr =
                    a.parse().map_err(|_| Error::Invalid(format!("invalid IPv6 address: {a}")))?;
                if !n.subnet6.is_some_and(|s6| s6.contains(ip6)) {
                    return Err(Error::Invalid(format!("no configured subnet contains IP address {ip6}")));
                }
                Some(ip6)
            }
        };
        if let Some(m) = mac {
            hull_network::attach::parse_mac(m)?;
        }
        for a in &aliases {
            if a.is_empty() || a.len() > 253 || a.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!("invalid network alias {a:?}")));
            }
        }
        Ok(Endpoint { network: n.name, aliases, ip, ip6, mac: mac.map(str::to_owned) })
    }

    /// Claims `name` for `id`, or a generated name when None.
    fn claim_new_name(&self, name: Option<&str>, id: &str) -> Result<String> {
        if let Some(n) = name {
            let n = n.strip_prefix('/').unwrap_or(n);
            self.claim_name(n, id)?;
            return Ok(n.to_owned());
        }
        let mut attempt = 0;
        loop {
            let n = crate::record::generated_name(&id.as_bytes()[..2], attempt);
            match self.claim_name(&n, id) {
                Ok(()) => return Ok(n),
                Err(Error::Conflict(_)) if attempt < 1000 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The container's mounts: its own, those of `--volumes-from`, and anonymous
    /// volumes for the image's VOLUMEs nothing else covers; volumes made (new ones
    /// seeded from the image) and their sources filled in.
    fn mounts(
        &self,
        s: &Settings,
        volumes_from: &[String],
        image_volumes: &[String],
        rootfs: &Path,
        undo: &mut Undo,
    ) -> Result<Vec<MountPoint>> {
        let mut mounts = s.mounts.clone();
        // --volumes-from: the other container's mounts at the same places (its volumes
        // stay its own: not removed with this one), read-only with `:ro`.
        for v in volumes_from {
            let (name, rw) = match v.rsplit_once(':') {
                Some((n, "ro")) => (n, Some(false)),
                Some((n, "rw")) => (n, Some(true)),
                _ => (v.as_str(), None),
            };
            let other = self.record(&self.resolve(name)?)?;
            for m in &other.mounts {
                if mounts.iter().any(|x| Path::new(&x.destination) == Path::new(&m.destination)) {
                    continue;
                }
                let mut m = m.clone();
                m.rw = rw.unwrap_or(m.rw);
                m.anonymous = false;
                mounts.push(m);
            }
        }
        for v in image_volumes {
            let covered =
                mounts.iter().any(|m| Path::new(&m.destination) == Path::new(v)) || s.tmpfs.iter().any(|(d, _)| d == v);
            if !covered {
                mounts.push(MountPoint {
                    kind: "volume".into(),
                    name: Some(crate::new_id()?),
                    source: String::new(),
                    destination: v.clone(),
                    rw: true,
                    anonymous: true,
                    propagation: None,
                });
            }
        }
        for m in mounts.iter_mut().filter(|m| m.kind == "volume") {
            let name = m.name.clone().unwrap_or_default();
            let (data, new) = self.volume(&name, m.anonymous, BTreeMap::new())?;
            if new && m.anonymous {
                undo.volumes.push(name);
            }
            // A new volume starts with what the image has at its path, as Docker's.
            if let Some(inside) = new.then(|| image_dir(rootfs, &m.destination)).flatten() {
                hull_image::container_root::apply(&inside, &data, false)?;
            }
            m.source = data.to_string_lossy().into_owned();
        }
        Ok(mounts)
    }

    /// `IpcMode`/`PidMode`/`UTSMode`: `host`, `container:NAME` (its init's namespace;
    /// the container must be running), or one of `own` (its own namespace).
    fn namespace(&self, kind: &str, mode: &str, own: &[&str]) -> Result<rc::Ns> {
        match mode {
            "" => Ok(rc::Ns::Own),
            m if own.contains(&m) => Ok(rc::Ns::Own),
            "host" => Ok(rc::Ns::Host),
            m => match m.strip_prefix("container:") {
                Some(other) => {
                    let id = self.resolve(other)?;
                    let pid = hull_container::container::state(&self.runtime, &id)
                        .ok()
                        .filter(|s| s.status == hull_container::status::Status::Running)
                        .map(|s| s.pid)
                        .ok_or_else(|| Error::NotRunning(format!("--{kind}: container {other} is not running")))?;
                    Ok(rc::Ns::Path(PathBuf::from(format!("/proc/{pid}/ns/{kind}"))))
                }
                None => Err(Error::Invalid(format!("invalid --{kind} {m:?}: host or container:NAME"))),
            },
        }
    }
}

/// The image's HEALTHCHECK with the caller's on top (a non-empty test, non-zero
/// durations and retries win); None when there is no check.
fn healthcheck(asked: Option<&Healthcheck>, image_config: &[u8]) -> Result<Option<Healthcheck>> {
    let mut h: Option<Healthcheck> =
        hull_image::image::docker_config(image_config, "Healthcheck").and_then(|v| serde_json::from_value(v).ok());
    let Some(a) = asked else { return Ok(h) };
    for (what, d) in [("interval", a.interval), ("timeout", a.timeout), ("start period", a.start_period)] {
        if d != 0 && d < health::MIN_DURATION {
            return Err(Error::Invalid(format!("health check {what} cannot be less than 1ms")));
        }
    }
    if a.test.first().is_some_and(|t| t == "NONE") {
        return Ok(Some(Healthcheck { test: vec!["NONE".into()], ..Default::default() }));
    }
    let c = h.get_or_insert_with(Healthcheck::default);
    if !a.test.is_empty() {
        c.test = a.test.clone();
    }
    for (slot, v) in [(&mut c.interval, a.interval), (&mut c.timeout, a.timeout), (&mut c.start_period, a.start_period)]
    {
        if v != 0 {
            *slot = v;
        }
    }
    if a.retries != 0 {
        c.retries = a.retries;
    }
    Ok(h)
}

/// Removes a half-made container.
struct Undo<'a> {
    engine: &'a Engine,
    id: &'a str,
    /// Empty until claimed.
    name: String,
    /// Anonymous volumes made for it.
    volumes: Vec<String>,
    armed: bool,
    /// The container's lock, released after the undo (a field drops after `drop`).
    lock: Option<crate::Locked>,
}

impl Undo<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.armed {
            let dir = self.engine.dir(self.id);
            let _ = self.engine.remove_tree(&dir.join("rootfs"));
            let _ = hull_image::store::remove_tree(&dir);
            if !self.name.is_empty() {
                self.engine.release_name(&self.name, self.id);
            }
            for v in &self.volumes {
                let _ = self.engine.remove_volume(v, true);
            }
        }
    }
}

/// The directory at `dest` in the image's root filesystem, if every component of it is
/// a real directory: a symlink in the image (`/data -> /etc`) must not make the seed
/// of a volume a copy of a host directory.
fn image_dir(root: &Path, dest: &str) -> Option<PathBuf> {
    let mut p = root.to_path_buf();
    for c in Path::new(dest).components() {
        match c {
            std::path::Component::Normal(n) => p.push(n),
            std::path::Component::RootDir | std::path::Component::CurDir => continue,
            _ => return None,
        }
        if !std::fs::symlink_metadata(&p).ok()?.is_dir() {
            return None;
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_healthcheck_under_the_callers() {
        let image = br#"{"config": {"Healthcheck": {"Test": ["CMD", "check"], "Interval": 5000000000, "Retries": 7}}}"#;
        let h = healthcheck(None, image).unwrap().unwrap();
        assert_eq!((h.test.clone(), h.interval, h.retries), (vec!["CMD".into(), "check".into()], 5_000_000_000, 7));
        let asked =
            Healthcheck { test: vec!["CMD-SHELL".into(), "true".into()], timeout: 2_000_000_000, ..Default::default() };
        let h = healthcheck(Some(&asked), image).unwrap().unwrap();
        assert_eq!(h.test, vec!["CMD-SHELL".to_string(), "true".into()]);
        assert_eq!((h.interval, h.timeout, h.retries), (5_000_000_000, 2_000_000_000, 7), "the rest stays the image's");
        let none = Healthcheck { test: vec!["NONE".into()], ..Default::default() };
        assert_eq!(healthcheck(Some(&none), image).unwrap().unwrap().test, vec!["NONE".to_string()]);
        assert!(healthcheck(None, b"{}").unwrap().is_none());
        let tiny = Healthcheck { interval: 5, ..Default::default() };
        assert!(healthcheck(Some(&tiny), b"{}").is_err());
    }
}

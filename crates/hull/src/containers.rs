//! `hull create`, `run`, `start` and `attach`: a container made from an image and the
//! flags (root filesystem, config, record), its monitor spawned, and the command's
//! terminal attached to it through the monitor's attach protocol.

use crate::cli::{AttachArgs, CreateArgs, PullArgs, RunArgs, StartArgs};
use hull_engine::attach::{self, read_frame, write_frame};
use hull_engine::error::{Error, Result};
use hull_engine::health::{self, Healthcheck};
use hull_engine::record::{Config, HostConfig, MountPoint, Record, RestartPolicy, Status};
use hull_engine::runtime_config::{self as spec, Device, Resources, Seccomp};
use hull_engine::Engine;
use hull_image::image::short_id;
use hull_image::runconfig::{self, Overrides};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// `hull create`: prints the new container's id.
pub fn create(engine: &Engine, a: &CreateArgs) -> Result<i32> {
    let id = make(engine, a)?;
    println!("{id}");
    Ok(0)
}

/// `hull run`.
pub fn run(engine: &Engine, a: &RunArgs) -> Result<i32> {
    if a.create.rm && a.create.restart != "no" {
        return Err(Error::Invalid("Conflicting options: --restart and --rm".into()));
    }
    let id = make(engine, &a.create)?;
    let sock = engine.start_attached(&id)?;
    if a.detach {
        println!("{id}");
        return Ok(0);
    }
    let stdin =
        a.create.interactive && (a.attach.is_empty() || a.attach.iter().any(|s| s.eq_ignore_ascii_case("stdin")));
    let session = Session {
        tty: a.create.tty,
        stdin,
        sig_proxy: a.sig_proxy && !a.create.tty,
        detach_keys: detach_keys(a.detach_keys.as_deref())?,
    };
    session.run(engine, &id, sock)
}

/// `hull start`.
pub fn start(engine: &Engine, a: &StartArgs) -> Result<i32> {
    let mut status = 0;
    let mut names = a.containers.clone();
    if a.all {
        // Podman's `start --all`: what podman-restart.service runs at boot (see
        // contrib/systemd) to bring back containers with a restart policy.
        for id in engine.ids()? {
            let Ok(c) = engine.container(&id) else { continue };
            let mut keep = !c.status.is_live();
            for f in &a.filter {
                keep &= crate::ps::matches(&c, f)?;
            }
            if keep {
                names.push(c.record.name.clone());
            }
        }
    }
    for name in &names {
        let r = (|| -> Result<i32> {
            let id = engine.resolve(name)?;
            if !a.attach {
                match engine.start(&id) {
                    Ok(()) | Err(Error::NotModified(_)) => {}
                    Err(e) => return Err(e),
                }
                println!("{name}");
                return Ok(0);
            }
            let sock = match engine.start_attached(&id) {
                Err(Error::NotModified(_)) => engine.attach(&id)?,
                r => r?,
            };
            let c = engine.container(&id)?;
            let session = Session {
                tty: c.record.config.tty,
                stdin: a.interactive && c.record.config.open_stdin,
                sig_proxy: !c.record.config.tty,
                detach_keys: detach_keys(a.detach_keys.as_deref())?,
            };
            session.run(engine, &id, sock)
        })();
        match r {
            Ok(code) => status = code,
            Err(e) => {
                eprintln!("Error: {e}");
                status = e.run_status();
            }
        }
    }
    Ok(status)
}

/// `hull attach`.
pub fn attach(engine: &Engine, a: &AttachArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let c = engine.container(&id)?;
    let sock = engine.attach(&id)?;
    let session = Session {
        tty: c.record.config.tty,
        stdin: !a.no_stdin && c.record.config.open_stdin,
        sig_proxy: a.sig_proxy && !c.record.config.tty,
        detach_keys: detach_keys(a.detach_keys.as_deref())?,
    };
    session.run(engine, &id, sock)
}

/// Docker's `--detach-keys` (`ctrl-p,ctrl-q` by default) as bytes.
fn detach_keys(s: Option<&str>) -> Result<Vec<u8>> {
    let s = s.unwrap_or("ctrl-p,ctrl-q");
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b] if b.is_ascii_alphabetic() => b.to_ascii_lowercase() - b'a' + 1,
                b"@" => 0,
                b"[" => 27,
                b"\\" => 28,
                b"]" => 29,
                b"^" => 30,
                b"_" => 31,
                _ => return Err(Error::Invalid(format!("invalid detach key {k:?}"))),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else if !k.is_empty() {
            return Err(Error::Invalid(format!("invalid detach key {k:?}")));
        }
    }
    Ok(out)
}

/// A command attached to a container: output to our stdout/stderr, our stdin to the
/// container, signals forwarded (without a terminal), window size with one.
struct Session {
    tty: bool,
    stdin: bool,
    sig_proxy: bool,
    detach_keys: Vec<u8>,
}

impl Session {
    fn run(&self, engine: &Engine, id: &str, mut sock: UnixStream) -> Result<i32> {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let mut set = SigSet::empty();
        if self.sig_proxy {
            for s in
                [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2]
            {
                set.add(s);
            }
        }
        if self.tty {
            set.add(Signal::SIGWINCH);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(|e| Error::io("block signals", e.into()))?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(|e| Error::io("signalfd", e.into()))?;
        let _raw = self.tty.then(hull_container::foreground::RawMode::enter);
        if self.tty {
            send_size(&mut sock);
        }
        let mut stdin_open = self.stdin;
        let mut buf = vec![0u8; 32 * 1024];
        let mut matched = 0usize;
        let mut out = std::io::stdout().lock();
        loop {
            let mut fds = [
                libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: a valid array of pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
                continue;
            }
            if fds[2].revents != 0 {
                if let Ok(Some(info)) = sfd.read_signal() {
                    if info.ssi_signo as i32 == libc::SIGWINCH {
                        send_size(&mut sock);
                    } else {
                        let _ = hull_container::container::kill(&engine.runtime, id, info.ssi_signo as i32, false);
                    }
                }
            }
            if fds[1].revents != 0 {
                // SAFETY: read into a valid buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    stdin_open = false;
                    let _ = write_frame(&mut sock, attach::CLOSE_STDIN, b"");
                } else {
                    let data = &buf[..n as usize];
                    if self.tty && !self.detach_keys.is_empty() {
                        // The detach sequence is held back until it is complete or broken.
                        let mut pass = Vec::with_capacity(data.len());
                        for &b in data {
                            if b == self.detach_keys[matched] {
                                matched += 1;
                                if matched == self.detach_keys.len() {
                                    drop(_raw);
                                    eprintln!("\r\nread escape sequence");
                                    return Ok(0);
                                }
                            } else {
                                pass.extend_from_slice(&self.detach_keys[..matched]);
                                matched = 0;
                                pass.push(b);
                            }
                        }
                        if !pass.is_empty() && write_frame(&mut sock, attach::STDIN, &pass).is_err() {
                            stdin_open = false;
                        }
                    } else if write_frame(&mut sock, attach::STDIN, data).is_err() {
                        stdin_open = false;
                    }
                }
            }
            if fds[0].revents != 0 {
                match read_frame(&mut sock) {
                    Ok(Some((attach::STDOUT, data))) => {
                        let _ = out.write_all(&data);
                        let _ = out.flush();
                    }
                    Ok(Some((attach::STDERR, data))) => {
                        let _ = std::io::stderr().write_all(&data);
                    }
                    Ok(Some((attach::EXIT, code))) => {
                        // To the end: the monitor closes its side by exiting (or at once
                        // when it restarts the container).
                        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                        let _ = std::io::copy(&mut sock, &mut std::io::sink());
                        return Ok(String::from_utf8_lossy(&code).trim().parse().unwrap_or(125));
                    }
                    Ok(Some((attach::ERROR, p))) => {
                        let (status, msg) = attach::parse_start_error(&p);
                        return Err(Error::start_failure(status, msg));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        // The monitor went away without a status: report what is on disk.
                        return match engine.container(id) {
                            Ok(c) => match c.status {
                                Status::Exited(code) => Ok(code),
                                _ => Err(Error::Conflict(format!("the monitor of container {} is gone", short_id(id)))),
                            },
                            Err(_) => Ok(137),
                        };
                    }
                }
            }
        }
    }
}

fn send_size(sock: &mut UnixStream) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0 {
        let mut p = ws.ws_row.to_le_bytes().to_vec();
        p.extend_from_slice(&ws.ws_col.to_le_bytes());
        let _ = write_frame(sock, attach::RESIZE, &p);
    }
}

/// Makes a container: everything on disk, no process yet. Undone on any failure.
fn make(engine: &Engine, a: &CreateArgs) -> Result<String> {
    if let Some(p) = a.cidfile.as_deref().filter(|p| p.exists()) {
        return Err(Error::Invalid(format!(
            "Container ID file found, make sure the other container isn't running or delete {}",
            p.display()
        )));
    }
    let store = &engine.images;
    let record = match a.pull.as_str() {
        "always" => None,
        "missing" | "never" => match store.find(&a.image) {
            Ok(r) => Some(r),
            Err(_) if a.pull == "never" => {
                return Err(Error::Invalid(format!("No such image: {}", a.image)));
            }
            Err(_) => None,
        },
        p => return Err(Error::Invalid(format!("invalid pull option: {p:?} (missing, always or never)"))),
    };
    let record = match record {
        Some(r) => r,
        None => {
            if a.pull != "always" && !a.quiet {
                eprintln!("Unable to find image '{}' locally", a.image);
            }
            let pa = PullArgs { quiet: true, platform: a.platform.clone(), tls_verify: true, name: a.image.clone() };
            crate::registry::pull_quietly(store, &pa)?;
            store.find(&a.image)?
        }
    };
    let opts = Options::parse(a)?;
    let sharing = spec::Sharing {
        ipc: namespace(engine, "ipc", a.ipc.as_deref(), &["private", "shareable"])?,
        pid: namespace(engine, "pid", a.pid.as_deref(), &["private"])?,
        uts: namespace(engine, "uts", a.uts.as_deref(), &["private"])?,
    };
    if matches!(sharing.uts, spec::Ns::Path(_)) {
        return Err(Error::Invalid("--uts: only host is supported".into()));
    }
    if sharing.uts == spec::Ns::Host && a.hostname.is_some() {
        return Err(Error::Invalid("Conflicting options: hostname and the UTS mode".into()));
    }
    for (k, _) in &opts.sysctls {
        spec::check_sysctl(k, &opts.network, &sharing.ipc)?;
    }
    // Held until the record names the image: GC keeps what containers use.
    let _content = store.content_lock(false)?;
    let image = store.load(&record)?;
    let id = hull_engine::new_id()?;
    let name = match &a.name {
        Some(n) => {
            engine.claim_name(n, &id)?;
            n.clone()
        }
        None => {
            let mut attempt = 0;
            loop {
                let n = hull_engine::record::generated_name(&id.as_bytes()[..2], attempt);
                match engine.claim_name(&n, &id) {
                    Ok(()) => break n,
                    Err(Error::Conflict(_)) if attempt < 1000 => attempt += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    };
    let dir = engine.dir(&id);
    let mut undo = Undo { engine, id: &id, name: &name, volumes: Vec::new(), armed: true };
    std::fs::create_dir_all(&dir).map_err(Error::at(format!("create {}", dir.display())))?;
    std::fs::write(dir.join("lock"), b"").map_err(Error::at(format!("create {}/lock", dir.display())))?;
    let rootfs = engine.prepare_rootfs(&image, &dir.join("rootfs"))?;
    let overrides = Overrides {
        entrypoint: a.entrypoint.as_ref().map(|e| if e.is_empty() { vec![String::new()] } else { vec![e.clone()] }),
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        env: opts.env.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
    };
    let mut rc = runconfig::resolve(&image.config, &rootfs.path, &overrides)?;
    for g in &a.group_add {
        let gid = runconfig::resolve_group(&rootfs.path, g)?;
        if !rc.additional_gids.contains(&gid) {
            rc.additional_gids.push(gid);
        }
    }
    let hostname = a.hostname.clone().unwrap_or_else(|| {
        if opts.network == "host" || sharing.uts == spec::Ns::Host {
            nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default()
        } else {
            id[..12].to_string()
        }
    });
    let mut mounts = opts.mounts.clone();
    // --volumes-from: the other container's mounts at the same places (its volumes stay
    // its own: not removed with this one), read-only with `:ro`.
    for v in &a.volumes_from {
        let (name, rw) = match v.rsplit_once(':') {
            Some((n, "ro")) => (n, Some(false)),
            Some((n, "rw")) => (n, Some(true)),
            _ => (v.as_str(), None),
        };
        let other = engine.record(&engine.resolve(name)?)?;
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
    // The image's VOLUMEs not covered by the user's mounts get anonymous volumes.
    for v in &rc.volumes {
        if !mounts.iter().any(|m| Path::new(&m.destination) == Path::new(v)) && !opts.tmpfs.iter().any(|(d, _)| d == v)
        {
            mounts.push(MountPoint {
                kind: "volume".into(),
                name: Some(hull_engine::new_id()?),
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
        let (data, new) = engine.volume(&name, m.anonymous, BTreeMap::new())?;
        if new && m.anonymous {
            undo.volumes.push(name);
        }
        // A new volume starts with what the image has at its path, as Docker's.
        if let Some(inside) = new.then(|| image_dir(&rootfs.path, &m.destination)).flatten() {
            hull_image::rootfs::apply(&inside, &data, false)?;
        }
        m.source = data.to_string_lossy().into_owned();
    }
    spec::write_etc_files(&dir, &hostname, &opts.network, &opts.etc)?;
    let init = if a.init { Some(std::env::current_exe().map_err(Error::at("find hull's own binary"))?) } else { None };
    let stop_signal = a.stop_signal.clone().or(rc.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into());
    hull_container::signal::parse(&stop_signal)?;
    let config = spec::build(&spec::Input {
        id: &id,
        rc: &rc,
        rootfs: &rootfs.path,
        dir: &dir,
        hostname: &hostname,
        tty: a.tty,
        read_only: a.read_only,
        privileged: a.privileged,
        cap_add: &a.cap_add,
        cap_drop: &a.cap_drop,
        seccomp: &opts.seccomp,
        no_new_privileges: opts.no_new_privileges,
        network: &opts.network,
        mounts: &mounts,
        tmpfs: &opts.tmpfs,
        devices: &opts.devices,
        resources: &opts.resources,
        ulimits: &opts.ulimits,
        init: init.as_deref(),
        sharing: &sharing,
        shm_size: opts.shm_size,
        sysctls: &opts.sysctls,
        oom_score_adj: a.oom_score_adj,
        userns: engine.userns(),
        cgroup_parent: a.cgroup_parent.as_deref(),
        cgroupns: opts.cgroupns,
        extra: &opts.extra,
    })?;
    hull_engine::write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(&config)?)?;
    let mut labels = rc.labels.clone();
    labels.extend(opts.labels.clone());
    let rec = Record {
        id: id.clone(),
        name: name.clone(),
        image: a.image.clone(),
        image_id: record.id.clone(),
        created: hull_engine::now(),
        path: rc.args.first().cloned().unwrap_or_default(),
        args: rc.args.iter().skip(1).cloned().collect(),
        config: Config {
            hostname,
            user: a.user.clone().unwrap_or_default(),
            env: rc.env.clone(),
            cmd: (!a.command.is_empty()).then(|| a.command.clone()).or(image
                .config
                .config()
                .as_ref()
                .and_then(|c| c.cmd().clone())),
            entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]).or(image
                .config
                .config()
                .as_ref()
                .and_then(|c| c.entrypoint().clone())),
            working_dir: rc.cwd.clone(),
            labels,
            tty: a.tty,
            open_stdin: a.interactive,
            stop_signal,
            stop_timeout: a.stop_timeout,
            healthcheck: healthcheck(a, &image.config_bytes)?,
            shell: docker_config(&image.config_bytes, "Shell")
                .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .filter(|s| !s.is_empty()),
            exposed_ports: {
                let mut p = rc.exposed_ports.clone();
                for e in &opts.expose {
                    if !p.contains(e) {
                        p.push(e.clone());
                    }
                }
                p.sort();
                p
            },
        },
        host: HostConfig {
            auto_remove: a.rm,
            restart: RestartPolicy::parse(&a.restart)?,
            log_max_size: opts.log_max_size,
            log_max_file: opts.log_max_file,
            log_driver: a.log_driver.clone(),
            network: opts.network.clone(),
            privileged: a.privileged,
            read_only: a.read_only,
            init: a.init,
        },
        rootfs: match rootfs.kind {
            hull_image::rootfs::Kind::Overlay => "overlay",
            hull_image::rootfs::Kind::Copy => "copy",
        }
        .into(),
        mounts,
    };
    engine.save_record(&rec)?;
    if let Some(p) = &a.cidfile {
        std::fs::write(p, &id).map_err(Error::at(format!("write the container ID file {}", p.display())))?;
    }
    undo.disarm();
    Ok(id)
}

/// `--ipc`/`--pid`/`--uts`: `host`, `container:NAME` (its init's namespace; the
/// container must be running), or one of `own` (its own namespace).
fn namespace(engine: &Engine, kind: &str, mode: Option<&str>, own: &[&str]) -> Result<spec::Ns> {
    match mode {
        None | Some("") => Ok(spec::Ns::Own),
        Some(m) if own.contains(&m) => Ok(spec::Ns::Own),
        Some("host") => Ok(spec::Ns::Host),
        Some(m) => match m.strip_prefix("container:") {
            Some(other) => {
                let id = engine.resolve(other)?;
                let pid = hull_container::container::state(&engine.runtime, &id)
                    .ok()
                    .filter(|s| s.status == hull_container::status::Status::Running)
                    .map(|s| s.pid)
                    .ok_or_else(|| Error::Conflict(format!("--{kind}: container {other} is not running")))?;
                Ok(spec::Ns::Path(PathBuf::from(format!("/proc/{pid}/ns/{kind}"))))
            }
            None => Err(Error::Invalid(format!("invalid --{kind} {m:?}: host or container:NAME"))),
        },
    }
}

/// Removes a half-made container.
struct Undo<'a> {
    engine: &'a Engine,
    id: &'a str,
    name: &'a str,
    /// Anonymous volumes made for it.
    volumes: Vec<String>,
    armed: bool,
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
            self.engine.release_name(self.name, self.id);
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

/// The flags, checked and converted before anything is made.
struct Options {
    env: Vec<String>,
    labels: BTreeMap<String, String>,
    mounts: Vec<MountPoint>,
    tmpfs: Vec<(String, String)>,
    devices: Vec<Device>,
    resources: Resources,
    ulimits: Vec<(String, u64, u64)>,
    seccomp: Seccomp,
    no_new_privileges: bool,
    network: String,
    log_max_size: Option<u64>,
    log_max_file: u32,
    etc: spec::EtcOptions,
    shm_size: Option<i64>,
    sysctls: Vec<(String, String)>,
    cgroupns: Option<bool>,
    extra: spec::Extra,
    /// `--expose`, as `PORT/PROTO` each.
    expose: Vec<String>,
}

/// The limits of `run`, `create` and `update` (Docker's units converted, its
/// conflicts refused).
pub(crate) fn resources(a: &crate::cli::ResourceArgs) -> Result<Resources> {
    let r = Resources {
        memory: a.memory.as_deref().map(bytes).transpose()?,
        memory_swap: a.memory_swap.as_deref().map(|s| if s == "-1" { Ok(-1) } else { bytes(s) }).transpose()?,
        nano_cpus: a
            .cpus
            .map(|c| {
                if c <= 0.0 || !c.is_finite() {
                    Err(Error::Invalid(format!("invalid --cpus {c}: must be positive")))
                } else {
                    Ok((c * 1e9) as u64)
                }
            })
            .transpose()?,
        cpu_shares: a.cpu_shares,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids_limit: a.pids_limit.filter(|p| *p > 0),
        memory_reservation: a.memory_reservation.as_deref().map(bytes).transpose()?,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota.filter(|q| *q != 0),
        cpuset_mems: a.cpuset_mems.clone(),
        blkio_weight: a.blkio_weight,
        ..Default::default()
    };
    if a.cpus.is_some() && (a.cpu_period.is_some() || a.cpu_quota.is_some()) {
        return Err(Error::Invalid("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set".into()));
    }
    if let (Some(m), Some(s)) = (r.memory, r.memory_swap) {
        if s != -1 && s < m {
            return Err(Error::Invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ));
        }
    }
    Ok(r)
}

/// A key of an image config's `config` section that Docker has and the OCI types
/// leave out (`Healthcheck`, `Shell`), from the config's raw bytes.
pub(crate) fn docker_config(image_config: &[u8], key: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(image_config).ok()?;
    v.get("config")?.get(key).cloned()
}

/// The image's HEALTHCHECK (Docker's `config.Healthcheck`, which the OCI types leave
/// out) with the `--health-*` flags on top; None when there is no check.
fn healthcheck(a: &CreateArgs, image_config: &[u8]) -> Result<Option<Healthcheck>> {
    let duration = |flag: &str, v: &Option<String>| -> Result<Option<u64>> {
        v.as_deref()
            .map(|s| match health::parse_duration(s) {
                None => Err(Error::Invalid(format!("invalid --{flag} {s:?}: a duration such as 30s or 1m30s"))),
                Some(d) if d != 0 && d < health::MIN_DURATION => {
                    Err(Error::Invalid(format!("--{flag} cannot be less than 1ms (got {s})")))
                }
                Some(d) => Ok(d),
            })
            .transpose()
    };
    let mut h: Option<Healthcheck> =
        docker_config(image_config, "Healthcheck").and_then(|v| serde_json::from_value(v).ok());
    if a.no_healthcheck {
        if a.health_cmd.is_some() {
            return Err(Error::Invalid("--no-healthcheck conflicts with --health-* options".into()));
        }
        return Ok(Some(Healthcheck { test: vec!["NONE".into()], ..Default::default() }));
    }
    let flags = [
        duration("health-interval", &a.health_interval)?,
        duration("health-timeout", &a.health_timeout)?,
        duration("health-start-period", &a.health_start_period)?,
    ];
    if a.health_cmd.is_none() && flags.iter().all(Option::is_none) && a.health_retries.is_none() {
        return Ok(h);
    }
    let c = h.get_or_insert_with(Healthcheck::default);
    if let Some(cmd) = &a.health_cmd {
        c.test = vec!["CMD-SHELL".into(), cmd.clone()];
    }
    for (slot, v) in [&mut c.interval, &mut c.timeout, &mut c.start_period].into_iter().zip(flags) {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if let Some(r) = a.health_retries {
        c.retries = r;
    }
    Ok(h)
}

/// `--expose PORT[/PROTO]` or a range `FIRST-LAST[/PROTO]`, as `PORT/PROTO` each.
fn exposed(e: &str) -> Result<Vec<String>> {
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

/// `--device-{read,write}-{bps,iops}`.
fn throttles(a: &CreateArgs) -> Result<Vec<spec::Throttle>> {
    let mut out = Vec::new();
    for (flag, field, list, in_bytes) in [
        ("device-read-bps", "throttleReadBpsDevice", &a.device_read_bps, true),
        ("device-write-bps", "throttleWriteBpsDevice", &a.device_write_bps, true),
        ("device-read-iops", "throttleReadIOPSDevice", &a.device_read_iops, false),
        ("device-write-iops", "throttleWriteIOPSDevice", &a.device_write_iops, false),
    ] {
        for v in list {
            let (path, rate) = device_pair(flag, v)?;
            let rate =
                if in_bytes { bytes(rate).ok().and_then(|r| u64::try_from(r).ok()) } else { rate.parse::<u64>().ok() }
                    .ok_or_else(|| Error::Invalid(format!("invalid --{flag} {v:?}: bad rate")))?;
            let (major, minor) = spec::block_device(flag, path)?;
            out.push(spec::Throttle { field, major, minor, rate });
        }
    }
    Ok(out)
}

impl Options {
    fn parse(a: &CreateArgs) -> Result<Options> {
        let mut env = Vec::new();
        for f in &a.env_file {
            let file = std::fs::File::open(f).map_err(Error::at(format!("open env file {}", f.display())))?;
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(Error::at(format!("read env file {}", f.display())))?;
                let t = line.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                env.push(env_entry(t));
            }
        }
        env.extend(a.env.iter().map(|e| env_entry(e)));
        env.retain(|e| !e.is_empty());
        let mut labels = BTreeMap::new();
        let mut label_lines = Vec::new();
        for f in &a.label_file {
            let text = std::fs::read_to_string(f).map_err(Error::at(format!("read label file {}", f.display())))?;
            label_lines.extend(
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned),
            );
        }
        for l in label_lines.iter().chain(&a.label) {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_owned(), v.to_owned());
        }
        let mut extra = spec::Extra { domainname: a.domainname.clone(), ..Default::default() };
        for an in &a.annotation {
            let (k, v) = an
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| Error::Invalid(format!("invalid --annotation {an:?}: KEY=VALUE")))?;
            extra.annotations.push((k.to_owned(), v.to_owned()));
        }
        for r in &a.device_cgroup_rule {
            extra.device_rules.push(spec::device_rule(r)?);
        }
        let mut mounts = Vec::new();
        for v in &a.volume {
            mounts.push(volume_flag(v)?);
        }
        let mut tmpfs = Vec::new();
        for t in &a.tmpfs {
            let (d, o) = t.split_once(':').unwrap_or((t, ""));
            check_destination(d)?;
            tmpfs.push((d.to_owned(), o.to_owned()));
        }
        for m in &a.mount {
            match mount_flag(m)? {
                Mount::Point(p) => mounts.push(p),
                Mount::Tmpfs(d, o) => tmpfs.push((d, o)),
            }
        }
        let mut devices = Vec::new();
        for d in &a.device {
            let mut parts = d.splitn(3, ':');
            let host = PathBuf::from(parts.next().unwrap_or_default());
            let container = parts.next().map(PathBuf::from).unwrap_or_else(|| host.clone());
            let perms = parts.next().unwrap_or("rwm").to_owned();
            devices.push(Device { host, container, perms });
        }
        let mut resources = resources(&a.resources)?;
        resources.oom_kill_disable = a.oom_kill_disable;
        resources.blkio_weight_devices = a
            .blkio_weight_device
            .iter()
            .map(|w| {
                let (path, weight) = device_pair("blkio-weight-device", w)?;
                let weight = weight
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid --blkio-weight-device {w}: bad weight")))?;
                let (major, minor) = spec::block_device("blkio-weight-device", path)?;
                Ok(spec::DeviceWeight { major, minor, weight })
            })
            .collect::<Result<_>>()?;
        resources.throttles = throttles(a)?;
        resources.memory_swappiness = match a.memory_swappiness {
            None | Some(-1) => None,
            Some(v @ 0..=100) => Some(v as u64),
            Some(v) => {
                return Err(Error::Invalid(format!(
                    "invalid --memory-swappiness {v}: a value between 0 and 100 (or -1 for the default)"
                )))
            }
        };
        resources.cpu_rt_runtime = a.cpu_rt_runtime;
        resources.cpu_rt_period = a.cpu_rt_period;
        if a.kernel_memory.is_some() {
            eprintln!("WARNING: Specifying a kernel memory limit is deprecated and has no effect");
        }
        let cgroupns = match a.cgroupns.as_deref() {
            None => None,
            Some("private") => Some(true),
            Some("host") => Some(false),
            Some(o) => return Err(Error::Invalid(format!("invalid --cgroupns {o:?}: private or host"))),
        };
        let mut ulimits = Vec::new();
        for u in &a.ulimit {
            ulimits.push(ulimit(u)?);
        }
        let mut seccomp = Seccomp::Default;
        let mut no_new_privileges = false;
        for o in &a.security_opt {
            let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
            match (k, v) {
                ("seccomp", "unconfined") => seccomp = Seccomp::Unconfined,
                ("seccomp", "") => return Err(Error::Invalid("--security-opt seccomp needs a profile".into())),
                ("seccomp", f) => seccomp = Seccomp::File(PathBuf::from(f)),
                ("no-new-privileges", "" | "true") => no_new_privileges = true,
                ("no-new-privileges", "false") => no_new_privileges = false,
                ("systempaths", "unconfined") => extra.systempaths_unconfined = true,
                ("label" | "apparmor", _) => {}
                _ => return Err(Error::Invalid(format!("invalid --security-opt: {o:?}"))),
            }
        }
        let network = match a.network.as_str() {
            "private" | "default" | "bridge" => "private",
            "none" => "none",
            "host" => "host",
            n => return Err(Error::Invalid(format!("network {n} not found (hull has none, host and the default)"))),
        }
        .to_owned();
        match a.log_driver.as_str() {
            "json-file" | "none" => {}
            d => return Err(Error::Invalid(format!("logging driver {d:?} is not supported (json-file or none)"))),
        }
        if a.log_driver == "none" && !a.log_opt.is_empty() {
            return Err(Error::Invalid("the none logging driver takes no --log-opt".into()));
        }
        if !a.publish.is_empty() || a.publish_all {
            if network == "host" {
                eprintln!("WARNING: Published ports are discarded when using host network mode");
            } else {
                return Err(Error::Invalid(
                    "publishing ports (-p, -P) needs a bridge network, which hull does not have yet; \
                     --network host shares the host's ports"
                        .into(),
                ));
            }
        }
        let expose = a.expose.iter().map(|e| exposed(e)).collect::<Result<Vec<_>>>()?.concat();
        let mut log_max_size = None;
        let mut log_max_file = 1;
        for o in &a.log_opt {
            match o.split_once('=') {
                Some(("max-size", v)) => log_max_size = Some(bytes(v)? as u64),
                Some(("max-file", v)) => {
                    log_max_file = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| Error::Invalid(format!("invalid max-file {v:?}")))?
                }
                _ => return Err(Error::Invalid(format!("unknown log opt {o:?} for json-file log driver"))),
            }
        }
        let mut etc = spec::EtcOptions {
            dns: a.dns.clone(),
            dns_search: a.dns_search.clone(),
            dns_options: a.dns_option.clone(),
            ..Default::default()
        };
        for h in &a.add_host {
            match h.split_once([':', '=']) {
                Some((host, addr)) if !host.is_empty() && addr.parse::<std::net::IpAddr>().is_ok() => {
                    etc.hosts.push((host.to_owned(), addr.to_owned()))
                }
                _ => return Err(Error::Invalid(format!("invalid --add-host {h:?}: HOST:IP expected"))),
            }
        }
        for d in &a.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Invalid(format!("invalid --dns {d:?}: an IP address expected")));
            }
        }
        let mut sysctls = Vec::new();
        for kv in &a.sysctl {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("invalid --sysctl {kv:?}: KEY=VALUE expected")))?;
            sysctls.push((k.to_owned(), v.to_owned()));
        }
        if let Some(u) = a.userns.as_deref().filter(|u| !u.is_empty() && *u != "host") {
            return Err(Error::Invalid(format!(
                "--userns {u}: only host is supported (rootful containers share the host's user namespace)"
            )));
        }
        Ok(Options {
            etc,
            shm_size: a.shm_size.as_deref().map(bytes).transpose()?,
            sysctls,
            env,
            labels,
            mounts,
            tmpfs,
            devices,
            resources,
            ulimits,
            seccomp,
            no_new_privileges,
            network,
            log_max_size,
            log_max_file,
            cgroupns,
            expose,
            extra,
        })
    }
}

/// `KEY=VALUE`, or `KEY` taking our own environment's value (dropped when unset).
pub(crate) fn env_entry(e: &str) -> String {
    if e.contains('=') {
        e.to_owned()
    } else {
        std::env::var(e).map(|v| format!("{e}={v}")).unwrap_or_default()
    }
}

fn check_destination(d: &str) -> Result<()> {
    if !d.starts_with('/') {
        return Err(Error::Invalid(format!("invalid mount destination {d:?}: it must be an absolute path")));
    }
    if d == "/" {
        return Err(Error::Invalid("invalid mount destination \"/\": the root cannot be a mount".into()));
    }
    Ok(())
}

/// `-v SRC:DST[:OPTS]` (an absolute SRC binds a host path, a name uses a volume) or
/// `-v DST` (an anonymous volume).
fn volume_flag(v: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(Error::Invalid(format!("invalid volume specification: {v:?}"))),
    };
    check_destination(dst)?;
    let mut rw = true;
    let mut propagation = None;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => propagation = Some(o.to_owned()),
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
    let anonymous = src.is_empty();
    let name = if anonymous { hull_engine::new_id()? } else { src.to_owned() };
    Ok(MountPoint {
        kind: "volume".into(),
        name: Some(name),
        source: String::new(),
        destination: dst.to_owned(),
        rw,
        anonymous,
        propagation: None,
    })
}

enum Mount {
    Point(MountPoint),
    Tmpfs(String, String),
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`.
fn mount_flag(m: &str) -> Result<Mount> {
    let mut kind = "volume".to_string();
    let (mut src, mut dst, mut rw, mut opts) = (String::new(), String::new(), true, Vec::new());
    let mut propagation = None;
    for field in m.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = v.to_owned(),
            "source" | "src" => src = v.to_owned(),
            "target" | "destination" | "dst" => dst = v.to_owned(),
            "readonly" | "ro" => rw = !(v.is_empty() || v == "true" || v == "1"),
            "tmpfs-size" => opts.push(format!("size={v}")),
            "tmpfs-mode" => opts.push(format!("mode={v}")),
            "bind-propagation" => match v {
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => propagation = Some(v.to_owned()),
                _ => return Err(Error::Invalid(format!("invalid bind-propagation {v:?} in --mount {m:?}"))),
            },
            "consistency" | "volume-nocopy" => {}
            _ => return Err(Error::Invalid(format!("invalid field {k:?} in --mount {m:?}"))),
        }
    }
    if dst.is_empty() {
        return Err(Error::Invalid(format!("invalid --mount {m:?}: target is required")));
    }
    check_destination(&dst)?;
    match kind.as_str() {
        "bind" => {
            if !Path::new(&src).is_absolute() || !Path::new(&src).exists() {
                return Err(Error::Invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {src}"
                )));
            }
            Ok(Mount::Point(MountPoint {
                kind: kind.clone(),
                name: None,
                source: src,
                destination: dst,
                rw,
                anonymous: false,
                propagation,
            }))
        }
        "volume" => {
            let anonymous = src.is_empty();
            let name = if anonymous { hull_engine::new_id()? } else { src };
            if propagation.is_some() {
                return Err(Error::Invalid(format!("invalid --mount {m:?}: bind-propagation is for bind mounts")));
            }
            Ok(Mount::Point(MountPoint {
                kind,
                name: Some(name),
                source: String::new(),
                destination: dst,
                rw,
                anonymous,
                propagation: None,
            }))
        }
        "tmpfs" => {
            if !src.is_empty() {
                return Err(Error::Invalid("invalid mount config for type \"tmpfs\": source must be empty".into()));
            }
            Ok(Mount::Tmpfs(dst, opts.join(",")))
        }
        k => Err(Error::Invalid(format!("invalid mount type {k:?} (bind, volume or tmpfs)"))),
    }
}

/// Docker's sizes: a number with an optional b, k, m, g (powers of 1024).
pub fn bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty() && r.ends_with(['k', 'm', 'g', 't'])).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| Error::Invalid(format!("invalid size: {s:?}")))?;
    if n < 0.0 || !n.is_finite() {
        return Err(Error::Invalid(format!("invalid size: {s:?}")));
    }
    Ok((n * mult as f64) as i64)
}

/// `--ulimit name=soft[:hard]`.
fn ulimit(u: &str) -> Result<(String, u64, u64)> {
    let bad = || Error::Invalid(format!("invalid ulimit argument: {u:?}"));
    let (name, v) = u.split_once('=').ok_or_else(bad)?;
    let (s, h) = v.split_once(':').unwrap_or((v, v));
    let num = |x: &str| -> Result<u64> {
        if x == "-1" || x == "unlimited" {
            Ok(u64::MAX)
        } else {
            x.parse().map_err(|_| bad())
        }
    };
    let (soft, hard) = (num(s)?, num(h)?);
    if soft > hard {
        return Err(Error::Invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    let kind = match name {
        "core" | "cpu" | "data" | "fsize" | "locks" | "memlock" | "msgqueue" | "nice" | "nofile" | "nproc" | "rss"
        | "rtprio" | "rttime" | "sigpending" | "stack" | "as" => format!("RLIMIT_{}", name.to_ascii_uppercase()),
        _ => return Err(Error::Invalid(format!("invalid ulimit type: {name}"))),
    };
    Ok((kind, soft, hard))
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
    fn the_image_healthcheck_under_the_flags() {
        let image = br#"{"config": {"Healthcheck": {"Test": ["CMD", "check"], "Interval": 5000000000, "Retries": 7}}}"#;
        let h = healthcheck(&create_args(&[]), image).unwrap().unwrap();
        assert_eq!((h.test.clone(), h.interval, h.retries), (vec!["CMD".into(), "check".into()], 5_000_000_000, 7));
        let h = healthcheck(&create_args(&["--health-cmd", "true", "--health-timeout", "2s"]), image).unwrap().unwrap();
        assert_eq!(h.test, vec!["CMD-SHELL".to_string(), "true".into()]);
        assert_eq!((h.interval, h.timeout, h.retries), (5_000_000_000, 2_000_000_000, 7), "the rest stays the image's");
        let h = healthcheck(&create_args(&["--no-healthcheck"]), image).unwrap().unwrap();
        assert_eq!(h.test, vec!["NONE".to_string()]);
        assert!(healthcheck(&create_args(&[]), b"{}").unwrap().is_none());
        assert!(healthcheck(&create_args(&["--health-interval", "5"]), b"{}").is_err());
        assert!(healthcheck(&create_args(&["--no-healthcheck", "--health-cmd", "x"]), b"{}").is_err());
    }

    #[test]
    fn flags_parse_as_docker() {
        assert_eq!(bytes("64m").unwrap(), 64 << 20);
        assert_eq!(bytes("1g").unwrap(), 1 << 30);
        assert_eq!(bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(bytes("100").unwrap(), 100);
        assert!(bytes("lots").is_err());
        assert_eq!(ulimit("nofile=1024:2048").unwrap(), ("RLIMIT_NOFILE".into(), 1024, 2048));
        assert!(ulimit("nofile=10:5").is_err() && ulimit("bogus=1").is_err());
        assert_eq!(detach_keys(None).unwrap(), [16, 17]);
        assert_eq!(detach_keys(Some("ctrl-a,x")).unwrap(), [1, b'x']);
        let m = volume_flag("data:/srv:ro").unwrap();
        assert_eq!((m.kind.as_str(), m.name.as_deref(), m.rw), ("volume", Some("data"), false));
        assert!(volume_flag("/x:rel").is_err());
        assert!(
            matches!(mount_flag("type=tmpfs,target=/t,tmpfs-size=1m").unwrap(), Mount::Tmpfs(d, o) if d == "/t" && o == "size=1m")
        );
        assert!(mount_flag("type=bind,source=/nonexistent-hull,target=/x").is_err());
    }
}

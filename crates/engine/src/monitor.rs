//! The monitor: one small process per running container, like conmon. `hull run`,
//! `start` and `restart` spawn it (a fresh exec of hull's own binary, in its own
//! session, so it outlives them); it is single-threaded, which the runtime library
//! needs to clone the container's init, and it is that init's parent.
//!
//! It holds the container's stdio (pipes, or the pty master with `-t`), writes the
//! json-file log, serves `attach.sock`, records start, exit code and time in
//! `state.json`, applies the restart policy, and under `--rm` removes the container
//! before telling the attached commands the exit status.

use crate::attach::{self, write_frame};
use crate::error::{Error, Result};
use crate::logs;
use crate::record::{RunState, STOPPED_BY_USER};
use crate::Engine;
use hull_container::container::{self, CreateOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// The descriptor a new monitor finds its first attached client on.
pub const CLIENT_FD: RawFd = 3;

/// Spawns the monitor of container `id` (hull's binary `exe`), its first client being
/// `client`; returns its pid.
pub fn spawn(exe: &Path, root: &Path, id: &str, client: Option<OwnedFd>) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg0("hull-monitor")
        .arg("__monitor")
        .arg(root)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let raw = client.as_ref().map(|c| c.as_raw_fd()).unwrap_or(-1);
    // SAFETY: only async-signal-safe calls (setsid, dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if raw >= 0 && libc::dup2(raw, CLIENT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Not waited for: it is reparented when this command exits.
    let child = cmd.spawn().map_err(Error::at("start the container's monitor"))?;
    drop(client);
    Ok(child.id() as i32)
}

/// A client attached to the container.
struct Client {
    sock: UnixStream,
    buf: Vec<u8>,
}

/// The container's stdio on the monitor's side.
struct Stdio {
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
}

/// The monitor's entry point (`hull __monitor ROOT ID`); returns its exit status.
pub fn main(root: &Path, id: &str) -> i32 {
    // SAFETY: F_GETFD only asks whether descriptor 3 is open.
    let first = (unsafe { libc::fcntl(CLIENT_FD, libc::F_GETFD) } >= 0).then(|| {
        // Not inherited by the processes the monitor starts (health probes): the
        // client reads until the monitor itself has gone.
        // SAFETY: F_SETFD on descriptor 3, which `spawn` set up for us alone.
        unsafe { libc::fcntl(CLIENT_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: descriptor 3 was set up by `spawn` for us alone.
        unsafe { UnixStream::from_raw_fd(CLIENT_FD) }
    });
    let mut clients: Vec<Client> = first.into_iter().map(|sock| Client { sock, buf: Vec::new() }).collect();
    match Monitor::new(root, id) {
        Ok(mut m) => m.run(&mut clients),
        Err(e) => {
            for c in &mut clients {
                let _ = write_frame(&mut c.sock, attach::ERROR, &attach::start_error(e.run_status(), &e.to_string()));
            }
            125
        }
    }
}

struct Monitor {
    /// The sockets that reserve the container's published host ports while it runs.
    ports_held: Vec<OwnedFd>,
    engine: Engine,
    id: String,
    record: crate::record::Record,
    state: RunState,
    log: logs::Writer,
    listener: UnixListener,
}

impl Monitor {
    fn new(root: &Path, id: &str) -> Result<Monitor> {
        let engine = Engine::open(root)?;
        let record = engine.record(id)?;
        let dir = engine.dir(id);
        let log = if record.host.log_driver == "none" {
            logs::Writer::discard()
        } else {
            logs::Writer::open(&logs::path_of(&dir, id), record.host.log_max_size, record.host.log_max_file)
                .map_err(Error::at(format!("open the log of {id}")))?
        };
        let listener = attach::bind(&dir).map_err(Error::at(format!("listen on {}/attach.sock", dir.display())))?;
        let me = std::process::id() as i32;
        // The starter holds the lock until it has recorded this monitor's pid: what we
        // read is that (or newer).
        let lock = engine.lock(id)?;
        let mut state = engine.run_state(id);
        drop(lock);
        state.monitor_pid = me;
        state.monitor_start = hull_container::process::start_time(me).unwrap_or(0);
        state.restarting = false;
        Ok(Monitor { ports_held: Vec::new(), engine, id: id.to_owned(), record, state, log, listener })
    }

    fn save(&self) {
        let _ = self.engine.save_run_state(&self.id, &self.state);
    }

    fn run(&mut self, clients: &mut Vec<Client>) -> i32 {
        let _ = std::fs::remove_file(self.engine.dir(&self.id).join(STOPPED_BY_USER));
        // Left by an `rm` that failed.
        let _ = std::fs::remove_file(self.engine.dir(&self.id).join(crate::record::REMOVING));
        let mut delay_ms = 100u64;
        loop {
            let started = std::time::Instant::now();
            let code = match self.start() {
                Ok((pid, pidfd, stdio, master)) => {
                    for c in clients.iter_mut() {
                        let _ = write_frame(&mut c.sock, attach::STARTED, b"");
                    }
                    // Logged once the clients know (`run` is not kept waiting for it).
                    self.engine.container_event(&self.record, "start", &[]);
                    shed_file_pages();
                    self.serve(pid, &pidfd, stdio, master, clients)
                }
                Err(e) => {
                    // An init that died before its start took the veth; the lease goes,
                    // and its pasta.
                    self.stop_pasta();
                    self.engine.leave_networks(&self.id, &self.record);
                    self.state.networks.clear();
                    self.ports_held.clear();
                    let msg = e.to_string();
                    let code = e.run_status();
                    self.state.error = Some(msg.clone());
                    self.state.exit_code = Some(code);
                    self.state.finished_at = Some(crate::now());
                    self.save();
                    // Removed before the error is told: nothing is left when `run` returns.
                    if self.record.host.auto_remove {
                        self.remove();
                    }
                    for c in clients.iter_mut() {
                        let _ = write_frame(&mut c.sock, attach::ERROR, &attach::start_error(code, &msg));
                    }
                    clients.clear();
                    return code;
                }
            };
            let _ = self.log.finish();
            let stopped = self.engine.dir(&self.id).join(STOPPED_BY_USER).exists();
            // `hull update --restart` may have changed the policy since the start.
            if let Ok(r) = self.engine.record(&self.id) {
                self.record.host.restart = r.host.restart;
            }
            let again = self.record.host.restart.restarts(code, self.state.restart_count, stopped);
            if !again && self.record.host.auto_remove {
                self.remove();
            }
            for c in clients.iter_mut() {
                let _ = write_frame(&mut c.sock, attach::EXIT, code.to_string().as_bytes());
            }
            if !again {
                // The sockets are left open, to be closed by the monitor's exit: a
                // client that reads to the end of its socket (a foreground `run`)
                // returns only once the monitor process is gone.
                std::mem::forget(std::mem::take(clients));
                return 0;
            }
            clients.clear();
            // Docker's back-off: doubling from 100 ms, reset after 10 s of running.
            if started.elapsed() > std::time::Duration::from_secs(10) {
                delay_ms = 100;
            }
            self.state.restarting = true;
            self.save();
            let until = std::time::Instant::now() + std::time::Duration::from_millis(delay_ms);
            while std::time::Instant::now() < until {
                if self.engine.dir(&self.id).join(STOPPED_BY_USER).exists() {
                    self.state.restarting = false;
                    self.save();
                    return 0;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            delay_ms = (delay_ms * 2).min(60_000);
            self.state.restart_count += 1;
            self.state.restarting = false;
        }
    }

    /// Creates and starts the container's init with fresh stdio.
    fn start(&mut self) -> Result<(i32, OwnedFd, Stdio, Option<OwnedFd>)> {
        let tty = self.record.config.tty;
        let null = std::fs::File::options().read(true).write(true).open("/dev/null").map_err(Error::at("/dev/null"))?;
        let (mut stdio, theirs) = if tty {
            (Stdio { out: None, err: None, stdin: None }, None)
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            let (in_r, in_w) = if self.record.config.open_stdin {
                let (r, w) = pipe()?;
                (Some(r), Some(w))
            } else {
                (None, None)
            };
            (Stdio { out: Some(out_r), err: Some(err_r), stdin: in_w }, Some((in_r, out_w, err_w)))
        };
        // The init inherits descriptors 0-2: point them at its ends for the create.
        let n = null.as_raw_fd();
        let (i, o, e) = match &theirs {
            Some((in_r, out_w, err_w)) => {
                (in_r.as_ref().map_or(n, |f| f.as_raw_fd()), out_w.as_raw_fd(), err_w.as_raw_fd())
            }
            None => (n, n, n),
        };
        // SAFETY: dup2 onto the standard descriptors of this single-threaded process.
        unsafe {
            libc::dup2(i, 0);
            libc::dup2(o, 1);
            libc::dup2(e, 2);
        }
        let console = if tty { Some(hull_container::foreground::own_console()?) } else { None };
        let (ours, console_theirs) = match console {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let dir = self.engine.dir(&self.id);
        // Runtime state left by a crash or a reboot names an init that is gone: it goes
        // (a live init's would not, and the create below then says so). An init that an
        // earlier monitor created but died before starting (blocked on its fifo, or its
        // create cut short) is killed: it never ran the container's command.
        use hull_container::status::Status as Rt;
        let unstarted = matches!(
            container::state(&self.engine.runtime, &self.id).map(|s| s.status),
            Ok(Rt::Created | Rt::Creating) | Err(hull_container::Error::BadStatus { status: Rt::Creating, .. })
        );
        let _ = container::delete(&self.engine.runtime, &self.id, unstarted);
        let created = container::create(
            &self.engine.runtime,
            CreateOptions {
                id: &self.id,
                bundle: &dir,
                pid_file: None,
                console_socket: console_theirs,
                preserve_fds: 0,
                no_pivot: false,
                no_new_keyring: false,
                systemd_cgroup: false,
            },
        );
        // SAFETY: as above; our own stdio is /dev/null again.
        unsafe {
            libc::dup2(n, 0);
            libc::dup2(n, 1);
            libc::dup2(n, 2);
        }
        drop(theirs);
        let created = created?;
        let master = match &ours {
            Some(s) => Some(hull_container::foreground::recv_fd(s)?),
            None => None,
        };
        if self.record.host.network == "pasta" {
            match self.start_pasta(created.user_net_ns.as_ref()) {
                Ok(p) => {
                    self.state.pasta = Some(p);
                    // Recorded before anything else can fail or kill us: `rm -f` ends it.
                    self.save();
                }
                Err(e) => {
                    let _ = container::delete(&self.engine.runtime, &self.id, true);
                    return Err(e);
                }
            }
        }
        match self.join_networks(created.pid) {
            Ok(n) => self.state.networks = n,
            Err(e) => {
                let _ = container::delete(&self.engine.runtime, &self.id, true);
                return Err(e);
            }
        }
        crate::fault::point("monitor-created");
        if let Err(e) = container::start(&self.engine.runtime, &self.id) {
            let _ = container::delete(&self.engine.runtime, &self.id, true);
            return Err(e.into());
        }
        crate::fault::point("monitor-started");
        self.state.pid = created.pid;
        self.state.pid_start = hull_container::process::start_time(created.pid).unwrap_or(0);
        self.state.oom_killed = false;
        self.state.started_at = Some(crate::now());
        self.state.finished_at = None;
        self.state.exit_code = None;
        self.state.error = None;
        self.save();
        if master.is_some() {
            stdio.out = None;
        }
        Ok((created.pid, created.pidfd, stdio, master))
    }

    /// Joins the container (its init `pid`, created, not started) to its networks, and
    /// names its addresses in its /etc/hosts. On error it is on none of them.
    fn join_networks(&mut self, pid: i32) -> Result<Vec<hull_network::Attachment>> {
        let mut joined: Vec<hull_network::Attachment> = Vec::new();
        for ep in self.record.host.endpoints() {
            match self.join(pid, &ep, &joined) {
                Ok(a) => joined.push(a),
                Err(e) => {
                    for a in &joined {
                        if let Ok(n) = self.engine.networks.get(&a.network) {
                            let _ = self.engine.networks.detach(&n, &self.id);
                        }
                    }
                    return Err(e);
                }
            }
        }
        if !joined.is_empty() {
            self.write_hosts(&joined)?;
        }
        Ok(joined)
    }

    /// Joins the container (its init `pid`) to the network of `ep`, beside `others`
    /// (the first network joined has the default route and the published ports).
    fn join(
        &mut self,
        pid: i32,
        ep: &crate::record::Endpoint,
        others: &[hull_network::Attachment],
    ) -> Result<hull_network::Attachment> {
        let n = self.engine.networks.get(&ep.network)?;
        let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .map_err(Error::at(format!("open the network namespace of {pid}")))?;
        let start = hull_container::pid::start_time(pid).unwrap_or(0);
        let ifname = (0..)
            .map(|k| format!("eth{k}"))
            .find(|i| !others.iter().any(|a| &a.ifname == i))
            .expect("a free interface name");
        let user = n.name != hull_network::DEFAULT;
        let names = self.record.dns_names(ep);
        let opts = hull_network::attach::AttachOptions {
            ifname,
            ip: ep.ip,
            ip6: ep.ip6,
            mac: ep.mac.as_deref().map(hull_network::attach::parse_mac).transpose()?,
            names,
            dns: if user { self.record.host.dns.clone() } else { Vec::new() },
            default_route: others.is_empty(),
        };
        let alive = |l: &hull_network::ipam::Lease| hull_container::pid::is_alive(l.pid, l.pid_start);
        let nets = &self.engine.networks;
        let mut a = nets.attach(&n, &self.id, (pid, start), std::os::fd::AsFd::as_fd(&netns), &opts, &alive)?;
        if others.is_empty() {
            if let Err(e) = self.publish(&mut a, &n.bridge) {
                let _ = self.engine.networks.detach(&n, &self.id);
                return Err(e);
            }
        }
        if user {
            self.engine.ensure_resolver(&n);
        }
        Ok(a)
    }

    /// Docker's lines for the container's own addresses in its /etc/hosts, replacing an
    /// earlier run's.
    fn write_hosts(&self, joined: &[hull_network::Attachment]) -> Result<()> {
        let hosts = self.engine.dir(&self.id).join("hosts");
        let hostname = &self.record.config.hostname;
        let old = std::fs::read_to_string(&hosts).unwrap_or_default();
        let mut text: String = old
            .lines()
            .filter(|l| {
                let mut f = l.split_whitespace();
                let ip = f.next().and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
                !(ip.is_some_and(|ip| !ip.is_loopback()) && f.next() == Some(hostname.as_str()) && f.next().is_none())
            })
            .map(|l| format!("{l}\n"))
            .collect();
        for a in joined {
            text.push_str(&format!("{}\t{hostname}\n", a.ip));
            if let Some(ip6) = a.ip6 {
                text.push_str(&format!("{ip6}\t{hostname}\n"));
            }
        }
        // Written in place: the container's /etc/hosts is a bind mount of this file.
        std::fs::write(&hosts, text).map_err(Error::at(format!("write {}", hosts.display())))
    }

    /// `network connect` of the running container (its init `pid`) to `network`, which
    /// its record already names.
    fn connect(&mut self, pid: i32, network: &str) -> Result<()> {
        self.record = self.engine.record(&self.id)?;
        let ep =
            self.record.host.endpoints().into_iter().find(|e| e.network == network).ok_or_else(|| {
                Error::Conflict(format!("container {} has no endpoint on network {network}", self.id))
            })?;
        if self.state.networks.iter().any(|a| a.network == network) {
            return Ok(());
        }
        let a = self.join(pid, &ep, &self.state.networks.clone())?;
        self.state.networks.push(a);
        self.write_hosts(&self.state.networks)?;
        self.save();
        Ok(())
    }

    /// `network disconnect` of the running container from `network`.
    fn disconnect(&mut self, network: &str) -> Result<()> {
        if let Ok(r) = self.engine.record(&self.id) {
            self.record = r;
        }
        let Some(k) = self.state.networks.iter().position(|a| a.network == network) else { return Ok(()) };
        let a = self.state.networks.remove(k);
        let n = self.engine.networks.get(network)?;
        if k == 0 {
            // Its published ports went with its first network.
            self.ports_held.clear();
        }
        self.engine.networks.detach_live(&n, &self.id, &a.host_veth)?;
        self.write_hosts(&self.state.networks)?;
        self.save();
        Ok(())
    }

    /// Rootless: pasta for the container whose namespaces are `ns`, with its published ports
    /// (host ports chosen here when not given, then left for pasta to bind).
    fn start_pasta(&mut self, ns: Option<&(OwnedFd, OwnedFd)>) -> Result<hull_network::pasta::Pasta> {
        use std::os::fd::AsFd;
        self.stop_pasta();
        let ns = ns.ok_or_else(|| {
            Error::Invalid("pasta needs the container in user and network namespaces of its own".into())
        })?;
        let requests = self.port_requests()?;
        let (ports, held) = hull_network::ports::reserve(&requests, std::net::Ipv4Addr::UNSPECIFIED, None, "")?;
        drop(held);
        let pid_file = self.engine.dir(&self.id).join("pasta.pid");
        let pasta = hull_network::pasta::start((ns.0.as_fd(), ns.1.as_fd()), &ports, &pid_file)?;
        let pid_start = hull_container::pid::start_time(pasta).unwrap_or(0);
        Ok(hull_network::pasta::Pasta { pid: pasta, pid_start, ports })
    }

    /// Ends the container's pasta, if it has one.
    fn stop_pasta(&mut self) {
        if let Some(p) = self.state.pasta.take() {
            let _ = hull_container::pid::signal(p.pid, p.pid_start, libc::SIGTERM);
        }
    }

    /// The container's `-p`/`-P`, as requests.
    fn port_requests(&self) -> Result<Vec<hull_network::ports::PortRequest>> {
        let h = &self.record.host;
        let mut requests = Vec::new();
        for (key, bindings) in &h.port_bindings {
            if bindings.is_empty() {
                requests.push(crate::create::settings::port_request(key, &Default::default())?);
            }
            for b in bindings {
                requests.push(crate::create::settings::port_request(key, b)?);
            }
        }
        if h.publish_all {
            for key in &self.record.config.exposed_ports {
                if !h.port_bindings.contains_key(key) {
                    requests.push(crate::create::settings::port_request(key, &Default::default())?);
                }
            }
        }
        Ok(requests)
    }

    /// Reserves the host ports of the container's `-p`/`-P` (sockets this monitor holds
    /// while the container runs) and sends them to it through hull's table.
    fn publish(&mut self, a: &mut hull_network::Attachment, bridge: &str) -> Result<()> {
        let requests = self.port_requests()?;
        if requests.is_empty() {
            return Ok(());
        }
        let (maps, held) = hull_network::ports::reserve(&requests, a.ip, a.ip6, bridge)?;
        self.engine.networks.publish(&self.id, &maps)?;
        self.ports_held = held;
        a.ports = maps;
        Ok(())
    }

    /// Copies output to the log and the clients, input from the clients, until the init
    /// exits; returns its status (128+N for a signal).
    fn serve(
        &mut self,
        pid: i32,
        pidfd: &OwnedFd,
        mut stdio: Stdio,
        master: Option<OwnedFd>,
        clients: &mut Vec<Client>,
    ) -> i32 {
        // With a terminal, the master is both output and input.
        let mut output: Vec<(u8, OwnedFd)> = Vec::new();
        if let Some(m) = &master {
            output.push((attach::STDOUT, dup(m.as_raw_fd())));
        }
        if let Some(o) = stdio.out.take() {
            output.push((attach::STDOUT, o));
        }
        if let Some(e) = stdio.err.take() {
            output.push((attach::STDERR, e));
        }
        let mut buf = vec![0u8; 16 * 1024];
        let mut exited = false;
        let mut deadline: Option<std::time::Instant> = None;
        let shell = self.record.config.shell.as_deref();
        let mut checker = self.record.config.healthcheck.as_ref().and_then(|h| crate::health::Checker::new(h, shell));
        self.state.health = checker.as_ref().map(|_| crate::health::Health::starting());
        if checker.is_some() {
            self.save();
        }
        loop {
            if let (Some(c), Some(h), false) = (checker.as_mut(), self.state.health.as_mut(), exited) {
                let before = h.status.clone();
                if c.tick(&self.engine.dir(&self.id), self.engine.root(), &self.id, h) {
                    let now = h.status.clone();
                    self.save();
                    if now != before {
                        self.engine.container_event(&self.record, &format!("health_status: {now}"), &[]);
                    }
                }
            }
            if exited && (output.is_empty() || deadline.is_some_and(|d| std::time::Instant::now() > d)) {
                break;
            }
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3 + output.len() + clients.len());
            let ev = |fd: RawFd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            fds.push(ev(if exited { -1 } else { pidfd.as_raw_fd() }));
            fds.push(ev(self.listener.as_raw_fd()));
            for (_, f) in &output {
                fds.push(ev(f.as_raw_fd()));
            }
            for c in clients.iter() {
                fds.push(ev(c.sock.as_raw_fd()));
            }
            // Idle for a while: the code pages the last burst of output faulted in go.
            let idle = 5000;
            let timeout = match &checker {
                _ if exited => 100,
                Some(c) => c.wait().as_millis().clamp(1, idle as u128) as i32,
                None => idle,
            };
            // SAFETY: a valid array of pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                continue; // EINTR
            }
            if n == 0 && !exited {
                if timeout == idle {
                    shed_file_pages();
                }
                continue;
            }
            if fds[0].revents != 0 {
                exited = true;
                if let Some(c) = checker.as_mut() {
                    c.stop();
                }
                // Whatever the container wrote last is read before the status is told.
                deadline = Some(std::time::Instant::now() + std::time::Duration::from_secs(2));
            }
            if fds[1].revents != 0 {
                if let Ok((sock, _)) = self.listener.accept() {
                    clients.push(Client { sock, buf: Vec::new() });
                    let last = clients.len() - 1;
                    let _ = write_frame(&mut clients[last].sock, attach::STARTED, b"");
                }
            }
            let mut closed = Vec::new();
            for (k, (stream, f)) in output.iter().enumerate() {
                if fds[2 + k].revents == 0 {
                    continue;
                }
                // SAFETY: read into a valid buffer.
                let r = unsafe { libc::read(f.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if r <= 0 {
                    if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                        closed.push(k);
                    }
                    continue;
                }
                let data = &buf[..r as usize];
                let _ = self.log.write(*stream, data);
                clients.retain_mut(|c| write_frame(&mut c.sock, *stream, data).is_ok());
            }
            let base = 2 + output.len();
            for k in closed.into_iter().rev() {
                output.remove(k);
            }
            let mut gone = Vec::new();
            let n_clients = fds.len() - base;
            for k in 0..n_clients.min(clients.len()) {
                if fds[base + k].revents == 0 {
                    continue;
                }
                let c = &mut clients[k];
                let r = c.sock.read(&mut buf);
                match r {
                    Ok(0) | Err(_) => gone.push(k),
                    Ok(n) => {
                        c.buf.extend_from_slice(&buf[..n]);
                        let Ok(frames) = attach::take_frames(&mut c.buf) else {
                            gone.push(k);
                            continue;
                        };
                        for (kind, payload) in frames {
                            match kind {
                                attach::STDIN => {
                                    let to = master
                                        .as_ref()
                                        .map(|m| m.as_raw_fd())
                                        .or(stdio.stdin.as_ref().map(|s| s.as_raw_fd()));
                                    if let Some(fd) = to {
                                        write_all(fd, &payload);
                                    }
                                }
                                attach::CLOSE_STDIN => stdio.stdin = None,
                                attach::CONNECT | attach::DISCONNECT if !exited => {
                                    let network = String::from_utf8_lossy(&payload).into_owned();
                                    let r = if kind == attach::CONNECT {
                                        self.connect(pid, &network)
                                    } else {
                                        self.disconnect(&network)
                                    };
                                    let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
                                    let _ = write_frame(&mut c.sock, attach::DONE, msg.as_bytes());
                                }
                                attach::RESIZE if payload.len() == 4 => {
                                    if let Some(m) = &master {
                                        let rows = u16::from_le_bytes([payload[0], payload[1]]);
                                        let cols = u16::from_le_bytes([payload[2], payload[3]]);
                                        let _ = hull_container::terminal::set_size(m.as_raw_fd(), rows, cols);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            for k in gone.into_iter().rev() {
                clients.remove(k);
            }
        }
        drop(master);
        let mut status = 0;
        // SAFETY: waitpid on our own child, the init.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        crate::fault::point("monitor-exited");
        let code = if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) };
        self.state.pid = 0;
        self.stop_pasta();
        self.engine.leave_networks(&self.id, &self.record);
        // Those it joined whatever the record says now (a disconnect that failed).
        for a in std::mem::take(&mut self.state.networks) {
            if let Ok(n) = self.engine.networks.get(&a.network) {
                let _ = self.engine.networks.detach(&n, &self.id);
            }
        }
        self.ports_held.clear();
        self.state.exit_code = Some(code);
        self.state.finished_at = Some(crate::now());
        // Read before the cgroups go.
        if let Ok(l) = container::load(&self.engine.runtime, &self.id) {
            let placement = hull_container::cgroups::resources::Placement::of(&l.state.cgroup_dirs);
            self.state.oom_killed = hull_container::cgroups::stats::oom_kills(&placement) > 0;
        }
        self.save();
        // Renamed while it ran: the events carry its name now.
        if let Ok(r) = self.engine.record(&self.id) {
            self.record.name = r.name;
        }
        if self.state.oom_killed {
            self.engine.container_event(&self.record, "oom", &[]);
        }
        self.engine.container_event(&self.record, "die", &[("exitCode", code.to_string())]);
        // Removes the cgroups and the runtime's state (the init is gone already).
        let _ = container::delete(&self.engine.runtime, &self.id, true);
        code
    }

    /// `--rm`: removes the container, unless `rm` is already at it. Another command
    /// holding the lock (the `kill` or `stop` that caused this exit, a `commit`) is
    /// waited for, however long it takes; none of them waits for this monitor.
    fn remove(&self) {
        let dir = self.engine.dir(&self.id);
        loop {
            match self.engine.try_lock(&self.id) {
                Ok(Some(_lock)) => {
                    if !dir.join(crate::record::REMOVING).exists() {
                        let _ = self.engine.remove_container_files(&self.record, true);
                    }
                    return;
                }
                Ok(None) if !dir.join(crate::record::REMOVING).exists() => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                // `rm` has it, or the container is gone.
                _ => return,
            }
        }
    }
}

/// Unmaps the pages of hull's binary the monitor touched to set the container up
/// (image, runtime and serde code it will not run again): they stay in the page cache,
/// and the few the copy loop needs come back on first use. An idle monitor then holds
/// a few hundred KiB instead of megabytes. Only mappings that were never written
/// (no anonymous pages: text and read-only data, not relocated RELRO) are dropped, so
/// the contents come back the same from the file.
fn shed_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return };
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return };
    let exe = exe.to_string_lossy().into_owned();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = f.next().unwrap_or_default();
            let path = line.split_whitespace().nth(5).unwrap_or_default();
            current = None;
            if path == exe && (perms == "r-xp" || perms == "r--p") {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                    current = Some((a, b));
                }
            }
        } else if first == "Anonymous:" {
            if let Some((a, b)) = current.take() {
                if f.next() == Some("0") {
                    // SAFETY: a private, never-written mapping of our own binary: its
                    // pages are read again from the file on the next access.
                    unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED) };
                }
            }
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::io("pipe", e.into()))
}

fn dup(fd: RawFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC of a descriptor we hold; the result is ours.
    unsafe { OwnedFd::from_raw_fd(libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3)) }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from a valid buffer.
        let w = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if w <= 0 {
            if w < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        data = &data[w as usize..];
    }
}

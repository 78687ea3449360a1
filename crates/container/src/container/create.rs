//! `create`: load the bundle, make the state directory, clone the init and drive it
//! through setup until it waits for `start`. On any failure everything made so far is
//! undone: the init is killed and reaped, cgroups and the state directory removed.

use crate::capabilities::CapSets;
use crate::cgroups;
use crate::clone::{clone_child, Forked};
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Kind};
use crate::namespaces::{self, Namespaces};
use crate::process::init::{self, Plan};
use crate::process::sync::{self, Msg};
use crate::spec;
use crate::state::{ContainerDir, Intent, OciState, StateFile, StateStore};
use crate::status::Status;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The options of `create` (runc's flags).
pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    /// A connected socket to send the pty master to.
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`.
    pub systemd_cgroup: bool,
}

/// A created container: the init's pid and a pidfd (the caller is its parent), and the
/// config fields hull accepted without enforcing them (for the caller to log).
pub struct Created {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub warnings: Vec<String>,
    /// A new user namespace's init's user and network namespaces (when it has a new
    /// one of each), opened while the init was still dumpable: once it is not, only
    /// root may open them by `/proc/PID/ns`, and an unprivileged caller needs them to
    /// give the container a network (pasta).
    pub user_net_ns: Option<(OwnedFd, OwnedFd)>,
}

/// Undoes a partial create when dropped, unless disarmed.
struct Undo {
    pid: Option<i32>,
    cgroups: Vec<PathBuf>,
    dir: Option<ContainerDir>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        let _ = cgroups::remove(&self.cgroups);
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

/// Creates a container; returns once its init waits for `start`.
pub fn create(store: &StateStore, opts: CreateOptions<'_>) -> Result<Created> {
    spec::validate_id(opts.id)?;
    let bundle = spec::load_bundle(opts.bundle)?;
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    crate::lsm::check_spec(spec)?;
    if process.terminal().unwrap_or(false) && opts.console_socket.is_none() {
        return Err(Error::SpecInvalid {
            field: "process.terminal".into(),
            reason: "a terminal needs --console-socket".into(),
        });
    }
    if opts.systemd_cgroup {
        let path =
            spec.linux().as_ref().and_then(|l| l.cgroups_path().as_ref()).map(|p| p.to_string_lossy().into_owned());
        let p = cgroups::systemd::parse(path.as_deref(), opts.id)?;
        return Err(cgroups::systemd::unavailable(&p));
    }
    let mut ns = Namespaces::from_spec(spec)?;
    let caps = process.capabilities().as_ref().map(CapSets::new);
    let linux = spec.linux().as_ref();
    // Compiled (or taken from the cache) before anything exists, so a bad profile or a
    // missing agent leaves nothing behind.
    let cache = store.root().join(crate::seccomp::cache::DIR_NAME);
    let filter =
        linux.and_then(|l| l.seccomp().as_ref()).map(|s| crate::seccomp::prepare(s, Some(&cache))).transpose()?;
    let agent = filter
        .as_ref()
        .and_then(|f| f.settings.listener_path.as_deref())
        .map(crate::seccomp::notify::connect_agent)
        .transpose()?;
    // Idmapped trees are made by us, who hold CAP_SYS_ADMIN over the host, before
    // anything else exists; the init only attaches them.
    let idmapped = crate::rootfs::idmap::prepare(spec, &bundle.dir)?;
    let mut hierarchies = cgroups::hierarchies();
    let cgroup_path = cgroups::container_path(linux.and_then(|l| l.cgroups_path().as_deref()), opts.id);
    let mut notices = Vec::new();
    if !nix::unistd::geteuid().is_root() && !cgroups::writable(&hierarchies, &cgroup_path) {
        // Rootless without a delegated cgroup: runc's behaviour, limits or nothing.
        if linux
            .and_then(|l| l.resources().as_ref())
            .is_some_and(|r| cgroups::resources::has_limits(&cgroups::resources::without_zeroes(r)))
        {
            return Err(Error::Precondition(format!(
                "linux.resources: cgroup {} is not delegated to uid {}, so its limits cannot be applied",
                cgroup_path.display(),
                nix::unistd::geteuid()
            )));
        }
        notices.push(format!(
            "cgroup {} is not delegated to uid {}: the container runs in its caller's cgroups",
            cgroup_path.display(),
            nix::unistd::geteuid()
        ));
        hierarchies.clear();
    }
    let cgroup_dirs = cgroups::dirs(&hierarchies, &cgroup_path);

    let dir = store.create(opts.id)?;
    let mut undo = Undo { pid: None, cgroups: Vec::new(), dir: None };
    let fifo_path = dir.fifo_path();
    // What delete --force must undo if this process dies, saved as each step that can
    // leak is taken (cgroups, the init); before them only the directory and its fifo
    // exist, which delete removes without it.
    let mut intent =
        Intent { cgroup_path: cgroup_path.clone(), cgroup_dirs: cgroup_dirs.clone(), ..Default::default() };
    undo.dir = Some(dir);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| format!("mkfifo {}", fifo_path.display()))?;
    // O_RDWR: the open does not wait for a reader; the init keeps it and blocks in read.
    let fifo =
        File::options().read(true).write(true).open(&fifo_path).ctx(|| format!("open {}", fifo_path.display()))?;
    // On pure cgroup v2 the cgroup is made first so the init is born in it
    // (CLONE_INTO_CGROUP). With v1 hierarchies there is one cgroup.procs write per
    // hierarchy anyway: make the cgroups while the init mounts (see below).
    let early_cgroups = hierarchies.iter().all(|h| h.unified);
    if early_cgroups {
        intent.cgroup_made = cgroups::missing(&cgroup_dirs);
        save_intent(&undo, &intent)?;
        undo.cgroups = cgroups::create(&hierarchies, &cgroup_dirs)?;
        apply_limits(spec, &hierarchies, &cgroup_dirs, &cgroup_path)?;
    }

    let (parent, child) = sync::pair()?;
    ns.join_for_children()?;
    if ns.new_time {
        namespaces::unshare_time(spec)?;
    }
    let cgroupns = ns.clone_flags & libc::CLONE_NEWCGROUP as u64 != 0;
    let unified = hierarchies.iter().zip(&cgroup_dirs).find(|(h, _)| h.unified).map(|(_, d)| d.clone());
    let unified_fd = unified.as_ref().filter(|_| early_cgroups).and_then(|d| File::open(d).ok());
    let mut plan = Plan {
        id: opts.id,
        bundle: &bundle,
        ns: &ns,
        fifo: &fifo,
        console_socket: opts.console_socket.as_ref().map(|s| s.as_raw_fd()),
        preserve_fds: opts.preserve_fds,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        hierarchies: &hierarchies,
        cgroup_path: &cgroup_path,
        caps,
        seccomp: filter.as_ref(),
        seccomp_agent: agent.as_ref().map(|a| a.as_raw_fd()),
        idmapped: &idmapped,
        // Born in its cgroups only on pure v2 through CLONE_INTO_CGROUP.
        defer_cgroupns: cgroupns && !cgroup_dirs.is_empty() && !(early_cgroups && unified_fd.is_some()),
    };
    let flags = |defer: bool| if defer { ns.clone_flags & !(libc::CLONE_NEWCGROUP as u64) } else { ns.clone_flags };
    // On cgroup v2 the init is born in its cgroup (CLONE_INTO_CGROUP): no cgroup.procs
    // write, no wait for an RCU grace period. A kernel that refuses gets the write.
    let (forked, born_in_unified) =
        match clone_child(flags(plan.defer_cgroupns), unified_fd.as_ref().map(|f| f.as_raw_fd())) {
            Ok(f) => (f, unified_fd.is_some()),
            Err(Error::Io { source, .. })
                if unified_fd.is_some()
                    && matches!(
                        source.raw_os_error(),
                        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::EBUSY | libc::E2BIG)
                    ) =>
            {
                plan.defer_cgroupns = cgroupns && !cgroup_dirs.is_empty();
                (clone_child(flags(plan.defer_cgroupns), None)?, false)
            }
            Err(e) => return Err(e),
        };
    drop(unified_fd);
    let defer_cgroupns = plan.defer_cgroupns;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            drop(parent);
            if let Some(d) = undo.dir.take() {
                d.forget_in_child();
            }
            std::mem::forget(undo);
            init::run(&plan, child)
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(child);
    drop(fifo);
    undo.pid = Some(pid);

    let mut user_net_ns = None;
    if ns.new_user {
        namespaces::write_id_maps(pid, spec)?;
        if ns.clone_flags & libc::CLONE_NEWNET as u64 != 0 {
            let open = |kind: &str| {
                std::fs::File::open(format!("/proc/{pid}/ns/{kind}"))
                    .map(OwnedFd::from)
                    .ctx(|| format!("open the {kind} namespace of the container's init"))
            };
            user_net_ns = Some((open("user")?, open("net")?));
        }
    }
    let pid_start = crate::process::start_time(pid)
        .ok_or_else(|| Error::Init("the container's init exited before setup".into()))?;
    intent.pid = pid;
    intent.pid_start = pid_start;
    save_intent(&undo, &intent)?;
    let now = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    let state = StateFile {
        oci_version: spec.version().clone(),
        id: opts.id.to_owned(),
        pid,
        pid_start,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: now,
        owner: nix::unistd::geteuid().as_raw(),
        annotations: spec.annotations().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        cgroup_path: cgroup_path.clone(),
        cgroup_dirs,
        cgroup_made: Vec::new(),
        hooks: spec.hooks().clone(),
        seccomp: filter.as_ref().map(|f| f.settings.clone()),
    };
    let oci = OciState::new(&state, Status::Creating);
    parent.send(&Msg::State(oci.to_json())).map_err(|e| init_gone(e, pid, spec, &mut undo))?;
    if let Some(f) = filter.as_ref().filter(|_| agent.is_some()) {
        let doc = crate::seccomp::notify::message(&oci, &oci.oci_version, pid, &f.settings.listener_metadata);
        parent.send(&Msg::Listener(doc)).map_err(|e| init_gone(e, pid, spec, &mut undo))?;
    }
    drop(agent);
    parent.send(&Msg::Go).map_err(|e| init_gone(e, pid, spec, &mut undo))?;
    // Making the cgroups, writing limits and placing the init (one cgroup.procs write
    // per v1 hierarchy, the first waiting for an RCU grace period) overlap the init's
    // mounts. All of it is done before any message from the init is read: hooks run
    // after it (the init asks for them), and the user's program only runs after
    // `start`, which needs this `create` to have returned.
    if !early_cgroups {
        intent.cgroup_made = cgroups::missing(&state.cgroup_dirs);
        save_intent(&undo, &intent)?;
        undo.cgroups = cgroups::create(&hierarchies, &state.cgroup_dirs)?;
        apply_limits(spec, &hierarchies, &state.cgroup_dirs, &cgroup_path)?;
    }
    let mut state = state;
    state.cgroup_made = undo.cgroups.clone();
    hull_fault::point("runtime-cgroups");
    let to_join: Vec<PathBuf> =
        state.cgroup_dirs.iter().filter(|d| !(born_in_unified && Some(*d) == unified.as_ref())).cloned().collect();
    if let Err(e) = cgroups::join(&to_join, pid) {
        // An init that failed early is the better explanation; one waiting for its
        // second go (a deferred cgroup namespace) has nothing to say, and is killed
        // with the rest of the undo.
        if !defer_cgroupns {
            if let Some(e) = parent.recv().ok().flatten().and_then(Msg::failure) {
                return Err(e);
            }
        }
        return Err(e);
    }
    if defer_cgroupns {
        if let Err(e) = parent.send(&Msg::Go) {
            if let Some(e) = parent.recv().ok().flatten().and_then(Msg::failure) {
                return Err(e);
            }
            return Err(init_gone(e, pid, spec, &mut undo));
        }
    }
    loop {
        // An init that died (the OOM killer under a tiny memory limit) closes or resets
        // the channel: say why it went.
        let msg = parent.recv().map_err(|e| init_gone(e, pid, spec, &mut undo))?;
        match msg {
            Some(Msg::RunHooks) => {
                let json = oci.to_json();
                hooks::run_all(Kind::Prestart, Kind::Prestart.of(spec.hooks()), &json)?;
                hooks::run_all(Kind::CreateRuntime, Kind::CreateRuntime.of(spec.hooks()), &json)?;
                parent.send(&Msg::Go).map_err(|e| init_gone(e, pid, spec, &mut undo))?;
            }
            Some(Msg::Ready) => break,
            Some(other) => return Err(other.into_error("")),
            None => {
                let (why, reaped) = setup_death(pid, spec);
                if reaped {
                    undo.pid = None;
                }
                return Err(Error::Init(why));
            }
        }
    }
    let dir = undo.dir.as_ref().expect("dir is set");
    if let Some(f) = &filter {
        let p = dir.seccomp_path();
        std::fs::write(&p, f.program.to_bytes()).ctx(|| format!("write {}", p.display()))?;
    }
    dir.save(&state)?;
    dir.remove_intent();
    if let Some(p) = opts.pid_file {
        write_pid_file(p, pid)?;
    }
    undo.pid = None;
    undo.cgroups.clear();
    undo.dir = None;
    notices.extend(spec::unenforced(spec));
    Ok(Created { pid, pidfd, warnings: notices, user_net_ns })
}

/// Enables v2 controllers, then writes `linux.resources` (limits, then device rules) into
/// new cgroups.
fn apply_limits(
    spec: &oci_spec::runtime::Spec,
    hs: &[cgroups::Hierarchy],
    dirs: &[PathBuf],
    path: &Path,
) -> Result<()> {
    let placement = cgroups::resources::Placement::new(hs, dirs);
    // Always: v2 accounts memory and cpu only from when a controller is enabled, and
    // `update`, `events` and checkBeforeUpdate need the container's whole usage.
    placement.enable_v2_controllers(path.components().count().saturating_sub(1));
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else { return Ok(()) };
    if cgroups::resources::has_limits(r) {
        cgroups::resources::apply(&placement, r)?;
    }
    if let Some(rules) = cgroups::devices::rules(spec) {
        if let Some(d) = placement.v1("devices") {
            cgroups::devices::apply_v1(d, &rules)?;
        } else if let Some(d) = placement.unified() {
            cgroups::devices::apply_v2(d, &rules)?;
        }
    }
    Ok(())
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("hull-tmp");
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("--pid-file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("--pid-file {}", path.display()))
}

/// The error of a failed exchange with the init: how it went, when it is gone (then
/// the undo must not signal its pid, which may be reused), else `e`.
fn init_gone(e: Error, pid: i32, spec: &oci_spec::runtime::Spec, undo: &mut Undo) -> Error {
    let (why, reaped) = setup_death(pid, spec);
    if reaped {
        undo.pid = None;
        Error::Init(why)
    } else {
        e
    }
}

/// Why an init that closed its channel without a message went: its exit status, once
/// it can be reaped (within a moment), and whether it was (the undo must not signal a
/// pid that may be reused). A SIGKILL under a memory limit is the OOM killer's: a limit
/// too low for the init to start (`memory.limit` of a few bytes).
fn setup_death(pid: i32, spec: &oci_spec::runtime::Spec) -> (String, bool) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let status = loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break None,
            Ok(s) => break Some(s),
        }
    };
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit());
    let why = match status {
        Some(WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)) if limit.is_some() => format!(
            "was killed during setup (SIGKILL, the OOM killer's under linux.resources.memory.limit {}): \
             the limit is too low for the container to start",
            limit.unwrap_or_default()
        ),
        Some(WaitStatus::Signaled(_, sig, _)) => format!("was killed during setup by {sig}"),
        Some(WaitStatus::Exited(_, code)) => format!("exited during setup with status {code} without a word"),
        _ => "exited during setup without a word".into(),
    };
    (why, status.is_some())
}

/// Saves what the create has made so far in its state directory.
fn save_intent(undo: &Undo, intent: &Intent) -> Result<()> {
    match undo.dir.as_ref() {
        Some(d) => d.save_intent(intent),
        None => Ok(()),
    }
}

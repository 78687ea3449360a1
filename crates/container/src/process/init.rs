//! The container's init, from the moment it is cloned until it execs the user's program.
//!
//! Order (runc's where the spec is silent): wait for the parent's go (id maps written,
//! cgroup joined) → join namespaces → new session and keyring → mounts, /dev, terminal
//! → parent runs prestart/createRuntime hooks → createContainer hooks → pivot_root →
//! read-only and masked paths → sysctl, loopback up (a new network namespace, as crun),
//! hostname → resolve the program → rlimits →
//! report Ready → block on the exec fifo until `start` → startContainer hooks → user,
//! groups, cwd, capabilities, no_new_privs → execve. The seccomp filter goes on as late
//! as it can: right before execve with no_new_privs, else (loading then needs
//! CAP_SYS_ADMIN) right before the user and capabilities change, as runc does.
//!
//! Runs in a copy of a single-threaded process (see [`crate::process`]). Before Ready,
//! every error goes to the parent as one message; after it, to the inherited stderr.

use super::sync::{Channel, Msg};
use crate::capabilities::CapSets;
use crate::cgroups::Hierarchy;
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Kind};
use crate::namespaces::Namespaces;
use crate::rootfs::{self, mounts};
use crate::seccomp::Filter;
use crate::spec::Bundle;
use crate::state::OciState;
use crate::status::Status;
use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Everything the init needs, prepared by the parent before the clone.
pub struct Plan<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub ns: &'a Namespaces,
    /// The exec fifo, opened O_RDWR by the parent (so opening never blocks).
    pub fifo: &'a File,
    /// A connected --console-socket, when process.terminal is set.
    pub console_socket: Option<RawFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub hierarchies: &'a [Hierarchy],
    pub cgroup_path: &'a Path,
    pub caps: Option<CapSets>,
    pub seccomp: Option<&'a Filter>,
    /// The connected seccomp agent socket (SCMP_ACT_NOTIFY).
    pub seccomp_agent: Option<RawFd>,
    /// Idmapped trees, one slot per entry of `mounts` (see [`rootfs::idmap`]).
    pub idmapped: &'a [Option<OwnedFd>],
    /// The init was not born in its cgroups (cgroup v1, or a kernel without
    /// CLONE_INTO_CGROUP): its new cgroup namespace is made only once the parent has
    /// placed it (a second go), so that its cgroups are the namespace's root.
    pub defer_cgroupns: bool,
}

/// The seccomp step of a container process: the filter and, with SCMP_ACT_NOTIFY, the
/// agent's socket and the document to send it with the listener.
pub(crate) struct SeccompStep<'a> {
    pub filter: &'a Filter,
    pub agent: Option<(RawFd, Vec<u8>)>,
}

impl SeccompStep<'_> {
    fn load(&self) -> Result<()> {
        let listener = self.filter.load()?;
        if let (Some(fd), Some((sock, doc))) = (listener, &self.agent) {
            crate::seccomp::notify::send(*sock, doc, fd.as_raw_fd())?;
            // SAFETY: the agent socket is ours and used no more.
            unsafe { libc::close(*sock) };
        }
        Ok(())
    }
}

/// Receives the listener document from the parent when an agent is connected.
pub(crate) fn recv_listener_doc(chan: &Channel, agent: Option<RawFd>) -> Result<Option<(RawFd, Vec<u8>)>> {
    let Some(sock) = agent else { return Ok(None) };
    match chan.recv()? {
        Some(Msg::Listener(doc)) => Ok(Some((sock, doc))),
        other => Err(Error::Init(format!("expected the seccomp listener document, got {other:?}"))),
    }
}

/// Runs the init; never returns.
pub fn run(plan: &Plan<'_>, chan: Channel) -> ! {
    match setup(plan, &chan) {
        Ok(never) => match never {},
        Err(e) => super::report_and_exit(&chan, e),
    }
}

fn expect_go(chan: &Channel) -> Result<()> {
    match chan.recv()? {
        Some(Msg::Go) => Ok(()),
        other => Err(Error::Init(format!("expected go from the runtime, got {other:?}"))),
    }
}

fn setup(plan: &Plan<'_>, chan: &Channel) -> Result<Infallible> {
    let spec = &plan.bundle.spec;
    let process = spec.process().as_ref().expect("validated: process is present");
    reset_signals();
    // No descriptor of the caller's reaches the container, but those it asked to pass.
    close_range_cloexec(3 + plan.preserve_fds);
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };

    let state: OciState = match chan.recv()? {
        Some(Msg::State(d)) => {
            serde_json::from_slice(&d).map_err(|e| Error::Init(format!("bad state from runtime: {e}")))?
        }
        other => return Err(Error::Init(format!("expected state from the runtime, got {other:?}"))),
    };
    let agent = recv_listener_doc(chan, plan.seccomp_agent)?;
    let seccomp = plan.seccomp.map(|filter| SeccompStep { filter, agent });
    expect_go(chan)?;
    // Until execve, /proc/self/exe is hull's own binary: non-dumpable, no process of the
    // container (without CAP_SYS_PTRACE) can open it (CVE-2019-5736). Not before the go:
    // an unprivileged parent writes the id maps through /proc/PID, which a non-dumpable
    // child would make root's. Nothing of the container runs before the go. execve
    // restores dumpability for the user's program.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let state_json = |status: Status| OciState { status, ..state.clone() }.to_json();

    let joins_user = plan.ns.join.iter().any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User);
    plan.ns.join_all()?;
    if plan.ns.new_user || joins_user {
        become_root()?;
        // Changing credentials clears the parent-death signal.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    }
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if !plan.no_new_keyring {
        join_session_keyring(plan.id);
    }
    // hull's own view of procfs, opened once for oom_score_adj and sysctl; a detached
    // mount, so it outlives pivot_root (and is closed on exec).
    let labels = crate::lsm::Labels::of(process);
    let needs_proc = process.oom_score_adj().is_some()
        || !labels.is_empty()
        || spec.linux().as_ref().is_some_and(|l| l.sysctl().as_ref().is_some_and(|s| !s.is_empty()));
    let procfs = if needs_proc { Some(crate::safe::ProcFs::open()?) } else { None };
    if let (Some(adj), Some(p)) = (process.oom_score_adj(), &procfs) {
        p.write_oom_score_adj(adj)?;
    }

    if plan.defer_cgroupns {
        expect_go(chan)?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare the cgroup namespace".into())?;
    }
    let in_userns = plan.ns.new_user || joins_user;
    let cwd = process.cwd();
    let mut root = None;
    if plan.ns.has_mount {
        let r = rootfs::bind_root(spec, &plan.bundle.rootfs)?;
        let cgroupns = plan.ns.clone_flags & libc::CLONE_NEWCGROUP as u64 != 0;
        let ctx = mounts::Context {
            root: &r,
            bundle: &plan.bundle.dir,
            cgroups: plan.hierarchies,
            cgroup_path: plan.cgroup_path,
            cgroupns,
            idmapped: plan.idmapped,
            mount_label: crate::lsm::mount_label(spec),
        };
        rootfs::mount_all(&ctx, spec, in_userns)?;
        r.mkdir_all(cwd, 0o755)?;
        root = Some(r);
    }
    if process.terminal().unwrap_or(false) {
        setup_terminal(plan, root.as_ref())?;
    }

    // The parent runs prestart and createRuntime hooks now (after it has set up the
    // cgroups, so createContainer hooks start in them too); without hooks, skip the
    // round trip.
    if [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer].iter().any(|k| !k.of(spec.hooks()).is_empty()) {
        chan.send(&Msg::RunHooks)?;
        expect_go(chan)?;
    }
    hooks::run_all(Kind::CreateContainer, Kind::CreateContainer.of(spec.hooks()), &state_json(Status::Creating))?;

    if let Some(r) = &root {
        rootfs::pivot(r, plan.no_pivot)?;
        rootfs::finish(spec)?;
    }
    drop(root);
    if let Some(linux) = spec.linux() {
        if let (Some(sysctl), Some(p)) = (linux.sysctl().as_ref(), &procfs) {
            for (key, value) in sysctl {
                let path = format!("sys/{}", key.replace('.', "/"));
                p.write(&path, value, &format!("linux.sysctl: {key}={value}"))?;
            }
        }
        if let Some(p) = linux.personality() {
            crate::scheduling::set_personality(p.domain())?;
        }
    }
    if let Some(p) = &procfs {
        // Taken on at execve (checked against the host by `create`).
        labels.apply(p)?;
    }
    drop(procfs);
    if plan.ns.clone_flags & libc::CLONE_NEWNET as u64 != 0 {
        crate::namespaces::loopback_up()?;
    }
    if plan.ns.new_uts {
        if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(h).ctx(|| format!("hostname {h:?}"))?;
        }
        if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
            set_domainname(d)?;
        }
    }

    let (program, argv, envp) = prepare_process(process, plan.caps.as_ref())?;

    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    chan.send(&Msg::Ready)?;

    // From here on the runtime is gone: errors go to stderr.
    match wait_and_exec(plan, &state_json, seccomp.as_ref(), &program, &argv, &envp) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "hull-runtime: container {}: {e}", plan.id);
            // SAFETY: _exit ends the process without the parent's atexit handlers.
            unsafe { libc::_exit(127) }
        }
    }
}

fn wait_and_exec(
    plan: &Plan<'_>,
    state_json: &dyn Fn(Status) -> Vec<u8>,
    seccomp: Option<&SeccompStep<'_>>,
    program: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<Infallible> {
    let spec = &plan.bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    let mut byte = [0u8; 1];
    loop {
        match (&*plan.fifo).read(&mut byte) {
            Ok(1) => break,
            Ok(_) => return Err(Error::Init("exec fifo closed before start".into())),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read exec fifo", e)),
        }
    }
    hooks::run_all(Kind::StartContainer, Kind::StartContainer.of(spec.hooks()), &state_json(Status::Created))?;

    become_user_and_exec(process, plan.caps.as_ref(), seccomp, program, argv, envp)
}

/// What every container process does as root before it reports ready: resolve the
/// program in the container (so a missing one fails `create`/`exec`, not `start`),
/// build argv and envp, set rlimits, scheduler and I/O priority, trim the bounding set.
pub(crate) fn prepare_process(
    process: &oci_spec::runtime::Process,
    caps: Option<&CapSets>,
) -> Result<(CString, Vec<CString>, Vec<CString>)> {
    let args = process.args().as_deref().unwrap_or_default();
    let first = args.first().ok_or_else(|| Error::Precondition("process.args: no program given".into()))?;
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let program = find_program(first, &env, process.cwd())?;
    let argv = cstrings(args.iter().map(|s| s.as_bytes()))?;
    let envp = cstrings(env.iter().map(|s| s.as_bytes()))?;
    crate::rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(s) = process.scheduler() {
        crate::scheduling::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        crate::scheduling::set_io_priority(p)?;
    }
    if let Some(caps) = caps {
        caps.apply_bounding()?;
    }
    Ok((program, argv, envp))
}

/// The last steps of every container process (the init after `start`, and `exec`):
/// groups, gid, uid (keeping capabilities across the switch), umask, cwd, the
/// capability sets, no_new_privs, then execve; the seccomp filter right before execve,
/// or before the user changes when it needs CAP_SYS_ADMIN (no no_new_privs).
pub(crate) fn become_user_and_exec(
    process: &oci_spec::runtime::Process,
    caps: Option<&CapSets>,
    seccomp: Option<&SeccompStep<'_>>,
    program: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<Infallible> {
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    if let Some(s) = seccomp.filter(|_| !no_new_privs) {
        s.load()?;
    }
    let user = process.user();
    let groups: Vec<nix::unistd::Gid> =
        user.additional_gids().iter().flatten().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
    if let Err(e) = nix::unistd::setgroups(&groups) {
        // setgroups is denied in a user namespace whose setgroups file says "deny".
        if !groups.is_empty() || e != nix::errno::Errno::EPERM {
            return Err(Error::sys("process.user.additionalGids: setgroups", e));
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let gid = nix::unistd::Gid::from_raw(user.gid());
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("process.user.gid {}", user.gid()))?;
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("process.user.uid {}", user.uid()))?;
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(user.umask().unwrap_or(0o022)));
    nix::unistd::chdir(process.cwd()).ctx(|| format!("process.cwd {}", process.cwd().display()))?;
    // CVE-2024-21626: a cwd like /proc/self/fd/N through a descriptor of the host
    // leads outside the container; the kernel then reports "(unreachable)".
    match nix::unistd::getcwd() {
        Ok(p) if p.as_os_str().as_encoded_bytes().starts_with(b"/") => {}
        _ => {
            return Err(Error::SpecInvalid {
                field: "process.cwd".into(),
                reason: format!("{} leads outside the container's root", process.cwd().display()),
            })
        }
    }
    if let Some(caps) = caps {
        caps.apply()?;
    }
    if no_new_privs {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::io("process.noNewPrivileges", std::io::Error::last_os_error()));
        }
        if let Some(s) = seccomp {
            s.load()?;
        }
    }
    let e = nix::unistd::execve(program, argv, envp).unwrap_err();
    Err(Error::sys(format!("exec {}", program.to_string_lossy()), e))
}

/// Restores default dispositions and an empty mask: Rust ignores SIGPIPE, and callers
/// may block signals; neither must leak into the container.
pub(crate) fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: restoring the default disposition of a valid signal number.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

pub(crate) fn close_range_cloexec(first: u32) {
    // SAFETY: close_range only changes flags of our own descriptors.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
}

fn become_root() -> Result<()> {
    let root_u = nix::unistd::Uid::from_raw(0);
    let root_g = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g).ctx(|| "setgid 0 in the user namespace".into())?;
    nix::unistd::setresuid(root_u, root_u, root_u).ctx(|| "setuid 0 in the user namespace".into())?;
    Ok(())
}

fn join_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    if let Ok(name) = CString::new(format!("_ses.{id}")) {
        // A kernel without keyrings, or a full quota, is not an error (runc ignores both).
        // SAFETY: keyctl with a valid NUL-terminated name.
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    }
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: setdomainname reads len bytes from a valid buffer.
    if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
        return Err(Error::io(format!("domainname {d:?}"), std::io::Error::last_os_error()));
    }
    Ok(())
}

fn setup_terminal(plan: &Plan<'_>, root: Option<&crate::safe::Root>) -> Result<()> {
    let sock = plan
        .console_socket
        .ok_or_else(|| Error::Precondition("process.terminal is set but no --console-socket was given".into()))?;
    let ptmx: OwnedFd = match root {
        Some(r) => r
            .open_at(Path::new("/dev/ptmx"), nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
            .ctx(|| "open /dev/ptmx in the container".into())?,
        None => nix::fcntl::open(
            "/dev/ptmx",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open /dev/ptmx".into())?,
    };
    let peer = crate::terminal::open_peer(&ptmx)?;
    if let Some(size) = plan.bundle.spec.process().as_ref().and_then(|p| p.console_size()) {
        crate::terminal::set_size(ptmx.as_raw_fd(), size.height() as u16, size.width() as u16)?;
    }
    if let Some(r) = root {
        // CVE-2025-52565: never follow a symlink at /dev/console (it could aim the pty
        // bind at a procfs file). Nothing is unlinked: /dev may be the host's, bound in.
        let path = Path::new("/dev/console");
        let console = match r.open_at(path, nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(&fd).ctx(|| "stat /dev/console in the container".into())?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    return Err(Error::Precondition(
                        "/dev/console in the container is a symlink: refusing to bind the terminal there".into(),
                    ));
                }
                fd
            }
            Err(nix::errno::Errno::ENOENT) => r.create_file(path)?,
            Err(e) => return Err(Error::sys("open /dev/console in the container", e)),
        };
        let src = crate::safe::fd_path(&peer);
        nix::mount::mount(
            Some(src.as_str()),
            crate::safe::fd_path(&console).as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| "bind the pty onto /dev/console".into())?;
    }
    crate::terminal::send_fd(sock, "/dev/ptmx", ptmx.as_raw_fd())?;
    crate::terminal::become_stdio(&peer)?;
    Ok(())
}

/// Resolves the program as execvp would, with the container's PATH, inside the new root.
fn find_program(name: &str, env: &[String], cwd: &Path) -> Result<CString> {
    let executable = |p: &Path| -> bool {
        CString::new(p.as_os_str().as_bytes())
            .map(|c| {
                // SAFETY: access on a valid NUL-terminated path.
                unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
            })
            .unwrap_or(false)
            && p.metadata().is_ok_and(|m| m.is_file())
    };
    // The messages are runc's (Go's exec.LookPath): engines read them, e.g. Docker
    // exits 126 on "permission denied" and 127 on the other two.
    let p = if name.contains('/') {
        let p = if name.starts_with('/') { PathBuf::from(name) } else { cwd.join(name) };
        match std::fs::metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Exec {
                    msg: format!("exec: {name:?}: stat {name}: no such file or directory"),
                    errno: libc::ENOENT,
                })
            }
            _ if executable(&p) => p,
            _ => return Err(Error::Exec { msg: format!("exec: {name:?}: permission denied"), errno: libc::EACCES }),
        }
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(name))
            .find(|p| executable(p))
            .ok_or_else(|| Error::Exec {
                msg: format!("exec: {name:?}: executable file not found in $PATH"),
                errno: libc::ENOENT,
            })?
    };
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Init(format!("{name:?} holds a NUL byte")))
}

fn cstrings<'b>(items: impl Iterator<Item = &'b [u8]>) -> Result<Vec<CString>> {
    items
        .map(|b| {
            CString::new(b)
                .map_err(|_| Error::SpecInvalid { field: "process".into(), reason: "a string holds a NUL byte".into() })
        })
        .collect()
}

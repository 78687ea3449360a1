//! A process `exec`ed into a running container, from its clone to its execve: joins the
//! container's namespaces (the user namespace first; pid and time were joined by the
//! parent for its children when it could), gets a terminal if asked, and then takes the
//! same last steps as the container's init ([`super::init::become_user_and_exec`]).
//!
//! A rootless parent has no privilege over the container's pid and time namespaces
//! (they belong to the container's user namespace): then this process joins them right
//! after the user namespace and forks once more, into a sibling that the parent waits
//! for (CLONE_PARENT), as runc's nsexec does with its second child.

use super::init::{
    become_user_and_exec, close_range_cloexec, prepare_process, recv_listener_doc, reset_signals, SeccompStep,
};
use super::sync::{Channel, Msg};
use crate::capabilities::CapSets;
use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::convert::Infallible;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What the exec'd process needs, prepared by the parent.
pub struct ExecPlan<'a> {
    pub id: &'a str,
    pub process: &'a Process,
    /// Namespaces to join, user namespace first.
    pub join: &'a [(LinuxNamespaceType, OwnedFd)],
    pub console_socket: Option<RawFd>,
    pub preserve_fds: u32,
    pub caps: Option<CapSets>,
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The connected seccomp agent socket (SCMP_ACT_NOTIFY).
    pub seccomp_agent: Option<RawFd>,
    /// Wait for a second go after Ready (a paused container: the parent moves the
    /// process into the frozen cgroup only once it cannot freeze mid-handshake).
    pub go_after_ready: bool,
    /// `join` holds the pid or time namespace: fork after joining, report the new pid.
    pub fork_after_join: bool,
}

/// Runs the exec'd process's setup; never returns.
pub fn run(plan: &ExecPlan<'_>, chan: Channel) -> ! {
    match setup(plan, &chan) {
        Ok(never) => match never {},
        Err(e) => super::report_and_exit(&chan, e),
    }
}

fn setup(plan: &ExecPlan<'_>, chan: &Channel) -> Result<Infallible> {
    let process = plan.process;
    // Until execve, /proc/self/exe is hull's own binary: non-dumpable, no process of the
    // container (without CAP_SYS_PTRACE) can open it (CVE-2019-5736). execve restores
    // dumpability for the user's program.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    reset_signals();
    close_range_cloexec(3 + plan.preserve_fds);
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    match chan.recv()? {
        Some(Msg::Go) => {}
        other => return Err(Error::Init(format!("expected go from the runtime, got {other:?}"))),
    }
    for (t, fd) in plan.join {
        // SAFETY: setns on a descriptor we hold, checked against the expected type.
        if unsafe { libc::setns(fd.as_raw_fd(), crate::namespaces::flag(*t) as libc::c_int) } != 0 {
            return Err(Error::io(format!("join the container's {t} namespace"), std::io::Error::last_os_error()));
        }
        if *t == LinuxNamespaceType::User {
            let root = nix::unistd::Uid::from_raw(0);
            let root_g = nix::unistd::Gid::from_raw(0);
            nix::unistd::setresgid(root_g, root_g, root_g).ctx(|| "setgid 0 in the user namespace".into())?;
            nix::unistd::setresuid(root, root, root).ctx(|| "setuid 0 in the user namespace".into())?;
        }
    }
    if plan.fork_after_join {
        match crate::clone::clone_sibling()? {
            0 => {
                // Changing credentials and forking cleared the parent-death signal.
                // SAFETY: prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            }
            sibling => {
                chan.send(&Msg::Pid(sibling))?;
                // SAFETY: _exit ends this intermediate process at once.
                unsafe { libc::_exit(0) }
            }
        }
    }
    let agent = recv_listener_doc(chan, plan.seccomp_agent)?;
    let seccomp = plan.seccomp.map(|filter| SeccompStep { filter, agent });
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    let labels = crate::lsm::Labels::of(process);
    if process.oom_score_adj().is_some() || !labels.is_empty() {
        let proc = crate::safe::ProcFs::open()?;
        if let Some(adj) = process.oom_score_adj() {
            proc.write_oom_score_adj(adj)?;
        }
        labels.apply(&proc)?;
    }
    if process.terminal().unwrap_or(false) {
        let sock =
            plan.console_socket.ok_or_else(|| Error::Precondition("a terminal needs --console-socket".into()))?;
        // After joining the mount namespace, "/" is the container's root.
        let root = crate::safe::Root::open(Path::new("/"))?;
        let ptmx = root
            .open_at(Path::new("/dev/ptmx"), nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY)
            .ctx(|| "open /dev/ptmx in the container".into())?;
        let peer = crate::terminal::open_peer(&ptmx)?;
        if let Some(size) = process.console_size() {
            crate::terminal::set_size(ptmx.as_raw_fd(), size.height() as u16, size.width() as u16)?;
        }
        crate::terminal::send_fd(sock, "/dev/ptmx", ptmx.as_raw_fd())?;
        crate::terminal::become_stdio(&peer)?;
    }
    let (program, argv, envp) = prepare_process(process, plan.caps.as_ref())?;
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    chan.send(&Msg::Ready)?;
    if plan.go_after_ready {
        match chan.recv()? {
            Some(Msg::Go) => {}
            other => return Err(Error::Init(format!("expected go from the runtime, got {other:?}"))),
        }
    }
    match become_user_and_exec(process, plan.caps.as_ref(), seccomp.as_ref(), &program, &argv, &envp) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "hull-runtime: exec in container {}: {e}", plan.id);
            // SAFETY: _exit ends the process without the parent's atexit handlers.
            unsafe { libc::_exit(127) }
        }
    }
}

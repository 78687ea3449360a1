//! `exec`: start another process inside a created, running (or, when asked, paused)
//! container: its namespaces, its cgroup, and the process spec's user, capabilities,
//! rlimits and no_new_privs. Returns once the process is set up; the caller waits.

use super::{bad, load};
use crate::capabilities::CapSets;
use crate::cgroups;
use crate::clone::{clone_child, Forked};
use crate::error::{Error, Result};
use crate::process::exec::{self as exec_init, ExecPlan};
use crate::process::sync::{self, Msg};
use crate::state::StateStore;
use crate::status::Status;
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The options of `exec` (runc's flags, the process already built).
pub struct ExecOptions<'a> {
    pub id: &'a str,
    pub process: Process,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub pid_file: Option<&'a Path>,
    pub ignore_paused: bool,
}

/// The started process: its pid and a pidfd (the caller is its parent).
pub struct Execed {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Namespaces of `pid` that differ from ours, in join order (user first).
fn namespaces_of(pid: i32) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    use LinuxNamespaceType::*;
    let mut out = Vec::new();
    for (t, name) in [
        (User, "user"),
        (Ipc, "ipc"),
        (Uts, "uts"),
        (Network, "net"),
        (Pid, "pid"),
        (Mount, "mnt"),
        (Cgroup, "cgroup"),
        (Time, "time"),
    ] {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(format!("/proc/self/ns/{name}"))) else {
            continue; // a kernel without this namespace type
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let f = File::open(&theirs).map_err(|e| Error::io(format!("open {theirs}"), e))?;
        out.push((t, OwnedFd::from(f)));
    }
    Ok(out)
}

/// Starts `opts.process` in the container.
pub fn exec(store: &StateStore, opts: ExecOptions<'_>) -> Result<Execed> {
    let id = opts.id;
    let l = load(store, id)?;
    match l.status {
        Status::Created | Status::Running => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => return Err(bad(id, l.status, "cannot exec in a paused container (use --ignore-paused)")),
        s => return Err(bad(id, s, "cannot exec in a container that is not running")),
    }
    let p = &opts.process;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::SpecInvalid { field: "process.args".into(), reason: "exec needs a program to run".into() });
    }
    if !p.cwd().is_absolute() {
        return Err(Error::SpecInvalid {
            field: "process.cwd".into(),
            reason: format!("{:?} is not absolute", p.cwd()),
        });
    }
    crate::lsm::Labels::of(p).check("process")?;
    if p.terminal().unwrap_or(false) && opts.console_socket.is_none() {
        return Err(Error::SpecInvalid {
            field: "process.terminal".into(),
            reason: "a terminal needs --console-socket".into(),
        });
    }
    let mut join = namespaces_of(l.state.pid)?;
    // The pidfd pins nothing yet: make sure the namespaces were the init's.
    if !crate::process::is_alive(l.state.pid, l.state.pid_start) {
        return Err(bad(id, Status::Stopped, "the container stopped"));
    }
    // pid and time namespaces apply to children: join them here, before the clone. A
    // rootless caller may not (they belong to the container's user namespace): then the
    // child joins them after the user namespace and forks once more.
    join.retain(|(t, fd)| {
        // SAFETY: setns on a descriptor we hold; affects only our future children.
        !(matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time)
            && unsafe { libc::setns(fd.as_raw_fd(), crate::namespaces::flag(*t) as libc::c_int) } == 0)
    });
    let fork_after_join = join.iter().any(|(t, _)| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time));
    let caps = p.capabilities().as_ref().map(CapSets::new);
    let hierarchies = cgroups::hierarchies();
    let pure_v2 = hierarchies.iter().all(|h| h.unified);
    // Born in the cgroup on v2, except into a frozen one (it would freeze mid-setup).
    let cgroup_fd: Option<File> = if pure_v2 && l.status != Status::Paused {
        l.state.cgroup_dirs.first().and_then(|d| File::open(d).ok())
    } else {
        None
    };
    // The container's filter, as `create` compiled it.
    let filter = match &l.state.seccomp {
        Some(settings) => {
            let p = l.dir.seccomp_path();
            let bytes = std::fs::read(&p).map_err(|e| Error::io(format!("read {}", p.display()), e))?;
            let program = crate::seccomp::bpf::Chunk::from_bytes(&bytes).ok_or_else(|| Error::StateCorrupt {
                id: id.to_owned(),
                path: p.clone(),
                reason: "not a seccomp program".into(),
            })?;
            Some(crate::seccomp::Filter { program, settings: settings.clone() })
        }
        None => None,
    };
    let agent = filter
        .as_ref()
        .and_then(|f| f.settings.listener_path.as_deref())
        .map(crate::seccomp::notify::connect_agent)
        .transpose()?;
    let (parent, child) = sync::pair()?;
    let plan = ExecPlan {
        id,
        process: p,
        join: &join,
        console_socket: opts.console_socket.as_ref().map(|s| s.as_raw_fd()),
        preserve_fds: opts.preserve_fds,
        caps,
        seccomp: filter.as_ref(),
        seccomp_agent: agent.as_ref().map(|a| a.as_raw_fd()),
        go_after_ready: l.status == Status::Paused,
        fork_after_join,
    };
    let (mut pid, mut pidfd) = match clone_child(0, cgroup_fd.as_ref().map(|f| f.as_raw_fd()))? {
        Forked::Child => {
            drop(parent);
            // No host directory descriptor may stay open in the container (CVE-2024-21626).
            drop(cgroup_fd);
            l.dir.forget_in_child();
            exec_init::run(&plan, child)
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(child);
    let kill = |pid: i32| {
        move |e: Error| {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            e
        }
    };
    let paused = l.status == Status::Paused;
    let dirs: Vec<PathBuf> = l.state.cgroup_dirs.iter().filter(|d| d.exists()).cloned().collect();
    if cgroup_fd.is_none() && !paused {
        cgroups::join(&dirs, pid).map_err(kill(pid))?;
    }
    parent.send(&Msg::Go).map_err(kill(pid))?;
    let mut ready = false;
    if fork_after_join {
        // The intermediate reports the sibling that carries on (our child too) and exits.
        // Both write to this channel: the sibling's Ready (when it needs no listener
        // document) may come first.
        let sibling = loop {
            match parent.recv().map_err(kill(pid))? {
                Some(Msg::Pid(p)) => break p,
                Some(Msg::Ready) if !ready => ready = true,
                Some(other) => return Err(kill(pid)(other.into_error("exec'd process: "))),
                None => return Err(kill(pid)(Error::Init("exec'd process: unexpected None".into()))),
            }
        };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        pid = sibling;
        pidfd = crate::clone::pidfd_of_child(pid).map_err(kill(pid))?;
    }
    if let Some(f) = filter.as_ref().filter(|_| agent.is_some()) {
        let oci = crate::state::OciState::new(&l.state, l.status);
        let doc = crate::seccomp::notify::message(&oci, &oci.oci_version, pid, &f.settings.listener_metadata);
        parent.send(&Msg::Listener(doc)).map_err(kill(pid))?;
    }
    drop(agent);
    if !ready {
        match parent.recv().map_err(kill(pid))? {
            Some(Msg::Ready) => {}
            Some(other) => return Err(kill(pid)(other.into_error("exec'd process: "))),
            None => return Err(kill(pid)(Error::Init("exec'd process: unexpected None".into()))),
        }
    }
    if paused {
        // Into the frozen cgroup only now: it freezes there, as runc's --ignore-paused does.
        cgroups::join(&dirs, pid).map_err(kill(pid))?;
        parent.send(&Msg::Go).map_err(kill(pid))?;
    }
    if let Some(f) = opts.pid_file {
        let tmp = f.with_extension("hull-tmp");
        std::fs::write(&tmp, pid.to_string())
            .and_then(|_| std::fs::rename(&tmp, f))
            .map_err(|e| Error::io(format!("--pid-file {}", f.display()), e))?;
    }
    Ok(Execed { pid, pidfd })
}

//! `--init`: hull's own binary, bind-mounted at /sbin/hull-init, runs as the
//! container's pid 1 in front of the command (as tini does for Docker): it forwards
//! the signals it gets to the command, reaps every orphan that is reparented to it,
//! and exits with the command's status when the command exits.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;

pub fn main(args: Vec<OsString>) -> i32 {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("hull-init: no command to run");
        return 2;
    };
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    // Signals queue for the signalfd; the command gets an empty mask back.
    if nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None).is_err() {
        return 2;
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    // SAFETY: sigprocmask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let empty = SigSet::empty();
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&empty), None).map_err(std::io::Error::from)
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!("hull-init: exec {}: {e}", program.to_string_lossy());
            return if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
        }
    };
    let Ok(sfd) = SignalFd::with_flags(&all, SfdFlags::SFD_CLOEXEC) else { return 2 };
    loop {
        let Ok(Some(info)) = sfd.read_signal() else { continue };
        let sig = info.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            // SAFETY: kill of our own child.
            unsafe { libc::kill(child, sig) };
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: reaps any child of ours without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                return if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                };
            }
        }
    }
}

//! Running a container's process in the foreground of the caller: signals forwarded
//! through a signalfd (nothing runs in a signal handler), and with a terminal the pty
//! master received from the init and copied to and from the caller's own stdio (raw
//! mode, window size). Shared by `hull-runtime run|exec` and `hull exec`.

use crate::{Error, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// A socketpair standing in for --console-socket: the container's pty master comes
/// back to us on the first end, and we proxy it (foreground `run` and `exec -t`).
pub fn own_console() -> Result<(UnixStream, OwnedFd)> {
    let (ours, theirs) = UnixStream::pair().map_err(|e| Error::io("socketpair for the console", e))?;
    Ok((ours, OwnedFd::from(theirs)))
}

/// The signals forwarded to a waited-for process, blocked now (when `block`) so they
/// queue for the signalfd; the container's processes reset their own mask.
pub fn block_forwarded_signals(block: bool) -> Result<SigSet> {
    let mut forward = SigSet::all();
    forward.remove(Signal::SIGKILL);
    forward.remove(Signal::SIGSTOP);
    if block {
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forward), None)
            .map_err(|e| Error::sys("block signals", e))?;
    }
    Ok(forward)
}

/// Runs an exec'd process in the caller's foreground, the sequence `hull-runtime exec`
/// and `hull exec` share: with a terminal and no console socket the pty master comes
/// back to us and is proxied; the forwarded signals are blocked before the clone so
/// none is lost; `on_start` sees the new pid; then, unless `detach`, the process is
/// waited for with signals forwarded. Returns its exit code (0 when detached).
pub fn exec(
    store: &crate::state::StateStore,
    mut opts: crate::container::ExecOptions<'_>,
    detach: bool,
    on_start: impl FnOnce(i32),
) -> Result<i32> {
    let mut own_pty = None;
    if opts.process.terminal().unwrap_or(false) && opts.console_socket.is_none() {
        if detach {
            return Err(Error::Precondition("a detached exec with a terminal needs --console-socket".into()));
        }
        let (ours, theirs) = own_console()?;
        opts.console_socket = Some(theirs);
        own_pty = Some(ours);
    }
    let forward = block_forwarded_signals(!detach)?;
    let started = crate::container::exec(store, opts)?;
    on_start(started.pid);
    let master = match &own_pty {
        Some(s) => Some(recv_fd(s)?),
        None => None,
    };
    if detach {
        return Ok(0);
    }
    wait(started.pid, &started.pidfd, &forward, master)
}

pub fn recv_fd(sock: &UnixStream) -> Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| Error::sys("receive the pty master", e))?;
    for c in msg.cmsgs().map_err(|e| Error::sys("receive the pty master", e))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel gave us this descriptor.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(Error::Init("no pty master received".into()))
}

/// Waits for the init, forwarding signals and copying terminal data; returns the exit
/// code (128+N for a signal).
pub fn wait(pid: i32, pidfd: &OwnedFd, forward: &SigSet, master: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(forward, SfdFlags::SFD_CLOEXEC).map_err(|e| Error::sys("signalfd", e))?;
    let raw = master.as_ref().map(|_| RawMode::enter());
    if let Some(m) = &master {
        copy_winsize(m.as_raw_fd());
    }
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    // Only a terminal needs a copy buffer (zeroing it would add 32 KiB to the RSS).
    let mut buf = if master.is_some() { vec![0u8; 32 * 1024] } else { Vec::new() };
    loop {
        let mut fds = vec![
            libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: sfd.as_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        if let Some(m) = &master {
            fds.push(libc::pollfd {
                fd: if master_open { m.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            });
            fds.push(libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 });
        }
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::io("poll", std::io::Error::last_os_error()));
        }
        if let Some(m) = &master {
            if fds[2].revents != 0 {
                master_open = pump(m.as_raw_fd(), 1, &mut buf);
            }
            if fds[3].revents != 0 {
                stdin_open = pump(0, m.as_raw_fd(), &mut buf);
            }
        }
        if fds[1].revents != 0 {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    if let Some(m) = &master {
                        copy_winsize(m.as_raw_fd());
                    }
                } else if sig != libc::SIGCHLD {
                    // SAFETY: signals our own child, which we have not reaped yet.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        if fds[0].revents != 0 {
            break;
        }
    }
    // Drain what the container wrote last.
    if let Some(m) = &master {
        while master_open && crate::hooks::poll_readable(m.as_fd(), 0) {
            master_open = pump(m.as_raw_fd(), 1, &mut buf);
        }
    }
    drop(raw);
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(Error::io("wait for the container", std::io::Error::last_os_error()));
    }
    Ok(if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) })
}

/// Copies one read from `from` to `to`; false at end of input.
pub fn pump(from: RawFd, to: RawFd, buf: &mut [u8]) -> bool {
    // SAFETY: read into a valid buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
    }
    let mut off = 0;
    while off < n as usize {
        // SAFETY: write from a valid buffer.
        let w = unsafe { libc::write(to, buf[off..].as_ptr().cast(), n as usize - off) };
        if w <= 0 {
            return false;
        }
        off += w as usize;
    }
    true
}

pub fn copy_winsize(master: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
    }
}

/// Our stdin in raw mode while a container's terminal is attached; restored on drop.
pub struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        match nix::sys::termios::tcgetattr(&stdin) {
            Ok(orig) => {
                let mut raw = orig.clone();
                nix::sys::termios::cfmakeraw(&mut raw);
                let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
                RawMode(Some(orig))
            }
            Err(_) => RawMode(None),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, orig);
        }
    }
}

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

/// How an exec'd process's standard streams reach the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// The caller's own descriptors, as they are (an OCI runtime's contract: containerd
    /// hands it the fifos the process must write to).
    Inherit,
    /// Pipes the caller owns and copies to and from its own stdio (stdin only when
    /// `stdin`): the process never holds a descriptor of the caller's files, which a
    /// process in the container could reopen through `/proc/PID/fd` (an engine's exec).
    /// Detached, its output goes to /dev/null.
    Relay { stdin: bool },
}

/// Runs an exec'd process in the caller's foreground, the sequence `hull-runtime exec`
/// and `hull exec` share: with a terminal and no console socket the pty master comes
/// back to us and is proxied; without a terminal its streams are the caller's or pipes
/// the caller relays ([`Streams`]); the forwarded signals are blocked before the clone
/// so none is lost; `on_start` sees the new pid; then, unless `detach`, the process is
/// waited for with signals forwarded. Returns its exit code (0 when detached).
pub fn exec(
    store: &crate::state::StateStore,
    mut opts: crate::container::ExecOptions<'_>,
    detach: bool,
    streams: Streams,
    on_start: impl FnOnce(i32),
) -> Result<i32> {
    let terminal = opts.process.terminal().unwrap_or(false);
    let mut own_pty = None;
    if terminal && opts.console_socket.is_none() {
        if detach {
            return Err(Error::Precondition("a detached exec with a terminal needs --console-socket".into()));
        }
        let (ours, theirs) = own_console()?;
        opts.console_socket = Some(theirs);
        own_pty = Some(ours);
    }
    let forward = block_forwarded_signals(!detach)?;
    let relayed = match streams {
        Streams::Relay { stdin } if !terminal => Some(Relayed::swap_in(stdin, detach)?),
        _ => None,
    };
    let started = crate::container::exec(store, opts);
    // Our own stdio back, whatever happened.
    let io = match relayed {
        Some(r) => r.swap_back()?,
        None => Io::None,
    };
    let started = started?;
    on_start(started.pid);
    let io = match &own_pty {
        Some(s) => Io::Terminal(recv_fd(s)?),
        None => io,
    };
    if detach {
        return Ok(0);
    }
    wait(started.pid, &started.pidfd, &forward, io)
}

/// What a waited-for process's output and input go through.
pub enum Io {
    /// Nothing to copy: the process has the caller's own descriptors.
    None,
    /// A pty master: copied to our stdout, our stdin copied to it.
    Terminal(OwnedFd),
    /// Pipes: `out` and `err` copied to our stdout and stderr, our stdin to `input`.
    Pipes { out: OwnedFd, err: OwnedFd, input: Option<OwnedFd> },
}

/// The caller's descriptors 0, 1 and 2 while an exec'd process is cloned with pipes
/// (or /dev/null) in their place.
struct Relayed {
    saved: [OwnedFd; 3],
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    input: Option<OwnedFd>,
}

impl Relayed {
    /// Puts pipe ends (detached: /dev/null) at 0 (with `stdin`), 1 and 2; the other
    /// ends are kept, close-on-exec.
    fn swap_in(stdin: bool, detach: bool) -> Result<Relayed> {
        let dup = |fd: RawFd| -> Result<OwnedFd> {
            // SAFETY: F_DUPFD_CLOEXEC of one of our standard descriptors.
            let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            if n < 0 {
                return Err(Error::io("duplicate standard descriptors", std::io::Error::last_os_error()));
            }
            // SAFETY: a new descriptor we own.
            Ok(unsafe { OwnedFd::from_raw_fd(n) })
        };
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e));
        let place = |fd: &OwnedFd, at: RawFd| -> Result<()> {
            // SAFETY: dup2 onto one of our standard descriptors (no flags: the clone
            // inherits it).
            if unsafe { libc::dup2(fd.as_raw_fd(), at) } < 0 {
                return Err(Error::io("set up the exec's stdio", std::io::Error::last_os_error()));
            }
            Ok(())
        };
        let saved = [dup(0)?, dup(1)?, dup(2)?];
        let mut r = Relayed { saved, out: None, err: None, input: None };
        if detach {
            let null: OwnedFd = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| Error::io("/dev/null", e))?
                .into();
            place(&null, 1)?;
            place(&null, 2)?;
            if stdin {
                place(&null, 0)?;
            }
            return Ok(r);
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        place(&out_w, 1)?;
        place(&err_w, 2)?;
        r.out = Some(out_r);
        r.err = Some(err_r);
        if stdin {
            let (in_r, in_w) = pipe()?;
            place(&in_r, 0)?;
            r.input = Some(in_w);
        }
        Ok(r)
    }

    /// Restores our descriptors 0, 1 and 2; what is left to copy.
    fn swap_back(self) -> Result<Io> {
        for (i, fd) in self.saved.iter().enumerate() {
            // SAFETY: dup2 of a descriptor we saved back onto its place.
            if unsafe { libc::dup2(fd.as_raw_fd(), i as RawFd) } < 0 {
                return Err(Error::io("restore standard descriptors", std::io::Error::last_os_error()));
            }
        }
        Ok(match (self.out, self.err) {
            (Some(out), Some(err)) => Io::Pipes { out, err, input: self.input },
            _ => Io::None,
        })
    }
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

/// One copy the foreground does while it waits.
struct Copy {
    from: RawFd,
    to: RawFd,
    open: bool,
    /// Our stdin to the process: not read once the process has exited.
    input: bool,
}

/// Waits for the process, forwarding signals and copying its streams (`io`); returns
/// the exit code (128+N for a signal).
pub fn wait(pid: i32, pidfd: &OwnedFd, forward: &SigSet, mut io: Io) -> Result<i32> {
    let sfd = SignalFd::with_flags(forward, SfdFlags::SFD_CLOEXEC).map_err(|e| Error::sys("signalfd", e))?;
    let master = match &io {
        Io::Terminal(m) => Some(m.as_raw_fd()),
        _ => None,
    };
    let raw = master.map(|_| RawMode::enter());
    if let Some(m) = master {
        copy_winsize(m);
    }
    let mut copies = match &io {
        Io::None => Vec::new(),
        Io::Terminal(m) => vec![
            Copy { from: m.as_raw_fd(), to: 1, open: true, input: false },
            Copy { from: 0, to: m.as_raw_fd(), open: true, input: true },
        ],
        Io::Pipes { out, err, input } => {
            let mut c = vec![
                Copy { from: out.as_raw_fd(), to: 1, open: true, input: false },
                Copy { from: err.as_raw_fd(), to: 2, open: true, input: false },
            ];
            if let Some(i) = input {
                c.push(Copy { from: 0, to: i.as_raw_fd(), open: true, input: true });
            }
            c
        }
    };
    // Only copies need a buffer (zeroing one would add 32 KiB to the RSS).
    let mut buf = if copies.is_empty() { Vec::new() } else { vec![0u8; 32 * 1024] };
    loop {
        let mut fds = vec![
            libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: sfd.as_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        for c in &copies {
            fds.push(libc::pollfd { fd: if c.open { c.from } else { -1 }, events: libc::POLLIN, revents: 0 });
        }
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::io("poll", std::io::Error::last_os_error()));
        }
        for (c, p) in copies.iter_mut().zip(&fds[2..]) {
            if c.open && p.revents != 0 {
                c.open = pump(c.from, c.to, &mut buf);
                if !c.open && c.input {
                    // Our stdin ended: so does the process's (a pty's input stays).
                    if let Io::Pipes { input, .. } = &mut io {
                        drop(input.take());
                    }
                }
            }
        }
        if fds[1].revents != 0 {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    if let Some(m) = master {
                        copy_winsize(m);
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
    // What the process wrote last: a pty's until it has nothing more; pipes to their
    // end, or for at most two seconds when something it started still holds them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for c in copies.iter_mut().filter(|c| !c.input) {
        while c.open {
            let left = deadline.saturating_duration_since(std::time::Instant::now()).as_millis() as u64;
            // SAFETY: c.from is a descriptor `io` owns for as long as this runs.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(c.from) };
            let wait = if master.is_some() { 0 } else { left };
            if !crate::hooks::poll_readable(fd, wait) {
                break;
            }
            c.open = pump(c.from, c.to, &mut buf);
        }
    }
    drop(raw);
    drop(io);
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

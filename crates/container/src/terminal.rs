//! The container's terminal: with `process.terminal`, the init opens a pty inside the
//! container's own devpts, makes its peer the controlling terminal and stdio, binds it
//! onto /dev/console, and sends the master to `--console-socket` over SCM_RIGHTS, as
//! runc does (containerd, Docker and Podman receive it there).

use crate::error::{Context, Error, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Opens the peer of a pty master (TIOCGPTPEER: no path lookup in /dev/pts).
pub fn open_peer(master: &OwnedFd) -> Result<OwnedFd> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "unlock pty".into());
    }
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let fd =
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "open pty peer".into());
    }
    // SAFETY: fd is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the window size of a terminal.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "process.consoleSize".into());
    }
    Ok(())
}

/// Makes `slave` the caller's stdio and controlling terminal (the caller leads a session).
pub fn become_stdio(slave: &OwnedFd) -> Result<()> {
    for target in 0..3 {
        // SAFETY: dup2 between descriptors we hold.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| format!("dup2 pty to fd {target}"));
        }
    }
    // SAFETY: TIOCSCTTY with argument 0.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "make the pty the controlling terminal".into());
    }
    Ok(())
}

/// Sends `fd` over the unix socket `sock` with `name` as the payload.
pub fn send_fd(sock: RawFd, name: &str, fd: RawFd) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| Error::sys("send the pty master to --console-socket", e))?;
    Ok(())
}

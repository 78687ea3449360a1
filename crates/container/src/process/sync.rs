//! Messages between `create` (the parent) and the container's init (the child), over a
//! SOCK_SEQPACKET socketpair: each message is one datagram, a tag byte plus a payload.

use crate::error::{Error, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};

/// One message.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent → child: continue (id maps written / hooks run).
    Go,
    /// child → parent: mounts are ready; run prestart and createRuntime hooks.
    RunHooks,
    /// child → parent: set up, now waiting for `start`.
    Ready,
    /// child → parent: setup failed with this message.
    Failed(String),
    /// child → parent: the program could not be executed (errno, message).
    ExecFailed(i32, String),
    /// parent → child: the OCI state document for hooks.
    State(Vec<u8>),
    /// parent → child: the document that goes with the seccomp listener to the agent.
    Listener(Vec<u8>),
    /// child → parent: the pid (in the parent's namespace) of the process that carries
    /// on in the child's place (an exec'd process forks once more to enter a pid
    /// namespace it could only join after the container's user namespace).
    Pid(i32),
}

impl Msg {
    /// The error a failure message from the child stands for (None for the others).
    pub fn failure(self) -> Option<Error> {
        match self {
            Msg::Failed(m) => Some(Error::Init(m)),
            Msg::ExecFailed(errno, msg) => Some(Error::Exec { msg, errno }),
            _ => None,
        }
    }

    /// The error this message means where it was not expected: its failure, or
    /// `unexpected MSG` after `context`.
    pub fn into_error(self, context: &str) -> Error {
        let unexpected = format!("{context}unexpected message {self:?}");
        self.failure().unwrap_or(Error::Init(unexpected))
    }
}

/// One end of the channel.
pub struct Channel(OwnedFd);

/// A connected pair (parent end, child end), close-on-exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| Error::sys("socketpair", e))?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    /// Sends a message.
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let mut buf = Vec::with_capacity(64);
        match msg {
            Msg::Go => buf.push(b'G'),
            Msg::RunHooks => buf.push(b'H'),
            Msg::Ready => buf.push(b'R'),
            Msg::Failed(s) => {
                buf.push(b'F');
                buf.extend_from_slice(&s.as_bytes()[..s.len().min(MAX - 1)]);
            }
            Msg::ExecFailed(errno, s) => {
                buf.push(b'X');
                buf.extend_from_slice(&errno.to_le_bytes());
                buf.extend_from_slice(&s.as_bytes()[..s.len().min(MAX - 5)]);
            }
            Msg::State(d) => {
                buf.push(b'S');
                buf.extend_from_slice(&d[..d.len().min(MAX - 1)]);
            }
            Msg::Listener(d) => {
                buf.push(b'L');
                buf.extend_from_slice(&d[..d.len().min(MAX - 1)]);
            }
            Msg::Pid(pid) => {
                buf.push(b'P');
                buf.extend_from_slice(&pid.to_le_bytes());
            }
        }
        send(self.0.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL).map_err(|e| Error::sys("send to init", e))?;
        Ok(())
    }

    /// Receives a message; `None` when the other end closed without a word.
    pub fn recv(&self) -> Result<Option<Msg>> {
        // Learn the datagram's size first, so no large buffer is zeroed per message.
        let size = loop {
            match recv(self.0.as_raw_fd(), &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive from init", e)),
                Ok(n) => break n.min(MAX),
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive from init", e)),
                Ok(n) => break n,
            }
        };
        Ok(match buf.get(..n) {
            None | Some([]) => None,
            Some([b'G']) => Some(Msg::Go),
            Some([b'H']) => Some(Msg::RunHooks),
            Some([b'R']) => Some(Msg::Ready),
            Some([b'F', rest @ ..]) => Some(Msg::Failed(String::from_utf8_lossy(rest).into_owned())),
            Some([b'S', rest @ ..]) => Some(Msg::State(rest.to_vec())),
            Some([b'X', a, b, c, d, rest @ ..]) => {
                Some(Msg::ExecFailed(i32::from_le_bytes([*a, *b, *c, *d]), String::from_utf8_lossy(rest).into_owned()))
            }
            Some([b'L', rest @ ..]) => Some(Msg::Listener(rest.to_vec())),
            Some([b'P', a, b, c, d]) => Some(Msg::Pid(i32::from_le_bytes([*a, *b, *c, *d]))),
            Some(other) => Some(Msg::Failed(format!("garbled message from init: {other:?}"))),
        })
    }

    /// The raw descriptor.
    pub fn fd(&self) -> &OwnedFd {
        &self.0
    }
}

const MAX: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (a, b) = pair().unwrap();
        for m in [
            Msg::Go,
            Msg::RunHooks,
            Msg::Ready,
            Msg::Failed("mount /proc: EPERM".into()),
            Msg::ExecFailed(libc::ENOENT, "exec: \"x\": executable file not found in $PATH".into()),
            Msg::State(b"{}".to_vec()),
            Msg::Listener(b"{}".to_vec()),
            Msg::Pid(4242),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}

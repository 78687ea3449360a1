//! SCMP_ACT_NOTIFY: the container process hands its listener descriptor to the agent at
//! `listenerPath`, as runc does: one message on a stream socket, the JSON document
//! `{"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}` with the descriptor
//! attached (SCM_RIGHTS).
//!
//! The socket is connected by the runtime before the clone, in the host's mount
//! namespace (so a missing agent fails `create`, and the path is the host's); the
//! container process only sends on it, right after loading the filter.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Connects to the agent's socket (close-on-exec: it never reaches the user's program).
pub fn connect_agent(path: &Path) -> Result<OwnedFd> {
    let what = || format!("seccomp listenerPath {}", path.display());
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).ctx(what)?;
    let addr = UnixAddr::new(path).ctx(what)?;
    connect(sock.as_raw_fd(), &addr).ctx(what)?;
    Ok(sock)
}

/// The document sent with the descriptor; `state` is the container's OCI state
/// document and `pid` the filtered process's pid on the host.
pub fn message(state: &impl serde::Serialize, oci_version: &str, pid: i32, metadata: &str) -> Vec<u8> {
    let doc = serde_json::json!({
        "ociVersion": oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    });
    serde_json::to_vec(&doc).expect("state serialises")
}

/// Sends `message` with `fd` attached.
pub fn send(sock: RawFd, message: &[u8], fd: RawFd) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(message)];
    let mut sent = sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| Error::sys("send the seccomp listener to listenerPath", e))?;
    // A stream may take the document in parts; the descriptor went with the first.
    while sent < message.len() {
        let iov = [IoSlice::new(&message[sent..])];
        sent += sendmsg::<()>(sock, &iov, &[], MsgFlags::MSG_NOSIGNAL, None)
            .map_err(|e| Error::sys("send the seccomp listener to listenerPath", e))?;
    }
    Ok(())
}

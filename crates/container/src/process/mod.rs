//! The process model.
//!
//! `create` clones the container's init directly (clone3, no re-exec of the hull
//! binary). The child is a copy of a process that this module first checks to be
//! single-threaded: with no other thread, no lock (malloc's, stdio's) can be held by
//! someone who does not exist in the child, so the child may run ordinary Rust until it
//! execs. Callers that hold threads (the engine) must run `create` in a single-threaded
//! helper process; [`crate::clone::clone_child`] refuses otherwise.
//!
//! Parent and child talk over a `SOCK_SEQPACKET` socketpair ([`sync`]); the child holds
//! between create and start on a fifo in the state directory ([`init`]).

pub mod exec;
pub mod init;
pub mod sealed_exe;
pub mod sync;

pub use crate::pid::{is_alive, signal, start_time, stat, user_name};

use crate::error::Error;

/// The end of a cloned child whose setup failed: one message to the parent (which
/// wraps it in [`Error::Init`], so an Init error is sent bare), then `_exit(1)`.
pub(crate) fn report_and_exit(chan: &sync::Channel, err: Error) -> ! {
    let msg = match err {
        Error::Init(m) => sync::Msg::Failed(m),
        Error::Exec { msg, errno } => sync::Msg::ExecFailed(errno, msg),
        e => sync::Msg::Failed(e.to_string()),
    };
    let _ = chan.send(&msg);
    // SAFETY: _exit ends the child without running the parent's atexit handlers.
    unsafe { libc::_exit(1) }
}

//! The library's error type: every failure names the container, path or field involved.

use std::path::PathBuf;

/// Result with hull's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a container's life.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json could not be read or parsed.
    #[error("{path}: {reason}")]
    SpecLoad { path: PathBuf, reason: String },
    /// config.json parsed but asks for something invalid.
    #[error("invalid config.json: {field}: {reason}")]
    SpecInvalid { field: String, reason: String },
    /// The container id is not acceptable.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// No container with this id in the state root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A container with this id already exists.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// The operation is not allowed in the container's current status.
    #[error("container {id:?} is {status}: {reason}")]
    BadStatus { id: String, status: crate::status::Status, reason: &'static str },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The container's init failed during setup; `msg` is its own report.
    #[error("container init: {0}")]
    Init(String),
    /// The container's program could not be executed: `errno` is ENOENT (not found) or
    /// EACCES (not executable), so that engines can tell 127 from 126 without reading
    /// `msg` (runc's words, which engines have matched so far).
    #[error("container init: {msg}")]
    Exec { msg: String, errno: i32 },
    /// A hook failed.
    #[error("{hook} hook {path}: {reason}")]
    Hook { hook: &'static str, path: PathBuf, reason: String },
    /// A signal name or number that does not exist.
    #[error("unknown signal {0:?}")]
    BadSignal(String),
    /// The state file of a container is damaged.
    #[error("state of container {id:?} ({path}): {reason}")]
    StateCorrupt { id: String, path: PathBuf, reason: String },
    /// The process model's precondition was broken by the caller.
    #[error("{0}")]
    Precondition(String),
}

impl Error {
    /// Wraps an `io::Error` with a description of what was attempted.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }
    /// Wraps an errno from `nix` with a description of what was attempted.
    pub fn sys(what: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Io { what: what.into(), source: std::io::Error::from_raw_os_error(errno as i32) }
    }
    /// A system call found no such file.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Adds context to `io::Result` and `nix::Result` values.
pub trait Context<T> {
    /// Describes the failed step with `what` (a path, a field, a syscall).
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}

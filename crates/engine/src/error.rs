//! The engine's error type: what went wrong, with the container, image or path named,
//! and a [`Kind`] that front ends branch on (the command line's exit statuses, the
//! API's HTTP statuses) without reading the text.

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] hull_image::Error),
    #[error(transparent)]
    Container(#[from] hull_container::Error),
    #[error(transparent)]
    Network(#[from] hull_network::Error),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such volume: {0}")]
    NoSuchVolume(String),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    /// A name in use, a container in the wrong state, an image in use.
    #[error("{0}")]
    Conflict(String),
    /// The operation needs a running container.
    #[error("{0}")]
    NotRunning(String),
    /// Nothing to do: the container already is as asked (Docker's API answers 304).
    #[error("{0}")]
    NotModified(String),
    /// A flag or argument that cannot be honoured.
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The container's command could not be started: 126 (not executable) or 127 (not
    /// found), as Docker.
    #[error("{msg}")]
    Exec { msg: String, code: i32 },
}

/// What kind of failure an [`Error`] is: what a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No such container, image or volume (HTTP 404; exit 1 from the CLI's verbs).
    NotFound,
    /// A name in use, an object in use or in the wrong state (HTTP 409).
    Conflict,
    /// The container is not running (HTTP 409).
    NotRunning,
    /// Already in the state asked for (HTTP 304).
    NotModified,
    /// Bad input: a flag, a field, a reference (HTTP 400).
    InvalidArgument,
    /// The container's command cannot run: 126 not executable, 127 not found.
    CannotExecute(i32),
    /// Everything else: the system, the store, the runtime (HTTP 500).
    Internal,
}

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }

    /// An `io::Error` mapper naming what was attempted.
    pub fn at(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
        move |e| Error::io(what.to_string(), e)
    }

    /// The kind of this failure.
    pub fn kind(&self) -> Kind {
        use hull_container::Error as C;
        use hull_image::Error as I;
        match self {
            Error::NoSuchContainer(_)
            | Error::NoSuchVolume(_)
            | Error::NoSuchExec(_)
            | Error::Image(I::NoSuchImage(_)) => Kind::NotFound,
            Error::Container(C::NotFound(_)) => Kind::NotFound,
            Error::Conflict(_) | Error::Container(C::AlreadyExists(_) | C::BadStatus { .. }) => Kind::Conflict,
            Error::Network(hull_network::Error::NotFound(_)) => Kind::NotFound,
            Error::Network(hull_network::Error::Conflict(_)) => Kind::Conflict,
            Error::Network(hull_network::Error::Invalid(_)) => Kind::InvalidArgument,
            Error::NotRunning(_) => Kind::NotRunning,
            Error::NotModified(_) => Kind::NotModified,
            Error::Invalid(_) | Error::Image(I::Reference(_)) => Kind::InvalidArgument,
            Error::Container(C::SpecInvalid { .. } | C::BadSignal(_) | C::InvalidId { .. }) => Kind::InvalidArgument,
            Error::Exec { code, .. } => Kind::CannotExecute(*code),
            Error::Container(C::Exec { errno, .. }) => Kind::CannotExecute(exec_status(*errno)),
            _ => Kind::Internal,
        }
    }

    /// The exit status of `hull run|create|start` failing with this error: 125 for the
    /// engine's own failures, 126/127 when the command cannot run.
    pub fn run_status(&self) -> i32 {
        match self.kind() {
            Kind::CannotExecute(code) => code,
            _ => 125,
        }
    }

    /// A start failure reported by a container's monitor: its status and message.
    pub fn start_failure(status: i32, msg: String) -> Error {
        match status {
            126 | 127 => Error::Exec { msg, code: status },
            _ => Error::Conflict(msg),
        }
    }
}

/// Docker's exit status for a program the init could not execute: 127 when it does
/// not exist, 126 when it cannot be executed.
pub fn exec_status(errno: i32) -> i32 {
    if errno == libc::ENOENT || errno == libc::ENOTDIR {
        127
    } else {
        126
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_types_not_text() {
        let e = Error::Container(hull_container::Error::Exec { msg: "permission denied".into(), errno: libc::EACCES });
        assert_eq!(e.kind(), Kind::CannotExecute(126));
        let e = Error::Container(hull_container::Error::Exec { msg: "whatever".into(), errno: libc::ENOENT });
        assert_eq!(e.run_status(), 127);
        // Words alone no longer decide: an init failure that mentions exec is the engine's.
        let e = Error::Container(hull_container::Error::Init("exec: executable file not found".into()));
        assert_eq!(e.run_status(), 125);
        assert_eq!(Error::Image(hull_image::Error::NoSuchImage("x".into())).kind(), Kind::NotFound);
        assert_eq!(Error::NoSuchContainer("x".into()).kind(), Kind::NotFound);
        assert_eq!(Error::start_failure(127, "x".into()).run_status(), 127);
        assert_eq!(Error::start_failure(125, "x".into()).run_status(), 125);
    }
}

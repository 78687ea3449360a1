//! The engine's error type: what went wrong, with the container, image or path named,
//! and the exit status Docker's command line gives for it.

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a `hull` command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] hull_image::Error),
    #[error(transparent)]
    Container(#[from] hull_container::Error),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// A name in use, a container in the wrong state, an image in use.
    #[error("{0}")]
    Conflict(String),
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

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }

    /// An `io::Error` mapper naming what was attempted.
    pub fn at(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
        move |e| Error::io(what.to_string(), e)
    }

    /// The exit status of `hull run|create|start` failing with this error: 125 for the
    /// engine's own failures, 126/127 when the command cannot run.
    pub fn run_status(&self) -> i32 {
        match self {
            Error::Exec { code, .. } => *code,
            _ => 125,
        }
    }

    /// Classifies an init's failure to find or execute the command (runc's wording,
    /// which Docker reads the same way).
    pub fn from_start_failure(msg: String) -> Error {
        let lower = msg.to_ascii_lowercase();
        if lower.contains("executable file not found") || (lower.contains("exec") && lower.contains("no such file")) {
            Error::Exec { msg, code: 127 }
        } else if lower.contains("exec") && (lower.contains("permission denied") || lower.contains("format error")) {
            Error::Exec { msg, code: 126 }
        } else {
            Error::Conflict(msg)
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Invalid(e.to_string())
    }
}

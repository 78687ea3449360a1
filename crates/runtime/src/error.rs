//! hull-runtime's own errors: the runtime library's, and those of its command line
//! (a flag, a `--process` or `--resources` file, a `ps` run) that the library never
//! sees. Each is printed as one line naming the container, path or flag involved.

/// Result with hull-runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Container(#[from] hull_container::Error),
    /// A flag, or a file a flag names, that cannot be used.
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }
}

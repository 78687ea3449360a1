//! hull-network's errors: each names what it was doing and the object involved.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network that does not exist.
    #[error("network {0} not found")]
    NotFound(String),
    /// Taken already: a name, an address, a port.
    #[error("{0}")]
    Conflict(String),
    /// Bad input: a subnet, an address, an option.
    #[error("{0}")]
    Invalid(String),
    /// The kernel refused a netlink request.
    #[error("{what}: {source}")]
    Netlink { what: String, source: std::io::Error },
    /// nftables refused hull's rules.
    #[error("nftables: {0}")]
    Firewall(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }

    /// `map_err(Error::at("what"))` for io errors.
    pub fn at(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

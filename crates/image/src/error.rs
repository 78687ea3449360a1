//! The errors of hull-image; each names the blob, path, entry or reference involved.

use crate::digest::Digest;

/// Everything that can go wrong with images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("blob {expected}: the content has digest {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {expected}: {actual} bytes, {size} announced")]
    SizeMismatch { expected: Digest, size: u64, actual: u64 },
    #[error("blob {0} is not in the store")]
    Missing(Digest),
    /// A layer entry that would write outside its snapshot or is otherwise refused.
    #[error("layer entry {entry:?}: {why}")]
    Hostile { entry: String, why: String },
    /// A malformed manifest, index, config or archive.
    #[error("{what}: {why}")]
    Format { what: String, why: String },
    /// An image name or reference that is not in the store or cannot be parsed.
    #[error("{0}")]
    Reference(String),
    /// No image by that name or ID (prefix).
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// What a registry answered (or failed to).
    #[error("{0}")]
    Registry(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `map_err` helper: an I/O error with what was being done.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// `map_err` helper for errno results.
pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> Error {
    let what = what.into();
    move |e| Error::Io { what, source: std::io::Error::from_raw_os_error(e as i32) }
}

pub(crate) fn format(what: impl Into<String>, why: impl std::fmt::Display) -> Error {
    Error::Format { what: what.into(), why: printable(&why.to_string()) }
}

/// A reason that may quote hostile input (a tar header's bytes) as one printable line:
/// control characters and undecodable bytes become `?`, and it is cut at 200 characters.
pub fn printable(s: &str) -> String {
    let mut out: String =
        s.chars().take(200).map(|c| if c.is_control() || c == char::REPLACEMENT_CHARACTER { '?' } else { c }).collect();
    if s.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_are_printable() {
        assert_eq!(super::printable("a\u{1b}[2Jb\u{fffd}c"), "a?[2Jb?c");
        let long = "x".repeat(500);
        assert_eq!(super::printable(&long).chars().count(), 201);
    }
}

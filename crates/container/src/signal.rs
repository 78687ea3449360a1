//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `9`.

use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

/// Parses a signal given by name (with or without `SIG`) or number.
pub fn parse(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        let rtmax = libc::SIGRTMAX();
        return if (1..=rtmax).contains(&n) { Ok(n) } else { Err(Error::BadSignal(s.to_owned())) };
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        let off: i32 = if rest.is_empty() { 0 } else { rest.parse().map_err(|_| Error::BadSignal(s.to_owned()))? };
        let n = libc::SIGRTMIN() + off;
        if n <= libc::SIGRTMAX() {
            return Ok(n);
        }
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX") {
        let off: i32 = if rest.is_empty() { 0 } else { rest.parse().map_err(|_| Error::BadSignal(s.to_owned()))? };
        let n = libc::SIGRTMAX() + off;
        if n >= libc::SIGRTMIN() {
            return Ok(n);
        }
    }
    Signal::from_str(&name).map(|s| s as i32).map_err(|_| Error::BadSignal(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("term").unwrap(), 15);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse("NOPE").is_err());
        assert!(parse("0").is_err());
        assert!(parse("1000").is_err());
    }
}

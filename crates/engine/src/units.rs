//! Docker's units, one parser each: sizes (`64m`, `1g`) and Go durations (`1m30s`).
//! The engine reads them in API fields that carry strings (log options, tmpfs
//! options); the command line parses its flags with the same functions.

use crate::error::{Error, Result};

/// Docker's sizes: a number with an optional b, k, m, g or t (powers of 1024).
pub fn bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty() && r.ends_with(['k', 'm', 'g', 't'])).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| Error::Invalid(format!("invalid size: {s:?}")))?;
    let v = n * mult as f64;
    if n < 0.0 || !v.is_finite() || v >= i64::MAX as f64 {
        return Err(Error::Invalid(format!("invalid size: {s:?}")));
    }
    Ok(v as i64)
}

/// A Go duration (`30s`, `1m30s`, `1.5s`, `500ms`) in nanoseconds, as Docker's flags.
pub fn duration(s: &str) -> Option<u64> {
    let mut total: f64 = 0.0;
    let mut rest = s.trim();
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3.6e12,
            "m" => 6e10,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    (total.is_finite() && total < u64::MAX as f64).then_some(total as u64)
}

/// "3 days ago", as Docker's go-units HumanDuration, for an RFC 3339 time (`N/A`
/// without one).
pub fn ago(time: Option<&str>) -> String {
    let Some(t) = time.and_then(|c| humantime::parse_rfc3339_weak(c.trim_end_matches('Z').split('.').next()?).ok())
    else {
        return "N/A".into();
    };
    let secs = std::time::SystemTime::now().duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
    let (n, unit) = match secs {
        0 => return "Less than a second ago".into(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 48 * 3600 => (s / 3600, "hour"),
        s if s < 14 * 86400 => (s / 86400, "day"),
        s if s < 60 * 86400 => (s / (7 * 86400), "week"),
        s if s < 2 * 365 * 86400 => (s / (30 * 86400), "month"),
        s => (s / (365 * 86400), "year"),
    };
    if n == 1 && unit == "hour" {
        return "About an hour ago".into();
    }
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// Bytes used under `p` (not following symlinks).
pub fn disk_usage(p: &std::path::Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p).into_iter().flatten().filter_map(|e| e.ok()).map(|e| disk_usage(&e.path())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("64m").unwrap(), 64 << 20);
        assert_eq!(bytes("1g").unwrap(), 1 << 30);
        assert_eq!(bytes("1.5k").unwrap(), 1536);
        assert_eq!(bytes("100").unwrap(), 100);
        assert_eq!(bytes("2kb").unwrap(), 2048);
        for bad in ["", "x", "-1", "1q", "99999999999999999999999"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Some(30_000_000_000));
        assert_eq!(duration("1m30s"), Some(90_000_000_000));
        assert_eq!(duration("500ms"), Some(500_000_000));
        assert_eq!(duration("0"), Some(0));
        assert_eq!(duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(duration("250ms"), Some(250_000_000));
        for bad in ["", "5", "1x", "s", "1m-1s"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }
}

//! `update`'s flags and `--resources` JSON turned into `linux.resources`.

use crate::cli::UpdateArgs;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::io::Read;

/// Parses a size as runc does: bytes, or a number with k, m, g or t (binary units).
pub fn parse_size(flag: &str, s: &str) -> Result<i64> {
    let bad = || Error::Usage(format!("--{flag}: {s:?} is not a size (like 512m or 1g)"));
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

/// The resources asked for: the JSON document first, then each flag on top of it.
pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v: Value = match &a.resources {
        None => json!({}),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("read --resources from stdin", e))?;
            } else {
                text = std::fs::read_to_string(p).map_err(|e| Error::io(format!("--resources {}", p.display()), e))?;
            }
            serde_json::from_str(&text).map_err(|e| Error::Usage(format!("--resources: {e}")))?
        }
    };
    let obj = v.as_object_mut().ok_or_else(|| Error::Usage("--resources: not a JSON object".into()))?;
    fn section<'m>(obj: &'m mut Map<String, Value>, name: &str) -> &'m mut Map<String, Value> {
        let e = obj.entry(name).or_insert_with(|| json!({}));
        if !e.is_object() {
            *e = json!({});
        }
        e.as_object_mut().expect("an object")
    }
    if let Some(m) = &a.memory {
        section(obj, "memory").insert("limit".into(), parse_size("memory", m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        section(obj, "memory").insert("reservation".into(), parse_size("memory-reservation", m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        section(obj, "memory").insert("swap".into(), parse_size("memory-swap", m)?.into());
    }
    if let Some(p) = a.pids_limit {
        section(obj, "pids").insert("limit".into(), p.into());
    }
    if let Some(s) = a.cpu_share {
        section(obj, "cpu").insert("shares".into(), s.into());
    }
    if let Some(p) = a.cpu_period {
        section(obj, "cpu").insert("period".into(), p.into());
    }
    if let Some(q) = a.cpu_quota {
        section(obj, "cpu").insert("quota".into(), q.into());
    }
    if let Some(c) = &a.cpuset_cpus {
        section(obj, "cpu").insert("cpus".into(), c.clone().into());
    }
    if let Some(m) = &a.cpuset_mems {
        section(obj, "cpu").insert("mems".into(), m.clone().into());
    }
    if let Some(w) = a.blkio_weight {
        section(obj, "blockIO").insert("weight".into(), w.into());
    }
    if let Some(p) = a.cpu_rt_period {
        section(obj, "cpu").insert("realtimePeriod".into(), p.into());
    }
    if let Some(r) = a.cpu_rt_runtime {
        section(obj, "cpu").insert("realtimeRuntime".into(), r.into());
    }
    serde_json::from_value(v).map_err(|e| Error::Usage(format!("--resources: {e}")))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("m", "1024").unwrap(), 1024);
        assert_eq!(parse_size("m", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("m", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("m", "2kb").unwrap(), 2048);
        assert_eq!(parse_size("m", "-1").unwrap(), -1);
        assert!(parse_size("m", "lots").is_err());
    }
}

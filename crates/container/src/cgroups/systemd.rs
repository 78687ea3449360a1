//! The systemd form of `linux.cgroupsPath` (`--systemd-cgroup`): `slice:prefix:name`, as
//! runc reads it. The driver that asks systemd over D-Bus for a scope is not built yet;
//! this module parses the form and says clearly why a container cannot be created.

use crate::error::{Error, Result};

/// A parsed systemd cgroup path.
#[derive(Debug, PartialEq, Eq)]
pub struct SystemdPath {
    /// Parent slice, default `system.slice`.
    pub slice: String,
    /// Unit name prefix, e.g. `docker`, `cri-containerd`.
    pub prefix: String,
    /// Unit name, usually the container id.
    pub name: String,
}

impl SystemdPath {
    /// The scope unit systemd would be asked for: `PREFIX-NAME.scope`.
    pub fn unit(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }
}

/// Parses `slice:prefix:name`; an absent path means `system.slice:hull:<id>`.
pub fn parse(path: Option<&str>, id: &str) -> Result<SystemdPath> {
    let bad = |reason: &str| Error::SpecInvalid { field: "linux.cgroupsPath".into(), reason: reason.into() };
    let Some(p) = path.filter(|p| !p.is_empty()) else {
        return Ok(SystemdPath { slice: "system.slice".into(), prefix: "hull".into(), name: id.into() });
    };
    let parts: Vec<&str> = p.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad(&format!("{p:?} is not slice:prefix:name, the form --systemd-cgroup expects")));
    };
    if !slice.is_empty() && !slice.ends_with(".slice") {
        return Err(bad(&format!("{slice:?} is not a slice name (it must end in .slice)")));
    }
    if name.is_empty() || name.contains('/') || prefix.contains('/') || slice.contains('/') {
        return Err(bad(&format!("{p:?}: the unit name is empty or holds a '/'")));
    }
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    Ok(SystemdPath { slice: slice.into(), prefix: prefix.into(), name: name.into() })
}

/// Whether systemd runs as this host's init (the test systemd itself uses).
pub fn running() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
}

/// The error for `--systemd-cgroup` on this host, after the path was checked.
pub fn unavailable(p: &SystemdPath) -> Error {
    let why = if running() {
        "the systemd cgroup driver (D-Bus) is not implemented yet"
    } else {
        "systemd is not running on this host (no /run/systemd/system)"
    };
    Error::Precondition(format!(
        "--systemd-cgroup: cannot create {} in {}: {why}; run without --systemd-cgroup to use cgroupfs",
        p.unit(),
        p.slice
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_forms() {
        let p = parse(Some("system.slice:docker:abc"), "x").unwrap();
        assert_eq!(p.unit(), "docker-abc.scope");
        assert_eq!(parse(Some(":cri-containerd:abc"), "x").unwrap().slice, "system.slice");
        assert_eq!(parse(None, "id1").unwrap().unit(), "hull-id1.scope");
        assert_eq!(parse(Some("user.slice::abc"), "x").unwrap().unit(), "abc.scope");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in ["/docker/abc", "a:b", "a:b:c:d", "notaslice:p:n", "system.slice:p:"] {
            let e = parse(Some(bad), "x").unwrap_err().to_string();
            assert!(e.contains("linux.cgroupsPath"), "{bad}: {e}");
        }
    }
}

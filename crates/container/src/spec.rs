//! Loading and validating a bundle's `config.json`. Everything that can be checked
//! before a process or a mount exists is checked here, so that a bad config fails
//! early with the field's name and leaves nothing behind.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A loaded, validated bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed config.json.
    pub spec: Spec,
    /// Absolute, canonical path of the root filesystem.
    pub rootfs: PathBuf,
}

/// Reads `DIR/config.json` and validates it.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(format!("bundle {}", dir.display()), e))?;
    let path = dir.join("config.json");
    let spec = load_spec(&path)?;
    let root = spec.root().as_ref().ok_or_else(|| invalid("root", "missing (a root filesystem is required)"))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| Error::io(format!("root.path {}", rootfs.display()), e))?;
    if !rootfs.is_dir() {
        return Err(invalid("root.path", format!("{} is not a directory", rootfs.display())));
    }
    validate(&spec)?;
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses a config.json file; the error names the file, line and column.
pub fn load_spec(path: &Path) -> Result<Spec> {
    let data = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    parse_spec(&data).map_err(|reason| Error::SpecLoad { path: path.to_owned(), reason })
}

/// Parses config.json bytes (the fuzz target's entry point).
pub fn parse_spec(data: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice(data).map_err(|e| e.to_string())
}

/// Parses and validates untrusted config.json bytes, discarding the result: the body of
/// the `config_json` fuzz target, which must never panic.
pub fn check_untrusted(data: &[u8]) {
    if let Ok(spec) = parse_spec(data) {
        let _ = validate(&spec);
        let _ = crate::namespaces::Namespaces::from_spec(&spec).map(|ns| ns.clone_flags);
        for m in spec.mounts().iter().flatten() {
            let _ = crate::rootfs::mounts::parse_options(m.options().as_deref().unwrap_or_default());
        }
        if let Some(c) = spec.process().as_ref().and_then(|p| p.capabilities().as_ref()) {
            let _ = crate::capabilities::CapSets::new(c);
        }
        if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            let _ = crate::seccomp::prepare(s, None);
        }
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::SpecInvalid { field: field.to_owned(), reason: reason.into() }
}

/// Checks everything in the spec that can be checked without touching the system.
pub fn validate(spec: &Spec) -> Result<()> {
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(invalid("ociVersion", format!("{version:?} is not a 1.x runtime-spec version")));
    }
    let process = spec.process().as_ref().ok_or_else(|| invalid("process", "missing"))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(invalid("process.args", "must name a program to run")),
    }
    if !process.cwd().is_absolute() {
        return Err(invalid("process.cwd", format!("{:?} is not an absolute path", process.cwd())));
    }
    // (uid_t)-1 means "no change" to setresuid: a process meant to run as it would keep
    // root. runc refuses every id past i32::MAX.
    let user = process.user();
    for (field, id) in [("process.user.uid", user.uid()), ("process.user.gid", user.gid())]
        .into_iter()
        .chain(user.additional_gids().iter().flatten().map(|g| ("process.user.additionalGids", *g)))
    {
        if id > i32::MAX as u32 {
            return Err(invalid(field, format!("{id} is out of range (at most {})", i32::MAX)));
        }
    }
    for env in process.env().iter().flatten() {
        if !env.contains('=') || env.starts_with('=') {
            return Err(invalid("process.env", format!("{env:?} is not NAME=VALUE")));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(invalid(
                &format!("mounts[{i}].destination"),
                format!("{:?} is not an absolute path", m.destination()),
            ));
        }
        check_proc_mount(m).map_err(|why| invalid(&format!("mounts[{i}].destination"), why))?;
    }
    crate::rootfs::idmap::validate(spec)?;
    let linux = spec.linux().as_ref();
    let mut seen = HashSet::new();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(invalid("linux.namespaces", format!("{} appears twice", ns.typ())));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(invalid("linux.namespaces", format!("path {p:?} of {} is not absolute", ns.typ())));
            }
        }
    }
    let new_ns = |t: LinuxNamespaceType| namespaces.into_iter().flatten().any(|n| n.typ() == t && n.path().is_none());
    let has_ns = |t: LinuxNamespaceType| namespaces.into_iter().flatten().any(|n| n.typ() == t);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !new_ns(LinuxNamespaceType::Uts) {
        return Err(invalid("hostname", "setting a hostname needs a new uts namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !new_ns(LinuxNamespaceType::Uts) {
        return Err(invalid("domainname", "setting a domainname needs a new uts namespace"));
    }
    if let Some(linux) = linux {
        let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if new_ns(LinuxNamespaceType::User) && !maps {
            return Err(invalid("linux.uidMappings", "a new user namespace needs uid and gid mappings"));
        }
        if maps && !has_ns(LinuxNamespaceType::User) {
            return Err(invalid("linux.uidMappings", "mappings are given but there is no user namespace"));
        }
        if linux.time_offsets().is_some() && !new_ns(LinuxNamespaceType::Time) {
            return Err(invalid("linux.timeOffsets", "time offsets need a new time namespace"));
        }
        for key in linux.sysctl().iter().flat_map(|m| m.keys()) {
            check_sysctl(key, &|t| has_ns(t), &|t| new_ns(t))?;
        }
        for p in linux.masked_paths().iter().flatten().chain(linux.readonly_paths().iter().flatten()) {
            if !p.starts_with('/') {
                return Err(invalid("linux.maskedPaths/readonlyPaths", format!("{p:?} is not absolute")));
            }
        }
        if let Some(prop) = linux.rootfs_propagation() {
            crate::rootfs::mounts::propagation_flag(prop)
                .ok_or_else(|| invalid("linux.rootfsPropagation", format!("unknown value {prop:?}")))?;
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            if !d.path().starts_with("/dev/") {
                return Err(invalid(&format!("linux.devices[{i}].path"), format!("{:?} is not under /dev", d.path())));
            }
        }
    }
    Ok(())
}

/// Files under /proc that may be mounted over (runc's list: what lxcfs provides).
const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// runc's rule for mounts on /proc: the proc filesystem itself, or one of the files
/// lxcfs replaces; anything else there could hide or replace the kernel's files
/// (`/proc/sys/kernel` made writable, a fake `/proc/self`).
fn check_proc_mount(m: &oci_spec::runtime::Mount) -> std::result::Result<(), String> {
    let clean: std::path::PathBuf = m.destination().components().collect();
    if !clean.starts_with("/proc") {
        return Ok(());
    }
    if clean == Path::new("/proc") && m.typ().as_deref() == Some("proc") {
        return Ok(());
    }
    if PROC_MOUNT_ALLOWED.iter().any(|a| clean == Path::new(a)) {
        return Ok(());
    }
    Err(format!("{} is inside /proc: only proc itself and lxcfs's files may be mounted there", clean.display()))
}

/// The System V IPC sysctls the IPC namespace holds (runc's list).
pub const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// runc's rule for `linux.sysctl`: only keys a namespace of the container's own holds —
/// the IPC ones with an IPC namespace, `net.*` with a network namespace,
/// `kernel.domainname` with a new UTS namespace; everything else would be written for
/// the whole host and is refused with the key named.
fn check_sysctl(
    key: &str,
    has_ns: &dyn Fn(LinuxNamespaceType) -> bool,
    new_ns: &dyn Fn(LinuxNamespaceType) -> bool,
) -> Result<()> {
    let bad = |why: String| Err(invalid("linux.sysctl", why));
    if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
        return bad(format!("{key:?} is not a sysctl name"));
    }
    // runc takes `net/ipv4/ip_forward` as `net.ipv4.ip_forward`.
    let k = key.replace('/', ".");
    if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        return if has_ns(LinuxNamespaceType::Ipc) {
            Ok(())
        } else {
            bad(format!("{key} is not allowed in the host's IPC namespace"))
        };
    }
    if k.starts_with("net.") {
        return if has_ns(LinuxNamespaceType::Network) {
            Ok(())
        } else {
            bad(format!("{key} needs a network namespace of the container's own"))
        };
    }
    if new_ns(LinuxNamespaceType::Uts) {
        match k.as_str() {
            "kernel.domainname" => return Ok(()),
            "kernel.hostname" => return bad(format!("{key} conflicts with the hostname field: use that")),
            _ => {}
        }
    }
    bad(format!("{key} is not in a namespace of the container's own: it would change the host"))
}

/// Fields hull accepts but does not enforce yet, one warning each: the caller logs them,
/// so a user never believes a filter or limit is active when it is not.
pub fn unenforced(spec: &Spec) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(linux) = spec.linux() {
        if let Some(r) = linux.resources() {
            if r.memory().as_ref().is_some_and(|m| m.kernel().is_some() || m.kernel_tcp().is_some()) {
                w.push("linux.resources.memory.kernel/kernelTCP: ignored (dropped by current kernels)".into());
            }
        }
    }
    w
}

/// Validates a container id as runc does: letters, digits and `_ + - .`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidId { id: id.to_owned(), reason });
    if id.is_empty() {
        return bad("it is empty");
    }
    if id == "." || id == ".." {
        return bad("it names a directory");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)) {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        parse_spec(json.as_bytes()).expect("parse")
    }

    const MIN: &str = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
        "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}"#;

    fn with(extra: &str) -> Spec {
        spec(&format!("{MIN},{extra}}}"))
    }

    #[test]
    fn minimal_config_is_valid() {
        validate(&spec(&format!("{MIN}}}"))).unwrap();
    }

    #[test]
    fn ids_follow_runc() {
        validate_id("abc-1.2_x+y").unwrap();
        for bad in ["", ".", "..", "a/b", "a b", "ä"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_capability_is_an_error() {
        let s = r#"{"ociVersion":"1.2.0","process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_NOPE"]}}}"#;
        let err = parse_spec(s.as_bytes()).unwrap_err();
        assert!(err.contains("CAP_NOPE"), "{err}");
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = parse_spec(b"{\n \"ociVersion\": 1.0.0 }").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn rejects_bad_fields() {
        let cases = [
            (r#""hostname":"x""#, "hostname"),
            (r#""mounts":[{"destination":"rel","type":"tmpfs"}]"#, "mounts[0].destination"),
            (r#""linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}"#, "linux.namespaces"),
            (r#""linux":{"namespaces":[{"type":"user"}]}"#, "linux.uidMappings"),
            (r#""linux":{"sysctl":{"net.ipv4.ip_forward":"1"}}"#, "linux.sysctl"),
            (r#""linux":{"namespaces":[{"type":"network"}],"sysctl":{"vm.drop_caches":"3"}}"#, "linux.sysctl"),
            (r#""linux":{"namespaces":[{"type":"ipc"}],"sysctl":{"kernel.panic":"1"}}"#, "linux.sysctl"),
            (r#""linux":{"sysctl":{"kernel.shmmax":"1"}}"#, "linux.sysctl"),
            (r#""linux":{"namespaces":[{"type":"uts"}],"sysctl":{"kernel.hostname":"x"}}"#, "linux.sysctl"),
            (r#""linux":{"sysctl":{"kernel.domainname":"x"}}"#, "linux.sysctl"),
            (r#""mounts":[{"destination":"/proc/sys/kernel","type":"bind","source":"/tmp"}]"#, "mounts[0].destination"),
            (r#""mounts":[{"destination":"/proc","type":"bind","source":"/tmp"}]"#, "mounts[0].destination"),
            (r#""mounts":[{"destination":"//proc/./self","type":"tmpfs"}]"#, "mounts[0].destination"),
            (r#""linux":{"rootfsPropagation":"sideways"}"#, "linux.rootfsPropagation"),
            (r#""linux":{"devices":[{"path":"/etc/x","type":"c","major":1,"minor":3}]}"#, "linux.devices[0].path"),
        ];
        for (extra, field) in cases {
            match validate(&with(extra)) {
                Err(Error::SpecInvalid { field: f, .. }) => assert_eq!(f, field, "{extra}"),
                other => panic!("{extra}: expected SpecInvalid({field}), got {other:?}"),
            }
        }
    }

    #[test]
    fn ids_past_i32_max_are_refused() {
        let base = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"],"user":"#;
        for (user, field) in [
            (r#"{"uid":4294967295,"gid":0}"#, "process.user.uid"),
            (r#"{"uid":0,"gid":4294967295}"#, "process.user.gid"),
            (r#"{"uid":0,"gid":0,"additionalGids":[2147483648]}"#, "process.user.additionalGids"),
        ] {
            match validate(&spec(&format!("{base}{user}}}}}"))) {
                Err(Error::SpecInvalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{user}: {other:?}"),
            }
        }
        validate(&spec(&format!(r#"{base}{{"uid":2147483647,"gid":2147483647}}}}}}"#))).unwrap();
    }

    #[test]
    fn namespaced_sysctls_are_accepted() {
        let ok = [
            r#""linux":{"namespaces":[{"type":"network"}],"sysctl":{"net.ipv4.ip_forward":"1","net/core/somaxconn":"9"}}"#,
            r#""linux":{"namespaces":[{"type":"ipc"}],"sysctl":{"kernel.shmmax":"1","fs.mqueue.msg_max":"9"}}"#,
            r#""linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}],"sysctl":{"net.ipv4.ping_group_range":"0 0"}}"#,
        ];
        for extra in ok {
            validate(&with(extra)).unwrap_or_else(|e| panic!("{extra}: {e}"));
        }
        let uts = with(r#""hostname":"h","linux":{"namespaces":[{"type":"uts"}],"sysctl":{"kernel.domainname":"d"}}"#);
        validate(&uts).unwrap();
    }

    #[test]
    fn unenforced_fields_are_reported() {
        // LSM labels are applied or refused (lsm.rs), never silently ignored.
        let s = with(r#""linux":{"mountLabel":"x","resources":{"memory":{"kernel":1}}}"#);
        let w = unenforced(&s);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("kernelTCP"), "{w:?}");
        assert!(unenforced(&spec(&format!("{MIN}}}"))).is_empty());
    }

    #[test]
    fn mutated_configs_never_panic() {
        // A cheap, deterministic stand-in for the fuzzer in CI: every truncation and a
        // sweep of byte flips of the default config.
        let base = serde_json::to_vec(&crate::default_spec::default_spec(false, 0, 0)).unwrap();
        for n in 0..base.len() {
            check_untrusted(&base[..n]);
        }
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut m = base.clone();
            for _ in 0..4 {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                let i = (x as usize >> 8) % m.len();
                m[i] = (x >> 3) as u8;
            }
            check_untrusted(&m);
        }
    }

    #[test]
    fn rejects_empty_args_and_relative_cwd() {
        let s = spec(r#"{"ociVersion":"1.2.0","process":{"cwd":"/","args":[],"user":{"uid":0,"gid":0}}}"#);
        assert!(matches!(validate(&s), Err(Error::SpecInvalid { field, .. }) if field == "process.args"));
        let s = spec(r#"{"ociVersion":"1.2.0","process":{"cwd":"tmp","args":["a"],"user":{"uid":0,"gid":0}}}"#);
        assert!(matches!(validate(&s), Err(Error::SpecInvalid { field, .. }) if field == "process.cwd"));
    }
}

//! Devices: `--device` nodes, `--device-cgroup-rule`s and the block devices that
//! per-device limits name.

use super::*;

/// A `--device-cgroup-rule` (`TYPE MAJOR:MINOR ACCESS`, `*` for any number) as a
/// runtime-spec device rule.
pub fn device_rule(r: &str) -> Result<oci_spec::runtime::LinuxDeviceCgroup> {
    let bad = || Error::Invalid(format!("invalid --device-cgroup-rule {r:?}: like 'c 1:3 rwm' or 'b 8:* r'"));
    let f: Vec<&str> = r.split_whitespace().collect();
    let [kind, numbers, access] = f.as_slice() else { return Err(bad()) };
    if !matches!(*kind, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>> {
        if n == "*" {
            Ok(None)
        } else {
            n.parse::<i64>().map(Some).map_err(|_| bad())
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    super::typed::device_cgroup(true, Some(kind), number(major)?, number(minor)?, access)
}

/// The device numbers of the block device at `path` (`flag` names it in errors).
pub fn block_device(flag: &str, path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).map_err(|e| Error::Invalid(format!("invalid --{flag} {path}: {e}")))?;
    if !m.file_type().is_block_device() {
        return Err(Error::Invalid(format!("invalid --{flag} {path}: not a block device")));
    }
    Ok((nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev())))
}

pub(super) fn device(d: &Device) -> Result<oci_spec::runtime::LinuxDevice> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(&d.host).map_err(Error::at(format!("--device {}", d.host.display())))?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return Err(Error::Invalid(format!("--device {}: not a device node", d.host.display())));
    };
    if d.perms.is_empty() || !d.perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(Error::Invalid(format!(
            "--device {}: invalid permissions {:?} (r, w, m)",
            d.host.display(),
            d.perms
        )));
    }
    let rdev = m.rdev();
    super::typed::device(&d.container, kind, libc::major(rdev) as i64, libc::minor(rdev) as i64, m.mode() & 0o7777)
}

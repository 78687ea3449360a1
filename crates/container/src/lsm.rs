//! AppArmor and SELinux: whether each is enabled on this host, the checks made before a
//! container exists, and the exec labels a container process writes for itself right
//! before execve, only through hull's verified private procfs (CVE-2019-16884: a
//! container's mounts over /proc must not swallow the label).
//!
//! A label for an LSM that is not enabled is an error, as with runc: runc refuses an
//! SELinux label up front ("selinux is disabled or not supported") and fails in its init
//! when it writes an AppArmor profile AppArmor cannot take; hull refuses both before
//! anything is created, with the field named. Not done: SELinux labels on the session
//! keyring (runc's SetKeyLabel).

use crate::error::{Error, Result};
use crate::safe::ProcFs;
use oci_spec::runtime::Spec;
use std::path::Path;

/// Which LSMs the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    pub apparmor: bool,
    pub selinux: bool,
}

impl Enabled {
    /// Probes the host: AppArmor's securityfs directory and module parameter (as runc
    /// reads them), SELinux's selinuxfs.
    pub fn probe() -> Enabled {
        let apparmor = Path::new("/sys/kernel/security/apparmor").is_dir()
            && std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'));
        let selinux = Path::new("/sys/fs/selinux/enforce").exists();
        Enabled { apparmor, selinux }
    }
}

/// The labels of one container process.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    pub apparmor_profile: Option<&'a str>,
    pub selinux_label: Option<&'a str>,
}

impl<'a> Labels<'a> {
    pub fn of(process: &'a oci_spec::runtime::Process) -> Labels<'a> {
        let nonempty = |s: &'a Option<String>| s.as_deref().filter(|s| !s.is_empty());
        Labels {
            apparmor_profile: nonempty(process.apparmor_profile()),
            selinux_label: nonempty(process.selinux_label()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.apparmor_profile.is_none() && self.selinux_label.is_none()
    }

    /// Refuses a label the host cannot apply; `what` names where it came from. Probes
    /// the host only when there is a label (not on every container's start).
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        self.check_with(Enabled::probe(), what)
    }

    fn check_with(&self, on: Enabled, what: &str) -> Result<()> {
        if self.apparmor_profile.is_some() && !on.apparmor {
            return Err(Error::SpecInvalid {
                field: format!("{what}.apparmorProfile"),
                reason: "AppArmor is not enabled on this host".into(),
            });
        }
        if self.selinux_label.is_some() && !on.selinux {
            return Err(Error::SpecInvalid {
                field: format!("{what}.selinuxLabel"),
                reason: "SELinux is disabled or not supported on this host".into(),
            });
        }
        Ok(())
    }

    /// Sets the labels the next execve takes on, for the calling (single-threaded)
    /// process: AppArmor's `exec PROFILE` into attr/apparmor/exec (attr/exec on kernels
    /// without the per-LSM directory), SELinux's context into attr/exec.
    pub fn apply(&self, proc: &ProcFs) -> Result<()> {
        if let Some(p) = self.apparmor_profile {
            let value = format!("exec {p}");
            if let Err(e) = proc.write_own("attr/apparmor/exec", &value, "process.apparmorProfile") {
                if !e.is_not_found() {
                    return Err(e);
                }
                proc.write_own("attr/exec", &value, "process.apparmorProfile")?;
            }
        }
        if let Some(l) = self.selinux_label {
            proc.write_own("attr/exec", l, "process.selinuxLabel")?;
        }
        Ok(())
    }
}

/// Checks a spec's labels (process and mount label) against the host.
pub fn check_spec(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        Labels::of(p).check("process")?;
    }
    if mount_label(spec).is_some() && !Enabled::probe().selinux {
        return Err(Error::SpecInvalid {
            field: "linux.mountLabel".into(),
            reason: "SELinux is disabled or not supported on this host".into(),
        });
    }
    Ok(())
}

/// The spec's non-empty linux.mountLabel.
pub fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux().as_ref().and_then(|l| l.mount_label().as_deref()).filter(|l| !l.is_empty())
}

/// The data string of a mount of `fstype` with the SELinux mount label added as
/// `context="LABEL"`, for the filesystems runc labels (tmpfs, devpts and other plain
/// mounts; not proc, sysfs, mqueue, cgroup or binds).
pub fn with_mount_label(data: &str, fstype: &str, label: Option<&str>) -> String {
    let Some(label) = label else { return data.to_owned() };
    if matches!(fstype, "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2" | "bind" | "none" | "") {
        return data.to_owned();
    }
    let ctx = format!("context=\"{label}\"");
    if data.is_empty() {
        ctx
    } else {
        format!("{data},{ctx}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_need_their_lsm() {
        let off = Enabled { apparmor: false, selinux: false };
        let aa = Labels { apparmor_profile: Some("docker-default"), selinux_label: None };
        let e = aa.check_with(off, "process").unwrap_err().to_string();
        assert!(e.contains("process.apparmorProfile") && e.contains("AppArmor is not enabled"), "{e}");
        aa.check_with(Enabled { apparmor: true, selinux: false }, "process").unwrap();
        let se = Labels { apparmor_profile: None, selinux_label: Some("system_u:system_r:container_t:s0") };
        assert!(se.check_with(off, "exec").unwrap_err().to_string().contains("exec.selinuxLabel"));
        se.check_with(Enabled { apparmor: false, selinux: true }, "exec").unwrap();
        Labels::default().check_with(off, "process").unwrap();
    }

    #[test]
    fn mount_labels_go_where_runc_puts_them() {
        let l = Some("system_u:object_r:container_file_t:s0");
        assert_eq!(
            with_mount_label("mode=755", "tmpfs", l),
            "mode=755,context=\"system_u:object_r:container_file_t:s0\""
        );
        assert_eq!(with_mount_label("", "devpts", l), "context=\"system_u:object_r:container_file_t:s0\"");
        assert_eq!(with_mount_label("", "proc", l), "");
        assert_eq!(with_mount_label("mode=755", "tmpfs", None), "mode=755");
    }
}

//! The runtime-spec features document (`features`): exactly what hull honours today.
//! Each list here must change with the code that implements it.

use serde_json::{json, Value};

/// Mount options parsed by [`crate::rootfs::mounts::parse_options`].
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ridmap",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

/// Architectures a seccomp profile may name and have enforced on this machine.
#[cfg(target_arch = "x86_64")]
const SECCOMP_ARCHS: &[&str] = &["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];
#[cfg(target_arch = "aarch64")]
const SECCOMP_ARCHS: &[&str] = &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SECCOMP_ARCHS: &[&str] = &[];

/// `linux.seccomp.flags` values, passed to seccomp(2) as they are.
const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// The document.
pub fn features() -> Value {
    let caps: Vec<String> =
        (0..=crate::capabilities::last_cap()).filter_map(crate::capabilities::name).map(str::to_owned).collect();
    let lsm = crate::lsm::Enabled::probe();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": SECCOMP_ARCHS,
                "knownFlags": SECCOMP_FLAGS,
                "supportedFlags": SECCOMP_FLAGS
            },
            // Whether hull applies labels here: the host's LSMs (a label for one that
            // is not enabled is refused).
            "apparmor": {"enabled": lsm.apparmor},
            "selinux": {"enabled": lsm.selinux},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.version": "1.2.0",
            "io.github.hull.version": env!("CARGO_PKG_VERSION")
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn capability_names_match_numbers() {
        // Every name must round-trip through oci-spec to the same number.
        for n in 0..=40u32 {
            let name = crate::capabilities::name(n).unwrap();
            let cap: oci_spec::runtime::Capability = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(crate::capabilities::number(cap), n, "{name}");
        }
    }

    #[test]
    fn every_mount_option_parses_to_a_flag() {
        for o in super::MOUNT_OPTIONS {
            let parsed = crate::rootfs::mounts::parse_options(&[o.to_string()]);
            assert!(parsed.data.is_empty(), "{o} fell through to data");
        }
    }
}

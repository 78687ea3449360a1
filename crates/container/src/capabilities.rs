//! Capabilities: the five sets of `process.capabilities`, applied at the syscall edge
//! (capset, prctl) because this is the security boundary hull owns.

use crate::error::{Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// Every capability hull knows, in the kernel's order (the index is its number), with
/// its name: the one table the runtime, `features` and the engine's flags use.
pub const ALL: [(Capability, &str); 41] = [
    (Capability::Chown, "CAP_CHOWN"),
    (Capability::DacOverride, "CAP_DAC_OVERRIDE"),
    (Capability::DacReadSearch, "CAP_DAC_READ_SEARCH"),
    (Capability::Fowner, "CAP_FOWNER"),
    (Capability::Fsetid, "CAP_FSETID"),
    (Capability::Kill, "CAP_KILL"),
    (Capability::Setgid, "CAP_SETGID"),
    (Capability::Setuid, "CAP_SETUID"),
    (Capability::Setpcap, "CAP_SETPCAP"),
    (Capability::LinuxImmutable, "CAP_LINUX_IMMUTABLE"),
    (Capability::NetBindService, "CAP_NET_BIND_SERVICE"),
    (Capability::NetBroadcast, "CAP_NET_BROADCAST"),
    (Capability::NetAdmin, "CAP_NET_ADMIN"),
    (Capability::NetRaw, "CAP_NET_RAW"),
    (Capability::IpcLock, "CAP_IPC_LOCK"),
    (Capability::IpcOwner, "CAP_IPC_OWNER"),
    (Capability::SysModule, "CAP_SYS_MODULE"),
    (Capability::SysRawio, "CAP_SYS_RAWIO"),
    (Capability::SysChroot, "CAP_SYS_CHROOT"),
    (Capability::SysPtrace, "CAP_SYS_PTRACE"),
    (Capability::SysPacct, "CAP_SYS_PACCT"),
    (Capability::SysAdmin, "CAP_SYS_ADMIN"),
    (Capability::SysBoot, "CAP_SYS_BOOT"),
    (Capability::SysNice, "CAP_SYS_NICE"),
    (Capability::SysResource, "CAP_SYS_RESOURCE"),
    (Capability::SysTime, "CAP_SYS_TIME"),
    (Capability::SysTtyConfig, "CAP_SYS_TTY_CONFIG"),
    (Capability::Mknod, "CAP_MKNOD"),
    (Capability::Lease, "CAP_LEASE"),
    (Capability::AuditWrite, "CAP_AUDIT_WRITE"),
    (Capability::AuditControl, "CAP_AUDIT_CONTROL"),
    (Capability::Setfcap, "CAP_SETFCAP"),
    (Capability::MacOverride, "CAP_MAC_OVERRIDE"),
    (Capability::MacAdmin, "CAP_MAC_ADMIN"),
    (Capability::Syslog, "CAP_SYSLOG"),
    (Capability::WakeAlarm, "CAP_WAKE_ALARM"),
    (Capability::BlockSuspend, "CAP_BLOCK_SUSPEND"),
    (Capability::AuditRead, "CAP_AUDIT_READ"),
    (Capability::Perfmon, "CAP_PERFMON"),
    (Capability::Bpf, "CAP_BPF"),
    (Capability::CheckpointRestore, "CAP_CHECKPOINT_RESTORE"),
];

/// The kernel number of a capability.
pub fn number(c: Capability) -> u32 {
    ALL.iter().position(|(x, _)| *x == c).map_or(0, |n| n as u32)
}

/// The name of capability number `n` (`CAP_CHOWN`), if hull knows it.
pub fn name(n: u32) -> Option<&'static str> {
    ALL.get(n as usize).map(|(_, name)| *name)
}

/// A capability's name as Docker and runc take it (`NET_ADMIN`, `cap_net_admin`,
/// `CAP_NET_ADMIN`) in the runtime-spec's spelling (`CAP_NET_ADMIN`); `ALL` stays.
pub fn canonical(s: &str) -> String {
    let u = s.to_ascii_uppercase();
    if u == "ALL" || u.starts_with("CAP_") {
        u
    } else {
        format!("CAP_{u}")
    }
}

/// The capability called `s` (any of [`canonical`]'s spellings).
pub fn parse(s: &str) -> Option<Capability> {
    let c = canonical(s);
    ALL.iter().find(|(_, n)| *n == c).map(|(cap, _)| *cap)
}

/// A set as a 64-bit mask.
pub fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter().flatten().fold(0u64, |m, c| m | 1u64 << number(*c))
}

/// The highest capability the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// The resolved masks, computed before cloning.
#[derive(Debug, Clone, Copy)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
    pub last_cap: u32,
}

impl CapSets {
    /// Masks of a spec's capabilities.
    pub fn new(c: &LinuxCapabilities) -> Self {
        CapSets {
            bounding: mask(c.bounding()),
            effective: mask(c.effective()),
            permitted: mask(c.permitted()),
            inheritable: mask(c.inheritable()),
            ambient: mask(c.ambient()),
            last_cap: last_cap(),
        }
    }

    /// Drops from the bounding set every capability not in it (needs CAP_SETPCAP).
    pub fn apply_bounding(&self) -> Result<()> {
        for cap in 0..=self.last_cap {
            if self.bounding & (1 << cap) == 0 {
                // SAFETY: plain prctl with integer arguments.
                let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if r != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EINVAL) {
                        return Err(e).ctx(|| format!("drop capability {cap} from the bounding set"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets effective, permitted and inheritable, then the ambient set.
    pub fn apply(&self) -> Result<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let hdr = Header { version: 0x20080522, pid: 0 };
        let split = |m: u64| (m as u32, (m >> 32) as u32);
        let (e0, e1) = split(self.effective);
        let (p0, p1) = split(self.permitted);
        let (i0, i1) = split(self.inheritable);
        let data = [
            Data { effective: e0, permitted: p0, inheritable: i0 },
            Data { effective: e1, permitted: p1, inheritable: i1 },
        ];
        // SAFETY: capset with a v3 header and two data structs, as the ABI requires.
        let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) };
        if r != 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "capset (process.capabilities)".into());
        }
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
        for cap in 0..=self.last_cap {
            if self.ambient & (1 << cap) != 0 {
                // A capability not in permitted and inheritable cannot be ambient; runc
                // ignores that case too, so the result is not checked.
                // SAFETY: prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, cap as libc::c_ulong, 0, 0) };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_CHOWN","CAP_KILL","CAP_CHECKPOINT_RESTORE"],"effective":["CAP_KILL"]}"#,
        )
        .unwrap();
        let s = CapSets::new(&c);
        assert_eq!(s.bounding, 1 | 1 << 5 | 1 << 40);
        assert_eq!(s.effective, 1 << 5);
        assert_eq!(s.ambient, 0);
    }
}

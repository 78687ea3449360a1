//! Capabilities: the five sets of `process.capabilities`, applied at the syscall edge
//! (capset, prctl) because this is the security boundary hull owns.

use crate::error::{Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// The kernel number of a capability.
pub fn number(c: Capability) -> u32 {
    use Capability::*;
    match c {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
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

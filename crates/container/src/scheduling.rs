//! How the kernel schedules the container's process: `process.scheduler`
//! (sched_setattr), `process.ioPriority` (ioprio_set) and `linux.personality`.
//! Applied in the init just before it switches user, so they reach the user's program.

use crate::error::{Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler,
};

/// Sets the I/O scheduling class and level of the calling process.
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    let class: libc::c_long = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::SpecInvalid {
            field: "process.ioPriority.priority".into(),
            reason: format!("{level} is not 0..7"),
        });
    }
    // SAFETY: ioprio_set with integer arguments, for the calling process.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (class << 13) | level as libc::c_long) } != 0
    {
        return Err(Error::io("process.ioPriority: ioprio_set", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The kernel's `struct sched_attr` (first version, 48 bytes).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Sets the scheduling policy and parameters of the calling process.
pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr for the calling thread with a valid, sized sched_attr.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } != 0 {
        return Err(Error::io("process.scheduler: sched_setattr", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Sets the execution domain (`linux.personality`).
pub fn set_personality(domain: LinuxPersonalityDomain) -> Result<()> {
    let persona: libc::c_ulong = match domain {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality takes an integer.
    if unsafe { libc::personality(persona) } == -1 {
        return Err(Error::io("linux.personality", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sched_attr_is_the_kernels_first_version() {
        assert_eq!(std::mem::size_of::<super::SchedAttr>(), 48);
    }
}

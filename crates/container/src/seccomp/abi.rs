//! The ABIs a seccomp filter serves on this machine: each one's audit architecture,
//! where its syscall numbers live (x32 shares x86_64's with a bit set, except its
//! compat entries) and how a syscall's name becomes its number there.

use oci_spec::runtime::Arch;

/// Audit architecture values (`AUDIT_ARCH_*`, what `seccomp_data.arch` holds).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

pub(super) const X32_BIT: u32 = 0x4000_0000;

/// One ABI the filter serves: where its numbers live and how to name them.
#[derive(Clone, Copy)]
pub(super) struct Abi {
    pub audit_arch: u32,
    /// Its syscall numbers are `base + table number`, within `[base, end)`.
    pub base: u32,
    pub end: u64,
    /// 64-bit arguments (else only the low word is compared, as libseccomp does).
    pub wide: bool,
    pub lookup: fn(&str) -> Option<u32>,
}

#[cfg(target_arch = "x86_64")]
pub(super) fn x86_64_nr(name: &str) -> Option<u32> {
    name.parse::<syscalls::x86_64::Sysno>().ok().map(|s| s.id() as u32)
}
/// x32's own numbers: where x32 could not share x86_64's entry (pointer-size or
/// struct-layout differences), it has a compat entry at 512 and up, and the x86_64
/// number of the same name is not available to it (the kernel's syscall_64.tbl).
#[cfg(target_arch = "x86_64")]
const X32_COMPAT: &[(&str, u32)] = &[
    ("rt_sigaction", 512),
    ("rt_sigreturn", 513),
    ("ioctl", 514),
    ("readv", 515),
    ("writev", 516),
    ("recvfrom", 517),
    ("sendmsg", 518),
    ("recvmsg", 519),
    ("execve", 520),
    ("ptrace", 521),
    ("rt_sigpending", 522),
    ("rt_sigtimedwait", 523),
    ("rt_sigqueueinfo", 524),
    ("sigaltstack", 525),
    ("timer_create", 526),
    ("mq_notify", 527),
    ("kexec_load", 528),
    ("waitid", 529),
    ("set_robust_list", 530),
    ("get_robust_list", 531),
    ("vmsplice", 532),
    ("move_pages", 533),
    ("preadv", 534),
    ("pwritev", 535),
    ("rt_tgsigqueueinfo", 536),
    ("recvmmsg", 537),
    ("sendmmsg", 538),
    ("process_vm_readv", 539),
    ("process_vm_writev", 540),
    ("setsockopt", 541),
    ("getsockopt", 542),
    ("io_setup", 543),
    ("io_submit", 544),
    ("execveat", 545),
    ("preadv2", 546),
    ("pwritev2", 547),
];

/// An x32 syscall's number without the x32 bit (the ABI adds it).
#[cfg(target_arch = "x86_64")]
fn x32_nr(name: &str) -> Option<u32> {
    match X32_COMPAT.iter().find(|(n, _)| *n == name) {
        Some((_, nr)) => Some(*nr),
        None => x86_64_nr(name),
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) fn x86_nr(name: &str) -> Option<u32> {
    name.parse::<syscalls::x86::Sysno>().ok().map(|s| s.id() as u32)
}
#[cfg(target_arch = "aarch64")]
fn aarch64_nr(name: &str) -> Option<u32> {
    name.parse::<syscalls::aarch64::Sysno>().ok().map(|s| s.id() as u32)
}
#[cfg(target_arch = "aarch64")]
fn arm_nr(name: &str) -> Option<u32> {
    name.parse::<syscalls::arm::Sysno>().ok().map(|s| s.id() as u32)
}

/// The ABIs of the native architecture and of the listed ones this machine can run.
/// x32 uses x86_64's numbers with the x32 bit set, except its compat entries (512 and
/// up, [`X32_COMPAT`]).
pub(super) fn abis(listed: &[Arch]) -> Vec<Abi> {
    let has = |a: Arch| listed.contains(&a);
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        out.push(Abi { audit_arch: AUDIT_ARCH_X86_64, base: 0, end: X32_BIT as u64, wide: true, lookup: x86_64_nr });
        if has(Arch::ScmpArchX32) {
            out.push(Abi { audit_arch: AUDIT_ARCH_X86_64, base: X32_BIT, end: 1 << 32, wide: true, lookup: x32_nr });
        }
        if has(Arch::ScmpArchX86) {
            out.push(Abi { audit_arch: AUDIT_ARCH_I386, base: 0, end: 1 << 32, wide: false, lookup: x86_nr });
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        out.push(Abi { audit_arch: AUDIT_ARCH_AARCH64, base: 0, end: 1 << 32, wide: true, lookup: aarch64_nr });
        if has(Arch::ScmpArchArm) {
            out.push(Abi { audit_arch: AUDIT_ARCH_ARM, base: 0, end: 1 << 32, wide: false, lookup: arm_nr });
        }
    }
    let _ = has;
    out
}

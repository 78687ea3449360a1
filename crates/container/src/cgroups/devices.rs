//! The device cgroup: which device nodes the container may open or mknod.
//!
//! Rules are the config's `linux.resources.devices`, then an allow rule for each of
//! `linux.devices`, then the defaults every container gets (null, zero, full, random,
//! urandom, tty, console, ptmx, pts, tun), as runc orders them; later rules win. On v1
//! they are written to devices.deny/devices.allow; on v2 the same list becomes an eBPF
//! program of type CGROUP_DEVICE attached to the container's cgroup. The program is
//! written here instruction by instruction because it is small and is hull's own
//! security boundary (no BPF toolchain or crate at run time).

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One rule: `kind` is b'a', b'b' or b'c'; None major/minor means any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: u8,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Bits: 1 mknod, 2 read, 4 write.
    pub access: u8,
}

fn access_bits(s: &str) -> u8 {
    s.bytes().fold(0, |a, c| {
        a | match c {
            b'm' => 1,
            b'r' => 2,
            b'w' => 4,
            _ => 0,
        }
    })
}

fn rule_of(d: &LinuxDeviceCgroup) -> Rule {
    let kind = match d.typ() {
        Some(LinuxDeviceType::B) => b'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => b'c',
        Some(LinuxDeviceType::P) => b'p',
        Some(LinuxDeviceType::A) | None => b'a',
    };
    Rule {
        allow: d.allow(),
        kind,
        major: d.major().filter(|m| *m >= 0).map(|m| m as u32),
        minor: d.minor().filter(|m| *m >= 0).map(|m| m as u32),
        access: d.access().as_deref().map(access_bits).unwrap_or(7),
    }
}

/// The full ordered rule list for a spec, or None when the spec sets no device rules.
pub fn rules(spec: &Spec) -> Option<Vec<Rule>> {
    let linux = spec.linux().as_ref()?;
    let configured = linux.resources().as_ref().and_then(|r| r.devices().as_ref())?;
    let mut out: Vec<Rule> = configured.iter().map(rule_of).collect();
    for d in linux.devices().iter().flatten() {
        let kind = match d.typ() {
            LinuxDeviceType::B => b'b',
            LinuxDeviceType::P => continue,
            _ => b'c',
        };
        out.push(Rule { allow: true, kind, major: Some(d.major() as u32), minor: Some(d.minor() as u32), access: 7 });
    }
    let c = |major, minor: Option<u32>| Rule { allow: true, kind: b'c', major: Some(major), minor, access: 7 };
    out.extend([
        Rule { allow: true, kind: b'c', major: None, minor: None, access: 1 },
        Rule { allow: true, kind: b'b', major: None, minor: None, access: 1 },
        c(1, Some(3)),
        c(1, Some(5)),
        c(1, Some(7)),
        c(1, Some(8)),
        c(1, Some(9)),
        c(5, Some(0)),
        c(5, Some(1)),
        c(5, Some(2)),
        c(136, None),
        c(10, Some(200)),
    ]);
    Some(out)
}

fn v1_line(r: &Rule) -> String {
    if r.kind == b'a' {
        return "a".into();
    }
    let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
    let acc: String =
        [(1, 'm'), (2, 'r'), (4, 'w')].iter().filter(|(b, _)| r.access & b != 0).map(|(_, c)| *c).collect();
    format!("{} {}:{} {}", r.kind as char, n(r.major), n(r.minor), acc)
}

/// Writes the rules into a v1 devices cgroup (starting from deny-all).
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    let w = |file: &str, line: &str| {
        std::fs::write(dir.join(file), line).map_err(|e| {
            Error::io(format!("linux.resources.devices: write {line:?} to {}", dir.join(file).display()), e)
        })
    };
    w("devices.deny", "a")?;
    for r in rules {
        w(if r.allow { "devices.allow" } else { "devices.deny" }, &v1_line(r))?;
    }
    Ok(())
}

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}
const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57; // dst &= imm (64-bit)
const RSH_K: u8 = 0x77; // dst >>= imm
const MOV_K: u8 = 0xb7; // dst = imm
const MOV_X: u8 = 0xbf; // dst = src
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const JEQ_K: u8 = 0x15; // if dst == imm: pc += off
const EXIT: u8 = 0x95;

/// Compiles the rules into a CGROUP_DEVICE program: the last matching rule decides,
/// no match denies. Context: access_type (type | access << 16), major, minor.
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),      // r2 = access_type
        insn(AND_K, 2, 0, 0, 0xffff), // r2 = type (1 block, 2 char)
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16), // r3 = requested access
        insn(LDX_W, 4, 1, 4, 0),  // r4 = major
        insn(LDX_W, 5, 1, 8, 0),  // r5 = minor
    ];
    for r in rules.iter().rev() {
        let mut block = Vec::new();
        match r.kind {
            b'b' => block.push(insn(JNE_K, 2, 0, 0, 1)),
            b'c' => block.push(insn(JNE_K, 2, 0, 0, 2)),
            b'a' => {}
            _ => continue, // fifos are not device-controlled
        }
        if r.kind != b'a' {
            if let Some(m) = r.major {
                block.push(insn(JNE_K, 4, 0, 0, m as i32));
            }
            if let Some(m) = r.minor {
                block.push(insn(JNE_K, 5, 0, 0, m as i32));
            }
        }
        if r.access & 7 != 7 {
            block.push(insn(MOV_X, 6, 3, 0, 0));
            if r.allow {
                // An allow rule must grant every access asked for.
                block.push(insn(AND_K, 6, 0, 0, (!r.access & 7) as i32));
                block.push(insn(JNE_K, 6, 0, 0, 0));
            } else {
                // A deny rule applies as soon as it covers any access asked for.
                block.push(insn(AND_K, 6, 0, 0, (r.access & 7) as i32));
                block.push(insn(JEQ_K, 6, 0, 0, 0));
            }
        }
        block.push(insn(MOV_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // Every jump skips to the end of this block. A block without jumps always
        // decides: what follows it would be unreachable, which the verifier rejects.
        let unconditional = block.len() == 2;
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JEQ_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
        if unconditional {
            return p;
        }
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Loads the program and attaches it to the v2 cgroup `dir`.
pub fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = compile(rules);
    let license = c"Apache-2.0";
    let mut load = [0u64; 16];
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, …
    load[0] = 15 | ((prog.len() as u64) << 32); // BPF_PROG_TYPE_CGROUP_DEVICE
    load[1] = prog.as_ptr() as u64;
    load[2] = license.as_ptr() as u64;
    // SAFETY: bpf(BPF_PROG_LOAD) reads a bpf_attr of the given size that points at
    // `prog` and `license`, both alive for the call.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 5, load.as_ptr(), std::mem::size_of_val(&load)) };
    if fd < 0 {
        return Err(Error::io("linux.resources.devices: load the eBPF device filter", std::io::Error::last_os_error()));
    }
    // SAFETY: a new descriptor we own.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir).map_err(|e| Error::io(format!("open {}", dir.display()), e))?;
    let mut attach = [0u32; 8];
    attach[0] = cg.as_raw_fd() as u32; // target_fd
    attach[1] = prog_fd.as_raw_fd() as u32; // attach_bpf_fd
    attach[2] = 6; // BPF_CGROUP_DEVICE
    attach[3] = 2; // BPF_F_ALLOW_MULTI: coexist with programs on the parents
                   // SAFETY: bpf(BPF_PROG_ATTACH) reads a bpf_attr of the given size.
    if unsafe { libc::syscall(libc::SYS_bpf, 8, attach.as_ptr(), std::mem::size_of_val(&attach)) } != 0 {
        return Err(Error::io(
            format!("linux.resources.devices: attach the eBPF device filter to {}", dir.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a compiled program in a tiny interpreter (only the opcodes `compile` emits).
    fn run(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [kind | (access << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[i.off as usize / 4] as u64,
                AND_K => r[dst] &= i.imm as u32 as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_K => r[dst] = i.imm as u32 as u64,
                MOV_X => r[dst] = r[src],
                JNE_K => {
                    if r[dst] != i.imm as u32 as u64 {
                        pc += i.off as usize
                    }
                }
                JEQ_K => {
                    if r[dst] == i.imm as u32 as u64 {
                        pc += i.off as usize
                    }
                }
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    fn rule(allow: bool, kind: u8, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
        Rule { allow, kind, major, minor, access: access_bits(access) }
    }

    #[test]
    fn last_matching_rule_wins_and_default_denies() {
        let rules = vec![
            rule(false, b'a', None, None, "rwm"),
            rule(true, b'c', Some(1), Some(3), "rwm"),
            rule(true, b'c', Some(136), None, "rw"),
            rule(false, b'c', Some(136), Some(9), "rwm"),
        ];
        let p = compile(&rules);
        const CHAR: u32 = 2;
        const BLOCK: u32 = 1;
        assert_eq!(run(&p, CHAR, 2, 1, 3), 1, "/dev/null read");
        assert_eq!(run(&p, CHAR, 1, 1, 3), 1, "/dev/null mknod");
        assert_eq!(run(&p, BLOCK, 2, 1, 3), 0, "block 1:3 is another device");
        assert_eq!(run(&p, CHAR, 2, 1, 11), 0, "kmsg denied");
        assert_eq!(run(&p, CHAR, 6, 136, 4), 1, "pts read+write");
        assert_eq!(run(&p, CHAR, 1, 136, 4), 0, "pts mknod not allowed");
        assert_eq!(run(&p, CHAR, 2, 136, 9), 0, "a later deny wins");
    }

    #[test]
    fn allow_all_then_deny_one() {
        let rules = vec![rule(true, b'a', None, None, "rwm"), rule(false, b'b', Some(8), None, "w")];
        let p = compile(&rules);
        assert_eq!(run(&p, 1, 2, 8, 0), 1, "read of sda allowed");
        assert_eq!(run(&p, 1, 4, 8, 0), 0, "write of sda denied");
        assert_eq!(run(&p, 1, 6, 8, 0), 0, "read+write includes write");
        assert_eq!(run(&p, 2, 4, 4, 1), 1);
    }

    #[test]
    fn nothing_after_an_unconditional_rule() {
        let rules = vec![rule(false, b'a', None, None, "rwm"), rule(true, b'c', Some(1), Some(3), "rwm")];
        let p = compile(&rules);
        // The deny-all block ends the program: no unreachable tail.
        assert_eq!(&p[p.len() - 2..], &[insn(MOV_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
        assert_eq!(p.iter().filter(|i| i.code == EXIT).count(), 2);
    }

    #[test]
    fn v1_lines() {
        assert_eq!(v1_line(&rule(true, b'c', Some(1), None, "rw")), "c 1:* rw");
        assert_eq!(v1_line(&rule(false, b'a', None, None, "rwm")), "a");
    }
}

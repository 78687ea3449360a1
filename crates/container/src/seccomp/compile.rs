//! `linux.seccomp` → a classic BPF program, written by hand: the profile is untrusted
//! input and the filter is the container's last wall, so the compiler is small enough
//! to read and is checked against an interpreter in the tests. (Firecracker's
//! `seccompiler` has one match action per filter, not one per rule, and no notify;
//! libseccomp would add a C library to a static binary and is the cost the cache hides.)
//!
//! Shape of the program, per the semantics runc gets from libseccomp:
//! - the architecture is checked first; the native one and the listed ones that run on
//!   this machine each get a section, any other architecture is killed;
//! - a section covers every syscall number with intervals (numbers with the same
//!   outcome are merged) and finds a number's interval by binary search, so a lookup
//!   costs a handful of comparisons whatever the profile's size;
//! - a syscall with argument rules runs them in order: all conditions of a rule must
//!   hold (64-bit comparisons on 64-bit ABIs, the low word on 32-bit ones); the first
//!   rule that holds gives its action, else the syscall's unconditional action, else the
//!   default;
//! - names this machine's tables do not know are skipped, as runc does;
//! - as runc does (its "-ENOSYS stub"), when the default refuses, syscalls newer than any
//!   the profile names, and clone3 when it is not named, fail with ENOSYS so that libc
//!   falls back to the older call instead of treating the refusal as fatal.

use super::abi::{abis, Abi, X32_BIT};
pub use super::abi::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use super::bpf::{self, Chunk};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op};
use std::collections::BTreeMap;

/// Return values (`SECCOMP_RET_*`).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// The BPF return value of an action; `errno` is `errnoRet` (EPERM when absent, as runc).
pub fn action_value(field: &str, act: Act, errno: Option<u32>) -> Result<u32> {
    let with_errno = |base: u32| -> Result<u32> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        if e > 0xffff {
            return Err(invalid(field, format!("errnoRet {e} does not fit in 16 bits")));
        }
        Ok(base | e)
    };
    if errno.is_some() && !matches!(act, Act::ScmpActErrno | Act::ScmpActTrace) {
        return Err(invalid(
            field,
            format!("errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {act}"),
        ));
    }
    Ok(match act {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => with_errno(RET_ERRNO)?,
        Act::ScmpActTrace => with_errno(RET_TRACE)?,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
        Act::ScmpActNotify => RET_USER_NOTIF,
    })
}

fn invalid(field: &str, reason: String) -> Error {
    Error::SpecInvalid { field: field.into(), reason }
}

/// One argument condition (`valueTwo` is 0 when absent, as in runc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
    /// Compare all 64 bits (else the low word only).
    wide: bool,
}

/// What one syscall does.
#[derive(Clone, Debug, Default)]
struct Rules {
    /// Rules with conditions, in profile order, each with its return value.
    conditional: Vec<(Vec<Cond>, u32)>,
    /// The action of a rule without conditions.
    unconditional: Option<u32>,
}

/// The outcome of an interval of syscall numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Block {
    Ret(u32),
    /// Conditional rules in order, then the value when none holds.
    Rules(Vec<(Vec<Cond>, u32)>, u32),
}

/// Compiles the profile into a program. Fails on invalid actions, indexes or operators.
pub fn compile(s: &LinuxSeccomp) -> Result<Chunk> {
    let default = action_value("linux.seccomp.defaultAction", s.default_action(), s.default_errno_ret())?;
    if s.default_action() == Act::ScmpActNotify {
        return Err(invalid("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action".into()));
    }
    // Per name: rules in profile order. A rule with several conditions on the same
    // argument becomes one rule per condition (runc's reading of such profiles).
    // An action of None: a rule equal to the default, which libseccomp refuses and runc
    // drops; its names still count as named for the ENOSYS stub.
    let mut by_name: Vec<(&str, Vec<Cond>, Option<u32>)> = Vec::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = action_value(&field, sc.action(), sc.errno_ret())?;
        let mut conds = Vec::new();
        for a in sc.args().iter().flatten() {
            if a.index() > 5 {
                return Err(invalid(&field, format!("argument index {} is out of range 0..5", a.index())));
            }
            conds.push(Cond {
                index: a.index() as u32,
                op: a.op(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                wide: true,
            });
        }
        let mut per_index = [0u8; 6];
        conds.iter().for_each(|c| per_index[c.index as usize] += 1);
        let split = per_index.iter().any(|n| *n > 1);
        for name in sc.names() {
            if action == default {
                by_name.push((name, Vec::new(), None));
            } else if split {
                for c in &conds {
                    by_name.push((name, vec![*c], Some(action)));
                }
            } else {
                by_name.push((name, conds.clone(), Some(action)));
            }
        }
    }
    let enosys_stub = !matches!(s.default_action(), Act::ScmpActAllow | Act::ScmpActLog);
    let abis = abis(s.architectures().as_deref().unwrap_or_default());
    if abis.is_empty() {
        return Err(invalid("linux.seccomp", format!("hull has no syscall table for {}", std::env::consts::ARCH)));
    }

    // One section per audit architecture, in order of first appearance.
    let mut sections: Vec<(u32, Vec<(u32, Block)>)> = Vec::new();
    for abi in &abis {
        let intervals = abi_intervals(abi, &by_name, default, enosys_stub);
        match sections.iter_mut().find(|(a, _)| *a == abi.audit_arch) {
            Some((_, v)) => v.extend(intervals),
            None => sections.push((abi.audit_arch, intervals)),
        }
    }
    // x86_64 without x32: numbers with the x32 bit belong to another ABI.
    for (arch, intervals) in &mut sections {
        if *arch == AUDIT_ARCH_X86_64 && intervals.iter().all(|(start, _)| *start < X32_BIT) {
            intervals.push((X32_BIT, Block::Ret(RET_KILL_PROCESS)));
        }
    }

    let mut prog = Chunk::default();
    prog.load(bpf::OFF_ARCH);
    prog.append(arch_chain(&sections, 0));
    if prog.len() > bpf::MAX_INSNS {
        return Err(invalid(
            "linux.seccomp",
            format!("the profile compiles to {} instructions; the kernel takes at most {}", prog.len(), bpf::MAX_INSNS),
        ));
    }
    Ok(prog)
}

/// The intervals covering one ABI's numbers, merged where the outcome is the same.
fn abi_intervals(
    abi: &Abi,
    by_name: &[(&str, Vec<Cond>, Option<u32>)],
    default: u32,
    enosys_stub: bool,
) -> Vec<(u32, Block)> {
    let mut rules: BTreeMap<u32, Rules> = BTreeMap::new();
    let mut named: Vec<u32> = Vec::new();
    for (name, conds, action) in by_name {
        let Some(nr) = (abi.lookup)(name) else { continue };
        let nr = abi.base + nr;
        named.push(nr);
        let Some(action) = action else { continue };
        let r = rules.entry(nr).or_default();
        if conds.is_empty() {
            r.unconditional.get_or_insert(*action);
        } else {
            let conds =
                if abi.wide { conds.clone() } else { conds.iter().map(|c| Cond { wide: false, ..*c }).collect() };
            r.conditional.push((conds, *action));
        }
    }
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut stub_nrs: Vec<u32> = Vec::new();
    let mut stub_from: Option<u64> = None;
    if enosys_stub {
        if let Some(max) = named.iter().max() {
            stub_from = Some(*max as u64 + 1);
        }
        if let Some(c3) = (abi.lookup)("clone3") {
            if !named.contains(&(abi.base + c3)) {
                stub_nrs.push(abi.base + c3);
            }
        }
    }
    let block_of = |nr: u32| -> Block {
        match rules.get(&nr) {
            Some(r) if !r.conditional.is_empty() => {
                Block::Rules(r.conditional.clone(), r.unconditional.unwrap_or(default))
            }
            Some(r) => Block::Ret(r.unconditional.unwrap_or(default)),
            None if stub_nrs.contains(&nr) || stub_from.is_some_and(|f| nr as u64 >= f) => Block::Ret(enosys),
            None => Block::Ret(default),
        }
    };
    // Breakpoints: every number with its own outcome, the number after it, the stub.
    let mut points: Vec<u64> = vec![abi.base as u64];
    for nr in rules.keys().chain(stub_nrs.iter()) {
        points.push(*nr as u64);
        points.push(*nr as u64 + 1);
    }
    points.extend(stub_from);
    points.retain(|p| *p >= abi.base as u64 && *p < abi.end);
    points.sort_unstable();
    points.dedup();
    let mut out: Vec<(u32, Block)> = Vec::new();
    for p in points {
        let b = block_of(p as u32);
        if out.last().is_some_and(|(_, last)| *last == b && matches!(b, Block::Ret(_))) {
            continue;
        }
        out.push((p as u32, b));
    }
    out
}

/// `if arch == sections[i] { section } else { next }`, ending in the kill of unknown ABIs.
fn arch_chain(sections: &[(u32, Vec<(u32, Block)>)], i: usize) -> Chunk {
    let mut c = Chunk::default();
    let Some((arch, intervals)) = sections.get(i) else {
        c.ret(RET_KILL_PROCESS);
        return c;
    };
    let mut section = Chunk::default();
    section.load(bpf::OFF_NR);
    section.append(search(intervals));
    c.branch_over(bpf::JEQ_K, *arch, section, arch_chain(sections, i + 1));
    c
}

/// Binary search over sorted, covering intervals; the accumulator holds the number.
fn search(intervals: &[(u32, Block)]) -> Chunk {
    if intervals.len() == 1 {
        return block(&intervals[0].1);
    }
    let mid = intervals.len() / 2;
    let mut c = Chunk::default();
    c.branch_over(bpf::JGE_K, intervals[mid].0, search(&intervals[mid..]), search(&intervals[..mid]));
    c
}

fn block(b: &Block) -> Chunk {
    let mut c = Chunk::default();
    match b {
        Block::Ret(v) => c.ret(*v),
        Block::Rules(rules, otherwise) => {
            for (conds, action) in rules {
                c.append(rule(conds, *action));
            }
            c.ret(*otherwise);
        }
    }
    c
}

/// A jump target while a rule is built: relative, or "the next rule".
#[derive(Clone, Copy)]
enum J {
    Rel(u8),
    Fail,
}

/// All conditions, then the action; any failed condition jumps past the rule.
fn rule(conds: &[Cond], action: u32) -> Chunk {
    let mut code: Vec<(u16, J, J, u32)> = Vec::new();
    for c in conds {
        cond(c, &mut code);
    }
    code.push((bpf::RET_K, J::Rel(0), J::Rel(0), action));
    let len = code.len();
    let mut out = Chunk::default();
    for (i, (op, jt, jf, k)) in code.into_iter().enumerate() {
        // A rule is at most 6 conditions of at most 6 instructions: offsets fit in a u8.
        let resolve = |j: J| match j {
            J::Rel(n) => n,
            J::Fail => (len - i - 1) as u8,
        };
        out.push(op, resolve(jt), resolve(jf), k);
    }
    out
}

/// Code that falls through when the condition holds and jumps to Fail otherwise.
/// Comparisons are unsigned, over the high word first, then the low one.
fn cond(c: &Cond, code: &mut Vec<(u16, J, J, u32)>) {
    use bpf::{ALU_AND_K as AND, JEQ_K as EQ, JGE_K as GE, JGT_K as GT, LD_W_ABS as LD};
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let (ld_hi, ld_lo) = (bpf::off_arg_hi(c.index), bpf::off_arg_lo(c.index));
    let mut e = |op, jt, jf, k| code.push((op, jt, jf, k));
    let (next, fail) = (J::Rel(0), J::Fail);
    if !c.wide {
        // A 32-bit ABI: arguments are one word, compared as libseccomp does.
        e(LD, next, next, ld_lo);
        match c.op {
            Op::ScmpCmpEq => e(EQ, next, fail, lo),
            Op::ScmpCmpNe => e(EQ, fail, next, lo),
            Op::ScmpCmpMaskedEq => {
                e(AND, next, next, lo);
                e(EQ, next, fail, c.value_two as u32);
            }
            Op::ScmpCmpGt => e(GT, next, fail, lo),
            Op::ScmpCmpGe => e(GE, next, fail, lo),
            Op::ScmpCmpLt => e(GE, fail, next, lo),
            Op::ScmpCmpLe => e(GT, fail, next, lo),
        }
        return;
    }
    match c.op {
        Op::ScmpCmpEq => {
            e(LD, next, next, ld_hi);
            e(EQ, next, fail, hi);
            e(LD, next, next, ld_lo);
            e(EQ, next, fail, lo);
        }
        Op::ScmpCmpNe => {
            e(LD, next, next, ld_hi);
            e(EQ, next, J::Rel(2), hi);
            e(LD, next, next, ld_lo);
            e(EQ, fail, next, lo);
        }
        Op::ScmpCmpMaskedEq => {
            let (m_hi, m_lo) = (hi, lo);
            let (d_hi, d_lo) = ((c.value_two >> 32) as u32, c.value_two as u32);
            e(LD, next, next, ld_hi);
            e(AND, next, next, m_hi);
            e(EQ, next, fail, d_hi);
            e(LD, next, next, ld_lo);
            e(AND, next, next, m_lo);
            e(EQ, next, fail, d_lo);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            let last = if c.op == Op::ScmpCmpGt { GT } else { GE };
            e(LD, next, next, ld_hi);
            e(GT, J::Rel(3), next, hi);
            e(EQ, next, fail, hi);
            e(LD, next, next, ld_lo);
            e(last, next, fail, lo);
        }
        Op::ScmpCmpLt | Op::ScmpCmpLe => {
            // LT is "not GE", LE is "not GT".
            let last = if c.op == Op::ScmpCmpLt { GE } else { GT };
            e(LD, next, next, ld_hi);
            e(GT, fail, next, hi);
            e(EQ, next, J::Rel(2), hi);
            e(LD, next, next, ld_lo);
            e(last, fail, next, lo);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::seccomp::abi::{x86_64_nr, x86_nr};
    use crate::seccomp::bpf::run;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }
    fn nr(name: &str) -> u32 {
        x86_64_nr(name).unwrap()
    }
    fn eval(p: &Chunk, name: &str, args: [u64; 6]) -> u32 {
        run(&p.0, nr(name), AUDIT_ARCH_X86_64, args).unwrap()
    }
    const EPERM: u32 = RET_ERRNO | 1;

    #[test]
    fn allow_list_with_default_errno() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read", "write", "openat", "not_a_syscall"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
            ]
        })))
        .unwrap();
        assert_eq!(eval(&p, "read", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&p, "write", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&p, "openat", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&p, "mkdir", [0; 6]), RET_ERRNO | 13);
        assert_eq!(eval(&p, "getpid", [0; 6]), RET_KILL_PROCESS);
        assert_eq!(eval(&p, "close", [0; 6]), EPERM);
        // Newer than anything named (openat is 257): ENOSYS, as runc's stub.
        assert_eq!(eval(&p, "statx", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(eval(&p, "clone3", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
        // x32 numbers and foreign architectures are another ABI: killed.
        assert_eq!(run(&p.0, X32_BIT | nr("read"), AUDIT_ARCH_X86_64, [0; 6]), Ok(RET_KILL_PROCESS));
        assert_eq!(run(&p.0, 3, AUDIT_ARCH_I386, [0; 6]), Ok(RET_KILL_PROCESS));
    }

    #[test]
    fn x32_uses_its_compat_numbers() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["ioctl", "read"], "action": "SCMP_ACT_ALLOW"}]
        })))
        .unwrap();
        let x32 = |n: u32| run(&p.0, X32_BIT | n, AUDIT_ARCH_X86_64, [0; 6]).unwrap();
        assert_eq!(x32(514), RET_ALLOW, "x32 ioctl");
        assert_eq!(x32(nr("read")), RET_ALLOW, "x32 read shares x86_64's number");
        assert_ne!(x32(nr("ioctl")), RET_ALLOW, "x86_64's ioctl number is not x32's");
        assert_eq!(eval(&p, "ioctl", [0; 6]), RET_ALLOW);
    }

    #[test]
    fn a_rule_equal_to_the_default_still_counts_for_the_stub() {
        // statx (332) is named with the default action: the stub starts after it.
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["statx"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        assert_eq!(eval(&p, "statx", [0; 6]), EPERM);
        assert_eq!(eval(&p, "openat", [0; 6]), EPERM);
        assert_eq!(eval(&p, "io_pgetevents", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn default_allow_has_no_stub() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        assert_eq!(eval(&p, "mkdir", [0; 6]), EPERM);
        assert_eq!(eval(&p, "statx", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&p, "clone3", [0; 6]), RET_ALLOW);
    }

    #[test]
    fn every_number_matches_a_linear_reference() {
        // A profile with gaps, runs and rules: compare each number's outcome with a
        // straightforward lookup.
        let names =
            ["read", "write", "close", "mmap", "brk", "ioctl", "getpid", "socket", "clone", "exit", "uname", "openat"];
        let sys: Vec<serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let action = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"][i % 3];
                serde_json::json!({"names": [n], "action": action})
            })
            .collect();
        let p = compile(&profile(serde_json::json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": sys}))).unwrap();
        let max = names.iter().map(|n| nr(n)).max().unwrap();
        for x in 0..600u32 {
            let expect = match names.iter().position(|n| nr(n) == x) {
                Some(i) => [RET_ALLOW, RET_LOG, RET_TRAP][i % 3],
                None if x > max || x == nr("clone3") => RET_ERRNO | libc::ENOSYS as u32,
                None => RET_KILL_THREAD,
            };
            assert_eq!(run(&p.0, x, AUDIT_ARCH_X86_64, [0; 6]), Ok(expect), "syscall {x}");
        }
    }

    #[test]
    fn argument_conditions() {
        let big = 0x1_0000_0005u64;
        let rule = |op: &str, value: u64, two: u64| {
            profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": value, "valueTwo": two, "op": op}]}]
            }))
        };
        type Case = (&'static str, u64, u64, fn(u64, u64, u64) -> bool);
        let cases: &[Case] = &[
            ("SCMP_CMP_EQ", big, 0, |a, v, _| a == v),
            ("SCMP_CMP_NE", big, 0, |a, v, _| a != v),
            ("SCMP_CMP_LT", big, 0, |a, v, _| a < v),
            ("SCMP_CMP_LE", big, 0, |a, v, _| a <= v),
            ("SCMP_CMP_GT", big, 0, |a, v, _| a > v),
            ("SCMP_CMP_GE", big, 0, |a, v, _| a >= v),
            ("SCMP_CMP_MASKED_EQ", 0xff00_0000_00ff, 0x1200_0000_0034, |a, m, d| a & m == d),
        ];
        let probes = [0, 4, 5, 6, big - 1, big, big + 1, 0x1_0000_0000, 0x2_0000_0000, 0x1234_5678_9a34, u64::MAX];
        for (op, v, two, f) in cases {
            let p = compile(&rule(op, *v, *two)).unwrap();
            for a in probes {
                let expect = if f(a, *v, *two) { EPERM } else { RET_ALLOW };
                assert_eq!(eval(&p, "personality", [0, a, 0, 0, 0, 0]), expect, "{op} arg {a:#x}");
            }
        }
    }

    #[test]
    fn rules_are_and_within_or_across_and_same_index_splits() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_LOG",
                 "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            ]
        })))
        .unwrap();
        assert_eq!(eval(&p, "socket", [1, 2, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(eval(&p, "socket", [1, 3, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&p, "socket", [10, 3, 0, 0, 0, 0]), RET_LOG);
        assert_eq!(eval(&p, "personality", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&p, "personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(eval(&p, "personality", [9, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn i386_section_uses_its_own_numbers_and_low_words() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]
        })))
        .unwrap();
        let i386 = |n: &str, a0: u64| run(&p.0, x86_nr(n).unwrap(), AUDIT_ARCH_I386, [a0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(i386("write", 0), RET_ALLOW); // 4 on i386, 1 on x86_64
        assert_eq!(i386("personality", 8), RET_ALLOW);
        assert_eq!(i386("personality", 9), EPERM);
        assert_eq!(run(&p.0, X32_BIT | nr("write"), AUDIT_ARCH_X86_64, [0; 6]), Ok(RET_ALLOW));
        assert_eq!(eval(&p, "write", [0; 6]), RET_ALLOW);
    }

    #[test]
    fn invalid_profiles_are_refused() {
        for (json, msg) in [
            (serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}), "default action"),
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
                "errnoRet",
            ),
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
                "index",
            ),
        ] {
            let e = compile(&profile(json)).unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
    }

    #[test]
    fn a_large_profile_fits() {
        // Every known syscall allowed except one in ten, alternating actions: the
        // worst case for interval merging.
        let sys: Vec<serde_json::Value> = syscalls::x86_64::Sysno::iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 0)
            .map(|(i, s)| {
                serde_json::json!({"names": [s.name()], "action": if i % 2 == 0 { "SCMP_ACT_ALLOW" } else { "SCMP_ACT_LOG" }})
            })
            .collect();
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": sys
        })))
        .unwrap();
        assert!(p.len() < bpf::MAX_INSNS, "{} instructions", p.len());
    }
}

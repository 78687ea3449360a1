//! Classic BPF as seccomp runs it: instruction encoding, relocatable chunks of code
//! whose jumps are all relative and internal, and (for tests) an interpreter.
//!
//! Every chunk the compiler builds ends in a `ret` on every path, so chunks concatenate
//! without relocation: a parent chunk only needs the length of the children it skips.
//! Conditional jumps carry an 8-bit offset; [`Chunk::branch_over`] falls back to a
//! conditional hop onto an unconditional `ja` (32-bit offset) when the target is farther.

/// One classic BPF instruction, laid out as `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// Offsets into `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little-endian: the low word comes first).
pub const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
pub const fn off_arg_hi(i: u32) -> u32 {
    16 + 8 * i + 4
}

/// A run of instructions whose jumps stay inside it (or land right after its end).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk(pub Vec<Insn>);

impl Chunk {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) {
        self.0.push(Insn { code, jt, jf, k });
    }
    pub fn load(&mut self, offset: u32) {
        self.push(LD_W_ABS, 0, 0, offset);
    }
    pub fn ret(&mut self, value: u32) {
        self.push(RET_K, 0, 0, value);
    }
    pub fn append(&mut self, other: Chunk) {
        self.0.extend(other.0);
    }

    /// `if A <op> k { skip[0..] is not run, `taken` runs } else { `not_taken` }`: emits
    /// a test of the accumulator, then `not_taken`, then `taken`. Chooses the short or the
    /// long form of the jump over `not_taken`.
    pub fn branch_over(&mut self, op: u16, k: u32, taken: Chunk, not_taken: Chunk) {
        let skip = not_taken.len();
        if let Ok(jt) = u8::try_from(skip) {
            self.push(op, jt, 0, k);
        } else {
            // jt → the ja; jf hops over it into `not_taken`.
            self.push(op, 0, 1, k);
            self.push(JA, 0, 0, skip as u32);
        }
        self.append(not_taken);
        self.append(taken);
    }

    /// The kernel's byte layout (`struct sock_filter[]`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for i in &self.0 {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    /// Parses [`Chunk::to_bytes`] output (from the filter cache); `None` if it cannot
    /// be a program.
    pub fn from_bytes(b: &[u8]) -> Option<Chunk> {
        if b.is_empty() || !b.len().is_multiple_of(8) || b.len() / 8 > MAX_INSNS {
            return None;
        }
        let insns = b
            .chunks_exact(8)
            .map(|c| Insn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Chunk(insns))
    }
}

/// Runs a program on one `seccomp_data`, as the kernel would; the tests' oracle.
/// Returns the filter's return value, or an error for a malformed program.
#[cfg(test)]
pub fn run(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> Result<u32, String> {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes()); // instruction pointer
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let mut a: u32 = 0;
    let mut pc = 0usize;
    while pc < prog.len() {
        let i = prog[pc];
        pc += 1;
        let cond = |c: bool| if c { i.jt as usize } else { i.jf as usize };
        match i.code {
            LD_W_ABS => {
                let o = i.k as usize;
                let w = data.get(o..o + 4).ok_or(format!("load out of range at {}", pc - 1))?;
                a = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]);
            }
            ALU_AND_K => a &= i.k,
            JA => pc += i.k as usize,
            JEQ_K => pc += cond(a == i.k),
            JGT_K => pc += cond(a > i.k),
            JGE_K => pc += cond(a >= i.k),
            RET_K => return Ok(i.k),
            c => return Err(format!("unknown opcode {c:#x} at {}", pc - 1)),
        }
    }
    Err("fell off the end of the program".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_branches_use_ja() {
        let mut not_taken = Chunk::default();
        for _ in 0..300 {
            not_taken.push(JA, 0, 0, 0);
        }
        not_taken.ret(1);
        let mut taken = Chunk::default();
        taken.ret(2);
        let mut c = Chunk::default();
        c.load(OFF_NR);
        c.branch_over(JGE_K, 10, taken, not_taken);
        assert_eq!(run(&c.0, 11, 0, [0; 6]), Ok(2));
        assert_eq!(run(&c.0, 9, 0, [0; 6]), Ok(1));
    }

    #[test]
    fn bytes_round_trip() {
        let mut c = Chunk::default();
        c.load(OFF_ARCH);
        c.ret(0x7fff_0000);
        assert_eq!(Chunk::from_bytes(&c.to_bytes()), Some(c));
        assert_eq!(Chunk::from_bytes(&[1, 2, 3]), None);
    }
}

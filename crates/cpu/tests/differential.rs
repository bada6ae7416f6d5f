//! Differential test of sysgate's integer instructions against the host
//! processor.
//!
//! Every case is one ring-3 x86-64 instruction that neither branches nor
//! faults, encoded with iced-x86's [`Encoder`] from a randomly chosen [`Code`]
//! with random operands, random register values, random status flags and
//! random memory contents. It runs twice:
//!
//! 1. natively, through `sysgate-native-ref` (all 16 GPRs and the status
//!    flags loaded, memory operands pointing into the host arena at
//!    [`ARENA_BASE`]);
//! 2. in sysgate, in 64-bit mode at CPL 3 with real 4-level paging: the code
//!    pages and the arena are mapped user-accessible and writable; the arena
//!    occupies the same *linear* addresses as natively, and its 16 pages are
//!    backed by a permutation of physical frames (so an access that ignored
//!    paging, or split a page-crossing access wrongly, would touch the wrong
//!    bytes). The instruction runs with `Limit::instructions(1)`.
//!
//! All 16 GPRs, RIP, the whole 64 KiB arena and the status flags (CF PF AF
//! ZF SF OF) plus DF are compared; the other RFLAGS bits must keep their
//! input value. Flags the SDM leaves undefined are masked (see
//! [`undefined_flags`]), as is a destination register the SDM leaves
//! undefined (BSF/BSR with a zero source). Nothing is ever compared against
//! a value the emulator produced.
//!
//! Inputs that would make the native run fault (DIV/IDIV overflow, memory
//! outside the arena) are never generated: the generator computes the
//! quotient with `u128`/`i128` arithmetic and checks every memory access
//! with iced's own instruction info before running anything.
//!
//! Every [`Code`] in scope must be executed at least once (checked at the
//! end), so nothing is skipped silently; the codes deliberately left out are
//! listed, with reasons, in [`exclusion`].
//!
//! Case count: 100,000 by default; `SYSGATE_DIFF_CASES=N` runs `N` cases
//! (the longer mode) and `SYSGATE_DIFF_SEED=S` changes the seed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use iced_x86::{
    Code, Encoder, EncodingKind, Formatter, InstructionInfoFactory, IntelFormatter, Mnemonic,
    OpAccess, OpCodeOperandKind, OpKind, Register, RepPrefixKind, RflagsBits,
};
use iced_x86::{Instruction, MemoryOperand};
use sysgate_cpu::{Exception, Exit, Limit, Vcpu, Vendor};
use sysgate_native_ref::{
    AF, ARENA_BASE, ARENA_SIZE, CF, DF, FLAGS_MASK, NativeError, NativeState, OF, PF, SF, ZF,
    with_runner,
};

/// Default number of cases in a plain `cargo test` run.
const DEFAULT_CASES: u64 = 300_000;
/// Default seed (any fixed value; `SYSGATE_DIFF_SEED` overrides it).
const DEFAULT_SEED: u64 = 0x5157_6a7e_d1ff_0001;

// ---------------------------------------------------------------------------
// Deterministic PRNG
// ---------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `1/n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A value of `bytes` bytes (zero-extended), biased towards the edge
    /// cases of integer arithmetic.
    fn value(&mut self, bytes: u32) -> u64 {
        let bits = bytes * 8;
        let m = mask(bytes);
        let sign = 1u64 << (bits - 1);
        let v = match self.below(8) {
            0 => self.pick(&[
                0,
                1,
                2,
                m,
                m - 1,
                sign,
                sign - 1,
                sign + 1,
                0x7F,
                0x80,
                0xFF,
            ]),
            1 => self.next() >> (64 - u64::from(bits) + self.below(u64::from(bits))),
            2 => self.below(16),
            3 => (self.below(16)).wrapping_neg(),
            _ => self.next(),
        };
        v & m
    }
}

/// All-ones mask of `bytes` bytes.
fn mask(bytes: u32) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (bytes * 8)) - 1
    }
}

// ---------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------

/// The mnemonics under test.
const SCOPE: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Inc, Dec, Neg, Not, Mov, Movzx, Movsx, Movsxd,
        Lea, Xchg, Cmovo, Cmovno, Cmovb, Cmovae, Cmove, Cmovne, Cmovbe, Cmova, Cmovs, Cmovns,
        Cmovp, Cmovnp, Cmovl, Cmovge, Cmovle, Cmovg, Seto, Setno, Setb, Setae, Sete, Setne, Setbe,
        Seta, Sets, Setns, Setp, Setnp, Setl, Setge, Setle, Setg, Bswap, Cbw, Cwde, Cdqe, Cwd, Cdq,
        Cqo, Shl, Shr, Sar, Rol, Ror, Rcl, Rcr, Shld, Shrd, Mul, Imul, Div, Idiv, Bt, Bts, Btr,
        Btc, Bsf, Bsr, Tzcnt, Lzcnt, Popcnt, Cmpxchg, Xadd, Push, Pop, Lahf, Sahf, Clc, Stc, Cmc,
        Movsb, Movsw, Movsd, Movsq, Stosb, Stosw, Stosd, Stosq, Lodsb, Lodsw, Lodsd, Lodsq, Cmpsb,
        Cmpsw, Cmpsd, Cmpsq, Scasb, Scasw, Scasd, Scasq,
    ]
};

/// Encodings of in-scope mnemonics that are deliberately not tested, with
/// the reason. This is the complete list: everything else in scope must run.
fn exclusion(code: Code) -> Option<&'static str> {
    use Code::*;
    let oc = code.op_code();
    for i in 0..oc.op_count() {
        match oc.op_kind(i) {
            OpCodeOperandKind::seg_reg
            | OpCodeOperandKind::fs
            | OpCodeOperandKind::gs
            | OpCodeOperandKind::cr_reg
            | OpCodeOperandKind::dr_reg
            | OpCodeOperandKind::r64_rm => {
                return Some(
                    "segment/control/debug register operand: system state, not an integer \
                     GPR operation (covered by the system-instruction tests)",
                );
            }
            OpCodeOperandKind::xmm_reg | OpCodeOperandKind::xmm_or_mem => {
                return Some("SSE form sharing a string mnemonic (MOVSD/CMPSD xmm)");
            }
            _ => {}
        }
    }
    match code {
        Sal_rm8_1 | Sal_rm16_1 | Sal_rm32_1 | Sal_rm64_1 | Sal_rm8_CL | Sal_rm16_CL
        | Sal_rm32_CL | Sal_rm64_CL | Sal_rm8_imm8 | Sal_rm16_imm8 | Sal_rm32_imm8
        | Sal_rm64_imm8 => Some("undocumented /6 alias of SHL (the SDM lists only /4)"),
        Test_rm8_imm8_F6r1 | Test_rm16_imm16_F7r1 | Test_rm32_imm32_F7r1 | Test_rm64_imm32_F7r1 => {
            Some("undocumented /1 alias of TEST (the SDM lists only /0)")
        }
        Bswap_r16 => Some("SDM BSWAP: the result with a 16-bit register is undefined"),
        _ => None,
    }
}

/// The [`Code`]s under test: every legacy-encoded 64-bit-mode form of a
/// [`SCOPE`] mnemonic that [`exclusion`] does not remove.
fn codes_in_scope() -> Vec<Code> {
    Code::values()
        .filter(|c| {
            let oc = c.op_code();
            oc.encoding() == EncodingKind::Legacy
                && oc.mode64()
                && SCOPE.contains(&c.mnemonic())
                && exclusion(*c).is_none()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Registers
// ---------------------------------------------------------------------------

const R8: [Register; 20] = {
    use Register::*;
    [
        AL, CL, DL, BL, SPL, BPL, SIL, DIL, R8L, R9L, R10L, R11L, R12L, R13L, R14L, R15L, AH, CH,
        DH, BH,
    ]
};
const R16: [Register; 16] = {
    use Register::*;
    [
        AX, CX, DX, BX, SP, BP, SI, DI, R8W, R9W, R10W, R11W, R12W, R13W, R14W, R15W,
    ]
};
const R32: [Register; 16] = {
    use Register::*;
    [
        EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, R8D, R9D, R10D, R11D, R12D, R13D, R14D, R15D,
    ]
};
const R64: [Register; 16] = {
    use Register::*;
    [
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
    ]
};

const NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

fn is_high8(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

/// GPR number (0-15) of any general-purpose register.
fn gpr_num(r: Register) -> usize {
    r.full_register().number()
}

fn reg_get(regs: &[u64; 16], r: Register) -> u64 {
    let v = regs[gpr_num(r)];
    if is_high8(r) {
        (v >> 8) & 0xFF
    } else {
        v & mask(r.size() as u32)
    }
}

/// Sets the bits of `r` inside its full register, keeping the others.
fn reg_set(regs: &mut [u64; 16], r: Register, v: u64) {
    let n = gpr_num(r);
    let (shift, m) = if is_high8(r) {
        (8, 0xFF)
    } else {
        (0, mask(r.size() as u32))
    };
    regs[n] = (regs[n] & !(m << shift)) | ((v & m) << shift);
}

fn regs_for(bytes: u32) -> &'static [Register] {
    match bytes {
        1 => &R8,
        2 => &R16,
        4 => &R32,
        _ => &R64,
    }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// Memory margin kept around every generated access.
const MARGIN: u64 = 0x80;

/// One generated test case.
struct Case {
    ins: Instruction,
    bytes: Vec<u8>,
    input: NativeState,
    /// Arena ranges (offsets) the instruction may access; shown in reports.
    touched: Vec<Range<usize>>,
    /// GPRs whose final value the SDM leaves undefined (bit n = GPR n).
    undefined_regs: u16,
}

/// Why a candidate was rejected (a new candidate is generated instead).
#[derive(Debug)]
enum Reject {
    Encode,
    Constraint,
}

/// Builds one case for `code`. Arena bytes it randomizes are recorded in
/// `dirty` so the emulated copy can be brought up to date.
struct Gen<'a> {
    rng: &'a mut Rng,
    arena: &'a mut [u8],
    dirty: &'a mut Vec<Range<usize>>,
    regs: [u64; 16],
    /// GPRs whose value is already determined (bit n = GPR n).
    fixed: u16,
    /// GPRs that must not be used as a base or index register.
    reserved: u16,
    flags: u64,
}

/// A generated memory operand.
#[derive(Clone, Copy)]
struct Mem {
    op: MemoryOperand,
    /// The linear address accessed (in the arena unless for LEA).
    addr: u64,
}

impl Gen<'_> {
    fn arena_off(addr: u64) -> usize {
        (addr - ARENA_BASE) as usize
    }

    /// Fills `range` (arena offsets) with random bytes.
    fn randomize(&mut self, range: Range<usize>) {
        let range = range.start.min(ARENA_SIZE)..range.end.min(ARENA_SIZE);
        for b in &mut self.arena[range.clone()] {
            *b = self.rng.next() as u8;
        }
        self.dirty.push(range);
    }

    fn write_mem(&mut self, addr: u64, bytes: u32, v: u64) {
        let off = Self::arena_off(addr);
        let n = bytes as usize;
        self.arena[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
        self.dirty.push(off..off + n);
    }

    fn read_mem(&self, addr: u64, bytes: u32) -> u64 {
        let off = Self::arena_off(addr);
        let mut b = [0u8; 8];
        b[..bytes as usize].copy_from_slice(&self.arena[off..off + bytes as usize]);
        u64::from_le_bytes(b)
    }

    /// A random arena address for an access of up to 16 bytes, often
    /// close to (or crossing) a page boundary.
    fn arena_addr(&mut self) -> u64 {
        let off = if self.rng.one_in(3) {
            let page = 1 + self.rng.below(15);
            page * 0x1000 - self.rng.below(17) + 8
        } else {
            MARGIN + self.rng.below(ARENA_SIZE as u64 - 2 * MARGIN)
        };
        ARENA_BASE + off.clamp(MARGIN, ARENA_SIZE as u64 - MARGIN)
    }

    fn set_reg(&mut self, r: Register, v: u64) -> bool {
        if self.fixed & (1 << gpr_num(r)) != 0 {
            return false;
        }
        reg_set(&mut self.regs, r, v);
        true
    }

    fn fix(&mut self, r: Register) {
        self.fixed |= 1 << gpr_num(r);
    }

    /// A memory operand addressing the arena (or anything, for LEA).
    fn mem(&mut self, lea: bool) -> Mem {
        let asize32 = self.rng.one_in(5);
        let file: &[Register] = if asize32 { &R32 } else { &R64 };
        let usable = |g: &Self, r: Register| g.reserved & (1 << gpr_num(r)) == 0 || lea;
        // Shape: 0 = [disp32], 1 = [base+disp], 2 = [base+index*s+disp],
        // 3 = [index*s+disp32].
        let shape = match self.rng.below(16) {
            0 if !asize32 => 0,
            1 => 3,
            2..=8 => 1,
            _ => 2,
        };
        let mut base = Register::None;
        let mut index = Register::None;
        if shape == 1 || shape == 2 {
            for _ in 0..8 {
                let r = self.rng.pick(file);
                if usable(self, r) {
                    base = r;
                    break;
                }
            }
            if base == Register::None {
                return self.mem_absolute();
            }
        }
        if shape == 2 || shape == 3 {
            for _ in 0..8 {
                let r = self.rng.pick(file);
                if usable(self, r)
                    && gpr_num(r) != 4
                    && (base == Register::None || gpr_num(r) != gpr_num(base))
                {
                    index = r;
                    break;
                }
            }
        }
        let scale = if index == Register::None {
            1
        } else {
            1u32 << self.rng.below(4)
        };
        // iced's displacement size: 1 = disp8 (when it fits), 4 or 8 = a
        // full displacement for 32- or 64-bit addressing.
        let full = if asize32 { 4 } else { 8 };
        let (disp, displ_size) = match self.rng.below(4) {
            _ if base == Register::None => (self.rng.range(-0x800, 0x800), full),
            0 => (0, 0),
            1 | 2 => (self.rng.range(-128, 127), 1),
            _ => (self.rng.range(-0x800, 0x800), full),
        };
        let addr_mask = if asize32 { 0xFFFF_FFFF } else { u64::MAX };
        let hi_junk = |g: &mut Self| if asize32 { g.rng.next() << 32 } else { 0 };
        if lea {
            // Any register values; the address is never accessed.
            let mut op = MemoryOperand::with_base_index_scale_displ_size(
                base, index, scale, disp, displ_size,
            );
            if base == Register::None && index == Register::None {
                op = MemoryOperand::with_displ(ARENA_BASE.wrapping_add(disp as u64), full);
            }
            return Mem { op, addr: 0 };
        }
        let base_fixed = base != Register::None && self.fixed & (1 << gpr_num(base)) != 0;
        let idx_val: i64 = if index == Register::None {
            0
        } else {
            self.rng.range(-64, 64)
        };
        if index != Register::None {
            let v = (idx_val as u64 & addr_mask) | hi_junk(self);
            reg_set(&mut self.regs, index.full_register(), v);
            self.fix(index);
        }
        let off = (idx_val * i64::from(scale) + disp) as u64;
        let (addr, op) = if base_fixed {
            let addr = self.regs[gpr_num(base)].wrapping_add(off) & addr_mask;
            let op = MemoryOperand::with_base_index_scale_displ_size(
                base, index, scale, disp, displ_size,
            );
            (addr, op)
        } else if base != Register::None {
            let addr = self.arena_addr();
            let v = (addr.wrapping_sub(off) & addr_mask) | hi_junk(self);
            reg_set(&mut self.regs, base.full_register(), v);
            self.fix(base);
            let op = MemoryOperand::with_base_index_scale_displ_size(
                base, index, scale, disp, displ_size,
            );
            (addr, op)
        } else {
            // No base: the displacement is absolute (disp32, sign-extended
            // in 64-bit addressing; the arena lies below 2 GiB).
            let addr = self.arena_addr();
            let d = addr.wrapping_sub((idx_val as u64).wrapping_mul(u64::from(scale))) as i64;
            let op = MemoryOperand::with_base_index_scale_displ_size(base, index, scale, d, full);
            (addr, op)
        };
        Mem { op, addr }
    }

    fn mem_absolute(&mut self) -> Mem {
        // [disp32] with 64-bit addressing (sign-extended) or, with a 67h
        // prefix, 32-bit addressing.
        let addr = self.arena_addr();
        let size = if self.rng.one_in(2) { 4 } else { 8 };
        Mem {
            op: MemoryOperand::with_displ(addr, size),
            addr,
        }
    }

    /// A random immediate for an operand of kind `k`.
    fn imm(&mut self, k: OpCodeOperandKind) -> (OpKind, u64) {
        use OpCodeOperandKind as K;
        match k {
            K::imm8 => (OpKind::Immediate8, self.rng.value(1)),
            K::imm8_const_1 => (OpKind::Immediate8, 1),
            K::imm16 => (OpKind::Immediate16, self.rng.value(2)),
            K::imm32 => (OpKind::Immediate32, self.rng.value(4)),
            K::imm64 => (OpKind::Immediate64, self.rng.value(8)),
            K::imm8sex16 => (
                OpKind::Immediate8to16,
                self.rng.value(1) as i8 as i64 as u64,
            ),
            K::imm8sex32 => (
                OpKind::Immediate8to32,
                self.rng.value(1) as i8 as i64 as u64,
            ),
            K::imm8sex64 => (
                OpKind::Immediate8to64,
                self.rng.value(1) as i8 as i64 as u64,
            ),
            K::imm32sex64 => (
                OpKind::Immediate32to64,
                self.rng.value(4) as i32 as i64 as u64,
            ),
            _ => unreachable!("not an immediate: {k:?}"),
        }
    }
}

/// An operand being built.
#[derive(Clone, Copy)]
enum Opnd {
    Reg(Register),
    Mem(Mem),
    Imm(OpKind, u64),
}

/// Operand size in bytes of a register-or-memory operand kind.
fn rm_size(k: OpCodeOperandKind) -> Option<u32> {
    use OpCodeOperandKind as K;
    Some(match k {
        K::r8_or_mem | K::r8_reg | K::r8_opcode | K::al | K::cl => 1,
        K::r16_or_mem | K::r16_reg | K::r16_opcode | K::ax => 2,
        K::r32_or_mem | K::r32_reg | K::r32_opcode | K::eax => 4,
        K::r64_or_mem | K::r64_reg | K::r64_opcode | K::rax => 8,
        _ => return None,
    })
}

fn is_string(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Movsb
            | Movsw
            | Movsd
            | Movsq
            | Stosb
            | Stosw
            | Stosd
            | Stosq
            | Lodsb
            | Lodsw
            | Lodsd
            | Lodsq
            | Cmpsb
            | Cmpsw
            | Cmpsd
            | Cmpsq
            | Scasb
            | Scasw
            | Scasd
            | Scasq
    )
}

fn is_shift(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(m, Shl | Shr | Sar | Rol | Ror | Rcl | Rcr | Shld | Shrd)
}

/// A shift/rotate count, biased towards the boundaries of `bits`.
fn shift_count(rng: &mut Rng, bits: u64) -> u64 {
    match rng.below(4) {
        0 => rng.pick(&[
            0,
            1,
            2,
            bits - 1,
            bits,
            bits + 1,
            31,
            32,
            33,
            63,
            64,
            65,
            0xFF,
        ]),
        1 => rng.below(4),
        _ => rng.below(256),
    }
}

/// Generates a case for `code`.
fn generate(g: &mut Gen<'_>, code: Code) -> Result<Case, Reject> {
    let m = code.mnemonic();
    if is_string(m) {
        return generate_string(g, code);
    }
    let oc = code.op_code();
    let stack = matches!(m, Mnemonic::Push | Mnemonic::Pop);
    if stack {
        let off = if g.rng.one_in(4) {
            ((1 + g.rng.below(15)) * 0x1000).wrapping_add(g.rng.range(-12, 12) as u64)
        } else {
            0x100 + g.rng.below(ARENA_SIZE as u64 - 0x200)
        };
        let off = if g.rng.one_in(4) { off } else { off & !7 };
        g.regs[4] = ARENA_BASE + off;
        g.fixed |= 1 << 4;
    }
    // Implicit registers whose values are constrained below may not serve
    // as address registers.
    g.reserved |= match m {
        Mnemonic::Div | Mnemonic::Idiv => (1 << 0) | (1 << 2),
        Mnemonic::Cmpxchg => 1 << 0,
        _ => 0,
    };
    let kinds: Vec<OpCodeOperandKind> = (0..oc.op_count()).map(|i| oc.op_kind(i)).collect();
    if kinds.contains(&OpCodeOperandKind::cl) {
        g.reserved |= 1 << 1;
    }
    // Register operands first (they may be reserved: a BT bit offset).
    let mut ops: Vec<Option<Opnd>> = vec![None; kinds.len()];
    let mut mem_slot = None;
    use OpCodeOperandKind as K;
    for (i, &k) in kinds.iter().enumerate() {
        let fixed_reg = match k {
            K::al => Some(Register::AL),
            K::cl => Some(Register::CL),
            K::ax => Some(Register::AX),
            K::eax => Some(Register::EAX),
            K::rax => Some(Register::RAX),
            _ => None,
        };
        if let Some(r) = fixed_reg {
            ops[i] = Some(Opnd::Reg(r));
            continue;
        }
        match k {
            K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r32_reg
            | K::r32_opcode
            | K::r64_reg
            | K::r64_opcode => {
                let size = rm_size(k).unwrap_or(8);
                ops[i] = Some(Opnd::Reg(g.rng.pick(regs_for(size))));
            }
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem => {
                if g.rng.one_in(2) {
                    let size = rm_size(k).unwrap_or(8);
                    ops[i] = Some(Opnd::Reg(g.rng.pick(regs_for(size))));
                } else {
                    mem_slot = Some(i);
                }
            }
            K::mem | K::mem_offs => mem_slot = Some(i),
            _ => {
                let (kind, v) = g.imm(k);
                ops[i] = Some(Opnd::Imm(kind, v));
            }
        }
    }
    let bt_family = matches!(
        m,
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
    );
    if bt_family && mem_slot == Some(0) {
        // The bit offset register of a memory BT form is constrained.
        if let Some(Opnd::Reg(r)) = ops[1] {
            g.reserved |= 1 << gpr_num(r);
        }
    }
    // Random values in the low bits of each register operand.
    for op in ops.iter().flatten() {
        if let Opnd::Reg(r) = *op {
            let v = g.rng.value(if is_high8(r) { 1 } else { r.size() as u32 });
            g.set_reg(r, v);
        }
    }
    // The memory operand.
    let mut mem = None;
    if let Some(i) = mem_slot {
        let mm = if kinds[i] == K::mem_offs {
            let addr = g.arena_addr();
            Mem {
                op: MemoryOperand::with_displ(addr, 8),
                addr,
            }
        } else {
            g.mem(m == Mnemonic::Lea)
        };
        if m != Mnemonic::Lea {
            // A fixed base register (RSP) plus a random displacement may
            // leave the arena: try another candidate.
            let lo = ARENA_BASE + MARGIN / 2;
            if !(lo..ARENA_BASE + ARENA_SIZE as u64 - MARGIN / 2).contains(&mm.addr) {
                return Err(Reject::Constraint);
            }
            let off = Gen::arena_off(mm.addr);
            g.randomize(off.saturating_sub(48)..off + 64);
        }
        ops[i] = Some(Opnd::Mem(mm));
        mem = Some(mm);
    }
    let ops: Vec<Opnd> = ops.into_iter().flatten().collect();
    let mut ins = build(code, &ops);
    if mem.is_some_and(|mm| mm.addr != 0)
        && oc.can_use_lock_prefix()
        && matches!(ops[0], Opnd::Mem(_))
    {
        ins.set_has_lock_prefix(g.rng.one_in(4));
    }
    // Flags: random status flags, DF clear (it only matters to strings).
    g.flags = g.rng.next() & (CF | PF | AF | ZF | SF | OF);

    // Mnemonic-specific constraints.
    let size = ins.memory_size().size() as u32;
    let opsize = match ops.first() {
        Some(Opnd::Reg(r)) if !is_high8(*r) => r.size() as u32,
        Some(Opnd::Reg(_)) => 1,
        _ => size,
    };
    let mut undefined_regs = 0u16;
    match m {
        Mnemonic::Div | Mnemonic::Idiv => div_constraint(g, &ins, &ops, mem)?,
        _ if is_shift(m) => {
            let bits = u64::from(opsize) * 8;
            let count_is_cl = kinds.last() == Some(&K::cl);
            let mut count = shift_count(g.rng, bits);
            if matches!(m, Mnemonic::Shld | Mnemonic::Shrd) && bits == 16 && count & 0x1F > 16 {
                // SDM SHLD/SHRD: a count greater than the operand size
                // leaves the result undefined; such counts are not made.
                count = g.rng.below(17) + 32 * g.rng.below(8);
            }
            if count_is_cl {
                g.set_reg(Register::CL, count);
            } else if kinds.last() == Some(&K::imm8) {
                ins.set_immediate8(count as u8);
            }
        }
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc => {
            if let (Some(mm), Opnd::Reg(r)) = (mem, ops[1]) {
                // Signed bit offset reaching a few operands either side.
                let off = g.rng.range(-256, 255) as u64;
                g.set_reg(r, off);
                let bits = i64::from(opsize) * 8;
                let v = reg_get(&g.regs, r);
                let signed = (v << (64 - bits)) as i64 >> (64 - bits);
                let byte = signed.div_euclid(bits) * (bits / 8);
                let a = mm.addr.wrapping_add(byte as u64);
                let o = Gen::arena_off(a);
                g.randomize(o..o + opsize as usize);
            }
        }
        Mnemonic::Cmpxchg if g.rng.one_in(2) => {
            let acc = regs_for(opsize)[0];
            let v = match ops[0] {
                Opnd::Reg(r) => reg_get(&g.regs, r),
                Opnd::Mem(mm) => g.read_mem(mm.addr, opsize),
                Opnd::Imm(..) => 0,
            };
            g.set_reg(acc, v);
        }
        Mnemonic::Bsf | Mnemonic::Bsr | Mnemonic::Tzcnt | Mnemonic::Lzcnt | Mnemonic::Popcnt
            if g.rng.one_in(6) =>
        {
            match ops[1] {
                Opnd::Reg(r) => {
                    g.set_reg(r, 0);
                }
                Opnd::Mem(mm) => g.write_mem(mm.addr, opsize, 0),
                Opnd::Imm(..) => {}
            }
        }
        _ => {}
    }
    if matches!(m, Mnemonic::Bsf | Mnemonic::Bsr) {
        let src = match ops[1] {
            Opnd::Reg(r) => reg_get(&g.regs, r),
            Opnd::Mem(mm) => g.read_mem(mm.addr, opsize),
            Opnd::Imm(..) => 1,
        };
        if src == 0 {
            // SDM BSF/BSR: "If the content of the source operand is 0, the
            // content of the destination operand is undefined."
            if let Opnd::Reg(r) = ops[0] {
                undefined_regs |= 1 << gpr_num(r);
            }
        }
    }

    let bytes = encode(&ins).ok_or(Reject::Encode)?;
    let input = NativeState {
        gpr: g.regs,
        rflags: g.flags | 2,
    };
    let touched = check_accesses(&ins, &input, mem.map(|mm| mm.addr), opsize)?;
    Ok(Case {
        ins,
        bytes,
        input,
        touched,
        undefined_regs,
    })
}

/// Sets RDX:RAX (or AX) and the divisor so that DIV/IDIV does not fault:
/// the divisor is nonzero and the quotient fits, checked with `u128`/`i128`.
fn div_constraint(
    g: &mut Gen<'_>,
    ins: &Instruction,
    ops: &[Opnd],
    mem: Option<Mem>,
) -> Result<(), Reject> {
    let signed = ins.mnemonic() == Mnemonic::Idiv;
    let size = match ops[0] {
        Opnd::Reg(r) if is_high8(r) => 1,
        Opnd::Reg(r) => r.size() as u32,
        Opnd::Mem(_) => ins.memory_size().size() as u32,
        Opnd::Imm(..) => return Err(Reject::Constraint),
    };
    let bits = size * 8;
    let (lo_reg, hi_reg) = match size {
        1 => (Register::AL, Register::AH),
        2 => (Register::AX, Register::DX),
        4 => (Register::EAX, Register::EDX),
        _ => (Register::RAX, Register::RDX),
    };
    let same = |a: Register, b: Register| gpr_num(a) == gpr_num(b) && is_high8(a) == is_high8(b);
    let divisor_reg = match ops[0] {
        Opnd::Reg(r) => Some(r),
        _ => None,
    };
    let aliases_dividend = divisor_reg.is_some_and(|r| same(r, lo_reg) || same(r, hi_reg));
    let m = mask(size);
    let sext = |v: u64| ((v << (64 - bits)) as i64 >> (64 - bits)) as i128;
    let read_divisor = |g: &Gen<'_>| match (divisor_reg, mem) {
        (Some(r), _) => reg_get(&g.regs, r),
        (None, Some(mm)) => g.read_mem(mm.addr, size),
        _ => 0,
    };
    if aliases_dividend {
        // The divisor is part of the dividend: try random dividends.
        let mut ok = false;
        for k in 0..64 {
            let lo = g.rng.value(size);
            let hi = match k % 3 {
                0 => 0,
                1 => sext(lo).is_negative() as u64 * m,
                _ => g.rng.value(size) >> g.rng.below(u64::from(bits)),
            };
            reg_set(&mut g.regs, lo_reg, lo);
            reg_set(&mut g.regs, hi_reg, hi);
            if div_ok(signed, bits, hi, lo, read_divisor(g)) {
                ok = true;
                break;
            }
        }
        if !ok {
            return Err(Reject::Constraint);
        }
    } else {
        let mut d = g.rng.value(size);
        if d == 0 {
            d = 1 + g.rng.below(m.min(1000));
        }
        match (divisor_reg, mem) {
            (Some(r), _) => {
                reg_set(&mut g.regs, r, d);
            }
            (None, Some(mm)) => g.write_mem(mm.addr, size, d),
            _ => return Err(Reject::Constraint),
        }
        // Construct the dividend from a random quotient and remainder.
        let dividend: u128 = if signed {
            let half = 1i128 << (bits - 1);
            let q = match g.rng.below(4) {
                0 => g.rng.pick(&[-half, half - 1, 0, 1, -1]),
                _ => sext(g.rng.value(size)),
            };
            let ds = sext(d);
            let r_abs = (g.rng.next() as u128 % ds.unsigned_abs()) as i128;
            let prod = q * ds;
            let r = if prod > 0 || (prod == 0 && g.rng.one_in(2)) {
                r_abs
            } else {
                -r_abs
            };
            (prod + r) as u128
        } else {
            let q = u128::from(g.rng.value(size));
            let r = u128::from(g.rng.next()) % u128::from(d);
            q * u128::from(d) + r
        };
        reg_set(&mut g.regs, lo_reg, dividend as u64 & m);
        reg_set(&mut g.regs, hi_reg, (dividend >> bits) as u64 & m);
    }
    let lo = reg_get(&g.regs, lo_reg);
    let hi = reg_get(&g.regs, hi_reg);
    if div_ok(signed, bits, hi, lo, read_divisor(g)) {
        Ok(())
    } else {
        Err(Reject::Constraint)
    }
}

/// True when dividing `hi:lo` (each `bits` wide) by `d` does not raise #DE.
fn div_ok(signed: bool, bits: u32, hi: u64, lo: u64, d: u64) -> bool {
    let m = mask(bits / 8);
    let (hi, lo, d) = (hi & m, lo & m, d & m);
    if d == 0 {
        return false;
    }
    let dividend = (u128::from(hi) << bits) | u128::from(lo);
    if signed {
        let sx = |v: u128, w: u32| ((v << (128 - w)) as i128) >> (128 - w);
        let n = sx(dividend, 2 * bits);
        let dv = sx(u128::from(d), bits);
        match n.checked_div(dv) {
            Some(q) => q >= -(1i128 << (bits - 1)) && q < (1i128 << (bits - 1)),
            None => false,
        }
    } else {
        dividend / u128::from(d) <= u128::from(m)
    }
}

/// String instructions with small counts and pointers in the arena.
fn generate_string(g: &mut Gen<'_>, code: Code) -> Result<Case, Reject> {
    use Mnemonic::*;
    let m = code.mnemonic();
    let elem: u64 = match m {
        Movsb | Stosb | Lodsb | Cmpsb | Scasb => 1,
        Movsw | Stosw | Lodsw | Cmpsw | Scasw => 2,
        Movsd | Stosd | Lodsd | Cmpsd | Scasd => 4,
        _ => 8,
    };
    let asize: u32 = if g.rng.one_in(4) { 32 } else { 64 };
    let compare = matches!(
        m,
        Cmpsb | Cmpsw | Cmpsd | Cmpsq | Scasb | Scasw | Scasd | Scasq
    );
    let rep = match g.rng.below(3) {
        0 => RepPrefixKind::None,
        1 if compare => RepPrefixKind::Repne,
        _ if compare => RepPrefixKind::Repe,
        _ => RepPrefixKind::Repe, // encodes as REP (F3) for MOVS/STOS/LODS
    };
    let count = if rep == RepPrefixKind::None {
        1
    } else {
        g.rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8])
    };
    let df = g.rng.one_in(2);
    let span = count.max(1) * elem;
    let pick_ptr = |g: &mut Gen<'_>| -> u64 {
        let lo = 0x100 + if df { span } else { 0 };
        let hi = ARENA_SIZE as u64 - 0x100 - if df { 0 } else { span };
        let off = if g.rng.one_in(3) {
            ((1 + g.rng.below(15)) * 0x1000).clamp(lo, hi) - g.rng.below(elem * 3)
        } else {
            lo + g.rng.below(hi - lo)
        };
        ARENA_BASE + off
    };
    let src = pick_ptr(g);
    let dst = if matches!(m, Movsb | Movsw | Movsd | Movsq) && g.rng.one_in(4) {
        // Overlapping copy.
        (src as i64 + g.rng.range(-(span as i64), span as i64)) as u64
    } else {
        pick_ptr(g)
    };
    let region = |p: u64| -> Range<usize> {
        let first = if df { p - (span - elem) } else { p };
        let o = Gen::arena_off(first);
        o..o + span as usize
    };
    let (rs, rd) = (region(src), region(dst));
    g.randomize(rs.start - 16..rs.end + 16);
    g.randomize(rd.start - 16..rd.end + 16);
    let junk = |g: &mut Gen<'_>| {
        if asize == 32 { g.rng.next() << 32 } else { 0 }
    };
    g.regs[6] = src | junk(g);
    g.regs[7] = dst | junk(g);
    if rep != RepPrefixKind::None {
        g.regs[1] = count | junk(g);
    }
    if compare && g.rng.one_in(2) {
        // Make the compared elements equal, then maybe spoil one, so that
        // REPE/REPNE run for more than one element.
        let n = span as usize;
        if matches!(m, Scasb | Scasw | Scasd | Scasq) {
            let a = g.regs[0].to_le_bytes();
            for k in 0..n {
                g.arena[rd.start + k] = a[k % elem as usize];
            }
        } else {
            let tmp: Vec<u8> = g.arena[rs.clone()].to_vec();
            g.arena[rd.clone()].copy_from_slice(&tmp);
        }
        if g.rng.one_in(2) {
            let k = rd.start + g.rng.below(span) as usize;
            g.arena[k] ^= 1 << g.rng.below(8);
        }
        g.dirty.push(rd.clone());
    }
    g.flags = (g.rng.next() & (CF | PF | AF | ZF | SF | OF)) | if df { DF } else { 0 };
    let seg = Register::None;
    let ins = match m {
        Movsb => Instruction::with_movsb(asize, seg, rep),
        Movsw => Instruction::with_movsw(asize, seg, rep),
        Movsd => Instruction::with_movsd(asize, seg, rep),
        Movsq => Instruction::with_movsq(asize, seg, rep),
        Stosb => Instruction::with_stosb(asize, rep),
        Stosw => Instruction::with_stosw(asize, rep),
        Stosd => Instruction::with_stosd(asize, rep),
        Stosq => Instruction::with_stosq(asize, rep),
        Lodsb => Instruction::with_lodsb(asize, seg, rep),
        Lodsw => Instruction::with_lodsw(asize, seg, rep),
        Lodsd => Instruction::with_lodsd(asize, seg, rep),
        Lodsq => Instruction::with_lodsq(asize, seg, rep),
        Cmpsb => Instruction::with_cmpsb(asize, seg, rep),
        Cmpsw => Instruction::with_cmpsw(asize, seg, rep),
        Cmpsd => Instruction::with_cmpsd(asize, seg, rep),
        Cmpsq => Instruction::with_cmpsq(asize, seg, rep),
        Scasb => Instruction::with_scasb(asize, rep),
        Scasw => Instruction::with_scasw(asize, rep),
        Scasd => Instruction::with_scasd(asize, rep),
        _ => Instruction::with_scasq(asize, rep),
    }
    .map_err(|_| Reject::Encode)?;
    if ins.code() != code {
        return Err(Reject::Encode);
    }
    let bytes = encode(&ins).ok_or(Reject::Encode)?;
    let mut touched = Vec::new();
    let uses_src = matches!(
        m,
        Movsb | Movsw | Movsd | Movsq | Lodsb | Lodsw | Lodsd | Lodsq
    ) || matches!(m, Cmpsb | Cmpsw | Cmpsd | Cmpsq);
    let uses_dst = !matches!(m, Lodsb | Lodsw | Lodsd | Lodsq);
    for (used, r) in [(uses_src, rs), (uses_dst, rd)] {
        if used {
            if r.start < 16 || r.end + 16 > ARENA_SIZE {
                return Err(Reject::Constraint);
            }
            touched.push(r);
        }
    }
    Ok(Case {
        ins,
        bytes,
        input: NativeState {
            gpr: g.regs,
            rflags: g.flags | 2,
        },
        touched,
        undefined_regs: 0,
    })
}

/// Assembles the operands into an [`Instruction`].
fn build(code: Code, ops: &[Opnd]) -> Instruction {
    let mut ins = Instruction::default();
    ins.set_code(code);
    for (i, op) in ops.iter().enumerate() {
        let i = i as u32;
        match *op {
            Opnd::Reg(r) => {
                ins.set_op_kind(i, OpKind::Register);
                ins.set_op_register(i, r);
            }
            Opnd::Mem(mm) => {
                ins.set_op_kind(i, OpKind::Memory);
                ins.set_memory_base(mm.op.base);
                ins.set_memory_index(mm.op.index);
                ins.set_memory_index_scale(mm.op.scale);
                ins.set_memory_displ_size(mm.op.displ_size);
                ins.set_memory_displacement64(mm.op.displacement as u64);
                ins.set_segment_prefix(Register::None);
            }
            Opnd::Imm(kind, v) => {
                ins.set_op_kind(i, kind);
                ins.set_immediate_u64(i, v);
            }
        }
    }
    ins
}

fn encode(ins: &Instruction) -> Option<Vec<u8>> {
    let mut enc = Encoder::new(64);
    enc.encode(ins, CODE_LIN).ok()?;
    Some(enc.take_buffer())
}

/// Checks with iced's instruction info that every memory access of the
/// instruction (explicit, stack, and the BT bit-string reach) lies in the
/// arena with a margin, and returns the touched arena ranges. This guards
/// the native run: an access outside the arena would crash the test.
fn check_accesses(
    ins: &Instruction,
    input: &NativeState,
    mem_addr: Option<u64>,
    opsize: u32,
) -> Result<Vec<Range<usize>>, Reject> {
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(ins);
    let mut ranges = Vec::new();
    let inside = |a: u64, n: u64| {
        a >= ARENA_BASE + 16 && a.wrapping_add(n) <= ARENA_BASE + ARENA_SIZE as u64 - 16
    };
    for um in info.used_memory() {
        if um.access() == OpAccess::NoMemAccess {
            continue;
        }
        let a = um
            .virtual_address(0, |r, _, _| {
                if r == Register::None || r.is_segment_register() {
                    // Segment bases other than FS/GS are 0 in 64-bit mode.
                    Some(0)
                } else if r.is_gpr() {
                    Some(reg_get(&input.gpr, r))
                } else {
                    None
                }
            })
            .ok_or(Reject::Constraint)?;
        let n = um.memory_size().size().max(1) as u64;
        // A push/pop may adjust RSP before the address is formed.
        if !inside(a.wrapping_sub(16), n + 32) {
            return Err(Reject::Constraint);
        }
        let o = (a - ARENA_BASE) as usize;
        ranges.push(o..o + n as usize);
    }
    if let Some(a) = mem_addr
        && matches!(
            ins.mnemonic(),
            Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
        )
        && ins.op1_kind() == OpKind::Register
    {
        let bits = i64::from(opsize) * 8;
        let v = reg_get(&input.gpr, ins.op1_register());
        let signed = (v << (64 - bits)) as i64 >> (64 - bits);
        let byte = signed.div_euclid(bits) * (bits / 8);
        let t = a.wrapping_add(byte as u64);
        if !inside(t, u64::from(opsize)) {
            return Err(Reject::Constraint);
        }
        let o = (t - ARENA_BASE) as usize;
        ranges.push(o..o + opsize as usize);
    }
    if mem_addr.is_some_and(|a| a != 0 && !inside(a, 16)) {
        return Err(Reject::Constraint);
    }
    Ok(ranges)
}

// ---------------------------------------------------------------------------
// Undefined flags
// ---------------------------------------------------------------------------

/// Converts iced's [`RflagsBits`] to RFLAGS bit positions.
fn from_iced(f: u32) -> u64 {
    let mut r = 0;
    for (i, b) in [
        (RflagsBits::OF, OF),
        (RflagsBits::SF, SF),
        (RflagsBits::ZF, ZF),
        (RflagsBits::AF, AF),
        (RflagsBits::CF, CF),
        (RflagsBits::PF, PF),
        (RflagsBits::DF, DF),
    ] {
        if f & i != 0 {
            r |= b;
        }
    }
    r
}

/// The status flags whose result the SDM leaves undefined for this
/// instruction with this input; they are masked out of the comparison.
///
/// - Everything except shifts and rotates: iced's
///   [`Instruction::rflags_undefined`] (its per-instruction table follows
///   the SDM "Flags Affected" sections: AF after AND/OR/XOR/TEST; SF ZF AF
///   PF after MUL/IMUL; all six after DIV/IDIV; OF SF AF PF after
///   BT/BTS/BTR/BTC; CF OF SF AF PF after BSF/BSR; OF SF AF PF after
///   TZCNT/LZCNT).
/// - SHL/SHR/SAR, ROL/ROR, RCL/RCR, SHLD/SHRD: the rules of their SDM pages,
///   from the masked count `c` (count AND 3FH for 64-bit operands, AND 1FH
///   otherwise), for immediate and CL counts alike:
///   - `c = 0`: no flag is affected (all compared, must be unchanged);
///   - SHL/SHR/SAR/SHLD/SHRD with `c != 0`: AF undefined;
///   - `c > 1`: OF undefined (RCL/RCR included: "OF is defined only for
///     the 1-bit rotates");
///   - SHL/SHR with `c >=` the operand width (8/16-bit operands only): CF
///     undefined ("The CF flag is undefined for SHL and SHR instructions
///     where the count is greater than or equal to the size (in bits) of
///     the destination operand").
///   - SHLD/SHRD with a 16-bit operand and `c > 16` leave the result and
///     the flags undefined: the generator never makes such counts.
fn undefined_flags(ins: &Instruction, input: &NativeState) -> u64 {
    let m = ins.mnemonic();
    if !is_shift(m) {
        return from_iced(ins.rflags_undefined());
    }
    let last = ins.op_count() - 1;
    let count = if ins.op_kind(last) == OpKind::Register {
        input.gpr[1] & 0xFF
    } else {
        u64::from(ins.immediate8())
    };
    let bits = if ins.op0_kind() == OpKind::Register {
        ins.op0_register().size() as u64 * 8
    } else {
        ins.memory_size().size() as u64 * 8
    };
    let c = count & if bits == 64 { 0x3F } else { 0x1F };
    if c == 0 {
        return 0;
    }
    let mut u = 0;
    if matches!(
        m,
        Mnemonic::Shl | Mnemonic::Shr | Mnemonic::Sar | Mnemonic::Shld | Mnemonic::Shrd
    ) {
        u |= AF;
    }
    if c > 1 {
        u |= OF;
    }
    if matches!(m, Mnemonic::Shl | Mnemonic::Shr) && c >= bits {
        u |= CF;
    }
    u
}

// ---------------------------------------------------------------------------
// The emulated machine
// ---------------------------------------------------------------------------

/// Linear (= physical) address of the first of the two code pages.
const CODE_LIN: u64 = 0x1000;
/// Where the instruction normally starts.
const CODE_AT: u64 = 0x1800;
/// Physical frame of the arena's page 0; page `i` lives at
/// `ARENA_PHYS + perm(i) * 4096`.
const ARENA_PHYS: u64 = 0x10_0000;
const PML4: u64 = 0x10000;
const PDPT: u64 = 0x11000;
const PD_LOW: u64 = 0x12000;
const PD_HIGH: u64 = 0x13000;
const PT_LOW: u64 = 0x14000;
const PT_ARENA: u64 = 0x15000;
/// P | R/W | U/S | A | D: present, writable, user, accessed, dirty.
const PTE: u64 = 0x67;
const ARENA_PAGES: usize = ARENA_SIZE / 4096;

/// The arena page permutation (a bijection on 0..16).
fn perm(i: usize) -> u64 {
    ((i * 7 + 3) % ARENA_PAGES) as u64
}

struct Guest {
    vcpu: Vcpu,
    buf: Vec<u8>,
}

/// What sysgate did with one case.
struct Emulated {
    exit: Exit,
    gpr: [u64; 16],
    rflags: u64,
    rip: u64,
}

impl Guest {
    fn new() -> Guest {
        let mut vcpu = Vcpu::new(0x20_0000, Vendor::Intel);
        let c = &mut vcpu.cpu;
        let phys = &mut c.mmu.phys;
        phys.write_u64(PML4, PDPT | PTE);
        phys.write_u64(PDPT, PD_LOW | PTE);
        phys.write_u64(PDPT + 8, PD_HIGH | PTE);
        phys.write_u64(PD_LOW, PT_LOW | PTE);
        let pd_index = (ARENA_BASE - 0x4000_0000) >> 21;
        assert_eq!(ARENA_BASE >> 30, 1, "arena lies in the second GiB");
        phys.write_u64(PD_HIGH + pd_index * 8, PT_ARENA | PTE);
        for page in [CODE_LIN, CODE_LIN + 0x1000] {
            phys.write_u64(PT_LOW + (page >> 12) * 8, page | PTE);
        }
        let pt_first = (ARENA_BASE >> 12) & 0x1FF;
        for i in 0..ARENA_PAGES {
            phys.write_u64(
                PT_ARENA + (pt_first + i as u64) * 8,
                (ARENA_PHYS + perm(i) * 0x1000) | PTE,
            );
        }
        phys.write(CODE_LIN, &[0xCC; 0x2000]);
        c.set_flat_mode(64, 3);
        // CR0: PE | ET | NE | WP | PG; CR4: PAE; EFER: LME | LMA.
        c.ctrl.cr0 = 1 | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 31);
        c.ctrl.cr4 = 1 << 5;
        c.ctrl.efer = (1 << 8) | (1 << 10);
        c.ctrl.cr3 = PML4;
        c.mmu.flush_tlb(false);
        assert_eq!(c.mode(), sysgate_cpu::Mode::Long64);
        assert_eq!(c.cpl(), 3);
        Guest {
            vcpu,
            buf: vec![0; ARENA_SIZE],
        }
    }

    /// Copies arena bytes `range` (offsets) into guest memory.
    fn write_arena(&mut self, src: &[u8], range: Range<usize>) {
        let mut o = range.start;
        while o < range.end {
            let page = o / 4096;
            let end = range.end.min((page + 1) * 4096);
            let pa = ARENA_PHYS + perm(page) * 0x1000 + (o % 4096) as u64;
            self.vcpu.cpu.mmu.phys.write(pa, &src[o..end]);
            o = end;
        }
    }

    /// Reads the whole guest arena into `self.buf`.
    fn read_arena(&mut self) -> &[u8] {
        for i in 0..ARENA_PAGES {
            let pa = ARENA_PHYS + perm(i) * 0x1000;
            self.vcpu
                .cpu
                .mmu
                .phys
                .read(pa, &mut self.buf[i * 4096..(i + 1) * 4096]);
        }
        &self.buf
    }

    fn exec(&mut self, bytes: &[u8], at: u64, input: &NativeState) -> Emulated {
        let c = &mut self.vcpu.cpu;
        c.mmu.phys.write(at, bytes);
        c.mmu.phys.write(at + bytes.len() as u64, &[0xCC; 16]);
        c.gpr = input.gpr;
        c.rflags = (input.rflags & FLAGS_MASK) | 0x202;
        c.rip = at;
        // One instruction. A REP string instruction that the emulator
        // retires one iteration at a time (RIP stays on it, as on real
        // hardware when interrupted) is run on until RIP moves.
        let mut exit = Exit::InstructionLimit;
        for _ in 0..64 {
            exit = self.vcpu.run(Limit::instructions(1));
            if exit != Exit::InstructionLimit || self.vcpu.cpu.rip != at {
                break;
            }
        }
        let c = &self.vcpu.cpu;
        Emulated {
            exit,
            gpr: c.gpr,
            rflags: c.rflags,
            rip: c.rip,
        }
    }
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

fn format_ins(ins: &Instruction) -> String {
    let mut f = IntelFormatter::new();
    let mut s = String::new();
    f.format(ins, &mut s);
    s
}

fn flags_str(f: u64) -> String {
    let mut s = String::new();
    for (b, n) in [
        (OF, "OF"),
        (DF, "DF"),
        (SF, "SF"),
        (ZF, "ZF"),
        (AF, "AF"),
        (PF, "PF"),
        (CF, "CF"),
    ] {
        if f & b != 0 {
            s.push_str(n);
            s.push(' ');
        }
    }
    format!("{f:#06x} [{}]", s.trim_end())
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[allow(clippy::too_many_arguments)]
fn report(
    case: &Case,
    at: u64,
    pre: &[(usize, Vec<u8>)],
    native: &NativeState,
    native_arena: &[u8],
    emu: &Emulated,
    emu_arena: &[u8],
    undef: u64,
    problems: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "MISMATCH: {}   ({:?}; bytes {}; at {at:#x})",
        format_ins(&case.ins),
        case.ins.code(),
        hex(&case.bytes)
    );
    for p in problems {
        let _ = writeln!(s, "  - {p}");
    }
    let _ = writeln!(
        s,
        "  flags in {}  native {}  sysgate {}  undefined(masked) {}",
        flags_str(case.input.rflags & FLAGS_MASK),
        flags_str(native.rflags & FLAGS_MASK),
        flags_str(emu.rflags & FLAGS_MASK),
        flags_str(undef)
    );
    let _ = writeln!(s, "  exit {:?}, rip {:#x}", emu.exit, emu.rip);
    for (n, name) in NAMES.iter().enumerate() {
        let mark = if native.gpr[n] != emu.gpr[n] {
            " <=="
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {name:>4} in {:#018x}  native {:#018x}  sysgate {:#018x}{mark}",
            case.input.gpr[n], native.gpr[n], emu.gpr[n]
        );
    }
    for (off, bytes) in pre {
        let r = *off..off + bytes.len();
        let _ = writeln!(
            s,
            "  mem {:#x}: in [{}] native [{}] sysgate [{}]",
            ARENA_BASE + *off as u64,
            hex(bytes),
            hex(&native_arena[r.clone()]),
            hex(&emu_arena[r])
        );
    }
    s
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

#[derive(Default)]
struct Stats {
    run: BTreeMap<Code, u64>,
    rejected: BTreeMap<Code, u64>,
    mismatched: BTreeMap<Code, u64>,
    unimplemented: BTreeMap<Code, u64>,
    reports: Vec<String>,
}

/// Runs `cases` cases and returns the statistics.
fn run_cases(cases: u64, seed: u64) -> Result<Stats, NativeError> {
    let codes = codes_in_scope();
    assert!(codes.len() > 400, "scope has {} codes", codes.len());
    let mut rng = Rng(seed);
    let mut guest = Guest::new();
    let mut stats = Stats::default();
    with_runner(|r| {
        // Random arena, the same on both sides.
        let arena = r.arena();
        for b in arena.iter_mut() {
            *b = rng.next() as u8;
        }
        guest.write_arena(arena, 0..ARENA_SIZE);
        let mut dirty: Vec<Range<usize>> = Vec::new();
        let mut done = 0u64;
        let mut attempts = 0u64;
        // Uniform random choice keeps every code's share equal on average.
        while done < cases {
            attempts += 1;
            assert!(
                attempts < cases * 20 + 10_000,
                "generator rejects too much: {:?}",
                stats.rejected
            );
            let code = rng.pick(&codes);
            let case = {
                let mut g = Gen {
                    rng: &mut rng,
                    arena: r.arena(),
                    dirty: &mut dirty,
                    regs: [0; 16],
                    fixed: 0,
                    reserved: 0,
                    flags: 0,
                };
                for n in 0..16 {
                    g.regs[n] = g.rng.value(8);
                }
                generate(&mut g, code)
            };
            let case = match case {
                Ok(c) => c,
                Err(_) => {
                    *stats.rejected.entry(code).or_default() += 1;
                    continue;
                }
            };
            done += 1;
            *stats.run.entry(code).or_default() += 1;
            // Bring the emulated arena up to date.
            {
                let arena = r.arena();
                for d in dirty.drain(..) {
                    guest.write_arena(arena, d);
                }
            }
            let pre: Vec<(usize, Vec<u8>)> = {
                let arena = r.arena();
                case.touched
                    .iter()
                    .map(|t| (t.start, arena[t.start..t.end.min(ARENA_SIZE)].to_vec()))
                    .collect()
            };
            let at = if rng.one_in(16) {
                // Straddle the boundary between the two code pages.
                CODE_LIN + 0x1000 - 1 - rng.below(case.bytes.len() as u64)
            } else {
                CODE_AT
            };
            let mut native = case.input;
            r.run(&case.bytes, &mut native).expect("native run");
            let emu = guest.exec(&case.bytes, at, &case.input);
            let undef = undefined_flags(&case.ins, &case.input);
            let mut problems = Vec::new();
            if emu.exit != Exit::InstructionLimit {
                if emu.exit == Exit::Exception(Exception::UD) {
                    *stats.unimplemented.entry(code).or_default() += 1;
                    // The native run may have written memory: resynchronize.
                    let all = r.arena().to_vec();
                    guest.write_arena(&all, 0..ARENA_SIZE);
                    continue;
                }
                problems.push(format!("sysgate stopped with {:?}", emu.exit));
            } else if emu.rip != at + case.bytes.len() as u64 {
                problems.push(format!(
                    "rip {:#x}, expected {:#x}",
                    emu.rip,
                    at + case.bytes.len() as u64
                ));
            }
            for (n, name) in NAMES.iter().enumerate() {
                if case.undefined_regs & (1 << n) == 0 && native.gpr[n] != emu.gpr[n] {
                    problems.push(format!(
                        "{name}: native {:#x}, sysgate {:#x}",
                        native.gpr[n], emu.gpr[n]
                    ));
                }
            }
            let cmp = FLAGS_MASK & !undef;
            if native.rflags & cmp != emu.rflags & cmp {
                problems.push(format!(
                    "flags: native {}, sysgate {} (compared {})",
                    flags_str(native.rflags & cmp),
                    flags_str(emu.rflags & cmp),
                    flags_str(cmp)
                ));
            }
            if emu.rflags & !FLAGS_MASK != 0x202 {
                problems.push(format!(
                    "non-status RFLAGS bits changed: {:#x}",
                    emu.rflags & !FLAGS_MASK
                ));
            }
            let emu_arena = guest.read_arena().to_vec();
            let native_arena = r.arena();
            if emu_arena[..] != native_arena[..] {
                let first = (0..ARENA_SIZE)
                    .find(|&i| emu_arena[i] != native_arena[i])
                    .unwrap_or(0);
                let last = (0..ARENA_SIZE)
                    .rev()
                    .find(|&i| emu_arena[i] != native_arena[i])
                    .unwrap_or(0);
                problems.push(format!(
                    "arena differs in {:#x}..={:#x}",
                    ARENA_BASE + first as u64,
                    ARENA_BASE + last as u64
                ));
            }
            if !problems.is_empty() {
                let n = stats.mismatched.entry(code).or_default();
                *n += 1;
                if *n <= 2 && stats.reports.len() < 150 {
                    stats.reports.push(report(
                        &case,
                        at,
                        &pre,
                        &native,
                        native_arena,
                        &emu,
                        &emu_arena,
                        undef,
                        &problems,
                    ));
                }
                // Resynchronize the emulated arena with the native one.
                let all = native_arena.to_vec();
                guest.write_arena(&all, 0..ARENA_SIZE);
            }
        }
        // Every code in scope must have run.
        for c in &codes {
            assert!(
                stats.run.contains_key(c),
                "{c:?} never ran (rejected {} times): raise the case count",
                stats.rejected.get(c).copied().unwrap_or(0)
            );
        }
        stats
    })
}

#[test]
fn differential_against_host() {
    let cases = env_u64("SYSGATE_DIFF_CASES").unwrap_or(DEFAULT_CASES);
    let seed = env_u64("SYSGATE_DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let stats = match run_cases(cases, seed) {
        Ok(s) => s,
        Err(NativeError::Unsupported) => {
            eprintln!("differential test needs an x86-64 Linux host; not run here");
            return;
        }
        Err(e) => panic!("native reference unavailable: {e}"),
    };
    let total: u64 = stats.run.values().sum();
    let rejected: u64 = stats.rejected.values().sum();
    eprintln!(
        "differential: {total} cases over {} codes (seed {seed:#x}), {rejected} candidates \
         regenerated",
        stats.run.len()
    );
    for r in &stats.reports {
        eprintln!("{r}");
    }
    let mut summary = String::new();
    if !stats.mismatched.is_empty() {
        let _ = writeln!(summary, "mismatches (code: count):");
        for (c, n) in &stats.mismatched {
            let _ = writeln!(summary, "  {c:?}: {n}/{}", stats.run[c]);
        }
    }
    if !stats.unimplemented.is_empty() {
        let mut by_mnemonic: BTreeMap<String, u64> = BTreeMap::new();
        for (c, n) in &stats.unimplemented {
            *by_mnemonic
                .entry(format!("{:?}", c.mnemonic()))
                .or_default() += n;
        }
        let _ = writeln!(
            summary,
            "#UD in sysgate (not implemented), by mnemonic: {by_mnemonic:?}"
        );
        let _ = writeln!(
            summary,
            "#UD codes: {:?}",
            stats.unimplemented.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        summary.is_empty(),
        "sysgate differs from the host:\n{summary}"
    );
}

// ---------------------------------------------------------------------------
// Checks of the test's own arithmetic (hand-computed expectations)
// ---------------------------------------------------------------------------

#[test]
fn div_ok_matches_hand_computed_cases() {
    // DIV r/m8: AX = 0x1234 / 0x12 = 0x102 does not fit in AL.
    assert!(!div_ok(false, 8, 0x12, 0x34, 0x12));
    // 0x1234 / 0x13 = 0xF5 fits.
    assert!(div_ok(false, 8, 0x12, 0x34, 0x13));
    assert!(!div_ok(false, 32, 0, 5, 0));
    // IDIV r/m8: -128 / -1 = 128 overflows; -128 / 1 fits.
    assert!(!div_ok(true, 8, 0xFF, 0x80, 0xFF));
    assert!(div_ok(true, 8, 0xFF, 0x80, 0x01));
    // IDIV r/m64: RDX:RAX = -5, divisor -1 (the divisor is RDX itself).
    assert!(div_ok(true, 64, u64::MAX, (-5i64) as u64, u64::MAX));
    // IDIV r/m64: i128::MIN-like dividend / -1.
    assert!(!div_ok(true, 64, 1 << 63, 0, u64::MAX));
    // DIV r/m64 with RDX >= divisor always overflows.
    assert!(!div_ok(false, 64, 7, 0, 7));
    assert!(div_ok(false, 64, 6, 0, 7));
}

#[test]
fn shift_flag_masks_follow_the_sdm() {
    let input = |cl: u64| NativeState {
        gpr: [0, cl, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        rflags: 2,
    };
    let reg2 = |code, r0, r1| Instruction::with2(code, r0, r1).expect("valid");
    // SHL r8, CL with CL = 0x20: masked count 0, no flag affected.
    let ins = reg2(Code::Shl_rm8_CL, Register::AL, Register::CL);
    assert_eq!(undefined_flags(&ins, &input(0x20)), 0);
    // Count 1: only AF undefined.
    assert_eq!(undefined_flags(&ins, &input(1)), AF);
    // Count 9 on a byte: OF, AF and CF (count >= width) undefined.
    assert_eq!(undefined_flags(&ins, &input(9)), AF | OF | CF);
    // SAR keeps CF defined for large counts.
    let ins = reg2(Code::Sar_rm8_CL, Register::AL, Register::CL);
    assert_eq!(undefined_flags(&ins, &input(9)), AF | OF);
    // ROL r64 by 0x40: masked count 0.
    let ins = reg2(Code::Rol_rm64_CL, Register::RAX, Register::CL);
    assert_eq!(undefined_flags(&ins, &input(0x40)), 0);
    assert_eq!(undefined_flags(&ins, &input(2)), OF);
    // MUL: SF ZF AF PF from iced's table.
    let ins = Instruction::with1(Code::Mul_rm32, Register::ECX).expect("valid");
    assert_eq!(undefined_flags(&ins, &input(0)), SF | ZF | AF | PF);
}

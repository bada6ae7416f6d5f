//! Differential test of the SSE/SSE2 instructions against the host
//! processor.
//!
//! Every legacy-encoded SSE/SSE2/MMX instruction form whose operands are
//! XMM or MMX registers, general registers, 16-byte-aligned memory and an imm8 is run
//! with random XMM contents (a mix of random bits and special values:
//! zeros, infinities, QNaNs and SNaNs, denormals, values at the integer
//! conversion limits) and a random MXCSR (rounding control, FTZ, DAZ and
//! sticky flags; every exception masked so the host cannot trap), once
//! natively through `sysgate-native-ref` and once in the emulator, and the
//! XMM registers, MXCSR, GPRs, status flags and memory are compared.
//!
//! MMX forms (MMX, and the SSE/SSE2 additions on MMX registers) run the
//! same way with random MM0-MM7. Left out: LDMXCSR
//! (a random image would fault), MASKMOVDQU/MASKMOVQ (implicit rDI), state saves
//! (FXSAVE/FXRSTOR), and CPUID features other than SSE and SSE2.
//!
//! `SYSGATE_SSE_DIFF_CASES` and `SYSGATE_DIFF_SEED` override the number of
//! cases per form and the seed.

use iced_x86::{
    Code, CpuidFeature, Encoder, EncodingKind, Instruction, Mnemonic, OpCodeOperandKind, Register,
};
use sysgate_cpu::{Exit, Limit, Vcpu, Vendor};
use sysgate_native_ref::{
    ARENA_BASE, ARENA_SIZE, FLAGS_MASK, NativeError, NativeState, SimdState, with_runner,
};

/// Cases per instruction form in a plain `cargo test` run.
const DEFAULT_CASES: u64 = 64;
/// Default seed.
const DEFAULT_SEED: u64 = 0x55E2_D1FF_0000_0001;
/// Where the instruction is placed in the emulator.
const CODE_AT: u64 = 0x1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const F32_SPECIAL: [u32; 23] = [
    0x3F7F_FFFF,
    0x0080_0001,
    0x00FF_FFFF,
    0,
    0x8000_0000,
    0x3F80_0000,
    0xBF80_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_0000,
    0xFFC0_0000,
    0x7F80_0001,
    0x7FA0_1234,
    0x0000_0001,
    0x007F_FFFF,
    0x8000_0001,
    0x0080_0000,
    0x4B80_0001,
    0x7F7F_FFFF,
    0x4F00_0000,
    0xCF00_0000,
    0x5F00_0000,
    0x3EAA_AAAB,
];

const F64_SPECIAL: [u64; 19] = [
    0x3FEF_FFFF_FFFF_FFFF,
    0x0010_0000_0000_0001,
    0x001F_FFFF_FFFF_FFFF,
    0,
    0x8000_0000_0000_0000,
    0x3FF0_0000_0000_0000,
    0xBFF0_0000_0000_0000,
    0x7FF0_0000_0000_0000,
    0xFFF0_0000_0000_0000,
    0x7FF8_0000_0000_0000,
    0x7FF0_0000_0000_0001,
    0x0000_0000_0000_0001,
    0x000F_FFFF_FFFF_FFFF,
    0x0010_0000_0000_0000,
    0x7FEF_FFFF_FFFF_FFFF,
    0x41E0_0000_0000_0000,
    0xC1E0_0000_0020_0000,
    0x43E0_0000_0000_0000,
    0x3810_0000_0000_0000,
];

/// A random 64-bit half: random bits, two single-precision specials, a
/// double-precision special, or a small integer pair.
fn half(r: &mut Rng) -> u64 {
    match r.below(7) {
        0 => r.next(),
        5 => {
            // Singles in or near the smallest binades (incl. denormals).
            let f = |r: &mut Rng| (r.next() as u32 & 0x807F_FFFF) | ((r.below(4) as u32) << 23);
            u64::from(f(r)) | (u64::from(f(r)) << 32)
        }
        6 => (r.next() & 0x800F_FFFF_FFFF_FFFF) | (r.below(4) << 52),
        1 => {
            let a = F32_SPECIAL[r.below(23) as usize];
            let b = F32_SPECIAL[r.below(23) as usize];
            u64::from(a) | (u64::from(b) << 32)
        }
        2 => F64_SPECIAL[r.below(19) as usize],
        3 => {
            // Ordinary floats: sign, moderate exponent, random mantissa.
            let f =
                |r: &mut Rng| (r.next() as u32 & 0x807F_FFFF) | ((120 + r.below(16) as u32) << 23);
            u64::from(f(r)) | (u64::from(f(r)) << 32)
        }
        _ => r.below(1 << 20) | (r.below(1 << 20) << 32),
    }
}

fn xmm_value(r: &mut Rng) -> u128 {
    u128::from(half(r)) | (u128::from(half(r)) << 64)
}

/// Random MXCSR: RC, FTZ, DAZ and sticky flags random, all masks set; a
/// third of the cases use the default control with PE set (the emulator's
/// fast path for ordinary operations).
fn mxcsr(r: &mut Rng) -> u32 {
    let flags = if r.below(2) == 0 {
        0
    } else {
        r.below(64) as u32
    };
    if r.below(3) == 0 {
        return 0x1F80 | 0x20 | flags;
    }
    0x1F80
        | (r.below(4) as u32) << 13
        | (r.below(2) as u32) << 15
        | (r.below(2) as u32) << 6
        | flags
}

/// The instruction forms under test.
fn forms() -> Vec<Code> {
    Code::values()
        .filter(|&code| {
            let op = code.op_code();
            if op.encoding() != EncodingKind::Legacy || code == Code::INVALID {
                return false;
            }
            let mut ins = Instruction::default();
            ins.set_code(code);
            let feats = ins.cpuid_features();
            if feats.is_empty()
                || !feats.iter().all(|f| {
                    matches!(
                        f,
                        CpuidFeature::MMX | CpuidFeature::SSE | CpuidFeature::SSE2
                    )
                })
            {
                return false;
            }
            if matches!(
                code.mnemonic(),
                Mnemonic::Ldmxcsr | Mnemonic::Maskmovdqu | Mnemonic::Maskmovq | Mnemonic::Pause
            ) {
                return false;
            }
            op.op_kinds().iter().all(|k| {
                use OpCodeOperandKind as K;
                matches!(
                    k,
                    K::xmm_reg
                        | K::mm_reg
                        | K::mm_rm
                        | K::mm_or_mem
                        | K::xmm_rm
                        | K::xmm_or_mem
                        | K::mem
                        | K::r32_reg
                        | K::r64_reg
                        | K::r32_rm
                        | K::r64_rm
                        | K::r32_or_mem
                        | K::r64_or_mem
                        | K::imm8
                )
            })
        })
        .collect()
}

/// GPRs a test may name: not RSP, not RBX (the memory base).
const GPRS: [u32; 14] = [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// Builds a random instance of `code`; `rbx` is the memory base.
fn build(code: Code, r: &mut Rng) -> Option<Instruction> {
    use OpCodeOperandKind as K;
    let kinds = code.op_code().op_kinds();
    let mut ops: Vec<Op> = Vec::new();
    enum Op {
        R(Register),
        M,
        I(u32),
    }
    let xmm = |r: &mut Rng| Op::R(Register::XMM0 + r.below(16) as u32);
    let g32 = |r: &mut Rng| Op::R(Register::EAX + GPRS[r.below(14) as usize]);
    let g64 = |r: &mut Rng| Op::R(Register::RAX + GPRS[r.below(14) as usize]);
    for k in kinds {
        ops.push(match k {
            K::xmm_reg => xmm(r),
            K::xmm_rm => xmm(r),
            K::xmm_or_mem => {
                if r.below(2) == 0 {
                    xmm(r)
                } else {
                    Op::M
                }
            }
            K::mem => Op::M,
            K::mm_reg | K::mm_rm => Op::R(Register::MM0 + r.below(8) as u32),
            K::mm_or_mem => {
                if r.below(2) == 0 {
                    Op::R(Register::MM0 + r.below(8) as u32)
                } else {
                    Op::M
                }
            }
            K::r32_reg | K::r32_rm => g32(r),
            K::r64_reg | K::r64_rm => g64(r),
            K::r32_or_mem => {
                if r.below(2) == 0 {
                    g32(r)
                } else {
                    Op::M
                }
            }
            K::r64_or_mem => {
                if r.below(2) == 0 {
                    g64(r)
                } else {
                    Op::M
                }
            }
            K::imm8 => Op::I(r.below(256) as u32),
            _ => return None,
        });
    }
    let mut ins = Instruction::default();
    ins.set_code(code);
    for (n, o) in ops.iter().enumerate() {
        let n = n as u32;
        match o {
            Op::R(reg) => {
                ins.set_op_kind(n, iced_x86::OpKind::Register);
                ins.set_op_register(n, *reg);
            }
            Op::M => {
                ins.set_op_kind(n, iced_x86::OpKind::Memory);
                ins.set_memory_base(Register::RBX);
                ins.set_memory_index(Register::None);
                ins.set_memory_index_scale(1);
                ins.set_memory_displ_size(0);
            }
            Op::I(v) => {
                ins.set_op_kind(n, iced_x86::OpKind::Immediate8);
                ins.set_immediate8(*v as u8);
            }
        }
    }
    Some(ins)
}

fn encode(ins: &Instruction) -> Option<Vec<u8>> {
    let mut e = Encoder::new(64);
    e.encode(ins, 0).ok()?;
    Some(e.take_buffer())
}

/// The emulator: 64-bit flat mode at CPL 0, no paging, RAM up to the
/// arena (backed lazily), CR4.OSFXSR and OSXMMEXCPT set.
fn guest() -> Vcpu {
    let mut v = Vcpu::new(ARENA_BASE + ARENA_SIZE as u64 + 0x1000, Vendor::Amd);
    v.cpu.set_flat_mode(64, 0);
    v.cpu.ctrl.cr4 |= (1 << 9) | (1 << 10);
    v
}

fn env_u64(name: &str) -> Option<u64> {
    let s = std::env::var(name).ok()?;
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

#[test]
fn sse_differential_against_host() {
    let cases = env_u64("SYSGATE_SSE_DIFF_CASES").unwrap_or(DEFAULT_CASES);
    let seed = env_u64("SYSGATE_DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let forms = forms();
    assert!(forms.len() > 150, "only {} forms", forms.len());
    let result = with_runner(|runner| {
        let mut rng = Rng(seed | 1);
        let mut g = guest();
        let mut failures = Vec::new();
        let mut ran = 0u64;
        // Cases whose instruction changed an XMM register, a GPR or MXCSR
        // natively (a check that the comparison is not vacuous).
        let mut changed = 0u64;
        for &code in &forms {
            for _ in 0..cases {
                let Some(ins) = build(code, &mut rng) else {
                    break;
                };
                let Some(bytes) = encode(&ins) else {
                    break;
                };
                // Inputs.
                let mut state = NativeState::default();
                for r in state.gpr.iter_mut() {
                    *r = match rng.below(3) {
                        0 => rng.next(),
                        1 => rng.next() as i32 as i64 as u64,
                        _ => rng.below(64),
                    };
                }
                let slot = rng.below((ARENA_SIZE as u64 - 64) / 16) * 16;
                state.gpr[3] = ARENA_BASE + slot;
                state.gpr[4] = ARENA_BASE + ARENA_SIZE as u64 - 8;
                state.rflags = rng.next() & FLAGS_MASK;
                let mut simd = SimdState {
                    xmm: [0; 16],
                    mm: [0; 8],
                    mxcsr: mxcsr(&mut rng),
                };
                for m in simd.mm.iter_mut() {
                    *m = half(&mut rng);
                }
                for x in simd.xmm.iter_mut() {
                    *x = xmm_value(&mut rng);
                }
                let mut mem = [0u8; 32];
                for k in 0..4 {
                    let v = xmm_value(&mut rng);
                    mem[(k % 2) * 16..(k % 2) * 16 + 16].copy_from_slice(&v.to_le_bytes());
                }
                let off = slot as usize;
                runner.arena()[off..off + 32].copy_from_slice(&mem);
                // Emulated.
                let c = &mut g.cpu;
                c.mmu.phys.write(ARENA_BASE + slot, &mem);
                c.mmu.phys.write(CODE_AT, &bytes);
                c.mmu.phys.write(CODE_AT + bytes.len() as u64, &[0xF4]);
                c.gpr = state.gpr;
                c.rflags = state.rflags | 2;
                c.fpu.xmm = simd.xmm;
                c.fpu.mxcsr = simd.mxcsr;
                for (k, m) in simd.mm.iter().enumerate() {
                    c.fpu.st[k].signif = *m;
                }
                c.rip = CODE_AT;
                let exit = g.run(Limit::instructions(1));
                // Native.
                let input = (state, simd);
                runner
                    .run_simd(&bytes, &mut state, &mut simd)
                    .expect("native run");
                ran += 1;
                if simd != input.1 || state.gpr != input.0.gpr {
                    changed += 1;
                }
                let c = &g.cpu;
                let mut emu_mem = [0u8; 32];
                c.mmu.phys.read(ARENA_BASE + slot, &mut emu_mem);
                let nat_mem = &runner.arena()[off..off + 32];
                let mut diffs = Vec::new();
                if exit != Exit::InstructionLimit && exit != Exit::Hlt {
                    diffs.push(format!("exit {exit:?}"));
                }
                for x in 0..16 {
                    if c.fpu.xmm[x] != simd.xmm[x] {
                        diffs.push(format!(
                            "xmm{x}: emu {:#034x} host {:#034x}",
                            c.fpu.xmm[x], simd.xmm[x]
                        ));
                    }
                }
                for m in 0..8 {
                    if c.fpu.st[m].signif != simd.mm[m] {
                        diffs.push(format!(
                            "mm{m}: emu {:#018x} host {:#018x}",
                            c.fpu.st[m].signif, simd.mm[m]
                        ));
                    }
                }
                if c.fpu.mxcsr != simd.mxcsr {
                    diffs.push(format!(
                        "mxcsr: emu {:#x} host {:#x}",
                        c.fpu.mxcsr, simd.mxcsr
                    ));
                }
                for r in 0..16 {
                    if c.gpr[r] != state.gpr[r] {
                        diffs.push(format!(
                            "gpr{r}: emu {:#x} host {:#x}",
                            c.gpr[r], state.gpr[r]
                        ));
                    }
                }
                let status = FLAGS_MASK & !(1 << 10);
                if c.rflags & status != state.rflags & status {
                    diffs.push(format!(
                        "rflags: emu {:#x} host {:#x}",
                        c.rflags & status,
                        state.rflags & status
                    ));
                }
                if emu_mem[..] != nat_mem[..] {
                    diffs.push("memory differs".to_string());
                }
                if !diffs.is_empty() && failures.len() < 40 {
                    failures.push(format!(
                        "{ins} ({code:?}) bytes {bytes:02x?}\n  in: xmm {:x?} mm {:x?} mxcsr {:#x}\n  {}",
                        input.1.xmm,
                        input.1.mm,
                        input.1.mxcsr,
                        diffs.join("\n  ")
                    ));
                }
            }
        }
        (ran, changed, failures)
    });
    let (ran, changed, failures) = match result {
        Ok(x) => x,
        Err(NativeError::Unsupported) => return,
        Err(e) => panic!("native runner: {e}"),
    };
    eprintln!(
        "{} forms, {ran} cases, {changed} changed state",
        forms.len()
    );
    assert!(
        changed > ran / 2,
        "only {changed} of {ran} cases changed state"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches in {ran} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran > 5000, "only {ran} cases ran");
}

//! Feeds the fuzzing harness ([`sysgate_cpu::fuzzing`]) deterministic
//! inputs under `cargo test`: pseudo-random byte strings, random sequences
//! of valid instructions built with iced-x86's encoder, and hand-written
//! privilege-escalation attempts. Nothing may panic, and CPL-3 code must
//! never change privileged state.
//!
//! `SYSGATE_FUZZ_CASES=N` changes the number of random inputs of each kind
//! (default [`DEFAULT_CASES`]); `SYSGATE_FUZZ_SEED=S` changes the seed.

use std::panic::{AssertUnwindSafe, catch_unwind};

use iced_x86::code_asm::*;
use iced_x86::{
    Code, Encoder, EncodingKind, Instruction, MemoryOperand, OpCodeOperandKind, OpKind, Register,
};
use sysgate_cpu::Exit;
use sysgate_cpu::fuzzing::{CodeMode, Outcome, Setup, execute};

/// Random inputs of each kind in a plain `cargo test` run.
const DEFAULT_CASES: u64 = 1_000;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn cases() -> u64 {
    env_u64("SYSGATE_FUZZ_CASES").unwrap_or(DEFAULT_CASES)
}

fn seed(salt: u64) -> u64 {
    env_u64("SYSGATE_FUZZ_SEED").unwrap_or(0x0F0F_5EED_2024_0001) ^ salt
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `code` in `setup`, turning a panic or a CPL-3 privilege violation
/// into a test failure that shows the input.
fn run_checked(code: &[u8], setup: Setup) -> Outcome {
    let out = catch_unwind(AssertUnwindSafe(|| execute(code, setup)))
        .unwrap_or_else(|_| panic!("panic in {setup:?} on input {}", hex(code)));
    assert!(
        !out.violation(),
        "CPL-3 code changed privileged state in {setup:?}: {:?}\ninput: {}",
        out.changed,
        hex(code)
    );
    out
}

/// Bytes that make random strings decode into more interesting
/// instructions: prefixes, escape bytes, common opcodes.
const FAVOURED: &[u8] = &[
    0x0F, 0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x48, 0x4C, 0x41, 0x89,
    0x8B, 0x8E, 0x8C, 0xC7, 0xFF, 0xF7, 0xCD, 0xCF, 0x9C, 0x9D, 0xFA, 0xFB, 0xF4, 0x01, 0x00, 0x20,
    0x22, 0x30, 0x32, 0x05, 0x07, 0x34, 0x35, 0xA4, 0xAA, 0xE4, 0xE6, 0xEC, 0xEE,
];

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let max = if rng.below(8) == 0 { 2048 } else { 96 };
    let len = 1 + rng.below(max) as usize;
    (0..len)
        .map(|_| {
            if rng.below(3) == 0 {
                rng.pick(FAVOURED)
            } else {
                rng.next() as u8
            }
        })
        .collect()
}

#[test]
fn random_bytes_never_panic_or_escalate() {
    let mut rng = Rng(seed(1));
    let mut instructions = 0u64;
    for _ in 0..cases() {
        let code = random_bytes(&mut rng);
        for setup in Setup::ALL {
            instructions += run_checked(&code, setup).instructions;
        }
    }
    eprintln!(
        "random bytes: {} inputs, {instructions} instructions",
        cases()
    );
    assert!(
        instructions > cases(),
        "the harness hardly executed anything"
    );
}

// ---------------------------------------------------------------------------
// Structured inputs: random valid instructions
// ---------------------------------------------------------------------------

const GPR8: [Register; 20] = {
    use Register::*;
    [
        AL, CL, DL, BL, AH, CH, DH, BH, SPL, BPL, SIL, DIL, R8L, R9L, R10L, R11L, R12L, R13L, R14L,
        R15L,
    ]
};

fn gpr(size: u32, n: u64) -> Register {
    use Register::*;
    let n = n as usize % 16;
    match size {
        1 => GPR8[n],
        2 => [
            AX, CX, DX, BX, SP, BP, SI, DI, R8W, R9W, R10W, R11W, R12W, R13W, R14W, R15W,
        ][n],
        4 => [
            EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, R8D, R9D, R10D, R11D, R12D, R13D, R14D, R15D,
        ][n],
        _ => [
            RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
        ][n],
    }
}

/// A random instruction generator for one code size.
struct Structured {
    bits: u32,
    codes: Vec<Code>,
}

impl Structured {
    fn new(bits: u32) -> Structured {
        let codes = Code::values()
            .filter(|c| {
                let oc = c.op_code();
                oc.is_instruction()
                    && oc.encoding() == EncodingKind::Legacy
                    && match bits {
                        16 => oc.mode16(),
                        32 => oc.mode32(),
                        _ => oc.mode64(),
                    }
                    && (0..oc.op_count()).all(|i| supported(oc.op_kind(i)))
            })
            .collect();
        Structured { bits, codes }
    }

    /// General-purpose registers usable at this code size (no REX ones
    /// outside 64-bit mode).
    fn reg(&self, rng: &mut Rng, size: u32) -> Register {
        let n = if self.bits == 64 {
            rng.below(16)
        } else {
            rng.below(8)
        };
        if size == 1 && self.bits != 64 {
            return GPR8[n as usize];
        }
        gpr(size, n)
    }

    fn mem(&self, rng: &mut Rng) -> MemoryOperand {
        // Base registers that point at data in every setup, plus anything.
        let asize = if self.bits == 16 {
            2
        } else if self.bits == 32 {
            4
        } else {
            8
        };
        let disp = rng.pick(&[0i64, 8, -8, 0x40, 0x7F0, -0x100]);
        match rng.below(4) {
            0 if asize == 2 => MemoryOperand::with_base_index_scale_displ_size(
                rng.pick(&[Register::BX, Register::BP, Register::SI, Register::DI]),
                Register::None,
                1,
                disp,
                1,
            ),
            0 => MemoryOperand::with_displ(0x2_0000 + rng.below(0x1_0000), 4),
            1 if asize != 2 => MemoryOperand::with_base_index_scale_displ_size(
                gpr(asize, rng.pick(&[3, 6, 7, 8, 12, 13, 14, 15])),
                gpr(asize, rng.pick(&[0, 1, 2])),
                1 << rng.below(4),
                disp,
                1,
            ),
            _ if asize == 2 => MemoryOperand::with_base_index_scale_displ_size(
                rng.pick(&[Register::BX, Register::SI, Register::DI]),
                Register::None,
                1,
                disp,
                1,
            ),
            _ => MemoryOperand::with_base_displ(gpr(asize, rng.pick(&[3, 4, 5, 6, 7])), disp),
        }
    }

    fn instruction(&self, rng: &mut Rng, ip: u64) -> Option<Vec<u8>> {
        let code = rng.pick(&self.codes);
        let oc = code.op_code();
        let mut ins = Instruction::default();
        ins.set_code(code);
        use OpCodeOperandKind as K;
        for i in 0..oc.op_count() {
            let k = oc.op_kind(i);
            let set_reg = |ins: &mut Instruction, r: Register| {
                ins.set_op_kind(i, OpKind::Register);
                ins.set_op_register(i, r);
            };
            match k {
                K::r8_reg | K::r8_opcode => set_reg(&mut ins, self.reg(rng, 1)),
                K::r16_reg | K::r16_opcode | K::r16_rm | K::r16_reg_mem => {
                    set_reg(&mut ins, self.reg(rng, 2))
                }
                K::r32_reg | K::r32_opcode | K::r32_rm | K::r32_reg_mem => {
                    set_reg(&mut ins, self.reg(rng, 4))
                }
                K::r64_reg | K::r64_opcode | K::r64_rm | K::r64_reg_mem => {
                    set_reg(&mut ins, self.reg(rng, 8))
                }
                K::r8_or_mem
                | K::r16_or_mem
                | K::r32_or_mem
                | K::r64_or_mem
                | K::mm_or_mem
                | K::xmm_or_mem
                    if rng.below(2) == 0 =>
                {
                    let r = match k {
                        K::r8_or_mem => self.reg(rng, 1),
                        K::r16_or_mem => self.reg(rng, 2),
                        K::r32_or_mem => self.reg(rng, 4),
                        K::r64_or_mem => self.reg(rng, 8),
                        K::mm_or_mem => mm(rng.below(8)),
                        _ => xmm(rng.below(8)),
                    };
                    set_reg(&mut ins, r)
                }
                K::r8_or_mem
                | K::r16_or_mem
                | K::r32_or_mem
                | K::r64_or_mem
                | K::mm_or_mem
                | K::xmm_or_mem
                | K::mem => {
                    let m = self.mem(rng);
                    ins.set_op_kind(i, OpKind::Memory);
                    ins.set_memory_base(m.base);
                    ins.set_memory_index(m.index);
                    ins.set_memory_index_scale(m.scale);
                    ins.set_memory_displ_size(m.displ_size);
                    ins.set_memory_displacement64(m.displacement as u64);
                }
                K::mem_offs => {
                    ins.set_op_kind(i, OpKind::Memory);
                    ins.set_memory_displacement64(0x2_0000 + rng.below(0x1000));
                    ins.set_memory_displ_size(if self.bits == 64 { 8 } else { self.bits / 8 });
                }
                K::mm_reg | K::mm_rm => set_reg(&mut ins, mm(rng.below(8))),
                K::xmm_reg | K::xmm_rm => set_reg(&mut ins, xmm(rng.below(8))),
                K::seg_reg => set_reg(
                    &mut ins,
                    rng.pick(&[
                        Register::ES,
                        Register::CS,
                        Register::SS,
                        Register::DS,
                        Register::FS,
                        Register::GS,
                    ]),
                ),
                K::cr_reg => set_reg(
                    &mut ins,
                    rng.pick(&[
                        Register::CR0,
                        Register::CR2,
                        Register::CR3,
                        Register::CR4,
                        Register::CR8,
                    ]),
                ),
                K::dr_reg => set_reg(
                    &mut ins,
                    rng.pick(&[Register::DR0, Register::DR6, Register::DR7]),
                ),
                K::es => set_reg(&mut ins, Register::ES),
                K::cs => set_reg(&mut ins, Register::CS),
                K::ss => set_reg(&mut ins, Register::SS),
                K::ds => set_reg(&mut ins, Register::DS),
                K::fs => set_reg(&mut ins, Register::FS),
                K::gs => set_reg(&mut ins, Register::GS),
                K::al => set_reg(&mut ins, Register::AL),
                K::cl => set_reg(&mut ins, Register::CL),
                K::ax => set_reg(&mut ins, Register::AX),
                K::dx => set_reg(&mut ins, Register::DX),
                K::eax => set_reg(&mut ins, Register::EAX),
                K::rax => set_reg(&mut ins, Register::RAX),
                K::st0 => set_reg(&mut ins, Register::ST0),
                K::sti_opcode => set_reg(&mut ins, Register::ST1),
                K::imm8 | K::imm8_const_1 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => {
                    let kind = match k {
                        K::imm8sex16 => OpKind::Immediate8to16,
                        K::imm8sex32 => OpKind::Immediate8to32,
                        K::imm8sex64 => OpKind::Immediate8to64,
                        _ if i > 0 && ins.op_kind(i - 1) == OpKind::Immediate16 => {
                            OpKind::Immediate8_2nd
                        }
                        _ => OpKind::Immediate8,
                    };
                    ins.set_op_kind(i, kind);
                    let v = if k == K::imm8_const_1 { 1 } else { rng.next() };
                    ins.set_immediate_u64(i, v & 0xFF);
                }
                K::imm16 => {
                    ins.set_op_kind(i, OpKind::Immediate16);
                    ins.set_immediate_u64(i, rng.next() & 0xFFFF);
                }
                K::imm32 => {
                    ins.set_op_kind(i, OpKind::Immediate32);
                    ins.set_immediate_u64(i, rng.next() & 0xFFFF_FFFF);
                }
                K::imm32sex64 => {
                    ins.set_op_kind(i, OpKind::Immediate32to64);
                    ins.set_immediate_u64(i, rng.next() as i32 as i64 as u64);
                }
                K::imm64 => {
                    ins.set_op_kind(i, OpKind::Immediate64);
                    ins.set_immediate_u64(i, rng.next());
                }
                K::br16_1 | K::br32_1 | K::br64_1 | K::br16_2 | K::br32_4 | K::br64_4 => {
                    let kind = match k {
                        K::br16_1 | K::br16_2 => OpKind::NearBranch16,
                        K::br32_1 | K::br32_4 => OpKind::NearBranch32,
                        _ => OpKind::NearBranch64,
                    };
                    let target = ip.wrapping_add(rng.below(64)).wrapping_sub(16);
                    ins.set_op_kind(i, kind);
                    match kind {
                        OpKind::NearBranch16 => ins.set_near_branch16(target as u16),
                        OpKind::NearBranch32 => ins.set_near_branch32(target as u32),
                        _ => ins.set_near_branch64(target),
                    }
                }
                K::farbr2_2 | K::farbr4_2 => {
                    let kind = if k == K::farbr2_2 {
                        OpKind::FarBranch16
                    } else {
                        OpKind::FarBranch32
                    };
                    ins.set_op_kind(i, kind);
                    ins.set_far_branch_selector(
                        rng.pick(&[0x08, 0x10, 0x23, 0x33, 0x70, 0x80, 0x1000]),
                    );
                    if kind == OpKind::FarBranch16 {
                        ins.set_far_branch16(rng.below(0x100) as u16);
                    } else {
                        ins.set_far_branch32(0x1_0000 + rng.below(0x100) as u32);
                    }
                }
                _ => return None,
            }
        }
        if oc.can_use_lock_prefix() && rng.below(8) == 0 {
            ins.set_has_lock_prefix(true);
        }
        if oc.can_use_rep_prefix() && rng.below(2) == 0 {
            ins.set_has_rep_prefix(true);
        }
        let mut enc = Encoder::new(self.bits);
        enc.encode(&ins, ip).ok()?;
        Some(enc.take_buffer())
    }

    fn sequence(&self, rng: &mut Rng, start: u64) -> Vec<u8> {
        let n = 1 + rng.below(48);
        let mut out = Vec::new();
        let mut tries = 0;
        while (out.len() as u64) < n * 4 && tries < n * 4 {
            tries += 1;
            if let Some(b) = self.instruction(rng, start + out.len() as u64) {
                out.extend_from_slice(&b);
            }
        }
        out
    }
}

fn mm(n: u64) -> Register {
    use Register::*;
    [MM0, MM1, MM2, MM3, MM4, MM5, MM6, MM7][n as usize % 8]
}

fn xmm(n: u64) -> Register {
    use Register::*;
    [XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7][n as usize % 8]
}

/// Operand kinds [`Structured`] can fill.
fn supported(k: OpCodeOperandKind) -> bool {
    use OpCodeOperandKind as K;
    matches!(
        k,
        K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r16_rm
            | K::r16_reg_mem
            | K::r32_reg
            | K::r32_opcode
            | K::r32_rm
            | K::r32_reg_mem
            | K::r64_reg
            | K::r64_opcode
            | K::r64_rm
            | K::r64_reg_mem
            | K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r64_or_mem
            | K::mm_or_mem
            | K::xmm_or_mem
            | K::mem
            | K::mem_offs
            | K::mm_reg
            | K::mm_rm
            | K::xmm_reg
            | K::xmm_rm
            | K::seg_reg
            | K::cr_reg
            | K::dr_reg
            | K::es
            | K::cs
            | K::ss
            | K::ds
            | K::fs
            | K::gs
            | K::al
            | K::cl
            | K::ax
            | K::dx
            | K::eax
            | K::rax
            | K::st0
            | K::sti_opcode
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
            | K::br16_1
            | K::br32_1
            | K::br64_1
            | K::br16_2
            | K::br32_4
            | K::br64_4
            | K::farbr2_2
            | K::farbr4_2
    )
}

#[test]
fn structured_instruction_sequences_never_panic_or_escalate() {
    let mut rng = Rng(seed(2));
    let gens = [
        Structured::new(16),
        Structured::new(32),
        Structured::new(64),
    ];
    for g in &gens {
        assert!(
            g.codes.len() > 500,
            "{}-bit: only {} codes",
            g.bits,
            g.codes.len()
        );
    }
    let mut instructions = 0u64;
    for _ in 0..cases() {
        for setup in Setup::ALL {
            let g = &gens[match setup.bits() {
                16 => 0,
                32 => 1,
                _ => 2,
            }];
            // Where the code starts as an offset in CS (for branch targets).
            let start = if setup.bits() == 16 { 0 } else { 0x1_0000 };
            let code = g.sequence(&mut rng, start);
            instructions += run_checked(&code, setup).instructions;
        }
    }
    eprintln!(
        "structured: {} sequences per setup, {instructions} instructions",
        cases()
    );
    assert!(instructions > cases() * 8);
}

// ---------------------------------------------------------------------------
// Hand-written escalation attempts and a positive control
// ---------------------------------------------------------------------------

fn assemble(bits: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(bits).expect("bitness");
    f(&mut a).expect("assembles");
    a.assemble(if bits == 16 { 0 } else { 0x1_0000 })
        .expect("assembles")
}

/// Each snippet is one privileged operation; at CPL 3 it must fault and
/// change nothing.
#[test]
fn privileged_operations_fault_at_cpl3() {
    type Snip = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let snippets64: &[(&str, Snip)] = &[
        ("mov cr3", |a| a.mov(cr3, rax)),
        ("mov cr0", |a| a.mov(cr0, rax)),
        ("mov cr4", |a| a.mov(cr4, rax)),
        ("mov cr8", |a| a.mov(cr8, rax)),
        ("mov dr7", |a| a.mov(dr7, rax)),
        ("lgdt", |a| a.lgdt(ptr(rbx))),
        ("lidt", |a| a.lidt(ptr(rbx))),
        ("lldt", |a| a.lldt(ax)),
        ("ltr", |a| a.ltr(ax)),
        ("wrmsr", |a| a.wrmsr()),
        ("cli", |a| a.cli()),
        ("sti", |a| a.sti()),
        ("hlt", |a| a.hlt()),
        ("in", |a| a.in_(al, dx)),
        ("out", |a| a.out(dx, al)),
        ("invlpg", |a| a.invlpg(ptr(rbx))),
        ("swapgs", |a| a.swapgs()),
        ("syscall", |a| a.syscall()),
        ("sysenter", |a| a.sysenter()),
        ("sysretq", |a| a.sysretq()),
        ("sysexitq", |a| a.sysexitq()),
        ("clts", |a| a.clts()),
        ("lmsw", |a| a.lmsw(ax)),
        ("int 0x80", |a| a.int(0x80)),
        ("int3", |a| a.int3()),
        ("write gdt", |a| a.mov(dword_ptr(0x1000), eax)),
        ("write page table", |a| a.mov(qword_ptr(0x4000), rax)),
        ("write supervisor page", |a| a.mov(qword_ptr(0x3_9000), rax)),
        ("popfq clearing IF, setting IOPL", |a| {
            a.push(0x3002)?;
            a.popfq()
        }),
        ("iretq to ring 0", |a| {
            a.push(0x18)?; // SS
            a.push(0x3_7000)?; // RSP
            a.push(0x3002)?; // RFLAGS with IOPL 3
            a.push(0x10)?; // CS: ring-0 code
            a.push(0x1_0000)?; // RIP
            a.iretq()
        }),
        ("far jmp to ring-0 code", |a| {
            a.push(0x10)?;
            a.push(0x1_0000)?;
            a.db(&[0x48, 0xCB]) // retfq
        }),
        ("far call to the TSS", |a| a.call(qword_ptr(0x2_0000))),
        ("mov ss, ring-0 data", |a| {
            a.mov(eax, 0x18)?;
            a.mov(ss, ax)
        }),
        ("mov ds, TSS selector", |a| {
            a.mov(eax, 0x70)?;
            a.mov(ds, ax)
        }),
    ];
    let setup = Setup {
        mode: CodeMode::Long64,
        cpl: 3,
        deliver: true,
    };
    for (name, f) in snippets64 {
        let code = assemble(64, |a| {
            // Point RAX/RBX/RDX at values an attacker would choose.
            a.mov(eax, 0x4000)?;
            f(a)
        });
        let out = run_checked(&code, setup);
        assert!(
            out.exceptions > 0,
            "{name}: no exception at CPL 3 ({} instructions, last exit {:?})",
            out.instructions,
            out.last_exit
        );
        assert!(!out.privileged_changed(), "{name}: {:?}", out.changed);
    }
    // The same idea in 32-bit protected mode and virtual-8086 mode.
    let snippets32: &[(&str, Snip)] = &[
        ("mov cr3", |a| a.mov(cr3, eax)),
        ("cli", |a| a.cli()),
        ("sysenter", |a| a.sysenter()),
        ("popfd clearing IF", |a| {
            a.push(0x3002)?;
            a.popfd()
        }),
        ("iretd to ring 0", |a| {
            a.push(0x3002)?;
            a.push(0x38)?;
            a.push(0x1_0000)?;
            a.iretd()
        }),
        ("write gdt", |a| a.mov(dword_ptr(0x1000), eax)),
        ("far call to the TSS", |a| a.call(fword_ptr(0x2_0000))),
    ];
    let snippets16: &[(&str, Snip)] = &[
        ("mov cr3", |a| a.mov(cr3, eax)),
        ("cli", |a| a.cli()),
        ("sti", |a| a.sti()),
        ("pushf", |a| a.pushf()),
        ("popf clearing IF", |a| {
            a.push(0x3002)?;
            a.popf()
        }),
        ("iret", |a| a.iret()),
        ("int 0x21", |a| a.int(0x21)),
        ("lgdt", |a| a.lgdt(ptr(bx))),
        ("hlt", |a| a.hlt()),
        ("out", |a| a.out(dx, al)),
    ];
    for (bits, mode, list) in [
        (32, CodeMode::Protected32, snippets32),
        (16, CodeMode::Real, snippets16),
        (16, CodeMode::Protected16, snippets16),
    ] {
        let setup = Setup {
            mode,
            cpl: 3,
            deliver: true,
        };
        for (name, f) in list {
            let code = assemble(bits, f);
            let out = run_checked(&code, setup);
            // PUSHF/POPF only fault in virtual-8086 mode (IOPL < 3); at
            // CPL 3 in protected mode POPF silently keeps IF and IOPL.
            let may_run = mode == CodeMode::Protected16 && name.starts_with("p");
            assert!(
                out.exceptions > 0 || may_run,
                "{name} in {setup:?}: no exception"
            );
            assert!(
                !out.privileged_changed(),
                "{name} in {setup:?}: {:?}",
                out.changed
            );
        }
    }
}

/// The detector notices changes: at CPL 0 the same operations succeed and
/// are reported as privileged changes (not violations).
#[test]
fn privileged_changes_are_detected_at_cpl0() {
    for deliver in [false, true] {
        check_cpl0_detection(Setup {
            mode: CodeMode::Long64,
            cpl: 0,
            deliver,
        });
    }
}

fn check_cpl0_detection(setup: Setup) {
    let code = assemble(64, |a| {
        a.mov(rax, cr0)?;
        a.xor(eax, 1 << 18)?; // CR0.AM
        a.mov(cr0, rax)?;
        a.hlt()
    });
    let out = execute(&code, setup);
    assert!(out.privileged_changed(), "CR0 write not detected: {out:?}");
    assert!(!out.violation());
    assert!(
        out.changed.iter().any(|c| c.starts_with("cr0")),
        "{:?}",
        out.changed
    );
    let code = assemble(64, |a| {
        a.mov(qword_ptr(0x4000), rax)?;
        a.cli()?;
        a.hlt()
    });
    let out = execute(&code, setup);
    assert!(
        out.changed.iter().any(|c| c.contains("privileged memory")),
        "{:?}",
        out.changed
    );
    assert!(
        out.changed.iter().any(|c| c.starts_with("rflags")),
        "{:?}",
        out.changed
    );
    assert_ne!(out.last_exit, Exit::InstructionLimit);
}

/// Inputs that once made the CPU panic.
#[test]
fn regressions() {
    // REP MOVSB/STOSB with DF = 1 and RSI/RDI = all ones: the bulk-copy
    // bound in insn/string.rs overflowed computing 2^64 elements.
    let code = assemble(64, |a| {
        a.std()?;
        a.mov(rsi, -1i64)?;
        a.mov(rdi, 0x2_0000u64)?;
        a.mov(ecx, 4)?;
        a.rep().movsb()?;
        a.mov(rdi, -1i64)?;
        a.mov(ecx, 4)?;
        a.rep().stosb()?;
        a.cld()?;
        a.mov(rdi, 0u64)?;
        a.mov(ecx, 4)?;
        a.rep().stosb()
    });
    for setup in Setup::ALL
        .into_iter()
        .filter(|s| s.mode == CodeMode::Long64)
    {
        run_checked(&code, setup);
    }
}

/// Exceptions are delivered through the IDT to the ring-0 stubs and come
/// back, in every setup that delivers.
#[test]
fn delivered_exceptions_return_to_the_code() {
    // UD2 twice (each delivery resumes one byte further, in the middle of
    // the UD2), then NOPs up to the instruction limit.
    let mut code = vec![0x0F, 0x0B, 0x0F, 0x0B];
    code.extend(std::iter::repeat_n(0x90u8, 1500));
    for setup in Setup::ALL.into_iter().filter(|s| s.deliver) {
        let out = run_checked(&code, setup);
        assert!(out.exceptions >= 1, "{setup:?}: {out:?}");
        assert_eq!(out.last_exit, Exit::InstructionLimit, "{setup:?}: {out:?}");
        assert!(!out.privileged_changed(), "{setup:?}: {:?}", out.changed);
    }
}

/// Inputs that once took long: a REP LODSD whose ECX a LOOPE wrapped to
/// about 2^32 (each pass of 64 Ki iterations counts as one instruction);
/// the harness's cycle limit ends it.
#[test]
fn long_repeats_are_bounded() {
    // The input libFuzzer reported (without its setup-selector byte).
    let mut code = vec![0xE1, 0xE1, 0x00];
    code.extend([0xE1; 35]);
    code.extend([
        0x24, 0x1E, 0xF3, 0xAD, 0, 0, 0, 0, 0, 0, 0xED, 0xE1, 0x2F, 0xF1, 0x31, 0xF1,
    ]);
    let setup = Setup {
        mode: CodeMode::Protected32,
        cpl: 0,
        deliver: false,
    };
    let out = run_checked(&code, setup);
    assert_eq!(out.last_exit, Exit::CycleLimit, "{out:?}");
    // REP LODSD with ECX = 2^32 - 1 directly, in every setup.
    for setup in Setup::ALL {
        let bits = setup.bits();
        let code = assemble(bits, |a| {
            a.mov(ecx, -1i32)?;
            a.rep().lodsd()
        });
        run_checked(&code, setup);
    }
}

#[test]
fn every_setup_runs_plain_code() {
    // NOPs run to the instruction limit in every setup.
    let code = vec![0x90u8; 2000];
    for setup in Setup::ALL {
        let out = run_checked(&code, setup);
        assert_eq!(out.exceptions, 0, "{setup:?}: {out:?}");
        assert_eq!(
            out.instructions,
            sysgate_cpu::fuzzing::INSTRUCTION_LIMIT,
            "{setup:?}"
        );
    }
}

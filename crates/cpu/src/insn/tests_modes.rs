//! Known-result tests of the data, arithmetic, control, stack and system
//! families across real mode, 16 and 32-bit protected mode and 64-bit mode:
//! operand and address-size defaults and overrides, stack width, 16-bit
//! SP/IP wrap-around, privilege rules, segment-limit and canonical faults,
//! and that a faulting instruction changes nothing.
//!
//! Expected values are worked out by hand from the SDM Vol. 2 instruction
//! pages (flags per Vol. 1 Appendix A); the machine code is written out as
//! bytes so that every prefix and operand form is explicit.

use crate::exception::Exception;
use crate::flags::{AF, CF, DF, OF, PF, SF, STATUS, ZF};
use crate::run::{Exit, Limit, Vcpu};
use crate::state::{Cpu, Rflags, SegReg, Segment, attr};
use crate::testutil::{CODE, DATA, STACK, machine, run};

const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RBX: usize = 3;
const RSP: usize = 4;
const RBP: usize = 5;
const RSI: usize = 6;
const RDI: usize = 7;

const IF: u64 = Rflags::IF.bits();
const IOPL: u64 = Rflags::IOPL.bits();

/// Runs `code` followed by HLT in a fresh machine of `bits` (0 = real
/// mode) after `setup`.
fn go(bits: u32, code: &[u8], setup: impl FnOnce(&mut Cpu)) -> (Exit, Vcpu) {
    let mut v = machine(bits);
    setup(&mut v.cpu);
    let mut bytes = code.to_vec();
    bytes.push(0xF4);
    let exit = run(&mut v, &bytes);
    (exit, v)
}

/// Like [`go`] but asserts the run reached HLT.
fn ok(bits: u32, code: &[u8], setup: impl FnOnce(&mut Cpu)) -> Vcpu {
    let (exit, v) = go(bits, code, setup);
    assert_eq!(
        exit,
        Exit::Hlt,
        "code {code:02x?} stopped at {:#x}",
        v.cpu.rip
    );
    v
}

/// Runs `code` at CPL 3 in flat `bits` protected mode: the final HLT
/// raises #GP(0), which marks the end.
fn user(bits: u32, code: &[u8], setup: impl FnOnce(&mut Cpu)) -> Vcpu {
    let (exit, v) = go(bits, code, |c| {
        c.set_flat_mode(bits, 3);
        setup(c);
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)), "code {code:02x?}");
    assert_eq!(v.cpu.rip, CODE + code.len() as u64, "stopped early");
    v
}

/// Runs `code` expecting `e` from its first instruction, and checks that
/// the instruction changed nothing: registers, flags, RIP, the retired
/// count and the bytes at `watch`.
fn faults(bits: u32, code: &[u8], e: Exception, watch: u64, setup: impl FnOnce(&mut Cpu)) -> Vcpu {
    let mut v = machine(bits);
    setup(&mut v.cpu);
    let gpr = v.cpu.gpr;
    let flags = v.cpu.rflags;
    let before = mem(&v.cpu, watch, 32);
    let mut bytes = code.to_vec();
    bytes.push(0xF4);
    let exit = run(&mut v, &bytes);
    assert_eq!(exit, Exit::Exception(e), "code {code:02x?}");
    assert_eq!(v.cpu.rip, CODE, "RIP stays at the faulting instruction");
    assert_eq!(v.cpu.gpr, gpr, "registers unchanged");
    assert_eq!(v.cpu.rflags, flags, "flags unchanged");
    assert_eq!(mem(&v.cpu, watch, 32), before, "memory unchanged");
    assert_eq!(v.cpu.instructions, 0);
    v
}

fn put(c: &mut Cpu, pa: u64, bytes: &[u8]) {
    c.mmu.phys.write(pa, bytes);
}

fn mem(c: &Cpu, pa: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.mmu.phys.read(pa, &mut b);
    b
}

fn rd(c: &Cpu, pa: u64, size: usize) -> u64 {
    let mut b = [0u8; 8];
    c.mmu.phys.read(pa, &mut b[..size]);
    u64::from_le_bytes(b)
}

fn wr(c: &mut Cpu, pa: u64, size: usize, v: u64) {
    c.mmu.phys.write(pa, &v.to_le_bytes()[..size]);
}

/// A real-mode data segment with the given selector.
fn real(sel: u16) -> Segment {
    Segment::real_mode(sel, false)
}

// ---------------------------------------------------------------------
// Data movement (insn/data.rs)
// ---------------------------------------------------------------------

#[test]
fn mov_register_forms_and_high_bytes() {
    let v = ok(64, &[0x88, 0xE0], |c| c.gpr[RAX] = 0x1122_3344_5566_7788); // mov al, ah
    assert_eq!(v.cpu.gpr[RAX], 0x1122_3344_5566_7777);
    // With a REX prefix the same encoding names SPL, not AH.
    let v = ok(64, &[0x40, 0x88, 0xE0], |c| {
        c.gpr[RAX] = 0x1122_3344_5566_7788;
        c.gpr[RSP] = 0x7F42;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x1122_3344_5566_7742);
    // mov ax, bx merges; mov eax, ebx zero-extends; mov rax, rbx copies.
    let v = ok(64, &[0x66, 0x89, 0xD8], |c| {
        c.gpr[RAX] = u64::MAX;
        c.gpr[RBX] = 0x1234;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_FFFF_FFFF_1234);
    let v = ok(64, &[0x89, 0xD8], |c| {
        c.gpr[RAX] = u64::MAX;
        c.gpr[RBX] = 0xAAAA_BBBB_CCCC_DDDD;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xCCCC_DDDD);
    // mov eax, imm32 zero-extends; mov rax, imm32 (C7) sign-extends;
    // mov rax, imm64.
    let v = ok(64, &[0xB8, 0x00, 0x00, 0x00, 0x80], |c| {
        c.gpr[RAX] = u64::MAX
    });
    assert_eq!(v.cpu.gpr[RAX], 0x8000_0000);
    let v = ok(64, &[0x48, 0xC7, 0xC0, 0x00, 0x00, 0x00, 0x80], |_| {});
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_FFFF_8000_0000);
    let v = ok(
        64,
        &[0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
        |_| {},
    );
    assert_eq!(v.cpu.gpr[RAX], 0x1122_3344_5566_7788);
    // In real mode B8 is mov ax, imm16; 66 B8 is mov eax, imm32.
    let v = ok(0, &[0xB8, 0x34, 0x12], |c| c.gpr[RAX] = 0xFFFF_0000);
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_1234);
    let v = ok(0, &[0x66, 0xB8, 0x78, 0x56, 0x34, 0x12], |_| {});
    assert_eq!(v.cpu.gpr[RAX], 0x1234_5678);
    // mov r8d, imm32 (REX.B).
    let v = ok(64, &[0x41, 0xB8, 1, 0, 0, 0], |c| c.gpr[8] = u64::MAX);
    assert_eq!(v.cpu.gpr[8], 1);
}

#[test]
fn mov_memory_forms_in_each_mode() {
    // 64-bit: mov [rdi], rbx; mov ecx, [rdi]; mov word [rdi+8], imm16.
    let v = ok(
        64,
        &[
            0x48, 0x89, 0x1F, // mov [rdi], rbx
            0x8B, 0x0F, // mov ecx, [rdi]
            0x66, 0xC7, 0x47, 0x08, 0x34, 0x12, // mov word [rdi+8], 0x1234
            0xC6, 0x47, 0x0A, 0x56, // mov byte [rdi+10], 0x56
        ],
        |c| {
            c.gpr[RDI] = DATA;
            c.gpr[RBX] = 0x1122_3344_5566_7788;
            c.gpr[RCX] = u64::MAX;
        },
    );
    assert_eq!(rd(&v.cpu, DATA, 8), 0x1122_3344_5566_7788);
    assert_eq!(v.cpu.gpr[RCX], 0x5566_7788);
    assert_eq!(mem(&v.cpu, DATA + 8, 4), vec![0x34, 0x12, 0x56, 0]);
    // Real mode: [bx+si+disp8] with DS = 0x2000 (base 0x20000); the
    // offset wraps at 16 bits.
    let v = ok(0, &[0x8B, 0x40, 0x05], |c| {
        c.seg[SegReg::Ds as usize] = real(0x2000);
        wr(c, 0x20004, 2, 0xBEEF);
        c.gpr[RBX] = 0xFFF0;
        c.gpr[RSI] = 0x000F;
    });
    assert_eq!(v.cpu.gpr[RAX] & 0xFFFF, 0xBEEF);
    // [bp+disp8] defaults to SS (base 0x30000), [bp+di] too.
    let v = ok(0, &[0x8B, 0x46, 0x02, 0x8B, 0x1B], |c| {
        c.seg[SegReg::Ss as usize] = real(0x3000);
        c.seg[SegReg::Ds as usize] = real(0x2000);
        wr(c, 0x30102, 2, 0x5151);
        wr(c, 0x30110, 2, 0x3131);
        wr(c, 0x20110, 2, 0xD5D5);
        c.gpr[RBP] = 0x100;
        c.gpr[RBX] = 0x10;
        c.gpr[RDI] = 0x10;
    });
    assert_eq!(v.cpu.gpr[RAX] & 0xFFFF, 0x5151);
    // 8B 1B is mov bx, [bp+di]: SS:0x110, not DS:0x110.
    assert_eq!(v.cpu.gpr[RBX] & 0xFFFF, 0x3131);
    // 32-bit code with a 67h prefix: 16-bit addressing [bx+si].
    let v = ok(32, &[0x67, 0x8B, 0x00], |c| {
        wr(c, 0x0005, 4, 0xCAFE_BABE);
        c.gpr[RBX] = 0x1234_FFFF;
        c.gpr[RSI] = 0x0006;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xCAFE_BABE);
}

#[test]
fn mov_moffs_in_each_address_size() {
    // 64-bit: A1 moffs64 (mov eax, [abs]); 48 A3 moffs64 (mov [abs], rax).
    let mut code = vec![0xA1];
    code.extend_from_slice(&DATA.to_le_bytes());
    code.extend_from_slice(&[0x48, 0xA3]);
    code.extend_from_slice(&(DATA + 0x10).to_le_bytes());
    let v = ok(64, &code, |c| {
        wr(c, DATA, 4, 0x8765_4321);
        c.gpr[RAX] = u64::MAX;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x8765_4321);
    assert_eq!(rd(&v.cpu, DATA + 0x10, 8), 0x8765_4321);
    // 67h in 64-bit code: moffs32.
    let v = ok(64, &[0x67, 0xA0, 0x00, 0x40, 0x00, 0x00], |c| {
        wr(c, DATA, 1, 0x5A);
    });
    assert_eq!(v.cpu.gpr[RAX] & 0xFF, 0x5A);
    // FS override in 64-bit mode: base 0x10000.
    let mut code = vec![0x64, 0xA1];
    code.extend_from_slice(&0x20u64.to_le_bytes());
    let v = ok(64, &code, |c| {
        c.seg[SegReg::Fs as usize].base = 0x10000;
        wr(c, 0x10020, 4, 0x0F0F_0F0F);
    });
    assert_eq!(v.cpu.gpr[RAX], 0x0F0F_0F0F);
    // 32-bit: A2 moffs32 (mov [abs], al) through DS with a base.
    let v = ok(32, &[0xA2, 0x00, 0x01, 0x00, 0x00], |c| {
        c.seg[SegReg::Ds as usize].base = 0x20000;
        c.gpr[RAX] = 0x99;
    });
    assert_eq!(mem(&v.cpu, 0x20100, 1), vec![0x99]);
    // Real mode: A1 moffs16 through DS = 0x2000.
    let v = ok(0, &[0xA1, 0x10, 0x00], |c| {
        c.seg[SegReg::Ds as usize] = real(0x2000);
        wr(c, 0x20010, 2, 0x7E7E);
    });
    assert_eq!(v.cpu.gpr[RAX] & 0xFFFF, 0x7E7E);
}

#[test]
fn movzx_movsx_movsxd() {
    let cases: &[(&[u8], u64, u64, u64)] = &[
        // (code, rax before, rbx, rax after)
        (&[0x0F, 0xB6, 0xC3], u64::MAX, 0x80, 0x80), // movzx eax, bl
        (
            &[0x66, 0x0F, 0xB6, 0xC3],
            u64::MAX,
            0x80,
            0xFFFF_FFFF_FFFF_0080,
        ), // movzx ax, bl
        (&[0x48, 0x0F, 0xB7, 0xC3], u64::MAX, 0x1_8000, 0x8000), // movzx rax, bx
        (&[0x0F, 0xB6, 0xC7], u64::MAX, 0x8100, 0x81), // movzx eax, bh
        (&[0x0F, 0xBE, 0xC3], u64::MAX, 0x80, 0xFFFF_FF80), // movsx eax, bl
        (&[0x66, 0x0F, 0xBE, 0xC3], 0, 0x80, 0xFF80), // movsx ax, bl
        (&[0x48, 0x0F, 0xBF, 0xC3], 0, 0x8000, 0xFFFF_FFFF_FFFF_8000), // movsx rax, bx
        (&[0x48, 0x0F, 0xBE, 0xC3], 0, 0x7F, 0x7F),  // movsx rax, bl
        (&[0x48, 0x63, 0xC3], 0, 0x8000_0000, 0xFFFF_FFFF_8000_0000), // movsxd rax, ebx
        (&[0x48, 0x63, 0xC3], 0, 0x1_7FFF_FFFF, 0x7FFF_FFFF),
        (&[0x63, 0xC3], u64::MAX, 0x8000_0000, 0x8000_0000), // movsxd eax, ebx
    ];
    for &(code, before, rbx, after) in cases {
        let v = ok(64, code, |c| {
            c.gpr[RAX] = before;
            c.gpr[RBX] = rbx;
        });
        assert_eq!(v.cpu.gpr[RAX], after, "{code:02x?}");
    }
    // Memory sources: movzx ecx, word [rdi]; movsx edx, byte [rdi+1];
    // movsxd rsi, [rdi].
    let v = ok(
        64,
        &[0x0F, 0xB7, 0x0F, 0x0F, 0xBE, 0x57, 0x01, 0x48, 0x63, 0x37],
        |c| {
            wr(c, DATA, 4, 0x8000_90FF);
            c.gpr[RDI] = DATA;
        },
    );
    assert_eq!(v.cpu.gpr[RCX], 0x90FF);
    assert_eq!(v.cpu.gpr[RDX], 0xFFFF_FF90);
    assert_eq!(v.cpu.gpr[RSI], 0xFFFF_FFFF_8000_90FF);
    // Real mode: 0F B6 C3 is movzx ax, bl; 66 0F BF C3 movsx eax, bx.
    let v = ok(0, &[0x0F, 0xB6, 0xC3], |c| {
        c.gpr[RAX] = 0x1234_5678;
        c.gpr[RBX] = 0xFE;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x1234_00FE);
    let v = ok(0, &[0x66, 0x0F, 0xBF, 0xC3], |c| c.gpr[RBX] = 0x8001);
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_8001);
}

#[test]
fn lea_address_and_operand_sizes() {
    // Real mode: lea ax, [bx+si+5] wraps at 16 bits.
    let v = ok(0, &[0x8D, 0x40, 0x05], |c| {
        c.gpr[RAX] = 0xAAAA_0000;
        c.gpr[RBX] = 0xFFF0;
        c.gpr[RSI] = 0x0020;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xAAAA_0015);
    // Every 16-bit form: [bx+di], [bp+si], [bp+di-2], [si], [di+0x100],
    // [bp+0x10], [bx].
    for (code, want) in [
        (&[0x8D, 0x01][..], 0x1000u64 + 0x0300),
        (&[0x8D, 0x02][..], 0x4000 + 0x0200),
        (&[0x8D, 0x43, 0xFE][..], 0x4000 + 0x0300 - 2),
        (&[0x8D, 0x04][..], 0x0200),
        (&[0x8D, 0x85, 0x00, 0x01][..], 0x0400),
        (&[0x8D, 0x46, 0x10][..], 0x4010),
        (&[0x8D, 0x07][..], 0x1000),
        (&[0x8D, 0x06, 0x34, 0x12][..], 0x1234), // [disp16]
    ] {
        let v = ok(0, code, |c| {
            c.gpr[RBX] = 0x1000;
            c.gpr[RBP] = 0x4000;
            c.gpr[RSI] = 0x0200;
            c.gpr[RDI] = 0x0300;
        });
        assert_eq!(v.cpu.gpr[RAX] & 0xFFFF, want, "{code:02x?}");
    }
    // 32-bit code, 67h: lea eax, [bx+si+5] zero-extends the 16-bit address.
    let v = ok(32, &[0x67, 0x8D, 0x40, 0x05], |c| {
        c.gpr[RAX] = u64::MAX;
        c.gpr[RBX] = 0x1_FFF0;
        c.gpr[RSI] = 0x0020;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x15);
    // 32-bit code, 66h: lea ax, [ecx+ebx] truncates to 16 bits.
    let v = ok(32, &[0x66, 0x8D, 0x04, 0x19], |c| {
        c.gpr[RAX] = 0xAAAA_AAAA;
        c.gpr[RCX] = 0x1234_5678;
        c.gpr[RBX] = 1;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xAAAA_5679);
    // 64-bit: lea rax, [rbx+rcx*8-8]; 67h: 32-bit address wraps.
    let v = ok(64, &[0x48, 0x8D, 0x44, 0xCB, 0xF8], |c| {
        c.gpr[RBX] = 0x1_0000_0000;
        c.gpr[RCX] = 2;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x1_0000_0008);
    let v = ok(64, &[0x67, 0x48, 0x8D, 0x04, 0x19], |c| {
        c.gpr[RCX] = 0xFFFF_FFFF;
        c.gpr[RBX] = 2;
    });
    assert_eq!(v.cpu.gpr[RAX], 1);
    // lea eax, [rip+0x10]: relative to the next instruction.
    let v = ok(64, &[0x8D, 0x05, 0x10, 0, 0, 0], |_| {});
    assert_eq!(v.cpu.gpr[RAX], CODE + 6 + 0x10);
}

#[test]
fn xchg_forms() {
    // xchg eax, ebx in 64-bit mode zero-extends both.
    let v = ok(64, &[0x87, 0xD8], |c| {
        c.gpr[RAX] = 0xFFFF_FFFF_0000_0001;
        c.gpr[RBX] = 0xEEEE_EEEE_0000_0002;
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RBX]), (2, 1));
    // xchg al, ah.
    let v = ok(64, &[0x86, 0xE0], |c| c.gpr[RAX] = 0x1234);
    assert_eq!(v.cpu.gpr[RAX], 0x3412);
    // xchg ax, bx (66 93) leaves the upper halves.
    let v = ok(32, &[0x66, 0x93], |c| {
        c.gpr[RAX] = 0xAAAA_1111;
        c.gpr[RBX] = 0xBBBB_2222;
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RBX]), (0xAAAA_2222, 0xBBBB_1111));
    // xchg [rdi], rbx and xchg rcx, r9 (49 87 C9).
    let v = ok(64, &[0x48, 0x87, 0x1F, 0x49, 0x87, 0xC9], |c| {
        wr(c, DATA, 8, 0x1111_2222_3333_4444);
        c.gpr[RDI] = DATA;
        c.gpr[RBX] = 0x5555;
        c.gpr[RCX] = 7;
        c.gpr[9] = 9;
    });
    assert_eq!(rd(&v.cpu, DATA, 8), 0x5555);
    assert_eq!(v.cpu.gpr[RBX], 0x1111_2222_3333_4444);
    assert_eq!((v.cpu.gpr[RCX], v.cpu.gpr[9]), (9, 7));
    // Real mode: 93 is xchg ax, bx.
    let v = ok(0, &[0x93], |c| {
        c.gpr[RAX] = 0x1_0001;
        c.gpr[RBX] = 0x2_0002;
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RBX]), (0x1_0002, 0x2_0001));
}

/// The SDM Vol. 1 Appendix B condition table, written out per code.
fn cond(cc: u8, f: u64) -> bool {
    let (c, z, s, o, p) = (
        f & CF != 0,
        f & ZF != 0,
        f & SF != 0,
        f & OF != 0,
        f & PF != 0,
    );
    match cc {
        0x0 => o,
        0x1 => !o,
        0x2 => c,
        0x3 => !c,
        0x4 => z,
        0x5 => !z,
        0x6 => c || z,
        0x7 => !c && !z,
        0x8 => s,
        0x9 => !s,
        0xA => p,
        0xB => !p,
        0xC => s != o,
        0xD => s == o,
        0xE => z || s != o,
        _ => !z && s == o,
    }
}

/// Flag patterns that make every condition both true and false.
const PATTERNS: [u64; 10] = [0, CF, ZF, SF, OF, PF, SF | OF, ZF | SF, CF | ZF, STATUS];

#[test]
fn setcc_all_conditions() {
    for cc in 0..16u8 {
        for f in PATTERNS {
            // setcc al; setcc ah; setcc [rdi]
            let v = ok(
                64,
                &[
                    0x0F,
                    0x90 + cc,
                    0xC0,
                    0x0F,
                    0x90 + cc,
                    0xC4,
                    0x0F,
                    0x90 + cc,
                    0x07,
                ],
                |c| {
                    c.gpr[RAX] = 0xFFFF;
                    c.gpr[RDI] = DATA;
                    wr(c, DATA, 2, 0xFFFF);
                    c.rflags |= f;
                },
            );
            let b = cond(cc, f) as u64;
            assert_eq!(v.cpu.gpr[RAX], b | (b << 8), "set{cc:x} flags {f:#x}");
            assert_eq!(rd(&v.cpu, DATA, 2), 0xFF00 | b);
            assert_eq!(v.cpu.rflags & STATUS, f, "SETcc leaves the flags");
        }
    }
}

#[test]
fn cmovcc_all_conditions() {
    for cc in 0..16u8 {
        for f in PATTERNS {
            let t = cond(cc, f);
            // cmovcc eax, ebx in 64-bit mode: a 32-bit destination is
            // zero-extended even when the condition is false.
            let v = ok(64, &[0x0F, 0x40 + cc, 0xC3], |c| {
                c.gpr[RAX] = 0xAAAA_AAAA_0000_0001;
                c.gpr[RBX] = 0xBBBB_BBBB_0000_0002;
                c.rflags |= f;
            });
            assert_eq!(v.cpu.gpr[RAX], if t { 2 } else { 1 }, "cmov{cc:x} {f:#x}");
            // cmovcc rax, [rdi] and cmovcc ax, bx.
            let v = ok(
                64,
                &[0x48, 0x0F, 0x40 + cc, 0x07, 0x66, 0x0F, 0x40 + cc, 0xCB],
                |c| {
                    c.gpr[RAX] = 7;
                    c.gpr[RCX] = 0xCCCC_0001;
                    c.gpr[RBX] = 0xBBBB_0002;
                    c.gpr[RDI] = DATA;
                    wr(c, DATA, 8, 0x1234_5678_9ABC_DEF0);
                    c.rflags |= f;
                },
            );
            assert_eq!(v.cpu.gpr[RAX], if t { 0x1234_5678_9ABC_DEF0 } else { 7 });
            assert_eq!(v.cpu.gpr[RCX], if t { 0xCCCC_0002 } else { 0xCCCC_0001 });
        }
    }
    // The memory source is read (and can fault) when the condition is false.
    faults(64, &[0x0F, 0x40, 0x07], Exception::GP(0), DATA, |c| {
        c.gpr[RDI] = 0x0000_8000_0000_0000;
    });
}

#[test]
fn bswap_forms() {
    let v = ok(64, &[0x0F, 0xC8], |c| c.gpr[RAX] = 0xFFFF_FFFF_1234_5678);
    assert_eq!(v.cpu.gpr[RAX], 0x7856_3412);
    let v = ok(64, &[0x48, 0x0F, 0xCB], |c| {
        c.gpr[RBX] = 0x0102_0304_0506_0708
    });
    assert_eq!(v.cpu.gpr[RBX], 0x0807_0605_0403_0201);
    let v = ok(64, &[0x41, 0x0F, 0xC8], |c| c.gpr[8] = 0xAABB_CCDD);
    assert_eq!(v.cpu.gpr[8], 0xDDCC_BBAA);
    let v = ok(32, &[0x0F, 0xC9], |c| c.gpr[RCX] = 0x1122_3344);
    assert_eq!(v.cpu.gpr[RCX], 0x4433_2211);
}

#[test]
fn accumulator_extensions() {
    // (bits, code, rax before, rdx before, rax after, rdx after)
    type Case = (u32, &'static [u8], u64, u64, u64, u64);
    let cases: &[Case] = &[
        (0, &[0x98], 0x1234_5680, 0, 0x1234_FF80, 0), // cbw
        (32, &[0x66, 0x98], 0x1234_567F, 0, 0x1234_007F, 0), // cbw
        (32, &[0x98], 0x1234_8000, 0, 0xFFFF_8000, 0), // cwde
        (0, &[0x66, 0x98], 0x8000, 0, 0xFFFF_8000, 0), // cwde
        (64, &[0x98], 0xAAAA_AAAA_0000_8000, 0, 0xFFFF_8000, 0), // cwde zero-extends
        (64, &[0x48, 0x98], 0x8000_0000, 0, 0xFFFF_FFFF_8000_0000, 0), // cdqe
        (64, &[0x48, 0x98], 0xFFFF_FFFF_7FFF_FFFF, 0, 0x7FFF_FFFF, 0), // cdqe
        (0, &[0x99], 0x8000, 0xABCD_0000, 0x8000, 0xABCD_FFFF), // cwd
        (32, &[0x66, 0x99], 0x7FFF, 0xABCD_1234, 0x7FFF, 0xABCD_0000), // cwd
        (32, &[0x99], 0x8000_0000, 0, 0x8000_0000, 0xFFFF_FFFF), // cdq
        (64, &[0x99], 0x7FFF_FFFF, u64::MAX, 0x7FFF_FFFF, 0), // cdq zero-extends
        (64, &[0x48, 0x99], 1 << 63, 0, 1 << 63, u64::MAX), // cqo
        (64, &[0x48, 0x99], 1, u64::MAX, 1, 0),       // cqo
    ];
    for &(bits, code, a, d, a2, d2) in cases {
        let v = ok(bits, code, |c| {
            c.gpr[RAX] = a;
            c.gpr[RDX] = d;
        });
        assert_eq!(
            (v.cpu.gpr[RAX], v.cpu.gpr[RDX]),
            (a2, d2),
            "{bits} {code:02x?}"
        );
    }
}

#[test]
fn xlat_in_each_mode() {
    // 32-bit: AL = [DS:EBX + AL].
    let v = ok(32, &[0xD7], |c| {
        put(c, DATA, &[0, 1, 2, 3, 4, 0x55]);
        c.gpr[RBX] = DATA;
        c.gpr[RAX] = 0xAABB_CC05;
    });
    assert_eq!(v.cpu.gpr[RAX], 0xAABB_CC55);
    // Real mode: BX + AL wraps at 16 bits, DS base 0x20000.
    let v = ok(0, &[0xD7], |c| {
        c.seg[SegReg::Ds as usize] = real(0x2000);
        put(c, 0x20001, &[0x77]);
        c.gpr[RBX] = 0xFFFF;
        c.gpr[RAX] = 2;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x77);
    // AL is unsigned: AL = 0x80 indexes forward.
    let v = ok(64, &[0xD7], |c| {
        put(c, DATA + 0x80, &[0x66]);
        c.gpr[RBX] = DATA;
        c.gpr[RAX] = 0x80;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x66);
    // 64-bit with an FS override, and with 67h (EBX).
    let v = ok(64, &[0x64, 0xD7], |c| {
        c.seg[SegReg::Fs as usize].base = 0x10000;
        put(c, 0x10003, &[0x33]);
        c.gpr[RBX] = 0;
        c.gpr[RAX] = 3;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x33);
    let v = ok(64, &[0x67, 0xD7], |c| {
        put(c, DATA + 1, &[0x44]);
        c.gpr[RBX] = 0xFFFF_FFFF_0000_0000 | DATA;
        c.gpr[RAX] = 1;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x44);
}

// ---------------------------------------------------------------------
// Arithmetic and logic (insn/arith.rs and the fast register forms)
// ---------------------------------------------------------------------

const ADD: u8 = 0x00;
const OR: u8 = 0x08;
const ADC: u8 = 0x10;
const SBB: u8 = 0x18;
const AND: u8 = 0x20;
const SUB: u8 = 0x28;
const XOR: u8 = 0x30;
const CMP: u8 = 0x38;
const TEST: u8 = 0x84;

/// The 64-bit encoding of `op r/m, r` at `size` with the given ModRM.
fn alu_code(op: u8, size: u8, modrm: u8) -> Vec<u8> {
    let mut code = Vec::new();
    match size {
        2 => code.push(0x66),
        8 => code.push(0x48),
        _ => {}
    }
    code.push(if size == 1 { op } else { op + 1 });
    code.push(modrm);
    code
}

/// Checks `op a, b` at `size` with CF = `cf` in, in the register form
/// (`op eax, ebx`) and the memory form (`op [rdi], ebx`): the result (the
/// destination is unchanged for CMP and TEST) and all six status flags.
/// The other status flags start as the complement of the expected ones.
fn alu(op: u8, size: u8, a: u64, b: u64, cf: bool, r: u64, f: u64) {
    let keep = op == CMP || op == TEST;
    let start = (STATUS & !f & !CF) | if cf { CF } else { 0 };
    let high = 0xDEAD_BEEF_DEAD_BEEFu64 & !crate::flags::mask(size);
    let want = if keep { a } else { r };
    let v = ok(64, &alu_code(op, size, 0xD8), |c| {
        c.gpr[RAX] = high | a;
        c.gpr[RBX] = b;
        c.rflags = (c.rflags & !STATUS) | start;
    });
    // 8/16-bit destinations merge; 32-bit ones zero-extend.
    let high_after = if size == 4 { 0 } else { high };
    let exp = if keep { high | a } else { high_after | want };
    assert_eq!(
        v.cpu.gpr[RAX], exp,
        "op {op:#x} size {size}: {a:#x}, {b:#x}"
    );
    assert_eq!(
        v.cpu.rflags & STATUS,
        f,
        "flags of op {op:#x} size {size}: {a:#x}, {b:#x}"
    );
    let v = ok(64, &alu_code(op, size, 0x1F), |c| {
        wr(c, DATA, 8, high | a);
        c.gpr[RDI] = DATA;
        c.gpr[RBX] = b;
        c.rflags = (c.rflags & !STATUS) | start;
    });
    assert_eq!(
        rd(&v.cpu, DATA, 8),
        high | want,
        "memory op {op:#x} size {size}"
    );
    assert_eq!(
        v.cpu.rflags & STATUS,
        f,
        "memory flags of op {op:#x} size {size}"
    );
}

#[test]
fn add_adc_flags_in_every_size() {
    const M: u64 = u64::MAX;
    alu(ADD, 1, 0xFF, 0x01, false, 0x00, CF | PF | AF | ZF);
    alu(ADD, 1, 0x7F, 0x01, false, 0x80, AF | SF | OF);
    alu(ADD, 2, 0x8000, 0x8000, false, 0, CF | PF | ZF | OF);
    alu(ADD, 2, 0x1234, 0x4321, false, 0x5555, PF);
    alu(ADD, 4, 0xFFFF_FFFF, 2, false, 1, CF | AF);
    alu(
        ADD,
        4,
        0x7FFF_FFFF,
        0x7FFF_FFFF,
        false,
        0xFFFF_FFFE,
        AF | SF | OF,
    );
    alu(ADD, 8, 1 << 63, M, false, M >> 1, CF | PF | OF);
    alu(ADD, 8, 1, 1, true, 2, 0);
    alu(ADC, 1, 0xFF, 0x00, true, 0x00, CF | PF | AF | ZF);
    alu(ADC, 1, 0x0F, 0x01, false, 0x10, AF);
    alu(ADC, 2, 0x7FFF, 0, true, 0x8000, PF | AF | SF | OF);
    alu(ADC, 4, 1, 1, true, 3, PF);
    alu(ADC, 8, M, M, true, M, CF | PF | AF | SF);
}

#[test]
fn sub_sbb_cmp_flags_in_every_size() {
    alu(SUB, 1, 0x00, 0x01, false, 0xFF, CF | PF | AF | SF);
    alu(SUB, 1, 0x80, 0x01, false, 0x7F, AF | OF);
    alu(SUB, 2, 5, 5, true, 0, PF | ZF);
    alu(SUB, 4, 0x8000_0000, 0x7FFF_FFFF, false, 1, AF | OF);
    alu(SUB, 8, 0, 1 << 63, false, 1 << 63, CF | PF | SF | OF);
    alu(SBB, 1, 0, 0, true, 0xFF, CF | PF | AF | SF);
    alu(SBB, 2, 0x8000, 0, true, 0x7FFF, PF | AF | OF);
    alu(SBB, 4, 5, 3, true, 1, 0);
    alu(SBB, 8, 0x10, 0x0F, true, 0, PF | AF | ZF);
    alu(SBB, 8, 0x10, 0x0F, false, 1, AF);
    alu(CMP, 1, 0x41, 0x42, false, 0xFF, CF | PF | AF | SF);
    alu(CMP, 2, 0x8000, 1, false, 0x7FFF, PF | AF | OF);
    alu(CMP, 4, 7, 7, true, 0, PF | ZF);
    alu(CMP, 8, 1, 2, false, u64::MAX, CF | PF | AF | SF);
}

#[test]
fn logic_flags_in_every_size() {
    // CF = OF = 0; AF = 0 (the documented profile for an undefined flag).
    alu(AND, 1, 0xF0, 0x0F, true, 0, PF | ZF);
    alu(
        AND,
        8,
        0x8000_0000_0000_0001,
        0x8000_0000_0000_0003,
        true,
        0x8000_0000_0000_0001,
        SF,
    );
    alu(OR, 2, 0x8000, 0x0001, true, 0x8001, SF);
    alu(OR, 4, 0, 0, false, 0, PF | ZF);
    alu(XOR, 4, 0xFFFF_FFFF, 0xFFFF_FFFF, true, 0, PF | ZF);
    alu(XOR, 1, 0x0F, 0xF0, false, 0xFF, PF | SF);
    alu(
        TEST,
        4,
        0x8000_0000,
        0x8000_0000,
        true,
        0x8000_0000,
        PF | SF,
    );
    alu(TEST, 8, 3, 3, false, 3, PF);
    alu(TEST, 2, 0x00FF, 0xFF00, true, 0, PF | ZF);
    alu(TEST, 1, 0x01, 0x03, false, 1, 0);
}

#[test]
fn alu_immediate_and_high_byte_forms() {
    // (bits, code, rax, rbx, memory qword at DATA, flags in) ->
    // (rax, rbx, memory, status flags)
    type Case = (u32, &'static [u8], u64, u64, u64, u64, u64, u64, u64, u64);
    let cases: &[Case] = &[
        // add rax, -1 (imm8 sign-extended)
        (
            64,
            &[0x48, 0x83, 0xC0, 0xFF],
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            CF | PF | AF | ZF,
        ),
        // add ax, -1
        (
            64,
            &[0x66, 0x83, 0xC0, 0xFF],
            0,
            0,
            0,
            0,
            0xFFFF,
            0,
            0,
            PF | SF,
        ),
        // add al, 0x7f
        (64, &[0x04, 0x7F], 1, 0, 0, 0, 0x80, 0, 0, AF | SF | OF),
        // add ax, 0x8000
        (
            64,
            &[0x66, 0x05, 0x00, 0x80],
            0x8000,
            0,
            0,
            0,
            0,
            0,
            0,
            CF | PF | ZF | OF,
        ),
        // add rax, imm32 sign-extended to 0xffff_ffff_8000_0000
        (
            64,
            &[0x48, 0x05, 0, 0, 0, 0x80],
            0x8000_0000,
            0,
            0,
            0,
            0,
            0,
            0,
            CF | PF | ZF,
        ),
        // add bl, ah
        (
            64,
            &[0x00, 0xE3],
            0x7F00,
            0x01,
            0,
            0,
            0x7F00,
            0x80,
            0,
            AF | SF | OF,
        ),
        // xor byte [rdi], 0xff
        (64, &[0x80, 0x37, 0xFF], 0, 0, 0x0F, 0, 0, 0, 0xF0, PF | SF),
        // sub dword [rdi], 1
        (
            64,
            &[0x83, 0x2F, 0x01],
            0,
            0,
            0x1_0000_0000,
            0,
            0,
            0,
            0x1_FFFF_FFFF,
            CF | PF | AF | SF,
        ),
        // sbb qword [rdi], imm8 -1 with CF = 1: 0 - (-1) - 1 = 0
        (
            64,
            &[0x48, 0x83, 0x1F, 0xFF],
            0,
            0,
            0,
            CF,
            0,
            0,
            0,
            CF | PF | AF | ZF,
        ),
        // test bl, 0x80
        (64, &[0xF6, 0xC3, 0x80], 0, 0x80, 0, 0, 0, 0x80, 0, SF),
        // test al, 1
        (64, &[0xA8, 0x01], 2, 0, 0, CF | OF, 2, 0, 0, PF | ZF),
        // cmp rax, imm32 sign-extended: 0 cmp -1
        (
            64,
            &[0x48, 0x3D, 0xFF, 0xFF, 0xFF, 0xFF],
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            CF | AF,
        ),
        // or eax, imm32 zero-extends
        (
            64,
            &[0x0D, 0, 0, 0, 0],
            u64::MAX,
            0,
            0,
            0,
            0xFFFF_FFFF,
            0,
            0,
            PF | SF,
        ),
        // and r9b, imm8 (REX) is a byte op on R9B
        (64, &[0x41, 0x80, 0xE1, 0x0F], 0, 0, 0, 0, 0, 0, 0, PF | ZF),
        // Real mode: 01 D8 is add ax, bx.
        (
            0,
            &[0x01, 0xD8],
            0x1_FFFF,
            1,
            0,
            0,
            0x1_0000,
            1,
            0,
            CF | PF | AF | ZF,
        ),
        // Real mode: 66 01 D8 is add eax, ebx.
        (
            0,
            &[0x66, 0x01, 0xD8],
            0x1_FFFF,
            1,
            0,
            0,
            0x2_0000,
            1,
            0,
            PF | AF,
        ),
        // 16-bit protected mode: 01 D8 is add ax, bx.
        (
            16,
            &[0x01, 0xD8],
            0x1_FFFF,
            1,
            0,
            0,
            0x1_0000,
            1,
            0,
            CF | PF | AF | ZF,
        ),
        // 32-bit: 01 D8 is add eax, ebx.
        (
            32,
            &[0x01, 0xD8],
            0x1_FFFF,
            1,
            0,
            0,
            0x2_0000,
            1,
            0,
            PF | AF,
        ),
        // 32-bit: 66 83 C0 01 is add ax, 1.
        (
            32,
            &[0x66, 0x83, 0xC0, 0x01],
            0xFFFF_FFFF,
            0,
            0,
            0,
            0xFFFF_0000,
            0,
            0,
            CF | PF | AF | ZF,
        ),
        // 32-bit: sub [edi], ebx through DS.
        (
            32,
            &[0x29, 0x1F],
            0,
            3,
            2,
            0,
            0,
            3,
            0xFFFF_FFFF,
            CF | PF | AF | SF,
        ),
    ];
    for &(bits, code, a, b, m, fin, a2, b2, m2, f) in cases {
        let v = ok(bits, code, |c| {
            c.gpr[RAX] = a;
            c.gpr[RBX] = b;
            c.gpr[RDI] = DATA;
            c.gpr[9] = 0xFF_FFF0;
            wr(c, DATA, 8, m);
            c.rflags = (c.rflags & !STATUS) | fin;
        });
        let c = &v.cpu;
        assert_eq!((c.gpr[RAX], c.gpr[RBX]), (a2, b2), "{bits} {code:02x?}");
        assert_eq!(rd(c, DATA, 8), m2, "{bits} {code:02x?}");
        assert_eq!(c.rflags & STATUS, f, "{bits} {code:02x?}");
        if code == [0x41, 0x80, 0xE1, 0x0F] {
            assert_eq!(c.gpr[9], 0xFF_FF00);
        }
    }
}

#[test]
fn inc_dec_neg_not() {
    // (bits, code, value, flags in) -> (value, status flags); the
    // operand is RAX or the qword at [rdi].
    type Case = (u32, &'static [u8], u64, u64, u64, u64);
    let cases: &[Case] = &[
        (64, &[0xFE, 0xC0], 0xFF, CF, 0x00, CF | PF | AF | ZF), // inc al
        (
            64,
            &[0x66, 0xFF, 0xC0],
            0x7FFF,
            0,
            0x8000,
            PF | AF | SF | OF,
        ), // inc ax
        (64, &[0xFF, 0xC8], 0, 0, 0xFFFF_FFFF, PF | AF | SF),   // dec eax
        (
            64,
            &[0x48, 0xFF, 0xC8],
            1 << 63,
            CF,
            (1 << 63) - 1,
            CF | PF | AF | OF,
        ), // dec rax
        (64, &[0xFF, 0xC0], 0x0F, 0, 0x10, AF),                 // inc eax
        (64, &[0xFE, 0x07], 0x1FF, 0, 0x100, PF | AF | ZF),     // inc byte [rdi]
        (64, &[0x48, 0xFF, 0x0F], 0, CF, u64::MAX, CF | PF | AF | SF), // dec qword [rdi]
        (32, &[0x40], 0xFFFF_FFFF, CF, 0, CF | PF | AF | ZF),   // inc eax (short form)
        (0, &[0x48], 0x1_0000, 0, 0x1_FFFF, PF | AF | SF),      // dec ax (short form)
        (16, &[0x40], 0xFFFF, 0, 0, PF | AF | ZF),              // inc ax (short form)
        (64, &[0xF6, 0xD8], 0x01, 0, 0xFF, CF | PF | AF | SF),  // neg al
        (64, &[0xF6, 0xD8], 0x80, 0, 0x80, CF | SF | OF),       // neg al
        (
            64,
            &[0x66, 0xF7, 0xD8],
            0xFFFF_0000,
            CF,
            0xFFFF_0000,
            PF | ZF,
        ), // neg ax
        (64, &[0xF7, 0xD8], 0x10, 0, 0xFFFF_FFF0, CF | PF | SF), // neg eax
        (
            64,
            &[0x48, 0xF7, 0xD8],
            u64::MAX >> 1,
            0,
            (1 << 63) | 1,
            CF | AF | SF,
        ), // neg rax
        (
            64,
            &[0xF7, 0x1F],
            0x1_0000_0001,
            0,
            0x1_FFFF_FFFF,
            CF | PF | AF | SF,
        ), // neg [rdi]
        (64, &[0xF6, 0xD0], 0x0F, STATUS, 0xF0, STATUS),        // not al
        (64, &[0x48, 0xF7, 0xD0], 0, 0, u64::MAX, 0),           // not rax
        (64, &[0x66, 0xF7, 0x17], 0x1_00FF, CF, 0x1_FF00, CF),  // not word [rdi]
        (32, &[0xF7, 0xD0], 0x0F0F_0F0F, 0, 0xF0F0_F0F0, 0),    // not eax
    ];
    for &(bits, code, val, fin, want, f) in cases {
        let v = ok(bits, code, |c| {
            c.gpr[RAX] = val;
            c.gpr[RDI] = DATA;
            wr(c, DATA, 8, val);
            c.rflags = (c.rflags & !STATUS) | fin;
        });
        let memory = code.len() >= 2 && code[code.len() - 1] & 0xC0 == 0;
        let got = if memory {
            rd(&v.cpu, DATA, 8)
        } else {
            v.cpu.gpr[RAX]
        };
        assert_eq!(got, want, "{bits} {code:02x?}");
        assert_eq!(v.cpu.rflags & STATUS, f, "{bits} {code:02x?}");
    }
}

#[test]
fn cmpxchg_register_and_memory() {
    // cmpxchg ecx, edx, equal: ECX <- EDX (zero-extended), RAX untouched.
    let v = ok(64, &[0x0F, 0xB1, 0xD1], |c| {
        c.gpr[RAX] = 0xFFFF_FFFF_0000_0005;
        c.gpr[RCX] = 0xEEEE_EEEE_0000_0005;
        c.gpr[RDX] = 0x77;
    });
    assert_eq!(v.cpu.gpr[RCX], 0x77);
    assert_eq!(v.cpu.gpr[RAX], 0xFFFF_FFFF_0000_0005);
    assert_eq!(v.cpu.rflags & STATUS, PF | ZF);
    // Unequal: EAX <- ECX (zero-extended); the register destination is not
    // written. Flags of CMP EAX, ECX: 3 - 5.
    let v = ok(64, &[0x0F, 0xB1, 0xD1], |c| {
        c.gpr[RAX] = 0xFFFF_FFFF_0000_0003;
        c.gpr[RCX] = 0xEEEE_EEEE_0000_0005;
        c.gpr[RDX] = 0x77;
    });
    assert_eq!(v.cpu.gpr[RAX], 5);
    assert_eq!(v.cpu.gpr[RCX], 0xEEEE_EEEE_0000_0005);
    assert_eq!(v.cpu.rflags & STATUS, CF | AF | SF);
    // Byte memory, equal then unequal.
    let v = ok(64, &[0x0F, 0xB0, 0x1F], |c| {
        c.gpr[RAX] = 0x10;
        c.gpr[RBX] = 0x20;
        c.gpr[RDI] = DATA;
        put(c, DATA, &[0x10]);
    });
    assert_eq!(mem(&v.cpu, DATA, 1), vec![0x20]);
    assert_eq!(v.cpu.rflags & STATUS, PF | ZF);
    let v = ok(64, &[0x0F, 0xB0, 0x1F], |c| {
        c.gpr[RAX] = 0xAB10;
        c.gpr[RBX] = 0x30;
        c.gpr[RDI] = DATA;
        put(c, DATA, &[0x20]);
    });
    assert_eq!(mem(&v.cpu, DATA, 1), vec![0x20]);
    assert_eq!(v.cpu.gpr[RAX], 0xAB20);
    assert_eq!(v.cpu.rflags & STATUS, CF | PF | SF);
    // Word memory, equal: AX's upper bits stay.
    let v = ok(64, &[0x66, 0x0F, 0xB1, 0x1F], |c| {
        c.gpr[RAX] = 0xAAAA_1234;
        c.gpr[RBX] = 0x5678;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 2, 0x1234);
    });
    assert_eq!(rd(&v.cpu, DATA, 2), 0x5678);
    assert_eq!(v.cpu.gpr[RAX], 0xAAAA_1234);
    // Qword memory, unequal.
    let v = ok(64, &[0x48, 0x0F, 0xB1, 0x1F], |c| {
        c.gpr[RAX] = 1;
        c.gpr[RBX] = 9;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 8, 2);
    });
    assert_eq!(v.cpu.gpr[RAX], 2);
    assert_eq!(rd(&v.cpu, DATA, 8), 2);
    assert_eq!(v.cpu.rflags & STATUS, CF | PF | AF | SF);
    // The memory operand is always written (SDM CMPXCHG): a read-only data
    // segment faults even when the comparison fails, and nothing changes.
    faults(32, &[0x0F, 0xB1, 0x1F], Exception::GP(0), DATA, |c| {
        c.seg[SegReg::Ds as usize].attr &= !attr::RW;
        c.gpr[RAX] = 1;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 4, 2);
    });
    // 32-bit code: cmpxchg [edi], ebx equal.
    let v = ok(32, &[0x0F, 0xB1, 0x1F], |c| {
        c.gpr[RAX] = 0x1234_5678;
        c.gpr[RBX] = 0x9ABC_DEF0;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 4, 0x1234_5678);
    });
    assert_eq!(rd(&v.cpu, DATA, 4), 0x9ABC_DEF0);
    assert_eq!(v.cpu.rflags & ZF, ZF);
}

#[test]
fn cmpxchg8b_and_16b() {
    // 32-bit: cmpxchg8b [edi], equal: ECX:EBX stored, ZF = 1, CF untouched.
    let setup = |c: &mut Cpu, m: u64| {
        c.gpr[RDX] = 0x1111_1111;
        c.gpr[RAX] = 0x2222_2222;
        c.gpr[RCX] = 0x3333_3333;
        c.gpr[RBX] = 0x4444_4444;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 8, m);
        c.rflags |= CF;
    };
    let v = ok(32, &[0x0F, 0xC7, 0x0F], |c| setup(c, 0x1111_1111_2222_2222));
    assert_eq!(rd(&v.cpu, DATA, 8), 0x3333_3333_4444_4444);
    assert_eq!(v.cpu.rflags & (ZF | CF), ZF | CF);
    assert_eq!((v.cpu.gpr[RDX], v.cpu.gpr[RAX]), (0x1111_1111, 0x2222_2222));
    // Unequal: EDX:EAX loaded, ZF = 0, memory unchanged.
    let v = ok(32, &[0x0F, 0xC7, 0x0F], |c| {
        setup(c, 0x5555_5555_6666_6666);
        c.rflags |= ZF;
    });
    assert_eq!(rd(&v.cpu, DATA, 8), 0x5555_5555_6666_6666);
    assert_eq!((v.cpu.gpr[RDX], v.cpu.gpr[RAX]), (0x5555_5555, 0x6666_6666));
    assert_eq!(v.cpu.rflags & (ZF | CF), CF);
    // 64-bit mode, unequal: the 32-bit loads zero-extend RDX and RAX.
    let v = ok(64, &[0x0F, 0xC7, 0x0F], |c| {
        setup(c, 0x5555_5555_6666_6666);
        c.gpr[RDX] |= 0xFFFF_FFFF << 32;
        c.gpr[RAX] |= 0xFFFF_FFFF << 32;
    });
    assert_eq!((v.cpu.gpr[RDX], v.cpu.gpr[RAX]), (0x5555_5555, 0x6666_6666));
    // cmpxchg16b [rdi]: equal and unequal.
    let setup16 = |c: &mut Cpu, lo: u64, hi: u64, at: u64| {
        c.gpr[RAX] = 0x1111;
        c.gpr[RDX] = 0x2222;
        c.gpr[RBX] = 0x3333;
        c.gpr[RCX] = 0x4444;
        c.gpr[RDI] = at;
        wr(c, at, 8, lo);
        wr(c, at + 8, 8, hi);
    };
    let v = ok(64, &[0x48, 0x0F, 0xC7, 0x0F], |c| {
        setup16(c, 0x1111, 0x2222, DATA)
    });
    assert_eq!(
        (rd(&v.cpu, DATA, 8), rd(&v.cpu, DATA + 8, 8)),
        (0x3333, 0x4444)
    );
    assert_eq!(v.cpu.rflags & ZF, ZF);
    let v = ok(64, &[0x48, 0x0F, 0xC7, 0x0F], |c| {
        setup16(c, 0x1111, 0x9999, DATA)
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RDX]), (0x1111, 0x9999));
    assert_eq!(
        (rd(&v.cpu, DATA, 8), rd(&v.cpu, DATA + 8, 8)),
        (0x1111, 0x9999)
    );
    assert_eq!(v.cpu.rflags & ZF, 0);
    // A 16-byte operand that is not 16-byte aligned: #GP(0), no change.
    faults(64, &[0x48, 0x0F, 0xC7, 0x0F], Exception::GP(0), DATA, |c| {
        setup16(c, 0x1111, 0x2222, DATA + 8);
    });
}

#[test]
fn xadd_forms() {
    let v = ok(64, &[0x0F, 0xC1, 0xD8], |c| {
        c.gpr[RAX] = 0xFFFF_FFFF_0000_0001;
        c.gpr[RBX] = 0xFFFF_FFFF_0000_0002;
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RBX]), (3, 1));
    assert_eq!(v.cpu.rflags & STATUS, PF);
    // xadd eax, eax ends with the sum.
    let v = ok(64, &[0x0F, 0xC1, 0xC0], |c| c.gpr[RAX] = 5);
    assert_eq!(v.cpu.gpr[RAX], 10);
    let v = ok(64, &[0x0F, 0xC0, 0x1F], |c| {
        c.gpr[RBX] = 1;
        c.gpr[RDI] = DATA;
        put(c, DATA, &[0x7F]);
    });
    assert_eq!(mem(&v.cpu, DATA, 1), vec![0x80]);
    assert_eq!(v.cpu.gpr[RBX], 0x7F);
    assert_eq!(v.cpu.rflags & STATUS, AF | SF | OF);
    let v = ok(64, &[0x48, 0x0F, 0xC1, 0x1F], |c| {
        c.gpr[RBX] = 1;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 8, u64::MAX);
    });
    assert_eq!(rd(&v.cpu, DATA, 8), 0);
    assert_eq!(v.cpu.gpr[RBX], u64::MAX);
    assert_eq!(v.cpu.rflags & STATUS, CF | PF | AF | ZF);
    let v = ok(32, &[0x66, 0x0F, 0xC1, 0xD8], |c| {
        c.gpr[RAX] = 0xAAAA_FFFF;
        c.gpr[RBX] = 0xBBBB_0001;
    });
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RBX]), (0xAAAA_0000, 0xBBBB_FFFF));
    assert_eq!(v.cpu.rflags & STATUS, CF | PF | AF | ZF);
}

// ---------------------------------------------------------------------
// Control transfers (insn/control.rs)
// ---------------------------------------------------------------------

/// Writes each `(offset, bytes)` piece (CS base is 0) and runs from the
/// first piece's offset.
fn parts(bits: u32, pieces: &[(u64, &[u8])], setup: impl FnOnce(&mut Cpu)) -> (Exit, Vcpu) {
    let mut v = machine(bits);
    setup(&mut v.cpu);
    for (at, bytes) in pieces {
        v.cpu.mmu.phys.write(*at, bytes);
    }
    v.cpu.rip = pieces[0].0;
    let exit = v.run(Limit::instructions(10_000));
    (exit, v)
}

#[test]
fn jmp_wraps_ip_with_16_bit_operand_size() {
    // Real mode: jmp short from 0xFFF0 to 0xFFF2 + 0x20 = 0x0012 (IP is
    // 16 bits: SDM JMP "tempEIP AND 0000FFFFH").
    let (exit, v) = parts(
        0,
        &[(0xFFF0, &[0xEB, 0x20]), (0x12, &[0xB0, 0x01, 0xF4])],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!((v.cpu.rip, v.cpu.gpr[RAX] & 0xFF), (0x15, 1));
    // 32-bit code, 66 E9 rel16: 0x1004 - 0x2000 wraps to 0xF004.
    let (exit, v) = parts(
        32,
        &[
            (CODE, &[0x66, 0xE9, 0x00, 0xE0]),
            (0xF004, &[0xB0, 0x02, 0xF4]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!((v.cpu.rip, v.cpu.gpr[RAX] & 0xFF), (0xF007, 2));
    // Indirect: jmp ax in real mode, jmp [edi] (4 bytes), 66 jmp [edi]
    // (2 bytes), jmp [rdi] (8 bytes) and jmp rax; the bytes above the
    // operand would send a too-wide read elsewhere.
    let target = CODE + 0x100;
    for (bits, code, width) in [
        (0, &[0xFF, 0xE0][..], 2u32),
        (32, &[0xFF, 0x27][..], 4),
        (32, &[0x66, 0xFF, 0x27][..], 2),
        (32, &[0xFF, 0xE0][..], 4),
        (64, &[0xFF, 0x27][..], 8),
        (64, &[0xFF, 0xE0][..], 8),
    ] {
        let junk = if width == 8 {
            0
        } else {
            0x0101_0101_0101_0101u64 << (8 * width)
        };
        let (exit, v) = parts(bits, &[(CODE, code), (target, &[0xB0, 0x03, 0xF4])], |c| {
            c.gpr[RAX] = junk | target;
            c.gpr[RDI] = DATA;
            wr(c, DATA, 8, junk | target);
        });
        assert_eq!(exit, Exit::Hlt, "{bits} {code:02x?}");
        assert_eq!(v.cpu.gpr[RAX] & 0xFF, 3, "{bits} {code:02x?}");
        assert_eq!(v.cpu.rip, target + 3);
    }
}

#[test]
fn branch_target_checks_fault_before_anything_changes() {
    // Beyond the CS limit (32-bit): jmp, call, jcc, loop; nothing pushed.
    for code in [
        &[0xE9, 0x00, 0x20, 0x00, 0x00][..],       // jmp +0x2000
        &[0xE8, 0x00, 0x20, 0x00, 0x00][..],       // call +0x2000
        &[0x0F, 0x84, 0x00, 0x20, 0x00, 0x00][..], // je +0x2000 (ZF = 1)
        &[0xE2, 0x7F][..],                         // loop (ECX = 2)
        &[0xFF, 0xD0][..],                         // call eax
    ] {
        faults(32, code, Exception::GP(0), STACK - 16, |c| {
            c.seg[SegReg::Cs as usize].limit = 0x107F;
            c.rflags |= ZF;
            c.gpr[RCX] = 2;
            c.gpr[RAX] = 0x2000;
        });
    }
    // 64-bit: non-canonical targets of jmp rax, call rax and ret.
    for code in [&[0xFF, 0xE0][..], &[0xFF, 0xD0][..], &[0xC3][..]] {
        faults(64, code, Exception::GP(0), STACK - 16, |c| {
            c.gpr[RAX] = 0x0000_8000_0000_0000;
            wr(c, STACK, 8, 0x0000_8000_0000_0000);
        });
    }
}

#[test]
fn jcc_all_conditions_short_and_near() {
    for cc in 0..16u8 {
        for f in PATTERNS {
            let taken = cond(cc, f);
            // jcc +2 over "mov al, 1": AL stays 0 when taken.
            for (bits, code) in [
                (64, vec![0x70 + cc, 0x02, 0xB0, 0x01]),
                (32, vec![0x0F, 0x80 + cc, 0x02, 0, 0, 0, 0xB0, 0x01]),
                (0, vec![0x0F, 0x80 + cc, 0x02, 0, 0xB0, 0x01]),
            ] {
                let v = ok(bits, &code, |c| c.rflags |= f);
                assert_eq!(
                    v.cpu.gpr[RAX] & 0xFF,
                    !taken as u64,
                    "j{cc:x} {f:#x} {bits}"
                );
            }
        }
    }
}

#[test]
fn jcxz_jecxz_jrcxz_use_their_own_counter() {
    // (bits, code, rcx, taken)
    let cases: &[(u32, &[u8], u64, bool)] = &[
        (0, &[0xE3, 0x02], 0x1_0000, true),        // jcxz: CX = 0
        (0, &[0x67, 0xE3, 0x02], 0x1_0000, false), // jecxz: ECX != 0
        (0, &[0x67, 0xE3, 0x02], 0, true),
        (16, &[0xE3, 0x02], 0x1_0000, true),
        (32, &[0xE3, 0x02], 0x1_0000, false), // jecxz
        (32, &[0xE3, 0x02], 0x1_0000_0000, true),
        (32, &[0x67, 0xE3, 0x02], 0x1_0000, true), // jcxz
        (32, &[0x67, 0xE3, 0x02], 0x1_0001, false),
        (64, &[0xE3, 0x02], 0x1_0000_0000, false), // jrcxz
        (64, &[0xE3, 0x02], 0, true),
        (64, &[0x67, 0xE3, 0x02], 0x1_0000_0000, true), // jecxz
        (64, &[0x67, 0xE3, 0x02], 0x1_0001_0000, false),
    ];
    for &(bits, code, rcx, taken) in cases {
        let mut bytes = code.to_vec();
        bytes.extend_from_slice(&[0xB0, 0x01]);
        let v = ok(bits, &bytes, |c| c.gpr[RCX] = rcx);
        assert_eq!(
            v.cpu.gpr[RAX] & 0xFF,
            !taken as u64,
            "{bits} {code:02x?} rcx={rcx:#x}"
        );
        assert_eq!(v.cpu.gpr[RCX], rcx, "J*CXZ does not change the counter");
    }
}

#[test]
fn loop_counters_by_address_size() {
    // "loop $": runs until the counter is 0; the upper bits stay.
    let v = ok(0, &[0xE2, 0xFE], |c| c.gpr[RCX] = 0xABCD_0005);
    assert_eq!(v.cpu.gpr[RCX], 0xABCD_0000);
    assert_eq!(v.cpu.instructions, 6);
    let v = ok(32, &[0x67, 0xE2, 0xFD], |c| c.gpr[RCX] = 0xABCD_0003);
    assert_eq!(v.cpu.gpr[RCX], 0xABCD_0000);
    let v = ok(32, &[0xE2, 0xFE], |c| c.gpr[RCX] = 3);
    assert_eq!(v.cpu.gpr[RCX], 0);
    let v = ok(16, &[0xE2, 0xFE], |c| c.gpr[RCX] = 0x1_0002);
    assert_eq!(v.cpu.gpr[RCX], 0x1_0000);
    // One step: (bits, code, rcx, zf, rcx after, taken)
    type Case = (u32, &'static [u8], u64, bool, u64, bool);
    let cases: &[Case] = &[
        (64, &[0xE2, 0x02], 0x1_0000_0001, false, 0x1_0000_0000, true), // loop: RCX
        (64, &[0x67, 0xE2, 0x02], 0x1_0000_0001, false, 0, false),      // loop: ECX
        (64, &[0xE2, 0x02], 1, false, 0, false),
        (64, &[0xE2, 0x02], 0, false, u64::MAX, true),
        (32, &[0xE2, 0x02], 0, false, 0xFFFF_FFFF, true),
        (0, &[0xE2, 0x02], 0x1_0000, false, 0x1_FFFF, true),
        (64, &[0xE1, 0x02], 2, true, 1, true), // loope, ZF = 1
        (64, &[0xE1, 0x02], 2, false, 1, false), // loope, ZF = 0
        (64, &[0xE1, 0x02], 1, true, 0, false), // loope, count ends
        (64, &[0xE0, 0x02], 2, false, 1, true), // loopne, ZF = 0
        (64, &[0xE0, 0x02], 2, true, 1, false), // loopne, ZF = 1
        (0, &[0xE0, 0x02], 0xFFFF_0002, false, 0xFFFF_0001, true),
        (
            32,
            &[0x67, 0xE1, 0x02],
            0xFFFF_0001,
            true,
            0xFFFF_0000,
            false,
        ),
    ];
    for &(bits, code, rcx, zf, after, taken) in cases {
        let mut bytes = code.to_vec();
        bytes.extend_from_slice(&[0xB0, 0x01]);
        let v = ok(bits, &bytes, |c| {
            c.gpr[RCX] = rcx;
            if zf {
                c.rflags |= ZF;
            }
        });
        assert_eq!(v.cpu.gpr[RCX], after, "{bits} {code:02x?}");
        assert_eq!(v.cpu.gpr[RAX] & 0xFF, !taken as u64, "{bits} {code:02x?}");
        assert_eq!(v.cpu.rflags & ZF != 0, zf, "LOOPcc leaves the flags");
    }
}

#[test]
fn call_and_ret_in_each_mode() {
    let sub = CODE + 0x20;
    // 64-bit: call rel32 pushes 8 bytes; the callee reads its return
    // address (mov rbx, [rsp]) and returns.
    let (exit, v) = parts(
        64,
        &[
            (CODE, &[0xE8, 0x1B, 0, 0, 0, 0xF4]),
            (sub, &[0x48, 0x8B, 0x1C, 0x24, 0x48, 0x89, 0xE1, 0xC3]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(v.cpu.gpr[RBX], CODE + 5);
    assert_eq!(v.cpu.gpr[RCX], STACK - 8);
    assert_eq!(v.cpu.gpr[RSP], STACK);
    // 32-bit: 4 bytes.
    let (exit, v) = parts(
        32,
        &[
            (CODE, &[0xE8, 0x1B, 0, 0, 0, 0xF4]),
            (sub, &[0x8B, 0x1C, 0x24, 0x89, 0xE1, 0xC3]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!((v.cpu.gpr[RBX], v.cpu.gpr[RCX]), (CODE + 5, STACK - 4));
    assert_eq!(v.cpu.gpr[RSP], STACK);
    // Real mode: 2 bytes, SP wraps from 0 to 0xFFFE in SS = 0x3000.
    let (exit, v) = parts(
        0,
        &[
            (CODE, &[0xE8, 0x1D, 0x00, 0xF4]),
            (sub, &[0x5B, 0x53, 0x89, 0xE1, 0xC3]),
        ],
        |c| {
            c.seg[SegReg::Ss as usize] = real(0x3000);
            c.gpr[RSP] = 0xABCD_0000;
        },
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(v.cpu.gpr[RBX] & 0xFFFF, CODE + 3);
    assert_eq!(v.cpu.gpr[RCX] & 0xFFFF, 0xFFFE);
    assert_eq!(rd(&v.cpu, 0x3FFFE, 2), CODE + 3);
    assert_eq!(v.cpu.gpr[RSP], 0xABCD_0000);
    // 32-bit code, 66 E8 rel16: a 16-bit call pushes IP (2 bytes) and
    // 66 C3 returns with a 16-bit pop.
    let (exit, v) = parts(
        32,
        &[
            (CODE, &[0x66, 0xE8, 0x1C, 0x00, 0xF4]),
            (sub, &[0x89, 0xE1, 0x66, 0xC3]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(v.cpu.gpr[RCX], STACK - 2);
    assert_eq!(rd(&v.cpu, STACK - 2, 2), CODE + 4);
    assert_eq!(v.cpu.gpr[RSP], STACK);
    // 16-bit protected mode: 2-byte push; 66 E8 rel32 pushes 4 bytes and
    // 66 C3 pops 4.
    let (exit, v) = parts(
        16,
        &[
            (CODE, &[0xE8, 0x1D, 0x00, 0xF4]),
            (sub, &[0x89, 0xE1, 0xC3]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(
        (v.cpu.gpr[RCX], rd(&v.cpu, STACK - 2, 2)),
        (STACK - 2, CODE + 3)
    );
    assert_eq!(v.cpu.gpr[RSP], STACK);
    let (exit, v) = parts(
        16,
        &[
            (CODE, &[0x66, 0xE8, 0x1A, 0, 0, 0, 0xF4]),
            (sub, &[0x89, 0xE1, 0x66, 0xC3]),
        ],
        |_| {},
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(
        (v.cpu.gpr[RCX], rd(&v.cpu, STACK - 4, 4)),
        (STACK - 4, CODE + 6)
    );
    assert_eq!((v.cpu.gpr[RSP], v.cpu.rip), (STACK, CODE + 7));
    // A call whose push faults changes nothing (RIP stays at the call).
    faults(32, &[0xE8, 0x1B, 0, 0, 0], Exception::SS(0), 0xFE0, |c| {
        c.seg[SegReg::Ss as usize].limit = 0xFFF;
        c.gpr[RSP] = 0x1002;
    });
    faults(32, &[0xFF, 0x37], Exception::SS(0), 0xFE0, |c| {
        c.seg[SegReg::Ss as usize].limit = 0xFFF;
        c.gpr[RSP] = 0x1002;
        c.gpr[RDI] = DATA;
    });
    // RET imm16 releases the arguments.
    for bits in [64, 32, 0] {
        let call = if bits == 0 {
            vec![0xE8, 0x1D, 0x00, 0xF4]
        } else {
            vec![0xE8, 0x1B, 0, 0, 0, 0xF4]
        };
        let (exit, v) = parts(bits, &[(CODE, &call), (sub, &[0xC2, 0x08, 0x00])], |_| {});
        assert_eq!(exit, Exit::Hlt);
        assert_eq!(v.cpu.gpr[RSP], STACK + 8, "{bits}");
    }
    // Indirect calls: call rax, call [rdi], real-mode call ax, 66 call eax
    // in 32-bit code (16-bit target and push).
    for (bits, code, ret_at, width) in [
        (64, &[0xFF, 0xD0][..], CODE + 2, 8u64),
        (64, &[0xFF, 0x17][..], CODE + 2, 8),
        (0, &[0xFF, 0xD0][..], CODE + 2, 2),
        (32, &[0x66, 0xFF, 0xD0][..], CODE + 3, 2),
        (32, &[0xFF, 0x17][..], CODE + 2, 4),
    ] {
        let (exit, v) = parts(bits, &[(CODE, code), (sub, &[0xF4])], |c| {
            c.gpr[RAX] = if bits == 64 { sub } else { 0xFFFF_0000 | sub };
            c.gpr[RDI] = DATA;
            wr(c, DATA, 8, sub);
        });
        assert_eq!(exit, Exit::Hlt, "{bits} {code:02x?}");
        assert_eq!(v.cpu.rip, sub + 1);
        assert_eq!(v.cpu.gpr[RSP] & 0xFFFF_FFFF, STACK - width);
        assert_eq!(rd(&v.cpu, STACK - width, width as usize), ret_at);
    }
    // A 16-bit stack (SS.B = 0) in 32-bit code: the push wraps SP and
    // keeps the upper half of ESP.
    let (exit, v) = parts(
        32,
        &[
            (CODE, &[0xE8, 0x1B, 0, 0, 0, 0xF4]),
            (sub, &[0x89, 0xE1, 0xC3]),
        ],
        |c| {
            c.seg[SegReg::Ss as usize].attr &= !attr::DB;
            c.gpr[RSP] = 0xABCD_0002;
        },
    );
    assert_eq!(exit, Exit::Hlt);
    assert_eq!(v.cpu.gpr[RCX], 0xABCD_FFFE);
    assert_eq!(rd(&v.cpu, 0xFFFE, 4), CODE + 5);
    assert_eq!(v.cpu.gpr[RSP], 0xABCD_0002);
}

// ---------------------------------------------------------------------
// Stack (insn/stack.rs)
// ---------------------------------------------------------------------

#[test]
fn push_immediate_width_by_mode() {
    // (bits, code, bytes pushed, value)
    let cases: &[(u32, &[u8], u64, u64)] = &[
        (64, &[0x6A, 0xFF], 8, u64::MAX), // push -1
        (
            64,
            &[0x68, 0x00, 0x00, 0x00, 0x80],
            8,
            0xFFFF_FFFF_8000_0000,
        ), // push imm32
        (64, &[0x66, 0x6A, 0x80], 2, 0xFF80), // pushw -128
        (64, &[0x66, 0x68, 0x34, 0x12], 2, 0x1234),
        (32, &[0x6A, 0x80], 4, 0xFFFF_FF80),
        (32, &[0x68, 0x78, 0x56, 0x34, 0x12], 4, 0x1234_5678),
        (32, &[0x66, 0x6A, 0xFF], 2, 0xFFFF),
        (16, &[0x6A, 0xFF], 2, 0xFFFF),
        (0, &[0x6A, 0x7F], 2, 0x7F),
        (0, &[0x68, 0x34, 0x12], 2, 0x1234),
        (0, &[0x66, 0x6A, 0xFF], 4, 0xFFFF_FFFF),
    ];
    for &(bits, code, n, val) in cases {
        let v = ok(bits, code, |c| wr(c, STACK - 8, 8, 0x5555_5555_5555_5555));
        assert_eq!(v.cpu.gpr[RSP], STACK - n, "{bits} {code:02x?}");
        assert_eq!(rd(&v.cpu, STACK - n, n as usize), val, "{bits} {code:02x?}");
    }
}

#[test]
fn push_pop_registers_and_memory() {
    // 64-bit: push [rdi]; pop [rdi+8]; push ax (66 50); pop bx (66 5B).
    let v = ok(
        64,
        &[0xFF, 0x37, 0x8F, 0x47, 0x08, 0x66, 0x50, 0x66, 0x5B],
        |c| {
            c.gpr[RDI] = DATA;
            c.gpr[RAX] = 0x1234;
            c.gpr[RBX] = 0xFFFF_FFFF_FFFF_0000;
            wr(c, DATA, 8, 0x1122_3344_5566_7788);
        },
    );
    assert_eq!(rd(&v.cpu, DATA + 8, 8), 0x1122_3344_5566_7788);
    assert_eq!(v.cpu.gpr[RBX], 0xFFFF_FFFF_FFFF_1234);
    assert_eq!(v.cpu.gpr[RSP], STACK);
    // 32-bit: push word [edi] (66 FF 37) moves ESP by 2.
    let v = ok(32, &[0x66, 0xFF, 0x37], |c| {
        c.gpr[RDI] = DATA;
        wr(c, DATA, 4, 0xAABB_CCDD);
    });
    assert_eq!(v.cpu.gpr[RSP], STACK - 2);
    assert_eq!(rd(&v.cpu, STACK - 2, 2), 0xCCDD);
    // POP with an RSP-based destination uses RSP after the increment
    // (SDM POP): pop qword [rsp+8] stores at old RSP + 16.
    let v = ok(64, &[0x8F, 0x44, 0x24, 0x08], |c| wr(c, STACK, 8, 0xABCD));
    assert_eq!(v.cpu.gpr[RSP], STACK + 8);
    assert_eq!(rd(&v.cpu, STACK + 16, 8), 0xABCD);
    assert_eq!(rd(&v.cpu, STACK + 8, 8), 0);
    let v = ok(32, &[0x8F, 0x44, 0x24, 0x04], |c| wr(c, STACK, 4, 0xABCD));
    assert_eq!(v.cpu.gpr[RSP], STACK + 4);
    assert_eq!(rd(&v.cpu, STACK + 8, 4), 0xABCD);
    // PUSH with an RSP-based source reads before the decrement.
    let v = ok(64, &[0xFF, 0x34, 0x24], |c| wr(c, STACK, 8, 0x4242));
    assert_eq!(rd(&v.cpu, STACK - 8, 8), 0x4242);
    // PUSH RSP pushes the value before the push; POP RSP loads the
    // popped value.
    for bits in [64, 32, 0] {
        let width = match bits {
            64 => 8,
            32 => 4,
            _ => 2,
        };
        let v = ok(bits, &[0x54], |_| {});
        assert_eq!(rd(&v.cpu, STACK - width, width as usize), STACK, "{bits}");
        let v = ok(bits, &[0x5C], |c| wr(c, STACK, 8, 0x1234));
        assert_eq!(v.cpu.gpr[RSP], 0x1234, "{bits}");
    }
    // Real mode: push with SP = 0 wraps to 0xFFFE in SS; pop wraps back.
    let v = ok(0, &[0x50, 0x89, 0xE1, 0x5B], |c| {
        c.seg[SegReg::Ss as usize] = real(0x3000);
        c.gpr[RSP] = 0x7777_0000;
        c.gpr[RAX] = 0xBEEF;
    });
    assert_eq!(rd(&v.cpu, 0x3FFFE, 2), 0xBEEF);
    assert_eq!(v.cpu.gpr[RCX] & 0xFFFF, 0xFFFE);
    assert_eq!(v.cpu.gpr[RBX], 0xBEEF);
    assert_eq!(v.cpu.gpr[RSP], 0x7777_0000);
    // A faulting POP to memory leaves RSP (and everything else) alone.
    faults(64, &[0x8F, 0x07], Exception::GP(0), STACK, |c| {
        c.gpr[RDI] = 0x0000_8000_0000_0000;
        wr(c, STACK, 8, 5);
    });
    // Non-canonical RSP: #SS(0).
    faults(64, &[0x50], Exception::SS(0), DATA, |c| {
        c.gpr[RSP] = 0x0000_8000_0000_0008
    });
}

#[test]
fn pusha_popa() {
    let regs = |c: &mut Cpu| {
        for (k, r) in c.gpr.iter_mut().enumerate().take(8) {
            if k != RSP {
                *r = 0x1111_1111 * (k as u64 + 1);
            }
        }
    };
    // PUSHAD: EAX, ECX, EDX, EBX, original ESP, EBP, ESI, EDI.
    let v = ok(32, &[0x60], regs);
    let order = [RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI];
    for (n, r) in order.iter().enumerate() {
        let want = if *r == RSP {
            STACK
        } else {
            0x1111_1111 * (*r as u64 + 1)
        };
        assert_eq!(rd(&v.cpu, STACK - 4 * (n as u64 + 1), 4), want, "slot {n}");
    }
    assert_eq!(v.cpu.gpr[RSP], STACK - 32);
    // POPAD after clobbering: everything but ESP comes back.
    let v = ok(
        32,
        &[0x60, 0x31, 0xC0, 0x31, 0xDB, 0x31, 0xED, 0x31, 0xFF, 0x61],
        regs,
    );
    for r in [RAX, RCX, RDX, RBX, RBP, RSI, RDI] {
        assert_eq!(v.cpu.gpr[r], 0x1111_1111 * (r as u64 + 1));
    }
    assert_eq!(v.cpu.gpr[RSP], STACK);
    // POPAD ignores the stored ESP.
    let v = ok(32, &[0x61], |c| {
        for k in 0..8 {
            wr(c, STACK + 4 * k, 4, 0x100 + k);
        }
    });
    assert_eq!(v.cpu.gpr[RDI], 0x100);
    assert_eq!(v.cpu.gpr[RSI], 0x101);
    assert_eq!(v.cpu.gpr[RBP], 0x102);
    assert_eq!(v.cpu.gpr[RSP], STACK + 32);
    assert_eq!(v.cpu.gpr[RBX], 0x104);
    assert_eq!(v.cpu.gpr[RAX], 0x107);
    // Real mode PUSHA (16-bit) and 66 60 in 32-bit code.
    for (bits, code) in [(0, &[0x60][..]), (32, &[0x66, 0x60][..])] {
        let v = ok(bits, code, regs);
        for (n, r) in order.iter().enumerate() {
            let want = if *r == RSP {
                STACK
            } else {
                0x1111 * (*r as u64 + 1)
            };
            assert_eq!(
                rd(&v.cpu, STACK - 2 * (n as u64 + 1), 2),
                want,
                "{bits} slot {n}"
            );
        }
        assert_eq!(v.cpu.gpr[RSP], STACK - 16);
    }
    // 16-bit POPA keeps the upper halves.
    let v = ok(0, &[0x61], |c| {
        c.gpr[RAX] = 0xAAAA_0000;
        for k in 0..8 {
            wr(c, STACK + 2 * k, 2, 0x100 + k);
        }
    });
    assert_eq!(v.cpu.gpr[RAX], 0xAAAA_0107);
    // PUSHA does not exist in 64-bit mode.
    faults(64, &[0x60], Exception::UD, STACK - 32, |_| {});
    // A PUSHAD that would cross the SS limit faults before writing.
    faults(32, &[0x60], Exception::SS(0), STACK - 32, |c| {
        c.seg[SegReg::Ss as usize].limit = STACK as u32 - 0x1000;
        c.gpr[RSP] = STACK - 0x1000 + 16;
    });
}

#[test]
fn pushf_popf_privilege_rules() {
    // PUSHF images: RF and VM read as 0.
    let rf = Rflags::RF.bits();
    for (bits, code, width) in [
        (64, &[0x9C][..], 8u64),
        (32, &[0x9C][..], 4),
        (32, &[0x66, 0x9C][..], 2),
        (0, &[0x9C][..], 2),
        (16, &[0x9C][..], 2),
    ] {
        let v = ok(bits, code, |c| c.rflags |= CF | IF | rf | Rflags::AC.bits());
        let want = (0x2 | CF | IF | Rflags::AC.bits()) & crate::flags::mask(width as u8);
        assert_eq!(v.cpu.gpr[RSP], STACK - width, "{bits} {code:02x?}");
        assert_eq!(
            rd(&v.cpu, STACK - width, width as usize),
            want,
            "{bits} {code:02x?}"
        );
    }
    // CPL 0: POPFD changes IOPL and IF.
    let v = ok(32, &[0x9D], |c| wr(c, STACK, 4, IOPL | IF | CF | DF | OF));
    assert_eq!(
        v.cpu.rflags & (IOPL | IF | CF | DF | OF),
        IOPL | IF | CF | DF | OF
    );
    assert_eq!(v.cpu.gpr[RSP], STACK + 4);
    // CPL 3, IOPL 0: IF and IOPL are silently kept, the rest changes.
    let v = user(32, &[0x9D], |c| {
        c.rflags |= IF;
        wr(c, STACK, 4, IOPL | CF | ZF);
    });
    assert_eq!(v.cpu.rflags & (IOPL | IF | CF | ZF), IF | CF | ZF);
    // CPL 3, IOPL 3: IF changes, IOPL does not.
    let v = user(32, &[0x9D], |c| {
        c.rflags |= IF | IOPL;
        wr(c, STACK, 4, SF);
    });
    assert_eq!(v.cpu.rflags & (IOPL | IF | SF), IOPL | SF);
    // 64-bit POPFQ at CPL 0: VM, VIF, VIP unaffected, RF cleared; AC and
    // ID writable; reserved bits stay 0, bit 1 stays 1.
    let high = Rflags::VM.bits() | Rflags::VIF.bits() | Rflags::VIP.bits() | rf;
    let v = ok(64, &[0x9D], |c| {
        wr(
            c,
            STACK,
            8,
            high | Rflags::AC.bits() | Rflags::ID.bits() | (1 << 3) | (1 << 40),
        );
    });
    assert_eq!(v.cpu.rflags, 0x2 | Rflags::AC.bits() | Rflags::ID.bits());
    // 16-bit POPF in 32-bit code only loads bits 15:0.
    let v = ok(32, &[0x66, 0x9D], |c| {
        c.rflags |= Rflags::AC.bits();
        wr(c, STACK, 4, 0xFFFF_0000 | CF);
    });
    assert_eq!(
        v.cpu.rflags & (Rflags::AC.bits() | CF),
        Rflags::AC.bits() | CF
    );
    assert_eq!(v.cpu.gpr[RSP], STACK + 2);
    // Real mode: POPF sets IOPL and NT.
    let v = ok(0, &[0x9D], |c| {
        wr(c, STACK, 2, IOPL | Rflags::NT.bits() | ZF)
    });
    assert_eq!(
        v.cpu.rflags & (IOPL | Rflags::NT.bits() | ZF),
        IOPL | Rflags::NT.bits() | ZF
    );
    // PUSHF at CPL 3 is allowed outside virtual-8086 mode.
    let v = user(64, &[0x9C], |c| c.rflags |= CF);
    assert_eq!(rd(&v.cpu, STACK - 8, 8), 0x2 | CF);
}

#[test]
fn enter_with_nesting_levels_and_leave() {
    // 32-bit: enter 4, 2 with EBP = 0x7000 and [0x6FFC] = 0xAAAAAAAA.
    let v = ok(32, &[0xC8, 0x04, 0x00, 0x02], |c| {
        c.gpr[RBP] = 0x7000;
        wr(c, 0x6FFC, 4, 0xAAAA_AAAA);
    });
    assert_eq!(rd(&v.cpu, 0x7FFC, 4), 0x7000); // saved EBP
    assert_eq!(rd(&v.cpu, 0x7FF8, 4), 0xAAAA_AAAA); // enclosing frame pointer
    assert_eq!(rd(&v.cpu, 0x7FF4, 4), 0x7FFC); // this frame
    assert_eq!((v.cpu.gpr[RBP], v.cpu.gpr[RSP]), (0x7FFC, 0x7FF0));
    // 64-bit: enter 0, 3 copies two enclosing frame pointers.
    let v = ok(64, &[0xC8, 0x00, 0x00, 0x03], |c| {
        c.gpr[RBP] = 0x7000;
        wr(c, 0x6FF8, 8, 0xA);
        wr(c, 0x6FF0, 8, 0xB);
    });
    assert_eq!(rd(&v.cpu, 0x7FF8, 8), 0x7000);
    assert_eq!(rd(&v.cpu, 0x7FF0, 8), 0xA);
    assert_eq!(rd(&v.cpu, 0x7FE8, 8), 0xB);
    assert_eq!(rd(&v.cpu, 0x7FE0, 8), 0x7FF8);
    assert_eq!((v.cpu.gpr[RBP], v.cpu.gpr[RSP]), (0x7FF8, 0x7FE0));
    // 64-bit: enter 16, 0 and enter 0, 32 (the level is taken mod 32).
    let v = ok(64, &[0xC8, 0x10, 0x00, 0x00], |c| c.gpr[RBP] = 0x7000);
    assert_eq!((v.cpu.gpr[RBP], v.cpu.gpr[RSP]), (0x7FF8, 0x7FE8));
    let v = ok(64, &[0xC8, 0x00, 0x00, 0x20], |c| c.gpr[RBP] = 0x7000);
    assert_eq!((v.cpu.gpr[RBP], v.cpu.gpr[RSP]), (0x7FF8, 0x7FF8));
    // Real mode: enter 2, 1 (16-bit) keeps the upper halves.
    let v = ok(0, &[0xC8, 0x02, 0x00, 0x01], |c| {
        c.gpr[RBP] = 0xBBBB_1234;
        c.gpr[RSP] = 0xCCCC_8000;
    });
    assert_eq!(rd(&v.cpu, 0x7FFE, 2), 0x1234);
    assert_eq!(rd(&v.cpu, 0x7FFC, 2), 0x7FFE);
    assert_eq!((v.cpu.gpr[RBP], v.cpu.gpr[RSP]), (0xBBBB_7FFE, 0xCCCC_7FFA));
    // LEAVE: 64-bit, real mode, and 66 C9 (16-bit BP) in 32-bit code.
    let v = ok(64, &[0xC9], |c| {
        c.gpr[RBP] = 0x7000;
        wr(c, 0x7000, 8, 0x1111_2222_3333);
    });
    assert_eq!((v.cpu.gpr[RSP], v.cpu.gpr[RBP]), (0x7008, 0x1111_2222_3333));
    let v = ok(0, &[0xC9], |c| {
        c.seg[SegReg::Ss as usize] = real(0x3000);
        c.gpr[RBP] = 0xAAAA_7000;
        c.gpr[RSP] = 0xBBBB_0000;
        wr(c, 0x37000, 2, 0x2222);
    });
    assert_eq!((v.cpu.gpr[RSP], v.cpu.gpr[RBP]), (0xBBBB_7002, 0xAAAA_2222));
    let v = ok(32, &[0x66, 0xC9], |c| {
        c.gpr[RBP] = 0x7000;
        wr(c, 0x7000, 4, 0x9999_2222);
    });
    assert_eq!((v.cpu.gpr[RSP], v.cpu.gpr[RBP]), (0x7002, 0x2222));
    // LEAVE with a 16-bit stack in 32-bit code: SP <- BP, pop EBP.
    let v = ok(32, &[0xC9], |c| {
        c.seg[SegReg::Ss as usize].attr &= !attr::DB;
        c.gpr[RBP] = 0x1234_7000;
        c.gpr[RSP] = 0xAAAA_0000;
        wr(c, 0x7000, 4, 0x5555_6666);
    });
    assert_eq!((v.cpu.gpr[RSP], v.cpu.gpr[RBP]), (0xAAAA_7004, 0x5555_6666));
    // ENTER that cannot push: #SS(0) with RSP and RBP unchanged.
    let v = faults(32, &[0xC8, 0x00, 0x00, 0x00], Exception::SS(0), DATA, |c| {
        c.seg[SegReg::Ss as usize].limit = 0x7FFF;
        c.gpr[RSP] = 0x2;
        c.gpr[RBP] = 0x7000;
    });
    assert_eq!(v.cpu.gpr[RSP], 2);
}

// ---------------------------------------------------------------------
// Flags and simple system instructions (insn/system.rs)
// ---------------------------------------------------------------------

#[test]
fn lahf_sahf_and_flag_instructions() {
    // LAHF: AH = SF:ZF:0:AF:0:PF:1:CF; OF is not copied.
    let v = ok(64, &[0x9F], |c| {
        c.gpr[RAX] = 0x1111_0000;
        c.rflags |= STATUS;
    });
    assert_eq!(v.cpu.gpr[RAX], 0x1111_D700);
    let v = ok(0, &[0x9F], |c| c.rflags |= ZF);
    assert_eq!(v.cpu.gpr[RAX], 0x4200);
    // SAHF: loads SF, ZF, AF, PF, CF from AH; OF and bits 1/3/5 keep.
    let v = ok(32, &[0x9E], |c| {
        c.gpr[RAX] = 0xFF00;
        c.rflags |= OF;
    });
    assert_eq!(v.cpu.rflags, 0x2 | STATUS);
    let v = ok(64, &[0x9E], |c| {
        c.gpr[RAX] = 0x0000;
        c.rflags |= STATUS;
    });
    assert_eq!(v.cpu.rflags, 0x2 | OF);
    // CLC, STC, CMC, CLD, STD.
    for (code, before, after) in [
        (0xF8u8, STATUS, STATUS & !CF),
        (0xF9, 0, CF),
        (0xF5, CF | ZF, ZF),
        (0xF5, ZF, CF | ZF),
        (0xFC, DF | CF, CF),
        (0xFD, CF, DF | CF),
    ] {
        for bits in [0, 32, 64] {
            let v = ok(bits, &[code], |c| c.rflags |= before);
            assert_eq!(v.cpu.rflags, 0x2 | after, "{code:#x} in {bits}");
        }
    }
}

#[test]
fn cli_sti_privilege() {
    // CPL 3 with IOPL 0: #GP(0) and IF unchanged.
    for bits in [16, 32, 64] {
        for code in [0xFA, 0xFB] {
            faults(bits, &[code], Exception::GP(0), DATA, |c| {
                c.set_flat_mode(bits, 3);
                c.rflags |= IF;
            });
        }
    }
    // CPL 3 with IOPL 3: allowed.
    let v = user(32, &[0xFA], |c| c.rflags |= IF | IOPL);
    assert_eq!(v.cpu.rflags & IF, 0);
    let v = user(64, &[0xFB], |c| c.rflags |= IOPL);
    assert_eq!(v.cpu.rflags & IF, IF);
    // CPL 1 with IOPL 1 is allowed, CPL 2 with IOPL 1 is not.
    let (exit, v) = go(32, &[0xFA], |c| {
        c.set_flat_mode(32, 1);
        c.rflags |= IF | (1 << 12);
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)), "HLT at CPL 1");
    assert_eq!(v.cpu.rflags & IF, 0);
    faults(32, &[0xFA], Exception::GP(0), DATA, |c| {
        c.set_flat_mode(32, 2);
        c.rflags |= IF | (1 << 12);
    });
    // Real mode and CPL 0: always allowed.
    let v = ok(0, &[0xFB], |_| {});
    assert_eq!(v.cpu.rflags & IF, IF);
    let v = ok(32, &[0xFB, 0xFA], |_| {});
    assert_eq!(v.cpu.rflags & IF, 0);
}

#[test]
fn hlt_privilege() {
    for bits in [16, 32, 64] {
        let (exit, v) = go(bits, &[0x90], |c| c.set_flat_mode(bits, 3));
        assert_eq!(exit, Exit::Exception(Exception::GP(0)), "{bits}");
        assert_eq!(v.cpu.rip, CODE + 1, "RIP stays at the HLT");
        assert_eq!(v.cpu.instructions, 1);
    }
    for bits in [0, 16, 32, 64] {
        let (exit, v) = go(bits, &[], |_| {});
        assert_eq!(exit, Exit::Hlt);
        assert_eq!(v.cpu.rip, CODE + 1, "RIP after the HLT");
    }
}

#[test]
fn cpuid_leaves() {
    let q = |leaf: u64, sub: u64| {
        let v = ok(64, &[0x0F, 0xA2], |c| {
            c.gpr[RAX] = 0xFFFF_FFFF_0000_0000 | leaf;
            c.gpr[RCX] = 0xFFFF_FFFF_0000_0000 | sub;
            c.gpr[RBX] = u64::MAX;
            c.gpr[RDX] = u64::MAX;
        });
        [
            v.cpu.gpr[RAX],
            v.cpu.gpr[RBX],
            v.cpu.gpr[RCX],
            v.cpu.gpr[RDX],
        ]
    };
    // Leaf 0: highest basic leaf and "GenuineIntel" in EBX, EDX, ECX
    // (each register zero-extended in 64-bit mode).
    assert_eq!(q(0, 0), [7, 0x756E_6547, 0x6C65_746E, 0x4965_6E69]);
    // Leaf 1: family 6 model 0x5E stepping 3; CX8, CMOV, TSC, SEP; CX16.
    let l1 = q(1, 0);
    assert_eq!(l1[0], 0x0005_06E3);
    assert_eq!(
        l1[3] & (1 << 8 | 1 << 15 | 1 << 4 | 1 << 11),
        1 << 8 | 1 << 15 | 1 << 4 | 1 << 11
    );
    assert_eq!(l1[2] & (1 << 13), 1 << 13);
    // Leaf 7 subleaf 0: SMEP and SMAP; subleaf 1: nothing.
    assert_eq!(q(7, 0)[1], 1 << 7 | 1 << 20);
    assert_eq!(q(7, 1), [0; 4]);
    // Extended leaves: maximum, LM/SYSCALL/NX/RDTSCP, LAHF in 64-bit mode,
    // the brand string and the address sizes.
    assert_eq!(q(0x8000_0000, 0)[0], 0x8000_0008);
    let e1 = q(0x8000_0001, 0);
    assert_eq!(e1[3], 1 << 11 | 1 << 20 | 1 << 26 | 1 << 27 | 1 << 29);
    assert_eq!(e1[2] & 1, 1);
    assert_eq!(
        q(0x8000_0002, 0),
        [0x6773_7973, 0x2065_7461, 0x7472_6976, 0x206C_6175]
    );
    assert_eq!(q(0x8000_0008, 0)[0], 0x3027);
    // Leaves beyond the maximum read as zeros (the documented choice).
    assert_eq!(q(0x1234, 0), [0; 4]);
    assert_eq!(q(0x8000_0009, 0), [0; 4]);
    // CPUID is allowed at CPL 3 and in real mode (32-bit writes keep
    // nothing above bit 31 in 64-bit mode, merge nothing in real mode).
    let v = user(32, &[0x0F, 0xA2], |c| c.gpr[RAX] = 0x8000_0000);
    assert_eq!(v.cpu.gpr[RAX], 0x8000_0008);
    let v = ok(0, &[0x0F, 0xA2], |c| c.gpr[RAX] = 0);
    assert_eq!(v.cpu.gpr[RBX], 0x756E_6547);
}

#[test]
fn rdtsc_reads_the_modeled_cycle_counter() {
    // RDTSC reads the cycles charged to the instructions before it in its
    // block (crates/cpu/src/cycles.rs, `skylake`; the HLT that ends each
    // block here is serializing): three dependent ADD RAX, RAX (latency 1)
    // are charged one cycle each.
    let v = ok(
        64,
        &[
            0x48, 0x01, 0xC0, 0x48, 0x01, 0xC0, 0x48, 0x01, 0xC0, 0x0F, 0x31,
        ],
        |c| {
            c.gpr[RAX] = u64::MAX;
            c.gpr[RDX] = u64::MAX;
        },
    );
    assert_eq!((v.cpu.gpr[RAX], v.cpu.gpr[RDX]), (3, 0));
    // Two reads in one block: the first RDTSC is charged its latency (18)
    // and the MOV that waits for its EAX 1.
    let v = ok(32, &[0x0F, 0x31, 0x89, 0xC3, 0x0F, 0x31], |_| {});
    assert_eq!(v.cpu.gpr[RAX] - v.cpu.gpr[RBX], 19);
    // Across a block boundary (JMP ends the block): the NOP; JMP block
    // costs the one-cycle minimum.
    let v = ok(64, &[0x90, 0xEB, 0x00, 0x0F, 0x31], |_| {});
    assert_eq!(v.cpu.gpr[RAX], 1);
    // After REP STOSB of 10 bytes: 2 cycles (the latency of STOSB, whose
    // RDI result the next execution waits for) plus 9 extra iterations.
    let v = ok(64, &[0xF3, 0xAA, 0x0F, 0x31], |c| {
        c.gpr[RCX] = 10;
        c.gpr[RDI] = DATA;
    });
    assert_eq!(v.cpu.gpr[RAX], 11);
    // The counter straddles EDX:EAX.
    let v = ok(32, &[0x0F, 0x31], |c| c.cycles = 0x1_2345_6789);
    assert_eq!((v.cpu.gpr[RDX], v.cpu.gpr[RAX]), (1, 0x2345_6789));
    // With CR4.TSD, RDTSC is privileged.
    faults(64, &[0x0F, 0x31], Exception::GP(0), DATA, |c| {
        c.set_flat_mode(64, 3);
        c.ctrl.cr4 |= crate::state::Cr4::TSD.bits();
    });
    let v = user(64, &[0x0F, 0x31], |c| c.cycles = 100);
    assert_eq!(v.cpu.gpr[RAX], 100);
}

// ---------------------------------------------------------------------
// Segment-limit and canonical faults on data accesses
// ---------------------------------------------------------------------

#[test]
fn segment_limit_faults_in_32_bit_protected_mode() {
    // DS limit 0x4FFF: a dword at 0x4FFC is fine, at 0x4FFE it is #GP(0).
    let v = ok(32, &[0x8B, 0x07], |c| {
        c.seg[SegReg::Ds as usize].limit = 0x4FFF;
        c.gpr[RDI] = 0x4FFC;
        wr(c, 0x4FFC, 4, 0x1234_5678);
    });
    assert_eq!(v.cpu.gpr[RAX], 0x1234_5678);
    let limit = |c: &mut Cpu| {
        c.seg[SegReg::Ds as usize].limit = 0x4FFF;
        c.gpr[RDI] = 0x4FFE;
        c.gpr[RBX] = 1;
        c.rflags |= CF;
    };
    // Loads, stores, read-modify-write ALU, XCHG, INC, MOVZX, CMP, PUSH
    // and POP with memory operands: all #GP(0) with nothing changed.
    for code in [
        &[0x8B, 0x07][..],             // mov eax, [edi]
        &[0x89, 0x1F][..],             // mov [edi], ebx
        &[0x01, 0x1F][..],             // add [edi], ebx
        &[0x87, 0x1F][..],             // xchg [edi], ebx
        &[0xFF, 0x07][..],             // inc dword [edi]
        &[0x0F, 0xB7, 0x47, 0x01][..], // movzx eax, word [edi+1]
        &[0x39, 0x1F][..],             // cmp [edi], ebx
        &[0xFF, 0x37][..],             // push dword [edi]
        &[0x8F, 0x07][..],             // pop dword [edi]
        &[0x0F, 0x44, 0x07][..],       // cmove eax, [edi]
        &[0x0F, 0xC1, 0x1F][..],       // xadd [edi], ebx
        &[0x0F, 0x94, 0x47, 0x02][..], // sete [edi+2]
    ] {
        faults(32, code, Exception::GP(0), 0x4FF0, limit);
    }
    // Through SS (EBP base or an SS override): #SS(0).
    faults(32, &[0x8B, 0x45, 0x00], Exception::SS(0), 0x3FF0, |c| {
        c.seg[SegReg::Ss as usize].limit = 0x3FFF;
        c.gpr[RBP] = 0x4000;
    });
    faults(32, &[0x36, 0x89, 0x1F], Exception::SS(0), 0x3FF0, |c| {
        c.seg[SegReg::Ss as usize].limit = 0x3FFF;
        c.gpr[RDI] = 0x3FFE;
    });
    // A read-only data segment: reads work, writes are #GP(0).
    let ro = |c: &mut Cpu| {
        c.seg[SegReg::Ds as usize].attr &= !attr::RW;
        c.gpr[RDI] = DATA;
        wr(c, DATA, 4, 7);
    };
    let v = ok(32, &[0x8B, 0x07], ro);
    assert_eq!(v.cpu.gpr[RAX], 7);
    faults(32, &[0x89, 0x1F], Exception::GP(0), DATA, ro);
    faults(32, &[0x83, 0x07, 0x01], Exception::GP(0), DATA, ro);
    faults(32, &[0x87, 0x1F], Exception::GP(0), DATA, ro);
    // CMP and TEST only read their memory operand.
    let v = ok(32, &[0x39, 0x1F], |c| {
        ro(c);
        c.gpr[RBX] = 7;
    });
    assert_eq!(v.cpu.rflags & ZF, ZF);
    let v = ok(32, &[0x85, 0x1F], |c| {
        ro(c);
        c.gpr[RBX] = 8;
    });
    assert_eq!(v.cpu.rflags & ZF, ZF);
    // Code segments are never writable; a readable one can be read.
    let v = ok(32, &[0x2E, 0x8B, 0x07], |c| {
        c.gpr[RDI] = DATA;
        wr(c, DATA, 4, 9);
    });
    assert_eq!(v.cpu.gpr[RAX], 9);
    faults(32, &[0x2E, 0x89, 0x1F], Exception::GP(0), DATA, |c| {
        c.gpr[RDI] = DATA
    });
    // An expand-down data segment (limit 0x4FFF, B = 1): offsets up to the
    // limit fault, offsets above it are valid.
    let down = |c: &mut Cpu| {
        c.seg[SegReg::Ds as usize].attr |= attr::DC;
        c.seg[SegReg::Ds as usize].limit = 0x4FFF;
    };
    faults(32, &[0x8B, 0x07], Exception::GP(0), DATA, |c| {
        down(c);
        c.gpr[RDI] = 0x4FFE;
    });
    let v = ok(32, &[0x8B, 0x07], |c| {
        down(c);
        c.gpr[RDI] = 0x5000;
        wr(c, 0x5000, 4, 0xD0D0);
    });
    assert_eq!(v.cpu.gpr[RAX], 0xD0D0);
    // A null (unusable) DS: #GP(0) on any access.
    faults(32, &[0x8B, 0x07], Exception::GP(0), DATA, |c| {
        c.seg[SegReg::Ds as usize].selector = 0;
        c.seg[SegReg::Ds as usize].attr |= attr::UNUSABLE;
        c.gpr[RDI] = DATA;
    });
    // 16-bit protected mode: a word at offset 0xFFFF crosses the limit.
    faults(16, &[0x8B, 0x07], Exception::GP(0), DATA, |c| {
        c.gpr[RBX] = 0xFFFF
    });
    // Real mode: the same access is #GP(0); through SS it is #SS(0).
    faults(0, &[0x8B, 0x07], Exception::GP(0), DATA, |c| {
        c.gpr[RBX] = 0xFFFF
    });
    faults(0, &[0x8B, 0x46, 0x00], Exception::SS(0), DATA, |c| {
        c.gpr[RBP] = 0xFFFF
    });
}

#[test]
fn canonical_faults_in_64_bit_mode() {
    const NC: u64 = 0x0000_8000_0000_0000;
    // Non-canonical data addresses: #GP(0); through RSP or RBP: #SS(0).
    for (code, e) in [
        (&[0x48, 0x8B, 0x03][..], Exception::GP(0)), // mov rax, [rbx]
        (&[0x48, 0x89, 0x03][..], Exception::GP(0)), // mov [rbx], rax
        (&[0x48, 0x01, 0x03][..], Exception::GP(0)), // add [rbx], rax
        (&[0x48, 0x87, 0x03][..], Exception::GP(0)), // xchg [rbx], rax
        (&[0x48, 0x0F, 0xB1, 0x0B][..], Exception::GP(0)), // cmpxchg [rbx], rcx
        (&[0x48, 0x8B, 0x45, 0x00][..], Exception::SS(0)), // mov rax, [rbp]
    ] {
        faults(64, code, e, DATA, |c| {
            c.gpr[RBX] = NC;
            c.gpr[RBP] = NC;
            c.gpr[RAX] = 1;
        });
    }
    // mov rax, [rsp] with a non-canonical RSP, and POP.
    faults(64, &[0x48, 0x8B, 0x04, 0x24], Exception::SS(0), DATA, |c| {
        c.gpr[RSP] = NC
    });
    faults(64, &[0x58], Exception::SS(0), DATA, |c| c.gpr[RSP] = NC);
    // The FS base takes part: base + offset must be canonical.
    faults(64, &[0x64, 0x48, 0x8B, 0x03], Exception::GP(0), DATA, |c| {
        c.seg[SegReg::Fs as usize].base = 0x0000_7FFF_FFFF_FFF0;
        c.gpr[RBX] = 0x10;
    });
    // The highest canonical addresses are fine (no RAM there: open bus
    // reads as all ones).
    let v = ok(64, &[0x48, 0x8B, 0x03], |c| {
        c.gpr[RBX] = 0xFFFF_8000_0000_0000
    });
    assert_eq!(v.cpu.gpr[RAX], u64::MAX);
    // In 64-bit mode DS, ES and SS bases and limits are ignored.
    let v = ok(64, &[0x48, 0x8B, 0x03], |c| {
        c.seg[SegReg::Ds as usize].base = 0x10000;
        c.seg[SegReg::Ds as usize].limit = 0;
        c.gpr[RBX] = DATA;
        wr(c, DATA, 8, 0x77);
    });
    assert_eq!(v.cpu.gpr[RAX], 0x77);
}

#[test]
fn pushf_popf_cli_sti_in_virtual_8086_mode() {
    let vm = Rflags::VM.bits();
    // IOPL < 3: PUSHF, POPF, CLI and STI are #GP(0) (no VME).
    for code in [0x9C, 0x9D, 0xFA, 0xFB] {
        faults(32, &[code], Exception::GP(0), STACK - 16, |c| {
            c.rflags |= vm | IF | (2 << 12);
        });
    }
    // IOPL = 3: POPF changes IF but neither IOPL nor VM; PUSHF stores a
    // 16-bit image (code is 16-bit in virtual-8086 mode).
    let (exit, v) = go(32, &[0x9D, 0x9C], |c| {
        c.rflags |= vm | IF | IOPL;
        wr(c, STACK, 2, CF);
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)), "HLT at CPL 3");
    assert_eq!(v.cpu.rflags & (vm | IF | IOPL | CF), vm | IOPL | CF);
    assert_eq!(rd(&v.cpu, STACK, 2), 0x2 | IOPL | CF);
    assert_eq!(v.cpu.gpr[RSP], STACK);
}

//! Known-result tests of the SSE/SSE2 and MMX families: availability
//! (#UD/#NM/#MF), alignment (#GP), data movement, integer SIMD on XMM and
//! MMX registers (with the x87 aliasing), floating point with MXCSR
//! rounding, FTZ/DAZ, sticky flags and #XM/#UD, FXSAVE/FXRSTOR and
//! LDMXCSR/STMXCSR.
//!
//! Expected values are worked out by hand from the SDM Vol. 2 instruction
//! pages and IEEE 754 (float bit patterns spelled out in hex).

use iced_x86::IcedError;
use iced_x86::code_asm::*;

use super::sse_host::{self as eng, PD, PS, SD, SS};
use crate::exception::Exception;
use crate::flags::{AF, CF, OF, PF, SF, ZF};
use crate::fpu::F80;
use crate::run::{Exit, Vcpu};
use crate::state::{Cpu, Cr0, Cr4, SegReg};
use crate::testutil::{CODE, DATA, asm, machine, run};

type AsmFn = dyn FnOnce(&mut CodeAssembler) -> Result<(), IcedError>;

/// Runs `f` in a fresh machine of `bits` (0 = real mode) with CR4.OSFXSR
/// and CR4.OSXMMEXCPT set, after `setup`.
fn go(bits: u32, setup: impl FnOnce(&mut Cpu), f: Box<AsmFn>) -> (Exit, Vcpu) {
    let code = asm(if bits == 0 { 16 } else { bits }, f);
    let mut v = machine(bits);
    v.cpu.ctrl.cr4 |= Cr4::OSFXSR.bits() | Cr4::OSXMMEXCPT.bits();
    setup(&mut v.cpu);
    let exit = run(&mut v, &code);
    (exit, v)
}

/// Like [`go`], asserting the run reached HLT.
fn ok(
    bits: u32,
    setup: impl FnOnce(&mut Cpu),
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError> + 'static,
) -> Vcpu {
    let (exit, v) = go(bits, setup, Box::new(f));
    assert_eq!(exit, Exit::Hlt, "stopped at {:#x}", v.cpu.rip);
    v
}

/// Runs a single faulting instruction (after `setup`) expecting `e`, and
/// checks it changed nothing but (for #XM/#UD from SIMD exceptions) MXCSR:
/// GPRs, RFLAGS, XMM, x87/MMX registers and tags, and 64 bytes at DATA.
fn faults(
    bits: u32,
    e: Exception,
    setup: impl FnOnce(&mut Cpu),
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError> + 'static,
) -> Vcpu {
    let code = asm(if bits == 0 { 16 } else { bits }, f);
    let mut v = machine(bits);
    v.cpu.ctrl.cr4 |= Cr4::OSFXSR.bits() | Cr4::OSXMMEXCPT.bits();
    setup(&mut v.cpu);
    let gpr = v.cpu.gpr;
    let flags = v.cpu.rflags;
    let fpu = v.cpu.fpu.clone();
    let before = data(&v.cpu, 64);
    let exit = run(&mut v, &code);
    assert_eq!(exit, Exit::Exception(e));
    assert_eq!(v.cpu.rip, CODE, "RIP at the faulting instruction");
    assert_eq!(v.cpu.gpr, gpr, "registers unchanged");
    assert_eq!(v.cpu.rflags, flags, "flags unchanged");
    assert_eq!(v.cpu.fpu.xmm, fpu.xmm, "XMM unchanged");
    assert_eq!(v.cpu.fpu.st, fpu.st, "x87/MMX unchanged");
    assert_eq!(
        (v.cpu.fpu.fsw, v.cpu.fpu.ftw),
        (fpu.fsw, fpu.ftw),
        "tags unchanged"
    );
    assert_eq!(data(&v.cpu, 64), before, "memory unchanged");
    v
}

fn data(c: &Cpu, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    c.mmu.phys.read(DATA, &mut b);
    b
}

fn put(c: &mut Cpu, off: u64, bytes: &[u8]) {
    c.mmu.phys.write(DATA + off, bytes);
}

/// Four 32-bit lanes, lane 0 first.
fn d4(l: [u32; 4]) -> u128 {
    l.iter()
        .enumerate()
        .fold(0, |r, (k, &x)| r | (u128::from(x) << (32 * k)))
}

/// Two 64-bit lanes, lane 0 first.
fn q2(lo: u64, hi: u64) -> u128 {
    u128::from(lo) | (u128::from(hi) << 64)
}

const F1: u32 = 0x3F80_0000; // 1.0f
const F2: u32 = 0x4000_0000; // 2.0f
const F3: u32 = 0x4040_0000; // 3.0f
const FM1: u32 = 0xBF80_0000; // -1.0f
const FQNAN: u32 = 0x7FC0_0000;
const D1: u64 = 0x3FF0_0000_0000_0000; // 1.0
const D2: u64 = 0x4000_0000_0000_0000; // 2.0
const D3: u64 = 0x4008_0000_0000_0000; // 3.0

const MXCSR: u32 = 0x1F80;
const IE: u32 = 1;
const DE: u32 = 2;
const ZE: u32 = 4;
const UE: u32 = 0x10;
const PE: u32 = 0x20;

// ---- availability -------------------------------------------------------

#[test]
fn sse_needs_osfxsr_and_em_clear_and_ts_gives_nm() {
    let body = |a: &mut CodeAssembler| a.pxor(xmm0, xmm1);
    let set = |c: &mut Cpu| {
        c.fpu.xmm[0] = 5;
        c.fpu.xmm[1] = 3;
    };
    faults(
        64,
        Exception::UD,
        |c| {
            set(c);
            c.ctrl.cr4 &= !Cr4::OSFXSR.bits();
        },
        body,
    );
    faults(
        64,
        Exception::UD,
        |c| {
            set(c);
            c.ctrl.cr0 |= Cr0::EM.bits() | Cr0::TS.bits();
        },
        body,
    );
    faults(
        32,
        Exception::NM,
        |c| {
            set(c);
            c.ctrl.cr0 |= Cr0::TS.bits();
        },
        body,
    );
    // Float, conversion, move and MXCSR instructions alike.
    faults(
        64,
        Exception::NM,
        |c| c.ctrl.cr0 |= Cr0::TS.bits(),
        |a| a.addps(xmm0, xmm1),
    );
    faults(
        64,
        Exception::UD,
        |c| c.ctrl.cr4 &= !Cr4::OSFXSR.bits(),
        |a| a.movaps(xmm0, xmm1),
    );
    faults(
        64,
        Exception::UD,
        |c| c.ctrl.cr4 &= !Cr4::OSFXSR.bits(),
        |a| a.ldmxcsr(dword_ptr(rbx)),
    );
    faults(
        64,
        Exception::NM,
        |c| c.ctrl.cr0 |= Cr0::TS.bits(),
        |a| a.cvtsi2sd(xmm0, rax),
    );
    let v = ok(64, set, body);
    assert_eq!(v.cpu.fpu.xmm[0], 6);
}

#[test]
fn mmx_needs_em_clear_not_osfxsr_and_faults_on_pending_x87_error() {
    // MMX instructions do not depend on CR4.OSFXSR.
    let v = ok(
        64,
        |c| {
            c.ctrl.cr4 &= !Cr4::OSFXSR.bits();
            c.fpu.st[1].signif = 0x01;
            c.fpu.st[2].signif = 0x02;
        },
        |a| a.paddb(mm1, mm2),
    );
    assert_eq!(v.cpu.fpu.st[1].signif, 3);
    faults(
        64,
        Exception::UD,
        |c| c.ctrl.cr0 |= Cr0::EM.bits(),
        |a| a.paddb(mm1, mm2),
    );
    faults(
        64,
        Exception::NM,
        |c| c.ctrl.cr0 |= Cr0::TS.bits(),
        |a| a.emms(),
    );
    faults(
        64,
        Exception::MF,
        |c| c.fpu.fsw |= 0x80 | 1,
        |a| a.movq(mm0, rax),
    );
    // SSE additions on MMX registers and the mixed forms need OSFXSR for
    // the XMM side only.
    faults(
        64,
        Exception::UD,
        |c| c.ctrl.cr4 &= !Cr4::OSFXSR.bits(),
        |a| a.movq2dq(xmm0, mm1),
    );
}

// ---- alignment and fault-before-commit ------------------------------------

#[test]
fn aligned_forms_fault_on_misaligned_memory_and_unaligned_forms_do_not() {
    let base = |c: &mut Cpu| {
        c.gpr[3] = DATA + 8;
        c.fpu.xmm[0] = 0x1111;
        put(c, 8, &[0xAB; 16]);
    };
    faults(64, Exception::GP(0), base, |a| {
        a.movaps(xmm0, xmmword_ptr(rbx))
    });
    faults(64, Exception::GP(0), base, |a| {
        a.movdqa(xmmword_ptr(rbx), xmm0)
    });
    faults(64, Exception::GP(0), base, |a| {
        a.movntdq(xmmword_ptr(rbx), xmm0)
    });
    faults(64, Exception::GP(0), base, |a| {
        a.paddd(xmm0, xmmword_ptr(rbx))
    });
    faults(64, Exception::GP(0), base, |a| {
        a.addpd(xmm0, xmmword_ptr(rbx))
    });
    faults(32, Exception::GP(0), base, |a| {
        a.andps(xmm0, xmmword_ptr(ebx))
    });
    faults(32, Exception::GP(0), base, |a| {
        a.pshufd(xmm0, xmmword_ptr(ebx), 0)
    });
    let abs = u128::from_le_bytes([0xAB; 16]);
    let v = ok(64, base, |a| a.movups(xmm1, xmmword_ptr(rbx)));
    assert_eq!(v.cpu.fpu.xmm[1], abs);
    let v = ok(64, base, |a| a.movdqu(xmmword_ptr(rbx + 1), xmm0));
    assert_eq!(&data(&v.cpu, 32)[9..25], &0x1111u128.to_le_bytes());
    // Scalar and 64-bit forms have no alignment requirement.
    let v = ok(64, base, |a| {
        a.movsd_2(xmm2, qword_ptr(rbx + 1))?;
        a.addss(xmm3, dword_ptr(rbx + 3))?;
        a.movlps(xmm4, qword_ptr(rbx + 5))
    });
    assert_eq!(v.cpu.fpu.xmm[2], u128::from(u64::from_le_bytes([0xAB; 8])));
    assert_eq!(v.cpu.fpu.xmm[4] as u64, u64::from_le_bytes([0xAB; 8]));
    // MMX memory operands need no alignment.
    let v = ok(64, base, |a| a.paddb(mm0, qword_ptr(rbx + 1)));
    assert_eq!(v.cpu.fpu.st[0].signif, 0xABAB_ABAB_ABAB_ABAB);
}

#[test]
fn a_store_crossing_the_segment_limit_writes_nothing() {
    faults(
        32,
        Exception::GP(0),
        |c| {
            c.seg[SegReg::Ds as usize].limit = (DATA + 0x17) as u32;
            c.gpr[3] = DATA + 0x10;
            c.fpu.xmm[5] = u128::MAX;
        },
        |a| a.movdqu(xmmword_ptr(ebx), xmm5),
    );
}

// ---- data movement ---------------------------------------------------------

#[test]
fn movd_movq_with_gprs_and_memory() {
    let v = ok(
        64,
        |c| {
            c.gpr[0] = 0x1122_3344_5566_7788;
            c.fpu.xmm[0] = u128::MAX;
            c.fpu.xmm[1] = u128::MAX;
            c.fpu.xmm[2] = q2(0xAAAA_BBBB_CCCC_DDDD, 0x1234);
            c.fpu.xmm[3] = u128::MAX;
            c.fpu.xmm[6] = u128::MAX;
            c.gpr[3] = DATA;
            c.gpr[5] = u64::MAX;
            put(c, 0, &0x0102_0304_0506_0708u64.to_le_bytes());
        },
        |a| {
            a.movd(xmm0, eax)?; // zero-extends into the whole register
            a.movq(xmm1, rax)?;
            a.movd(ecx, xmm2)?; // 32-bit GPR write zero-extends
            a.movq(rdx, xmm2)?;
            a.movq(xmm3, qword_ptr(rbx))?; // F3 0F 7E: upper cleared
            a.movq(qword_ptr(rbx + 8), xmm2)?; // 66 0F D6
            a.movd(dword_ptr(rbx + 16), xmm2)?;
            a.movq(xmm6, xmm2)?; // register form clears the upper half
            a.movd(ebp, xmm1)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], 0x5566_7788);
    assert_eq!(c.fpu.xmm[1], 0x1122_3344_5566_7788);
    assert_eq!(c.gpr[1], 0xCCCC_DDDD);
    assert_eq!(c.gpr[2], 0xAAAA_BBBB_CCCC_DDDD);
    assert_eq!(c.fpu.xmm[3], 0x0102_0304_0506_0708);
    assert_eq!(c.fpu.xmm[6], 0xAAAA_BBBB_CCCC_DDDD);
    assert_eq!(c.gpr[5], 0x5566_7788);
    let d = data(c, 24);
    assert_eq!(&d[8..16], &0xAAAA_BBBB_CCCC_DDDDu64.to_le_bytes());
    assert_eq!(&d[16..24], &[0xDD, 0xDD, 0xCC, 0xCC, 0, 0, 0, 0]);
}

#[test]
fn movss_movsd_merge_in_register_form_and_zero_on_load() {
    let v = ok(
        64,
        |c| {
            c.gpr[3] = DATA;
            put(c, 0, &[1, 2, 3, 4, 5, 6, 7, 8]);
            for r in 0..4 {
                c.fpu.xmm[r] = u128::MAX;
            }
            c.fpu.xmm[4] = d4([0x11, 0x22, 0x33, 0x44]);
        },
        |a| {
            a.movss(xmm0, dword_ptr(rbx))?;
            a.movsd_2(xmm1, qword_ptr(rbx))?;
            a.movss(xmm2, xmm4)?;
            a.movsd_2(xmm3, xmm4)?;
            a.movss(dword_ptr(rbx + 16), xmm4)?;
            a.movsd_2(qword_ptr(rbx + 24), xmm4)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], 0x0403_0201);
    assert_eq!(c.fpu.xmm[1], 0x0807_0605_0403_0201);
    assert_eq!(c.fpu.xmm[2], d4([0x11, u32::MAX, u32::MAX, u32::MAX]));
    assert_eq!(c.fpu.xmm[3], d4([0x11, 0x22, u32::MAX, u32::MAX]));
    let d = data(c, 32);
    assert_eq!(&d[16..20], &[0x11, 0, 0, 0]);
    assert_eq!(&d[24..32], &[0x11, 0, 0, 0, 0x22, 0, 0, 0]);
}

#[test]
fn movlps_movhps_movhlps_movlhps() {
    let v = ok(
        64,
        |c| {
            c.gpr[3] = DATA;
            put(c, 0, &0x0102_0304_0506_0708u64.to_le_bytes());
            c.fpu.xmm[0] = q2(0xAAAA, 0xBBBB);
            c.fpu.xmm[1] = q2(0xAAAA, 0xBBBB);
            c.fpu.xmm[2] = q2(0x1111, 0x2222);
            c.fpu.xmm[3] = q2(0x3333, 0x4444);
            c.fpu.xmm[4] = q2(0x5555, 0x6666);
        },
        |a| {
            a.movlps(xmm0, qword_ptr(rbx))?;
            a.movhpd(xmm1, qword_ptr(rbx))?;
            a.movhps(qword_ptr(rbx + 8), xmm2)?;
            a.movlpd(qword_ptr(rbx + 16), xmm2)?;
            a.movhlps(xmm3, xmm2)?;
            a.movlhps(xmm4, xmm2)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], q2(0x0102_0304_0506_0708, 0xBBBB));
    assert_eq!(c.fpu.xmm[1], q2(0xAAAA, 0x0102_0304_0506_0708));
    assert_eq!(c.fpu.xmm[3], q2(0x2222, 0x4444));
    assert_eq!(c.fpu.xmm[4], q2(0x5555, 0x1111));
    let d = data(c, 24);
    assert_eq!(&d[8..16], &0x2222u64.to_le_bytes());
    assert_eq!(&d[16..24], &0x1111u64.to_le_bytes());
}

#[test]
fn aligned_and_unaligned_128_bit_moves_and_nontemporal_stores() {
    let val = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100u128;
    let v = ok(
        32,
        |c| {
            c.gpr[3] = DATA;
            put(c, 0, &val.to_le_bytes());
            c.fpu.xmm[7] = !val;
        },
        |a| {
            a.movaps(xmm0, xmmword_ptr(ebx))?;
            a.movapd(xmm1, xmm0)?;
            a.movdqa(xmm2, xmm1)?;
            a.movupd(xmm3, xmmword_ptr(ebx + 1))?;
            a.movntps(xmmword_ptr(ebx + 16), xmm7)?;
            a.movntpd(xmmword_ptr(ebx + 32), xmm0)?;
            a.movnti(dword_ptr(ebx + 48), ebx)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[2], val);
    assert_eq!(c.fpu.xmm[3], val >> 8);
    let d = data(c, 52);
    assert_eq!(&d[16..32], &(!val).to_le_bytes());
    assert_eq!(&d[32..48], &val.to_le_bytes());
    assert_eq!(&d[48..52], &(DATA as u32).to_le_bytes());
}

#[test]
fn movmsk_pmovmskb_pinsrw_pextrw() {
    let v = ok(
        64,
        |c| {
            c.fpu.xmm[0] = d4([0x8000_0000, 0, 0xFFFF_FFFF, 0x7FFF_FFFF]);
            c.fpu.xmm[1] = q2(1 << 63, 0);
            c.fpu.xmm[2] = 0x80_00_FF_00_00_00_00_00_00_00_00_00_00_7F_80_81;
            c.fpu.xmm[3] = 0;
            c.fpu.st[4].signif = 0x8000_0000_0000_0080;
            c.gpr[0] = u64::MAX;
            c.gpr[1] = u64::MAX;
            c.gpr[2] = u64::MAX;
            c.gpr[5] = 0x1234_BEEF;
        },
        |a| {
            a.movmskps(eax, xmm0)?;
            a.movmskpd(rcx, xmm1)?;
            a.pmovmskb(edx, xmm2)?;
            a.pmovmskb(esi, mm4)?;
            a.pinsrw(xmm3, ebp, 5)?;
            a.pinsrw(mm5, ebp, 6)?; // imm & 3 = 2 for MMX
            a.pextrw(edi, xmm2, 7)?;
            a.pextrw(r8d, mm4, 3)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.gpr[0], 0b0101);
    assert_eq!(c.gpr[1], 0b01);
    // Bytes 0, 1, 13 and 15 have bit 7 set.
    assert_eq!(c.gpr[2], (1 << 0) | (1 << 1) | (1 << 13) | (1 << 15));
    assert_eq!(c.gpr[6], 0b1000_0001);
    assert_eq!(c.fpu.xmm[3], 0xBEEF << 80);
    assert_eq!(c.fpu.st[5].signif, 0xBEEF << 32);
    assert_eq!(c.gpr[7], 0x8000);
    assert_eq!(c.gpr[8], 0x8000);
}

#[test]
fn movq2dq_movdq2q_and_maskmovdqu() {
    let v = ok(
        64,
        |c| {
            c.fpu.st[1].signif = 0x1122_3344_5566_7788;
            c.fpu.xmm[0] = u128::MAX;
            c.fpu.xmm[2] = q2(0xAAAA_BBBB, 0xCCCC);
            c.fpu.xmm[3] = 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10;
            // Store bytes 0, 2 and 15 only.
            c.fpu.xmm[4] = (0x80 << 120) | (0xFF << 16) | 0x80 | (0x7F << 8);
            c.gpr[7] = DATA;
            put(c, 0, &[0xEE; 16]);
        },
        |a| {
            a.movq2dq(xmm0, mm1)?;
            a.movdq2q(mm2, xmm2)?;
            a.maskmovdqu(xmm3, xmm4)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], 0x1122_3344_5566_7788);
    assert_eq!(c.fpu.st[2].signif, 0xAAAA_BBBB);
    let mut want = [0xEE; 16];
    want[0] = 0x10;
    want[2] = 0x0E;
    want[15] = 0x01;
    assert_eq!(data(c, 16), want);
}

// ---- MMX aliasing --------------------------------------------------------

#[test]
fn mmx_writes_alias_x87_registers_and_emms_empties_the_tags() {
    let v = ok(
        32,
        |c| {
            c.fpu.fsw = 5 << 11; // TOP = 5
            c.fpu.ftw = 0xFFFF;
            c.fpu.st[3] = F80 {
                signif: 0,
                sign_exp: 0x1234,
            };
            c.gpr[0] = 0xDEAD_BEEF;
        },
        |a| a.movd(mm3, eax),
    );
    let c = &v.cpu;
    assert_eq!(
        c.fpu.st[3],
        F80 {
            signif: 0xDEAD_BEEF,
            sign_exp: 0xFFFF
        }
    );
    assert_eq!(c.fpu.fsw >> 11 & 7, 0, "TOP = 0");
    assert_eq!(c.fpu.ftw, 0, "all tags valid");
    // A read-only MMX instruction makes the same transition but changes
    // no register's exponent; EMMS then empties every tag, keeping TOP.
    let v = ok(
        64,
        |c| {
            c.fpu.fsw = 2 << 11;
            c.fpu.ftw = 0xFFFF;
            c.fpu.st[6] = F80 {
                signif: 7,
                sign_exp: 0x4000,
            };
        },
        |a| {
            a.movd(ecx, mm6)?;
            a.mov(edx, 0)?;
            a.emms()
        },
    );
    let c = &v.cpu;
    assert_eq!(c.gpr[1], 7);
    assert_eq!(c.fpu.st[6].sign_exp, 0x4000);
    assert_eq!(c.fpu.fsw >> 11 & 7, 0);
    assert_eq!(c.fpu.ftw, 0xFFFF);
}

// ---- integer SIMD ----------------------------------------------------------

/// Runs `op xmm0, xmm1` (and the same op on mm0, mm1 with the low 64
/// bits) for a = xmm0, b = xmm1 and returns the XMM and MMX results.
macro_rules! int2 {
    ($op:ident, $a:expr, $b:expr) => {{
        let (a, b): (u128, u128) = ($a, $b);
        let v = ok(
            64,
            |c| {
                c.fpu.xmm[0] = a;
                c.fpu.xmm[1] = b;
                c.fpu.st[0].signif = a as u64;
                c.fpu.st[1].signif = b as u64;
            },
            |asm| {
                asm.$op(xmm0, xmm1)?;
                asm.$op(mm0, mm1)
            },
        );
        (v.cpu.fpu.xmm[0], v.cpu.fpu.st[0].signif)
    }};
}

/// Runs `op xmm0, xmm1` only.
macro_rules! xint2 {
    ($op:ident, $a:expr, $b:expr) => {{
        let (a, b): (u128, u128) = ($a, $b);
        let v = ok(
            64,
            |c| {
                c.fpu.xmm[0] = a;
                c.fpu.xmm[1] = b;
            },
            |asm| asm.$op(xmm0, xmm1),
        );
        v.cpu.fpu.xmm[0]
    }};
}

#[test]
fn byte_arithmetic_compare_min_max_avg_sad() {
    let a = 0x01_80_7F_FFu128;
    let b = 0x01_FF_01_01u128;
    assert_eq!(int2!(paddb, a, b), (0x027F_8000, 0x027F_8000));
    assert_eq!(int2!(paddsb, a, b).0, 0x0280_7F00);
    assert_eq!(int2!(paddusb, a, b).0, 0x02FF_80FF);
    assert_eq!(int2!(psubb, a, b).0, 0x0081_7EFE);
    assert_eq!(int2!(psubsb, a, b).0, 0x0081_7EFE);
    assert_eq!(int2!(psubusb, a, b).0, 0x0000_7EFE);
    // The twelve upper bytes are equal (0 == 0).
    assert_eq!(int2!(pcmpeqb, a, b), (!0xFF_FFFFu128, !0xFF_FFFFu64));
    assert_eq!(int2!(pcmpgtb, a, b).0, 0x0000_FF00);
    assert_eq!(int2!(pminub, a, b).0, 0x0180_0101);
    assert_eq!(int2!(pmaxub, a, b).0, 0x01FF_7FFF);
    assert_eq!(int2!(pavgb, a, b).0, 0x01C0_4080);
    assert_eq!(int2!(psadbw, a, b).0, 0x1FB);
    // PSADBW sums each 8-byte half separately.
    assert_eq!(xint2!(psadbw, q2(0x05, 0x0900), q2(0x01, 0)), q2(4, 9));
}

#[test]
fn word_arithmetic_multiplies_and_compares() {
    let a = 0x8000_7FFF_FFFF_0003u128;
    let b = 0xFFFF_0002_0002_0002u128;
    assert_eq!(int2!(paddw, a, b).0, 0x7FFF_8001_0001_0005);
    assert_eq!(int2!(psubw, a, b).0, 0x8001_7FFD_FFFD_0001);
    assert_eq!(int2!(paddsw, a, b).0, 0x8000_7FFF_0001_0005);
    assert_eq!(int2!(paddusw, a, b).0, 0xFFFF_8001_FFFF_0005);
    assert_eq!(int2!(psubsw, a, b).0, 0x8001_7FFD_FFFD_0001);
    assert_eq!(int2!(psubusw, a, b).0, 0x0000_7FFD_FFFD_0001);
    assert_eq!(int2!(pminsw, a, b).0, 0x8000_0002_FFFF_0002);
    assert_eq!(int2!(pmaxsw, a, b).0, 0xFFFF_7FFF_0002_0003);
    assert_eq!(
        int2!(pmullw, a, b),
        (0x8000_FFFE_FFFE_0006, 0x8000_FFFE_FFFE_0006)
    );
    assert_eq!(int2!(pmulhw, a, b).0, 0x0000_0000_FFFF_0000);
    assert_eq!(int2!(pmulhuw, a, b).0, 0x7FFF_0000_0001_0000);
    assert_eq!(int2!(pmaddwd, a, b).0, 0x0001_7FFE_0000_0004);
    assert_eq!(
        int2!(pmaddwd, 0x8000_8000_8000_8000, 0x8000_8000_8000_8000).0,
        0x8000_0000_8000_0000
    );
    assert_eq!(int2!(pcmpeqw, a, b).0, q2(0, u64::MAX));
    assert_eq!(int2!(pcmpgtw, a, b).0, 0x0000_FFFF_0000_FFFF);
    assert_eq!(int2!(pavgw, a, b).0, 0xC000_4001_8001_0003);
}

#[test]
fn dword_and_qword_arithmetic() {
    let a = d4([0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 5]);
    let b = d4([1, 1, 0xFFFF_FFFF, 5]);
    assert_eq!(int2!(paddd, a, b).0, d4([0, 0x8000_0000, 0x7FFF_FFFF, 10]));
    assert_eq!(
        int2!(psubd, a, b).0,
        d4([0xFFFF_FFFE, 0x7FFF_FFFE, 0x8000_0001, 0])
    );
    assert_eq!(int2!(pcmpeqd, a, b).0, d4([0, 0, 0, u32::MAX]));
    assert_eq!(int2!(pcmpgtd, a, b).0, d4([0, u32::MAX, 0, 0]));
    assert_eq!(
        int2!(paddq, a, b),
        (
            q2(0x8000_0001_0000_0000, 0x0000_000B_7FFF_FFFF),
            0x8000_0001_0000_0000
        )
    );
    assert_eq!(
        int2!(psubq, a, b).0,
        q2(0x7FFF_FFFE_FFFF_FFFE, 0xFFFF_FFFF_8000_0001)
    );
    assert_eq!(
        int2!(pmuludq, a, b),
        (q2(0xFFFF_FFFF, 0x7FFF_FFFF_8000_0000), 0xFFFF_FFFF)
    );
}

#[test]
fn logic_ops() {
    let a = 0xFF00_F0F0u128 | (1 << 127);
    let b = 0x0FF0_FF00u128;
    assert_eq!(int2!(pand, a, b).0, 0x0F00_F000);
    assert_eq!(int2!(por, a, b).0, 0xFFF0_FFF0 | (1 << 127));
    assert_eq!(int2!(pxor, a, b).0, 0xF0F0_0FF0 | (1 << 127));
    assert_eq!(int2!(pandn, a, b), (0x00F0_0F00, 0x00F0_0F00));
    assert_eq!(xint2!(andps, a, b), 0x0F00_F000);
    assert_eq!(xint2!(andnpd, a, b), 0x00F0_0F00);
    assert_eq!(xint2!(orps, a, b), 0xFFF0_FFF0 | (1 << 127));
    assert_eq!(xint2!(xorpd, a, b), 0xF0F0_0FF0 | (1 << 127));
}

#[test]
fn unpacks_and_packs() {
    let a = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100u128;
    let b = 0x1F1E_1D1C_1B1A_1918_1716_1514_1312_1110u128;
    assert_eq!(
        int2!(punpcklbw, a, b),
        (
            0x1707_1606_1505_1404_1303_1202_1101_1000,
            0x1303_1202_1101_1000
        )
    );
    assert_eq!(
        int2!(punpckhbw, a, b),
        (
            0x1F0F_1E0E_1D0D_1C0C_1B0B_1A0A_1909_1808,
            0x1707_1606_1505_1404
        )
    );
    assert_eq!(
        int2!(punpcklwd, a, b).0,
        0x1716_0706_1514_0504_1312_0302_1110_0100
    );
    assert_eq!(
        int2!(punpckhwd, a, b).0,
        0x1F1E_0F0E_1D1C_0D0C_1B1A_0B0A_1918_0908
    );
    assert_eq!(
        int2!(punpckldq, a, b),
        (
            0x1716_1514_0706_0504_1312_1110_0302_0100,
            0x1312_1110_0302_0100
        )
    );
    assert_eq!(
        int2!(punpckhdq, a, b).0,
        0x1F1E_1D1C_0F0E_0D0C_1B1A_1918_0B0A_0908
    );
    assert_eq!(xint2!(punpcklqdq, a, b), q2(a as u64, b as u64));
    assert_eq!(
        xint2!(punpckhqdq, a, b),
        q2((a >> 64) as u64, (b >> 64) as u64)
    );
    assert_eq!(
        xint2!(unpcklps, a, b),
        0x1716_1514_0706_0504_1312_1110_0302_0100
    );
    assert_eq!(
        xint2!(unpckhps, a, b),
        0x1F1E_1D1C_0F0E_0D0C_1B1A_1918_0B0A_0908
    );
    assert_eq!(xint2!(unpcklpd, a, b), q2(a as u64, b as u64));
    assert_eq!(
        xint2!(unpckhpd, a, b),
        q2((a >> 64) as u64, (b >> 64) as u64)
    );

    let a = 0xFFFF_0005_FF7F_0080u128;
    let b = 0x0002_0001_8000_7FFFu128;
    assert_eq!(
        int2!(packsswb, a, b),
        (q2(0xFF05_807F, 0x0201_807F), 0x0201_807F_FF05_807F)
    );
    assert_eq!(int2!(packuswb, a, b).0, q2(0x0005_0080, 0x0201_00FF));
    let a = d4([0x0001_0000, 0xFFFF_0000, 5, 0xFFFF_FFFF]);
    let b = d4([0x7FFF, 0x8000, 0, 1]);
    assert_eq!(
        int2!(packssdw, a, b).0,
        0x0001_0000_7FFF_7FFF_FFFF_0005_8000_7FFF
    );
}

#[test]
fn shifts_by_immediate_and_by_register() {
    let v = ok(
        64,
        |c| {
            for r in 0..8 {
                c.fpu.xmm[r] = 0x8421_8421_8421_8421_8421_8421_8421_8421;
            }
            c.fpu.xmm[8] = d4([0x8000_0001, 0x8000_0000, 1, 2]);
            c.fpu.xmm[9] = d4([0x8000_0001, 0x8000_0000, 1, 2]);
            c.fpu.xmm[10] = q2(1 << 63, 3);
            c.fpu.xmm[11] = q2(0x1_0000_0001, 0); // count >= 64
            c.fpu.xmm[12] = q2(4, u64::MAX); // count 4; upper half ignored
            c.fpu.xmm[13] = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100;
            c.fpu.xmm[14] = c.fpu.xmm[13];
            c.fpu.xmm[15] = q2(1 << 63, 3);
            c.fpu.st[2].signif = 0x8421_0001_8000_0000;
        },
        |a| {
            a.psllw(xmm0, 4)?;
            a.psrlw(xmm1, 4)?;
            a.psraw(xmm2, 4)?;
            a.psllw(xmm3, 16)?;
            a.psraw(xmm4, 200)?;
            a.psrlw(xmm5, xmm12)?;
            a.psllq(xmm6, xmm11)?;
            a.psrad(xmm7, xmm11)?;
            a.pslld(xmm8, 1)?;
            a.psrad(xmm9, 31)?;
            a.psrlq(xmm10, 63)?;
            a.pslldq(xmm13, 3)?;
            a.psrldq(xmm14, 16)?;
            a.psrld(mm2, 4)?;
            a.psllq(xmm15, 1)
        },
    );
    let c = &v.cpu;
    let w = |x: u16| (0..8).fold(0u128, |r, k| r | (u128::from(x) << (16 * k)));
    assert_eq!(c.fpu.xmm[0], w(0x4210));
    assert_eq!(c.fpu.xmm[1], w(0x0842));
    assert_eq!(c.fpu.xmm[2], w(0xF842));
    assert_eq!(c.fpu.xmm[3], 0);
    assert_eq!(c.fpu.xmm[4], w(0xFFFF));
    assert_eq!(c.fpu.xmm[5], w(0x0842));
    assert_eq!(c.fpu.xmm[6], 0);
    assert_eq!(c.fpu.xmm[7], w(0xFFFF));
    assert_eq!(c.fpu.xmm[8], d4([2, 0, 2, 4]));
    assert_eq!(c.fpu.xmm[9], d4([u32::MAX, u32::MAX, 0, 0]));
    assert_eq!(c.fpu.xmm[10], q2(1, 0));
    assert_eq!(c.fpu.xmm[13], 0x0C0B_0A09_0807_0605_0403_0201_0000_0000);
    assert_eq!(c.fpu.xmm[14], 0);
    assert_eq!(c.fpu.st[2].signif, 0x0842_1000_0800_0000);
    assert_eq!(c.fpu.xmm[15], q2(0, 6));
}

#[test]
fn shuffles() {
    let a = d4([0xA0, 0xA1, 0xA2, 0xA3]);
    let b = d4([0xB0, 0xB1, 0xB2, 0xB3]);
    let w = 0x0007_0006_0005_0004_0003_0002_0001_0000u128;
    let v = ok(
        64,
        |c| {
            c.fpu.xmm[0] = a;
            c.fpu.xmm[1] = b;
            c.fpu.xmm[2] = a;
            c.fpu.xmm[4] = w;
            c.fpu.xmm[8] = a;
            c.fpu.xmm[9] = b;
            c.fpu.st[3].signif = 0x0003_0002_0001_0000;
        },
        |asm| {
            asm.shufps(xmm0, xmm1, 0x1B)?;
            asm.shufpd(xmm2, xmm1, 1)?;
            asm.pshufd(xmm3, xmm1, 0x1B)?;
            asm.pshuflw(xmm5, xmm4, 0x1B)?;
            asm.pshufhw(xmm6, xmm4, 0x1B)?;
            asm.pshufw(mm4, mm3, 0x4E)?;
            asm.shufpd(xmm8, xmm9, 2)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], d4([0xA3, 0xA2, 0xB1, 0xB0]));
    assert_eq!(c.fpu.xmm[2], d4([0xA2, 0xA3, 0xB0, 0xB1]));
    assert_eq!(c.fpu.xmm[3], d4([0xB3, 0xB2, 0xB1, 0xB0]));
    assert_eq!(c.fpu.xmm[5], 0x0007_0006_0005_0004_0000_0001_0002_0003);
    assert_eq!(c.fpu.xmm[6], 0x0004_0005_0006_0007_0003_0002_0001_0000);
    assert_eq!(c.fpu.st[4].signif, 0x0001_0000_0003_0002);
    assert_eq!(c.fpu.xmm[8], d4([0xA0, 0xA1, 0xB2, 0xB3]));
}

// ---- floating point ----------------------------------------------------------

/// Runs `f` with the given XMM registers and MXCSR; returns the machine.
fn fp(
    regs: &[(usize, u128)],
    mxcsr: u32,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError> + 'static,
) -> Vcpu {
    let regs = regs.to_vec();
    ok(
        64,
        move |c| {
            for (r, v) in regs {
                c.fpu.xmm[r] = v;
            }
            c.fpu.mxcsr = mxcsr;
        },
        f,
    )
}

#[test]
fn packed_and_scalar_arithmetic() {
    let v = fp(
        &[
            (0, d4([F1, F2, F3, FM1])),
            (1, d4([0x3F00_0000, F2, F1, F1])),
            (2, q2(D3, 0x1234)),
            (3, q2(D1, 0xFFFF)),
            (4, d4([F2, 0xAAAA, 0xBBBB, 0xCCCC])),
            (5, q2(D1, D2)),
            (6, q2(D3, D1)),
        ],
        MXCSR,
        |a| {
            a.addps(xmm0, xmm1)?;
            a.subsd(xmm2, xmm3)?;
            a.mulss(xmm4, xmm1)?;
            a.mulpd(xmm5, xmm6)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], d4([0x3FC0_0000, 0x4080_0000, 0x4080_0000, 0]));
    assert_eq!(c.fpu.xmm[2], q2(D2, 0x1234));
    assert_eq!(c.fpu.xmm[4], d4([F1, 0xAAAA, 0xBBBB, 0xCCCC]));
    assert_eq!(c.fpu.xmm[5], q2(D3, D2));
    assert_eq!(c.fpu.mxcsr, MXCSR, "all exact: no flags");
}

#[test]
fn rounding_control_and_the_precision_flag() {
    let third_nearest = 0x3FD5_5555_5555_5555u64;
    let v = fp(&[(0, q2(D1, 7)), (1, q2(D3, 0))], MXCSR, |a| {
        a.divsd(xmm0, xmm1)
    });
    assert_eq!(v.cpu.fpu.xmm[0], q2(third_nearest, 7));
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | PE);
    // RC = 10b (round up).
    let v = fp(&[(0, q2(D1, 7)), (1, q2(D3, 0))], MXCSR | 2 << 13, |a| {
        a.divsd(xmm0, xmm1)
    });
    assert_eq!(v.cpu.fpu.xmm[0], q2(third_nearest + 1, 7));
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | 2 << 13 | PE);
    // sqrt(4) exact, sqrt(2) inexact.
    let v = fp(&[(1, q2(0x4010_0000_0000_0000, D2))], MXCSR, |a| {
        a.sqrtpd(xmm0, xmm1)
    });
    assert_eq!(v.cpu.fpu.xmm[0], q2(D2, 0x3FF6_A09E_667F_3BCD));
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | PE);
    // An unmasked precision exception on an exact operation is not raised.
    let v = fp(
        &[(0, u128::from(F1)), (1, u128::from(F1))],
        MXCSR & !(PE << 7),
        |a| a.addss(xmm0, xmm1),
    );
    assert_eq!(v.cpu.fpu.xmm[0], u128::from(F2));
}

#[test]
fn invalid_and_divide_by_zero_masked() {
    let v = fp(
        &[(0, u128::from(F1)), (1, 0), (2, u128::from(FM1))],
        MXCSR,
        |a| {
            a.divss(xmm0, xmm1)?;
            a.sqrtss(xmm3, xmm2)
        },
    );
    assert_eq!(v.cpu.fpu.xmm[0], 0x7F80_0000, "+inf");
    assert_eq!(v.cpu.fpu.xmm[3] as u32, 0xFFC0_0000, "QNaN indefinite");
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | ZE | IE);
}

#[test]
fn unmasked_exceptions_raise_xm_or_ud_and_leave_the_destination() {
    let set = |osxmm: bool| {
        move |c: &mut Cpu| {
            c.fpu.xmm[0] = q2(u64::from(F1), D1);
            c.fpu.xmm[1] = 0;
            c.fpu.mxcsr = MXCSR & !(ZE << 7);
            if !osxmm {
                c.ctrl.cr4 &= !Cr4::OSXMMEXCPT.bits();
            }
        }
    };
    let v = faults(64, Exception::XM, set(true), |a| a.divss(xmm0, xmm1));
    assert_eq!(v.cpu.fpu.mxcsr, (MXCSR & !(ZE << 7)) | ZE);
    let v = faults(64, Exception::UD, set(false), |a| a.divps(xmm0, xmm1));
    // 0/0 in the upper lanes is invalid (masked); 1/0 is divide-by-zero
    // (unmasked): both pre-computation flags are set.
    assert_eq!(v.cpu.fpu.mxcsr, (MXCSR & !(ZE << 7)) | ZE | IE);
    // Unmasked precision: only post-computation, all flags set.
    let v = faults(
        64,
        Exception::XM,
        |c| {
            c.fpu.xmm[0] = u128::from(D1);
            c.fpu.xmm[1] = u128::from(D3);
            c.fpu.mxcsr = MXCSR & !(PE << 7);
        },
        |a| a.divsd(xmm0, xmm1),
    );
    assert_eq!(v.cpu.fpu.mxcsr, (MXCSR & !(PE << 7)) | PE);
    // COMISS with an unmasked invalid leaves RFLAGS alone.
    faults(
        64,
        Exception::XM,
        |c| {
            c.fpu.xmm[0] = u128::from(FQNAN);
            c.fpu.mxcsr = MXCSR & !(IE << 7);
        },
        |a| a.comiss(xmm0, xmm1),
    );
    // CVTSD2SI out of range with IE unmasked: the GPR keeps its value.
    faults(
        64,
        Exception::XM,
        |c| {
            c.fpu.xmm[1] = u128::from(0x43E0_0000_0000_0000u64); // 2^63
            c.gpr[0] = 0x55;
            c.fpu.mxcsr = MXCSR & !(IE << 7);
        },
        |a| a.cvtsd2si(rax, xmm1),
    );
}

#[test]
fn ftz_daz_and_unmasked_underflow() {
    // 2^-100 * 2^-30 = 2^-130: a denormal, exactly representable.
    let regs = [
        (0, u128::from(0x0D80_0000u32)),
        (1, u128::from(0x3080_0000u32)),
    ];
    let v = fp(&regs, MXCSR, |a| a.mulss(xmm0, xmm1));
    assert_eq!(v.cpu.fpu.xmm[0], 0x0008_0000);
    assert_eq!(
        v.cpu.fpu.mxcsr, MXCSR,
        "exact tiny result, UE masked: no flag"
    );
    let v = fp(&regs, MXCSR | 1 << 15, |a| a.mulss(xmm0, xmm1));
    assert_eq!(v.cpu.fpu.xmm[0], 0, "flushed to zero");
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | 1 << 15 | UE | PE);
    let v = faults(
        64,
        Exception::XM,
        |c| {
            c.fpu.xmm[0] = 0x0D80_0000;
            c.fpu.xmm[1] = 0x3080_0000;
            c.fpu.mxcsr = MXCSR & !(UE << 7);
        },
        |a| a.mulss(xmm0, xmm1),
    );
    assert_eq!(v.cpu.fpu.mxcsr, (MXCSR & !(UE << 7)) | UE);
    // A denormal operand: DE (and PE: 1 + 2^-130 rounds to 1).
    let v = fp(&[(0, u128::from(F1)), (1, 0x0008_0000)], MXCSR, |a| {
        a.addss(xmm0, xmm1)
    });
    assert_eq!(v.cpu.fpu.xmm[0], u128::from(F1));
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | DE | PE);
    // DAZ: the denormal reads as zero; no DE.
    let v = fp(&[(0, 0), (1, 0x0008_0000)], MXCSR | 1 << 6, |a| {
        a.addss(xmm0, xmm1)
    });
    assert_eq!(v.cpu.fpu.xmm[0], 0);
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | 1 << 6);
}

#[test]
fn min_max_return_the_second_operand_for_nans_and_zeros() {
    let a = d4([FQNAN, F1, 0, 0x8000_0000]);
    let b = d4([F1, FQNAN, 0x8000_0000, 0]);
    let v = fp(
        &[(0, a), (1, b), (2, a), (3, d4([F2, F2, F2, F2]))],
        MXCSR,
        |asm| {
            asm.minps(xmm0, xmm1)?;
            asm.maxps(xmm2, xmm1)?;
            asm.minss(xmm3, xmm1)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], b);
    assert_eq!(c.fpu.xmm[2], b);
    assert_eq!(c.fpu.xmm[3], d4([F1, F2, F2, F2]));
    assert_eq!(
        c.fpu.mxcsr,
        MXCSR | IE,
        "a QNaN operand is invalid for MIN/MAX"
    );
}

#[test]
fn compare_predicates() {
    let a = d4([F1, F2, FQNAN, F3]);
    let b = d4([F2, F2, F1, F1]);
    let t = u32::MAX;
    let want = [
        [0, t, 0, 0], // EQ
        [t, 0, 0, 0], // LT
        [t, t, 0, 0], // LE
        [0, 0, t, 0], // UNORD
        [t, 0, t, t], // NEQ
        [0, t, t, t], // NLT
        [0, 0, t, t], // NLE
        [t, t, 0, t], // ORD
    ];
    for (p, w) in want.iter().enumerate() {
        let v = fp(&[(0, a), (1, b)], MXCSR, move |asm| {
            asm.cmpps(xmm0, xmm1, p as u32)
        });
        assert_eq!(v.cpu.fpu.xmm[0], d4(*w), "predicate {p}");
        // LT, LE, NLT, NLE signal invalid on a QNaN; the others do not.
        let ie = if matches!(p, 1 | 2 | 5 | 6) { IE } else { 0 };
        assert_eq!(v.cpu.fpu.mxcsr, MXCSR | ie, "predicate {p}");
    }
    let v = fp(&[(0, q2(D1, 5)), (1, q2(D2, 6))], MXCSR, |asm| {
        asm.cmpsd_3(xmm0, xmm1, 1)?;
        asm.cmppd(xmm2, xmm1, 4)
    });
    assert_eq!(v.cpu.fpu.xmm[0], q2(u64::MAX, 5));
    assert_eq!(v.cpu.fpu.xmm[2], q2(u64::MAX, u64::MAX));
}

#[test]
fn comiss_and_ucomiss_flags() {
    let cases: [(u32, u32, u64); 4] = [
        (F1, F2, CF),
        (F2, F2, ZF),
        (F3, F2, 0),
        (FQNAN, F2, ZF | PF | CF),
    ];
    for (x, y, fl) in cases {
        for signaling in [false, true] {
            let v = ok(
                64,
                |c| {
                    c.fpu.xmm[0] = u128::from(x);
                    c.fpu.xmm[1] = u128::from(y);
                    c.rflags |= OF | SF | AF;
                },
                move |a| {
                    if signaling {
                        a.comiss(xmm0, xmm1)
                    } else {
                        a.ucomiss(xmm0, xmm1)
                    }
                },
            );
            assert_eq!(v.cpu.rflags & (OF | SF | AF | ZF | PF | CF), fl);
            let ie = if x == FQNAN && signaling { IE } else { 0 };
            assert_eq!(v.cpu.fpu.mxcsr, MXCSR | ie);
        }
    }
    // UCOMISD signals invalid only for an SNaN.
    let v = fp(
        &[(0, u128::from(0x7FF0_0000_0000_0001u64)), (1, 0)],
        MXCSR,
        |a| a.ucomisd(xmm0, xmm1),
    );
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR | IE);
    assert_eq!(v.cpu.rflags & (ZF | PF | CF), ZF | PF | CF);
}

#[test]
fn integer_conversions() {
    let v = fp(
        &[
            (0, u128::MAX),
            (1, u128::MAX),
            (2, u128::from(0x4020_0000u32)),           // 2.5f
            (3, u128::from(0xC02C_CCCDu32)),           // -2.7f
            (4, u128::from(0x43E1_58E4_6000_0000u64)), // ~1e19
            (5, u128::from(0x41E6_5A0B_C000_0000u64)), // 3e9
        ],
        MXCSR,
        |a| {
            a.mov(rax, -3i64)?;
            a.cvtsi2sd(xmm0, rax)?;
            a.mov(ecx, 16_777_217u32)?;
            a.cvtsi2ss(xmm1, ecx)?;
            a.cvtss2si(edx, xmm2)?;
            a.cvttss2si(rsi, xmm3)?;
            a.cvtsd2si(rdi, xmm4)?;
            a.mov(r8, -1i64)?;
            a.cvttsd2si(r8d, xmm5)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], q2(0xC008_0000_0000_0000, u64::MAX));
    assert_eq!(c.fpu.xmm[1], (u128::MAX << 32) | 0x4B80_0000);
    assert_eq!(c.gpr[2], 2, "2.5 rounds to even");
    assert_eq!(c.gpr[6], (-2i64) as u64, "truncation");
    assert_eq!(c.gpr[7], 1 << 63, "64-bit integer indefinite");
    assert_eq!(c.gpr[8], 0x8000_0000, "32-bit indefinite, zero-extended");
    assert_eq!(c.fpu.mxcsr, MXCSR | PE | IE);
    // Round down: -2.5 -> -3; round up: 2^24 + 1 -> 2^24 + 2.
    let v = fp(&[(2, u128::from(0xC020_0000u32))], MXCSR | 1 << 13, |a| {
        a.cvtss2si(eax, xmm2)
    });
    assert_eq!(v.cpu.gpr[0], 0xFFFF_FFFD);
    let v = fp(&[], MXCSR | 2 << 13, |a| {
        a.mov(ecx, 16_777_217u32)?;
        a.cvtsi2ss(xmm1, ecx)
    });
    assert_eq!(v.cpu.fpu.xmm[1] as u32, 0x4B80_0001);
}

#[test]
fn packed_and_width_conversions() {
    let v = fp(
        &[
            (1, d4([1, (-2i32) as u32, 16_777_217, 0])),
            (2, d4([0x3FC0_0000, 0x4020_0000, 0xBFC0_0000, 0x5015_02F9])), // 1.5 2.5 -1.5 1e10
            (3, d4([0x3FD9_999A, 0xBFD9_999A, 0, 0])),                     // 1.7 -1.7
            (4, d4([5, (-1i32) as u32, 9, 9])),
            (5, q2(0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000)), // 1.5 2.5
            (6, d4([F1, 0x3F00_0000, 9, 9])),
            (7, q2(D1, D3)),
            (8, q2(0x3FB9_9999_9999_999A, 0)), // 0.1
            (9, u128::from(F3)),
            (10, q2(u64::MAX, 42)),
            (11, d4([0, 0, 0xAAAA, 0xBBBB])),
        ],
        MXCSR,
        |a| {
            a.cvtdq2ps(xmm0, xmm1)?;
            a.cvtps2dq(xmm12, xmm2)?;
            a.cvttps2dq(xmm13, xmm3)?;
            a.cvtdq2pd(xmm14, xmm4)?;
            a.cvtpd2dq(xmm15, xmm5)?;
            a.cvtps2pd(xmm6, xmm6)?;
            a.cvtpd2ps(xmm7, xmm7)?;
            a.cvtsd2ss(xmm11, xmm8)?;
            a.cvtss2sd(xmm10, xmm9)
        },
    );
    let c = &v.cpu;
    assert_eq!(c.fpu.xmm[0], d4([F1, 0xC000_0000, 0x4B80_0000, 0]));
    assert_eq!(c.fpu.xmm[12], d4([2, 2, (-2i32) as u32, 0x8000_0000]));
    assert_eq!(c.fpu.xmm[13], d4([1, (-1i32) as u32, 0, 0]));
    assert_eq!(
        c.fpu.xmm[14],
        q2(0x4014_0000_0000_0000, 0xBFF0_0000_0000_0000)
    );
    assert_eq!(c.fpu.xmm[15], d4([2, 2, 0, 0]));
    assert_eq!(c.fpu.xmm[6], q2(D1, 0x3FE0_0000_0000_0000));
    assert_eq!(c.fpu.xmm[7], d4([F1, F3, 0, 0]));
    assert_eq!(c.fpu.xmm[11], d4([0x3DCC_CCCD, 0, 0xAAAA, 0xBBBB]));
    assert_eq!(c.fpu.xmm[10], q2(0x4008_0000_0000_0000, 42));
    assert_eq!(c.fpu.mxcsr, MXCSR | PE | IE);
}

#[test]
fn mmx_conversions() {
    let v = ok(
        64,
        |c| {
            c.fpu.st[1].signif = 0xFFFF_FFFC_0000_0003; // [3, -4]
            c.fpu.xmm[0] = u128::MAX;
            c.fpu.xmm[2] = d4([0x3FC0_0000, 0xBFC0_0000, 9, 9]); // 1.5 -1.5
            c.fpu.xmm[3] = q2(0x3FF8_0000_0000_0000, 0xC004_0000_0000_0000); // 1.5 -2.5
            c.fpu.fsw = 3 << 11;
            c.fpu.ftw = 0xFFFF;
        },
        |a| {
            a.cvtpi2ps(xmm0, mm1)?;
            a.cvtpi2pd(xmm1, mm1)?;
            a.cvtps2pi(mm2, xmm2)?;
            a.cvttps2pi(mm3, xmm2)?;
            a.cvtpd2pi(mm4, xmm3)?;
            a.cvttpd2pi(mm5, xmm3)
        },
    );
    let c = &v.cpu;
    assert_eq!(
        c.fpu.xmm[0],
        (u128::MAX << 64) | u128::from(0xC080_0000_4040_0000u64)
    );
    assert_eq!(
        c.fpu.xmm[1],
        q2(0x4008_0000_0000_0000, 0xC010_0000_0000_0000)
    );
    assert_eq!(c.fpu.st[2].signif, 0xFFFF_FFFE_0000_0002);
    assert_eq!(c.fpu.st[3].signif, 0xFFFF_FFFF_0000_0001);
    assert_eq!(c.fpu.st[4].signif, 0xFFFF_FFFE_0000_0002);
    assert_eq!(c.fpu.st[5].signif, 0xFFFF_FFFE_0000_0001);
    assert_eq!((c.fpu.fsw >> 11 & 7, c.fpu.ftw), (0, 0));
    // The memory form of CVTPI2PS is not an MMX instruction.
    let v = ok(
        64,
        |c| {
            c.gpr[3] = DATA;
            c.fpu.ftw = 0xFFFF;
            c.fpu.fsw = 0x80 | 1 | (3 << 11); // a pending x87 error does not matter
        },
        |a| a.cvtpi2ps(xmm0, qword_ptr(rbx)),
    );
    assert_eq!(v.cpu.fpu.ftw, 0xFFFF);
}

#[test]
fn rcp_and_rsqrt_are_within_the_documented_error() {
    let v = fp(&[(1, d4([F2, 0x4080_0000, F3, F1]))], MXCSR, |a| {
        a.rcpps(xmm0, xmm1)?;
        a.rsqrtps(xmm2, xmm1)
    });
    let r = |x: u128, k: usize| f32::from_bits((x >> (32 * k)) as u32);
    let inputs = [2.0f32, 4.0, 3.0, 1.0];
    for (k, x) in inputs.iter().enumerate() {
        // |relative error| <= 1.5 * 2^-12 (SDM RCPPS, RSQRTPS).
        let e1 = (r(v.cpu.fpu.xmm[0], k) * x - 1.0).abs();
        let e2 = (r(v.cpu.fpu.xmm[2], k) * x.sqrt() - 1.0).abs();
        assert!(e1 <= 1.5 / 4096.0 && e2 <= 1.5 / 4096.0, "lane {k}");
    }
}

// ---- state -------------------------------------------------------------

#[test]
fn ldmxcsr_stmxcsr_and_reserved_bits() {
    let v = ok(
        32,
        |c| {
            c.gpr[3] = DATA;
            put(c, 0, &0x7F80u32.to_le_bytes());
        },
        |a| {
            a.ldmxcsr(dword_ptr(ebx))?;
            a.stmxcsr(dword_ptr(ebx + 4))
        },
    );
    assert_eq!(v.cpu.fpu.mxcsr, 0x7F80);
    assert_eq!(&data(&v.cpu, 8)[4..8], &0x7F80u32.to_le_bytes());
    let v = faults(
        64,
        Exception::GP(0),
        |c| {
            c.gpr[3] = DATA;
            put(c, 0, &0x1_1F80u32.to_le_bytes());
        },
        |a| a.ldmxcsr(dword_ptr(rbx)),
    );
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR);
}

#[test]
fn fxsave_fxrstor_round_trip_alignment_and_reserved_mxcsr() {
    let setup = |c: &mut Cpu| {
        c.gpr[3] = DATA;
        c.fpu.fcw = 0x027F;
        c.fpu.mxcsr = 0x1FA0;
        c.fpu.xmm[0] = 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF;
        c.fpu.xmm[7] = 7;
        c.fpu.xmm[8] = 8;
        c.fpu.fip = 0x1122_3344_5566_7788;
    };
    let v = ok(64, setup, |a| a.fxsave64(ptr(rbx)));
    let mut img = [0u8; 512];
    v.cpu.mmu.phys.read(DATA, &mut img);
    assert_eq!(&img[0..2], &0x027Fu16.to_le_bytes());
    assert_eq!(&img[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&img[24..28], &0x1FA0u32.to_le_bytes());
    assert_eq!(&img[28..32], &0xFFFFu32.to_le_bytes(), "MXCSR_MASK");
    assert_eq!(&img[160..176], &v.cpu.fpu.xmm[0].to_le_bytes());
    assert_eq!(&img[160 + 16 * 8..176 + 16 * 8], &8u128.to_le_bytes());
    // 32-bit mode: 32-bit FIP and FCS, XMM0-7 only.
    let v = ok(32, setup, |a| a.fxsave(ptr(ebx)));
    let mut img = [0u8; 512];
    v.cpu.mmu.phys.read(DATA, &mut img);
    assert_eq!(&img[8..12], &0x5566_7788u32.to_le_bytes());
    assert_eq!(&img[160 + 16 * 7..176 + 16 * 7], &7u128.to_le_bytes());
    assert_eq!(&img[160 + 16 * 8..176 + 16 * 8], &[0; 16]);
    // Round trip: save, clobber, restore.
    let v = ok(64, setup, |a| {
        a.fxsave(ptr(rbx))?;
        a.pxor(xmm0, xmm0)?;
        a.mov(eax, 0u32)?;
        a.fxrstor(ptr(rbx))
    });
    assert_eq!(v.cpu.fpu.xmm[0], 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF);
    assert_eq!(v.cpu.fpu.mxcsr, 0x1FA0);
    // Misaligned: #GP(0), nothing written.
    faults(
        64,
        Exception::GP(0),
        |c| c.gpr[3] = DATA + 8,
        |a| a.fxsave(ptr(rbx)),
    );
    // TS: #NM.
    faults(
        64,
        Exception::NM,
        |c| {
            c.gpr[3] = DATA;
            c.ctrl.cr0 |= Cr0::TS.bits();
        },
        |a| a.fxsave(ptr(rbx)),
    );
    // A reserved MXCSR bit in the image: #GP(0), nothing restored.
    faults(
        64,
        Exception::GP(0),
        |c| {
            c.gpr[3] = DATA;
            put(c, 24, &0x10000u32.to_le_bytes());
            c.fpu.xmm[0] = 5;
        },
        |a| a.fxrstor(ptr(rbx)),
    );
}

// ---- other modes -------------------------------------------------------

#[test]
fn sse_in_real_mode_and_32_bit_mode() {
    let v = ok(
        0,
        |c| {
            c.mmu
                .phys
                .write(0x2000, &d4([F1, F2, F3, F1]).to_le_bytes());
            c.fpu.xmm[1] = d4([F1, F1, F1, F1]);
        },
        |a| {
            a.mov(bx, 0x2000u32)?;
            a.movaps(xmm0, xmmword_ptr(bx))?;
            a.addps(xmm0, xmm1)?;
            a.movd(eax, xmm0)
        },
    );
    assert_eq!(v.cpu.fpu.xmm[0], d4([F2, F3, 0x4080_0000, F2]));
    assert_eq!(v.cpu.gpr[0], u64::from(F2));
    let v = ok(
        32,
        |c| c.fpu.xmm[2] = d4([1, 2, 3, 4]),
        |a| {
            a.mov(eax, 7u32)?;
            a.cvtsi2sd(xmm1, eax)?;
            a.paddd(xmm2, xmm2)?;
            a.pextrw(ecx, xmm2, 6)
        },
    );
    assert_eq!(v.cpu.fpu.xmm[1] as u64, 0x401C_0000_0000_0000);
    assert_eq!(v.cpu.gpr[1], 8);
}

// ---- engine ------------------------------------------------------------

/// The portable engine agrees with the host engine where it claims to
/// (round to nearest, no FTZ/DAZ; it reports no flags).
#[test]
fn portable_engine_matches_the_host_on_ordinary_values() {
    let a = d4([F1, F3, 0x4120_0000, FM1]);
    let b = d4([F3, F2, 0x3E80_0000, F1]);
    let da = q2(D1, 0x4024_0000_0000_0000);
    let db = q2(D3, D2);
    macro_rules! same {
        ($op:expr, $x:expr, $y:expr) => {
            assert_eq!(
                eng::op2::<{ $op }>($x, $y, MXCSR).0,
                eng::soft::op2::<{ $op }>($x, $y, MXCSR).0,
                "op {}",
                $op
            );
        };
    }
    same!(eng::ADD + PS, a, b);
    same!(eng::SUB + SS, a, b);
    same!(eng::MUL + PD, da, db);
    same!(eng::DIV + SD, da, db);
    same!(eng::DIV + PS, a, b);
    same!(eng::MIN + PS, a, b);
    same!(eng::MAX + PD, da, db);
    same!(eng::SQRT + PD, da, db);
    same!(eng::CVTPS2PD, a, b);
    same!(eng::CVTPD2PS, da, db);
    same!(
        eng::CVTPS2DQ,
        a,
        d4([0x3FC0_0000, 0x4020_0000, 0x5015_02F9, FM1])
    );
    same!(eng::CVTDQ2PD, a, d4([5, 7, 0, 0]));
    for p in 0..8 {
        assert_eq!(
            eng::cmp::<PS>(a, b, p, MXCSR).0,
            eng::soft::cmp::<PS>(a, b, p, MXCSR).0
        );
        assert_eq!(
            eng::cmp::<SD>(da, db, p, MXCSR).0,
            eng::soft::cmp::<SD>(da, db, p, MXCSR).0
        );
    }
    assert_eq!(
        eng::comi::<false, true>(a, b, MXCSR).0,
        eng::soft::comi::<false, true>(a, b, MXCSR).0
    );
    assert_eq!(
        eng::cvt2si::<{ eng::CVTSD2SI }, true>(u128::from(0x4004_0000_0000_0000u64), MXCSR).0,
        eng::soft::cvt2si::<{ eng::CVTSD2SI }, true>(u128::from(0x4004_0000_0000_0000u64), MXCSR).0
    );
    assert_eq!(
        eng::cvtsi2::<true, false>(a, 0xFFFF_FFF0, MXCSR).0,
        eng::soft::cvtsi2::<true, false>(a, 0xFFFF_FFF0, MXCSR).0
    );
}

// ---- paging ------------------------------------------------------------

/// 32-bit paging identity-mapping the first MByte, with the page at
/// 0x5000 read-only (WP set) and the page at 0x6000 not present.
fn paged(c: &mut Cpu) {
    const PD: u64 = 0x30000;
    const PT: u64 = 0x31000;
    c.mmu.phys.write(PD, &((PT | 7) as u32).to_le_bytes());
    for page in 0..256u64 {
        let flags = match page {
            5 => 5,
            6 => 0,
            _ => 7,
        };
        c.mmu.phys.write(
            PT + 4 * page,
            &(((page << 12) | flags) as u32).to_le_bytes(),
        );
    }
    c.ctrl.cr3 = PD;
    c.ctrl.cr0 |= (1 << 31) | (1 << 16);
    c.mmu.flush_tlb(false);
}

#[test]
fn page_crossing_accesses_fault_before_anything_is_committed() {
    let mem = |c: &Cpu, at: u64| {
        let mut b = [0u8; 16];
        c.mmu.phys.read(at, &mut b);
        b
    };
    // A 16-byte store whose second half is read-only: #PF (P, W) at the
    // second page, the first half not written.
    let (exit, v) = go(
        32,
        |c| {
            paged(c);
            c.fpu.xmm[0] = u128::MAX;
            c.gpr[3] = 0x4FF8;
        },
        Box::new(|a| a.movdqu(xmmword_ptr(ebx), xmm0)),
    );
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x5000,
            error: 3
        })
    );
    assert_eq!(mem(&v.cpu, 0x4FF8), [0; 16]);
    // A 16-byte load whose second half is not present: #PF, XMM unchanged.
    let (exit, v) = go(
        32,
        |c| {
            paged(c);
            c.fpu.xmm[1] = 7;
            c.gpr[3] = 0x5FF8;
        },
        Box::new(|a| a.movups(xmm1, xmmword_ptr(ebx))),
    );
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x6000,
            error: 0
        })
    );
    assert_eq!(v.cpu.fpu.xmm[1], 7);
    // FXSAVE whose last 256 bytes are read-only: nothing written.
    let (exit, v) = go(
        32,
        |c| {
            paged(c);
            c.fpu.fcw = 0x1234;
            c.gpr[3] = 0x4F00;
        },
        Box::new(|a| a.fxsave(ptr(ebx))),
    );
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x5000,
            error: 3
        })
    );
    assert_eq!(mem(&v.cpu, 0x4F00), [0; 16]);
    // FXRSTOR from an area running into the absent page: nothing loaded.
    let (exit, v) = go(
        32,
        |c| {
            paged(c);
            c.mmu.phys.write(0x5F00 + 160, &[0xAA; 16]);
            c.gpr[3] = 0x5F00;
        },
        Box::new(|a| a.fxrstor(ptr(ebx))),
    );
    assert_eq!(
        exit,
        Exit::Exception(Exception::PF {
            addr: 0x6000,
            error: 0
        })
    );
    assert_eq!(v.cpu.fpu.xmm[0], 0);
    assert_eq!(v.cpu.fpu.fcw, 0x037F);
}

#[test]
fn sse_in_16_bit_protected_mode() {
    let v = ok(
        16,
        |c| {
            c.mmu.phys.write(0x2001, &d4([1, 2, 3, 4]).to_le_bytes());
            c.fpu.xmm[1] = d4([10, 20, 30, 40]);
        },
        |a| {
            a.mov(si, 0x2001u32)?;
            a.movdqu(xmm0, xmmword_ptr(si))?;
            a.paddd(xmm0, xmm1)?;
            a.movd(ecx, xmm0)?;
            a.pextrw(edx, xmm0, 6)
        },
    );
    assert_eq!(v.cpu.fpu.xmm[0], d4([11, 22, 33, 44]));
    assert_eq!(v.cpu.gpr[1], 11);
    assert_eq!(v.cpu.gpr[2], 44);
}

#[test]
fn maskmovq_movntq_and_fxsave_with_em() {
    let v = ok(
        32,
        |c| {
            c.fpu.st[1].signif = 0x1122_3344_5566_7788;
            // Store bytes 1 and 6 only.
            c.fpu.st[2].signif = 0x0080_0000_0000_8000;
            c.gpr[7] = DATA;
            c.gpr[3] = DATA + 16;
            put(c, 0, &[0xEE; 8]);
        },
        |a| {
            a.maskmovq(mm1, mm2)?;
            a.movntq(qword_ptr(ebx), mm1)
        },
    );
    let d = data(&v.cpu, 24);
    assert_eq!(&d[..8], &[0xEE, 0x77, 0xEE, 0xEE, 0xEE, 0xEE, 0x22, 0xEE]);
    assert_eq!(&d[16..24], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(v.cpu.fpu.ftw, 0);
    // FXSAVE/FXRSTOR: CR0.EM gives #NM (not #UD), SDM Vol. 2 FXSAVE.
    faults(
        64,
        Exception::NM,
        |c| {
            c.gpr[3] = DATA;
            c.ctrl.cr0 |= Cr0::EM.bits();
        },
        |a| a.fxrstor(ptr(rbx)),
    );
}

/// Stale sticky flags in the host's MXCSR (from earlier guest operations
/// or from Rust code) never leak into the guest's flags.
#[test]
fn host_sticky_flags_do_not_leak_into_the_guest() {
    // Rust code raising PE (and more) in this thread's MXCSR.
    let x = std::hint::black_box(1.0f64) / std::hint::black_box(3.0f64);
    let y = std::hint::black_box(1e308f64) * std::hint::black_box(10.0f64);
    assert!(x < 1.0 && y.is_infinite());
    let v = fp(
        &[
            (0, q2(D1, 0)),
            (1, q2(D3, 0)),
            (2, q2(D1, 0)),
            (3, q2(D2, 0)),
        ],
        MXCSR,
        |a| {
            a.addsd(xmm2, xmm3)?; // exact: no flags although the host has some
            a.movd(eax, xmm0)?;
            a.divsd(xmm0, xmm1)?; // PE
            a.stmxcsr(dword_ptr(rsp - 4))?;
            a.mov(ecx, dword_ptr(rsp - 4))?;
            a.mov(dword_ptr(rsp - 4), MXCSR)?;
            a.ldmxcsr(dword_ptr(rsp - 4))?; // guest clears its flags
            a.mulsd(xmm3, xmm3) // exact again: no flags
        },
    );
    assert_eq!(v.cpu.fpu.xmm[2] as u64, D3);
    assert_eq!(v.cpu.gpr[1], u64::from(MXCSR | PE));
    assert_eq!(v.cpu.fpu.xmm[3] as u64, 0x4010_0000_0000_0000);
    assert_eq!(v.cpu.fpu.mxcsr, MXCSR);
}

/// The fast path for ordinary operations agrees with the full path at the
/// edge of the underflow range: (1 - 2^-24) * 2^-126 rounds up to the
/// smallest normal, and the product is tiny after rounding with an
/// unbounded exponent, so UE and PE are raised (same for doubles).
#[test]
fn fast_path_keeps_underflow_at_the_smallest_normal() {
    let cases: [(u128, u128, u32); 2] = [
        (0x3F7F_FFFF, 0x0080_0000, 0x0080_0000),
        (
            0x3FEF_FFFF_FFFF_FFFF,
            0x0010_0000_0000_0000,
            0, // checked through the double below
        ),
    ];
    for (k, (x, y, want)) in cases.into_iter().enumerate() {
        for csr in [MXCSR, MXCSR | PE] {
            let v = fp(&[(0, x), (1, y)], csr, move |a| {
                if k == 0 {
                    a.mulss(xmm0, xmm1)
                } else {
                    a.mulsd(xmm0, xmm1)
                }
            });
            if k == 0 {
                assert_eq!(v.cpu.fpu.xmm[0] as u32, want);
            } else {
                assert_eq!(v.cpu.fpu.xmm[0] as u64, 0x0010_0000_0000_0000);
            }
            assert_eq!(v.cpu.fpu.mxcsr, MXCSR | UE | PE, "csr {csr:#x} case {k}");
        }
    }
}

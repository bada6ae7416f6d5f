//! Tests of the x87 instructions with hand-computed (SDM-derived) values:
//! loads and stores in every format, arithmetic under rounding and
//! precision control, comparisons, stack faults, unmasked exceptions and
//! #MF, #NM, environment/state images in every mode, FOP/FIP/FDP, and
//! faulting memory operands.

use iced_x86::IcedError;
use iced_x86::code_asm::*;

use crate::exception::Exception;
use crate::fpu::F80;
use crate::run::{Exit, Vcpu};
use crate::state::Cr0;
use crate::testutil::{CODE, DATA, asm, machine, run};

const ONE: F80 = F80 {
    signif: 1 << 63,
    sign_exp: 0x3FFF,
};

/// Runs `f` in mode `bits` (0 = real mode) with `data` written first.
fn x87(
    bits: u32,
    data: &[(u64, &[u8])],
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Vcpu {
    let (v, exit) = x87_exit(bits, 0, data, f);
    assert_eq!(exit, Exit::Hlt, "rip={:#x}", v.cpu.rip);
    v
}

fn x87_exit(
    bits: u32,
    cr0_bits: u64,
    data: &[(u64, &[u8])],
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (Vcpu, Exit) {
    let code = asm(if bits == 0 { 16 } else { bits }, f);
    let mut v = machine(bits);
    v.cpu.ctrl.cr0 |= cr0_bits;
    for (a, d) in data {
        v.cpu.mmu.phys.write(*a, d);
    }
    let exit = run(&mut v, &code);
    (v, exit)
}

fn st(v: &Vcpu, i: usize) -> F80 {
    v.cpu.fpu.st[(v.cpu.fpu.top() + i) & 7]
}

fn mem(v: &Vcpu, a: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    v.cpu.mmu.phys.read(a, &mut b);
    b
}

fn u64_at(v: &Vcpu, a: u64) -> u64 {
    let b = mem(v, a, 8);
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

fn f80(signif: u64, sign_exp: u16) -> F80 {
    F80 { signif, sign_exp }
}

const IE: u16 = 1;
const ZE: u16 = 4;
const OE: u16 = 8;
const UE: u16 = 0x10;
const PE: u16 = 0x20;
const SF: u16 = 0x40;
const ES: u16 = 0x80;
const C0: u16 = 0x100;
const C1: u16 = 0x200;
const C2: u16 = 0x400;
const C3: u16 = 0x4000;

#[test]
fn load_add_store_in_every_mode() {
    for bits in [0, 16, 32, 64] {
        let v = x87(bits, &[], |a| {
            a.fld1()?;
            a.fld1()?;
            a.faddp(st1, st0)?;
            a.fst(qword_ptr(DATA))?;
            a.fstp(dword_ptr(DATA + 8))
        });
        assert_eq!(u64_at(&v, DATA), 0x4000_0000_0000_0000, "bits {bits}");
        assert_eq!(mem(&v, DATA + 8, 4), 0x4000_0000u32.to_le_bytes());
        assert_eq!(v.cpu.fpu.ftw, 0xFFFF, "stack empty again");
        assert_eq!(v.cpu.fpu.top(), 0);
    }
}

#[test]
fn integer_loads_and_stores_round_per_rc() {
    // 7 / 2 = 3.5: round to nearest even gives 4, down 3, up 4, chop 3.
    for (rc, want) in [(0u16, 4u32), (1, 3), (2, 4), (3, 3)] {
        let cw = 0x037F | (rc << 10);
        let v = x87(
            32,
            &[
                (DATA, &7u32.to_le_bytes()),
                (DATA + 4, &2u16.to_le_bytes()),
                (DATA + 6, &cw.to_le_bytes()),
            ],
            |a| {
                a.fldcw(word_ptr(DATA + 6))?;
                a.fild(dword_ptr(DATA))?;
                a.fidiv(word_ptr(DATA + 4))?;
                a.fist(dword_ptr(DATA + 8))?;
                a.fistp(qword_ptr(DATA + 16))?;
                a.fnstsw(ax)
            },
        );
        assert_eq!(mem(&v, DATA + 8, 4), want.to_le_bytes(), "rc {rc}");
        assert_eq!(u64_at(&v, DATA + 16), u64::from(want));
        let sw = v.cpu.gpr[0] as u16;
        assert_eq!(sw & PE, PE);
        assert_eq!(sw & C1 != 0, want == 4, "C1 = rounded up");
    }
    // 2.5 to nearest even is 2; FISTTP truncates -2.75 to -2.
    let v = x87(
        32,
        &[
            (DATA, &[0, 0, 0, 0, 0, 0, 4, 0x40]),
            (DATA + 8, &(-2.75f64).to_bits().to_le_bytes()),
        ],
        |a| {
            a.fld(qword_ptr(DATA))?;
            a.fistp(word_ptr(DATA + 16))?;
            a.fld(qword_ptr(DATA + 8))?;
            a.fisttp(dword_ptr(DATA + 20))
        },
    );
    assert_eq!(mem(&v, DATA + 16, 2), 2u16.to_le_bytes());
    assert_eq!(mem(&v, DATA + 20, 4), (-2i32).to_le_bytes());
}

#[test]
fn integer_store_overflow_gives_the_integer_indefinite() {
    let v = x87(32, &[(DATA, &40000u32.to_le_bytes())], |a| {
        a.fild(dword_ptr(DATA))?;
        a.fist(word_ptr(DATA + 8))?;
        a.fnstsw(ax)
    });
    assert_eq!(mem(&v, DATA + 8, 2), [0x00, 0x80]);
    assert_eq!(v.cpu.gpr[0] as u16 & (IE | SF), IE);
}

#[test]
fn division_follows_precision_control() {
    // 1/3: 64-bit precision stored as a double is 0x3FD5555555555555; at
    // PC = 24 bits the quotient is the single 0x3EAAAAAB.
    for (pc, want) in [
        (3u16, 0x3FD5_5555_5555_5555u64),
        (2, 0x3FD5_5555_5555_5555),
        (0, 0x3FD5_5555_6000_0000),
    ] {
        let cw = 0x007F | (pc << 8);
        let v = x87(
            32,
            &[(DATA, &cw.to_le_bytes()), (DATA + 2, &3u16.to_le_bytes())],
            |a| {
                a.fldcw(word_ptr(DATA))?;
                a.fld1()?;
                a.fidiv(word_ptr(DATA + 2))?;
                a.fstp(qword_ptr(DATA + 8))
            },
        );
        assert_eq!(u64_at(&v, DATA + 8), want, "pc {pc}");
    }
    // PC = 24: 1 + 2^-30 rounds to 1 (inexact, not rounded up).
    let v = x87(
        32,
        &[
            (DATA, &0x007Fu16.to_le_bytes()),
            (
                DATA + 4,
                &(1.0f32 / (1u64 << 30) as f32).to_bits().to_le_bytes(),
            ),
        ],
        |a| {
            a.fldcw(word_ptr(DATA))?;
            a.fld1()?;
            a.fadd(dword_ptr(DATA + 4))?;
            a.fnstsw(ax)
        },
    );
    assert_eq!(st(&v, 0), ONE);
    assert_eq!(v.cpu.gpr[0] as u16 & (PE | C1), PE);
}

#[test]
fn sqrt_and_constants() {
    let v = x87(64, &[(DATA, &2u16.to_le_bytes())], |a| {
        a.fild(word_ptr(DATA))?;
        a.fsqrt()?;
        a.fst(qword_ptr(DATA + 8))?;
        a.fldpi()?;
        a.fldl2e()?;
        a.fldln2()
    });
    assert_eq!(st(&v, 3), f80(0xB504_F333_F9DE_6484, 0x3FFF));
    assert_eq!(u64_at(&v, DATA + 8), 0x3FF6_A09E_667F_3BCD);
    assert_eq!(st(&v, 2), f80(0xC90F_DAA2_2168_C235, 0x4000));
    assert_eq!(st(&v, 1), f80(0xB8AA_3B29_5C17_F0BC, 0x3FFF));
    assert_eq!(st(&v, 0), f80(0xB172_17F7_D1CF_79AC, 0x3FFE));
    // Rounded down: pi and ln 2 truncate.
    let v = x87(32, &[(DATA, &0x077Fu16.to_le_bytes())], |a| {
        a.fldcw(word_ptr(DATA))?;
        a.fldpi()?;
        a.fldlg2()?;
        a.fldl2t()
    });
    assert_eq!(st(&v, 2), f80(0xC90F_DAA2_2168_C234, 0x4000));
    assert_eq!(st(&v, 1), f80(0x9A20_9A84_FBCF_F798, 0x3FFD));
    assert_eq!(st(&v, 0), f80(0xD49A_784B_CD1B_8AFE, 0x4000));
}

#[test]
fn reverse_forms_and_pops() {
    // ST0 = 8, ST1 = 2: fsub st1,st0 -> ST1 = 2 - 8 = -6; fsubr st0,st1
    // -> ST0 = -6 - 8 = -14; fdivrp st1 -> ST1/ST0 reversed... checked
    // step by step.
    let v = x87(
        32,
        &[(DATA, &2u32.to_le_bytes()), (DATA + 4, &8u32.to_le_bytes())],
        |a| {
            a.fild(dword_ptr(DATA))?;
            a.fild(dword_ptr(DATA + 4))?;
            a.fsub_2(st1, st0)?; // ST1 = 2 - 8 = -6
            a.fsubr_2(st0, st1)?; // ST0 = -6 - 8 = -14
            a.fdivrp(st1, st0)?; // ST1 = ST0 / ST1 = -14 / -6, pop
            a.fimul(dword_ptr(DATA))?; // * 2
            a.fistp(dword_ptr(DATA + 8))?; // 4.67 -> 5
            a.fild(dword_ptr(DATA + 4))?;
            a.fisubr(dword_ptr(DATA))?; // 2 - 8 = -6
            a.fistp(dword_ptr(DATA + 12))
        },
    );
    assert_eq!(mem(&v, DATA + 8, 4), 5i32.to_le_bytes());
    assert_eq!(mem(&v, DATA + 12, 4), (-6i32).to_le_bytes());
    assert_eq!(v.cpu.fpu.ftw, 0xFFFF);
}

#[test]
fn compares_set_condition_codes_and_eflags() {
    let v = x87(32, &[(DATA, &2.0f64.to_bits().to_le_bytes())], |a| {
        a.fld(qword_ptr(DATA))?; // ST1 = 2
        a.fld1()?; // ST0 = 1
        a.fcom_2(st0, st1)?;
        a.fnstsw(ax)?;
        a.mov(ebx, eax)?;
        a.fcom(qword_ptr(DATA))?;
        a.fnstsw(ax)?;
        a.mov(ecx, eax)?;
        a.fxch(st0, st1)?; // ST0 = 2
        a.fcomi(st0, st1)?; // 2 > 1
        a.pushfd()?;
        a.fucomi(st0, st0)?;
        a.pushfd()?;
        a.fcompp()?;
        a.fnstsw(ax)?;
        a.pop(esi)?;
        a.pop(edi)
    });
    assert_eq!(v.cpu.gpr[3] as u16 & (C3 | C2 | C0), C0, "1 < 2");
    assert_eq!(v.cpu.gpr[1] as u16 & (C3 | C2 | C0), C0);
    assert_eq!(v.cpu.gpr[7] & 0x8D5, 0, "greater: ZF PF CF clear");
    assert_eq!(v.cpu.gpr[6] & 0x8D5, 0x40, "equal: ZF");
    assert_eq!(v.cpu.gpr[0] as u16 & (C3 | C2 | C0), 0, "2 > 1");
    assert_eq!(v.cpu.fpu.ftw, 0xFFFF, "FCOMPP popped twice");
}

#[test]
fn unordered_compares() {
    // QNaN: FUCOM raises nothing, FCOM raises IE; both unordered.
    let nan = 0x7FF8_0000_0000_0000u64.to_le_bytes();
    let v = x87(32, &[(DATA, &nan)], |a| {
        a.fld(qword_ptr(DATA))?;
        a.fld1()?;
        a.fucom(st0, st1)?;
        a.fnstsw(ax)?;
        a.mov(ebx, eax)?;
        a.fcom_2(st0, st1)?;
        a.fnstsw(ax)?;
        a.fcomi(st0, st1)?;
        a.pushfd()?;
        a.pop(ecx)
    });
    assert_eq!(v.cpu.gpr[3] as u16 & (C3 | C2 | C0 | IE), C3 | C2 | C0);
    assert_eq!(v.cpu.gpr[0] as u16 & (C3 | C2 | C0 | IE), C3 | C2 | C0 | IE);
    assert_eq!(v.cpu.gpr[1] & 0x45, 0x45);
}

#[test]
fn ftst_fxam_fchs_fabs() {
    let den = [1u8, 0, 0, 0, 0, 0, 0, 0]; // smallest double denormal
    let v = x87(32, &[(DATA, &den)], |a| {
        a.fxam()?; // empty
        a.fnstsw(ax)?;
        a.mov(ebx, eax)?;
        a.fldz()?;
        a.fchs()?; // -0
        a.fxam()?;
        a.fnstsw(ax)?;
        a.mov(ecx, eax)?;
        a.ftst()?; // -0 == 0
        a.fnstsw(ax)?;
        a.mov(edx, eax)?;
        a.fld(qword_ptr(DATA))?; // denormal double: normal in extended
        a.fxam()?;
        a.fnstsw(ax)?;
        a.mov(esi, eax)?;
        a.fld1()?;
        a.fchs()?;
        a.fabs()?;
        a.fxam()?;
        a.fnstsw(ax)
    });
    let cc = |r: u64| r as u16 & (C3 | C2 | C1 | C0);
    assert_eq!(cc(v.cpu.gpr[3]), C3 | C0, "empty");
    assert_eq!(cc(v.cpu.gpr[1]), C3 | C1, "negative zero");
    assert_eq!(cc(v.cpu.gpr[2]), C3, "equal");
    assert_eq!(cc(v.cpu.gpr[6]), C2, "normal");
    assert_eq!(v.cpu.gpr[6] as u16 & 2, 2, "DE from the denormal double");
    assert_eq!(cc(v.cpu.gpr[0]), C2, "+1.0 normal");
    assert_eq!(st(&v, 2), f80(0, 0x8000));
}

#[test]
fn stack_overflow_and_underflow_masked() {
    let v = x87(32, &[], |a| {
        for _ in 0..9 {
            a.fld1()?;
        }
        a.fnstsw(ax)
    });
    let sw = v.cpu.gpr[0] as u16;
    assert_eq!(sw & (IE | SF | C1), IE | SF | C1);
    assert_eq!(st(&v, 0), crate::softfloat80::INDEFINITE);
    let v = x87(32, &[], |a| {
        a.fld1()?;
        a.fadd_2(st0, st3)?;
        a.fnstsw(ax)
    });
    assert_eq!(v.cpu.gpr[0] as u16 & (IE | SF | C1), IE | SF);
    assert_eq!(st(&v, 0), crate::softfloat80::INDEFINITE);
}

#[test]
fn unmasked_zero_divide_reports_mf_at_the_next_waiting_instruction() {
    // ZM cleared: 1/0 leaves ST0 = 1, sets ZE, ES and B; FNSTSW does not
    // wait; FWAIT raises #MF (CR0.NE = 1) with RIP at the FWAIT.
    let cw = 0x037Bu16;
    let (v, exit) = x87_exit(32, Cr0::NE.bits(), &[(DATA, &cw.to_le_bytes())], |a| {
        a.fldcw(word_ptr(DATA))?;
        a.fld1()?;
        a.fldz()?;
        a.fdivp(st1, st0)?;
        a.fnstsw(word_ptr(DATA + 2))?;
        a.wait()?;
        a.nop()
    });
    assert_eq!(exit, Exit::Exception(Exception::MF));
    let sw = u16::from_le_bytes([mem(&v, DATA + 2, 2)[0], mem(&v, DATA + 3, 1)[0]]);
    assert_eq!(sw & (ZE | ES | 0x8000), ZE | ES | 0x8000);
    // Nothing was divided or popped: ST1 = 1, ST0 = 0.
    assert_eq!(st(&v, 1), ONE);
    assert_eq!(st(&v, 0), f80(0, 0));
    // The faulting FWAIT is at the end of the code (before NOP, HLT).
    let code = asm(32, |a| {
        a.fldcw(word_ptr(DATA))?;
        a.fld1()?;
        a.fldz()?;
        a.fdivp(st1, st0)?;
        a.fnstsw(word_ptr(DATA + 2))?;
        a.wait()?;
        a.nop()
    });
    assert_eq!(v.cpu.rip, CODE + code.len() as u64 - 3);
    // With CR0.NE = 0 nothing is raised (FERR# is not modeled).
    let (_, exit) = x87_exit(32, 0, &[(DATA, &cw.to_le_bytes())], |a| {
        a.fldcw(word_ptr(DATA))?;
        a.fld1()?;
        a.fldz()?;
        a.fdivp(st1, st0)?;
        a.wait()
    });
    assert_eq!(exit, Exit::Hlt);
}

#[test]
fn unmasked_overflow_delivers_the_rebiased_result() {
    // OM cleared: max * max overflows; ST0 = product with exponent - 24576.
    let cw = 0x0377u16;
    let max = f80(u64::MAX, 0x7FFE).to_bytes();
    let (v, _) = x87_exit(
        32,
        0,
        &[(DATA, &cw.to_le_bytes()), (DATA + 16, &max)],
        |a| {
            a.fldcw(word_ptr(DATA))?;
            a.fld(tword_ptr(DATA + 16))?;
            a.fmul_2(st0, st0)?;
            a.fnstsw(ax)
        },
    );
    // (2^16384 - eps)^2: significand 0xFFFF...FE rounded (2^128 - 2^65 + 1
    // -> 0xFFFFFFFFFFFFFFFE), exponent 0x7FFE * 2 - 0x3FFF + 1... = 0xBFFE.
    assert_eq!(
        st(&v, 0),
        f80(0xFFFF_FFFF_FFFF_FFFE, (0xBFFE - 0x6000) as u16)
    );
    assert_eq!(v.cpu.gpr[0] as u16 & (OE | PE | ES), OE | PE | ES);
}

#[test]
fn narrow_stores_overflow_and_underflow() {
    let big = f80(1 << 63, 0x3FFF + 200).to_bytes(); // 2^200
    let tiny = f80(1 << 63, 0x3FFF - 140).to_bytes(); // 2^-140
    let v = x87(32, &[(DATA, &big), (DATA + 16, &tiny)], |a| {
        a.fld(tword_ptr(DATA))?;
        a.fst(dword_ptr(DATA + 32))?;
        a.fld(tword_ptr(DATA + 16))?;
        a.fst(dword_ptr(DATA + 36))?;
        a.fnstsw(ax)
    });
    assert_eq!(mem(&v, DATA + 32, 4), 0x7F80_0000u32.to_le_bytes(), "+inf");
    // 2^-140 = 2^-149 * 2^9: denormal 0x200, exact: no UE when masked.
    assert_eq!(mem(&v, DATA + 36, 4), 0x0000_0200u32.to_le_bytes());
    assert_eq!(v.cpu.gpr[0] as u16 & (OE | UE | PE), OE | PE);
}

#[test]
fn fprem_fprem1_fscale_fxtract_frndint() {
    let v = x87(
        32,
        &[
            (DATA, &3u16.to_le_bytes()),
            (DATA + 2, &10u16.to_le_bytes()),
            (DATA + 4, &11u16.to_le_bytes()),
        ],
        |a| {
            a.fild(word_ptr(DATA))?;
            a.fild(word_ptr(DATA + 2))?;
            a.fprem()?; // 10 rem 3 = 1, q = 3
            a.fnstsw(ax)?;
            a.mov(ebx, eax)?;
            a.fistp(word_ptr(DATA + 8))?;
            a.fild(word_ptr(DATA + 4))?;
            a.fprem1()?; // 11 rem 3 = -1, q = 4
            a.fnstsw(ax)?;
            a.fistp(word_ptr(DATA + 10))
        },
    );
    assert_eq!(mem(&v, DATA + 8, 2), 1i16.to_le_bytes());
    assert_eq!(v.cpu.gpr[3] as u16 & (C3 | C2 | C1 | C0), C3 | C1, "q = 3");
    assert_eq!(mem(&v, DATA + 10, 2), (-1i16).to_le_bytes());
    assert_eq!(v.cpu.gpr[0] as u16 & (C3 | C2 | C1 | C0), C0, "q = 4");
    // FSCALE: 1.5 * 2^3 = 12; FXTRACT(12) = 3 and 1.5.
    let v = x87(
        32,
        &[
            (DATA, &3u16.to_le_bytes()),
            (DATA + 4, &1.5f32.to_bits().to_le_bytes()),
        ],
        |a| {
            a.fild(word_ptr(DATA))?;
            a.fld(dword_ptr(DATA + 4))?;
            a.fscale()?;
            a.fxtract()?;
            Ok(())
        },
    );
    assert_eq!(st(&v, 0), f80(0xC000_0000_0000_0000, 0x3FFF), "1.5");
    assert_eq!(st(&v, 1), f80(0xC000_0000_0000_0000, 0x4000), "3");
    // FRNDINT of 2.5: nearest 2, up 3; of -2.5 down -3.
    for (cw, x, want) in [
        (0x037Fu16, 2.5f32, 2.0f64),
        (0x0B7F, 2.5, 3.0),
        (0x077F, -2.5, -3.0),
    ] {
        let v = x87(
            32,
            &[
                (DATA, &cw.to_le_bytes()),
                (DATA + 4, &x.to_bits().to_le_bytes()),
            ],
            |a| {
                a.fldcw(word_ptr(DATA))?;
                a.fld(dword_ptr(DATA + 4))?;
                a.frndint()?;
                a.fstp(qword_ptr(DATA + 8))
            },
        );
        assert_eq!(u64_at(&v, DATA + 8), want.to_bits(), "cw {cw:x}");
    }
}

#[test]
fn packed_bcd_round_trip() {
    // -1234 = 34 12 00 .. 80.
    let v = x87(32, &[(DATA, &(-1234i32).to_le_bytes())], |a| {
        a.fild(dword_ptr(DATA))?;
        a.fbstp(tword_ptr(DATA + 16))?;
        a.fbld(tword_ptr(DATA + 16))?;
        a.fistp(dword_ptr(DATA + 32))
    });
    assert_eq!(
        mem(&v, DATA + 16, 10),
        [0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x80]
    );
    assert_eq!(mem(&v, DATA + 32, 4), (-1234i32).to_le_bytes());
}

#[test]
fn fcmov_fxch_ffree_incstp() {
    let v = x87(32, &[(DATA, &5u16.to_le_bytes())], |a| {
        a.fild(word_ptr(DATA))?; // ST1 = 5
        a.fldz()?; // ST0 = 0
        a.stc()?;
        a.fcmovnb(st0, st1)?; // CF = 1: no move
        a.fcmovb(st0, st1)?; // moves 5
        a.fld1()?;
        a.fxch(st0, st2)?; // ST0 = 5 (old ST2), ST2 = 1
        a.ffree(st1)?;
        a.fincstp()?;
        a.fdecstp()
    });
    assert_eq!(st(&v, 0), f80(0xA000_0000_0000_0000, 0x4001));
    assert_eq!(st(&v, 2), ONE);
    let p1 = (v.cpu.fpu.top() + 1) & 7;
    assert_eq!((v.cpu.fpu.ftw >> (2 * p1)) & 3, 3, "ST1 freed");
}

#[test]
fn transcendentals() {
    let v = x87(32, &[(DATA, &8u16.to_le_bytes())], |a| {
        a.fld1()?;
        a.fild(word_ptr(DATA))?;
        a.fyl2x()?; // 1 * log2(8) = 3
        a.fistp(word_ptr(DATA + 2))?;
        a.fldz()?;
        a.fsin()?;
        a.fldz()?;
        a.fcos()?;
        a.fldz()?;
        a.fptan()?;
        a.fld1()?;
        a.fld1()?;
        a.fpatan()? // atan(1/1) = pi/4
        ;
        Ok(())
    });
    assert_eq!(mem(&v, DATA + 2, 2), 3i16.to_le_bytes());
    let pi4 = st(&v, 0);
    assert_eq!(pi4.sign_exp, 0x3FFE);
    // f64 accuracy: pi/4 = 0xC90FDAA22168C234C... to 53 bits.
    assert_eq!(pi4.signif >> 11, 0xC90F_DAA2_2168_C234 >> 11);
    assert_eq!(st(&v, 1), ONE, "FPTAN pushes 1.0");
    assert_eq!(st(&v, 2), f80(0, 0), "tan 0");
    assert_eq!(st(&v, 3), ONE, "cos 0");
    assert_eq!(st(&v, 4), f80(0, 0), "sin 0");
    // |x| >= 2^63: C2 set and ST0 unchanged.
    let huge = f80(1 << 63, 0x3FFF + 63).to_bytes();
    let v = x87(32, &[(DATA, &huge)], |a| {
        a.fld(tword_ptr(DATA))?;
        a.fsin()?;
        a.fnstsw(ax)
    });
    assert_eq!(v.cpu.gpr[0] as u16 & C2, C2);
    assert_eq!(st(&v, 0), f80(1 << 63, 0x3FFF + 63));
}

#[test]
fn nm_when_em_or_ts() {
    for cr0_bits in [Cr0::EM.bits(), Cr0::TS.bits()] {
        let (v, exit) = x87_exit(32, cr0_bits, &[], |a| a.fld1());
        assert_eq!(exit, Exit::Exception(Exception::NM));
        assert_eq!(v.cpu.fpu.ftw, 0xFFFF);
    }
    // WAIT: #NM only with MP and TS.
    let (_, exit) = x87_exit(32, Cr0::TS.bits(), &[], |a| a.wait());
    assert_eq!(exit, Exit::Hlt);
    let (_, exit) = x87_exit(32, Cr0::TS.bits() | Cr0::MP.bits(), &[], |a| a.wait());
    assert_eq!(exit, Exit::Exception(Exception::NM));
    let (_, exit) = x87_exit(32, Cr0::EM.bits(), &[], |a| a.wait());
    assert_eq!(exit, Exit::Hlt);
}

#[test]
fn faulting_store_commits_nothing() {
    // 16-bit protected mode, limit 0xFFFF: an 8-byte store at 0xFFFC is
    // #GP(0); the stack keeps its value and TOP.
    let (v, exit) = x87_exit(16, 0, &[], |a| {
        a.fld1()?;
        a.mov(bx, 0xFFFCu32)?;
        a.fstp(qword_ptr(bx))
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    assert_eq!(v.cpu.fpu.top(), 7);
    assert_eq!(st(&v, 0), ONE);
    // FNSAVE across the limit: nothing written, state kept.
    let (v, exit) = x87_exit(16, 0, &[], |a| {
        a.fld1()?;
        a.mov(bx, 0xFFC0u32)?;
        a.fnsave(ptr(bx))
    });
    assert_eq!(exit, Exit::Exception(Exception::GP(0)));
    assert_eq!(v.cpu.fpu.top(), 7);
    assert_eq!(mem(&v, 0xFFC0, 16), vec![0u8; 16]);
}

#[test]
fn fop_fip_fdp_are_recorded() {
    let v = x87(32, &[], |a| {
        a.mov(ebx, DATA as u32)?;
        a.fld1()?;
        a.fld(qword_ptr(ebx + 8))?; // DD 43 08
        a.fadd_2(st0, st1)?; // D8 C1
        a.fnstcw(word_ptr(DATA + 64)) // control: not recorded
    });
    assert_eq!(v.cpu.fpu.fop, 0x0C1);
    assert_eq!(v.cpu.fpu.fdp, DATA + 8);
    assert_eq!(v.cpu.fpu.fds, 0x10);
    assert_eq!(v.cpu.fpu.fcs, 0x08);
    // mov ebx (5 bytes), fld1 (2), fld m64 (3): FADD at CODE + 10.
    assert_eq!(v.cpu.fpu.fip, CODE + 10);
    let v = x87(32, &[], |a| {
        a.mov(ebx, DATA as u32)?;
        a.fld(qword_ptr(ebx + 8))
    });
    assert_eq!(v.cpu.fpu.fop, 0x543);
}

#[test]
fn fnstenv_fldenv_protected_32() {
    let v = x87(32, &[], |a| {
        a.fld1()?;
        a.fldz()?;
        a.fnstenv(ptr(DATA))?;
        a.fninit()?;
        a.fldenv(ptr(DATA))
    });
    let e = mem(&v, DATA, 28);
    assert_eq!(&e[0..2], &0x037Fu16.to_le_bytes());
    // TOP = 6, tags: R7 valid (00), R6 zero (01), others empty.
    assert_eq!(&e[4..6], &(6u16 << 11).to_le_bytes());
    assert_eq!(&e[8..10], &0x1FFFu16.to_le_bytes());
    // FIP = the FLDZ (CODE + 2), FCS 8, FOP D9 EE -> 0x1EE.
    assert_eq!(&e[12..16], &((CODE + 2) as u32).to_le_bytes());
    assert_eq!(&e[16..20], &(0x08u32 | (0x1EE << 16)).to_le_bytes());
    // FNSTENV masked all exceptions; FLDENV restored 0x037F.
    assert_eq!(v.cpu.fpu.fcw, 0x037F);
    assert_eq!(v.cpu.fpu.top(), 6);
    assert_eq!(v.cpu.fpu.ftw, 0x1FFF);
}

#[test]
fn fnsave_frstor_in_every_mode() {
    for bits in [0u32, 16, 32, 64] {
        let v = x87(bits, &[], |a| {
            a.fld1()?;
            a.fldpi()?;
            a.fnsave(ptr(DATA))?;
            a.fld1()?;
            a.frstor(ptr(DATA))
        });
        let n = if bits == 0 || bits == 16 { 14 } else { 28 };
        let img = mem(&v, DATA, n + 80);
        assert_eq!(
            &img[n..n + 10],
            &f80(0xC90F_DAA2_2168_C235, 0x4000).to_bytes(),
            "bits {bits}"
        );
        assert_eq!(&img[n + 10..n + 20], &ONE.to_bytes());
        assert_eq!(v.cpu.fpu.top(), 6, "bits {bits}");
        assert_eq!(st(&v, 1), ONE);
        assert_eq!(v.cpu.fpu.ftw, 0x0FFF);
        if bits == 0 {
            // Real mode, 16-bit: FIP is the linear address of FLDPI
            // (CS base 0), FOP D9 EB in bits 0-10 beside FIP 19..16.
            assert_eq!(&img[6..8], &((CODE + 2) as u16).to_le_bytes());
            assert_eq!(&img[8..10], &0x1EBu16.to_le_bytes());
        }
    }
}

#[test]
fn fldcw_unmasking_a_pending_flag_sets_es() {
    let cw = 0x037Eu16; // IM cleared
    let (v, exit) = x87_exit(32, Cr0::NE.bits(), &[(DATA, &cw.to_le_bytes())], |a| {
        a.fld1()?;
        a.fadd_2(st0, st2)?; // stack underflow, masked: IE, SF
        a.fldcw(word_ptr(DATA))?;
        a.fnclex()?;
        a.fldcw(word_ptr(DATA))?;
        a.fadd_2(st0, st2)?; // unmasked: ES, ST0 kept
        a.fnop()
    });
    assert_eq!(exit, Exit::Exception(Exception::MF));
    assert_eq!(
        st(&v, 0),
        crate::softfloat80::INDEFINITE,
        "first underflow was masked"
    );
    assert_eq!(v.cpu.fpu.fsw & (IE | SF | ES), IE | SF | ES);
}

/// Instruction sequences run on the host x87 and in the emulator from the
/// same state (ST(0) = a, ST(1) = b, FCW given), compared through the
/// FNSAVE image: FCW, FSW (TOP, condition codes, flags, SF, ES, B), the
/// tag word, FOP and the eight registers. Covers stack overflow and
/// underflow, pops, tags and unmasked responses of the instruction layer.
#[cfg(target_arch = "x86_64")]
mod host_sequences {
    use super::*;

    macro_rules! seq {
        ($name:ident, [$($host:literal),*], $emu:expr) => {
            fn $name() -> (fn(u16, F80, F80) -> [u8; 108], fn(&mut CodeAssembler) -> Result<(), IcedError>) {
                fn host(fcw: u16, a: F80, b: F80) -> [u8; 108] {
                    let mut save = [0u8; 108];
                    let mut ab = [0u8; 20];
                    ab[..10].copy_from_slice(&a.to_bytes());
                    ab[10..].copy_from_slice(&b.to_bytes());
                    // SAFETY: touches only the x87 state (reinitialized at
                    // the end) and the two local buffers.
                    unsafe {
                        core::arch::asm!(
                            "fninit",
                            "fld tbyte ptr [{ab} + 10]",
                            "fld tbyte ptr [{ab}]",
                            "fldcw word ptr [{cw}]",
                            $($host,)*
                            "fnsave [{sv}]",
                            "fninit",
                            ab = in(reg) ab.as_ptr(),
                            cw = in(reg) &fcw,
                            sv = in(reg) save.as_mut_ptr(),
                            out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                            out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                            options(nostack),
                        );
                    }
                    save
                }
                (host, $emu)
            }
        };
    }

    seq!(s_underflow, ["fld1", "fadd st(0), st(3)"], |a| {
        a.fld1()?;
        a.fadd_2(st0, st3)
    });
    seq!(
        s_overflow,
        [
            "fldpi", "fldpi", "fldpi", "fldpi", "fldpi", "fldpi", "fldpi"
        ],
        |a| {
            for _ in 0..7 {
                a.fldpi()?;
            }
            Ok(())
        }
    );
    seq!(s_compp, ["fstp st(0)", "fcompp"], |a| {
        a.fstp(st0)?;
        a.fcompp()
    });
    seq!(s_xch, ["fxch st(3)"], |a| a.fxch(st0, st3));
    seq!(u_add, ["fadd st(0), st(3)"], |a| a.fadd_2(st0, st3));
    seq!(u_compp, ["fcompp"], |a| a.fcompp());
    seq!(u_sqrt, ["fsqrt"], |a| a.fsqrt());
    seq!(u_divp, ["fdivp st(1), st(0)"], |a| a.fdivp(st1, st0));
    seq!(u_subrp, ["fsubrp st(1), st(0)"], |a| a.fsubrp(st1, st0));
    seq!(u_xtract, ["fxtract"], |a| a.fxtract());
    seq!(u_prem1, ["fprem1"], |a| a.fprem1());
    seq!(u_scale, ["fscale"], |a| a.fscale());
    seq!(u_comip, ["fcomip st(0), st(1)"], |a| a.fcomip(st0, st1));
    seq!(u_ucomp, ["fucomp st(1)"], |a| a.fucomp(st0, st1));
    seq!(u_stp, ["fstp st(2)"], |a| a.fstp(st2));
    seq!(u_rndint, ["frndint"], |a| a.frndint());
    seq!(
        s_stp_empty,
        ["fstp st(0)", "fstp st(0)", "fstp st(0)"],
        |a| {
            a.fstp(st0)?;
            a.fstp(st0)?;
            a.fstp(st0)
        }
    );
    seq!(
        s_ptan_full,
        ["fld1", "fld1", "fld1", "fld1", "fldz", "fptan"],
        |a| {
            for _ in 0..4 {
                a.fld1()?;
            }
            a.fldz()?;
            a.fptan()
        }
    );
    seq!(s_xtract, ["fxtract", "fxch st(1)", "fxtract"], |a| {
        a.fxtract()?;
        a.fxch(st0, st1)?;
        a.fxtract()
    });
    seq!(s_divp, ["fdivp st(1), st(0)", "fsqrt"], |a| {
        a.fdivp(st1, st0)?;
        a.fsqrt()
    });
    seq!(
        s_arith,
        [
            "fsubr st(0), st(1)",
            "fmul st(1), st(0)",
            "fdivrp st(1), st(0)",
            "fadd st(0), st(0)"
        ],
        |a| {
            a.fsubr_2(st0, st1)?;
            a.fmul_2(st1, st0)?;
            a.fdivrp(st1, st0)?;
            a.fadd_2(st0, st0)
        }
    );
    seq!(
        s_comi,
        [
            "fucomip st(0), st(1)",
            "fcmovnbe st(0), st(3)",
            "fcomi st(0), st(0)"
        ],
        |a| {
            a.fucomip(st0, st1)?;
            a.fcmovnbe(st0, st3)?;
            a.fcomi(st0, st0)
        }
    );
    seq!(
        s_free,
        [
            "ffree st(1)",
            "fincstp",
            "fld1",
            "fdecstp",
            "fst st(3)",
            "fxam"
        ],
        |a| {
            a.ffree(st1)?;
            a.fincstp()?;
            a.fld1()?;
            a.fdecstp()?;
            a.fst(st3)?;
            a.fxam()
        }
    );
    seq!(
        s_prem,
        [
            "fprem", "fprem1", "fscale", "frndint", "fchs", "fabs", "ftst"
        ],
        |a| {
            a.fprem()?;
            a.fprem1()?;
            a.fscale()?;
            a.frndint()?;
            a.fchs()?;
            a.fabs()?;
            a.ftst()
        }
    );
    seq!(
        s_consts,
        [
            "fldl2t", "fldl2e", "fldlg2", "fldln2", "fldz", "fpatan", "fyl2x"
        ],
        |a| {
            a.fldl2t()?;
            a.fldl2e()?;
            a.fldlg2()?;
            a.fldln2()?;
            a.fldz()?;
            a.fpatan()?;
            a.fyl2x()
        }
    );

    fn emu(
        fcw: u16,
        a: F80,
        b: F80,
        f: fn(&mut CodeAssembler) -> Result<(), IcedError>,
    ) -> Vec<u8> {
        let (v, exit) = x87_exit(
            64,
            0,
            &[
                (DATA, &a.to_bytes()),
                (DATA + 16, &b.to_bytes()),
                (DATA + 32, &fcw.to_le_bytes()),
            ],
            |asm| {
                asm.fninit()?;
                asm.fld(tword_ptr(DATA + 16))?;
                asm.fld(tword_ptr(DATA))?;
                asm.fldcw(word_ptr(DATA + 32))?;
                f(asm)?;
                asm.fnsave(ptr(DATA + 0x100))
            },
        );
        assert_eq!(exit, Exit::Hlt);
        mem(&v, DATA + 0x100, 108)
    }

    /// The compared parts of an FNSAVE image.
    fn key(img: &[u8]) -> Vec<u8> {
        let mut k = Vec::new();
        k.extend_from_slice(&img[0..2]);
        k.extend_from_slice(&img[4..6]);
        k.extend_from_slice(&img[8..10]);
        k.push(img[18]);
        k.push(img[19] & 7);
        // Registers: only the non-empty ones (an empty register's
        // contents are whatever was last there).
        let tag = u16::from_le_bytes([img[8], img[9]]);
        let top = usize::from((img[5] >> 3) & 7);
        for i in 0..8 {
            if (tag >> (2 * ((top + i) & 7))) & 3 != 3 {
                k.extend_from_slice(&img[28 + 10 * i..38 + 10 * i]);
            }
        }
        k
    }

    #[test]
    fn host_instruction_sequences() {
        let vals = [
            ONE,
            f80(0xC000_0000_0000_0000, 0x4000), // 3
            f80(0x8000_0000_0000_0000, 0xC001), // -4
            f80(0, 0),                          // +0
            f80(0xC000_0000_0000_0000, 0xFFFF), // QNaN (indefinite)
            f80(0x8000_0000_0000_0001, 0x7FFF), // SNaN
            f80(0x8000_0000_0000_0000, 0x7FFF), // +inf
            f80(0x0000_0000_0000_0001, 0x0000), // denormal
            f80(0x9000_0000_0000_0000, 0x403F), // 2^64 * 1.125
        ];
        // Sequences run with exceptions masked (an unmasked exception
        // would trap the host at the next waiting instruction); single
        // instructions also run with IE, ZE, DE unmasked.
        let multi = [
            s_underflow(),
            s_overflow(),
            s_compp(),
            s_xch(),
            s_stp_empty(),
            s_ptan_full(),
            s_xtract(),
            s_divp(),
            s_arith(),
            s_comi(),
            s_free(),
            s_prem(),
            s_consts(),
        ];
        let single = [
            s_xch(),
            u_add(),
            u_compp(),
            u_sqrt(),
            u_divp(),
            u_subrp(),
            u_xtract(),
            u_prem1(),
            u_scale(),
            u_comip(),
            u_ucomp(),
            u_stp(),
            u_rndint(),
        ];
        let seqs = multi
            .iter()
            .map(|s| (*s, false))
            .chain(single.iter().map(|s| (*s, true)))
            .collect::<Vec<_>>();
        let mut bad = 0;
        for (n, ((host, code), all)) in seqs.iter().enumerate() {
            let fcws: &[u16] = if *all {
                &[0x037F, 0x037E, 0x0372, 0x0F7F, 0x007F, 0x0370, 0x0B7D]
            } else {
                &[0x037F, 0x0F7F, 0x007F, 0x0B7F]
            };
            for &fcw in fcws {
                for a in vals {
                    for b in vals {
                        // The host's FOP does not survive a context switch
                        // on AMD processors: their FXSAVE/XSAVE store FIP,
                        // FDP and FOP only while an exception is pending
                        // (the behavior behind CVE-2006-1056), so a
                        // preemption inside the sequence reads it as 0. Run
                        // it again then.
                        let mut h = host(fcw, a, b);
                        for _ in 0..8 {
                            if u16::from_le_bytes([h[18], h[19]]) & 0x7FF != 0 {
                                break;
                            }
                            h = host(fcw, a, b);
                        }
                        let e = emu(fcw, a, b, *code);
                        if key(&h) != key(&e) {
                            bad += 1;
                            if bad < 10 {
                                eprintln!(
                                    "seq {n} fcw={fcw:04x} a={:04x}:{:016x} b={:04x}:{:016x}\n host {:02x?}\n emu  {:02x?}",
                                    a.sign_exp,
                                    a.signif,
                                    b.sign_exp,
                                    b.signif,
                                    key(&h),
                                    key(&e)
                                );
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(bad, 0);
    }
}

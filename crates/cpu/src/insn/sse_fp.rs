//! SSE/SSE2 floating point (SDM Vol. 2 and Vol. 1 §10.4, §11.4, §11.5):
//! ADD/SUB/MUL/DIV/SQRT/MIN/MAX in PS/SS/PD/SD forms, RCP/RSQRT, CMPxx with
//! predicates 0-7, COMISS/UCOMISS/COMISD/UCOMISD, the conversions (CVT*,
//! including the MMX forms CVTPI2PS/CVTPS2PI/CVTTPS2PI/CVTPI2PD/CVTPD2PI/
//! CVTTPD2PI), and the bitwise and shuffle instructions of the float
//! domain: ANDPS/ANDNPS/ORPS/XORPS (+PD), SHUFPS/SHUFPD, UNPCKLPS/UNPCKHPS/
//! UNPCKLPD/UNPCKHPD.
//!
//! Arithmetic runs in [`super::sse_host`]. MXCSR handling (SDM Vol. 1
//! §11.5.1, §11.5.2): the engine reports the exceptions detected with all
//! of them masked. If none of them is unmasked in the guest's MXCSR they
//! become sticky flags and the result is written. Otherwise the
//! destination is left unchanged, MXCSR receives the flags the SDM says
//! (only the pre-computation ones, IE/DE/ZE, when one of those is
//! unmasked; all detected ones when only OE/UE/PE are), and the
//! instruction raises #XM (CR4.OSXMMEXCPT = 1) or #UD; the flags are set
//! in both cases (SDM Vol. 1 §11.5.3.2). An unmasked underflow is also
//! reported for a tiny result that is exact (masked underflow needs tiny
//! and inexact, SDM Vol. 1 §4.9.1.5, §11.5.2.5); FTZ is ignored while
//! underflow is unmasked.
//!
//! Known approximation: when overflow or underflow is unmasked and
//! occurs, the PE flag recorded with it is the one of the masked response
//! (always set for an overflow), whereas hardware sets PE only when the
//! result rounded with an unbounded exponent is inexact. Tininess is
//! judged on the masked result (a nonzero denormal), i.e. after rounding,
//! as the SDM describes.

use iced_x86::{Code, Instruction, Mnemonic};

use super::sse::{
    is_mem, mixed_avail, mmx_enter, set_mm, set_xmm, simd_fault, src_mm, src_scalar, src128,
    sse_avail, xmm,
};
use super::sse_host::{self as e, PD, PS, SD, SS};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{STATUS, mask};
use crate::fpu::MXCSR_DEFAULT;
use crate::state::Cpu;

/// IE | DE | ZE: the pre-computation exceptions.
const PRE: u32 = 0b000111;
/// UE.
const UE: u32 = 1 << 4;
/// PE.
const PE: u32 = 1 << 5;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    // Only the legacy (non-VEX) forms have these mnemonics; the SSE2
    // CMPSD/MOVSD share theirs with the string instructions.
    if ins.code() == Code::Cmpsd_m32_m32 {
        return None;
    }
    macro_rules! kinds {
        ($base:expr, $ps:ident, $ss:ident, $pd:ident, $sd:ident) => {
            match ins.mnemonic() {
                $ps => arith::<{ $base + PS }>,
                $ss => arith::<{ $base + SS }>,
                $pd => arith::<{ $base + PD }>,
                $sd => arith::<{ $base + SD }>,
                _ => unreachable!(),
            }
        };
    }
    // 64-bit integer forms: a 64-bit GPR operand or an m64 integer source.
    let gpr64 = |n: u32| {
        ins.op_count() > n
            && ins.op_kind(n) == iced_x86::OpKind::Register
            && ins.op_register(n).is_gpr64()
    };
    let w64 = gpr64(0)
        || gpr64(1)
        || (matches!(ins.mnemonic(), Cvtsi2ss | Cvtsi2sd)
            && ins.op1_kind() == iced_x86::OpKind::Memory
            && ins.memory_size().size() == 8);
    Some(match ins.mnemonic() {
        Addps | Addss | Addpd | Addsd => kinds!(e::ADD, Addps, Addss, Addpd, Addsd),
        Subps | Subss | Subpd | Subsd => kinds!(e::SUB, Subps, Subss, Subpd, Subsd),
        Mulps | Mulss | Mulpd | Mulsd => kinds!(e::MUL, Mulps, Mulss, Mulpd, Mulsd),
        Divps | Divss | Divpd | Divsd => kinds!(e::DIV, Divps, Divss, Divpd, Divsd),
        Minps | Minss | Minpd | Minsd => kinds!(e::MIN, Minps, Minss, Minpd, Minsd),
        Maxps | Maxss | Maxpd | Maxsd => kinds!(e::MAX, Maxps, Maxss, Maxpd, Maxsd),
        Sqrtps | Sqrtss | Sqrtpd | Sqrtsd => kinds!(e::SQRT, Sqrtps, Sqrtss, Sqrtpd, Sqrtsd),
        Rcpps => arith::<{ e::RCP + PS }>,
        Rcpss => arith::<{ e::RCP + SS }>,
        Rsqrtps => arith::<{ e::RSQRT + PS }>,
        Rsqrtss => arith::<{ e::RSQRT + SS }>,
        Cvtss2sd => arith::<{ e::CVTSS2SD }>,
        Cvtsd2ss => arith::<{ e::CVTSD2SS }>,
        Cvtdq2ps => arith::<{ e::CVTDQ2PS }>,
        Cvtps2dq => arith::<{ e::CVTPS2DQ }>,
        Cvttps2dq => arith::<{ e::CVTTPS2DQ }>,
        Cvtdq2pd => arith::<{ e::CVTDQ2PD }>,
        Cvtpd2dq => arith::<{ e::CVTPD2DQ }>,
        Cvttpd2dq => arith::<{ e::CVTTPD2DQ }>,
        Cvtps2pd => arith::<{ e::CVTPS2PD }>,
        Cvtpd2ps => arith::<{ e::CVTPD2PS }>,
        Cmpps => cmp::<PS>,
        Cmpss => cmp::<SS>,
        Cmppd => cmp::<PD>,
        Cmpsd => cmp::<SD>,
        Comiss => comi::<false, true>,
        Ucomiss => comi::<false, false>,
        Comisd => comi::<true, true>,
        Ucomisd => comi::<true, false>,
        Cvtss2si if w64 => cvt2si::<{ e::CVTSS2SI }, true>,
        Cvtss2si => cvt2si::<{ e::CVTSS2SI }, false>,
        Cvttss2si if w64 => cvt2si::<{ e::CVTTSS2SI }, true>,
        Cvttss2si => cvt2si::<{ e::CVTTSS2SI }, false>,
        Cvtsd2si if w64 => cvt2si::<{ e::CVTSD2SI }, true>,
        Cvtsd2si => cvt2si::<{ e::CVTSD2SI }, false>,
        Cvttsd2si if w64 => cvt2si::<{ e::CVTTSD2SI }, true>,
        Cvttsd2si => cvt2si::<{ e::CVTTSD2SI }, false>,
        Cvtsi2ss if w64 => cvtsi2::<false, true>,
        Cvtsi2ss => cvtsi2::<false, false>,
        Cvtsi2sd if w64 => cvtsi2::<true, true>,
        Cvtsi2sd => cvtsi2::<true, false>,
        Cvtpi2ps => cvtpi2::<false>,
        Cvtpi2pd => cvtpi2::<true>,
        Cvtps2pi => cvt2pi::<{ e::CVTPS2DQ }>,
        Cvttps2pi => cvt2pi::<{ e::CVTTPS2DQ }>,
        Cvtpd2pi => cvt2pi::<{ e::CVTPD2DQ }>,
        Cvttpd2pi => cvt2pi::<{ e::CVTTPD2DQ }>,
        Andps | Andpd => logic::<0>,
        Andnps | Andnpd => logic::<1>,
        Orps | Orpd => logic::<2>,
        Xorps | Xorpd => logic::<3>,
        Shufps => shuf::<false>,
        Shufpd => shuf::<true>,
        Unpcklps => unpck::<0>,
        Unpckhps => unpck::<1>,
        Unpcklpd => unpck::<2>,
        Unpckhpd => unpck::<3>,
        _ => return None,
    })
}

/// Applies the exception flags `f` of an operation whose result is `r`
/// (elements of `kind`, `n` of them written): sets the sticky flags and
/// returns Ok when every detected exception is masked, else sets the
/// flags the SDM lists and returns #XM/#UD.
#[inline(always)]
fn check(c: &mut Cpu, f: u32, r: u128, kind: u8, n: usize) -> Result<(), Exception> {
    // MXCSR bits 7-12 mask IE..PE; an unmasked UE needs the tininess check
    // even when nothing was flagged.
    let masks = (c.fpu.mxcsr >> 7) & 0x3F;
    if f & !masks == 0 && masks & UE != 0 {
        c.fpu.mxcsr |= f;
        return Ok(());
    }
    check_slow(c, f, r, kind, n)
}

#[cold]
#[inline(never)]
fn check_slow(c: &mut Cpu, mut f: u32, r: u128, kind: u8, n: usize) -> Result<(), Exception> {
    let masks = (c.fpu.mxcsr >> 7) & 0x3F;
    if masks & UE == 0 && f & PRE == 0 && tiny(r, kind, n) {
        f |= UE;
    }
    let unmasked = f & !masks;
    if unmasked == 0 {
        c.fpu.mxcsr |= f;
        return Ok(());
    }
    c.fpu.mxcsr |= if unmasked & PRE != 0 { f & PRE } else { f };
    Err(simd_fault(c))
}

/// True when one of the `n` written elements of `r` is a nonzero denormal.
fn tiny(r: u128, kind: u8, n: usize) -> bool {
    (0..n).any(|k| {
        if kind == PS || kind == SS {
            let x = (r >> (32 * k)) as u32;
            x & 0x7F80_0000 == 0 && x & 0x007F_FFFF != 0
        } else {
            let x = (r >> (64 * k)) as u64;
            x & 0x7FF0_0000_0000_0000 == 0 && x & 0x000F_FFFF_FFFF_FFFF != 0
        }
    })
}

/// A floating-point source: m128 (aligned), m64 or m32 as the operand's
/// memory size says, or the XMM register.
#[inline(always)]
fn src(c: &mut Cpu, i: &Insn, n: usize) -> Result<u128, Exception> {
    if is_mem(i, n) {
        let size = if n == 0 { i.size } else { i.size1 };
        if size == 16 {
            src128::<true>(c, i, n)
        } else {
            src_scalar(c, i, n, size)
        }
    } else {
        Ok(xmm(c, i.reg[n]))
    }
}

/// The element kind and count an operation writes, for the underflow
/// check (None: the result cannot be tiny).
const fn out_kind(op: u8) -> Option<(u8, usize)> {
    match op {
        e::CVTSD2SS => Some((SS, 1)),
        e::CVTPD2PS => Some((PS, 2)),
        // ADD, SUB, MUL, DIV (MIN/MAX/SQRT return no new tiny values).
        _ if op < e::MIN => Some((op & 3, [4, 1, 2, 1][(op & 3) as usize])),
        _ => None,
    }
}

/// The arithmetic and xmm-to-xmm conversion group: `dst = OP(dst, src)`.
extern "C" fn arith<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src(c, i, 1)?;
    let d = i.reg[0];
    let a = xmm(c, d);
    // Default control (round to nearest, all masked, no FTZ/DAZ) with PE
    // already set: an ordinary operation changes nothing in MXCSR.
    if e::quick_op(OP)
        && c.fpu.mxcsr & 0xFFC0 == MXCSR_DEFAULT
        && c.fpu.mxcsr & PE != 0
        && let Some(r) = e::op2_quick::<OP>(a, b)
    {
        set_xmm(c, d, r);
        return Ok(());
    }
    let (r, f) = e::op2::<OP>(a, b, c.fpu.mxcsr);
    let (kind, n) = match out_kind(OP) {
        Some(k) => k,
        None => (PS, 0),
    };
    check(c, f, r, kind, n)?;
    set_xmm(c, d, r);
    Ok(())
}

/// CMPPS/CMPSS/CMPPD/CMPSD xmm1, xmm2/m, imm8 (predicates 0-7).
extern "C" fn cmp<const KIND: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src(c, i, 1)?;
    let d = i.reg[0];
    let (r, f) = e::cmp::<KIND>(xmm(c, d), b, i.imm as u8, c.fpu.mxcsr);
    check(c, f, r, KIND, 0)?;
    set_xmm(c, d, r);
    Ok(())
}

/// COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the comparison
/// (unordered 111, greater 000, less 001, equal 100); OF, SF, AF cleared.
extern "C" fn comi<const DOUBLE: bool, const SIGNALING: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src(c, i, 1)?;
    let (fl, f) = e::comi::<DOUBLE, SIGNALING>(xmm(c, i.reg[0]), b, c.fpu.mxcsr);
    check(c, f, 0, PS, 0)?;
    c.rflags = (c.rflags & !STATUS) | fl;
    Ok(())
}

/// CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m32/m64.
extern "C" fn cvt2si<const OP: u8, const W64: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src(c, i, 1)?;
    let (r, f) = e::cvt2si::<OP, W64>(b, c.fpu.mxcsr);
    check(c, f, 0, PS, 0)?;
    c.wr(i.reg[0], if W64 { 8 } else { 4 }, r);
    Ok(())
}

/// CVTSI2SS/CVTSI2SD xmm, r/m32/64: the low element replaced.
extern "C" fn cvtsi2<const DOUBLE: bool, const W64: bool>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    sse_avail(c)?;
    let size = if W64 { 8 } else { 4 };
    let v = c.get(i, 1, size)? & mask(size);
    let d = i.reg[0];
    let (r, f) = e::cvtsi2::<DOUBLE, W64>(xmm(c, d), v, c.fpu.mxcsr);
    check(c, f, r, PS, 0)?;
    set_xmm(c, d, r);
    Ok(())
}

/// CVTPI2PS xmm, mm/m64 (low two singles replaced, upper kept) and
/// CVTPI2PD xmm, mm/m64 (both doubles). Only the register form is an MMX
/// instruction (x87 transition and #MF); the memory form is not (SDM
/// CVTPI2PS/CVTPI2PD).
extern "C" fn cvtpi2<const DOUBLE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let mem = is_mem(i, 1);
    if mem {
        sse_avail(c)?;
    } else {
        mixed_avail(c)?;
    }
    let v = u128::from(src_mm(c, i, 1)?);
    let d = i.reg[0];
    let (r, f) = if DOUBLE {
        e::op2::<{ e::CVTDQ2PD }>(0, v, c.fpu.mxcsr)
    } else {
        let (r, f) = e::op2::<{ e::CVTDQ2PS }>(0, v, c.fpu.mxcsr);
        (
            (xmm(c, d) & !u128::from(u64::MAX)) | (r & u128::from(u64::MAX)),
            f,
        )
    };
    check(c, f, r, PS, 0)?;
    if !mem {
        mmx_enter(c);
    }
    set_xmm(c, d, r);
    Ok(())
}

/// CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128: two 32-bit
/// integers into an MMX register.
extern "C" fn cvt2pi<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    mixed_avail(c)?;
    let b = src(c, i, 1)?;
    let b = if OP == e::CVTPS2DQ || OP == e::CVTTPS2DQ {
        b & u128::from(u64::MAX)
    } else {
        b
    };
    let (r, f) = e::op2::<OP>(0, b, c.fpu.mxcsr);
    check(c, f, 0, PS, 0)?;
    mmx_enter(c);
    set_mm(c, i.reg[0], r as u64);
    Ok(())
}

/// ANDPS/ANDNPS/ORPS/XORPS and the PD forms (bitwise; no MXCSR effects).
extern "C" fn logic<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src128::<true>(c, i, 1)?;
    let a = xmm(c, i.reg[0]);
    let r = match OP {
        0 => a & b,
        1 => !a & b,
        2 => a | b,
        _ => a ^ b,
    };
    set_xmm(c, i.reg[0], r);
    Ok(())
}

/// SHUFPS (two singles from the destination, two from the source, chosen
/// by imm8 bit pairs) and SHUFPD (imm8 bits 0 and 1).
extern "C" fn shuf<const DOUBLE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src128::<true>(c, i, 1)?;
    let a = xmm(c, i.reg[0]);
    let imm = i.imm as u32;
    let r = if DOUBLE {
        let lo = (a >> (64 * (imm & 1))) & u128::from(u64::MAX);
        let hi = (b >> (64 * ((imm >> 1) & 1))) & u128::from(u64::MAX);
        lo | (hi << 64)
    } else {
        let pick = |v: u128, s: u32| (v >> (32 * ((imm >> s) & 3))) & u128::from(u32::MAX);
        pick(a, 0) | (pick(a, 2) << 32) | (pick(b, 4) << 64) | (pick(b, 6) << 96)
    };
    set_xmm(c, i.reg[0], r);
    Ok(())
}

/// UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD: interleave the low or high halves.
extern "C" fn unpck<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let b = src128::<true>(c, i, 1)?;
    let a = xmm(c, i.reg[0]);
    let d32 = |v: u128, k: u32| (v >> (32 * k)) & u128::from(u32::MAX);
    let q = |v: u128, k: u32| (v >> (64 * k)) & u128::from(u64::MAX);
    let r = match OP {
        0 => d32(a, 0) | (d32(b, 0) << 32) | (d32(a, 1) << 64) | (d32(b, 1) << 96),
        1 => d32(a, 2) | (d32(b, 2) << 32) | (d32(a, 3) << 64) | (d32(b, 3) << 96),
        2 => q(a, 0) | (q(b, 0) << 64),
        _ => q(a, 1) | (q(b, 1) << 64),
    };
    set_xmm(c, i.reg[0], r);
    Ok(())
}

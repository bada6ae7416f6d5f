//! Integer SIMD on XMM registers (SSE2) and MMX registers (MMX and the
//! SSE additions): logic, compares, add/subtract (wrapping and saturating),
//! min/max, averages, PSADBW, multiplies, shifts, shuffles, unpacks, packs,
//! PMOVMSKB, PINSRW/PEXTRW and EMMS (SDM Vol. 2, each instruction's page).
//!
//! Every operation is one function of the destination `a`, the source `b`
//! (or the shift count), the immediate and the operand width `w` (8 bytes
//! for MMX, 16 for XMM): the MMX forms compute on the low 64 bits with the
//! high half zero and keep the low 64 bits of the result. Legacy-SSE m128
//! sources must be 16-byte aligned (#GP(0), SDM Vol. 1 §11.6.8); MMX m64
//! sources need no alignment.

use iced_x86::{Instruction, Mnemonic};

use super::sse::{mm, mmx_avail, mmx_enter, set_mm, set_xmm, src_mm, src128, sse_avail, xmm};
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::state::Cpu;

const PXOR: u8 = 0;
const POR: u8 = 1;
const PAND: u8 = 2;
const PANDN: u8 = 3;
const PCMPEQB: u8 = 4;
const PCMPEQW: u8 = 5;
const PCMPEQD: u8 = 6;
const PCMPGTB: u8 = 7;
const PCMPGTW: u8 = 8;
const PCMPGTD: u8 = 9;
const PADDB: u8 = 10;
const PADDW: u8 = 11;
const PADDD: u8 = 12;
const PADDQ: u8 = 13;
const PSUBB: u8 = 14;
const PSUBW: u8 = 15;
const PSUBD: u8 = 16;
const PSUBQ: u8 = 17;
const PADDSB: u8 = 18;
const PADDSW: u8 = 19;
const PADDUSB: u8 = 20;
const PADDUSW: u8 = 21;
const PSUBSB: u8 = 22;
const PSUBSW: u8 = 23;
const PSUBUSB: u8 = 24;
const PSUBUSW: u8 = 25;
const PMINUB: u8 = 26;
const PMAXUB: u8 = 27;
const PMINSW: u8 = 28;
const PMAXSW: u8 = 29;
const PAVGB: u8 = 30;
const PAVGW: u8 = 31;
const PSADBW: u8 = 32;
const PMULLW: u8 = 33;
const PMULHW: u8 = 34;
const PMULHUW: u8 = 35;
const PMULUDQ: u8 = 36;
const PMADDWD: u8 = 37;
const PSLLW: u8 = 38;
const PSLLD: u8 = 39;
const PSLLQ: u8 = 40;
const PSRLW: u8 = 41;
const PSRLD: u8 = 42;
const PSRLQ: u8 = 43;
const PSRAW: u8 = 44;
const PSRAD: u8 = 45;
const PSLLDQ: u8 = 46;
const PSRLDQ: u8 = 47;
const PSHUFD: u8 = 48;
const PSHUFLW: u8 = 49;
const PSHUFHW: u8 = 50;
const PSHUFW: u8 = 51;
const PUNPCKLBW: u8 = 52;
const PUNPCKLWD: u8 = 53;
const PUNPCKLDQ: u8 = 54;
const PUNPCKLQDQ: u8 = 55;
const PUNPCKHBW: u8 = 56;
const PUNPCKHWD: u8 = 57;
const PUNPCKHDQ: u8 = 58;
const PUNPCKHQDQ: u8 = 59;
const PACKSSWB: u8 = 60;
const PACKUSWB: u8 = 61;
const PACKSSDW: u8 = 62;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    if ins.op_count() == 0 {
        return match ins.mnemonic() {
            Emms => Some(emms),
            _ => None,
        };
    }
    let op = match ins.mnemonic() {
        Pxor => PXOR,
        Por => POR,
        Pand => PAND,
        Pandn => PANDN,
        Pcmpeqb => PCMPEQB,
        Pcmpeqw => PCMPEQW,
        Pcmpeqd => PCMPEQD,
        Pcmpgtb => PCMPGTB,
        Pcmpgtw => PCMPGTW,
        Pcmpgtd => PCMPGTD,
        Paddb => PADDB,
        Paddw => PADDW,
        Paddd => PADDD,
        Paddq => PADDQ,
        Psubb => PSUBB,
        Psubw => PSUBW,
        Psubd => PSUBD,
        Psubq => PSUBQ,
        Paddsb => PADDSB,
        Paddsw => PADDSW,
        Paddusb => PADDUSB,
        Paddusw => PADDUSW,
        Psubsb => PSUBSB,
        Psubsw => PSUBSW,
        Psubusb => PSUBUSB,
        Psubusw => PSUBUSW,
        Pminub => PMINUB,
        Pmaxub => PMAXUB,
        Pminsw => PMINSW,
        Pmaxsw => PMAXSW,
        Pavgb => PAVGB,
        Pavgw => PAVGW,
        Psadbw => PSADBW,
        Pmullw => PMULLW,
        Pmulhw => PMULHW,
        Pmulhuw => PMULHUW,
        Pmuludq => PMULUDQ,
        Pmaddwd => PMADDWD,
        Psllw => PSLLW,
        Pslld => PSLLD,
        Psllq => PSLLQ,
        Psrlw => PSRLW,
        Psrld => PSRLD,
        Psrlq => PSRLQ,
        Psraw => PSRAW,
        Psrad => PSRAD,
        Pslldq => PSLLDQ,
        Psrldq => PSRLDQ,
        Pshufd => PSHUFD,
        Pshuflw => PSHUFLW,
        Pshufhw => PSHUFHW,
        Pshufw => PSHUFW,
        Punpcklbw => PUNPCKLBW,
        Punpcklwd => PUNPCKLWD,
        Punpckldq => PUNPCKLDQ,
        Punpcklqdq => PUNPCKLQDQ,
        Punpckhbw => PUNPCKHBW,
        Punpckhwd => PUNPCKHWD,
        Punpckhdq => PUNPCKHDQ,
        Punpckhqdq => PUNPCKHQDQ,
        Packsswb => PACKSSWB,
        Packuswb => PACKUSWB,
        Packssdw => PACKSSDW,
        Pmovmskb => {
            return reg_class(ins, 1).map(|m| {
                if m {
                    pmovmskb::<true> as Handler
                } else {
                    pmovmskb::<false>
                }
            });
        }
        Pinsrw => {
            return reg_class(ins, 0).map(|m| {
                if m {
                    pinsrw::<true> as Handler
                } else {
                    pinsrw::<false>
                }
            });
        }
        Pextrw if ins.op0_kind() == iced_x86::OpKind::Register && ins.op0_register().is_gpr() => {
            return reg_class(ins, 1).map(|m| {
                if m {
                    pextrw::<true> as Handler
                } else {
                    pextrw::<false>
                }
            });
        }
        _ => return None,
    };
    let mmx = reg_class(ins, 0)?;
    // The shift-by-immediate forms (including PSLLDQ/PSRLDQ) take the
    // count from the immediate; everything else reads operand 1.
    let imm_count = ins.op_count() == 2 && ins.op1_kind() == iced_x86::OpKind::Immediate8;
    macro_rules! pick {
        ($($k:ident),*) => {
            match op {
                $( $k => if imm_count {
                        if mmx { pimm::<$k, true> as Handler } else { pimm::<$k, false> }
                    } else if mmx { pbin::<$k, true> } else { pbin::<$k, false> }, )*
                _ => return None,
            }
        };
    }
    Some(pick!(
        PXOR, POR, PAND, PANDN, PCMPEQB, PCMPEQW, PCMPEQD, PCMPGTB, PCMPGTW, PCMPGTD, PADDB, PADDW,
        PADDD, PADDQ, PSUBB, PSUBW, PSUBD, PSUBQ, PADDSB, PADDSW, PADDUSB, PADDUSW, PSUBSB, PSUBSW,
        PSUBUSB, PSUBUSW, PMINUB, PMAXUB, PMINSW, PMAXSW, PAVGB, PAVGW, PSADBW, PMULLW, PMULHW,
        PMULHUW, PMULUDQ, PMADDWD, PSLLW, PSLLD, PSLLQ, PSRLW, PSRLD, PSRLQ, PSRAW, PSRAD, PSLLDQ,
        PSRLDQ, PSHUFD, PSHUFLW, PSHUFHW, PSHUFW, PUNPCKLBW, PUNPCKLWD, PUNPCKLDQ, PUNPCKLQDQ,
        PUNPCKHBW, PUNPCKHWD, PUNPCKHDQ, PUNPCKHQDQ, PACKSSWB, PACKUSWB, PACKSSDW
    ))
}

/// Some(true) when operand `n` is an MMX register, Some(false) for an XMM
/// register, None otherwise (VEX forms have other mnemonics).
fn reg_class(ins: &Instruction, n: u32) -> Option<bool> {
    if ins.op_kind(n) != iced_x86::OpKind::Register {
        return None;
    }
    let r = ins.op_register(n);
    if r.is_mm() {
        Some(true)
    } else if r.is_xmm() {
        Some(false)
    } else {
        None
    }
}

/// `OP dst, src` with src an MMX/XMM register or memory.
extern "C" fn pbin<const OP: u8, const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let imm = i.imm as u8;
    if MMX {
        mmx_avail(c)?;
        let b = u128::from(src_mm(c, i, 1)?);
        mmx_enter(c);
        let r = op::<OP>(u128::from(mm(c, i.reg[0])), b, 8, imm);
        set_mm(c, i.reg[0], r as u64);
    } else {
        sse_avail(c)?;
        let b = src128::<true>(c, i, 1)?;
        let r = op::<OP>(xmm(c, i.reg[0]), b, 16, imm);
        set_xmm(c, i.reg[0], r);
    }
    Ok(())
}

/// The shift-by-immediate forms: the count is the immediate.
extern "C" fn pimm<const OP: u8, const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let count = u128::from(i.imm as u8);
    if MMX {
        mmx_avail(c)?;
        mmx_enter(c);
        let r = op::<OP>(u128::from(mm(c, i.reg[0])), count, 8, 0);
        set_mm(c, i.reg[0], r as u64);
    } else {
        sse_avail(c)?;
        let r = op::<OP>(xmm(c, i.reg[0]), count, 16, 0);
        set_xmm(c, i.reg[0], r);
    }
    Ok(())
}

/// EMMS: every x87 tag empty (SDM Vol. 2 EMMS); TOP is unchanged.
extern "C" fn emms(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    mmx_avail(c)?;
    c.fpu.ftw = 0xFFFF;
    Ok(())
}

/// PMOVMSKB r32/r64, mm/xmm: the byte sign bits, zero-extended.
#[inline(always)]
fn movemask(v: u128, n: usize) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let m = simd::movemask(v);
        if n == 8 { m & 0xFF } else { m }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let b = v.to_le_bytes();
        (0..n).fold(0u64, |m, k| m | (u64::from(b[k] >> 7) << k))
    }
}

extern "C" fn pmovmskb<const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (v, n) = if MMX {
        mmx_avail(c)?;
        mmx_enter(c);
        (u128::from(mm(c, i.reg[1])), 8)
    } else {
        sse_avail(c)?;
        (xmm(c, i.reg[1]), 16)
    };
    c.wr(i.reg[0], 8, movemask(v, n));
    Ok(())
}

/// PINSRW mm/xmm, r32/m16, imm8: word `imm8 & 3` (MMX) or `& 7` (XMM).
extern "C" fn pinsrw<const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if MMX {
        mmx_avail(c)?;
    } else {
        sse_avail(c)?;
    }
    let w = c.get(i, 1, 2)? as u128;
    if MMX {
        mmx_enter(c);
        let sh = 16 * (i.imm & 3);
        let v = (mm(c, i.reg[0]) & !(0xFFFF << sh)) | ((w as u64) << sh);
        set_mm(c, i.reg[0], v);
    } else {
        let sh = 16 * (i.imm & 7);
        let v = (xmm(c, i.reg[0]) & !(0xFFFF << sh)) | (w << sh);
        set_xmm(c, i.reg[0], v);
    }
    Ok(())
}

/// PEXTRW r32/r64, mm/xmm, imm8: the selected word, zero-extended.
extern "C" fn pextrw<const MMX: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = if MMX {
        mmx_avail(c)?;
        mmx_enter(c);
        (mm(c, i.reg[1]) >> (16 * (i.imm & 3))) & 0xFFFF
    } else {
        sse_avail(c)?;
        (xmm(c, i.reg[1]) >> (16 * (i.imm & 7))) as u64 & 0xFFFF
    };
    c.wr(i.reg[0], 8, v);
    Ok(())
}

#[inline(always)]
fn bytes(v: u128) -> [u8; 16] {
    v.to_le_bytes()
}

#[inline(always)]
fn words(v: u128) -> [u16; 8] {
    core::array::from_fn(|k| (v >> (16 * k)) as u16)
}

#[inline(always)]
fn dwords(v: u128) -> [u32; 4] {
    core::array::from_fn(|k| (v >> (32 * k)) as u32)
}

#[inline(always)]
fn qwords(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

#[inline(always)]
fn from_words(w: [u16; 8]) -> u128 {
    w.iter()
        .enumerate()
        .fold(0, |r, (k, &x)| r | (u128::from(x) << (16 * k)))
}

#[inline(always)]
fn from_dwords(d: [u32; 4]) -> u128 {
    d.iter()
        .enumerate()
        .fold(0, |r, (k, &x)| r | (u128::from(x) << (32 * k)))
}

#[inline(always)]
fn from_qwords(q: [u64; 2]) -> u128 {
    u128::from(q[0]) | (u128::from(q[1]) << 64)
}

#[inline(always)]
fn map8(a: u128, b: u128, f: impl Fn(u8, u8) -> u8) -> u128 {
    let (x, y) = (bytes(a), bytes(b));
    u128::from_le_bytes(core::array::from_fn(|k| f(x[k], y[k])))
}

#[inline(always)]
fn map16(a: u128, b: u128, f: impl Fn(u16, u16) -> u16) -> u128 {
    let (x, y) = (words(a), words(b));
    from_words(core::array::from_fn(|k| f(x[k], y[k])))
}

#[inline(always)]
fn map32(a: u128, b: u128, f: impl Fn(u32, u32) -> u32) -> u128 {
    let (x, y) = (dwords(a), dwords(b));
    from_dwords(core::array::from_fn(|k| f(x[k], y[k])))
}

#[inline(always)]
fn map64(a: u128, b: u128, f: impl Fn(u64, u64) -> u64) -> u128 {
    let (x, y) = (qwords(a), qwords(b));
    from_qwords([f(x[0], y[0]), f(x[1], y[1])])
}

/// All ones when `t`.
#[inline(always)]
fn ones<T: From<u8> + core::ops::Not<Output = T>>(t: bool) -> T {
    if t { !T::from(0) } else { T::from(0) }
}

/// Signed saturation of a 32-bit value to 8 bits.
#[inline(always)]
fn sat_i8(v: i32) -> u8 {
    v.clamp(i8::MIN as i32, i8::MAX as i32) as i8 as u8
}

/// Unsigned saturation of a signed value to 8 bits.
#[inline(always)]
fn sat_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Signed saturation to 16 bits.
#[inline(always)]
fn sat_i16(v: i64) -> u16 {
    v.clamp(i16::MIN as i64, i16::MAX as i64) as i16 as u16
}

/// Shifts every `bits`-wide lane by `count`: left, logical right or
/// arithmetic right.
#[inline(always)]
fn shift(a: u128, count: u128, bits: u32, left: bool, arith: bool) -> u128 {
    // The count is the low 64 bits of the source (SDM PSLLW etc.:
    // COUNT <- SRC[63:0]); any value at or above the lane width clears (or
    // sign-fills) the lane.
    let cnt = count as u64;
    let big = cnt >= u64::from(bits);
    let n = if big { 0 } else { cnt as u32 };
    match bits {
        16 => map16(a, 0, |x, _| match (left, arith, big) {
            (true, _, true) | (false, false, true) => 0,
            (false, true, true) => ((x as i16) >> 15) as u16,
            (true, _, false) => x << n,
            (false, false, false) => x >> n,
            (false, true, false) => ((x as i16) >> n) as u16,
        }),
        32 => map32(a, 0, |x, _| match (left, arith, big) {
            (true, _, true) | (false, false, true) => 0,
            (false, true, true) => ((x as i32) >> 31) as u32,
            (true, _, false) => x << n,
            (false, false, false) => x >> n,
            (false, true, false) => ((x as i32) >> n) as u32,
        }),
        _ => map64(a, 0, |x, _| match (left, big) {
            (_, true) => 0,
            (true, false) => x << n,
            (false, false) => x >> n,
        }),
    }
}

/// Interleaves the low (`HIGH` false) or high halves of the `w`-byte
/// operands `a` and `b` in units of `unit` bytes (PUNPCKL*/PUNPCKH*).
#[inline(always)]
fn unpack(a: u128, b: u128, w: usize, unit: usize, high: bool) -> u128 {
    let (x, y) = (bytes(a), bytes(b));
    let base = if high { w / 2 } else { 0 };
    let mut r = [0u8; 16];
    let mut k = 0;
    while k < w / 2 / unit {
        for u in 0..unit {
            r[2 * k * unit + u] = x[base + k * unit + u];
            r[(2 * k + 1) * unit + u] = y[base + k * unit + u];
        }
        k += 1;
    }
    u128::from_le_bytes(r)
}

/// The operation `OP` on `w`-byte operands: the host's SSE2 instruction
/// where one computes exactly this (x86-64 hosts), else [`soft_op`].
#[inline(always)]
fn op<const OP: u8>(a: u128, b: u128, w: usize, imm: u8) -> u128 {
    #[cfg(target_arch = "x86_64")]
    if let Some(r) = simd::op::<OP>(a, b, w) {
        return r;
    }
    soft_op::<OP>(a, b, w, imm)
}

/// The portable definition of every operation (SDM Vol. 2 pseudo-code).
#[inline(always)]
fn soft_op<const OP: u8>(a: u128, b: u128, w: usize, imm: u8) -> u128 {
    match OP {
        PXOR => a ^ b,
        POR => a | b,
        PAND => a & b,
        PANDN => !a & b,
        PCMPEQB => map8(a, b, |x, y| ones(x == y)),
        PCMPEQW => map16(a, b, |x, y| ones(x == y)),
        PCMPEQD => map32(a, b, |x, y| ones(x == y)),
        PCMPGTB => map8(a, b, |x, y| ones((x as i8) > (y as i8))),
        PCMPGTW => map16(a, b, |x, y| ones((x as i16) > (y as i16))),
        PCMPGTD => map32(a, b, |x, y| ones((x as i32) > (y as i32))),
        PADDB => map8(a, b, u8::wrapping_add),
        PADDW => map16(a, b, u16::wrapping_add),
        PADDD => map32(a, b, u32::wrapping_add),
        PADDQ => map64(a, b, u64::wrapping_add),
        PSUBB => map8(a, b, u8::wrapping_sub),
        PSUBW => map16(a, b, u16::wrapping_sub),
        PSUBD => map32(a, b, u32::wrapping_sub),
        PSUBQ => map64(a, b, u64::wrapping_sub),
        PADDSB => map8(a, b, |x, y| (x as i8).saturating_add(y as i8) as u8),
        PADDSW => map16(a, b, |x, y| (x as i16).saturating_add(y as i16) as u16),
        PADDUSB => map8(a, b, u8::saturating_add),
        PADDUSW => map16(a, b, u16::saturating_add),
        PSUBSB => map8(a, b, |x, y| (x as i8).saturating_sub(y as i8) as u8),
        PSUBSW => map16(a, b, |x, y| (x as i16).saturating_sub(y as i16) as u16),
        PSUBUSB => map8(a, b, u8::saturating_sub),
        PSUBUSW => map16(a, b, u16::saturating_sub),
        PMINUB => map8(a, b, u8::min),
        PMAXUB => map8(a, b, u8::max),
        PMINSW => map16(a, b, |x, y| (x as i16).min(y as i16) as u16),
        PMAXSW => map16(a, b, |x, y| (x as i16).max(y as i16) as u16),
        // (x + y + 1) >> 1 without overflow (SDM PAVGB/PAVGW).
        PAVGB => map8(a, b, |x, y| ((u16::from(x) + u16::from(y) + 1) >> 1) as u8),
        PAVGW => map16(a, b, |x, y| ((u32::from(x) + u32::from(y) + 1) >> 1) as u16),
        PSADBW => {
            let (x, y) = (bytes(a), bytes(b));
            let sum = |g: usize| {
                (0..8)
                    .map(|k| u64::from(x[8 * g + k].abs_diff(y[8 * g + k])))
                    .sum::<u64>()
            };
            from_qwords([sum(0), sum(1)])
        }
        PMULLW => map16(a, b, u16::wrapping_mul),
        PMULHW => map16(a, b, |x, y| {
            ((i32::from(x as i16) * i32::from(y as i16)) >> 16) as u16
        }),
        PMULHUW => map16(a, b, |x, y| ((u32::from(x) * u32::from(y)) >> 16) as u16),
        PMULUDQ => map64(a, b, |x, y| (x & 0xFFFF_FFFF) * (y & 0xFFFF_FFFF)),
        PMADDWD => {
            let (x, y) = (words(a), words(b));
            from_dwords(core::array::from_fn(|k| {
                let p = |j: usize| i32::from(x[j] as i16).wrapping_mul(i32::from(y[j] as i16));
                // 0x8000 * 0x8000 twice is the one case that wraps: the
                // SDM's result is 0x8000_0000.
                p(2 * k).wrapping_add(p(2 * k + 1)) as u32
            }))
        }
        PSLLW => shift(a, b, 16, true, false),
        PSLLD => shift(a, b, 32, true, false),
        PSLLQ => shift(a, b, 64, true, false),
        PSRLW => shift(a, b, 16, false, false),
        PSRLD => shift(a, b, 32, false, false),
        PSRLQ => shift(a, b, 64, false, false),
        PSRAW => shift(a, b, 16, false, true),
        PSRAD => shift(a, b, 32, false, true),
        // Byte shifts of the whole register; counts above 15 give zero.
        PSLLDQ => {
            let n = b as u64;
            if n > 15 { 0 } else { a << (8 * n) }
        }
        PSRLDQ => {
            let n = b as u64;
            if n > 15 { 0 } else { a >> (8 * n) }
        }
        PSHUFD => {
            let x = dwords(b);
            from_dwords(core::array::from_fn(|k| {
                x[usize::from((imm >> (2 * k)) & 3)]
            }))
        }
        PSHUFLW => {
            let x = words(b);
            let mut r = x;
            for k in 0..4 {
                r[k] = x[usize::from((imm >> (2 * k)) & 3)];
            }
            from_words(r)
        }
        PSHUFHW => {
            let x = words(b);
            let mut r = x;
            for k in 0..4 {
                r[4 + k] = x[4 + usize::from((imm >> (2 * k)) & 3)];
            }
            from_words(r)
        }
        PSHUFW => {
            let x = words(b);
            let mut r = [0u16; 8];
            for k in 0..4 {
                r[k] = x[usize::from((imm >> (2 * k)) & 3)];
            }
            from_words(r)
        }
        PUNPCKLBW => unpack(a, b, w, 1, false),
        PUNPCKLWD => unpack(a, b, w, 2, false),
        PUNPCKLDQ => unpack(a, b, w, 4, false),
        PUNPCKLQDQ => unpack(a, b, w, 8, false),
        PUNPCKHBW => unpack(a, b, w, 1, true),
        PUNPCKHWD => unpack(a, b, w, 2, true),
        PUNPCKHDQ => unpack(a, b, w, 4, true),
        PUNPCKHQDQ => unpack(a, b, w, 8, true),
        // Packs: the destination's elements first, then the source's.
        PACKSSWB | PACKUSWB => {
            let (x, y) = (words(a), words(b));
            let n = w / 2;
            let mut r = [0u8; 16];
            for k in 0..n {
                let (p, q) = (i32::from(x[k] as i16), i32::from(y[k] as i16));
                if OP == PACKSSWB {
                    r[k] = sat_i8(p);
                    r[n + k] = sat_i8(q);
                } else {
                    r[k] = sat_u8(p);
                    r[n + k] = sat_u8(q);
                }
            }
            u128::from_le_bytes(r)
        }
        _ => {
            // PACKSSDW
            let (x, y) = (dwords(a), dwords(b));
            let n = w / 4;
            let mut r = [0u16; 8];
            for k in 0..n {
                r[k] = sat_i16(i64::from(x[k] as i32));
                r[n + k] = sat_i16(i64::from(y[k] as i32));
            }
            from_words(r)
        }
    }
}

/// The x86-64 fast path: SSE2 intrinsics computing exactly the SDM's
/// definition (checked against [`soft_op`] by a unit test and against the
/// host instructions by the differential test).
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::*;
    use core::arch::x86_64::*;

    #[inline(always)]
    fn m(v: u128) -> __m128i {
        // SAFETY: 16 bytes of plain data either way.
        unsafe { core::mem::transmute::<u128, __m128i>(v) }
    }

    #[inline(always)]
    fn u(v: __m128i) -> u128 {
        // SAFETY: as in `m`.
        unsafe { core::mem::transmute::<__m128i, u128>(v) }
    }

    /// PMOVMSKB of a 128-bit value.
    #[inline(always)]
    pub(super) fn movemask(v: u128) -> u64 {
        // SAFETY: SSE2 is part of the x86-64 baseline every x86-64 host has.
        unsafe { _mm_movemask_epi8(m(v)) as u32 as u64 }
    }

    /// `OP` through its SSE2 intrinsic, or None for the operations left to
    /// the portable code (immediate-controlled shuffles and byte shifts,
    /// and the MMX forms of the cross-lane unpacks and packs).
    #[inline(always)]
    pub(super) fn op<const OP: u8>(a: u128, b: u128, w: usize) -> Option<u128> {
        let (x, y) = (m(a), m(b));
        let cross = matches!(
            OP,
            PUNPCKLBW
                | PUNPCKLWD
                | PUNPCKLDQ
                | PUNPCKLQDQ
                | PUNPCKHBW
                | PUNPCKHWD
                | PUNPCKHDQ
                | PUNPCKHQDQ
                | PACKSSWB
                | PACKUSWB
                | PACKSSDW
        );
        if cross && w != 16 {
            return None;
        }
        // Shift counts: the low 64 bits of the source.
        // SAFETY: SSE2 is part of the x86-64 baseline.
        let cnt = || unsafe { _mm_cvtsi64_si128(b as u64 as i64) };
        // SAFETY: SSE2 is part of the x86-64 baseline every x86-64 host
        // has; the intrinsics work on registers only.
        let r = unsafe {
            match OP {
                PXOR => _mm_xor_si128(x, y),
                POR => _mm_or_si128(x, y),
                PAND => _mm_and_si128(x, y),
                PANDN => _mm_andnot_si128(x, y),
                PCMPEQB => _mm_cmpeq_epi8(x, y),
                PCMPEQW => _mm_cmpeq_epi16(x, y),
                PCMPEQD => _mm_cmpeq_epi32(x, y),
                PCMPGTB => _mm_cmpgt_epi8(x, y),
                PCMPGTW => _mm_cmpgt_epi16(x, y),
                PCMPGTD => _mm_cmpgt_epi32(x, y),
                PADDB => _mm_add_epi8(x, y),
                PADDW => _mm_add_epi16(x, y),
                PADDD => _mm_add_epi32(x, y),
                PADDQ => _mm_add_epi64(x, y),
                PSUBB => _mm_sub_epi8(x, y),
                PSUBW => _mm_sub_epi16(x, y),
                PSUBD => _mm_sub_epi32(x, y),
                PSUBQ => _mm_sub_epi64(x, y),
                PADDSB => _mm_adds_epi8(x, y),
                PADDSW => _mm_adds_epi16(x, y),
                PADDUSB => _mm_adds_epu8(x, y),
                PADDUSW => _mm_adds_epu16(x, y),
                PSUBSB => _mm_subs_epi8(x, y),
                PSUBSW => _mm_subs_epi16(x, y),
                PSUBUSB => _mm_subs_epu8(x, y),
                PSUBUSW => _mm_subs_epu16(x, y),
                PMINUB => _mm_min_epu8(x, y),
                PMAXUB => _mm_max_epu8(x, y),
                PMINSW => _mm_min_epi16(x, y),
                PMAXSW => _mm_max_epi16(x, y),
                PAVGB => _mm_avg_epu8(x, y),
                PAVGW => _mm_avg_epu16(x, y),
                PSADBW => _mm_sad_epu8(x, y),
                PMULLW => _mm_mullo_epi16(x, y),
                PMULHW => _mm_mulhi_epi16(x, y),
                PMULHUW => _mm_mulhi_epu16(x, y),
                PMULUDQ => _mm_mul_epu32(x, y),
                PMADDWD => _mm_madd_epi16(x, y),
                PSLLW => _mm_sll_epi16(x, cnt()),
                PSLLD => _mm_sll_epi32(x, cnt()),
                PSLLQ => _mm_sll_epi64(x, cnt()),
                PSRLW => _mm_srl_epi16(x, cnt()),
                PSRLD => _mm_srl_epi32(x, cnt()),
                PSRLQ => _mm_srl_epi64(x, cnt()),
                PSRAW => _mm_sra_epi16(x, cnt()),
                PSRAD => _mm_sra_epi32(x, cnt()),
                PUNPCKLBW => _mm_unpacklo_epi8(x, y),
                PUNPCKLWD => _mm_unpacklo_epi16(x, y),
                PUNPCKLDQ => _mm_unpacklo_epi32(x, y),
                PUNPCKLQDQ => _mm_unpacklo_epi64(x, y),
                PUNPCKHBW => _mm_unpackhi_epi8(x, y),
                PUNPCKHWD => _mm_unpackhi_epi16(x, y),
                PUNPCKHDQ => _mm_unpackhi_epi32(x, y),
                PUNPCKHQDQ => _mm_unpackhi_epi64(x, y),
                PACKSSWB => _mm_packs_epi16(x, y),
                PACKUSWB => _mm_packus_epi16(x, y),
                PACKSSDW => _mm_packs_epi32(x, y),
                _ => return None,
            }
        };
        Some(u(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The intrinsic fast path and the portable definitions agree on
    /// random operands and shift counts, for XMM and MMX widths.
    #[test]
    fn fast_path_matches_the_portable_definitions() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        macro_rules! check {
            ($($k:ident),*) => {
                for _ in 0..2000 {
                    let a = u128::from(next()) | (u128::from(next()) << 64);
                    let b = match next() % 3 {
                        0 => u128::from(next() % 80),
                        1 => u128::from(next()) | (u128::from(next()) << 64),
                        _ => a ^ (u128::from(next() & 0x0101_0101) << 8),
                    };
                    for w in [8usize, 16] {
                        let (a, b) = if w == 8 { (a as u64 as u128, b as u64 as u128) } else { (a, b) };
                        let keep = if w == 8 { u128::from(u64::MAX) } else { u128::MAX };
                        $(
                            assert_eq!(
                                op::<$k>(a, b, w, 0x1B) & keep,
                                soft_op::<$k>(a, b, w, 0x1B) & keep,
                                "{} a={a:#x} b={b:#x} w={w}", stringify!($k)
                            );
                        )*
                    }
                }
            };
        }
        check!(
            PXOR, POR, PAND, PANDN, PCMPEQB, PCMPEQW, PCMPEQD, PCMPGTB, PCMPGTW, PCMPGTD, PADDB,
            PADDW, PADDD, PADDQ, PSUBB, PSUBW, PSUBD, PSUBQ, PADDSB, PADDSW, PADDUSB, PADDUSW,
            PSUBSB, PSUBSW, PSUBUSB, PSUBUSW, PMINUB, PMAXUB, PMINSW, PMAXSW, PAVGB, PAVGW, PSADBW,
            PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD, PSLLW, PSLLD, PSLLQ, PSRLW, PSRLD, PSRLQ,
            PSRAW, PSRAD, PUNPCKLBW, PUNPCKLWD, PUNPCKLDQ, PUNPCKLQDQ, PUNPCKHBW, PUNPCKHWD,
            PUNPCKHDQ, PUNPCKHQDQ, PACKSSWB, PACKUSWB, PACKSSDW
        );
        for _ in 0..1000 {
            let v = u128::from(next()) | (u128::from(next()) << 64);
            let b = v.to_le_bytes();
            let want = (0..16).fold(0u64, |m, k| m | (u64::from(b[k] >> 7) << k));
            assert_eq!(movemask(v, 16), want);
            assert_eq!(movemask(v, 8), want & 0xFF);
        }
    }
}

//! The SSE/SSE2 floating-point arithmetic engine.
//!
//! Exactness strategy: on x86-64 hosts every floating-point operation runs
//! as the host's own SSE instruction, under the guest's rounding control,
//! FTZ and DAZ bits with every exception masked in the host MXCSR (so the
//! host never traps), and the exception flags the host raised are read
//! back. When the host MXCSR has other control bits, they are switched and
//! switched back inside the same `asm!` block, so no Rust code ever runs
//! under the guest's control bits; the host's sticky flags are left clear
//! (Rust code never reads them). Two fast paths avoid the costly MXCSR
//! accesses: `under!` needs no LDMXCSR when the host already has the
//! guest's control bits and no stale flag the guest lacks, and
//! `op2_quick` (arithmetic under the default MXCSR with PE already set)
//! touches MXCSR not at all when every input and output element is
//! ordinary, because then nothing in the guest's MXCSR can change. Both
//! rely on the host thread running with Rust's default floating-point
//! environment (round to nearest, all exceptions masked, no FTZ/DAZ),
//! which Rust's own float semantics assume. Intel and AMD
//! agree on the results and flags of every SSE/SSE2 arithmetic, compare
//! and conversion instruction (SDM Vol. 1 §11.5, IEEE 754); the one
//! exception is the approximate RCPPS/RCPSS/RSQRTPS/RSQRTSS, whose results
//! here are the host processor's (AMD Zen on the reference host; Intel's
//! tables give different low bits within the documented 1.5 * 2^-12
//! relative error).
//!
//! Other hosts use [`soft`]: Rust float operations that round to nearest
//! even whatever MXCSR.RC says, ignore FTZ/DAZ and report no exception
//! flags; it exists so the crate builds and runs everywhere, not as an
//! exact model.
//!
//! Every function returns the result and the MXCSR exception flags
//! (bits 0-5: IE, DE, ZE, OE, UE, PE) detected with all exceptions masked;
//! `sse_fp` turns them into the guest's sticky flags or an #XM/#UD.

/// Operation codes: `BASE + KIND` for the arithmetic group, where `KIND`
/// is one of [`PS`], [`SS`], [`PD`], [`SD`].
pub(super) const PS: u8 = 0;
/// Scalar single.
pub(super) const SS: u8 = 1;
/// Packed double.
pub(super) const PD: u8 = 2;
/// Scalar double.
pub(super) const SD: u8 = 3;
/// ADDxx.
pub(super) const ADD: u8 = 0;
/// SUBxx.
pub(super) const SUB: u8 = 4;
/// MULxx.
pub(super) const MUL: u8 = 8;
/// DIVxx.
pub(super) const DIV: u8 = 12;
/// MINxx.
pub(super) const MIN: u8 = 16;
/// MAXxx.
pub(super) const MAX: u8 = 20;
/// SQRTxx.
pub(super) const SQRT: u8 = 24;
/// RCPPS/RCPSS (PS and SS only).
pub(super) const RCP: u8 = 28;
/// RSQRTPS/RSQRTSS (PS and SS only).
pub(super) const RSQRT: u8 = 32;
/// CVTSS2SD.
pub(super) const CVTSS2SD: u8 = 40;
/// CVTSD2SS.
pub(super) const CVTSD2SS: u8 = 41;
/// CVTDQ2PS.
pub(super) const CVTDQ2PS: u8 = 42;
/// CVTPS2DQ.
pub(super) const CVTPS2DQ: u8 = 43;
/// CVTTPS2DQ.
pub(super) const CVTTPS2DQ: u8 = 44;
/// CVTDQ2PD.
pub(super) const CVTDQ2PD: u8 = 45;
/// CVTPD2DQ.
pub(super) const CVTPD2DQ: u8 = 46;
/// CVTTPD2DQ.
pub(super) const CVTTPD2DQ: u8 = 47;
/// CVTPS2PD.
pub(super) const CVTPS2PD: u8 = 48;
/// CVTPD2PS.
pub(super) const CVTPD2PS: u8 = 49;

/// Integer conversions: CVT(T)SS2SI / CVT(T)SD2SI, 32 or 64-bit result.
pub(super) const CVTSS2SI: u8 = 0;
/// CVTTSS2SI.
pub(super) const CVTTSS2SI: u8 = 1;
/// CVTSD2SI.
pub(super) const CVTSD2SI: u8 = 2;
/// CVTTSD2SI.
pub(super) const CVTTSD2SI: u8 = 3;

/// Host MXCSR bits that are taken from the guest: DAZ (6), RC (13-14),
/// FTZ (15). Every exception is masked (bits 7-12).
const CONTROL: u32 = (1 << 6) | (3 << 13) | (1 << 15);
/// All six exception mask bits.
const MASKS: u32 = 0x3F << 7;

/// The host MXCSR for a guest MXCSR: the guest's rounding, DAZ and FTZ,
/// every exception masked, no flags. FTZ takes effect only while underflow
/// is masked (SDM Vol. 1 §10.2.3.3), so it is dropped when the guest
/// unmasks underflow.
#[inline(always)]
pub(super) fn host_csr(guest: u32) -> u32 {
    let mut c = (guest & CONTROL) | MASKS;
    if guest & (1 << 11) == 0 {
        c &= !(1 << 15);
    }
    c
}

/// The operations [`op2_quick`] handles.
pub(super) const fn quick_op(op: u8) -> bool {
    op < RCP || matches!(op, CVTSS2SD | CVTSD2SS | CVTPS2PD | CVTPD2PS)
}

/// A single-precision element that is zero or normal (no NaN, infinity
/// or denormal).
#[inline(always)]
const fn plain32(x: u32) -> bool {
    let e = x & 0x7F80_0000;
    e != 0x7F80_0000 && (e != 0 || x << 1 == 0)
}

/// A double-precision element that is zero or normal.
#[inline(always)]
const fn plain64(x: u64) -> bool {
    let e = x & 0x7FF0_0000_0000_0000;
    e != 0x7FF0_0000_0000_0000 && (e != 0 || x << 1 == 0)
}

/// A single-precision result that is zero or normal above the smallest
/// binade: a result of 2^-126 (or just above) may come from a tiny value
/// rounded up, which raises UE (tininess is judged after rounding with an
/// unbounded exponent, SDM Vol. 1 §4.9.1.5).
#[inline(always)]
const fn plain_out32(x: u32) -> bool {
    let e = x & 0x7F80_0000;
    e != 0x7F80_0000 && (e > 0x0080_0000 || x << 1 == 0)
}

/// The double-precision counterpart of [`plain_out32`].
#[inline(always)]
const fn plain_out64(x: u64) -> bool {
    let e = x & 0x7FF0_0000_0000_0000;
    e != 0x7FF0_0000_0000_0000 && (e > 0x0010_0000_0000_0000 || x << 1 == 0)
}

/// True when `OP` on `a`, `b` giving `r` can have raised no exception but
/// PE (SDM Vol. 1 §11.5.2): every input element read is zero or normal
/// (no DE, no NaN operand), every output element is zero or normal above
/// the smallest binade (no NaN from an invalid operation, no infinity from
/// an overflow in the default rounding, no tiny result), a divisor is
/// nonzero (no ZE), and a zero product, quotient or narrowed value comes
/// from a zero input (not an underflow to zero). Sums and differences
/// cannot underflow to zero: a tiny difference of normal values is exact
/// and denormal.
#[inline(always)]
pub(super) fn ordinary<const OP: u8>(a: u128, b: u128, r: u128) -> bool {
    let d32 = |v: u128, k: usize| (v >> (32 * k)) as u32;
    let d64 = |v: u128, k: usize| (v >> (64 * k)) as u64;
    match OP {
        CVTSS2SD | CVTPS2PD => {
            let n = if OP == CVTSS2SD { 1 } else { 2 };
            (0..n).all(|k| plain32(d32(b, k)))
        }
        CVTSD2SS | CVTPD2PS => {
            let n = if OP == CVTSD2SS { 1 } else { 2 };
            (0..n).all(|k| {
                let (x, y) = (d64(b, k), d32(r, k));
                plain64(x) && plain_out32(y) && (y << 1 != 0 || x << 1 == 0)
            })
        }
        _ => {
            let base = OP & !3;
            let n = match OP & 3 {
                PS => 4,
                PD => 2,
                _ => 1,
            };
            (0..n).all(|k| {
                let (ok, a0, b0, r0) = if matches!(OP & 3, PS | SS) {
                    let (x, y, z) = (d32(a, k), d32(b, k), d32(r, k));
                    let ok = plain32(y) && plain_out32(z) && (base == SQRT || plain32(x));
                    (ok, x << 1 == 0, y << 1 == 0, z << 1 == 0)
                } else {
                    let (x, y, z) = (d64(a, k), d64(b, k), d64(r, k));
                    let ok = plain64(y) && plain_out64(z) && (base == SQRT || plain64(x));
                    (ok, x << 1 == 0, y << 1 == 0, z << 1 == 0)
                };
                ok && match base {
                    MUL => !r0 || a0 || b0,
                    DIV => !b0 && (!r0 || a0),
                    _ => true,
                }
            })
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use host::*;
#[cfg(not(target_arch = "x86_64"))]
pub(super) use soft::*;

#[cfg(target_arch = "x86_64")]
mod host {
    use super::*;
    use core::arch::asm;
    use core::arch::x86_64::__m128i;

    #[inline(always)]
    fn m(v: u128) -> __m128i {
        // SAFETY: both types are 16 bytes of plain data with no invalid
        // bit patterns.
        unsafe { core::mem::transmute::<u128, __m128i>(v) }
    }

    #[inline(always)]
    fn u(v: __m128i) -> u128 {
        // SAFETY: as in `m`.
        unsafe { core::mem::transmute::<__m128i, u128>(v) }
    }

    /// The host's MXCSR.
    #[inline(always)]
    fn host_mxcsr() -> u32 {
        let mut v = 0u32;
        // SAFETY: STMXCSR writes the four bytes of `v` only.
        unsafe { asm!("stmxcsr [{}]", in(reg) &raw mut v, options(nostack, preserves_flags)) };
        v
    }

    /// Runs the instruction template `$t` under the guest MXCSR `$csr`;
    /// evaluates to the exception flags (bits 0-5) to merge into the
    /// guest's MXCSR.
    ///
    /// Fast path (no LDMXCSR): the host MXCSR already has the control bits
    /// `host_csr(guest)` asks for, the guest masks every exception, and
    /// every sticky flag left in the host MXCSR is already set in the
    /// guest's. Then the flags read after the instruction, merged into the
    /// guest's, give exactly the guest's new MXCSR (a flag that was already
    /// set stays set either way, and no exception can be unmasked).
    ///
    /// Otherwise the host MXCSR is loaded with `host_csr(guest)` and no
    /// flags, the instruction runs, the flags are read, and the host's
    /// control bits are restored with its sticky flags cleared (Rust code
    /// never reads them; clearing them keeps the next operation on the
    /// fast path).
    macro_rules! under {
        ($csr:expr, $t:expr, $($ops:tt)*) => {{
            let guest: u32 = $csr;
            let new = host_csr(guest);
            let h = host_mxcsr();
            let mut out = 0u32;
            if h & !0x3F == new && guest & MASKS == MASKS && h & 0x3F & !guest == 0 {
                // SAFETY: STMXCSR writes the local `out` only; the MXCSR in
                // force masks every exception (no trap). The instruction
                // works on registers only.
                unsafe {
                    asm!(
                        $t,
                        "stmxcsr [{o}]",
                        o = in(reg) &raw mut out,
                        $($ops)*
                        options(nostack),
                    );
                }
            } else {
                let restore = h & !0x3F;
                // SAFETY: STMXCSR/LDMXCSR touch only the local u32 slots
                // given by pointer; the MXCSR loaded has every exception
                // masked (no trap) and the host's control bits are
                // restored before the block ends. The instruction itself
                // works on registers only.
                unsafe {
                    asm!(
                        "ldmxcsr [{n}]",
                        $t,
                        "stmxcsr [{o}]",
                        "ldmxcsr [{rs}]",
                        n = in(reg) &raw const new,
                        rs = in(reg) &raw const restore,
                        o = in(reg) &raw mut out,
                        $($ops)*
                        options(nostack),
                    );
                }
            }
            out & 0x3F
        }};
    }

    macro_rules! op2 {
        ($op:expr, $a:expr, $b:expr, $csr:expr; $($k:expr => $mn:literal),* $(,)?) => {{
            let mut x = m($a);
            let y = m($b);
            let f = match $op {
                $( k if k == $k => under!($csr, concat!($mn, " {x}, {y}"), x = inout(xmm_reg) x, y = in(xmm_reg) y,), )*
                _ => 0,
            };
            (u(x), f)
        }};
    }

    /// `OP dst, src` on the host: dst = `a`, src = `b`.
    #[inline(always)]
    pub(in super::super) fn op2<const OP: u8>(a: u128, b: u128, csr: u32) -> (u128, u32) {
        op2!(OP, a, b, csr;
            ADD + PS => "addps", ADD + SS => "addss", ADD + PD => "addpd", ADD + SD => "addsd",
            SUB + PS => "subps", SUB + SS => "subss", SUB + PD => "subpd", SUB + SD => "subsd",
            MUL + PS => "mulps", MUL + SS => "mulss", MUL + PD => "mulpd", MUL + SD => "mulsd",
            DIV + PS => "divps", DIV + SS => "divss", DIV + PD => "divpd", DIV + SD => "divsd",
            MIN + PS => "minps", MIN + SS => "minss", MIN + PD => "minpd", MIN + SD => "minsd",
            MAX + PS => "maxps", MAX + SS => "maxss", MAX + PD => "maxpd", MAX + SD => "maxsd",
            SQRT + PS => "sqrtps", SQRT + SS => "sqrtss", SQRT + PD => "sqrtpd", SQRT + SD => "sqrtsd",
            RCP + PS => "rcpps", RCP + SS => "rcpss", RSQRT + PS => "rsqrtps", RSQRT + SS => "rsqrtss",
            CVTSS2SD => "cvtss2sd", CVTSD2SS => "cvtsd2ss", CVTDQ2PS => "cvtdq2ps",
            CVTPS2DQ => "cvtps2dq", CVTTPS2DQ => "cvttps2dq", CVTDQ2PD => "cvtdq2pd",
            CVTPD2DQ => "cvtpd2dq", CVTTPD2DQ => "cvttpd2dq", CVTPS2PD => "cvtps2pd",
            CVTPD2PS => "cvtpd2ps",
        )
    }

    /// `OP dst, src` run under the host's own MXCSR, which in a Rust
    /// program always has the default control bits (round to nearest,
    /// every exception masked, no FTZ/DAZ: Rust's floating-point semantics
    /// assume that environment). Returns the result only when every input
    /// and output element is an ordinary value (see [`ordinary`]): then the
    /// only exception the operation can have raised is PE, so a guest whose
    /// MXCSR has exactly that default control and PE already set sees no
    /// change to its MXCSR. Otherwise None (the caller runs [`op2`]).
    #[inline(always)]
    pub(in super::super) fn op2_quick<const OP: u8>(a: u128, b: u128) -> Option<u128> {
        if !quick_op(OP) {
            return None;
        }
        let mut x = m(a);
        let y = m(b);
        macro_rules! bare {
            ($($k:expr => $mn:literal),* $(,)?) => {
                match OP {
                    // SAFETY: one SSE instruction on registers; the host
                    // MXCSR masks every exception, so it cannot trap.
                    $( k if k == $k => unsafe {
                        asm!(concat!($mn, " {x}, {y}"), x = inout(xmm_reg) x, y = in(xmm_reg) y, options(pure, nomem, nostack, preserves_flags));
                    }, )*
                    _ => return None,
                }
            };
        }
        bare!(
            ADD + PS => "addps", ADD + SS => "addss", ADD + PD => "addpd", ADD + SD => "addsd",
            SUB + PS => "subps", SUB + SS => "subss", SUB + PD => "subpd", SUB + SD => "subsd",
            MUL + PS => "mulps", MUL + SS => "mulss", MUL + PD => "mulpd", MUL + SD => "mulsd",
            DIV + PS => "divps", DIV + SS => "divss", DIV + PD => "divpd", DIV + SD => "divsd",
            MIN + PS => "minps", MIN + SS => "minss", MIN + PD => "minpd", MIN + SD => "minsd",
            MAX + PS => "maxps", MAX + SS => "maxss", MAX + PD => "maxpd", MAX + SD => "maxsd",
            SQRT + PS => "sqrtps", SQRT + SS => "sqrtss", SQRT + PD => "sqrtpd", SQRT + SD => "sqrtsd",
            CVTSS2SD => "cvtss2sd", CVTSD2SS => "cvtsd2ss", CVTPS2PD => "cvtps2pd",
            CVTPD2PS => "cvtpd2ps",
        );
        let r = u(x);
        if ordinary::<OP>(a, b, r) {
            Some(r)
        } else {
            None
        }
    }

    macro_rules! cmp_arm {
        ($kind:expr, $x:ident, $y:ident, $csr:expr, $p:expr) => {
            match $kind {
                PS => under!($csr, "cmpps {x}, {y}, {p}", x = inout(xmm_reg) $x, y = in(xmm_reg) $y, p = const $p,),
                SS => under!($csr, "cmpss {x}, {y}, {p}", x = inout(xmm_reg) $x, y = in(xmm_reg) $y, p = const $p,),
                PD => under!($csr, "cmppd {x}, {y}, {p}", x = inout(xmm_reg) $x, y = in(xmm_reg) $y, p = const $p,),
                _ => under!($csr, "cmpsd {x}, {y}, {p}", x = inout(xmm_reg) $x, y = in(xmm_reg) $y, p = const $p,),
            }
        };
    }

    /// CMPPS/CMPSS/CMPPD/CMPSD with predicate `pred & 7`.
    #[inline(always)]
    pub(in super::super) fn cmp<const KIND: u8>(
        a: u128,
        b: u128,
        pred: u8,
        csr: u32,
    ) -> (u128, u32) {
        let mut x = m(a);
        let y = m(b);
        let f = match pred & 7 {
            0 => cmp_arm!(KIND, x, y, csr, 0),
            1 => cmp_arm!(KIND, x, y, csr, 1),
            2 => cmp_arm!(KIND, x, y, csr, 2),
            3 => cmp_arm!(KIND, x, y, csr, 3),
            4 => cmp_arm!(KIND, x, y, csr, 4),
            5 => cmp_arm!(KIND, x, y, csr, 5),
            6 => cmp_arm!(KIND, x, y, csr, 6),
            _ => cmp_arm!(KIND, x, y, csr, 7),
        };
        (u(x), f)
    }

    /// COMISS/UCOMISS/COMISD/UCOMISD (`DOUBLE`, `SIGNALING`): returns
    /// ZF, PF, CF in their RFLAGS positions and the MXCSR flags.
    #[inline(always)]
    pub(in super::super) fn comi<const DOUBLE: bool, const SIGNALING: bool>(
        a: u128,
        b: u128,
        csr: u32,
    ) -> (u64, u32) {
        let x = m(a);
        let y = m(b);
        let (mut z, mut p, mut c): (u8, u8, u8) = (0, 0, 0);
        let f = match (DOUBLE, SIGNALING) {
            (false, true) => {
                under!(csr, "comiss {x}, {y}\nsetz {z}\nsetp {p}\nsetc {c}", x = in(xmm_reg) x, y = in(xmm_reg) y, z = out(reg_byte) z, p = out(reg_byte) p, c = out(reg_byte) c,)
            }
            (false, false) => {
                under!(csr, "ucomiss {x}, {y}\nsetz {z}\nsetp {p}\nsetc {c}", x = in(xmm_reg) x, y = in(xmm_reg) y, z = out(reg_byte) z, p = out(reg_byte) p, c = out(reg_byte) c,)
            }
            (true, true) => {
                under!(csr, "comisd {x}, {y}\nsetz {z}\nsetp {p}\nsetc {c}", x = in(xmm_reg) x, y = in(xmm_reg) y, z = out(reg_byte) z, p = out(reg_byte) p, c = out(reg_byte) c,)
            }
            (true, false) => {
                under!(csr, "ucomisd {x}, {y}\nsetz {z}\nsetp {p}\nsetc {c}", x = in(xmm_reg) x, y = in(xmm_reg) y, z = out(reg_byte) z, p = out(reg_byte) p, c = out(reg_byte) c,)
            }
        };
        let fl = (u64::from(z) << 6) | (u64::from(p) << 2) | u64::from(c);
        (fl, f)
    }

    /// CVT(T)SS2SI / CVT(T)SD2SI of the low element of `b` to a 32-bit
    /// (`W64` false, zero-extended) or 64-bit integer.
    #[inline(always)]
    pub(in super::super) fn cvt2si<const OP: u8, const W64: bool>(b: u128, csr: u32) -> (u64, u32) {
        let y = m(b);
        let mut r: u64 = 0;
        let f = match (OP, W64) {
            (CVTSS2SI, false) => {
                under!(csr, "cvtss2si {r:e}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTSS2SI, true) => {
                under!(csr, "cvtss2si {r}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTTSS2SI, false) => {
                under!(csr, "cvttss2si {r:e}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTTSS2SI, true) => {
                under!(csr, "cvttss2si {r}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTSD2SI, false) => {
                under!(csr, "cvtsd2si {r:e}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTSD2SI, true) => {
                under!(csr, "cvtsd2si {r}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            (CVTTSD2SI, false) => {
                under!(csr, "cvttsd2si {r:e}, {y}", r = inout(reg) r, y = in(xmm_reg) y,)
            }
            _ => under!(csr, "cvttsd2si {r}, {y}", r = inout(reg) r, y = in(xmm_reg) y,),
        };
        let r = if W64 { r } else { r & 0xFFFF_FFFF };
        (r, f)
    }

    /// CVTSI2SS/CVTSI2SD (`DOUBLE`) of a 32-bit (`W64` false) or 64-bit
    /// integer into the low element of `a`.
    #[inline(always)]
    pub(in super::super) fn cvtsi2<const DOUBLE: bool, const W64: bool>(
        a: u128,
        v: u64,
        csr: u32,
    ) -> (u128, u32) {
        let mut x = m(a);
        let f = match (DOUBLE, W64) {
            (false, false) => {
                under!(csr, "cvtsi2ss {x}, {r:e}", x = inout(xmm_reg) x, r = in(reg) v,)
            }
            (false, true) => under!(csr, "cvtsi2ss {x}, {r}", x = inout(xmm_reg) x, r = in(reg) v,),
            (true, false) => {
                under!(csr, "cvtsi2sd {x}, {r:e}", x = inout(xmm_reg) x, r = in(reg) v,)
            }
            (true, true) => under!(csr, "cvtsi2sd {x}, {r}", x = inout(xmm_reg) x, r = in(reg) v,),
        };
        (u(x), f)
    }
}

/// The portable fallback (see the module comment): round to nearest even,
/// no FTZ/DAZ, no exception flags.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(super) mod soft {
    use super::*;

    fn f32s(v: u128) -> [f32; 4] {
        core::array::from_fn(|k| f32::from_bits((v >> (32 * k)) as u32))
    }
    fn f64s(v: u128) -> [f64; 2] {
        core::array::from_fn(|k| f64::from_bits((v >> (64 * k)) as u64))
    }
    fn from32(a: [u32; 4]) -> u128 {
        a.iter()
            .enumerate()
            .fold(0, |r, (k, &x)| r | (u128::from(x) << (32 * k)))
    }
    fn from64(a: [u64; 2]) -> u128 {
        u128::from(a[0]) | (u128::from(a[1]) << 64)
    }
    fn map32(a: u128, b: u128, n: usize, f: impl Fn(f32, f32) -> f32) -> u128 {
        let (x, y) = (f32s(a), f32s(b));
        let mut r: [u32; 4] = core::array::from_fn(|k| x[k].to_bits());
        for k in 0..n {
            r[k] = f(x[k], y[k]).to_bits();
        }
        from32(r)
    }
    fn map64(a: u128, b: u128, n: usize, f: impl Fn(f64, f64) -> f64) -> u128 {
        let (x, y) = (f64s(a), f64s(b));
        let mut r: [u64; 2] = core::array::from_fn(|k| x[k].to_bits());
        for k in 0..n {
            r[k] = f(x[k], y[k]).to_bits();
        }
        from64(r)
    }
    fn lanes(
        kind: u8,
        a: u128,
        b: u128,
        f32op: fn(f32, f32) -> f32,
        f64op: fn(f64, f64) -> f64,
    ) -> u128 {
        match kind {
            PS => map32(a, b, 4, f32op),
            SS => map32(a, b, 1, f32op),
            PD => map64(a, b, 2, f64op),
            _ => map64(a, b, 1, f64op),
        }
    }
    /// x86 integer conversion: nearest even (or truncation), the integer
    /// indefinite value when out of range or NaN.
    fn to_int(x: f64, trunc: bool, w64: bool) -> u64 {
        let r = if trunc {
            x.trunc()
        } else {
            x.round_ties_even()
        };
        if w64 {
            if r.is_nan() || !(i64::MIN as f64..-(i64::MIN as f64)).contains(&r) {
                1 << 63
            } else {
                r as i64 as u64
            }
        } else if r.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&r) {
            0x8000_0000
        } else {
            u64::from(r as i32 as u32)
        }
    }

    /// The portable engine has no quick path.
    pub(in super::super) fn op2_quick<const OP: u8>(_a: u128, _b: u128) -> Option<u128> {
        None
    }

    /// See the x86-64 engine's `op2`.
    pub(in super::super) fn op2<const OP: u8>(a: u128, b: u128, _csr: u32) -> (u128, u32) {
        let kind = OP & 3;
        let r = match OP {
            CVTSS2SD => {
                let x = f32::from_bits(b as u32) as f64;
                (a & !u128::from(u64::MAX)) | u128::from(x.to_bits())
            }
            CVTSD2SS => {
                let x = f64::from_bits(b as u64) as f32;
                (a & !u128::from(u32::MAX)) | u128::from(x.to_bits())
            }
            CVTDQ2PS => from32(core::array::from_fn(|k| {
                ((b >> (32 * k)) as u32 as i32 as f32).to_bits()
            })),
            CVTPS2DQ | CVTTPS2DQ => {
                let x = f32s(b);
                from32(core::array::from_fn(|k| {
                    to_int(f64::from(x[k]), OP == CVTTPS2DQ, false) as u32
                }))
            }
            CVTDQ2PD => from64(core::array::from_fn(|k| {
                f64::from((b >> (32 * k)) as u32 as i32).to_bits()
            })),
            CVTPD2DQ | CVTTPD2DQ => {
                let x = f64s(b);
                let lo = to_int(x[0], OP == CVTTPD2DQ, false);
                let hi = to_int(x[1], OP == CVTTPD2DQ, false);
                u128::from(lo | (hi << 32))
            }
            CVTPS2PD => {
                let x = f32s(b);
                from64([f64::from(x[0]).to_bits(), f64::from(x[1]).to_bits()])
            }
            CVTPD2PS => {
                let x = f64s(b);
                u128::from((x[0] as f32).to_bits()) | (u128::from((x[1] as f32).to_bits()) << 32)
            }
            _ => match OP & !3 {
                ADD => lanes(kind, a, b, |x, y| x + y, |x, y| x + y),
                SUB => lanes(kind, a, b, |x, y| x - y, |x, y| x - y),
                MUL => lanes(kind, a, b, |x, y| x * y, |x, y| x * y),
                DIV => lanes(kind, a, b, |x, y| x / y, |x, y| x / y),
                MIN => lanes(
                    kind,
                    a,
                    b,
                    |x, y| if x < y { x } else { y },
                    |x, y| if x < y { x } else { y },
                ),
                MAX => lanes(
                    kind,
                    a,
                    b,
                    |x, y| if x > y { x } else { y },
                    |x, y| if x > y { x } else { y },
                ),
                SQRT => lanes(kind, a, b, |_, y| y.sqrt(), |_, y| y.sqrt()),
                RCP => lanes(kind, a, b, |_, y| 1.0 / y, |_, y| 1.0 / y),
                _ => lanes(kind, a, b, |_, y| 1.0 / y.sqrt(), |_, y| 1.0 / y.sqrt()),
            },
        };
        (r, 0)
    }

    fn pred32(x: f32, y: f32, p: u8) -> bool {
        let un = x.is_nan() || y.is_nan();
        match p & 7 {
            0 => x == y,
            1 => x < y,
            2 => x <= y,
            3 => un,
            4 => x != y,
            5 => x.partial_cmp(&y) != Some(core::cmp::Ordering::Less),
            6 => !matches!(
                x.partial_cmp(&y),
                Some(core::cmp::Ordering::Less | core::cmp::Ordering::Equal)
            ),
            _ => !un,
        }
    }

    /// See the x86-64 engine's `cmp`.
    pub(in super::super) fn cmp<const KIND: u8>(
        a: u128,
        b: u128,
        pred: u8,
        _csr: u32,
    ) -> (u128, u32) {
        let r = match KIND {
            PS | SS => {
                let (x, y) = (f32s(a), f32s(b));
                let n = if KIND == PS { 4 } else { 1 };
                let mut r: [u32; 4] = core::array::from_fn(|k| x[k].to_bits());
                for k in 0..n {
                    r[k] = if pred32(x[k], y[k], pred) {
                        u32::MAX
                    } else {
                        0
                    };
                }
                from32(r)
            }
            _ => {
                let (x, y) = (f64s(a), f64s(b));
                let n = if KIND == PD { 2 } else { 1 };
                let mut r: [u64; 2] = core::array::from_fn(|k| x[k].to_bits());
                for k in 0..n {
                    // f64 -> f32 never changes the order relation's
                    // answer for NaN; compare in f64 directly.
                    let (p, q) = (x[k], y[k]);
                    let un = p.is_nan() || q.is_nan();
                    let t = match pred & 7 {
                        0 => p == q,
                        1 => p < q,
                        2 => p <= q,
                        3 => un,
                        4 => p != q,
                        5 => p.partial_cmp(&q) != Some(core::cmp::Ordering::Less),
                        6 => !matches!(
                            p.partial_cmp(&q),
                            Some(core::cmp::Ordering::Less | core::cmp::Ordering::Equal)
                        ),
                        _ => !un,
                    };
                    r[k] = if t { u64::MAX } else { 0 };
                }
                from64(r)
            }
        };
        (r, 0)
    }

    /// See the x86-64 engine's `comi`.
    pub(in super::super) fn comi<const DOUBLE: bool, const SIGNALING: bool>(
        a: u128,
        b: u128,
        _csr: u32,
    ) -> (u64, u32) {
        let (x, y) = if DOUBLE {
            (f64::from_bits(a as u64), f64::from_bits(b as u64))
        } else {
            (
                f64::from(f32::from_bits(a as u32)),
                f64::from(f32::from_bits(b as u32)),
            )
        };
        let fl = if x.is_nan() || y.is_nan() {
            (1 << 6) | (1 << 2) | 1
        } else if x < y {
            1
        } else if x == y {
            1 << 6
        } else {
            0
        };
        (fl, 0)
    }

    /// See the x86-64 engine's `cvt2si`.
    pub(in super::super) fn cvt2si<const OP: u8, const W64: bool>(
        b: u128,
        _csr: u32,
    ) -> (u64, u32) {
        let x = match OP {
            CVTSS2SI | CVTTSS2SI => f64::from(f32::from_bits(b as u32)),
            _ => f64::from_bits(b as u64),
        };
        (to_int(x, OP == CVTTSS2SI || OP == CVTTSD2SI, W64), 0)
    }

    /// See the x86-64 engine's `cvtsi2`.
    pub(in super::super) fn cvtsi2<const DOUBLE: bool, const W64: bool>(
        a: u128,
        v: u64,
        _csr: u32,
    ) -> (u128, u32) {
        let r = match (DOUBLE, W64) {
            (false, false) => {
                (a & !u128::from(u32::MAX)) | u128::from((v as u32 as i32 as f32).to_bits())
            }
            (false, true) => (a & !u128::from(u32::MAX)) | u128::from((v as i64 as f32).to_bits()),
            (true, false) => {
                (a & !u128::from(u64::MAX)) | u128::from(f64::from(v as u32 as i32).to_bits())
            }
            (true, true) => (a & !u128::from(u64::MAX)) | u128::from((v as i64 as f64).to_bits()),
        };
        (r, 0)
    }
}

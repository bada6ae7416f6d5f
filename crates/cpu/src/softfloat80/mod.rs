//! 80-bit double-extended-precision software floating point with the x87's
//! rounding, precision control and exception rules (SDM Vol. 1 §4.2.2,
//! §4.8, §4.9, §8.1.5, §8.5).
//!
//! Every operation takes an [`Env`] (rounding control, precision control
//! and the exception masks from the FPU control word) and accumulates the
//! exception flags it raises, plus C1 ("rounded up"), in [`Env::flags`].
//! Results are the masked responses of the SDM; an instruction whose
//! exception is unmasked decides from [`Env::unmasked`] whether to commit.
//!
//! Submodules: `arith` (add, sub, mul, div, sqrt), `convert` (f32, f64,
//! integers, packed BCD), `special` (round to integer, compare, FSCALE,
//! FXTRACT, FPREM/FPREM1), `transcend` (host-f64 transcendentals).

pub mod arith;
pub mod convert;
pub mod special;
pub mod transcend;
pub mod wide;

#[cfg(all(test, target_arch = "x86_64"))]
mod host_tests;
#[cfg(test)]
mod tests;

use crate::fpu::F80;

/// Invalid operation (FSW bit 0).
pub const IE: u16 = 1 << 0;
/// Denormal operand (FSW bit 1).
pub const DE: u16 = 1 << 1;
/// Zero divide (FSW bit 2).
pub const ZE: u16 = 1 << 2;
/// Overflow (FSW bit 3).
pub const OE: u16 = 1 << 3;
/// Underflow (FSW bit 4).
pub const UE: u16 = 1 << 4;
/// Precision (inexact) (FSW bit 5).
pub const PE: u16 = 1 << 5;
/// Condition code C1 (FSW bit 9): set when the result was rounded up.
pub const C1: u16 = 1 << 9;

/// Exponent bias of the double-extended format.
pub const BIAS: i32 = 16383;
/// The rebias constant applied to unmasked overflow/underflow results
/// delivered to a register (SDM Vol. 1 §4.9.1.4-5: 24576).
pub const WRAP: i32 = 24576;

/// The QNaN floating-point indefinite (SDM Vol. 1 Table 4-3).
pub const INDEFINITE: F80 = F80 {
    signif: 0xC000_0000_0000_0000,
    sign_exp: 0xFFFF,
};

/// Rounding control (FCW bits 10-11, SDM Vol. 1 Table 4-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rc {
    /// Round to nearest (even).
    Nearest,
    /// Round down (toward -infinity).
    Down,
    /// Round up (toward +infinity).
    Up,
    /// Round toward zero (truncate).
    Zero,
}

/// The rounding and exception environment of one operation.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// Rounding control.
    pub rc: Rc,
    /// Significand precision in bits for FADD/FSUB/FMUL/FDIV/FSQRT
    /// (24, 53 or 64; FCW.PC).
    pub pc: u32,
    /// Exception masks (FCW bits 0-5: IM, DM, ZM, OM, UM, PM).
    pub masks: u16,
    /// Accumulated exception flags (FSW bits 0-5) and [`C1`].
    pub flags: u16,
}

impl Env {
    /// The environment described by control word `fcw`.
    pub fn from_fcw(fcw: u16) -> Env {
        Env {
            rc: match (fcw >> 10) & 3 {
                0 => Rc::Nearest,
                1 => Rc::Down,
                2 => Rc::Up,
                _ => Rc::Zero,
            },
            // PC 00 = 24 bits, 10 = 53 bits, 11 = 64 bits; 01 is
            // reserved (SDM Vol. 1 Table 8-2) and treated as 64 bits.
            pc: match (fcw >> 8) & 3 {
                0 => 24,
                2 => 53,
                _ => 64,
            },
            masks: fcw & 0x3F,
            flags: 0,
        }
    }

    /// The exception flags raised so far whose masks are clear.
    #[inline]
    pub fn unmasked(&self) -> u16 {
        self.flags & !self.masks & 0x3F
    }

    /// True when exception `f` is masked.
    #[inline]
    pub fn masked(&self, f: u16) -> bool {
        self.masks & f != 0
    }

    /// Raises `f`.
    #[inline]
    pub fn raise(&mut self, f: u16) {
        self.flags |= f;
    }
}

/// Operand classes (SDM Vol. 1 §8.2.2, Table 8-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// +0 or -0.
    Zero,
    /// A finite nonzero value (normal, denormal or pseudo-denormal).
    Finite,
    /// +infinity or -infinity.
    Inf,
    /// Quiet NaN.
    QNan,
    /// Signaling NaN.
    SNan,
    /// Unsupported encodings: pseudo-NaN, pseudo-infinity, unnormal.
    Unsupported,
}

/// An unpacked operand: for [`Kind::Finite`], `sig` is normalized (bit 63
/// set) and the value is `sig * 2^(exp - 63)`.
#[derive(Clone, Copy, Debug)]
pub struct Unp {
    /// Sign (true = negative).
    pub sign: bool,
    /// Class.
    pub kind: Kind,
    /// Unbiased exponent of the integer bit.
    pub exp: i32,
    /// Normalized significand.
    pub sig: u64,
    /// True for denormal and pseudo-denormal encodings (a DE source).
    pub denormal: bool,
}

/// Unpacks `x` into its class, sign, exponent and normalized significand.
pub fn unpack(x: F80) -> Unp {
    let sign = x.sign_exp & 0x8000 != 0;
    let be = i32::from(x.sign_exp & 0x7FFF);
    let s = x.signif;
    let j = s >> 63 != 0;
    let mut u = Unp {
        sign,
        kind: Kind::Finite,
        exp: be - BIAS,
        sig: s,
        denormal: false,
    };
    if be == 0x7FFF {
        u.kind = if !j {
            Kind::Unsupported
        } else if s << 1 == 0 {
            Kind::Inf
        } else if s & (1 << 62) != 0 {
            Kind::QNan
        } else {
            Kind::SNan
        };
    } else if be == 0 {
        if s == 0 {
            u.kind = Kind::Zero;
        } else {
            // Denormal or pseudo-denormal: exponent 1 - bias.
            let lz = s.leading_zeros();
            u.sig = s << lz;
            u.exp = 1 - BIAS - lz as i32;
            u.denormal = true;
        }
    } else if !j {
        u.kind = Kind::Unsupported;
    }
    u
}

impl Unp {
    /// True for a NaN of either kind.
    pub fn is_nan(&self) -> bool {
        matches!(self.kind, Kind::QNan | Kind::SNan)
    }
}

/// A signed zero.
pub fn zero(sign: bool) -> F80 {
    F80 {
        signif: 0,
        sign_exp: if sign { 0x8000 } else { 0 },
    }
}

/// A signed infinity.
pub fn inf(sign: bool) -> F80 {
    F80 {
        signif: 1 << 63,
        sign_exp: if sign { 0xFFFF } else { 0x7FFF },
    }
}

/// `x` with its sign set to `sign`.
pub fn with_sign(x: F80, sign: bool) -> F80 {
    F80 {
        signif: x.signif,
        sign_exp: (x.sign_exp & 0x7FFF) | if sign { 0x8000 } else { 0 },
    }
}

/// The QNaN of `x` (quiet bit set).
pub fn quiet(x: F80) -> F80 {
    F80 {
        signif: x.signif | (1 << 62),
        sign_exp: x.sign_exp,
    }
}

/// The unsupported-operand check and NaN propagation of a two-operand
/// arithmetic instruction (SDM Vol. 1 §4.8.3.5, Table 4-7): `Some(result)`
/// when either operand is unsupported or a NaN.
pub fn nan2(env: &mut Env, a: F80, ua: &Unp, b: F80, ub: &Unp) -> Option<F80> {
    if ua.kind == Kind::Unsupported || ub.kind == Kind::Unsupported {
        env.raise(IE);
        return Some(INDEFINITE);
    }
    let (na, nb) = (ua.is_nan(), ub.is_nan());
    if !na && !nb {
        return None;
    }
    if ua.kind == Kind::SNan || ub.kind == Kind::SNan {
        env.raise(IE);
    }
    let (sa, sb) = (ua.kind == Kind::SNan, ub.kind == Kind::SNan);
    if na && nb && sa == sb {
        // Two SNaNs or two QNaNs: the larger significand; equal
        // significands give the positive one.
        let (qa, qb) = (quiet(a), quiet(b));
        let pick_a = match qa.signif.cmp(&qb.signif) {
            core::cmp::Ordering::Greater => true,
            core::cmp::Ordering::Less => false,
            core::cmp::Ordering::Equal => qa.sign_exp <= qb.sign_exp,
        };
        return Some(if pick_a { qa } else { qb });
    }
    if na && nb {
        // An SNaN and a QNaN: the QNaN.
        return Some(if sa { b } else { a });
    }
    Some(quiet(if na { a } else { b }))
}

/// The unsupported/NaN check of a one-operand instruction.
pub fn nan1(env: &mut Env, a: F80, ua: &Unp) -> Option<F80> {
    match ua.kind {
        Kind::Unsupported => {
            env.raise(IE);
            Some(INDEFINITE)
        }
        Kind::SNan => {
            env.raise(IE);
            Some(quiet(a))
        }
        Kind::QNan => Some(a),
        _ => None,
    }
}

/// The integer `k` after rounding away the low `drop` bits of `sig`
/// under `rc`, whether bits were lost, and whether it was rounded up in
/// magnitude.
#[inline]
pub(crate) fn round_bits(sig: u128, drop: u32, sign: bool, rc: Rc) -> (u128, bool, bool) {
    let (kept, rem, half_cmp) = if drop == 0 {
        (sig, 0u128, core::cmp::Ordering::Less)
    } else if drop >= 129 {
        (0, sig, core::cmp::Ordering::Less)
    } else if drop == 128 {
        (0, sig, sig.cmp(&(1u128 << 127)))
    } else {
        let rem = sig & ((1u128 << drop) - 1);
        (sig >> drop, rem, rem.cmp(&(1u128 << (drop - 1))))
    };
    let inexact = rem != 0;
    let inc = inexact
        && match rc {
            Rc::Nearest => {
                half_cmp == core::cmp::Ordering::Greater
                    || (half_cmp == core::cmp::Ordering::Equal && kept & 1 == 1)
            }
            Rc::Up => !sign,
            Rc::Down => sign,
            Rc::Zero => false,
        };
    (kept + u128::from(inc), inexact, inc)
}

/// A binary floating-point format for rounding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    /// Significand precision in bits (including the integer bit).
    pub p: u32,
    /// Exponent bias.
    pub bias: i32,
    /// Largest biased exponent of a finite value.
    pub emax: i32,
    /// Rebias constant for unmasked overflow/underflow (0: the result is
    /// not delivered, as for memory destinations).
    pub wrap: i32,
}

/// The double-extended format at precision `pc`.
pub(crate) fn ext(pc: u32) -> Format {
    Format {
        p: pc,
        bias: BIAS,
        emax: 0x7FFE,
        wrap: WRAP,
    }
}

/// Rounds `sig * 2^scale` (sig may hold a sticky bit in its low bits) to
/// format `f` under `env`, raising OE/UE/PE and C1. Returns the biased
/// exponent and the significand with its integer bit at bit 63 (biased
/// exponent 0 for zeros and denormals; `emax + 1` for infinity).
/// Tininess is detected after rounding, as x86 processors do.
pub(crate) fn round_core(
    env: &mut Env,
    sign: bool,
    sig: u128,
    scale: i32,
    f: Format,
) -> (i32, u64) {
    if sig == 0 {
        return (0, 0);
    }
    let lz = sig.leading_zeros();
    let sig = sig << lz;
    // value = sig / 2^127 * 2^(e - bias)
    let e = scale
        .saturating_add(127 - lz as i32)
        .saturating_add(f.bias)
        .clamp(-(1 << 24), 1 << 24);
    let p = f.p;
    if p == 64 && e >= 1 && e <= f.emax {
        // Fast path: a normal result at 64 bits (the common case).
        let (hi, lo) = ((sig >> 64) as u64, sig as u64);
        if lo == 0 {
            return (e, hi);
        }
        let inc = match env.rc {
            Rc::Nearest => lo > 1 << 63 || (lo == 1 << 63 && hi & 1 == 1),
            Rc::Up => !sign,
            Rc::Down => sign,
            Rc::Zero => false,
        };
        let (k, carry) = hi.overflowing_add(u64::from(inc));
        let (en, k) = if carry { (e + 1, 1 << 63) } else { (e, k) };
        if en <= f.emax {
            env.raise(if inc { PE | C1 } else { PE });
            return (en, k);
        }
    }
    let (mut k, inexact, up) = round_bits(sig, 128 - p, sign, env.rc);
    let mut en = e;
    if k >> p != 0 {
        k >>= 1;
        en += 1;
    }
    let c1 = if up { C1 } else { 0 };
    if en > f.emax {
        if !env.masked(OE) && f.wrap == 0 {
            // A memory destination is left unchanged; nothing is rounded.
            env.raise(OE);
            return (0, 0);
        }
        if !env.masked(OE) && en - f.wrap <= f.emax {
            env.raise(OE);
            if inexact {
                env.raise(PE | c1);
            }
            return (en - f.wrap, (k << (64 - p)) as u64);
        }
        if !env.masked(OE) {
            // Beyond even the rebiased range (FSCALE): infinity
            // (observed on hardware, whatever the rounding control).
            env.raise(OE | PE | C1);
            return (f.emax + 1, 1 << 63);
        }
        {
            env.raise(OE | PE);
            let to_inf = match env.rc {
                Rc::Nearest => true,
                Rc::Zero => false,
                Rc::Up => !sign,
                Rc::Down => sign,
            };
            return if to_inf {
                env.raise(C1);
                (f.emax + 1, 1 << 63)
            } else {
                let max = (((1u128 << p) - 1) << (64 - p)) as u64;
                (f.emax, max)
            };
        }
    }
    if e >= 1 {
        if inexact {
            env.raise(PE | c1);
        }
        return (en, (k << (64 - p)) as u64);
    }
    let tiny = en < 1;
    if tiny && !env.masked(UE) && f.wrap == 0 {
        env.raise(UE);
        return (0, 0);
    }
    if tiny && !env.masked(UE) && en + f.wrap < 1 {
        // Beyond even the rebiased range (FSCALE): zero (observed).
        env.raise(UE | PE);
        return (0, 0);
    }
    if tiny && !env.masked(UE) {
        env.raise(UE);
        if inexact {
            env.raise(PE | c1);
        }
        return (en + f.wrap, (k << (64 - p)) as u64);
    }
    let d = (1 - e) as u32;
    let (k2, inexact2, up2) = round_bits(sig, (128 - p).saturating_add(d), sign, env.rc);
    let s64 = (k2 << (64 - p)) as u64;
    if inexact2 {
        env.raise(PE);
        if tiny {
            env.raise(UE);
        }
        if up2 {
            env.raise(C1);
        }
    }
    (if s64 >> 63 != 0 { 1 } else { 0 }, s64)
}

/// Rounds `sig * 2^scale` to double extended at precision `pc` (the
/// exponent range stays extended) and packs it.
pub fn round_pack(env: &mut Env, sign: bool, sig: u128, scale: i32, pc: u32) -> F80 {
    let (e, s) = round_core(env, sign, sig, scale, ext(pc));
    F80 {
        signif: s,
        sign_exp: ((e as u16) & 0x7FFF) | if sign { 0x8000 } else { 0 },
    }
}

/// Packs an exact finite value `sig * 2^scale` (no precision loss
/// expected) to double extended, or signed zero.
pub fn pack_exact(env: &mut Env, sign: bool, sig: u128, scale: i32) -> F80 {
    if sig == 0 {
        return zero(sign);
    }
    round_pack(env, sign, sig, scale, 64)
}

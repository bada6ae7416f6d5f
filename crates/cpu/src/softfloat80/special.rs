//! FRNDINT, comparisons, FSCALE, FXTRACT and FPREM/FPREM1 (SDM Vol. 2).

use super::{
    BIAS, C1, DE, Env, IE, INDEFINITE, Kind, PE, Unp, ZE, convert, inf, nan1, nan2, pack_exact,
    round_bits, round_pack, unpack, zero,
};
use crate::fpu::F80;

/// FRNDINT: `a` rounded to an integer per `env.rc` (not affected by PC).
pub fn round_int(env: &mut Env, a: F80) -> F80 {
    let u = unpack(a);
    if let Some(r) = nan1(env, a, &u) {
        return r;
    }
    if u.kind != Kind::Finite {
        return a;
    }
    if u.denormal {
        env.raise(DE);
        if !env.masked(DE) {
            return a;
        }
    }
    if u.exp >= 63 {
        return a;
    }
    let (k, inexact, up) = round_bits(u128::from(u.sig), (63 - u.exp) as u32, u.sign, env.rc);
    if inexact {
        env.raise(PE);
        if up {
            env.raise(C1);
        }
    }
    pack_exact(env, u.sign, k, 0)
}

/// The result of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// a < b.
    Less,
    /// a = b.
    Equal,
    /// a > b.
    Greater,
    /// At least one NaN (or an unsupported operand).
    Unordered,
}

/// Compares `a` with `b`. `quiet` (FUCOM family) raises IE only for SNaN
/// and unsupported operands; otherwise any NaN raises IE.
pub fn compare(env: &mut Env, a: F80, b: F80, quiet: bool) -> Cmp {
    compare_d(env, a, b, quiet, false)
}

/// [`compare`] where `b_den` marks `b` as converted from a single or
/// double denormal (DE only when no NaN is involved).
pub fn compare_d(env: &mut Env, a: F80, b: F80, quiet: bool, b_den: bool) -> Cmp {
    let ua = unpack(a);
    let mut ub = unpack(b);
    ub.denormal |= b_den;
    if ua.kind == Kind::Unsupported || ub.kind == Kind::Unsupported {
        env.raise(IE);
        return Cmp::Unordered;
    }
    if ua.is_nan() || ub.is_nan() {
        if !quiet || ua.kind == Kind::SNan || ub.kind == Kind::SNan {
            env.raise(IE);
        }
        return Cmp::Unordered;
    }
    if ua.denormal || ub.denormal {
        env.raise(DE);
    }
    let ord = match (ua.kind, ub.kind) {
        (Kind::Zero, Kind::Zero) => core::cmp::Ordering::Equal,
        (Kind::Zero, _) if ub.sign => core::cmp::Ordering::Greater,
        (Kind::Zero, _) => core::cmp::Ordering::Less,
        (_, Kind::Zero) if ua.sign => core::cmp::Ordering::Less,
        (_, Kind::Zero) => core::cmp::Ordering::Greater,
        _ => {
            let mag = |u: &Unp| -> (i32, u64) {
                if u.kind == Kind::Inf {
                    (i32::MAX, 0)
                } else {
                    (u.exp, u.sig)
                }
            };
            match (ua.sign, ub.sign) {
                (false, true) => core::cmp::Ordering::Greater,
                (true, false) => core::cmp::Ordering::Less,
                (false, false) => mag(&ua).cmp(&mag(&ub)),
                (true, true) => mag(&ub).cmp(&mag(&ua)),
            }
        }
    };
    match ord {
        core::cmp::Ordering::Less => Cmp::Less,
        core::cmp::Ordering::Equal => Cmp::Equal,
        core::cmp::Ordering::Greater => Cmp::Greater,
    }
}

/// FXAM's class code (C3, C2, C0 as bits 2, 1, 0) for `a` (tag not
/// consulted; an empty register is handled by the caller).
pub fn examine(a: F80) -> u16 {
    let u = unpack(a);
    match u.kind {
        Kind::Unsupported => 0b000,
        Kind::QNan | Kind::SNan => 0b001,
        Kind::Finite if u.denormal => 0b110,
        Kind::Finite => 0b010,
        Kind::Inf => 0b011,
        Kind::Zero => 0b100,
    }
}

/// FSCALE: `a * 2^trunc(b)`, rounded to 64 bits.
pub fn scale(env: &mut Env, a: F80, b: F80) -> F80 {
    let ua = unpack(a);
    let ub = unpack(b);
    if let Some(r) = nan2(env, a, &ua, b, &ub) {
        return r;
    }
    if ua.denormal || ub.denormal {
        env.raise(DE);
        if !env.masked(DE) {
            return a;
        }
    }
    match (ua.kind, ub.kind) {
        (Kind::Zero, Kind::Inf) if !ub.sign => {
            env.raise(IE);
            INDEFINITE
        }
        (Kind::Inf, Kind::Inf) if ub.sign => {
            env.raise(IE);
            INDEFINITE
        }
        (Kind::Zero, _) | (Kind::Inf, _) => a,
        (_, Kind::Inf) => {
            if ub.sign {
                zero(ua.sign)
            } else {
                inf(ua.sign)
            }
        }
        _ => {
            // trunc(b), clamped far beyond any representable scaling.
            let n: i32 = if ub.kind == Kind::Zero {
                0
            } else if ub.exp >= 30 {
                1 << 30
            } else if ub.exp < 0 {
                0
            } else {
                (ub.sig >> (63 - ub.exp)) as i32
            };
            let n = if ub.sign { -n } else { n };
            round_pack(env, ua.sign, u128::from(ua.sig), ua.exp - 63 + n, 64)
        }
    }
}

/// FXTRACT: (exponent, significand) of `a`; the caller stores the
/// exponent in ST(0) and pushes the significand.
pub fn extract(env: &mut Env, a: F80) -> (F80, F80) {
    let u = unpack(a);
    if let Some(r) = nan1(env, a, &u) {
        return (r, r);
    }
    match u.kind {
        Kind::Zero => {
            env.raise(ZE);
            (inf(true), a)
        }
        Kind::Inf => (inf(false), a),
        _ => {
            if u.denormal {
                env.raise(DE);
            }
            let sig = F80 {
                signif: u.sig,
                sign_exp: (BIAS as u16) | if u.sign { 0x8000 } else { 0 },
            };
            (convert::from_int(i64::from(u.exp)), sig)
        }
    }
}

/// The outcome of FPREM/FPREM1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rem {
    /// The (partial) remainder.
    pub value: F80,
    /// The low three bits of the quotient (Q2, Q1, Q0).
    pub q: u8,
    /// True when the reduction is incomplete (C2).
    pub partial: bool,
}

/// FPREM (`ieee` false: truncating quotient) and FPREM1 (`ieee` true:
/// quotient rounded to nearest even) of `a` by `b`.
pub fn rem(env: &mut Env, a: F80, b: F80, ieee: bool) -> Rem {
    let ua = unpack(a);
    let ub = unpack(b);
    let done = |value| Rem {
        value,
        q: 0,
        partial: false,
    };
    if let Some(r) = nan2(env, a, &ua, b, &ub) {
        return done(r);
    }
    if ua.kind == Kind::Inf || ub.kind == Kind::Zero {
        env.raise(IE);
        return done(INDEFINITE);
    }
    if ua.denormal || ub.denormal {
        env.raise(DE);
        if !env.masked(DE) {
            return done(a);
        }
    }
    if ua.kind == Kind::Zero {
        return done(a);
    }
    if ub.kind == Kind::Inf {
        return done(pack_exact(env, ua.sign, u128::from(ua.sig), ua.exp - 63));
    }
    let d = ua.exp - ub.exp;
    if d < if ieee { -1 } else { 0 } {
        // |a| < |b| (or < |b|/2): the remainder is a, rounded only if a is
        // denormal (normalized).
        return done(pack_exact(env, ua.sign, u128::from(ua.sig), ua.exp - 63));
    }
    if d >= 64 {
        // Partial remainder: reduce the exponent difference to a value
        // between 32 and 63 (SDM: implementation-dependent N).
        let n = 32 + (d % 32) as u32;
        let num = u128::from(ua.sig) << n;
        let q = num / u128::from(ub.sig);
        let r = num - q * u128::from(ub.sig);
        let value = pack_exact(env, ua.sign, r, ua.exp - 63 - n as i32);
        // The quotient bits are cleared for a partial remainder
        // (observed; the SDM leaves them undefined).
        let _ = q;
        return Rem {
            value,
            q: 0,
            partial: true,
        };
    }
    // Full remainder: a = sa * 2^(ea-63), b = sb * 2^(eb-63).
    let (num, den, base) = if d >= 0 {
        (u128::from(ua.sig) << d, u128::from(ub.sig), ub.exp - 63)
    } else {
        (u128::from(ua.sig), u128::from(ub.sig) << 1, ua.exp - 63)
    };
    let mut q = num / den;
    let mut r = num - q * den;
    let mut sign = ua.sign;
    if ieee && (2 * r > den || (2 * r == den && q & 1 == 1)) {
        r = den - r;
        q += 1;
        sign = !sign;
    }
    let value = if r == 0 {
        zero(ua.sign)
    } else {
        round_pack(env, sign, r, base, 64)
    };
    Rem {
        value,
        q: (q & 7) as u8,
        partial: false,
    }
}

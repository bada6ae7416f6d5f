//! F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS.
//!
//! Values are computed in the 128-bit working format of [`super::wide`]
//! (series after argument reduction; pi to 128 bits for FSIN/FCOS/FPTAN)
//! and rounded once to 64 bits per RC, so results are correctly rounded
//! except in rare near-halfway cases. Real processors are not always
//! correctly rounded (SDM Vol. 1 §8.3.10: errors up to about 1 ulp; the
//! reduction of FSIN/FCOS/FPTAN uses a 66-bit pi on Intel), so the last
//! bit of a double-extended result may differ from hardware. Special
//! operands (NaN, infinities, zeros, out-of-range arguments with C2)
//! follow the SDM tables exactly.

use super::wide::{self, W};
use super::{DE, Env, IE, INDEFINITE, Kind, Unp, ZE, inf, nan1, nan2, round_pack, unpack, zero};
use crate::fpu::F80;

/// Raises DE for a denormal source; false when DE is unmasked.
fn denormal(env: &mut Env, u: &Unp) -> bool {
    if u.denormal {
        env.raise(DE);
        return env.masked(DE);
    }
    true
}

fn wide_of(u: &Unp) -> W {
    W::from_parts(u.sign, u.exp, u.sig)
}

/// Rounds a working value to double extended (64 bits, per RC).
fn round(env: &mut Env, w: W) -> F80 {
    if w.is_zero() {
        return zero(w.neg);
    }
    round_pack(env, w.neg, w.m, w.exp - 127, 64)
}

/// F2XM1: 2^x - 1 for -1 <= x <= +1 (the SDM leaves other finite
/// inputs undefined; the same series is used).
pub fn f2xm1(env: &mut Env, a: F80) -> F80 {
    let u = unpack(a);
    if let Some(r) = nan1(env, a, &u) {
        return r;
    }
    match u.kind {
        Kind::Zero => a,
        Kind::Inf => {
            if u.sign {
                F80 {
                    signif: 1 << 63,
                    sign_exp: 0xBFFF,
                }
            } else {
                a
            }
        }
        _ => {
            if !denormal(env, &u) {
                return a;
            }
            // Exact cases: 2^1 - 1 = 1, 2^-1 - 1 = -0.5.
            if u.exp == 0 && u.sig == 1 << 63 {
                return if u.sign {
                    F80 {
                        signif: 1 << 63,
                        sign_exp: 0xBFFE,
                    }
                } else {
                    F80 {
                        signif: 1 << 63,
                        sign_exp: 0x3FFF,
                    }
                };
            }
            round(env, wide::exp2m1(wide_of(&u)))
        }
    }
}

/// FYL2X: `y * log2(x)` (x = ST(0), y = ST(1)), SDM Vol. 2 FYL2X table.
pub fn fyl2x(env: &mut Env, x: F80, y: F80) -> F80 {
    let ux = unpack(x);
    let uy = unpack(y);
    if let Some(r) = nan2(env, x, &ux, y, &uy) {
        return r;
    }
    if ux.sign && ux.kind != Kind::Zero {
        env.raise(IE);
        return INDEFINITE;
    }
    let x_is_one = ux.kind == Kind::Finite && ux.exp == 0 && ux.sig == 1 << 63;
    // Sign of log2(x): negative for 0 <= x < 1.
    let log_neg = ux.kind == Kind::Zero || (ux.kind == Kind::Finite && ux.exp < 0);
    match (ux.kind, uy.kind) {
        (Kind::Zero, Kind::Zero) | (Kind::Inf, Kind::Zero) => {
            env.raise(IE);
            return INDEFINITE;
        }
        (_, Kind::Inf) if x_is_one => {
            env.raise(IE);
            return INDEFINITE;
        }
        (Kind::Zero, Kind::Inf) => return inf(!uy.sign),
        (Kind::Zero, _) => {
            if !denormal(env, &uy) {
                return y;
            }
            env.raise(ZE);
            return inf(!uy.sign);
        }
        (Kind::Inf, _) => {
            if !denormal(env, &uy) {
                return y;
            }
            return inf(uy.sign);
        }
        (_, Kind::Inf) => {
            if !denormal(env, &ux) {
                return y;
            }
            return inf(uy.sign != log_neg);
        }
        (_, Kind::Zero) => {
            if !denormal(env, &ux) {
                return y;
            }
            return zero(uy.sign != log_neg);
        }
        _ => {}
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    if x_is_one {
        return zero(uy.sign);
    }
    let l = wide::log2(ux.exp, ux.sig);
    round(env, l.times(wide_of(&uy)))
}

/// FYL2XP1: `y * log2(x + 1)` for |x| < 1 - sqrt(2)/2, SDM table.
pub fn fyl2xp1(env: &mut Env, x: F80, y: F80) -> F80 {
    let ux = unpack(x);
    let uy = unpack(y);
    if let Some(r) = nan2(env, x, &ux, y, &uy) {
        return r;
    }
    let sign = ux.sign != uy.sign;
    match (ux.kind, uy.kind) {
        (Kind::Zero, Kind::Inf) | (Kind::Inf, Kind::Zero) => {
            env.raise(IE);
            return INDEFINITE;
        }
        (Kind::Inf, _) if ux.sign => {
            env.raise(IE);
            return INDEFINITE;
        }
        (Kind::Inf, _) | (_, Kind::Inf) => {
            if !denormal(env, &ux) || !denormal(env, &uy) {
                return y;
            }
            return inf(sign);
        }
        (Kind::Zero, _) | (_, Kind::Zero) => {
            if !denormal(env, &ux) || !denormal(env, &uy) {
                return y;
            }
            return zero(sign);
        }
        _ => {}
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    let xw = wide_of(&ux);
    if ux.sign && ux.exp >= 0 {
        // x <= -1: outside the domain.
        env.raise(IE);
        return INDEFINITE;
    }
    round(env, wide::log2_1p(xw).times(wide_of(&uy)))
}

/// FPATAN: `atan2(y, x)` (x = ST(0), y = ST(1)), SDM Vol. 2 FPATAN
/// table.
pub fn fpatan(env: &mut Env, x: F80, y: F80) -> F80 {
    let ux = unpack(x);
    let uy = unpack(y);
    if let Some(r) = nan2(env, x, &ux, y, &uy) {
        return r;
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    // Multiples of pi/4 for the special operands.
    let quarters = match (uy.kind, ux.kind) {
        (Kind::Inf, Kind::Inf) => Some(if ux.sign { 3 } else { 1 }),
        (Kind::Inf, _) => Some(2),
        (_, Kind::Inf) | (Kind::Zero, _) => Some(if ux.sign { 4 } else { 0 }),
        (_, Kind::Zero) => Some(2),
        _ => None,
    };
    let r = match quarters {
        Some(0) => return zero(uy.sign),
        Some(q) => {
            let w = wide::PI.scale(-2).times(W::from_int(q));
            if uy.sign { w.negate() } else { w }
        }
        None => wide::atan2(wide_of(&uy), wide_of(&ux)),
    };
    round(env, r)
}

/// The 66-bit pi of the x87's argument reduction (SDM Vol. 1 §8.3.10).
const PI66: W = W {
    neg: false,
    exp: 1,
    m: 0xC90F_DAA2_2168_C234_C000_0000_0000_0000,
};

/// The functions of [`trig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trig {
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
}

fn sin_cos_series(r: W, cos: bool) -> W {
    // sin r = r - r^3/3! + ...; cos r = 1 - r^2/2! + ...
    let r2 = r.times(r);
    let (mut term, mut k) = if cos { (W::ONE, 0) } else { (r, 1) };
    let mut sum = term;
    for n in 0..60 {
        term = term.times(r2).over(W::from_int((k + 1) * (k + 2)));
        k += 2;
        if term.is_zero() {
            break;
        }
        sum = if n % 2 == 0 {
            sum.minus(term)
        } else {
            sum.plus(term)
        };
        // A term below the working precision still counts (sticky),
        // so a tiny correction makes the result inexact.
        if term.exp < sum.exp - 130 {
            break;
        }
    }
    sum
}

/// FSIN/FCOS/FPTAN values: `None` when |x| >= 2^63 (C2 set, ST(0)
/// unchanged by the caller).
pub fn trig(env: &mut Env, a: F80, f: Trig) -> Option<F80> {
    let u = unpack(a);
    if let Some(r) = nan1(env, a, &u) {
        return Some(r);
    }
    match u.kind {
        Kind::Inf => {
            env.raise(IE);
            Some(INDEFINITE)
        }
        Kind::Zero => Some(if f == Trig::Cos {
            F80 {
                signif: 1 << 63,
                sign_exp: 0x3FFF,
            }
        } else {
            a
        }),
        _ if u.exp >= 63 => None,
        _ => {
            if !denormal(env, &u) {
                return Some(a);
            }
            let x = wide_of(&u);
            // k = round(x / (pi/2)); r = x - k pi/2 exactly for the
            // x87's 66-bit pi: pi/2 = Q * 2^-65 with the 66-bit integer Q.
            let k = x.over(PI66.scale(-1)).round_int();
            let r = if k == 0 {
                x
            } else {
                // |x| >= pi/4: x = X * 2^-65 with X = sig << (exp + 2)
                // < 2^128; the difference is small, so wrapping
                // arithmetic modulo 2^128 is exact.
                const Q: u128 = 0x3_243F_6A88_85A3_08D3;
                let xi = u128::from(u.sig) << (u.exp + 2).clamp(0, 64);
                let xi = if u.sign { xi.wrapping_neg() } else { xi };
                let d = xi.wrapping_sub((k as i128 as u128).wrapping_mul(Q)) as i128;
                W::new(d < 0, 62, d.unsigned_abs())
            };
            let q = k & 3;
            let (s, c) = (sin_cos_series(r, false), sin_cos_series(r, true));
            let v = match f {
                Trig::Sin => [s, c, s.negate(), c.negate()][q as usize],
                Trig::Cos => [c, s.negate(), c.negate(), s][q as usize],
                Trig::Tan => {
                    if q & 1 == 0 {
                        s.over(c)
                    } else {
                        c.over(s).negate()
                    }
                }
            };
            let out = round(env, v);
            Some(out)
        }
    }
}

//! F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS computed
//! through host double-precision math.
//!
//! Accuracy limit: operands are rounded to double precision (53 bits,
//! double exponent range) and the results carry the host libm's double
//! accuracy (about 1 ulp of a double), not the x87's 64-bit results.
//! Special operands (NaN, infinities, zeros, out-of-range arguments with
//! C2) follow the SDM exactly.

use super::{DE, Env, IE, INDEFINITE, Kind, PE, Unp, ZE, convert, inf, nan1, nan2, unpack, zero};
use crate::fpu::F80;

/// Host-side conversion environment (round to nearest, all masked).
fn scratch() -> Env {
    Env::from_fcw(0x037F)
}

fn to_host(x: F80) -> f64 {
    f64::from_bits(convert::to_f64(&mut scratch(), x))
}

fn from_host(env: &mut Env, v: f64, exact: bool) -> F80 {
    if !exact {
        env.raise(PE);
    }
    convert::from_f64(&mut scratch(), v.to_bits())
}

fn denormal(env: &mut Env, u: &Unp) -> bool {
    if u.denormal {
        env.raise(DE);
        return env.masked(DE);
    }
    true
}

/// F2XM1: 2^x - 1 for -1 <= x <= +1 (other finite inputs give the host
/// value; the SDM leaves them undefined).
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
            let x = to_host(a);
            let r = (x * core::f64::consts::LN_2).exp_m1();
            let exact = x == 1.0 || x == -1.0;
            let r = if x == 1.0 {
                1.0
            } else if x == -1.0 {
                -0.5
            } else {
                r
            };
            from_host(env, r, exact)
        }
    }
}

/// FYL2X: `y * log2(x)` (x = ST(0), y = ST(1)).
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
    let xv = to_host(x);
    match (ux.kind, uy.kind) {
        (Kind::Zero, Kind::Zero) => {
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
        (Kind::Inf, Kind::Zero) => {
            env.raise(IE);
            return INDEFINITE;
        }
        (_, Kind::Inf) if xv == 1.0 => {
            env.raise(IE);
            return INDEFINITE;
        }
        _ => {}
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    let r = to_host(y) * xv.log2();
    let exact = r == 0.0 || r.is_infinite() || (xv.log2().fract() == 0.0);
    if r == 0.0 {
        // log2(1) = +0; the product's sign follows y (round-down: -0 rule
        // not applicable, a product).
        return zero(uy.sign);
    }
    from_host(env, r, exact)
}

/// FYL2XP1: `y * log2(x + 1)` for |x| < 1 - sqrt(2)/2.
pub fn fyl2xp1(env: &mut Env, x: F80, y: F80) -> F80 {
    let ux = unpack(x);
    let uy = unpack(y);
    if let Some(r) = nan2(env, x, &ux, y, &uy) {
        return r;
    }
    match (ux.kind, uy.kind) {
        (Kind::Zero, Kind::Inf) | (Kind::Inf, Kind::Zero) => {
            env.raise(IE);
            return INDEFINITE;
        }
        (Kind::Zero, _) | (_, Kind::Zero) => {
            denormal(env, &ux);
            denormal(env, &uy);
            return zero(ux.sign ^ uy.sign);
        }
        _ => {}
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    let xv = to_host(x);
    if xv < -1.0 {
        env.raise(IE);
        return INDEFINITE;
    }
    let r = to_host(y) * xv.ln_1p() / core::f64::consts::LN_2;
    from_host(env, r, r.is_infinite())
}

/// FPATAN: `atan2(y, x)` (x = ST(0), y = ST(1)).
pub fn fpatan(env: &mut Env, x: F80, y: F80) -> F80 {
    let ux = unpack(x);
    let uy = unpack(y);
    if let Some(r) = nan2(env, x, &ux, y, &uy) {
        return r;
    }
    if !denormal(env, &ux) || !denormal(env, &uy) {
        return y;
    }
    let r = to_host(y).atan2(to_host(x));
    if r == 0.0 {
        return zero(r.is_sign_negative());
    }
    from_host(env, r, false)
}

/// The outcome of FSIN/FCOS/FSINCOS/FPTAN: `None` when |x| >= 2^63 (C2
/// set, ST(0) unchanged).
pub fn trig(env: &mut Env, a: F80, f: fn(f64) -> f64) -> Option<F80> {
    let u = unpack(a);
    if let Some(r) = nan1(env, a, &u) {
        return Some(r);
    }
    match u.kind {
        Kind::Inf => {
            env.raise(IE);
            Some(INDEFINITE)
        }
        Kind::Finite if u.exp >= 63 => None,
        _ => {
            if !denormal(env, &u) {
                return Some(a);
            }
            let x = to_host(a);
            let r = f(x);
            if r == 0.0 {
                return Some(zero(r.is_sign_negative()));
            }
            // sin(0)/tan(0) = 0 exactly and cos(0) = 1 exactly.
            let exact = x == 0.0;
            Some(from_host(env, r, exact))
        }
    }
}

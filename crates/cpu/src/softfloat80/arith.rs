//! FADD/FSUB/FMUL/FDIV/FSQRT arithmetic on double-extended values, rounded
//! to the precision control (SDM Vol. 1 §8.1.5.2) with the x87's special
//! cases (SDM Vol. 2 FADD, FMUL, FDIV, FSQRT result tables).

use super::{
    DE, Env, IE, INDEFINITE, Kind, Rc, Unp, ZE, inf, nan1, nan2, round_pack, unpack, with_sign,
    zero,
};
use crate::fpu::F80;

/// Raises DE for denormal sources; false when DE is unmasked (the
/// instruction is then not performed).
#[inline]
fn denormals(env: &mut Env, ua: &Unp, ub: &Unp) -> bool {
    if ua.denormal || ub.denormal {
        env.raise(DE);
        return env.masked(DE);
    }
    true
}

/// `a + b` (`a - b` when `negate_b`).
pub fn add(env: &mut Env, a: F80, b: F80, negate_b: bool) -> F80 {
    add_d(env, a, b, negate_b, [false; 2])
}

/// [`add`] where `den[k]` marks operand k as converted from a single or
/// double denormal (a DE source that is normal in double extended; DE is
/// raised only if the operation reaches its operands' values).
pub fn add_d(env: &mut Env, a: F80, b: F80, negate_b: bool, den: [bool; 2]) -> F80 {
    let mut ua = unpack(a);
    let mut ub = unpack(b);
    ua.denormal |= den[0];
    ub.denormal |= den[1];
    if let Some(r) = nan2(env, a, &ua, b, &ub) {
        return r;
    }
    ub.sign ^= negate_b;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Inf) => {
            if ua.sign != ub.sign {
                env.raise(IE);
                INDEFINITE
            } else {
                inf(ua.sign)
            }
        }
        (Kind::Inf, _) => {
            denormals(env, &ua, &ub);
            inf(ua.sign)
        }
        (_, Kind::Inf) => {
            denormals(env, &ua, &ub);
            inf(ub.sign)
        }
        (Kind::Zero, Kind::Zero) => {
            if ua.sign == ub.sign {
                zero(ua.sign)
            } else {
                zero(env.rc == Rc::Down)
            }
        }
        (Kind::Zero, _) => {
            if !denormals(env, &ua, &ub) {
                return b;
            }
            round_pack(env, ub.sign, u128::from(ub.sig), ub.exp - 63, env.pc)
        }
        (_, Kind::Zero) => {
            if !denormals(env, &ua, &ub) {
                return a;
            }
            round_pack(env, ua.sign, u128::from(ua.sig), ua.exp - 63, env.pc)
        }
        _ => {
            if !denormals(env, &ua, &ub) {
                return a;
            }
            add_finite(env, &ua, &ub)
        }
    }
}

fn add_finite(env: &mut Env, ua: &Unp, ub: &Unp) -> F80 {
    let (x, y) = if ua.exp >= ub.exp { (ua, ub) } else { (ub, ua) };
    let d = (x.exp - y.exp) as u32;
    let big = u128::from(x.sig) << 63;
    let small_full = u128::from(y.sig) << 63;
    let small = if d == 0 {
        small_full
    } else if d >= 127 {
        1
    } else {
        let s = small_full >> d;
        s | u128::from(small_full & ((1u128 << d) - 1) != 0)
    };
    let scale = x.exp - 126;
    if x.sign == y.sign {
        return round_pack(env, x.sign, big + small, scale, env.pc);
    }
    let (mag, sign) = if big > small {
        (big - small, x.sign)
    } else if big < small {
        (small - big, y.sign)
    } else {
        return zero(env.rc == Rc::Down);
    };
    round_pack(env, sign, mag, scale, env.pc)
}

/// `a * b`.
pub fn mul(env: &mut Env, a: F80, b: F80) -> F80 {
    mul_d(env, a, b, [false; 2])
}

/// [`mul`] with converted-denormal marks (see [`add_d`]).
pub fn mul_d(env: &mut Env, a: F80, b: F80, den: [bool; 2]) -> F80 {
    let mut ua = unpack(a);
    let mut ub = unpack(b);
    ua.denormal |= den[0];
    ub.denormal |= den[1];
    if let Some(r) = nan2(env, a, &ua, b, &ub) {
        return r;
    }
    let sign = ua.sign ^ ub.sign;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf) => {
            env.raise(IE);
            INDEFINITE
        }
        (Kind::Inf, _) | (_, Kind::Inf) => {
            denormals(env, &ua, &ub);
            inf(sign)
        }
        (Kind::Zero, _) | (_, Kind::Zero) => {
            denormals(env, &ua, &ub);
            zero(sign)
        }
        _ => {
            if !denormals(env, &ua, &ub) {
                return a;
            }
            let p = u128::from(ua.sig) * u128::from(ub.sig);
            round_pack(env, sign, p, ua.exp + ub.exp - 126, env.pc)
        }
    }
}

/// `a / b`.
pub fn div(env: &mut Env, a: F80, b: F80) -> F80 {
    div_d(env, a, b, [false; 2])
}

/// [`div`] with converted-denormal marks (see [`add_d`]).
pub fn div_d(env: &mut Env, a: F80, b: F80, den: [bool; 2]) -> F80 {
    let mut ua = unpack(a);
    let mut ub = unpack(b);
    ua.denormal |= den[0];
    ub.denormal |= den[1];
    if let Some(r) = nan2(env, a, &ua, b, &ub) {
        return r;
    }
    let sign = ua.sign ^ ub.sign;
    match (ua.kind, ub.kind) {
        (Kind::Inf, Kind::Inf) | (Kind::Zero, Kind::Zero) => {
            env.raise(IE);
            INDEFINITE
        }
        (Kind::Inf, _) => {
            denormals(env, &ua, &ub);
            inf(sign)
        }
        (_, Kind::Inf) => {
            denormals(env, &ua, &ub);
            zero(sign)
        }
        (_, Kind::Zero) => {
            // Zero divide outranks the denormal operand (observed: no DE).
            env.raise(ZE);
            inf(sign)
        }
        (Kind::Zero, _) => {
            denormals(env, &ua, &ub);
            zero(sign)
        }
        _ => {
            if !denormals(env, &ua, &ub) {
                return a;
            }
            let (x, y) = (u128::from(ua.sig), u128::from(ub.sig));
            let s = if x >= y { 63 } else { 64 };
            let num = x << s;
            let q1 = num / y;
            let r1 = num % y;
            let q2 = (r1 << 64) / y;
            let r2 = (r1 << 64) % y;
            let q = (q1 << 64) | q2 | u128::from(r2 != 0);
            round_pack(env, sign, q, ua.exp - ub.exp - s - 64, env.pc)
        }
    }
}

/// The square root of `a`.
pub fn sqrt(env: &mut Env, a: F80) -> F80 {
    let ua = unpack(a);
    if let Some(r) = nan1(env, a, &ua) {
        return r;
    }
    match ua.kind {
        Kind::Zero => a,
        Kind::Inf if !ua.sign => a,
        _ if ua.sign => {
            env.raise(IE);
            INDEFINITE
        }
        _ => {
            if ua.denormal {
                env.raise(DE);
                if !env.masked(DE) {
                    return a;
                }
            }
            // value = sig * 2^(exp - 63); make the exponent even.
            let mut e = ua.exp - 63;
            let mut r = u128::from(ua.sig);
            if e & 1 != 0 {
                r <<= 1;
                e -= 1;
            }
            // Radicand r (<= 65 bits) as 33 bit pairs, then zero pairs:
            // 67 root bits in total.
            let mut rem: u128 = 0;
            let mut root: u128 = 0;
            for i in 0..67 {
                let pair = if i < 33 { (r >> (64 - 2 * i)) & 3 } else { 0 };
                rem = (rem << 2) | pair;
                let trial = (root << 2) | 1;
                if rem >= trial {
                    rem -= trial;
                    root = (root << 1) | 1;
                } else {
                    root <<= 1;
                }
            }
            // root = floor(sqrt(r * 4^34)) = sqrt(r) * 2^34.
            let q = (root << 1) | u128::from(rem != 0);
            round_pack(env, false, q, e / 2 - 35, env.pc)
        }
    }
}

/// Sign of `a` negated (FCHS) - no exceptions.
pub fn neg(a: F80) -> F80 {
    with_sign(a, a.sign_exp & 0x8000 == 0)
}

//! Conversions between double extended and single/double precision,
//! two's-complement integers and 18-digit packed BCD (SDM Vol. 2 FLD, FST,
//! FILD, FIST, FISTTP, FBLD, FBSTP; Vol. 1 §4.7, §4.8.3.7, §8.2.1).

use super::{DE, Env, Format, IE, INDEFINITE, Kind, PE, Rc, round_bits, round_core, unpack, zero};
use crate::fpu::F80;

/// Single precision.
const F32: Format = Format {
    p: 24,
    bias: 127,
    emax: 254,
    wrap: 0,
};
/// Double precision.
const F64: Format = Format {
    p: 53,
    bias: 1023,
    emax: 2046,
    wrap: 0,
};

fn from_narrow(
    env: &mut Env,
    sign: bool,
    be: i32,
    frac: u64,
    fbits: u32,
    f: Format,
    keep_snan: bool,
) -> F80 {
    let s = if sign { 0x8000u16 } else { 0 };
    let emax1 = f.emax + 1;
    if be == emax1 {
        let sig = (1u64 << 63) | (frac << (63 - fbits));
        let nan = frac != 0;
        if nan && frac >> (fbits - 1) == 0 && !keep_snan {
            env.raise(IE);
            return F80 {
                signif: sig | (1 << 62),
                sign_exp: s | 0x7FFF,
            };
        }
        return F80 {
            signif: sig,
            sign_exp: s | 0x7FFF,
        };
    }
    if be == 0 {
        if frac == 0 {
            return zero(sign);
        }
        env.raise(DE);
        let lz = frac.leading_zeros();
        let sig = frac << lz;
        // value = frac * 2^(1 - bias - fbits)
        let e = 1 - f.bias - fbits as i32 + (63 - lz as i32) + super::BIAS;
        return F80 {
            signif: sig,
            sign_exp: s | (e as u16),
        };
    }
    F80 {
        signif: (1u64 << 63) | (frac << (63 - fbits)),
        sign_exp: s | ((be - f.bias + super::BIAS) as u16),
    }
}

/// Single precision to double extended (exact; SNaN raises IE and is
/// quieted, a denormal source raises DE).
pub fn from_f32(env: &mut Env, v: u32) -> F80 {
    from_narrow(
        env,
        v >> 31 != 0,
        ((v >> 23) & 0xFF) as i32,
        u64::from(v & 0x7F_FFFF),
        23,
        F32,
        false,
    )
}

/// Single precision to double extended for an arithmetic source: an SNaN
/// stays signaling (the operation raises IE); a denormal is reported in
/// the second value instead of raising DE (the operation decides).
pub fn from_f32_keep(v: u32) -> (F80, bool) {
    let den = (v >> 23) & 0xFF == 0 && v & 0x7F_FFFF != 0;
    let x = from_narrow(
        &mut Env::from_fcw(0x037F),
        v >> 31 != 0,
        ((v >> 23) & 0xFF) as i32,
        u64::from(v & 0x7F_FFFF),
        23,
        F32,
        true,
    );
    (x, den)
}

/// Double precision to double extended.
pub fn from_f64(env: &mut Env, v: u64) -> F80 {
    from_narrow(
        env,
        v >> 63 != 0,
        ((v >> 52) & 0x7FF) as i32,
        v & ((1 << 52) - 1),
        52,
        F64,
        false,
    )
}

/// Double precision to double extended for an arithmetic source (SNaN
/// kept signaling, denormal reported as in [`from_f32_keep`]).
pub fn from_f64_keep(v: u64) -> (F80, bool) {
    let den = (v >> 52) & 0x7FF == 0 && v & ((1 << 52) - 1) != 0;
    let x = from_narrow(
        &mut Env::from_fcw(0x037F),
        v >> 63 != 0,
        ((v >> 52) & 0x7FF) as i32,
        v & ((1 << 52) - 1),
        52,
        F64,
        true,
    );
    (x, den)
}

fn to_narrow(env: &mut Env, x: F80, f: Format, fbits: u32) -> u64 {
    let u = unpack(x);
    let sbit = u64::from(u.sign) << (fbits + (if fbits == 23 { 8 } else { 11 }));
    let ebits = if fbits == 23 { 8 } else { 11 };
    let emax1 = (f.emax + 1) as u64;
    match u.kind {
        Kind::Unsupported => {
            env.raise(IE);
            // Negative QNaN indefinite of the format.
            (1u64 << (fbits + ebits)) | (emax1 << fbits) | (1 << (fbits - 1))
        }
        Kind::SNan | Kind::QNan => {
            if u.kind == Kind::SNan {
                env.raise(IE);
            }
            let frac = (x.signif << 1) >> (64 - fbits);
            sbit | (emax1 << fbits) | frac | (1 << (fbits - 1))
        }
        Kind::Inf => sbit | (emax1 << fbits),
        Kind::Zero => sbit,
        Kind::Finite => {
            let (e, s) = round_core(env, u.sign, u128::from(u.sig), u.exp - 63, f);
            let frac = (s << 1) >> (64 - fbits);
            sbit | (((e as u64) & (emax1 | (emax1 >> 1))) << fbits) | frac
        }
    }
}

/// Double extended to single precision, rounded per `env.rc`. When OE or
/// UE is unmasked and raised, the caller must not store the value.
pub fn to_f32(env: &mut Env, x: F80) -> u32 {
    to_narrow(env, x, F32, 23) as u32
}

/// Double extended to double precision.
pub fn to_f64(env: &mut Env, x: F80) -> u64 {
    to_narrow(env, x, F64, 52)
}

/// A signed integer to double extended (exact).
pub fn from_int(v: i64) -> F80 {
    if v == 0 {
        return zero(false);
    }
    let sign = v < 0;
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    F80 {
        signif: m << lz,
        sign_exp: ((63 - lz as i32 + super::BIAS) as u16) | if sign { 0x8000 } else { 0 },
    }
}

/// Rounds finite `x` to an integer magnitude under `rc`: (magnitude,
/// inexact, rounded up). Magnitudes of 2^64 and more saturate to
/// `u128::MAX`.
fn int_mag(sig: u64, exp: i32, sign: bool, rc: Rc) -> (u128, bool, bool) {
    if exp >= 64 {
        return (u128::MAX, false, false);
    }
    if exp >= 63 {
        return (u128::from(sig) << (exp - 63), false, false);
    }
    round_bits(u128::from(sig), (63 - exp) as u32, sign, rc)
}

/// Double extended to a signed integer of `bits` (16, 32 or 64) bits,
/// rounded per `env.rc` (or truncated when `truncate`, FISTTP). Out of
/// range, NaN, infinity and unsupported sources raise IE and give the
/// integer indefinite (the most negative value).
pub fn to_int(env: &mut Env, x: F80, bits: u32, truncate: bool) -> i64 {
    let indefinite = i64::MIN >> (64 - bits);
    let u = unpack(x);
    match u.kind {
        Kind::Zero => 0,
        Kind::Finite => {
            let rc = if truncate { Rc::Zero } else { env.rc };
            let (m, inexact, up) = int_mag(u.sig, u.exp, u.sign, rc);
            let limit = 1u128 << (bits - 1);
            if (u.sign && m > limit) || (!u.sign && m >= limit) {
                env.raise(IE);
                return indefinite;
            }
            if inexact {
                env.raise(PE);
                if up {
                    env.raise(super::C1);
                }
            }
            let m = m as i128;
            (if u.sign { -m } else { m }) as i64
        }
        _ => {
            env.raise(IE);
            indefinite
        }
    }
}

/// The packed-BCD indefinite (SDM Vol. 1 Table 4-4): FFFF C000 0000 0000
/// 0000h, as (low 64 bits, high 16 bits).
pub const BCD_INDEFINITE: (u64, u16) = (0xC000_0000_0000_0000, 0xFFFF);

/// An 18-digit packed BCD value (low 8 bytes, high 2 bytes; sign in bit
/// 79) to double extended. Invalid digits are accepted as their binary
/// nibble values (the SDM leaves them undefined).
pub fn from_bcd(lo: u64, hi: u16) -> F80 {
    let mut v: u64 = 0;
    let digits = (u128::from(hi & 0xFF) << 64) | u128::from(lo);
    for k in (0..18).rev() {
        v = v
            .wrapping_mul(10)
            .wrapping_add(((digits >> (4 * k)) & 0xF) as u64);
    }
    let mut r = from_int(v as i64);
    if v >> 63 != 0 {
        // Cannot happen with decimal digits; keep the value unsigned.
        let lz = v.leading_zeros();
        r = F80 {
            signif: v << lz,
            sign_exp: (63 - lz as i32 + super::BIAS) as u16,
        };
    }
    if hi & 0x8000 != 0 {
        r.sign_exp |= 0x8000;
    }
    r
}

/// Double extended to 18-digit packed BCD, rounded per `env.rc`. Returns
/// (low 8 bytes, high 2 bytes). |x| >= 10^18, NaN, infinity and
/// unsupported raise IE and give the BCD indefinite.
pub fn to_bcd(env: &mut Env, x: F80) -> (u64, u16) {
    let u = unpack(x);
    let sign = if u.sign { 0x8000u16 } else { 0 };
    let m = match u.kind {
        Kind::Zero => 0u64,
        Kind::Finite => {
            let (m, inexact, up) = int_mag(u.sig, u.exp, u.sign, env.rc);
            if m >= 1_000_000_000_000_000_000 {
                env.raise(IE);
                return BCD_INDEFINITE;
            }
            if inexact {
                env.raise(PE);
                if up {
                    env.raise(super::C1);
                }
            }
            m as u64
        }
        _ => {
            env.raise(IE);
            return BCD_INDEFINITE;
        }
    };
    let mut d: u128 = 0;
    let mut v = m;
    for k in 0..18 {
        d |= u128::from(v % 10) << (4 * k);
        v /= 10;
    }
    (d as u64, sign | ((d >> 64) as u16))
}

/// The stored QNaN indefinite of a 64-bit, 32-bit or 80-bit destination.
pub fn indefinite_bits(size: u8) -> u64 {
    match size {
        4 => 0xFFC0_0000,
        8 => 0xFFF8_0000_0000_0000,
        _ => INDEFINITE.signif,
    }
}

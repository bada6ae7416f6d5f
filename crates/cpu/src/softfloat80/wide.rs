//! A 128-bit-significand working format for the transcendental
//! instructions: enough guard bits that results rounded to 64 bits are
//! almost always correctly rounded. Operations truncate (relative error
//! below 2^-126 each); no special values (callers handle zeros, NaNs and
//! infinities first).

/// `m * 2^(exp - 127)` with `m` normalized (bit 127 set) or zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct W {
    /// Negative.
    pub neg: bool,
    /// Exponent of bit 127.
    pub exp: i32,
    /// Significand.
    pub m: u128,
}

/// ln 2 to 128 bits (0.B17217F7D1CF79ABC9E3B39803F2F6AF...).
pub const LN2: W = W {
    neg: false,
    exp: -1,
    m: 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF,
};
/// log2 e to 128 bits.
pub const LOG2E: W = W {
    neg: false,
    exp: 0,
    m: 0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88,
};
/// pi to 128 bits.
pub const PI: W = W {
    neg: false,
    exp: 1,
    m: 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1,
};

impl W {
    /// Zero.
    pub const ZERO: W = W {
        neg: false,
        exp: 0,
        m: 0,
    };

    /// One.
    pub const ONE: W = W {
        neg: false,
        exp: 0,
        m: 1 << 127,
    };

    /// Normalizes `m * 2^(exp - 127)`.
    pub fn new(neg: bool, exp: i32, m: u128) -> W {
        if m == 0 {
            return W::ZERO;
        }
        let lz = m.leading_zeros();
        W {
            neg,
            exp: exp - lz as i32,
            m: m << lz,
        }
    }

    /// A signed integer.
    pub fn from_int(v: i64) -> W {
        W::new(v < 0, 127, u128::from(v.unsigned_abs()))
    }

    /// A finite double-extended value given as sign, unbiased exponent
    /// and normalized 64-bit significand.
    pub fn from_parts(neg: bool, exp: i32, sig: u64) -> W {
        W::new(neg, exp, u128::from(sig) << 64)
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.m == 0
    }

    /// Negation.
    pub fn negate(self) -> W {
        W {
            neg: !self.neg && self.m != 0,
            ..self
        }
    }

    /// Absolute value.
    pub fn abs(self) -> W {
        W { neg: false, ..self }
    }

    /// Multiplies by 2^k.
    pub fn scale(self, k: i32) -> W {
        if self.m == 0 {
            return self;
        }
        W {
            exp: self.exp + k,
            ..self
        }
    }

    /// The nearest integer (halves away from zero), saturating beyond
    /// 2^63.
    pub fn round_int(self) -> i64 {
        if self.m == 0 || self.exp < -1 {
            return 0;
        }
        let v = if self.exp >= 63 {
            i64::MAX
        } else {
            let sh = (127 - self.exp) as u32;
            (((self.m >> (sh - 1)) + 1) >> 1) as i64
        };
        if self.neg { -v } else { v }
    }

    /// Sum.
    pub fn plus(self, o: W) -> W {
        if self.m == 0 {
            return o;
        }
        if o.m == 0 {
            return self;
        }
        let (a, b) = if self.exp > o.exp || (self.exp == o.exp && self.m >= o.m) {
            (self, o)
        } else {
            (o, self)
        };
        let d = (a.exp - b.exp) as u32;
        // One guard bit of headroom: work on m >> 1.
        let am = a.m >> 1;
        // Bits shifted out make a sticky bit: the sum is `am + bm + e`
        // with 0 < e < 1 when sticky; the result keeps the floor with
        // its lowest bit set (a borrow first for a difference).
        let full = b.m >> 1;
        let (bm, sticky) = if d >= 127 {
            (0, true)
        } else {
            (full >> d, full & ((1u128 << d) - 1) != 0 || b.m & 1 != 0)
        };
        let st = u128::from(sticky);
        if a.neg == b.neg {
            W::new(a.neg, a.exp + 1, (am + bm) | st)
        } else {
            let diff = am - bm;
            if diff == 0 {
                return W::ZERO;
            }
            W::new(a.neg, a.exp + 1, (diff - st) | st)
        }
    }

    /// Difference.
    pub fn minus(self, o: W) -> W {
        self.plus(o.negate())
    }

    /// Product.
    pub fn times(self, o: W) -> W {
        if self.m == 0 || o.m == 0 {
            return W::ZERO;
        }
        let (hi, lo) = mul_wide(self.m, o.m);
        // Sticky: a nonzero low half marks the product inexact.
        let hi = hi | u128::from(lo != 0);
        // Product of two [2^127, 2^128) values lies in [2^254, 2^256):
        // hi in [2^126, 2^128).
        W::new(self.neg != o.neg, self.exp + o.exp + 1, hi)
    }

    /// Quotient.
    pub fn over(self, o: W) -> W {
        if self.m == 0 || o.m == 0 {
            return W::ZERO;
        }
        // q = floor(a * 2^127 / b) by restoring division: a < 2b.
        let (a, b) = (self.m, o.m);
        let mut rem = a;
        let mut q: u128 = 0;
        // Integer part: a / b is 0 or 1.
        let first = rem >= b;
        if first {
            rem -= b;
        }
        q |= u128::from(first);
        for _ in 0..127 {
            let carry = rem >> 127 != 0;
            rem <<= 1;
            q <<= 1;
            if carry || rem >= b {
                rem = rem.wrapping_sub(b);
                q |= 1;
            }
        }
        W::new(
            self.neg != o.neg,
            self.exp - o.exp,
            q | u128::from(rem != 0),
        )
    }
}

/// The 256-bit product of two u128 values as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u128::from(u64::MAX)) + (p10 & u128::from(u64::MAX));
    let lo = (p00 & u128::from(u64::MAX)) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// Natural logarithm of `m` in [1/sqrt 2, sqrt 2] given as `x - 1`
/// (exact) and `x + 1`: 2 atanh(t), t = (x - 1)/(x + 1).
fn ln_ratio(num: W, den: W) -> W {
    let t = num.over(den);
    if t.is_zero() {
        return W::ZERO;
    }
    let t2 = t.times(t);
    let mut pow = t;
    let mut sum = t;
    for k in 1..80 {
        pow = pow.times(t2);
        let term = pow.over(W::from_int(2 * k + 1));
        if term.is_zero() {
            break;
        }
        sum = sum.plus(term);
        // A term below the working precision still counts (sticky),
        // so a tiny correction makes the result inexact.
        if term.exp < sum.exp - 130 {
            break;
        }
    }
    sum.scale(1)
}

/// log2 of a positive finite value `sig * 2^(exp - 63)`.
pub fn log2(exp: i32, sig: u64) -> W {
    // x = m * 2^e with m in [1, 2); move m into [1/sqrt 2, sqrt 2).
    let mut e = exp;
    let mut m = W::from_parts(false, 0, sig);
    // sqrt 2 = 1.6A09E667F3BCC908...
    if sig > 0xB504_F333_F9DE_6484 {
        m = m.scale(-1);
        e += 1;
    }
    let ln = ln_ratio(m.minus(W::ONE), m.plus(W::ONE));
    ln.times(LOG2E).plus(W::from_int(i64::from(e)))
}

/// log2(1 + x) for a small finite x.
pub fn log2_1p(x: W) -> W {
    // ln(1 + x) = 2 atanh(x / (2 + x)).
    let ln = ln_ratio(x, x.plus(W::ONE.scale(1)));
    ln.times(LOG2E)
}

/// 2^x - 1 for |x| <= 1.
pub fn exp2m1(x: W) -> W {
    let z = x.times(LN2);
    if z.is_zero() {
        return z;
    }
    let mut term = z;
    let mut sum = z;
    for k in 2..80 {
        term = term.times(z).over(W::from_int(k));
        if term.is_zero() {
            break;
        }
        sum = sum.plus(term);
        // A term below the working precision still counts (sticky),
        // so a tiny correction makes the result inexact.
        if term.exp < sum.exp - 130 {
            break;
        }
    }
    sum
}

/// atan(t) for 0 <= t <= 1.
fn atan_unit(t: W) -> W {
    // tan(pi/8) = 0.41421356...: above it, atan t = pi/4 + atan((t-1)/(t+1)).
    let (base, u) =
        if t.exp >= -1 || (t.exp == -2 && t.m > 0xD413_CCCF_E779_9211_65F6_26CD_D52A_FA7C) {
            (PI.scale(-2), t.minus(W::ONE).over(t.plus(W::ONE)))
        } else {
            (W::ZERO, t)
        };
    if u.is_zero() {
        return base;
    }
    let u2 = u.times(u);
    let mut pow = u;
    let mut sum = u;
    for k in 1..200 {
        pow = pow.times(u2);
        let term = pow.over(W::from_int(2 * k + 1));
        if term.is_zero() {
            break;
        }
        sum = if k % 2 == 1 {
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
    base.plus(sum)
}

/// atan2(y, x) for finite nonzero-or-zero operands (not both zero
/// handled by the caller through the sign rules).
pub fn atan2(y: W, x: W) -> W {
    let (ay, ax) = (y.abs(), x.abs());
    let swap = ay.exp > ax.exp || (ay.exp == ax.exp && ay.m > ax.m);
    let r = if swap {
        PI.scale(-1).minus(atan_unit(ax.over(ay)))
    } else if ay.is_zero() {
        W::ZERO
    } else {
        atan_unit(ay.over(ax))
    };
    let r = if x.neg { PI.minus(r) } else { r };
    if y.neg { r.negate() } else { r }
}

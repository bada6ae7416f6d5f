//! Hand-computed tests of the softfloat core (values derived from the
//! SDM's rules and exact binary arithmetic).

use super::special::Cmp;
use super::*;

fn f(sign_exp: u16, signif: u64) -> F80 {
    F80 { signif, sign_exp }
}

const ONE: F80 = F80 {
    signif: 1 << 63,
    sign_exp: 0x3FFF,
};

fn env(fcw: u16) -> Env {
    Env::from_fcw(fcw)
}

#[test]
fn round_bits_ties_to_even_and_directed() {
    // 0b1011 dropping 1 bit: half, kept odd -> up to 0b110.
    assert_eq!(
        round_bits(0b1011, 1, false, Rc::Nearest),
        (0b110, true, true)
    );
    // 0b1001 dropping 1 bit: half, kept even -> stays 0b100.
    assert_eq!(
        round_bits(0b1001, 1, false, Rc::Nearest),
        (0b100, true, false)
    );
    assert_eq!(round_bits(0b1001, 1, false, Rc::Up), (0b101, true, true));
    assert_eq!(round_bits(0b1001, 1, true, Rc::Up), (0b100, true, false));
    assert_eq!(round_bits(0b1001, 1, true, Rc::Down), (0b101, true, true));
    assert_eq!(round_bits(0b1000, 1, true, Rc::Down), (0b100, false, false));
}

#[test]
fn addition_rounds_per_rc_and_sets_c1() {
    let tiny = f(0x3FFF - 64, 1 << 63); // 2^-64: half an ulp of 1.0
    let mut e = env(0x037F);
    assert_eq!(arith::add(&mut e, ONE, tiny, false), ONE, "tie to even");
    assert_eq!(e.flags, PE);
    let mut e = env(0x0B7F); // up
    assert_eq!(
        arith::add(&mut e, ONE, tiny, false),
        f(0x3FFF, (1 << 63) | 1)
    );
    assert_eq!(e.flags, PE | C1);
    // 1 - 2^-64 = 0x3FFE:FFFFFFFFFFFFFFFF exactly.
    let mut e = env(0x077F);
    assert_eq!(arith::add(&mut e, ONE, tiny, true), f(0x3FFE, u64::MAX));
    assert_eq!(e.flags, 0);
    // x - x = +0, or -0 when rounding down.
    let mut e = env(0x037F);
    assert_eq!(arith::add(&mut e, ONE, ONE, true), zero(false));
    let mut e = env(0x077F);
    assert_eq!(arith::add(&mut e, ONE, ONE, true), zero(true));
}

#[test]
fn precision_control_rounds_the_significand_only() {
    // PC = 53: 1 + 2^-53 is a tie -> 1.0; 1 + 3 * 2^-54 rounds up.
    let mut e = env(0x027F);
    let half = f(0x3FFF - 53, 1 << 63);
    assert_eq!(arith::add(&mut e, ONE, half, false), ONE);
    let three_q = f(0x3FFF - 53, 3 << 62);
    let mut e = env(0x027F);
    assert_eq!(
        arith::add(&mut e, ONE, three_q, false),
        f(0x3FFF, (1 << 63) | (1 << 11))
    );
    assert_eq!(e.flags, PE | C1);
    // PC = 24 keeps the extended exponent range: (2^-9999 - ulp) * 1
    // rounds to 24 bits with a carry into the exponent, no underflow.
    let mut e = env(0x007F);
    let small = f(0x3FFF - 10000, 0xFFFF_FFFF_FFFF_FFFF);
    let r = arith::mul(&mut e, small, ONE);
    assert_eq!(
        r,
        f(0x3FFF - 9999, 1 << 63),
        "rounded to 24 bits, carry into the exponent"
    );
}

#[test]
fn masked_overflow_depends_on_rc_and_sign() {
    let max = f(0x7FFE, u64::MAX);
    for (rc, sign, want) in [
        (0u16, false, inf(false)),
        (3, false, max),
        (2, false, inf(false)),
        (1, false, max),
        (2, true, with_sign(max, true)),
        (1, true, inf(true)),
    ] {
        let mut e = env(0x037F | (rc << 10));
        let m = with_sign(max, sign);
        assert_eq!(arith::add(&mut e, m, m, false), want, "rc {rc} sign {sign}");
        assert_eq!(e.flags & (OE | PE), OE | PE);
        assert_eq!(e.flags & C1 != 0, want.sign_exp & 0x7FFF == 0x7FFF);
    }
}

#[test]
fn underflow_is_detected_after_rounding() {
    let min = f(1, 1 << 63);
    let two = f(0x4000, 1 << 63);
    // min / 2 is an exact denormal: no UE while masked.
    let mut e = env(0x037F);
    assert_eq!(arith::div(&mut e, min, two), f(0, 1 << 62));
    assert_eq!(e.flags, 0);
    // min / 3 is inexact and tiny: UE and PE.
    let three = f(0x4000, 3 << 62);
    let mut e = env(0x037F);
    let r = arith::div(&mut e, min, three);
    assert_eq!(r.sign_exp, 0);
    assert_eq!(e.flags & (UE | PE), UE | PE);
    // Unmasked UE: the result is rebiased by +24576.
    let mut e = env(0x036F);
    let r = arith::div(&mut e, min, three);
    assert_eq!(r.sign_exp, (1 - 2 + WRAP) as u16);
    assert_eq!(r.signif, 0xAAAA_AAAA_AAAA_AAAB);
}

#[test]
fn denormal_pseudo_denormal_and_unsupported_operands() {
    // A pseudo-denormal (exponent 0, J = 1) is 2^-16382: DE, normalized.
    let mut e = env(0x037F);
    let pd = f(0, 1 << 63);
    assert_eq!(arith::add(&mut e, pd, zero(false), false), f(1, 1 << 63));
    assert_eq!(e.flags, DE);
    // An unnormal (J = 0, exponent nonzero) is invalid.
    let mut e = env(0x037F);
    assert_eq!(arith::mul(&mut e, f(0x3FFF, 1 << 62), ONE), INDEFINITE);
    assert_eq!(e.flags, IE);
    // A pseudo-infinity too.
    let mut e = env(0x037F);
    assert_eq!(arith::add(&mut e, f(0x7FFF, 0), ONE, false), INDEFINITE);
    // Unmasked DE: not performed.
    let mut e = env(0x037D);
    assert_eq!(arith::add(&mut e, f(0, 1), ONE, false), f(0, 1));
    assert_eq!(e.flags, DE);
}

#[test]
fn nan_propagation_follows_table_4_7() {
    let snan = f(0x7FFF, 0x8000_0000_0000_0001);
    let qnan_small = f(0x7FFF, 0xC000_0000_0000_0001);
    let qnan_big = f(0xFFFF, 0xC000_0000_0000_0002);
    let mut e = env(0x037F);
    assert_eq!(arith::add(&mut e, snan, ONE, false), quiet(snan));
    assert_eq!(e.flags, IE);
    let mut e = env(0x037F);
    assert_eq!(
        arith::add(&mut e, snan, qnan_small, false),
        qnan_small,
        "the QNaN"
    );
    let mut e = env(0x037F);
    assert_eq!(
        arith::mul(&mut e, qnan_small, qnan_big),
        qnan_big,
        "larger significand"
    );
    assert_eq!(e.flags, 0);
    let mut e = env(0x037F);
    assert_eq!(
        arith::div(&mut e, qnan_small, with_sign(qnan_small, true)),
        qnan_small,
        "equal: positive"
    );
}

#[test]
fn invalid_and_zero_divide() {
    let mut e = env(0x037F);
    assert_eq!(arith::add(&mut e, inf(false), inf(true), false), INDEFINITE);
    assert_eq!(e.flags, IE);
    let mut e = env(0x037F);
    assert_eq!(arith::div(&mut e, zero(false), zero(true)), INDEFINITE);
    let mut e = env(0x037F);
    assert_eq!(
        arith::div(&mut e, with_sign(ONE, true), zero(false)),
        inf(true)
    );
    assert_eq!(e.flags, ZE);
    let mut e = env(0x037F);
    assert_eq!(arith::sqrt(&mut e, with_sign(ONE, true)), INDEFINITE);
    let mut e = env(0x037F);
    assert_eq!(arith::sqrt(&mut e, zero(true)), zero(true));
    assert_eq!(e.flags, 0);
    // sqrt(4) = 2 exactly; sqrt(2) = B504F333F9DE6484|597D... rounds down.
    let mut e = env(0x037F);
    assert_eq!(arith::sqrt(&mut e, f(0x4001, 1 << 63)), f(0x4000, 1 << 63));
    assert_eq!(e.flags, 0);
    let mut e = env(0x0B7F);
    assert_eq!(
        arith::sqrt(&mut e, f(0x4000, 1 << 63)),
        f(0x3FFF, 0xB504_F333_F9DE_6485)
    );
    assert_eq!(e.flags, PE | C1);
}

#[test]
fn conversions() {
    let mut e = env(0x037F);
    // Smallest single denormal 2^-149: DE, normal in extended.
    assert_eq!(convert::from_f32(&mut e, 1), f(0x3FFF - 149, 1 << 63));
    assert_eq!(e.flags, DE);
    // Single SNaN: IE, quieted, payload moved to the top.
    let mut e = env(0x037F);
    assert_eq!(
        convert::from_f32(&mut e, 0x7F80_0001),
        f(0x7FFF, 0xC000_0100_0000_0000)
    );
    assert_eq!(e.flags, IE);
    // 1/3 in extended to double: 0x3FD5555555555555, inexact.
    let third = f(0x3FFD, 0xAAAA_AAAA_AAAA_AAAB);
    let mut e = env(0x037F);
    assert_eq!(convert::to_f64(&mut e, third), 0x3FD5_5555_5555_5555);
    assert_eq!(e.flags, PE);
    // To single, rounding up: 0x3EAAAAAB with C1.
    let mut e = env(0x037F);
    assert_eq!(convert::to_f32(&mut e, third), 0x3EAA_AAAB);
    assert_eq!(e.flags, PE | C1);
    // 2^-140 to single: exact denormal 0x200.
    let mut e = env(0x037F);
    assert_eq!(convert::to_f32(&mut e, f(0x3FFF - 140, 1 << 63)), 0x200);
    assert_eq!(e.flags, 0);
    // Unsupported to double: the indefinite.
    let mut e = env(0x037F);
    assert_eq!(convert::to_f64(&mut e, f(0x3FFF, 1)), 0xFFF8_0000_0000_0000);
    // Integers: 32767.5 -> 32768 does not fit 16 bits.
    let mut e = env(0x037F);
    assert_eq!(
        convert::to_int(&mut e, f(0x400D, 0xFFFF_0000_0000_0000), 16, false),
        -32768
    );
    assert_eq!(e.flags, IE);
    let mut e = env(0x037F);
    assert_eq!(
        convert::to_int(&mut e, f(0xC00E, 1 << 63), 16, false),
        -32768,
        "-32768 fits"
    );
    assert_eq!(e.flags, 0);
    assert_eq!(convert::from_int(i64::MIN), f(0xC03E, 1 << 63));
    // BCD: 10^18 does not fit; 999999999999999999 does.
    let mut e = env(0x037F);
    let ten18 = convert::from_int(1_000_000_000_000_000_000);
    assert_eq!(convert::to_bcd(&mut e, ten18), convert::BCD_INDEFINITE);
    let mut e = env(0x037F);
    let nines = convert::from_int(999_999_999_999_999_999);
    assert_eq!(
        convert::to_bcd(&mut e, nines),
        (0x9999_9999_9999_9999, 0x0099)
    );
    assert_eq!(convert::from_bcd(0x9999_9999_9999_9999, 0x0099), nines);
}

#[test]
fn remainders_and_scaling() {
    // FPREM(-7, 2) = -1, q = 3; FPREM1(-7, 2) = 1 (q = 4, even).
    let m7 = convert::from_int(-7);
    let two = convert::from_int(2);
    let mut e = env(0x037F);
    let r = special::rem(&mut e, m7, two, false);
    assert_eq!((r.value, r.q, r.partial), (convert::from_int(-1), 3, false));
    let r = special::rem(&mut e, m7, two, true);
    assert_eq!((r.value, r.q, r.partial), (convert::from_int(1), 4, false));
    // 2^100 rem 3: exponent difference 99 >= 64: partial (C2).
    let big = f(0x3FFF + 100, 1 << 63);
    let r = special::rem(&mut e, big, convert::from_int(3), false);
    assert!(r.partial);
    assert_eq!(e.flags, 0);
    // FSCALE truncates ST(1): 1 * 2^(-2.9) = 2^-2.
    let mut e = env(0x037F);
    assert_eq!(
        special::scale(&mut e, ONE, f(0xC000, 0xB99A_0000_0000_0000)),
        f(0x3FFD, 1 << 63)
    );
    // FXTRACT(-0): ZE, exponent -inf, significand -0.
    let mut e = env(0x037F);
    assert_eq!(
        special::extract(&mut e, zero(true)),
        (inf(true), zero(true))
    );
    assert_eq!(e.flags, ZE);
    // FRNDINT(-0.5) to nearest: -0; up: -0; down: -1.
    let half = f(0xBFFE, 1 << 63);
    let mut e = env(0x037F);
    assert_eq!(special::round_int(&mut e, half), zero(true));
    let mut e = env(0x077F);
    assert_eq!(special::round_int(&mut e, half), with_sign(ONE, true));
    assert_eq!(e.flags, PE | C1);
}

#[test]
fn comparisons() {
    let mut e = env(0x037F);
    assert_eq!(
        special::compare(&mut e, zero(true), zero(false), false),
        Cmp::Equal
    );
    assert_eq!(special::compare(&mut e, inf(true), ONE, false), Cmp::Less);
    assert_eq!(special::compare(&mut e, ONE, f(0, 1), false), Cmp::Greater);
    assert_eq!(e.flags, DE);
    let qnan = f(0x7FFF, 0xC000_0000_0000_0000);
    let mut e = env(0x037F);
    assert_eq!(special::compare(&mut e, qnan, ONE, true), Cmp::Unordered);
    assert_eq!(e.flags, 0, "FUCOM: QNaN is quiet");
    assert_eq!(special::compare(&mut e, qnan, ONE, false), Cmp::Unordered);
    assert_eq!(e.flags, IE, "FCOM: any NaN is invalid");
    assert_eq!(special::examine(f(0, 5)), 0b110);
    assert_eq!(
        special::examine(f(0x3FFF, 5)),
        0b000,
        "unnormal: unsupported"
    );
}

#[test]
fn transcendental_values() {
    // F2XM1(0.5) = sqrt 2 - 1 = 0x3FFD:D413CCCFE7799211|65F6... (down).
    let mut e = env(0x037F);
    assert_eq!(
        transcend::f2xm1(&mut e, f(0x3FFE, 1 << 63)),
        f(0x3FFD, 0xD413_CCCF_E779_9211)
    );
    assert_eq!(e.flags, PE);
    // FYL2X(8, 1) = 3 exactly.
    let mut e = env(0x037F);
    assert_eq!(
        transcend::fyl2x(&mut e, convert::from_int(8), ONE),
        convert::from_int(3)
    );
    assert_eq!(e.flags, 0);
    // FYL2X(0, 1): ZE, -inf.
    let mut e = env(0x037F);
    assert_eq!(transcend::fyl2x(&mut e, zero(false), ONE), inf(true));
    assert_eq!(e.flags, ZE);
    // FPATAN(1, 1) = pi/4 = C90FDAA22168C234|C4... rounds up.
    let mut e = env(0x037F);
    assert_eq!(
        transcend::fpatan(&mut e, ONE, ONE),
        f(0x3FFE, 0xC90F_DAA2_2168_C235)
    );
    // FPATAN(-0, +0) = +pi; FPATAN(x, -inf)... (y = -inf, x = +inf) = -pi/4.
    let mut e = env(0x037F);
    assert_eq!(
        transcend::fpatan(&mut e, zero(true), zero(false)),
        f(0x4000, 0xC90F_DAA2_2168_C235)
    );
    assert_eq!(
        transcend::fpatan(&mut e, inf(false), inf(true)),
        f(0xBFFE, 0xC90F_DAA2_2168_C235)
    );
    // FSIN out of range: None (C2).
    let mut e = env(0x037F);
    assert_eq!(
        transcend::trig(&mut e, f(0x3FFF + 63, 1 << 63), transcend::Trig::Sin),
        None
    );
    assert_eq!(
        transcend::trig(&mut e, zero(true), transcend::Trig::Cos),
        Some(ONE)
    );
}

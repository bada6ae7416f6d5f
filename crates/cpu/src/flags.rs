//! Eager computation of the arithmetic status flags (SDM Vol. 1 §3.4.3.1 and
//! Appendix A) for an operand size of 1, 2, 4 or 8 bytes.
//!
//! Flags the SDM leaves undefined follow one documented profile, which is
//! the same for both vendors unless stated:
//! - logic (AND/OR/XOR/TEST): AF = 0.
//! - MUL/IMUL: SF, ZF, PF from the low half of the result, AF = 0.
//! - shifts and rotates by more than one: OF as computed for a count of one
//!   from the last step; AF = 0 for shifts.
//! - BSF/BSR/TZCNT/LZCNT/POPCNT: the flags they do not define are cleared.
//! - DIV/IDIV: flags unchanged.

/// Carry flag bit.
pub const CF: u64 = 1 << 0;
/// Parity flag bit.
pub const PF: u64 = 1 << 2;
/// Auxiliary-carry flag bit.
pub const AF: u64 = 1 << 4;
/// Zero flag bit.
pub const ZF: u64 = 1 << 6;
/// Sign flag bit.
pub const SF: u64 = 1 << 7;
/// Direction flag bit.
pub const DF: u64 = 1 << 10;
/// Overflow flag bit.
pub const OF: u64 = 1 << 11;
/// All six status flags.
pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;

/// The all-ones mask for an operand of `size` bytes.
#[inline(always)]
pub const fn mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size as u32 * 8)) - 1
    }
}

/// The sign bit position (bits - 1) for an operand of `size` bytes.
#[inline(always)]
pub const fn sign_shift(size: u8) -> u32 {
    size as u32 * 8 - 1
}

/// Sign-extends the low `size` bytes of `v` to 64 bits.
#[inline(always)]
pub const fn sext(v: u64, size: u8) -> u64 {
    let sh = 64 - size as u32 * 8;
    (((v << sh) as i64) >> sh) as u64
}

/// PF for every byte value (a table: baseline x86-64 has no POPCNT).
static PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if (i as u8).count_ones() & 1 == 0 {
            PF as u8
        } else {
            0
        };
        i += 1;
    }
    t
};

/// PF: set when the low byte of the result has an even number of ones.
#[inline(always)]
pub fn parity(r: u64) -> u64 {
    PARITY[(r & 0xFF) as usize] as u64
}

/// ZF, SF and PF of a result (already masked to `size`).
#[inline(always)]
pub fn szp(r: u64, size: u8) -> u64 {
    let z = if r == 0 { ZF } else { 0 };
    let s = ((r >> sign_shift(size)) & 1) << 7;
    z | s | parity(r)
}

/// Status flags of `a + b + carry` (ADD, ADC, INC without CF). Returns the
/// masked result and the flags.
#[inline(always)]
pub fn add(a: u64, b: u64, carry: u64, size: u8) -> (u64, u64) {
    let m = mask(size);
    let sh = sign_shift(size);
    let r = a.wrapping_add(b).wrapping_add(carry) & m;
    // Carry out of the top bit: computed from the bit-level carry equation
    // so that it also holds for 64-bit operands.
    let c = ((a & b) | ((a | b) & !r)) >> sh & 1;
    let o = ((a ^ r) & (b ^ r)) >> sh & 1;
    let f = c | (o << 11) | ((a ^ b ^ r) & AF) | szp(r, size);
    (r, f)
}

/// Status flags of `a - b - borrow` (SUB, SBB, CMP, NEG, DEC without CF).
#[inline(always)]
pub fn sub(a: u64, b: u64, borrow: u64, size: u8) -> (u64, u64) {
    let m = mask(size);
    let sh = sign_shift(size);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let c = ((!a & b) | ((!a | b) & r)) >> sh & 1;
    let o = ((a ^ b) & (a ^ r)) >> sh & 1;
    let f = c | (o << 11) | ((a ^ b ^ r) & AF) | szp(r, size);
    (r, f)
}

/// Status flags of a logic result: CF = OF = 0, AF = 0 (profile), SF/ZF/PF.
#[inline(always)]
pub fn logic(r: u64, size: u8) -> u64 {
    szp(r, size)
}

/// Evaluates a condition code (the low four bits of a Jcc/SETcc/CMOVcc
/// opcode, SDM Vol. 1 Appendix B) against RFLAGS.
#[inline(always)]
pub const fn condition(cc: u8, fl: u64) -> bool {
    let cf = fl & CF != 0;
    let zf = fl & ZF != 0;
    let sf = fl & SF != 0;
    let of = fl & OF != 0;
    let pf = fl & PF != 0;
    let r = match cc >> 1 {
        0 => of,
        1 => cf,
        2 => zf,
        3 => cf || zf,
        4 => sf,
        5 => pf,
        6 => sf != of,
        _ => zf || (sf != of),
    };
    r ^ (cc & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_sets_carry_and_overflow_per_size() {
        assert_eq!(add(0xFF, 1, 0, 1), (0, CF | ZF | PF | AF));
        assert_eq!(add(0x7F, 1, 0, 1), (0x80, OF | SF | AF));
        let (r, f) = add(u64::MAX, 1, 0, 8);
        assert_eq!(r, 0);
        assert_eq!(f & (CF | ZF | OF), CF | ZF);
        let (r, f) = add(0x7FFF_FFFF_FFFF_FFFF, 0, 1, 8);
        assert_eq!(r, 1 << 63);
        assert_eq!(f & (CF | OF | SF), OF | SF);
    }

    #[test]
    fn sub_borrow_and_overflow() {
        assert_eq!(sub(0, 1, 0, 4).0, 0xFFFF_FFFF);
        assert_eq!(sub(0, 1, 0, 4).1 & (CF | SF | OF), CF | SF);
        assert_eq!(sub(0x8000, 1, 0, 2).1 & (CF | OF), OF);
        assert_eq!(sub(5, 5, 0, 8).1 & (ZF | CF), ZF);
        // SBB with borrow in: 0 - 0 - 1.
        assert_eq!(sub(0, 0, 1, 8), (u64::MAX, CF | SF | PF | AF));
    }

    #[test]
    fn conditions_follow_appendix_b() {
        assert!(condition(0x4, ZF)); // E
        assert!(!condition(0x5, ZF)); // NE
        assert!(condition(0xC, SF)); // L: SF != OF
        assert!(!condition(0xC, SF | OF));
        assert!(condition(0x6, CF)); // BE
        assert!(condition(0xF, 0)); // G
        assert!(!condition(0xF, ZF));
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sext(0x80, 1), 0xFFFF_FFFF_FFFF_FF80);
        assert_eq!(sext(0x7FFF, 2), 0x7FFF);
        assert_eq!(sext(0x8000_0000, 4), 0xFFFF_FFFF_8000_0000);
    }
}

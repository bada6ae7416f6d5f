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
    #[cfg(target_arch = "x86_64")]
    {
        host::arith::<false>(a, b, carry, size)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        add_portable(a, b, carry, size)
    }
}

/// Status flags of `a - b - borrow` (SUB, SBB, CMP, NEG, DEC without CF).
#[inline(always)]
pub fn sub(a: u64, b: u64, borrow: u64, size: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        host::arith::<true>(a, b, borrow, size)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sub_portable(a, b, borrow, size)
    }
}

/// [`add`] computed from the bit-level carry equations, on any host.
#[inline(always)]
pub fn add_portable(a: u64, b: u64, carry: u64, size: u8) -> (u64, u64) {
    let m = mask(size);
    let sh = sign_shift(size);
    let r = a.wrapping_add(b).wrapping_add(carry) & m;
    let c = ((a & b) | ((a | b) & !r)) >> sh & 1;
    let o = ((a ^ r) & (b ^ r)) >> sh & 1;
    let f = c | (o << 11) | ((a ^ b ^ r) & AF) | szp(r, size);
    (r, f)
}

/// [`sub`] computed from the bit-level borrow equations, on any host.
#[inline(always)]
pub fn sub_portable(a: u64, b: u64, borrow: u64, size: u8) -> (u64, u64) {
    let m = mask(size);
    let sh = sign_shift(size);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let c = ((!a & b) | ((!a | b) & r)) >> sh & 1;
    let o = ((a ^ b) & (a ^ r)) >> sh & 1;
    let f = c | (o << 11) | ((a ^ b ^ r) & AF) | szp(r, size);
    (r, f)
}

/// On an x86-64 host, ADD/ADC/SUB/SBB are computed by the host's own
/// instruction of the same width and the six status flags read back with
/// LAHF and SETO. Every flag these instructions produce is architecturally
/// defined, so the result is the same on every x86-64 host; it is several
/// times cheaper than evaluating the carry equations (the differential test
/// and a unit test below compare the two).
#[cfg(target_arch = "x86_64")]
mod host {
    use std::arch::asm;

    macro_rules! width {
        ($name:ident, $add:literal, $adc:literal, $sub:literal, $sbb:literal, $ty:ty) => {
            #[inline(always)]
            pub(super) fn $name<const SUB: bool>(a: u64, b: u64, carry: u64) -> (u64, u64) {
                let mut r = a;
                let ah: u64;
                let of: u8;
                // SAFETY: pure register arithmetic; no memory or stack is
                // touched, and RAX is declared clobbered for LAHF.
                unsafe {
                    match (SUB, carry != 0) {
                        (false, false) => asm!($add, "lahf", "seto {o}", r = inout(reg) r, b = in(reg) b, o = out(reg_byte) of, out("rax") ah, options(pure, nomem, nostack)),
                        (false, true) => asm!("stc", $adc, "lahf", "seto {o}", r = inout(reg) r, b = in(reg) b, o = out(reg_byte) of, out("rax") ah, options(pure, nomem, nostack)),
                        (true, false) => asm!($sub, "lahf", "seto {o}", r = inout(reg) r, b = in(reg) b, o = out(reg_byte) of, out("rax") ah, options(pure, nomem, nostack)),
                        (true, true) => asm!("stc", $sbb, "lahf", "seto {o}", r = inout(reg) r, b = in(reg) b, o = out(reg_byte) of, out("rax") ah, options(pure, nomem, nostack)),
                    }
                }
                let f = ((ah >> 8) & 0xD5) | ((of as u64) << 11);
                (r & <$ty>::MAX as u64, f)
            }
        };
    }

    width!(
        w8,
        "add {r:l}, {b:l}",
        "adc {r:l}, {b:l}",
        "sub {r:l}, {b:l}",
        "sbb {r:l}, {b:l}",
        u8
    );
    width!(
        w16,
        "add {r:x}, {b:x}",
        "adc {r:x}, {b:x}",
        "sub {r:x}, {b:x}",
        "sbb {r:x}, {b:x}",
        u16
    );
    width!(
        w32,
        "add {r:e}, {b:e}",
        "adc {r:e}, {b:e}",
        "sub {r:e}, {b:e}",
        "sbb {r:e}, {b:e}",
        u32
    );
    width!(
        w64,
        "add {r}, {b}",
        "adc {r}, {b}",
        "sub {r}, {b}",
        "sbb {r}, {b}",
        u64
    );

    #[inline(always)]
    pub(super) fn arith<const SUB: bool>(a: u64, b: u64, carry: u64, size: u8) -> (u64, u64) {
        match size {
            1 => w8::<SUB>(a, b, carry),
            2 => w16::<SUB>(a, b, carry),
            4 => w32::<SUB>(a, b, carry),
            _ => w64::<SUB>(a, b, carry),
        }
    }
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
    fn host_flags_match_the_carry_equations() {
        let vals = [
            0u64,
            1,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            1 << 63,
            u64::MAX,
            0x1234_5678_9ABC_DEF0,
        ];
        for size in [1u8, 2, 4, 8] {
            for &a in &vals {
                for &b in &vals {
                    for c in 0..2 {
                        let (a, b) = (a & mask(size), b & mask(size));
                        assert_eq!(
                            add(a, b, c, size),
                            add_portable(a, b, c, size),
                            "add {a:#x} {b:#x} {c} /{size}"
                        );
                        assert_eq!(
                            sub(a, b, c, size),
                            sub_portable(a, b, c, size),
                            "sub {a:#x} {b:#x} {c} /{size}"
                        );
                    }
                }
            }
        }
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

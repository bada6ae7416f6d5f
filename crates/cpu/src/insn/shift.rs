//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR by 1, by imm8
//! and by CL, and the double shifts SHLD/SHRD by imm8 and by CL (SDM Vol. 2B
//! "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
//!
//! Counts (SDM pseudocode): the count is masked to 5 bits, or 6 bits for a
//! 64-bit operand. RCL/RCR then take it modulo 9 (8-bit) or 17 (16-bit)
//! because they rotate through CF; ROL/ROR rotate by the masked count modulo
//! the width, so `rol al, 8` leaves AL alone but still sets CF and OF (the
//! masked count is not 0).
//!
//! A masked count of 0 changes no flags ("If the count is 0, the flags are
//! not affected"). The SDM also calls the destination unchanged, but real
//! processors still write the destination register: a 32-bit register in
//! 64-bit mode has its upper half cleared (`shl eax, 0` zero-extends RAX,
//! like any 32-bit register write, SDM Vol. 1 §3.4.1.1; checked on an AMD
//! EPYC host, for SHLD/SHRD too), and sysgate does the same. A memory
//! destination is translated with write intent whatever the count, the
//! instruction being a read-modify-write: a read-only page faults as a
//! write even for a count of 0 (as it does on an AMD EPYC host), but a
//! count of 0 stores nothing.
//!
//! Flags for a non-zero count, with the undefined ones following the profile
//! of [`crate::flags`]:
//! - SHL/SHR/SAR: CF is the last bit shifted out; SF, ZF, PF from the
//!   result; AF undefined, 0 here. OF is defined for a count of 1 (SHL:
//!   MSB(result) XOR CF; SHR: MSB of the original operand; SAR: 0); for
//!   larger counts it is computed as a 1-bit shift of the last step would
//!   set it: SHL MSB(result) XOR CF, SHR and SAR 0.
//! - SHL/SHR of an 8- or 16-bit operand by at least its width (possible
//!   since the count is masked to 5 bits) leaves CF undefined; sysgate
//!   shifts as if the operand were wide enough: by exactly the width CF is
//!   the operand's last bit (bit 0 for SHL, the MSB for SHR), beyond it 0.
//!   SAR fills with the sign, so CF is the sign bit.
//! - Measured on an AMD EPYC (Zen) host: OF for every count and CF for
//!   counts beyond the width are as above; AMD sets AF = 1 where the
//!   profile clears it.
//! - ROL/ROR/RCL/RCR change only CF and OF (SF, ZF, AF, PF keep their
//!   values). CF: ROL the result's LSB, ROR its MSB, RCL/RCR the bit rotated
//!   into CF. OF, defined for a count of 1, is for every count the 1-bit
//!   formula applied to the last step, which reads off the result: ROL and
//!   RCL MSB(result) XOR CF, ROR and RCR MSB(result) XOR bit width-2 of the
//!   result. When RCL/RCR's count modulo 9 or 17 is 0 (but the masked count
//!   is not) there is no step: CF keeps its value and OF is given by the
//!   same formula on the unchanged operand. An AMD EPYC host agrees in
//!   every case, these included.
//! - SHLD/SHRD: CF is the last bit shifted out of the destination; SF, ZF,
//!   PF from the result; AF 0; OF, defined for a count of 1 (set when the
//!   sign changes), is MSB(result) XOR CF for SHLD and MSB(result) XOR bit
//!   width-2 of the result for SHRD for every count.
//! - SHLD/SHRD of a 16-bit operand by 17 to 31: the SDM leaves result and
//!   flags undefined, and the vendors differ, so this follows the vendor
//!   profile ([`crate::vendor`]). Both behave as a shift of a 48-bit value,
//!   SHLD taking its top 16 bits and SHRD its low 16 bits:
//!   - Intel: dest:src:dest (for SHRD: dest:src:dest with dest at the
//!     bottom), the P6-and-later behaviour Bochs documents and models in
//!     `shift16.cc` (not measured here). Flags as for other counts, with CF
//!     the last bit shifted out of the 48-bit value.
//!   - AMD: dest:src:src for SHLD and src:src:dest for SHRD (what Bochs
//!     calls the Pentium behaviour), so the result is src rotated by
//!     count - 16; CF = 0, OF = 0 for SHLD and MSB XOR bit 14 of the result
//!     for SHRD, SF/ZF/PF from the result. Measured on an AMD EPYC (Zen)
//!     host by running the instructions natively (sysgate-native-ref).
//!   - A count of exactly 16 is defined (the result is src); both profiles
//!     give it.

use iced_x86::{Instruction, Mnemonic};

use super::set_flags;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{CF, OF, STATUS, mask, sext, sign_shift, szp};
use crate::memory::Dest;
use crate::state::Cpu;
use crate::vendor::Vendor;

pub(super) const SHL: u8 = 0;
pub(super) const SHR: u8 = 1;
pub(super) const SAR: u8 = 2;
pub(super) const ROL: u8 = 3;
pub(super) const ROR: u8 = 4;
const RCL: u8 = 5;
const RCR: u8 = 6;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Shl | Sal => shift::<SHL>,
        Shr => shift::<SHR>,
        Sar => shift::<SAR>,
        Rol => shift::<ROL>,
        Ror => shift::<ROR>,
        Rcl => shift::<RCL>,
        Rcr => shift::<RCR>,
        Shld => double_shift::<true>,
        Shrd => double_shift::<false>,
        _ => return None,
    })
}

/// The count mask: 5 bits, 6 for 64-bit operands.
#[inline(always)]
pub(super) const fn count_mask(size: u8) -> u64 {
    if size == 8 { 0x3F } else { 0x1F }
}

/// OF from bit 0 of `v` placed at bit 11.
#[inline(always)]
const fn of_bit(v: u64) -> u64 {
    (v & 1) << 11
}

/// The result and flags of shift/rotate `OP` of `a` by the masked,
/// non-zero `count` at `size` bytes, with carry-in `cf` (0 or 1). Returns
/// the masked result, the flags to change and their new values.
#[inline(always)]
pub(crate) fn compute<const OP: u8>(a: u64, count: u32, size: u8, cf: u64) -> (u64, u64, u64) {
    let bits = size as u32 * 8;
    let m = mask(size);
    let sh = sign_shift(size);
    match OP {
        SHL => {
            // count <= 63 < 64, and a < 2^bits: the u64 shift is exact for
            // every size but 8, where bits shifted past bit 63 are gone
            // anyway.
            let r = (a << count) & m;
            let c = if count <= bits {
                (a >> (bits - count)) & 1
            } else {
                0
            };
            let o = ((r >> sh) ^ c) & 1;
            (r, STATUS, c | of_bit(o) | szp(r, size))
        }
        SHR => {
            let r = a >> count;
            let c = (a >> (count - 1)) & 1;
            let o = if count == 1 { (a >> sh) & 1 } else { 0 };
            (r, STATUS, c | of_bit(o) | szp(r, size))
        }
        SAR => {
            let s = sext(a, size) as i64;
            let r = (s >> count) as u64 & m;
            let c = ((s >> (count - 1)) as u64) & 1;
            (r, STATUS, c | szp(r, size))
        }
        ROL => {
            let r = if bits == 64 {
                a.rotate_left(count)
            } else {
                let n = count % bits;
                ((a << n) | (a >> ((bits - n) % bits))) & m
            };
            let c = r & 1;
            let o = ((r >> sh) ^ c) & 1;
            (r, CF | OF, c | of_bit(o))
        }
        ROR => {
            let r = if bits == 64 {
                a.rotate_right(count)
            } else {
                let n = count % bits;
                ((a >> n) | (a << ((bits - n) % bits))) & m
            };
            let c = (r >> sh) & 1;
            let o = ((r >> sh) ^ (r >> (sh - 1))) & 1;
            (r, CF | OF, c | of_bit(o))
        }
        _ => {
            // Rotate the (bits + 1)-bit value CF:a.
            let n = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            let w = bits + 1;
            let wm = (1u128 << w) - 1;
            let v = (a as u128) | ((cf as u128) << bits);
            let v = if n == 0 {
                v
            } else if OP == RCL {
                ((v << n) | (v >> (w - n))) & wm
            } else {
                ((v >> n) | (v << (w - n))) & wm
            };
            let r = v as u64 & m;
            let c = (v >> bits) as u64 & 1;
            let o = if OP == RCL {
                ((r >> sh) ^ c) & 1
            } else {
                ((r >> sh) ^ (r >> (sh - 1))) & 1
            };
            (r, CF | OF, c | of_bit(o))
        }
    }
}

/// SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR r/m, 1 | imm8 | CL.
extern "C" fn shift<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let count = (c.get(i, 1, 1)? & count_mask(size)) as u32;
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    if count == 0 {
        // No flags change; a register destination is still written (see
        // the module comment: this zero-extends a 32-bit register).
        if let Dest::Reg(_) = d {
            c.dstore(d, size, a);
        }
        return Ok(());
    }
    let (r, which, f) = compute::<OP>(a, count, size, c.rflags & CF);
    c.dstore(d, size, r);
    set_flags(c, which, f);
    Ok(())
}

/// The result and flags of SHLD (`LEFT`) or SHRD of destination `d` with
/// source `s` by the masked, non-zero `count` at `size` bytes.
#[inline(always)]
pub(crate) fn compute_double<const LEFT: bool>(
    d: u64,
    s: u64,
    count: u32,
    size: u8,
    vendor: Vendor,
) -> (u64, u64) {
    let bits = size as u32 * 8;
    let m = mask(size);
    let sh = sign_shift(size);
    if size == 2 && count > 16 && vendor == Vendor::Amd {
        let r = if LEFT {
            let v = (d << 32) | (s << 16) | s;
            ((v << count) >> 32) & m
        } else {
            let v = (s << 32) | (s << 16) | d;
            (v >> count) & m
        };
        let o = if LEFT {
            0
        } else {
            ((r >> sh) ^ (r >> (sh - 1))) & 1
        };
        return (r, of_bit(o) | szp(r, size));
    }
    let (r, c) = if size == 2 {
        // The 48-bit model also covers counts of 17-31 (module comment).
        if LEFT {
            let v = (d << 32) | (s << 16) | d;
            (((v << count) >> 32) & m, (v >> (48 - count)) & 1)
        } else {
            let v = d | (s << 16) | (d << 32);
            ((v >> count) & m, (v >> (count - 1)) & 1)
        }
    } else if LEFT {
        // count < bits for 32- and 64-bit operands.
        let r = ((d << count) | (s >> (bits - count))) & m;
        (r, (d >> (bits - count)) & 1)
    } else {
        let r = ((d >> count) | (s << (bits - count))) & m;
        (r, (d >> (count - 1)) & 1)
    };
    let o = if LEFT {
        ((r >> sh) ^ c) & 1
    } else {
        ((r >> sh) ^ (r >> (sh - 1))) & 1
    };
    (r, c | of_bit(o) | szp(r, size))
}

/// SHLD/SHRD r/m, r, imm8 | CL.
extern "C" fn double_shift<const LEFT: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let count = (c.get(i, 2, 1)? & count_mask(size)) as u32;
    let s = c.get(i, 1, size)?;
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    if count == 0 {
        if let Dest::Reg(_) = d {
            c.dstore(d, size, a);
        }
        return Ok(());
    }
    let (r, f) = compute_double::<LEFT>(a, s, count, size, c.vendor);
    c.dstore(d, size, r);
    set_flags(c, STATUS, f);
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::*;
    use crate::flags::{AF, PF, SF, ZF};
    use crate::testutil::{DATA, exec};

    /// Flags of the result of `compute`, only the changed ones.
    fn run<const OP: u8>(a: u64, count: u32, size: u8, cf: u64) -> (u64, u64) {
        let (r, which, f) = compute::<OP>(a, count, size, cf);
        (r, f & which)
    }

    #[test]
    fn shl_carry_overflow_and_wide_counts() {
        assert_eq!(run::<SHL>(0x81, 1, 1, 0), (0x02, CF | OF));
        assert_eq!(run::<SHL>(0x40, 1, 1, 0), (0x80, OF | SF));
        assert_eq!(run::<SHL>(0xC0, 1, 1, 0), (0x80, CF | SF));
        // By the width: the last bit out is bit 0; beyond: 0.
        assert_eq!(run::<SHL>(0x01, 8, 1, 0), (0, CF | OF | ZF | PF));
        assert_eq!(run::<SHL>(0xFF, 9, 1, 0), (0, ZF | PF));
        assert_eq!(run::<SHL>(0x8001, 16, 2, 0), (0, CF | OF | ZF | PF));
        assert_eq!(run::<SHL>(1 << 63, 1, 8, 0), (0, CF | OF | ZF | PF));
        assert_eq!(run::<SHL>(3, 63, 8, 0), (1 << 63, CF | SF | PF));
    }

    #[test]
    fn shr_and_sar() {
        assert_eq!(run::<SHR>(0x81, 1, 1, 0), (0x40, CF | OF));
        assert_eq!(run::<SHR>(0x81, 2, 1, 0), (0x20, 0));
        assert_eq!(run::<SHR>(0x80, 8, 1, 0), (0, CF | ZF | PF));
        assert_eq!(run::<SHR>(0x80, 9, 1, 0), (0, ZF | PF));
        assert_eq!(run::<SHR>(u64::MAX, 63, 8, 0), (1, CF));
        assert_eq!(run::<SAR>(0x81, 1, 1, 0), (0xC0, CF | SF | PF));
        assert_eq!(run::<SAR>(0x80, 31, 1, 0), (0xFF, CF | SF | PF));
        assert_eq!(run::<SAR>(0x7F, 31, 1, 0), (0, ZF | PF));
        assert_eq!(run::<SAR>(1 << 63, 63, 8, 0), (u64::MAX, SF | PF));
        assert_eq!(run::<SAR>(3 << 62, 63, 8, 0), (u64::MAX, CF | SF | PF));
        assert_eq!(run::<SAR>(0x8000_0000, 4, 4, 0), (0xF800_0000, SF | PF));
    }

    #[test]
    fn rotates_touch_only_cf_and_of() {
        assert_eq!(run::<ROL>(0x81, 1, 1, 0), (0x03, CF | OF));
        assert_eq!(run::<ROL>(0x81, 8, 1, 0), (0x81, CF));
        assert_eq!(run::<ROL>(0x40, 16, 1, 0), (0x40, 0));
        assert_eq!(run::<ROR>(0x01, 1, 1, 0), (0x80, CF | OF));
        assert_eq!(run::<ROR>(0x8000, 16, 2, 0), (0x8000, CF | OF));
        assert_eq!(run::<ROL>(1 << 63, 1, 8, 0), (1, CF | OF));
        assert_eq!(run::<ROR>(1, 63, 8, 0), (2, 0));
        let (_, which, _) = compute::<ROL>(1, 1, 4, 0);
        assert_eq!(which & (SF | ZF | AF | PF), 0);
    }

    #[test]
    fn rcl_rcr_rotate_through_carry_modulo_width_plus_one() {
        assert_eq!(run::<RCL>(0x80, 1, 1, 0), (0x00, CF | OF));
        assert_eq!(run::<RCL>(0x00, 1, 1, 1), (0x01, 0));
        // 9 mod 9 = 0: value and CF unchanged.
        assert_eq!(run::<RCL>(0x55, 9, 1, 1), (0x55, CF | OF));
        // 10 mod 9 = 1.
        assert_eq!(run::<RCL>(0x80, 10, 1, 0), (0x00, CF | OF));
        assert_eq!(run::<RCL>(0x1234, 17, 2, 0), (0x1234, 0));
        assert_eq!(run::<RCL>(0x8000, 18, 2, 1), (0x0001, CF | OF));
        assert_eq!(run::<RCR>(0x01, 1, 1, 0), (0x00, CF));
        assert_eq!(run::<RCR>(0x00, 1, 1, 1), (0x80, OF));
        assert_eq!(run::<RCR>(0x01, 31, 4, 1), (0x0000_0006, 0));
        assert_eq!(run::<RCL>(1, 63, 8, 1), ((1 << 63) | (1 << 62), OF));
        assert_eq!(run::<RCR>(1 << 63, 63, 8, 1), (0b11, 0));
    }

    fn dbl<const LEFT: bool>(d: u64, s: u64, count: u32, size: u8) -> (u64, u64) {
        compute_double::<LEFT>(d, s, count, size, Vendor::Intel)
    }

    #[test]
    fn double_shifts() {
        assert_eq!(
            dbl::<true>(0x1234_5678, 0x9ABC_DEF0, 8, 4),
            (0x3456_789A, PF)
        );
        assert_eq!(
            dbl::<false>(0x1234_5678, 0x9ABC_DEF0, 8, 4),
            (0xF012_3456, SF | PF)
        );
        assert_eq!(dbl::<true>(0x8000, 0, 1, 2), (0, CF | OF | ZF | PF));
        assert_eq!(dbl::<false>(1, 1, 1, 2).0, 0x8000);
        // 16-bit counts beyond 16: dest:src:dest.
        assert_eq!(dbl::<true>(0x1234, 0xABCD, 16, 2).0, 0xABCD);
        assert_eq!(dbl::<true>(0x1234, 0xABCD, 20, 2).0, 0xBCD1);
        assert_eq!(dbl::<false>(0x1234, 0xABCD, 16, 2).0, 0xABCD);
        assert_eq!(dbl::<false>(0x1234, 0xABCD, 20, 2).0, 0x4ABC);
        assert_eq!(dbl::<true>(1, 1 << 63, 63, 8).0, (1 << 63) | (1 << 62));
    }

    #[test]
    fn sixteen_bit_double_shifts_beyond_16_follow_the_vendor() {
        let amd = |left: bool, d, s, n| {
            if left {
                compute_double::<true>(d, s, n, 2, Vendor::Amd)
            } else {
                compute_double::<false>(d, s, n, 2, Vendor::Amd)
            }
        };
        // Samples measured on an AMD EPYC host.
        assert_eq!(amd(true, 0xFFFF, 0x0001, 17), (0x0002, 0));
        assert_eq!(amd(true, 0x5FF6, 0x9220, 17), (0x2441, PF));
        assert_eq!(amd(true, 0x824D, 0xB190, 31).0, 0x58C8);
        assert_eq!(amd(false, 0xFFFF, 0x44F6, 17).0, 0x227B);
        assert_eq!(amd(false, 0x809E, 0x101F, 29), (0x80F8, OF | SF));
        assert_eq!(amd(false, 0xFB79, 0xF2CF, 28), (0x2CFF, PF));
        // Intel: dest:src:dest.
        assert_eq!(dbl::<true>(0xFFFF, 0x0001, 17, 2).0, 0x0003);
        assert_eq!(dbl::<false>(0xFFFF, 0x44F6, 17, 2).0, 0xA27B);
        // A count of 16 is defined: both give src.
        assert_eq!(
            amd(true, 0x1234, 0xABCD, 16),
            dbl::<true>(0x1234, 0xABCD, 16, 2)
        );
        assert_eq!(
            amd(false, 0x1234, 0xABCD, 16),
            dbl::<false>(0x1234, 0xABCD, 16, 2)
        );
    }

    #[test]
    fn count_zero_keeps_flags_but_writes_the_register() {
        let v = exec(64, |a| {
            a.mov(rax, -1i64)?;
            a.mov(rbx, -1i64)?;
            a.mov(rdx, -1i64)?;
            a.mov(rsi, -1i64)?;
            a.xor(ecx, ecx)?; // ZF = PF = 1, CF = 0
            a.stc()?;
            a.shl(eax, cl)?;
            a.rcl(ebx, 0)?;
            a.shld(edx, esi, 0)?;
            a.shl(si, 0)?;
            a.pushfq()?;
            a.pop(rdi)
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0], 0xFFFF_FFFF);
        assert_eq!(c.gpr[3], 0xFFFF_FFFF);
        assert_eq!(c.gpr[2], 0xFFFF_FFFF);
        assert_eq!(c.gpr[6], u64::MAX, "a 16-bit write merges");
        assert_eq!(c.gpr[7] & STATUS, CF | ZF | PF);
    }

    #[test]
    fn counts_are_masked_and_memory_forms_work() {
        let v = exec(64, |a| {
            a.mov(rax, 1u64)?;
            a.mov(cl, 65)?; // 64-bit: masked to 1
            a.shl(rax, cl)?;
            a.mov(ebx, 1u32)?;
            a.shl(ebx, cl)?; // 32-bit: 65 & 31 = 1
            a.mov(rdx, DATA)?;
            a.mov(dword_ptr(rdx), 0x8000_0001u32)?;
            a.ror(dword_ptr(rdx), 1)?;
            a.mov(word_ptr(rdx + 8), 0x00FFu32)?;
            a.mov(si, 0xFF00u32)?;
            a.mov(cl, 4)?;
            a.shrd(word_ptr(rdx + 8), si, cl)
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0], 2);
        assert_eq!(c.gpr[3], 2);
        assert_eq!(c.mmu.phys.read_u32(DATA), 0xC000_0000);
        assert_eq!(c.mmu.phys.read_u16(DATA + 8), 0x000F);
    }

    #[test]
    fn count_zero_on_read_only_memory_faults_as_a_write() {
        use crate::exception::Exception;
        use crate::run::Exit;
        use crate::state::{SegReg, attr};
        use crate::testutil::{CODE, asm, machine, run};
        // A read-only DS: the read-modify-write operand is checked for
        // writing even though a count of 0 stores nothing.
        let code = asm(32, |a| {
            a.mov(edx, DATA as u32)?;
            a.xor(ecx, ecx)?;
            a.shl(dword_ptr(edx), cl)
        });
        let mut v = machine(32);
        v.cpu.seg[SegReg::Ds as usize].attr &= !attr::RW;
        assert_eq!(run(&mut v, &code), Exit::Exception(Exception::GP(0)));
        assert_eq!(v.cpu.rip, CODE + 7);
    }
}

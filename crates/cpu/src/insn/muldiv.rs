//! Multiplication and division: MUL, IMUL (one-, two- and three-operand
//! forms), DIV and IDIV at 8, 16, 32 and 64 bits (SDM Vol. 2A "MUL",
//! "IMUL", "DIV", "IDIV").
//!
//! The one-operand forms use the accumulator pair: AX = AL * r/m8,
//! DX:AX = AX * r/m16, EDX:EAX, RDX:RAX; DIV/IDIV divide that pair and put
//! the quotient in AL/AX/EAX/RAX and the remainder in AH/DX/EDX/RDX
//! (32-bit halves zero-extend in 64-bit mode, as every 32-bit register
//! write does).
//!
//! Flags:
//! - MUL and one-operand IMUL set CF = OF = 1 when the upper half of the
//!   product is significant (MUL: not zero; IMUL: not the sign extension of
//!   the lower half); two- and three-operand IMUL when the product does
//!   not fit the destination (the truncated result differs from the full
//!   product). SF, ZF, PF and AF are undefined: per the profile in
//!   [`crate::flags`], SF, ZF and PF come from the lower half (the
//!   truncated result) and AF is 0.
//! - DIV and IDIV leave every flag unchanged (the flags are undefined; the
//!   profile keeps them).
//! - An AMD EPYC (Zen) host differs in these undefined flags: MUL/IMUL
//!   leave SF, ZF, AF, PF unchanged; DIV/IDIV keep CF and OF, set AF and
//!   clear SF, ZF, PF (measured by running the instructions natively).
//!
//! #DE (a fault) is raised when the divisor is 0 and when the quotient does
//! not fit its register, for IDIV also in the most-negative cases (e.g.
//! AX = -32768 divided by -1, or RDX:RAX = -2^127 divided by -1); a
//! quotient equal to the most negative value (-128 for 8 bits) fits. The
//! check comes before anything is written, so a faulting division changes
//! no state, and RIP stays at the instruction.

use iced_x86::{Instruction, Mnemonic};

use super::set_flags;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{AF, CF, OF, PF, SF, ZF, mask, sext, szp};
use crate::state::Cpu;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match (ins.mnemonic(), ins.op_count()) {
        (Mul, 1) => mul_acc::<false>,
        (Imul, 1) => mul_acc::<true>,
        (Imul, 2) => imul_trunc::<false>,
        (Imul, 3) => imul_trunc::<true>,
        (Div, 1) => div_acc::<false>,
        (Idiv, 1) => div_acc::<true>,
        _ => return None,
    })
}

/// The flags MUL/IMUL write.
pub(super) const MUL_FLAGS: u64 = CF | OF | SF | ZF | PF | AF;

/// The flags of a multiplication with truncated result `lo` (already
/// masked to `size`) and overflow indication `wide`.
#[inline(always)]
pub(super) fn mul_flags(lo: u64, size: u8, wide: bool) -> u64 {
    let co = if wide { CF | OF } else { 0 };
    co | szp(lo, size)
}

/// Reads the double-width accumulator pair for `size` as (high, low):
/// AH:AL for 1 byte, rDX:rAX otherwise.
#[inline(always)]
fn read_pair(c: &Cpu, size: u8) -> (u64, u64) {
    if size == 1 {
        ((c.gpr[0] >> 8) & 0xFF, c.gpr[0] & 0xFF)
    } else {
        (c.rd(2, size), c.rd(0, size))
    }
}

/// Writes the double-width accumulator pair for `size`.
#[inline(always)]
fn write_pair(c: &mut Cpu, size: u8, hi: u64, lo: u64) {
    if size == 1 {
        c.wr(0, 2, ((hi & 0xFF) << 8) | (lo & 0xFF));
    } else {
        c.wr(0, size, lo);
        c.wr(2, size, hi);
    }
}

/// The full product of `a` and `b` (both `size` bytes) as (high, low)
/// halves of `size` bytes each, and whether the high half is significant.
#[inline(always)]
pub(crate) fn multiply<const SIGNED: bool>(a: u64, b: u64, size: u8) -> (u64, u64, bool) {
    let bits = size as u32 * 8;
    let m = mask(size);
    if SIGNED {
        let p = (sext(a, size) as i64 as i128) * (sext(b, size) as i64 as i128);
        let lo = p as u64 & m;
        let hi = (p >> bits) as u64 & m;
        (hi, lo, sext(lo, size) as i64 as i128 != p)
    } else {
        let p = (a as u128) * (b as u128);
        let lo = p as u64 & m;
        let hi = (p >> bits) as u64 & m;
        (hi, lo, hi != 0)
    }
}

/// MUL r/m and one-operand IMUL r/m.
extern "C" fn mul_acc<const SIGNED: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 0, size)?;
    let acc = c.rd(0, size);
    let (hi, lo, wide) = multiply::<SIGNED>(acc, src, size);
    write_pair(c, size, hi, lo);
    set_flags(c, MUL_FLAGS, mul_flags(lo, size, wide));
    Ok(())
}

/// IMUL r, r/m and IMUL r, r/m, imm: the product truncated to the
/// destination's size.
extern "C" fn imul_trunc<const THREE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 1, size)?;
    let other = if THREE {
        // iced sign-extends imm8 forms already; mask to the operand size
        // and let `multiply` sign-extend from there.
        i.imm & mask(size)
    } else {
        c.get(i, 0, size)?
    };
    let (_, lo, wide) = multiply::<true>(src, other, size);
    c.put(i, 0, size, lo)?;
    set_flags(c, MUL_FLAGS, mul_flags(lo, size, wide));
    Ok(())
}

/// Divides the double-width `(hi, lo)` by `divisor` at `size` bytes:
/// (quotient, remainder), or #DE on a zero divisor or a quotient that does
/// not fit `size` bytes.
#[inline(always)]
pub(crate) fn divide<const SIGNED: bool>(
    hi: u64,
    lo: u64,
    divisor: u64,
    size: u8,
) -> Result<(u64, u64), Exception> {
    let bits = size as u32 * 8;
    let m = mask(size);
    if divisor == 0 {
        return Err(Exception::DE);
    }
    let wide = ((hi as u128) << bits) | lo as u128;
    if SIGNED {
        // Sign-extend the 2*bits-wide dividend to 128 bits.
        let sh = 128 - 2 * bits;
        let n = ((wide << sh) as i128) >> sh;
        let d = sext(divisor, size) as i64 as i128;
        // i128 division truncates toward zero as IDIV does; checked_div
        // catches -2^127 / -1 (the 64-bit most-negative case).
        let q = n.checked_div(d).ok_or(Exception::DE)?;
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << (bits - 1)) - 1;
        if q < min || q > max {
            return Err(Exception::DE);
        }
        let r = n.wrapping_rem(d);
        Ok((q as u64 & m, r as u64 & m))
    } else {
        let d = divisor as u128;
        let q = wide / d;
        if q > m as u128 {
            return Err(Exception::DE);
        }
        Ok((q as u64, (wide % d) as u64))
    }
}

/// DIV r/m and IDIV r/m.
extern "C" fn div_acc<const SIGNED: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let divisor = c.get(i, 0, size)?;
    let (hi, lo) = read_pair(c, size);
    let (q, r) = divide::<SIGNED>(hi, lo, divisor, size)?;
    write_pair(c, size, r, q);
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::*;
    use crate::run::Exit;
    use crate::testutil::{CODE, DATA, exec, fault};

    #[test]
    fn multiply_flags_and_halves() {
        assert_eq!(multiply::<false>(0xFF, 0xFF, 1), (0xFE, 0x01, true));
        assert_eq!(multiply::<false>(0x10, 0x0F, 1), (0, 0xF0, false));
        assert_eq!(multiply::<true>(0xFF, 0xFF, 1), (0, 1, false)); // -1 * -1
        assert_eq!(multiply::<true>(0x80, 0xFF, 1), (0, 0x80, true)); // -128 * -1
        assert_eq!(multiply::<true>(0x40, 0x02, 1), (0, 0x80, true));
        assert_eq!(multiply::<true>(0xC0, 0x02, 1), (0xFF, 0x80, false));
        assert_eq!(
            multiply::<false>(u64::MAX, u64::MAX, 8),
            (u64::MAX - 1, 1, true)
        );
        assert_eq!(
            multiply::<true>(1 << 63, u64::MAX, 8),
            (0, 1 << 63, true),
            "-2^63 * -1 overflows"
        );
        assert_eq!(
            multiply::<true>(1 << 62, u64::MAX, 8),
            (u64::MAX, 0xC000_0000_0000_0000, false)
        );
    }

    #[test]
    fn divide_faults_and_most_negative_cases() {
        assert_eq!(divide::<false>(0, 100, 0, 4), Err(Exception::DE));
        assert_eq!(divide::<false>(1, 0, 1, 1), Err(Exception::DE)); // 256 / 1
        assert_eq!(divide::<false>(0, 255, 2, 1), Ok((127, 1)));
        assert_eq!(divide::<true>(0x80, 0x00, 0xFF, 1), Err(Exception::DE)); // -32768 / -1
        assert_eq!(divide::<true>(0xFF, 0x00, 0x02, 1), Ok((0x80, 0))); // -256 / 2 = -128
        assert_eq!(divide::<true>(0x00, 0x80, 0xFF, 1), Ok((0x80, 0))); // 128 / -1 = -128
        assert_eq!(divide::<true>(0x00, 0x80, 0x01, 1), Err(Exception::DE)); // 128 / 1
        assert_eq!(divide::<true>(0xFF, 0xF9, 0x02, 1), Ok((0xFD, 0xFF))); // -7 / 2
        assert_eq!(
            divide::<true>(u64::MAX, 1 << 63, u64::MAX, 8),
            Err(Exception::DE),
            "-2^63 / -1"
        );
        assert_eq!(
            divide::<true>(1 << 63, 0, u64::MAX, 8),
            Err(Exception::DE),
            "-2^127 / -1"
        );
        assert_eq!(
            divide::<true>(u64::MAX, 1 << 63, 1, 8),
            Ok((1 << 63, 0)),
            "-2^63 / 1 fits"
        );
        assert_eq!(divide::<false>(1, 0, 2, 8), Ok((1 << 63, 0)));
        assert_eq!(divide::<false>(2, 0, 2, 8), Err(Exception::DE));
    }

    #[test]
    fn mul_and_imul_forms_in_64_bit_mode() {
        let v = exec(64, |a| {
            a.mov(rax, -1i64)?;
            a.mov(rdx, -1i64)?;
            a.mov(ecx, 0x10u32)?;
            a.mul(ecx)?; // EDX:EAX = 0xFFFF_FFFF * 0x10
            a.pushfq()?;
            a.pop(rbx)?;
            a.mov(rsi, -3i64)?;
            a.imul_3(rdi, rsi, 7)?;
            a.imul_2(esi, edi)?;
            a.mov(r8, DATA)?;
            a.mov(word_ptr(r8), 0x4000u32)?;
            a.mov(r9w, 4u32)?;
            a.imul_2(r9w, word_ptr(r8))?;
            a.pushfq()?;
            a.pop(r10)
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0], 0xFFFF_FFF0);
        assert_eq!(c.gpr[2], 0xF);
        assert_eq!(c.gpr[3] & (CF | OF), CF | OF);
        assert_eq!(c.gpr[7], (-21i64) as u64);
        assert_eq!(c.gpr[6], 63);
        assert_eq!(c.gpr[9] & 0xFFFF, 0);
        assert_eq!(c.gpr[10] & (CF | OF | ZF), CF | OF | ZF);
    }

    #[test]
    fn one_operand_byte_forms_use_ax() {
        let v = exec(32, |a| {
            a.mov(eax, 0xFFFF_FF80u32)?; // AL = -128
            a.mov(cl, 0xFF)?;
            a.imul(cl)?; // AX = 128: CF = OF = 1
            a.pushfd()?;
            a.pop(ebx)?;
            a.mov(edx, 0x1234_0003u32)?;
            a.mov(si, 7u32)?;
            a.div(si) // DX:AX = 0x0003_0080 / 7
        });
        let c = &v.cpu;
        let n: u32 = 0x0003_0080;
        assert_eq!(c.gpr[0], 0xFFFF_0000 | (n / 7) as u64 & 0xFFFF);
        assert_eq!(c.gpr[2], 0x1234_0000 | (n % 7) as u64);
        assert_eq!(c.gpr[3] & (CF | OF), CF | OF);
    }

    #[test]
    fn div_writes_quotient_and_remainder_and_zero_extends() {
        let v = exec(64, |a| {
            a.mov(rax, 100u64)?;
            a.mov(rdx, 0xFFFF_FFFF_0000_0000u64)?;
            a.mov(ecx, 7u32)?;
            a.div(ecx)?;
            a.mov(ebx, 0xFFFF_FF9Cu32)?; // AX = -100 via BX
            a.mov(r8, -1i64)?;
            a.mov(r8w, bx)?;
            a.mov(r9b, 7)?;
            a.mov(ax, r8w)?;
            a.idiv(r9b) // AL = -14, AH = -2
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[2], 2, "EDX remainder zero-extended");
        assert_eq!(c.gpr[0] & 0xFFFF, 0xFEF2);
        assert_eq!(c.gpr[0] >> 16, 0);
    }

    type Snippet = fn(&mut CodeAssembler) -> Result<(), IcedError>;

    #[test]
    fn divide_error_changes_nothing() {
        let cases: [(&str, Snippet, (u64, u64)); 4] = [
            (
                "div by zero",
                |a| {
                    a.mov(rax, 5u64)?;
                    a.mov(rdx, 6u64)?;
                    a.xor(ecx, ecx)?;
                    a.stc()?;
                    a.div(rcx)
                },
                (5, 6),
            ),
            (
                "quotient overflow",
                |a| {
                    a.mov(rax, 5u64)?;
                    a.mov(rdx, 6u64)?;
                    a.mov(ecx, 6u32)?;
                    a.stc()?;
                    a.div(rcx)
                },
                (5, 6),
            ),
            (
                "idiv -2^127 / -1",
                |a| {
                    a.xor(eax, eax)?;
                    a.mov(rdx, 1u64 << 63)?;
                    a.mov(rcx, -1i64)?;
                    a.stc()?;
                    a.idiv(rcx)
                },
                (0, 1 << 63),
            ),
            (
                "idiv -2^63 / -1 at 32 bits",
                |a| {
                    a.mov(rax, -1i64)?;
                    a.mov(eax, 0u32)?;
                    a.mov(edx, 0x8000_0000u32)?;
                    a.mov(ecx, 0xFFFF_FFFFu32)?;
                    a.stc()?;
                    a.idiv(ecx)
                },
                (0, 0x8000_0000),
            ),
        ];
        for (name, f, regs) in cases {
            let (exit, v) = fault(64, f);
            assert_eq!(exit, Exit::Exception(Exception::DE), "{name}");
            let c = &v.cpu;
            assert_eq!(c.rflags & CF, CF, "{name}: flags unchanged");
            assert_eq!((c.gpr[0], c.gpr[2]), regs, "{name}: registers unchanged");
            let mut bytes = [0u8; 15];
            c.mmu.phys.read(c.rip, &mut bytes);
            let ins = iced_x86::Decoder::with_ip(64, &bytes, c.rip, iced_x86::DecoderOptions::NONE)
                .decode();
            assert!(
                matches!(ins.mnemonic(), Mnemonic::Div | Mnemonic::Idiv) && c.rip > CODE,
                "{name}: RIP at the divide, got {ins}"
            );
        }
    }

    #[test]
    fn byte_division_by_a_zero_memory_divisor() {
        // DIV r/m8 with a memory divisor of 0: #DE, AX unchanged.
        let (exit, v) = fault(32, |a| {
            a.mov(eax, 0x1234u32)?;
            a.mov(byte_ptr(DATA as u32), 0)?;
            a.div(byte_ptr(DATA as u32))
        });
        assert_eq!(exit, Exit::Exception(Exception::DE));
        assert_eq!(v.cpu.gpr[0], 0x1234);
    }
}

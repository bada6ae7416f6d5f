//! Decimal arithmetic adjustments: DAA, DAS, AAA, AAS, AAM, AAD (SDM
//! Vol. 2A, one page each).
//!
//! All six are invalid in 64-bit mode (#UD). iced-x86 already decodes their
//! opcodes (27, 2F, 37, 3F, D4 ib, D5 ib) as invalid instructions for
//! 64-bit code, which no family claims, so they raise #UD there through
//! [`super::undefined`]; the decode cache is keyed by code size, so a block
//! decoded for 32-bit code never runs in 64-bit mode.
//!
//! Results follow the SDM pseudocode, in its current form: AAA adds 106H
//! to AX and AAS subtracts 106H from it (so a carry or borrow out of AL
//! reaches AH, as on processors since the 80286), then AL is masked to its
//! low nibble. AAM divides AL by imm8 (#DE, a fault that changes nothing,
//! when imm8 is 0); AAD computes AL + AH * imm8 and clears AH. Any imm8 is
//! honoured, not only 10.
//!
//! Flags the SDM leaves undefined follow one profile, the behaviour Bochs
//! (`cpu/bcd.cc`) gives P6-family processors: SF, ZF and PF from the final
//! AL and OF = 0 for all six (for AAA/AAS, where SF is undefined, SF = 0
//! follows since bits 4-7 of AL are cleared), and CF = AF = 0 for AAM and
//! AAD. QEMU produces the same flags for DAA, DAS, AAM and AAD. CF and AF
//! of DAA/DAS/AAA/AAS are defined (the decimal carry or borrow).

use iced_x86::{Instruction, Mnemonic};

use super::set_flags;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{AF, CF, STATUS, logic};
use crate::state::Cpu;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Daa => decimal_adjust::<false>,
        Das => decimal_adjust::<true>,
        Aaa => ascii_adjust::<false>,
        Aas => ascii_adjust::<true>,
        Aam => aam,
        Aad => aad,
        _ => return None,
    })
}

/// DAA (`SUB` = false) and DAS on AL with carry and auxiliary carry in:
/// returns the new AL and flags.
pub(crate) fn daa_das<const SUB: bool>(al: u64, cf: bool, af: bool) -> (u64, u64) {
    let mut r = al;
    let mut c = false;
    let mut a = false;
    if al & 0x0F > 9 || af {
        // The carry or borrow of the low-nibble adjustment (SDM: "CF ←
        // old_CF or (Carry from AL ← AL + 6)").
        c = cf || if SUB { al < 6 } else { al > 0xF9 };
        r = if SUB { r.wrapping_sub(6) } else { r + 6 } & 0xFF;
        a = true;
    }
    if al > 0x99 || cf {
        r = if SUB { r.wrapping_sub(0x60) } else { r + 0x60 } & 0xFF;
        c = true;
    } else if !SUB {
        // DAA: "ELSE CF ← 0". (Unreachable with c set: a carry out of AL +
        // 6 implies AL > 99H. DAS keeps the borrow of the first step.)
        c = false;
    }
    let f = logic(r, 1) | if c { CF } else { 0 } | if a { AF } else { 0 };
    (r, f)
}

/// DAA/DAS.
extern "C" fn decimal_adjust<const SUB: bool>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let (al, f) = daa_das::<SUB>(c.rd(0, 1), c.rflags & CF != 0, c.rflags & AF != 0);
    c.wr(0, 1, al);
    set_flags(c, STATUS, f);
    Ok(())
}

/// AAA (`SUB` = false) and AAS on AX with auxiliary carry in: returns the
/// new AX and flags.
pub(crate) fn aaa_aas<const SUB: bool>(ax: u64, af: bool) -> (u64, u64) {
    let adjust = ax & 0x0F > 9 || af;
    let mut r = ax;
    if adjust {
        r = if SUB {
            r.wrapping_sub(0x106)
        } else {
            r.wrapping_add(0x106)
        } & 0xFFFF;
    }
    r &= 0xFF0F;
    let ca = if adjust { CF | AF } else { 0 };
    (r, logic(r & 0xFF, 1) | ca)
}

/// AAA/AAS.
extern "C" fn ascii_adjust<const SUB: bool>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let (ax, f) = aaa_aas::<SUB>(c.rd(0, 2), c.rflags & AF != 0);
    c.wr(0, 2, ax);
    set_flags(c, STATUS, f);
    Ok(())
}

/// AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE when imm8 is 0.
extern "C" fn aam(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let base = i.imm & 0xFF;
    if base == 0 {
        return Err(Exception::DE);
    }
    let al = c.rd(0, 1);
    let (q, r) = (al / base, al % base);
    c.wr(0, 2, (q << 8) | r);
    set_flags(c, STATUS, logic(r, 1));
    Ok(())
}

/// AAD imm8: AL = (AL + AH * imm8) & FFH, AH = 0.
extern "C" fn aad(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let base = i.imm & 0xFF;
    let ax = c.rd(0, 2);
    let al = ((ax & 0xFF) + (ax >> 8) * base) & 0xFF;
    c.wr(0, 2, al);
    set_flags(c, STATUS, logic(al, 1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::*;
    use crate::flags::{OF, PF, SF, ZF};
    use crate::run::Exit;
    use crate::testutil::{CODE, exec, fault, machine, run};

    /// Packed-BCD addition and subtraction of two-digit numbers, all pairs.
    #[test]
    fn daa_das_compute_decimal_sums_and_differences() {
        let bcd = |n: u64| ((n / 10) << 4) | (n % 10);
        for x in 0..100u64 {
            for y in 0..100u64 {
                let (s, add_flags) = crate::flags::add(bcd(x), bcd(y), 0, 1);
                let (r, f) = daa_das::<false>(s, add_flags & CF != 0, add_flags & AF != 0);
                assert_eq!(r, bcd((x + y) % 100), "{x} + {y}");
                assert_eq!(f & CF != 0, x + y >= 100, "{x} + {y} carry");
                let (d, sub_flags) = crate::flags::sub(bcd(x), bcd(y), 0, 1);
                let (r, f) = daa_das::<true>(d, sub_flags & CF != 0, sub_flags & AF != 0);
                assert_eq!(r, bcd((x + 100 - y) % 100), "{x} - {y}");
                assert_eq!(f & CF != 0, x < y, "{x} - {y} borrow");
            }
        }
    }

    #[test]
    fn daa_das_sdm_examples_and_flags() {
        // SDM DAA example: ADD AL, BL with AL = 79H, BL = 35H gives AEH;
        // DAA gives 14H with CF = 1, AF = 1.
        assert_eq!(daa_das::<false>(0xAE, false, false), (0x14, CF | AF | PF));
        // SDM DAS example: SUB AL, BL with AL = 35H, BL = 47H gives EEH
        // with CF = AF = 1; DAS gives 88H with CF = 1, AF = 1.
        assert_eq!(daa_das::<true>(0xEE, true, true), (0x88, CF | AF | SF | PF));
        assert_eq!(daa_das::<false>(0x00, false, false), (0x00, ZF | PF));
        // DAS keeps the borrow of the low-nibble step: 03H with AF = 1.
        assert_eq!(daa_das::<true>(0x03, false, true), (0xFD, CF | AF | SF));
    }

    #[test]
    fn aaa_aas_unpacked_adjust() {
        // '9' + '3' = 6CH: AAA gives AX = 0102H (AH incremented).
        assert_eq!(aaa_aas::<false>(0x006C, false), (0x0102, CF | AF));
        assert_eq!(aaa_aas::<false>(0x0005, false), (0x0005, PF));
        // AL = FAH: AX + 106H carries into AH twice over.
        assert_eq!(aaa_aas::<false>(0x00FA, false), (0x0200, CF | AF | ZF | PF));
        // 3 - 5 = FEH: AAS gives AH = FFH, AL = 08H.
        assert_eq!(aaa_aas::<true>(0x00FE, true), (0xFF08, CF | AF));
        assert_eq!(aaa_aas::<true>(0x0102, true), (0xFF0C, CF | AF | PF));
        assert_eq!(aaa_aas::<true>(0x0107, false).0, 0x0107);
    }

    #[test]
    fn aam_aad_with_any_base_in_32_bit_mode() {
        let v = exec(32, |a| {
            a.mov(eax, 0xFFFF_0000u32 | 99)?;
            a.aam(10)?; // AX = 0909H
            a.mov(ebx, eax)?;
            a.aad(10)?; // AX = 0063H
            a.mov(ecx, eax)?;
            a.mov(ax, 0x0305u32)?;
            a.aad(16)?; // AL = 35H
            a.mov(edx, eax)?;
            a.mov(al, 0xFF)?;
            a.aam(16) // AX = 0F0FH
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[3], 0xFFFF_0909);
        assert_eq!(c.gpr[1], 0xFFFF_0063);
        assert_eq!(c.gpr[2], 0xFFFF_0035);
        assert_eq!(c.gpr[0], 0xFFFF_0F0F);
        assert_eq!(c.rflags & (CF | AF | OF | ZF | SF), 0);
    }

    #[test]
    fn aam_zero_is_divide_error_without_state_change() {
        let (exit, v) = fault(32, |a| {
            a.mov(eax, 0x1234u32)?;
            a.stc()?;
            a.aam(0)
        });
        assert_eq!(exit, Exit::Exception(Exception::DE));
        assert_eq!(v.cpu.gpr[0], 0x1234);
        assert_eq!(v.cpu.rflags & CF, CF);
        assert_eq!(v.cpu.rip, CODE + 6);
    }

    #[test]
    fn daa_runs_in_real_and_protected_mode() {
        for bits in [0, 16, 32] {
            let v = exec(bits, |a| {
                a.mov(al, 0x79)?;
                a.add(al, 0x35)?;
                a.daa()?;
                a.mov(bl, al)?;
                a.mov(al, 0x35)?;
                a.sub(al, 0x47)?;
                a.das()
            });
            assert_eq!(v.cpu.gpr[3] & 0xFF, 0x14, "bits {bits}");
            assert_eq!(v.cpu.gpr[0] & 0xFF, 0x88, "bits {bits}");
            assert_eq!(v.cpu.rflags & CF, CF);
        }
    }

    #[test]
    fn bcd_opcodes_are_undefined_in_64_bit_mode() {
        for bytes in [
            &[0x27][..],
            &[0x2F],
            &[0x37],
            &[0x3F],
            &[0xD4, 0x0A],
            &[0xD5, 0x0A],
        ] {
            let mut v = machine(64);
            v.cpu.gpr[0] = 0x99;
            assert_eq!(
                run(&mut v, bytes),
                Exit::Exception(Exception::UD),
                "{bytes:02X?}"
            );
            assert_eq!(v.cpu.rip, CODE);
            assert_eq!(v.cpu.gpr[0], 0x99);
        }
        // The same bytes are valid in compatibility mode.
        let mut v = machine(64);
        v.cpu.seg[crate::state::SegReg::Cs as usize].attr &= !crate::state::attr::L;
        v.cpu.seg[crate::state::SegReg::Cs as usize].attr |= crate::state::attr::DB;
        v.cpu.gpr[0] = 0x0C;
        assert_eq!(run(&mut v, &[0x27, 0xF4]), Exit::Hlt);
        assert_eq!(v.cpu.gpr[0], 0x12);
    }
}

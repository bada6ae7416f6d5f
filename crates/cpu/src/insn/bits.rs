//! Bit instructions: BT, BTS, BTR, BTC with a register or imm8 bit offset;
//! BSF, BSR; TZCNT, LZCNT; POPCNT (SDM Vol. 2A "BT", "BTS", "BTR", "BTC",
//! "BSF", "BSR", "LZCNT", "POPCNT", Vol. 2B "TZCNT").
//!
//! BT family, bit offsets (SDM "BT"):
//! - An imm8 offset is masked to the operand width (mod 16, 32 or 64),
//!   for register and memory bit bases alike.
//! - A register offset with a register bit base is taken mod the width.
//! - A register offset with a memory bit base is a signed bit offset from
//!   bit 0 of the addressed byte, in the range of the operand size
//!   (-2^15..2^15-1 at 16 bits, and so on), so it reaches memory before
//!   and beyond the operand. Like the processor, sysgate accesses the
//!   operand-sized unit that holds the bit: `size` bytes at
//!   EA + size * floor(offset / width), bit offset mod width within it. The
//!   address wraps at the address size; segmentation and paging apply to
//!   that unit as to any operand.
//! - Flags: CF = the selected bit (before BTS/BTR/BTC change it). ZF is
//!   unaffected; OF, SF, AF, PF are undefined and sysgate leaves them
//!   unchanged: only CF is written, which is what an AMD EPYC (Zen) host
//!   does in every case of sysgate's differential harness.
//!
//! BSF/BSR (SDM "BSF"/"BSR"): ZF = 1 when the source is 0, and then the
//! destination is left entirely unchanged, the upper half of a 64-bit
//! register included for a 32-bit operand: no register write takes place.
//! Intel documents the destination as undefined, AMD as unchanged, and an
//! AMD EPYC host leaves all 64 bits unchanged. (Linux's x86 `bitops.h`
//! `ffs()` comment reports that Intel processors rewrite the old value,
//! which for a 32-bit operand would clear the upper half; sysgate follows
//! the documented AMD behaviour for both vendors.) A non-zero source
//! writes the bit index (a 32-bit destination zero-extends) and clears ZF.
//! CF, OF, SF, AF, PF are undefined and cleared, per the profile in
//! [`crate::flags`].
//!
//! TZCNT/LZCNT count trailing/leading zeros, giving the operand width for a
//! zero source; CF = 1 when the source is 0, ZF = 1 when the result is 0;
//! OF, SF, AF, PF are undefined and cleared (profile). TZCNT is executed as
//! TZCNT whatever CPUID says about BMI1: for a non-zero source (the only
//! case where compilers emit `rep bsf` as BSF) both give the same result.
//!
//! POPCNT: the number of set bits; ZF = 1 when the source is 0, and CF, OF,
//! SF, AF, PF are cleared (defined by the SDM).

use iced_x86::{Instruction, Mnemonic};

use super::set_flags;
use crate::decode::{Handler, Insn, Opnd};
use crate::exception::Exception;
use crate::flags::{CF, STATUS, ZF, sext};
use crate::memory::addr_mask;
use crate::state::Cpu;

/// BT: test only.
const BT: u8 = 0;
/// BTS: set.
const BTS: u8 = 1;
/// BTR: reset.
const BTR: u8 = 2;
/// BTC: complement.
const BTC: u8 = 3;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Bt => bt::<BT>,
        Bts => bt::<BTS>,
        Btr => bt::<BTR>,
        Btc => bt::<BTC>,
        Bsf => bsf_bsr::<false>,
        Bsr => bsf_bsr::<true>,
        Tzcnt => count_zeros::<false>,
        Lzcnt => count_zeros::<true>,
        Popcnt => popcnt,
        _ => return None,
    })
}

/// The new value of the bit base after BT family operation `OP` on bit
/// `bit`.
#[inline(always)]
fn modify<const OP: u8>(v: u64, bit: u64) -> u64 {
    let b = 1u64 << bit;
    match OP {
        BTS => v | b,
        BTR => v & !b,
        BTC => v ^ b,
        _ => v,
    }
}

/// The memory unit and bit addressed by a signed register bit offset `off`
/// (the register's value at `size` bytes) from effective address `ea`:
/// (offset of the `size`-byte unit, bit within it), before address-size
/// wrapping.
#[inline(always)]
pub(crate) fn bit_address(ea: u64, off: u64, size: u8) -> (u64, u64) {
    let width = size as u64 * 8;
    let signed = sext(off, size) as i64;
    // Arithmetic shift: floor division, so negative offsets address the
    // units below EA.
    let unit = signed >> width.trailing_zeros();
    (
        ea.wrapping_add((unit as u64).wrapping_mul(size as u64)),
        off & (width - 1),
    )
}

/// BT/BTS/BTR/BTC r/m, r | imm8.
extern "C" fn bt<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let width_mask = size as u64 * 8 - 1;
    let old = match (i.ops[0], i.ops[1]) {
        (Opnd::Mem, Opnd::Reg(s)) => {
            let (unit, bit) = bit_address(c.ea(i), c.rd(s, size), size);
            let addr = unit & addr_mask(i.mem.asize);
            let seg = i.mem.seg;
            if OP == BT {
                c.read_mem(seg, addr, size)? >> bit
            } else {
                let loc = c.locate_write(seg, addr, size)?;
                let v = c.load(loc);
                c.store(loc, modify::<OP>(v, bit));
                v >> bit
            }
        }
        _ => {
            let bit = c.get(i, 1, size)? & width_mask;
            if OP == BT {
                c.get(i, 0, size)? >> bit
            } else {
                let d = c.dest(i, 0, size)?;
                let v = c.dload(d, size);
                c.dstore(d, size, modify::<OP>(v, bit));
                v >> bit
            }
        }
    };
    set_flags(c, CF, old & 1);
    Ok(())
}

/// BSF (`REVERSE` = false) and BSR.
extern "C" fn bsf_bsr<const REVERSE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 1, size)?;
    if src == 0 {
        // Destination unchanged, not even zero-extended (module comment).
        set_flags(c, STATUS, ZF);
        return Ok(());
    }
    let r = if REVERSE {
        63 - src.leading_zeros()
    } else {
        src.trailing_zeros()
    };
    c.put(i, 0, size, r as u64)?;
    set_flags(c, STATUS, 0);
    Ok(())
}

/// TZCNT (`LEADING` = false) and LZCNT.
extern "C" fn count_zeros<const LEADING: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let width = size as u32 * 8;
    let src = c.get(i, 1, size)?;
    let r = if src == 0 {
        width
    } else if LEADING {
        src.leading_zeros() - (64 - width)
    } else {
        src.trailing_zeros()
    };
    c.put(i, 0, size, r as u64)?;
    let cf = if src == 0 { CF } else { 0 };
    let zf = if r == 0 { ZF } else { 0 };
    set_flags(c, STATUS, cf | zf);
    Ok(())
}

/// POPCNT r, r/m.
extern "C" fn popcnt(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 1, size)?;
    c.put(i, 0, size, src.count_ones() as u64)?;
    set_flags(c, STATUS, if src == 0 { ZF } else { 0 });
    Ok(())
}

#[cfg(test)]
mod tests {
    use iced_x86::code_asm::*;

    use super::*;
    use crate::flags::{AF, OF, PF, SF};
    use crate::testutil::{DATA, exec};

    #[test]
    fn signed_register_offsets_address_memory_around_the_operand() {
        assert_eq!(bit_address(100, 3, 4), (100, 3));
        assert_eq!(bit_address(100, 35, 4), (104, 3));
        assert_eq!(bit_address(100, 0xFFFF_FFFF, 4), (96, 31)); // -1
        assert_eq!(bit_address(100, 0xFFFF_FFE0, 4), (96, 0)); // -32
        assert_eq!(bit_address(100, 0xFFFF_FFDF, 4), (92, 31)); // -33
        assert_eq!(bit_address(100, 0xFFFF, 2), (98, 15)); // -1 at 16 bits
        assert_eq!(bit_address(100, 0x7FFF, 2), (100 + 2 * 0x7FF, 15));
        assert_eq!(bit_address(0, u64::MAX, 8), (u64::MAX - 7, 63));
        assert_eq!(bit_address(0, 1 << 63, 8), (0xF000_0000_0000_0000, 0)); // -2^63 / 64 * 8
    }

    #[test]
    fn bt_family_on_registers_masks_the_offset() {
        let v = exec(64, |a| {
            a.mov(rax, -1i64)?;
            a.mov(eax, 0x10u32)?;
            a.mov(ecx, 36u32)?; // 36 mod 32 = 4
            a.bt(eax, ecx)?; // CF = 1
            a.setc(bl)?;
            a.mov(rdx, -1i64)?;
            a.btr(edx, 63)?; // imm masked: 63 mod 32 = 31, zero-extends
            a.mov(rsi, 0u64)?;
            a.bts(rsi, 70)?; // 70 mod 64 = 6
            a.mov(di, 0u32)?;
            a.btc(di, cx) // 36 mod 16 = 4
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0], 0x10);
        assert_eq!(c.gpr[3] & 0xFF, 1);
        assert_eq!(c.gpr[2], 0x7FFF_FFFF);
        assert_eq!(c.gpr[6], 0x40);
        assert_eq!(c.gpr[7] & 0xFFFF, 0x10);
        assert_eq!(c.rflags & CF, 0);
    }

    #[test]
    fn bt_leaves_zf_and_the_undefined_flags_alone() {
        let v = exec(64, |a| {
            a.mov(eax, 0x7FFF_FFFFu32)?;
            a.add(eax, 1)?; // OF, SF, AF, PF set; ZF, CF clear
            a.bt(eax, 31)?;
            a.pushfq()?;
            a.pop(rbx)?;
            a.xor(eax, eax)?; // ZF = 1, PF = 1
            a.bts(eax, 3)
        });
        assert_eq!(v.cpu.gpr[3] & STATUS, OF | SF | AF | PF | CF);
        assert_eq!(v.cpu.rflags & STATUS, ZF | PF);
        assert_eq!(v.cpu.gpr[0], 8);
    }

    #[test]
    fn bt_family_in_memory_with_negative_and_large_offsets() {
        let v = exec(64, |a| {
            a.mov(rbx, DATA + 0x100)?;
            a.mov(rcx, -1i64)?;
            a.bts(qword_ptr(rbx), rcx)?; // bit 63 of the qword below
            a.mov(ecx, 70u32)?;
            a.bts(dword_ptr(rbx), ecx)?; // bit 6 of the dword at +8
            a.mov(cx, 0xFE00u32)?; // -512
            a.btc(word_ptr(rbx), cx)?; // bit 0 of the word at -64
            a.bt(dword_ptr(rbx), 33) // imm: bit 1 of [rbx], no reach
        });
        let p = &v.cpu.mmu.phys;
        assert_eq!(p.read_u64(DATA + 0xF8), 1 << 63);
        assert_eq!(p.read_u32(DATA + 0x108), 1 << 6);
        assert_eq!(p.read_u16(DATA + 0xC0), 1);
        assert_eq!(p.read_u32(DATA + 0x100), 0);
        assert_eq!(v.cpu.rflags & CF, 0);
    }

    #[test]
    fn bsf_bsr_zero_source_keeps_the_whole_destination() {
        let v = exec(64, |a| {
            a.mov(rax, -1i64)?;
            a.xor(ecx, ecx)?;
            a.bsf(eax, ecx)?;
            a.pushfq()?;
            a.pop(rdx)?;
            a.mov(rbx, -1i64)?;
            a.mov(ecx, 0x0010_0100u32)?;
            a.bsr(ebx, ecx)?;
            a.mov(rsi, -1i64)?;
            a.bsf(rsi, rcx)
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0], u64::MAX, "upper half kept too");
        assert_eq!(c.gpr[2] & STATUS, ZF);
        assert_eq!(c.gpr[3], 20);
        assert_eq!(c.gpr[6], 8);
        assert_eq!(c.rflags & STATUS, 0);
    }

    #[test]
    fn tzcnt_lzcnt_popcnt_flags() {
        let v = exec(64, |a| {
            a.xor(ecx, ecx)?;
            a.tzcnt(ax, cx)?;
            a.pushfq()?;
            a.pop(rbx)?;
            a.mov(ecx, 1u32)?;
            a.lzcnt(rdx, rcx)?;
            a.tzcnt(esi, ecx)?; // 0: ZF
            a.pushfq()?;
            a.pop(rdi)?;
            a.mov(r8, -1i64)?;
            a.popcnt(r9, r8)?;
            a.popcnt(r10d, ecx)?;
            a.mov(r11, -1i64)?;
            a.lzcnt(r11d, r8d)?;
            a.xor(ecx, ecx)?;
            a.stc()?;
            a.popcnt(r12, rcx)
        });
        let c = &v.cpu;
        assert_eq!(c.gpr[0] & 0xFFFF, 16);
        assert_eq!(c.gpr[3] & STATUS, CF);
        assert_eq!(c.gpr[2], 63);
        assert_eq!(c.gpr[6], 0);
        assert_eq!(c.gpr[7] & STATUS, ZF);
        assert_eq!(c.gpr[9], 64);
        assert_eq!(c.gpr[10], 1);
        assert_eq!(c.gpr[11], 0);
        assert_eq!(c.gpr[12], 0);
        assert_eq!(c.rflags & (CF | OF | SF | AF | PF | ZF), ZF);
    }
}

//! Integer arithmetic and logic: ADD, ADC, SUB, SBB, CMP, AND, OR, XOR,
//! TEST, INC, DEC, NEG, NOT, CMPXCHG, CMPXCHG8B/16B, XADD (SDM Vol. 2).

use iced_x86::{Instruction, Mnemonic};

use super::set_flags;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{self, CF, STATUS, ZF, mask};
use crate::state::Cpu;

pub(super) const ADD: u8 = 0;
pub(super) const OR: u8 = 1;
pub(super) const ADC: u8 = 2;
pub(super) const SBB: u8 = 3;
pub(super) const AND: u8 = 4;
pub(super) const SUB: u8 = 5;
pub(super) const XOR: u8 = 6;
pub(super) const CMP: u8 = 7;
pub(super) const TEST: u8 = 8;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    Some(match ins.mnemonic() {
        Add => alu::<ADD>,
        Or => alu::<OR>,
        Adc => alu::<ADC>,
        Sbb => alu::<SBB>,
        And => alu::<AND>,
        Sub => alu::<SUB>,
        Xor => alu::<XOR>,
        Cmp => alu::<CMP>,
        Test => alu::<TEST>,
        Inc => inc_dec::<false>,
        Dec => inc_dec::<true>,
        Neg => neg,
        Not => not,
        Cmpxchg => cmpxchg,
        Cmpxchg8b => cmpxchg8b::<4>,
        Cmpxchg16b => cmpxchg8b::<8>,
        Xadd => xadd,
        _ => return None,
    })
}

/// The result and status flags of ALU operation `OP` (shared with the
/// specialized handlers in `fast`).
#[inline(always)]
pub(super) fn compute<const OP: u8>(c: &Cpu, a: u64, b: u64, size: u8) -> (u64, u64) {
    let cf = c.rflags & CF;
    match OP {
        ADD => flags::add(a, b, 0, size),
        ADC => flags::add(a, b, cf, size),
        SUB | CMP => flags::sub(a, b, 0, size),
        SBB => flags::sub(a, b, cf, size),
        AND | TEST => (a & b, flags::logic(a & b, size)),
        OR => (a | b, flags::logic(a | b, size)),
        _ => (a ^ b, flags::logic(a ^ b, size)),
    }
}

/// The two-operand ALU group.
extern "C" fn alu<const OP: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let b = c.get(i, 1, size)?;
    if OP == CMP || OP == TEST {
        let a = c.get(i, 0, size)?;
        let (_, f) = compute::<OP>(c, a, b, size);
        set_flags(c, STATUS, f);
        return Ok(());
    }
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    let (r, f) = compute::<OP>(c, a, b, size);
    c.dstore(d, size, r);
    set_flags(c, STATUS, f);
    Ok(())
}

/// INC/DEC: like ADD/SUB 1 but CF is preserved.
extern "C" fn inc_dec<const DEC: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    let (r, f) = if DEC {
        flags::sub(a, 1, 0, size)
    } else {
        flags::add(a, 1, 0, size)
    };
    c.dstore(d, size, r);
    set_flags(c, STATUS & !CF, f);
    Ok(())
}

/// NEG: 0 - dest; CF = (dest != 0).
extern "C" fn neg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    let (r, f) = flags::sub(0, a, 0, size);
    c.dstore(d, size, r);
    set_flags(c, STATUS, f);
    Ok(())
}

/// NOT: no flags.
extern "C" fn not(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let d = c.dest(i, 0, size)?;
    let a = c.dload(d, size);
    c.dstore(d, size, !a & mask(size));
    Ok(())
}

/// CMPXCHG r/m, r: compares the accumulator with the destination. The
/// destination is written in both cases for memory operands (SDM: "the
/// destination operand is written back if the comparison fails"); a
/// register destination is left alone when the comparison fails.
extern "C" fn cmpxchg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 1, size)?;
    let d = c.dest(i, 0, size)?;
    let dest = c.dload(d, size);
    let acc = c.rd(0, size);
    let (_, f) = flags::sub(acc, dest, 0, size);
    if acc == dest {
        c.dstore(d, size, src);
    } else {
        if let crate::memory::Dest::Mem(_) = d {
            c.dstore(d, size, dest);
        }
        c.wr(0, size, dest);
    }
    set_flags(c, STATUS, f);
    Ok(())
}

/// CMPXCHG8B/CMPXCHG16B m64/m128 with EDX:EAX / RDX:RAX and ECX:EBX /
/// RCX:RBX. CMPXCHG16B needs a 16-byte aligned operand (#GP(0)).
extern "C" fn cmpxchg8b<const HALF: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let off = c.ea(i);
    if HALF == 8 && off & 15 != 0 {
        return Err(Exception::GP(0));
    }
    let lo = c.locate_write(i.mem.seg, off, HALF)?;
    let hi = c.locate_write(
        i.mem.seg,
        off.wrapping_add(HALF as u64) & crate::memory::addr_mask(i.mem.asize),
        HALF,
    )?;
    let (m_lo, m_hi) = (c.load(lo), c.load(hi));
    let (a, d) = (c.rd(0, HALF), c.rd(2, HALF));
    if m_lo == a && m_hi == d {
        let (b, cx) = (c.rd(3, HALF), c.rd(1, HALF));
        c.store(lo, b);
        c.store(hi, cx);
        c.rflags |= ZF;
    } else {
        c.store(lo, m_lo);
        c.store(hi, m_hi);
        c.wr(0, HALF, m_lo);
        c.wr(2, HALF, m_hi);
        c.rflags &= !ZF;
    }
    Ok(())
}

/// XADD r/m, r: exchange and add.
extern "C" fn xadd(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let src = c.get(i, 1, size)?;
    let d = c.dest(i, 0, size)?;
    let dest = c.dload(d, size);
    let (r, f) = flags::add(dest, src, 0, size);
    // The source register receives the old destination first, so that
    // `xadd eax, eax` ends with the sum.
    if let crate::decode::Opnd::Reg(s) = i.ops[1] {
        c.wr(s, size, dest);
    }
    c.dstore(d, size, r);
    set_flags(c, STATUS, f);
    Ok(())
}

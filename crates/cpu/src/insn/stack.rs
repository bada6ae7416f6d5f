//! Stack instructions: PUSH, POP, PUSHA/POPA, PUSHF/POPF, ENTER, LEAVE
//! (SDM Vol. 2). Segment-register pushes and pops live with segmentation.
//!
//! Every instruction computes what it will write, checks every access,
//! and only then commits RSP, so a fault leaves the stack pointer alone.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::opsize;
use crate::decode::{Handler, Insn, Opnd};
use crate::exception::Exception;
use crate::flags::mask;
use crate::state::{Cpu, Rflags, SegReg};

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let sreg = ins.op_count() > 0
        && ins.op0_kind() == OpKind::Register
        && ins.op0_register().is_segment_register();
    Some(match ins.mnemonic() {
        Push if !sreg => push,
        Pop if !sreg => pop,
        Pusha => pusha::<2>,
        Pushad => pusha::<4>,
        Popa => popa::<2>,
        Popad => popa::<4>,
        Pushf => pushf::<2>,
        Pushfd => pushf::<4>,
        Pushfq => pushf::<8>,
        Popf => popf::<2>,
        Popfd => popf::<4>,
        Popfq => popf::<8>,
        Enter => enter,
        Leave => leave,
        _ => return None,
    })
}

/// The stack operand size of a PUSH/POP: the operand's size, or for an
/// immediate the opcode's operand size.
fn stack_opsize(c: &Cpu, i: &Insn) -> u8 {
    if i.ops[0] == Opnd::Imm {
        let default = if c.in_long64() {
            8
        } else {
            (c.code_bits() / 8) as u8
        };
        opsize(&i.ins, default)
    } else {
        i.size
    }
}

extern "C" fn push(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = stack_opsize(c, i);
    // PUSH RSP pushes the value before the decrement (SDM Vol. 2 PUSH).
    let v = c.get(i, 0, size)?;
    c.push(v, size)
}

/// POP r/m. With RSP as the base of a memory destination the address is
/// computed after the increment (SDM Vol. 2 POP).
extern "C" fn pop(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let v = c.peek(0, size)?;
    let old = c.gpr[4];
    c.set_sp(c.sp().wrapping_add(size as u64));
    if let Err(e) = c.put(i, 0, size, v) {
        c.gpr[4] = old;
        return Err(e);
    }
    // POP RSP: the popped value wins over the increment.
    Ok(())
}

/// PUSHA/PUSHAD: AX, CX, DX, BX, original SP, BP, SI, DI.
extern "C" fn pusha<const W: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let sm = mask(c.stack_size());
    let sp0 = c.sp();
    let base = sp0.wrapping_sub(8 * W as u64) & sm;
    let mut locs = [None; 8];
    for (k, loc) in locs.iter_mut().enumerate() {
        let off = base.wrapping_add(((7 - k) * W as usize) as u64) & sm;
        *loc = Some(c.locate_write(SegReg::Ss as u8, off, W)?);
    }
    for (k, loc) in locs.iter().enumerate() {
        let v = if k == 4 { sp0 } else { c.rd(k as u8, W) };
        if let Some(l) = loc {
            c.store(*l, v & mask(W));
        }
    }
    c.set_sp(base);
    Ok(())
}

/// POPA/POPAD: the saved SP is skipped.
extern "C" fn popa<const W: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let mut vals = [0u64; 8];
    for (k, v) in vals.iter_mut().enumerate() {
        *v = c.peek(((7 - k) * W as usize) as u64, W)?;
    }
    for (k, v) in vals.iter().enumerate() {
        if k != 4 {
            c.wr(k as u8, W, *v);
        }
    }
    c.set_sp(c.sp().wrapping_add(8 * W as u64));
    Ok(())
}

/// PUSHF/PUSHFD/PUSHFQ: VM and RF are pushed as 0 (SDM Vol. 2 PUSHF).
/// In virtual-8086 mode with IOPL < 3 it is #GP(0).
extern "C" fn pushf<const W: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    if c.rflags & Rflags::VM.bits() != 0 && c.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let v = c.rflags & !(Rflags::VM.bits() | Rflags::RF.bits());
    c.push(v & mask(W), W)
}

/// POPF/POPFD/POPFQ with the privilege rules of SDM Vol. 2 POPF: IOPL
/// changes only at CPL 0, IF only when CPL <= IOPL; VM, VIP, VIF are never
/// changed by POPF outside virtual-8086 mode and RF is cleared.
extern "C" fn popf<const W: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let v86 = c.rflags & Rflags::VM.bits() != 0;
    if v86 && c.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let v = c.pop(W)?;
    let cpl = c.cpl();
    let mut writable = Rflags::CF
        | Rflags::PF
        | Rflags::AF
        | Rflags::ZF
        | Rflags::SF
        | Rflags::TF
        | Rflags::DF
        | Rflags::OF
        | Rflags::NT;
    if W > 2 {
        writable |= Rflags::AC | Rflags::ID;
    }
    if !v86 && cpl == 0 {
        writable |= Rflags::IOPL;
    }
    if v86 || cpl <= c.iopl() {
        writable |= Rflags::IF;
    }
    let m = writable.bits() & mask(W);
    c.rflags = ((c.rflags & !m) | (v & m)) & !Rflags::RF.bits() | Rflags::FIXED.bits();
    Ok(())
}

/// ENTER imm16, imm8 (SDM Vol. 2 ENTER): nesting levels copy frame
/// pointers from the enclosing frame.
extern "C" fn enter(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let default = if c.in_long64() {
        8
    } else {
        (c.code_bits() / 8) as u8
    };
    let size = opsize(&i.ins, default);
    let alloc = i.ins.immediate16() as u64;
    let level = (i.ins.immediate8_2nd() % 32) as u64;
    let sm = mask(c.stack_size());
    let saved = (c.gpr[4], c.gpr[5]);
    let result = (|| {
        let bp = c.rd(5, size);
        c.push(bp, size)?;
        let frame = c.sp();
        if level > 0 {
            let mut rbp = c.rd(5, c.stack_size());
            for _ in 1..level {
                rbp = rbp.wrapping_sub(size as u64) & sm;
                let v = c.read_mem(SegReg::Ss as u8, rbp, size)?;
                c.push(v, size)?;
            }
            c.push(frame, size)?;
        }
        let new_sp = c.sp().wrapping_sub(alloc) & sm;
        // The final stack pointer must be writable (SDM: #SS if it is not).
        c.locate_write(SegReg::Ss as u8, new_sp, 1)?;
        c.wr(5, size, frame);
        c.set_sp(new_sp);
        Ok(())
    })();
    if result.is_err() {
        (c.gpr[4], c.gpr[5]) = saved;
    }
    result
}

/// LEAVE: RSP = RBP, then pop RBP.
extern "C" fn leave(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let default = if c.in_long64() {
        8
    } else {
        (c.code_bits() / 8) as u8
    };
    let size = opsize(&i.ins, default);
    let ss = c.stack_size();
    let bp = c.rd(5, ss);
    let v = c.read_mem(SegReg::Ss as u8, bp, size)?;
    c.set_sp(bp.wrapping_add(size as u64));
    c.wr(5, size, v);
    Ok(())
}

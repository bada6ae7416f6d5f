//! Data movement: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, CMOVcc, SETcc,
//! BSWAP, CBW/CWDE/CDQE, CWD/CDQ/CQO, XLAT (SDM Vol. 2).

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::decode::{Handler, Insn, Opnd};
use crate::exception::Exception;
use crate::flags::{condition, mask, sext};
use crate::state::{Cpu, SegReg};

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let op0_reg = ins.op_count() > 0 && ins.op0_kind() == OpKind::Register;
    let op1_reg = ins.op_count() > 1 && ins.op1_kind() == OpKind::Register;
    Some(match ins.mnemonic() {
        Mov if op0_reg
            && ins.op0_register().is_gpr64()
            && op1_reg
            && ins.op1_register().is_gpr64() =>
        {
            mov_r64_r64
        }
        Mov if (op0_reg && !ins.op0_register().is_gpr())
            || (op1_reg && !ins.op1_register().is_gpr()) =>
        {
            return None;
        }
        Mov => mov,
        Movzx => movzx,
        Movsx | Movsxd => movsx,
        Lea => lea,
        Xchg => xchg,
        Cmovo | Cmovno | Cmovb | Cmovae | Cmove | Cmovne | Cmovbe | Cmova | Cmovs | Cmovns
        | Cmovp | Cmovnp | Cmovl | Cmovge | Cmovle | Cmovg => cmov,
        Seto | Setno | Setb | Setae | Sete | Setne | Setbe | Seta | Sets | Setns | Setp | Setnp
        | Setl | Setge | Setle | Setg => setcc,
        Bswap => bswap,
        Cbw => extend_acc::<1>,
        Cwde => extend_acc::<2>,
        Cdqe => extend_acc::<4>,
        Cwd => split_acc::<2>,
        Cdq => split_acc::<4>,
        Cqo => split_acc::<8>,
        Xlatb => xlat,
        _ => return None,
    })
}

/// The condition code nibble of a Jcc/SETcc/CMOVcc.
#[inline(always)]
pub(super) fn cc(i: &Insn) -> u8 {
    i.cond
}

extern "C" fn mov_r64_r64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if let (Opnd::Reg(d), Opnd::Reg(s)) = (i.ops[0], i.ops[1]) {
        c.gpr[(d & 15) as usize] = c.gpr[(s & 15) as usize];
    }
    Ok(())
}

extern "C" fn mov(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.get(i, 1, i.size)?;
    c.put(i, 0, i.size, v)
}

extern "C" fn movzx(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.get(i, 1, i.size1)?;
    c.put(i, 0, i.size, v)
}

extern "C" fn movsx(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.get(i, 1, i.size1)?;
    c.put(i, 0, i.size, sext(v, i.size1) & mask(i.size))
}

/// LEA: the effective address, truncated to the operand size.
extern "C" fn lea(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let a = c.ea(i);
    c.put(i, 0, i.size, a & mask(i.size))
}

/// XCHG: both operands are checked before either is written.
extern "C" fn xchg(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let (reg_n, other_n) = if let Opnd::Reg(_) = i.ops[0] {
        (0, 1)
    } else {
        (1, 0)
    };
    let Opnd::Reg(r) = i.ops[reg_n] else {
        return Err(Exception::UD);
    };
    let d = c.dest(i, other_n, size)?;
    let a = c.dload(d, size);
    let b = c.rd(r, size);
    c.dstore(d, size, b);
    c.wr(r, size, a);
    Ok(())
}

/// CMOVcc: the source is read (and may fault) whether or not the condition
/// holds; a 32-bit destination is zero-extended even when it does not.
extern "C" fn cmov(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.get(i, 1, i.size)?;
    if condition(cc(i), c.rflags) {
        c.put(i, 0, i.size, v)
    } else {
        let cur = c.get(i, 0, i.size)?;
        c.put(i, 0, i.size, cur)
    }
}

extern "C" fn setcc(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = condition(cc(i), c.rflags) as u64;
    c.put(i, 0, 1, v)
}

/// BSWAP; with a 16-bit operand the result is undefined by the SDM and
/// is zero here, as Intel and AMD processors produce.
extern "C" fn bswap(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.get(i, 0, i.size)?;
    let r = match i.size {
        8 => v.swap_bytes(),
        4 => (v as u32).swap_bytes() as u64,
        _ => 0,
    };
    c.put(i, 0, i.size, r)
}

/// CBW/CWDE/CDQE: sign-extend the low half of the accumulator into it.
extern "C" fn extend_acc<const FROM: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let v = sext(c.rd(0, FROM), FROM);
    c.wr(0, FROM * 2, v);
    Ok(())
}

/// CWD/CDQ/CQO: sign of the accumulator into DX/EDX/RDX.
extern "C" fn split_acc<const SIZE: u8>(c: &mut Cpu, _i: &Insn) -> Result<(), Exception> {
    let neg = (c.rd(0, SIZE) >> (SIZE as u32 * 8 - 1)) & 1 != 0;
    c.wr(2, SIZE, if neg { u64::MAX } else { 0 });
    Ok(())
}

/// XLAT: AL = [seg:rBX + AL] at the address size.
extern "C" fn xlat(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let asize = i.mem.asize;
    let off = c.gpr[3].wrapping_add(c.gpr[0] & 0xFF) & mask(asize);
    let seg = if i.ins.segment_prefix() == iced_x86::Register::None {
        SegReg::Ds as u8
    } else {
        i.mem.seg
    };
    let v = c.read_mem(seg, off, 1)?;
    c.wr(0, 1, v);
    Ok(())
}

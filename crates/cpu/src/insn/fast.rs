//! Specialized handlers for the most frequent instruction forms: ALU
//! operations, MOV, LEA, INC/DEC on full-width registers (32 and 64-bit,
//! no legacy high-byte registers) and simple memory forms.
//!
//! They implement exactly the semantics of the generic handlers in the
//! other families (the differential test covers both); they exist only
//! because deciding the operand form once at decode time instead of on
//! every execution roughly doubles interpreter throughput. This lookup
//! runs before the generic families.

use iced_x86::{CodeSize, Instruction, Mnemonic, OpKind};

use super::set_flags;
use crate::decode::{Handler, Insn, gpr_slot};
use crate::exception::Exception;
use crate::flags::{self, CF, STATUS, mask};
use crate::state::Cpu;

use super::arith::{ADC, ADD, AND, CMP, OR, SBB, SUB, TEST, XOR};

/// The slot of operand `n` when it is a 32 or 64-bit GPR.
fn wide_reg(ins: &Instruction, n: u32) -> Option<u8> {
    if n >= ins.op_count() || ins.op_kind(n) != OpKind::Register {
        return None;
    }
    let r = ins.op_register(n);
    if !(r.is_gpr32() || r.is_gpr64()) {
        return None;
    }
    gpr_slot(r)
}

fn is_imm(ins: &Instruction, n: u32) -> bool {
    n < ins.op_count()
        && matches!(
            ins.op_kind(n),
            OpKind::Immediate8to32
                | OpKind::Immediate8to64
                | OpKind::Immediate32
                | OpKind::Immediate32to64
                | OpKind::Immediate64
        )
}

macro_rules! by_op_size {
    ($f:ident, $op:expr, $wide:expr) => {
        match ($op, $wide) {
            (ADD, true) => $f::<ADD, 8>,
            (OR, true) => $f::<OR, 8>,
            (ADC, true) => $f::<ADC, 8>,
            (SBB, true) => $f::<SBB, 8>,
            (AND, true) => $f::<AND, 8>,
            (SUB, true) => $f::<SUB, 8>,
            (XOR, true) => $f::<XOR, 8>,
            (CMP, true) => $f::<CMP, 8>,
            (TEST, true) => $f::<TEST, 8>,
            (ADD, false) => $f::<ADD, 4>,
            (OR, false) => $f::<OR, 4>,
            (ADC, false) => $f::<ADC, 4>,
            (SBB, false) => $f::<SBB, 4>,
            (AND, false) => $f::<AND, 4>,
            (SUB, false) => $f::<SUB, 4>,
            (XOR, false) => $f::<XOR, 4>,
            (CMP, false) => $f::<CMP, 4>,
            _ => $f::<TEST, 4>,
        }
    };
}

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let op = match ins.mnemonic() {
        Add => ADD,
        Or => OR,
        Adc => ADC,
        Sbb => SBB,
        And => AND,
        Sub => SUB,
        Xor => XOR,
        Cmp => CMP,
        Test => TEST,
        Mov => return mov_lookup(ins),
        Lea => {
            return wide_reg(ins, 0).map(|_| {
                if ins.op0_register().is_gpr64() {
                    lea_r::<8> as Handler
                } else {
                    lea_r::<4>
                }
            });
        }
        Shl | Sal | Shr | Sar | Rol | Ror
            if wide_reg(ins, 0).is_some() && ins.op1_kind() == OpKind::Immediate8 =>
        {
            let wide = ins.op0_register().is_gpr64();
            use super::shift::{ROL, ROR, SAR, SHL, SHR};
            return Some(match (ins.mnemonic(), wide) {
                (Shl | Sal, true) => shift_ri::<SHL, 8>,
                (Shl | Sal, false) => shift_ri::<SHL, 4>,
                (Shr, true) => shift_ri::<SHR, 8>,
                (Shr, false) => shift_ri::<SHR, 4>,
                (Sar, true) => shift_ri::<SAR, 8>,
                (Sar, false) => shift_ri::<SAR, 4>,
                (Rol, true) => shift_ri::<ROL, 8>,
                (Rol, false) => shift_ri::<ROL, 4>,
                (Ror, true) => shift_ri::<ROR, 8>,
                _ => shift_ri::<ROR, 4>,
            });
        }
        Imul if wide_reg(ins, 0).is_some() && wide_reg(ins, 1).is_some() => {
            let wide = ins.op0_register().is_gpr64();
            return Some(match (ins.op_count(), wide) {
                (3, true) => imul_rr::<true, 8>,
                (3, false) => imul_rr::<true, 4>,
                (_, true) => imul_rr::<false, 8>,
                _ => imul_rr::<false, 4>,
            });
        }
        Inc | Dec => {
            wide_reg(ins, 0)?;
            let wide = ins.op0_register().is_gpr64();
            return Some(match (ins.mnemonic() == Dec, wide) {
                (false, true) => inc_dec_r::<false, 8>,
                (false, false) => inc_dec_r::<false, 4>,
                (true, true) => inc_dec_r::<true, 8>,
                (true, false) => inc_dec_r::<true, 4>,
            });
        }
        _ => return None,
    };
    wide_reg(ins, 0)?;
    let wide = ins.op0_register().is_gpr64();
    if wide_reg(ins, 1).is_some() {
        Some(by_op_size!(alu_rr, op, wide))
    } else if is_imm(ins, 1) {
        Some(by_op_size!(alu_ri, op, wide))
    } else if ins.op1_kind() == OpKind::Memory {
        Some(by_op_size!(alu_rm, op, wide))
    } else {
        None
    }
}

/// The instance of a handler generic over `<SIZE, FORM>` for the form of
/// `ins`'s memory operand in 64-bit code (`memory::mem64_form`).
macro_rules! by_form {
    ($ins:expr, $f:ident, $size:literal) => {
        match crate::memory::mem64_form($ins) {
            crate::memory::MEM64_BASE => $f::<$size, { crate::memory::MEM64_BASE }> as Handler,
            crate::memory::MEM64_FSGS => $f::<$size, { crate::memory::MEM64_FSGS }>,
            crate::memory::MEM64_ABS => $f::<$size, { crate::memory::MEM64_ABS }>,
            _ => $f::<$size, { crate::memory::MEM64_ANY }>,
        }
    };
}

fn mov_lookup(ins: &Instruction) -> Option<Handler> {
    let d = wide_reg(ins, 0);
    let s = wide_reg(ins, 1);
    let wide = |n: u32| ins.op_register(n).is_gpr64();
    let code64 = ins.code_size() == CodeSize::Code64;
    match (d, s) {
        (Some(_), Some(_)) => Some(if wide(0) { mov_rr::<8> } else { mov_rr::<4> }),
        (Some(_), None) if is_imm(ins, 1) => Some(if wide(0) { mov_ri::<8> } else { mov_ri::<4> }),
        (Some(_), None) if ins.op1_kind() == OpKind::Memory => Some(match (code64, wide(0)) {
            (true, true) => by_form!(ins, mov_rm64, 8),
            (true, false) => by_form!(ins, mov_rm64, 4),
            (false, true) => mov_rm::<8>,
            (false, false) => mov_rm::<4>,
        }),
        (None, Some(_)) if ins.op0_kind() == OpKind::Memory => Some(match (code64, wide(1)) {
            (true, true) => by_form!(ins, mov_mr64, 8),
            (true, false) => by_form!(ins, mov_mr64, 4),
            (false, true) => mov_mr::<8>,
            (false, false) => mov_mr::<4>,
        }),
        _ => None,
    }
}

#[inline(always)]
fn slot(i: &Insn, n: usize) -> usize {
    (i.reg[n & 1] & 15) as usize
}

#[inline(always)]
fn write<const SIZE: u8>(c: &mut Cpu, r: usize, v: u64) {
    c.gpr[r & 15] = v & mask(SIZE);
}

#[inline(always)]
fn compute<const OP: u8, const SIZE: u8>(c: &mut Cpu, a: u64, b: u64) -> u64 {
    let (r, f) = super::arith::compute::<OP>(c, a, b, SIZE);
    set_flags(c, STATUS, f);
    r
}

extern "C" fn alu_rr<const OP: u8, const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let (d, s) = (slot(i, 0), slot(i, 1));
    let a = c.gpr[d & 15] & mask(SIZE);
    let b = c.gpr[s & 15] & mask(SIZE);
    let r = compute::<OP, SIZE>(c, a, b);
    if OP != CMP && OP != TEST {
        write::<SIZE>(c, d, r);
    }
    Ok(())
}

extern "C" fn alu_ri<const OP: u8, const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let d = slot(i, 0);
    let a = c.gpr[d & 15] & mask(SIZE);
    let r = compute::<OP, SIZE>(c, a, i.imm & mask(SIZE));
    if OP != CMP && OP != TEST {
        write::<SIZE>(c, d, r);
    }
    Ok(())
}

extern "C" fn alu_rm<const OP: u8, const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let d = slot(i, 0);
    let off = c.ea(i);
    let b = c.read_mem(i.mem.seg, off, SIZE)?;
    let a = c.gpr[d & 15] & mask(SIZE);
    let r = compute::<OP, SIZE>(c, a, b);
    if OP != CMP && OP != TEST {
        write::<SIZE>(c, d, r);
    }
    Ok(())
}

/// Shift or rotate of a full-width register by an immediate count (the
/// shift family's `compute` does the work, so the semantics are shared).
extern "C" fn shift_ri<const OP: u8, const SIZE: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    let d = slot(i, 0);
    let count = (i.imm & super::shift::count_mask(SIZE)) as u32;
    let a = c.gpr[d & 15] & mask(SIZE);
    if count == 0 {
        // No flags change; the register is still written (zero-extends).
        write::<SIZE>(c, d, a);
        return Ok(());
    }
    let (r, which, f) = super::shift::compute::<OP>(a, count, SIZE, c.rflags & CF);
    write::<SIZE>(c, d, r);
    set_flags(c, which, f);
    Ok(())
}

/// IMUL r, r (two operands) and IMUL r, r, imm (`THREE`), full width.
extern "C" fn imul_rr<const THREE: bool, const SIZE: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    let d = slot(i, 0);
    let src = c.gpr[slot(i, 1) & 15] & mask(SIZE);
    let other = if THREE {
        i.imm & mask(SIZE)
    } else {
        c.gpr[d & 15] & mask(SIZE)
    };
    let (_, lo, wide) = super::muldiv::multiply::<true>(src, other, SIZE);
    write::<SIZE>(c, d, lo);
    set_flags(
        c,
        super::muldiv::MUL_FLAGS,
        super::muldiv::mul_flags(lo, SIZE, wide),
    );
    Ok(())
}

extern "C" fn inc_dec_r<const DEC: bool, const SIZE: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    let d = slot(i, 0);
    let a = c.gpr[d & 15] & mask(SIZE);
    let (r, f) = if DEC {
        flags::sub(a, 1, 0, SIZE)
    } else {
        flags::add(a, 1, 0, SIZE)
    };
    set_flags(c, STATUS & !CF, f);
    write::<SIZE>(c, d, r);
    Ok(())
}

extern "C" fn mov_rr<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.gpr[slot(i, 1) & 15];
    write::<SIZE>(c, slot(i, 0), v);
    Ok(())
}

extern "C" fn mov_ri<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    write::<SIZE>(c, slot(i, 0), i.imm);
    Ok(())
}

extern "C" fn mov_rm<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let off = c.ea(i);
    let v = c.read_mem(i.mem.seg, off, SIZE)?;
    write::<SIZE>(c, slot(i, 0), v);
    Ok(())
}

extern "C" fn mov_mr<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let off = c.ea(i);
    let v = c.gpr[slot(i, 1) & 15] & mask(SIZE);
    c.write_mem(i.mem.seg, off, SIZE, v)
}

/// [`mov_rm`] in 64-bit code: the host-pointer cache first, with the
/// address computed as 64-bit mode defines it for a memory operand of form
/// `FORM` (`memory::mem64_form`).
extern "C" fn mov_rm64<const SIZE: u8, const FORM: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    if let Some(v) = c.read_cached64::<FORM>(i, SIZE) {
        write::<SIZE>(c, slot(i, 0), v);
        return Ok(());
    }
    mov_rm::<SIZE>(c, i)
}

/// [`mov_mr`] in 64-bit code, as [`mov_rm64`].
extern "C" fn mov_mr64<const SIZE: u8, const FORM: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    let v = c.gpr[slot(i, 1) & 15] & mask(SIZE);
    if c.write_cached64::<FORM>(i, SIZE, v) {
        return Ok(());
    }
    mov_mr::<SIZE>(c, i)
}

extern "C" fn lea_r<const SIZE: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let a = c.ea(i);
    write::<SIZE>(c, slot(i, 0), a);
    Ok(())
}

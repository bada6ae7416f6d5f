//! Near control transfers: JMP, Jcc, JrCXZ, LOOP/LOOPE/LOOPNE, CALL, RET
//! (SDM Vol. 2). Far transfers live with segmentation.
//!
//! Targets are checked before anything is committed: beyond the CS limit
//! outside 64-bit mode, or non-canonical in 64-bit mode, is #GP(0) raised
//! by the branch itself, with RIP still at the branch.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{data::cc, opsize};
use crate::decode::{Handler, Insn};
use crate::exception::{Exception, LEAVE_BLOCK};
use crate::flags::{ZF, condition, mask};
use crate::state::Cpu;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Mnemonic::*;
    let near = ins.op_count() > 0
        && matches!(
            ins.op0_kind(),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        );
    let far = ins.op_count() > 0
        && matches!(ins.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32)
        || matches!(
            ins.memory_size(),
            iced_x86::MemorySize::SegPtr16
                | iced_x86::MemorySize::SegPtr32
                | iced_x86::MemorySize::SegPtr64
        );
    let counter = || -> u8 {
        let name = format!("{:?}", ins.code());
        if name.ends_with("_RCX") {
            8
        } else if name.ends_with("_ECX") {
            4
        } else {
            2
        }
    };
    Some(match ins.mnemonic() {
        Jmp if near => jmp_rel,
        Jmp if !far => jmp_indirect,
        m if is_jcc(m) => match jcc64_condition(ins) {
            Some(cc) => JCC64[cc],
            None => jcc,
        },
        // The mnemonic names the counter (iced's code names carry the
        // operand size, e.g. `Jecxz_rel8_16` is JECXZ in 16-bit code).
        Jcxz => jrcxz::<2>,
        Jecxz => jrcxz::<4>,
        Jrcxz => jrcxz::<8>,
        Loop | Loope | Loopne => match (ins.mnemonic(), counter()) {
            (Loop, 8) => loop_::<8, 0>,
            (Loop, 4) => loop_::<4, 0>,
            (Loop, _) => loop_::<2, 0>,
            (Loope, 8) => loop_::<8, 1>,
            (Loope, 4) => loop_::<4, 1>,
            (Loope, _) => loop_::<2, 1>,
            (_, 8) => loop_::<8, 2>,
            (_, 4) => loop_::<4, 2>,
            _ => loop_::<2, 2>,
        },
        Call if near => call_rel,
        Call if !far => call_indirect,
        Ret => ret_near,
        _ => return None,
    })
}

/// The operand size of a near transfer in bytes.
#[inline(always)]
fn branch_size(c: &Cpu, i: &Insn) -> u8 {
    let default = if c.in_long64() {
        8
    } else {
        (c.code_bits() / 8) as u8
    };
    opsize(&i.ins, default)
}

extern "C" fn jmp_rel(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    c.branch(i.imm)
}

extern "C" fn jmp_indirect(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let t = c.get(i, 0, size)?;
    c.branch(t)
}

/// Jcc in 64-bit code with a canonical target, one handler per condition.
extern "C" fn jcc64<const CC: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if condition(CC, c.rflags) {
        c.rip = i.imm;
    }
    Ok(())
}

/// [`jcc64`] for each condition code nibble.
const JCC64: [Handler; 16] = [
    jcc64::<0>,
    jcc64::<1>,
    jcc64::<2>,
    jcc64::<3>,
    jcc64::<4>,
    jcc64::<5>,
    jcc64::<6>,
    jcc64::<7>,
    jcc64::<8>,
    jcc64::<9>,
    jcc64::<10>,
    jcc64::<11>,
    jcc64::<12>,
    jcc64::<13>,
    jcc64::<14>,
    jcc64::<15>,
];

/// The sixteen conditional jumps (Jcc).
fn is_jcc(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Jo | Jno | Jb | Jae | Je | Jne | Jbe | Ja | Js | Jns | Jp | Jnp | Jl | Jge | Jle | Jg
    )
}

/// The condition nibble of a Jcc whose target needs no check when taken:
/// in 64-bit code a target that is canonical at decode time cannot fault
/// (there is no CS limit), so the condition can be fixed in the handler.
fn jcc64_condition(ins: &Instruction) -> Option<usize> {
    match (target64_ok(ins), ins.condition_code() as usize) {
        (true, cc @ 1..=16) => Some(cc - 1),
        _ => None,
    }
}

extern "C" fn jcc(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if condition(cc(i), c.rflags) {
        c.branch(i.imm)
    } else {
        Ok(())
    }
}

/// True for a conditional jump the decoder lets a block continue past: a
/// Jcc (not JrCXZ or LOOP) whose target lies ahead of it. Backward jumps
/// close loops, whose taken path is the common one, so they end blocks or
/// are followed to their targets (see [`followable_target`]).
pub(crate) fn is_forward_jcc(ins: &Instruction) -> bool {
    is_jcc(ins.mnemonic())
        && matches!(
            ins.op0_kind(),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        )
        && ins.near_branch_target() > ins.ip()
}

/// The handler of a forward Jcc that is not its block's last instruction
/// (see [`is_forward_jcc`]): taken, it jumps and then leaves the block
/// through [`LEAVE_BLOCK`]; not taken, execution goes on in the block.
pub(crate) fn side_exit(ins: &Instruction) -> Handler {
    match jcc64_condition(ins) {
        Some(cc) => JCC64_SIDE[cc],
        None => jcc_side,
    }
}

/// [`jcc64`] in the middle of a block.
extern "C" fn jcc64_side<const CC: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if condition(CC, c.rflags) {
        c.rip = i.imm;
        return Err(LEAVE_BLOCK);
    }
    Ok(())
}

/// [`jcc64_side`] for each condition code nibble.
const JCC64_SIDE: [Handler; 16] = [
    jcc64_side::<0>,
    jcc64_side::<1>,
    jcc64_side::<2>,
    jcc64_side::<3>,
    jcc64_side::<4>,
    jcc64_side::<5>,
    jcc64_side::<6>,
    jcc64_side::<7>,
    jcc64_side::<8>,
    jcc64_side::<9>,
    jcc64_side::<10>,
    jcc64_side::<11>,
    jcc64_side::<12>,
    jcc64_side::<13>,
    jcc64_side::<14>,
    jcc64_side::<15>,
];

/// Whether the decoder may go on decoding a block at the target of `ins`
/// when `ins` is a direct branch it would otherwise end the block with:
/// JMP rel, or a Jcc (not JrCXZ or LOOP), in 64-bit code with a canonical
/// target (so taking it cannot fault). The target is returned; the
/// decoder decides whether it is close enough (see `decode`).
pub(crate) fn followable_target(ins: &Instruction) -> Option<u64> {
    let near = ins.op_count() > 0 && ins.op0_kind() == OpKind::NearBranch64;
    let followable = near && (ins.mnemonic() == Mnemonic::Jmp || is_jcc(ins.mnemonic()));
    (followable && target64_ok(ins)).then(|| ins.near_branch_target())
}

/// A near branch in 64-bit code to a canonical target: taking it cannot
/// fault (there is no CS limit).
fn target64_ok(ins: &Instruction) -> bool {
    ins.code_size() == iced_x86::CodeSize::Code64
        && crate::memory::is_canonical(ins.near_branch_target())
}

/// The handler of a branch the decoder followed (see
/// [`followable_target`]): a JMP keeps its own handler; a Jcc, when
/// taken, jumps and the block goes on at its target; not taken, it leaves
/// the block through [`LEAVE_BLOCK`] with RIP after it.
pub(crate) fn followed(insn: &Insn) -> Handler {
    match jcc64_condition(&insn.ins) {
        Some(cc) => JCC64_TAKEN[cc],
        None => insn.exec,
    }
}

/// [`jcc64`] followed by its block when taken.
extern "C" fn jcc64_taken<const CC: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if condition(CC, c.rflags) {
        c.rip = i.imm;
        return Ok(());
    }
    Err(LEAVE_BLOCK)
}

/// [`jcc64_taken`] for each condition code nibble.
const JCC64_TAKEN: [Handler; 16] = [
    jcc64_taken::<0>,
    jcc64_taken::<1>,
    jcc64_taken::<2>,
    jcc64_taken::<3>,
    jcc64_taken::<4>,
    jcc64_taken::<5>,
    jcc64_taken::<6>,
    jcc64_taken::<7>,
    jcc64_taken::<8>,
    jcc64_taken::<9>,
    jcc64_taken::<10>,
    jcc64_taken::<11>,
    jcc64_taken::<12>,
    jcc64_taken::<13>,
    jcc64_taken::<14>,
    jcc64_taken::<15>,
];

/// [`jcc`] in the middle of a block.
extern "C" fn jcc_side(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if condition(cc(i), c.rflags) {
        c.branch(i.imm)?;
        return Err(LEAVE_BLOCK);
    }
    Ok(())
}

extern "C" fn jrcxz<const W: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if c.rd(1, W) == 0 {
        c.branch(i.imm)
    } else {
        Ok(())
    }
}

/// LOOP (KIND 0), LOOPE (1), LOOPNE (2): decrement the count register at
/// the address size, then branch. The decrement is committed only when the
/// branch (if taken) passes its checks.
extern "C" fn loop_<const W: u8, const KIND: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let count = c.rd(1, W).wrapping_sub(1) & mask(W);
    let zf = c.rflags & ZF != 0;
    let take = count != 0
        && match KIND {
            0 => true,
            1 => zf,
            _ => !zf,
        };
    if take {
        c.branch(i.imm)?;
    }
    c.wr(1, W, count);
    Ok(())
}

extern "C" fn call_rel(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = branch_size(c, i);
    let target = i.imm;
    call_to(c, i, target, size)
}

extern "C" fn call_indirect(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = i.size;
    let target = c.get(i, 0, size)?;
    call_to(c, i, target, size)
}

/// Pushes the return address and branches; the target is checked before
/// the push is committed.
fn call_to(c: &mut Cpu, i: &Insn, target: u64, size: u8) -> Result<(), Exception> {
    c.check_branch(target)?;
    c.push(i.next_ip() & mask(size), size)?;
    c.rip = target;
    Ok(())
}

/// RET and RET imm16.
extern "C" fn ret_near(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let size = branch_size(c, i);
    let target = c.peek(0, size)?;
    c.branch(target)?;
    let extra = if i.ins.op_count() > 0 {
        i.imm & 0xFFFF
    } else {
        0
    };
    let sp = c.sp().wrapping_add(size as u64).wrapping_add(extra);
    c.set_sp(sp);
    Ok(())
}

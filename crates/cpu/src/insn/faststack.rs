//! Specialized PUSH and POP for 64-bit code: `push r64`, `push imm`
//! (sign-extended to 64 bits) and `pop r64`, the forms that build and
//! unwind `pt_regs` in every 64-bit kernel entry path.
//!
//! These opcodes exist only in 64-bit mode, where the stack is always 64
//! bits wide, SS has base 0 and no limit, and the operand size of these
//! forms is always 8 (SDM Vol. 2 PUSH/POP, "64-bit mode"); deciding that
//! at decode time spares each execution the mode, stack-size and operand
//! dispatch of the generic handlers in `stack.rs`, whose semantics these
//! follow exactly: the write or read is checked (canonical address,
//! paging) before RSP changes, PUSH RSP pushes the old value, and POP RSP
//! leaves the popped value in RSP.

use iced_x86::{Code, Instruction};

use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::hostcache;
use crate::state::{Cpu, Rflags, SegReg};

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    Some(match ins.code() {
        Code::Push_r64 => push_r64,
        Code::Pushq_imm8 | Code::Pushq_imm32 => push_imm64,
        Code::Pop_r64 => pop_r64,
        _ => return None,
    })
}

/// The host-pointer cache context of an 8-byte stack access at `lin` in
/// 64-bit mode, or `None` when it must take the full path (RFLAGS.AC set,
/// or crossing a page), as `Cpu::read_mem`/`write_mem` decide. In 64-bit
/// mode CR0.PE = 1 and RFLAGS.VM = 0, so the CPL is CS.RPL. A cached entry
/// exists only for a canonical page that was translated at this privilege,
/// so a hit needs no canonical or paging check.
#[inline(always)]
fn stack_ctx(c: &Cpu, lin: u64) -> Option<u64> {
    if c.rflags & Rflags::AC.bits() != 0 || lin & 0xFFF > 0x1000 - 8 {
        return None;
    }
    Some(if c.seg[SegReg::Cs as usize].rpl() == 3 {
        hostcache::USER
    } else {
        0
    })
}

/// Pushes `v` on the 64-bit stack.
#[inline(always)]
fn push64(c: &mut Cpu, v: u64) -> Result<(), Exception> {
    let sp = c.gpr[4].wrapping_sub(8);
    if let Some(ctx) = stack_ctx(c, sp)
        && c.host.write(sp, 8, ctx, v)
    {
        c.gpr[4] = sp;
        return Ok(());
    }
    push64_slow(c, sp, v)
}

/// The full path of a push: segmentation, paging and the cache fill.
#[cold]
#[inline(never)]
fn push64_slow(c: &mut Cpu, sp: u64, v: u64) -> Result<(), Exception> {
    c.write_mem(SegReg::Ss as u8, sp, 8, v)?;
    c.gpr[4] = sp;
    Ok(())
}

/// PUSH r64 (the value before the decrement for PUSH RSP).
fn push_r64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.gpr[i.reg[0] as usize & 15];
    push64(c, v)
}

/// PUSH imm8/imm32, sign-extended to 64 bits at decode.
fn push_imm64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    push64(c, i.imm)
}

/// POP r64: the read is checked before RSP moves; the popped value is
/// written last, so POP RSP leaves it in RSP.
fn pop_r64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let sp = c.gpr[4];
    if let Some(ctx) = stack_ctx(c, sp)
        && let Some(v) = c.host.read(sp, 8, ctx)
    {
        c.gpr[4] = sp.wrapping_add(8);
        c.gpr[i.reg[0] as usize & 15] = v;
        return Ok(());
    }
    pop_r64_slow(c, i)
}

/// [`pop_r64`] through the full read path.
#[cold]
#[inline(never)]
fn pop_r64_slow(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let sp = c.gpr[4];
    let v = c.read_mem(SegReg::Ss as u8, sp, 8)?;
    c.gpr[4] = sp.wrapping_add(8);
    c.gpr[i.reg[0] as usize & 15] = v;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Exit;
    use crate::exception::Exception;
    use crate::testutil::{exec, fault};
    use iced_x86::code_asm::*;

    #[test]
    fn push_and_pop_r64() {
        let c = exec(64, |a| {
            a.mov(rsp, 0x5000u64)?;
            a.mov(rax, 0x1122_3344_5566_7788u64)?;
            a.push(rax)?;
            a.pop(rbx)?;
            a.push(r15)?;
            a.pop(r9)
        });
        assert_eq!(c.cpu.gpr[3], 0x1122_3344_5566_7788);
        assert_eq!(c.cpu.gpr[4], 0x5000);
        assert_eq!(c.cpu.gpr[9], c.cpu.gpr[15]);
    }

    #[test]
    fn push_imm_is_sign_extended_to_64_bits() {
        let c = exec(64, |a| {
            a.mov(rsp, 0x5000u64)?;
            a.push(-38i32)?; // imm8
            a.push(0x1234_5678i32)?; // imm32
            a.push(-0x1234_5678i32)?;
            a.pop(rdx)?;
            a.pop(rcx)?;
            a.pop(rax)
        });
        assert_eq!(c.cpu.gpr[0], (-38i64) as u64);
        assert_eq!(c.cpu.gpr[1], 0x1234_5678);
        assert_eq!(c.cpu.gpr[2], (-0x1234_5678i64) as u64);
        assert_eq!(c.cpu.gpr[4], 0x5000);
    }

    #[test]
    fn push_rsp_pushes_the_old_value_and_pop_rsp_keeps_the_popped_one() {
        let c = exec(64, |a| {
            a.mov(rsp, 0x5000u64)?;
            a.push(rsp)?;
            a.pop(rax)?;
            a.mov(rbx, 0x6000u64)?;
            a.push(rbx)?;
            a.pop(rsp)
        });
        assert_eq!(c.cpu.gpr[0], 0x5000);
        assert_eq!(c.cpu.gpr[4], 0x6000);
    }

    #[test]
    fn a_non_canonical_stack_faults_with_ss_and_changes_nothing() {
        // RSP - 8 is non-canonical: #SS(0), RSP unchanged.
        let (e, c) = fault(64, |a| {
            a.mov(rsp, 0x8000_0000_0000_0000u64)?;
            a.push(rax)
        });
        assert_eq!(e, Exit::Exception(Exception::SS(0)));
        assert_eq!(c.cpu.gpr[4], 0x8000_0000_0000_0000);
        let (e, c) = fault(64, |a| {
            a.mov(rsp, 0x8000_0000_0000_0000u64)?;
            a.mov(rbx, 7u64)?;
            a.pop(rbx)
        });
        assert_eq!(e, Exit::Exception(Exception::SS(0)));
        assert_eq!((c.cpu.gpr[4], c.cpu.gpr[3]), (0x8000_0000_0000_0000, 7));
    }
}

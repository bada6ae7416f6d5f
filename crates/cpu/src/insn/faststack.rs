//! Specialized PUSH and POP for the forms that build and unwind `pt_regs`
//! in the kernel entry paths: `push r64`, `push imm` (sign-extended to 64
//! bits) and `pop r64` in 64-bit code; `push r32`, `push imm` and
//! `pop r32` on a flat 32-bit stack.
//!
//! The 64-bit opcodes exist only in 64-bit mode, where the stack is always
//! 64 bits wide, SS has base 0 and no limit, and the operand size of these
//! forms is always 8 (SDM Vol. 2 PUSH/POP, "64-bit mode"); deciding that
//! at decode time spares each execution the mode, stack-size and operand
//! dispatch of the generic handlers in `stack.rs`. The 32-bit forms check
//! at run time that SS is a flat expand-up writable 32-bit segment (base
//! 0, limit 4 GiB, B = 1: Linux's `__KERNEL_DS`/`__USER_DS`), where the
//! segment checks reduce to the page-crossing test the fast path makes
//! anyway; any other stack takes the generic handler. All follow the
//! generic semantics exactly: the write or read is checked (canonical
//! address or segment, paging) before the stack pointer changes, PUSH
//! (E/R)SP pushes the old value, POP (E/R)SP leaves the popped value in it,
//! and a 32-bit stack pointer update keeps bits 63:32.

use iced_x86::{Code, Instruction};

use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::hostcache;
use crate::state::{Cpu, Rflags, SegReg, attr};

use super::stack;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    Some(match ins.code() {
        Code::Push_r64 => push_r64,
        Code::Pushq_imm8 | Code::Pushq_imm32 => push_imm64,
        Code::Pop_r64 => pop_r64,
        Code::Push_r32 => push_r32,
        Code::Pushd_imm8 | Code::Pushd_imm32 => push_imm32,
        Code::Pop_r32 => pop_r32,
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

/// The generic handler of `stack.rs` for the instruction (the full path
/// for any stack that is not flat).
#[cold]
#[inline(never)]
fn generic(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    (stack::lookup(&i.ins).unwrap_or(super::undefined))(c, i)
}

/// The host-pointer cache context of a 4-byte access at `lin` on a flat
/// 32-bit stack (base 0, limit 4 GiB, B = 1, writable expand-up data),
/// or `None` for the full path: another kind of stack, RFLAGS.AC or VM
/// set, or an access crossing a page (which also keeps `lin + 3` within
/// the limit).
#[inline(always)]
fn flat_stack_ctx(c: &Cpu, lin: u64) -> Option<u64> {
    let ss = &c.seg[SegReg::Ss as usize];
    let kind = attr::DB | attr::RW | attr::CODE | attr::DC | attr::UNUSABLE;
    if ss.base != 0
        || ss.limit != 0xFFFF_FFFF
        || ss.attr & kind != attr::DB | attr::RW
        || c.rflags & (Rflags::AC.bits() | Rflags::VM.bits()) != 0
        || lin & 0xFFF > 0x1000 - 4
    {
        return None;
    }
    Some(if c.cpl() == 3 { hostcache::USER } else { 0 })
}

/// ESP with bits 63:32 of RSP kept (a 32-bit stack pointer update).
#[inline(always)]
fn set_esp(c: &mut Cpu, esp: u64) {
    c.gpr[4] = (c.gpr[4] & !0xFFFF_FFFF) | (esp & 0xFFFF_FFFF);
}

/// Pushes the 32-bit `v` on a flat 32-bit stack, else through the generic
/// handler.
#[inline(always)]
fn push32(c: &mut Cpu, i: &Insn, v: u64) -> Result<(), Exception> {
    let sp = c.gpr[4].wrapping_sub(4) & 0xFFFF_FFFF;
    if let Some(ctx) = flat_stack_ctx(c, sp)
        && c.host.write(sp, 4, ctx, v)
    {
        set_esp(c, sp);
        return Ok(());
    }
    generic(c, i)
}

/// PUSH r32.
fn push_r32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.gpr[i.reg[0] as usize & 15] & 0xFFFF_FFFF;
    push32(c, i, v)
}

/// PUSH imm8/imm32 with a 32-bit operand size.
fn push_imm32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    push32(c, i, i.imm & 0xFFFF_FFFF)
}

/// POP r32 (zero-extending the register as every 32-bit write does).
fn pop_r32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let sp = c.gpr[4] & 0xFFFF_FFFF;
    if let Some(ctx) = flat_stack_ctx(c, sp)
        && let Some(v) = c.host.read(sp, 4, ctx)
    {
        set_esp(c, sp.wrapping_add(4));
        c.gpr[i.reg[0] as usize & 15] = v;
        return Ok(());
    }
    generic(c, i)
}

#[cfg(test)]
mod tests {
    use crate::Exit;
    use crate::exception::Exception;
    use crate::testutil::{asm, exec, fault, machine, run};
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
    fn push_and_pop_r32_on_a_flat_stack() {
        let c = exec(32, |a| {
            a.mov(esp, 0x5000u32)?;
            a.mov(eax, 0x8899_AABBu32)?;
            a.push(eax)?;
            a.pop(ebx)?;
            a.push(-38i32)?; // imm8, sign-extended to 32 bits
            a.push(0x1234_5678i32)?;
            a.pop(ecx)?;
            a.pop(edx)?;
            a.push(esp)?;
            a.pop(esi)?;
            a.mov(edi, 0x4000u32)?;
            a.push(edi)?;
            a.pop(esp)
        });
        assert_eq!(c.cpu.gpr[3], 0x8899_AABB);
        assert_eq!(c.cpu.gpr[1], 0x1234_5678);
        assert_eq!(c.cpu.gpr[2], 0xFFFF_FFDA);
        assert_eq!(c.cpu.gpr[6], 0x5000);
        assert_eq!(c.cpu.gpr[4], 0x4000);
    }

    #[test]
    fn a_32_bit_push_keeps_bits_63_32_of_rsp() {
        let code = asm(32, |a| {
            a.push(eax)?;
            a.pop(ebx)
        });
        let mut v = machine(32);
        v.cpu.gpr[4] = 0xAAAA_0000_0000_5000;
        v.cpu.gpr[0] = 7;
        assert_eq!(run(&mut v, &code), Exit::Hlt);
        assert_eq!(v.cpu.gpr[4], 0xAAAA_0000_0000_5000);
        assert_eq!(v.cpu.gpr[3], 7);
    }

    #[test]
    fn a_stack_that_is_not_flat_takes_the_generic_path() {
        // SS limit 0x4FFF: a push at ESP 0x5004 writes 0x5000..0x5003,
        // beyond the limit: #SS(0), ESP unchanged.
        let code = asm(32, |a| a.push(eax));
        let mut v = machine(32);
        v.cpu.seg[crate::state::SegReg::Ss as usize].limit = 0x4FFF;
        v.cpu.gpr[4] = 0x5004;
        assert_eq!(run(&mut v, &code), Exit::Exception(Exception::SS(0)));
        assert_eq!(v.cpu.gpr[4], 0x5004);
        // Real mode with a 32-bit operand: a 16-bit stack pointer.
        let c = exec(0, |a| {
            a.mov(esp, 0xABCD_0010u32)?;
            a.mov(eax, 0x1122_3344u32)?;
            a.push(eax)?;
            a.mov(dx, sp)?;
            a.pop(ebx)
        });
        assert_eq!(c.cpu.gpr[2] & 0xFFFF, 0x000C);
        assert_eq!(c.cpu.gpr[3], 0x1122_3344);
        assert_eq!(c.cpu.gpr[4], 0xABCD_0010);
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

//! Shared pieces of the SSE/SSE2 and MMX families: availability checks,
//! XMM and MMX register access (with the MMX-on-x87 aliasing of SDM Vol. 1
//! §9.5), and operand readers for register and memory sources.
//!
//! Availability (SDM Vol. 3 §13.1.3 and §2.5; the exception tables of the
//! instruction pages in Vol. 2):
//! - SSE/SSE2 instructions: CR0.EM = 1 or CR4.OSFXSR = 0 is #UD; otherwise
//!   CR0.TS = 1 is #NM.
//! - MMX instructions (including the SSE additions on MMX registers): CR0.EM
//!   = 1 is #UD, CR0.TS = 1 is #NM, and a pending x87 exception (FSW.ES) is
//!   #MF; CR4.OSFXSR does not matter.
//! - Instructions with both XMM and MMX register operands (CVTPI2PS xmm, mm,
//!   MOVQ2DQ, ...): the SSE checks, then #MF.
//!
//! Handlers check availability first, then read operands (memory faults),
//! and only then write registers, MXCSR or memory.

use crate::decode::{Insn, Opnd};
use crate::exception::Exception;
use crate::state::{Cpu, Cr0, Cr4};

/// CR0.EM | CR0.TS.
const EM_TS: u64 = Cr0::EM.bits() | Cr0::TS.bits();

/// The #UD/#NM checks of an SSE/SSE2 instruction (CR0.EM, CR4.OSFXSR,
/// CR0.TS, in that priority).
#[inline(always)]
pub(super) fn sse_avail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & EM_TS == 0 && c.ctrl.cr4 & Cr4::OSFXSR.bits() != 0 {
        return Ok(());
    }
    sse_unavail(c)
}

#[cold]
#[inline(never)]
fn sse_unavail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & Cr0::EM.bits() != 0 || c.ctrl.cr4 & Cr4::OSFXSR.bits() == 0 {
        return Err(Exception::UD);
    }
    Err(Exception::NM)
}

/// FSW.ES: an unmasked x87 exception is pending.
const FSW_ES: u16 = 1 << 7;

/// The checks of an MMX instruction: CR0.EM is #UD, CR0.TS is #NM, a
/// pending x87 exception is #MF.
#[inline(always)]
pub(super) fn mmx_avail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & EM_TS == 0 && c.fpu.fsw & FSW_ES == 0 {
        return Ok(());
    }
    mmx_unavail(c)
}

#[cold]
#[inline(never)]
fn mmx_unavail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & Cr0::EM.bits() != 0 {
        return Err(Exception::UD);
    }
    if c.ctrl.cr0 & Cr0::TS.bits() != 0 {
        return Err(Exception::NM);
    }
    Err(Exception::MF)
}

/// The checks of an instruction with both XMM and MMX operands
/// (CVTPI2PS, MOVQ2DQ, ...): the SSE checks, then #MF.
#[inline(always)]
pub(super) fn mixed_avail(c: &Cpu) -> Result<(), Exception> {
    sse_avail(c)?;
    if c.fpu.fsw & FSW_ES != 0 {
        return Err(Exception::MF);
    }
    Ok(())
}

/// The x87-to-MMX transition every MMX instruction except EMMS performs
/// (SDM Vol. 1 §9.5.1): TOP = 0 and every tag valid (00).
#[inline(always)]
pub(super) fn mmx_enter(c: &mut Cpu) {
    c.fpu.fsw &= !(7 << 11);
    c.fpu.ftw = 0;
}

/// MMi: the significand of physical x87 register Ri.
#[inline(always)]
pub(super) fn mm(c: &Cpu, n: u8) -> u64 {
    c.fpu.st[(n & 7) as usize].signif
}

/// Writes MMi: the significand of Ri, and its sign and exponent to all
/// ones (SDM Vol. 1 §9.5.1). The caller has already called [`mmx_enter`]
/// or does so in the same instruction.
#[inline(always)]
pub(super) fn set_mm(c: &mut Cpu, n: u8, v: u64) {
    let r = &mut c.fpu.st[(n & 7) as usize];
    r.signif = v;
    r.sign_exp = 0xFFFF;
}

/// XMMn.
#[inline(always)]
pub(super) fn xmm(c: &Cpu, n: u8) -> u128 {
    c.fpu.xmm[(n & 15) as usize]
}

/// Writes XMMn.
#[inline(always)]
pub(super) fn set_xmm(c: &mut Cpu, n: u8, v: u128) {
    c.fpu.xmm[(n & 15) as usize] = v;
}

/// True when operand `n` is memory.
#[inline(always)]
pub(super) fn is_mem(i: &Insn, n: usize) -> bool {
    i.ops[n] == Opnd::Mem
}

/// A 128-bit source: XMM register or m128 (16-byte aligned when `ALIGN`).
#[inline(always)]
pub(super) fn src128<const ALIGN: bool>(
    c: &mut Cpu,
    i: &Insn,
    n: usize,
) -> Result<u128, Exception> {
    if is_mem(i, n) {
        let off = c.ea(i);
        c.read_mem128(i.mem.seg, off, ALIGN)
    } else {
        Ok(xmm(c, i.reg[n]))
    }
}

/// A 64-bit source: MMX register or m64.
#[inline(always)]
pub(super) fn src_mm(c: &mut Cpu, i: &Insn, n: usize) -> Result<u64, Exception> {
    if is_mem(i, n) {
        let off = c.ea(i);
        c.read_mem(i.mem.seg, off, 8)
    } else {
        Ok(mm(c, i.reg[n]))
    }
}

/// A scalar source of `size` (4 or 8) bytes: the whole XMM register (the
/// caller uses the low element) or the zero-extended memory value.
#[inline(always)]
pub(super) fn src_scalar(c: &mut Cpu, i: &Insn, n: usize, size: u8) -> Result<u128, Exception> {
    if is_mem(i, n) {
        let off = c.ea(i);
        Ok(u128::from(c.read_mem(i.mem.seg, off, size)?))
    } else {
        Ok(xmm(c, i.reg[n]))
    }
}

/// The exception an unmasked SIMD floating-point exception raises: #XM
/// when CR4.OSXMMEXCPT = 1, else #UD (SDM Vol. 3 §6.15, interrupt 19).
#[cold]
pub(super) fn simd_fault(c: &Cpu) -> Exception {
    if c.ctrl.cr4 & Cr4::OSXMMEXCPT.bits() != 0 {
        Exception::XM
    } else {
        Exception::UD
    }
}

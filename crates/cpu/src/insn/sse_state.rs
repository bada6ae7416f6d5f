//! SSE state instructions (SDM Vol. 2): FXSAVE/FXSAVE64, FXRSTOR/
//! FXRSTOR64, LDMXCSR, STMXCSR, and CLFLUSH. (LFENCE/SFENCE/MFENCE,
//! PAUSE and the PREFETCH hints are no-ops in `system`.)

use iced_x86::{Code, Instruction};

use super::sse::sse_avail;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::fpu::{FpuState, MXCSR_MASK};
use crate::memory::{PhysLoc, addr_mask};
use crate::state::{Cpu, Cr0};

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    Some(match ins.code() {
        Fxsave_m512byte => fxsave::<false>,
        Fxsave64_m512byte => fxsave::<true>,
        Fxrstor_m512byte => fxrstor::<false>,
        Fxrstor64_m512byte => fxrstor::<true>,
        Ldmxcsr_m32 => ldmxcsr,
        Stmxcsr_m32 => stmxcsr,
        Clflush_m8 => clflush,
        _ => return None,
    })
}

/// FXSAVE/FXRSTOR: #NM when CR0.TS or CR0.EM is set (SDM Vol. 2 FXSAVE,
/// "Protected Mode Exceptions"); CR4.OSFXSR is not required (this model
/// always saves and restores the XMM registers and MXCSR).
fn fx_avail(c: &Cpu) -> Result<(), Exception> {
    if c.ctrl.cr0 & (Cr0::EM.bits() | Cr0::TS.bits()) != 0 {
        return Err(Exception::NM);
    }
    Ok(())
}

/// The offset of 16-byte chunk `k` of the 512-byte area at `off`.
fn chunk(i: &Insn, off: u64, k: usize) -> u64 {
    off.wrapping_add(16 * k as u64) & addr_mask(i.mem.asize)
}

/// Checks the area's alignment: #GP(0) unless its linear address is a
/// multiple of 16.
fn check_align(c: &Cpu, i: &Insn, off: u64) -> Result<(), Exception> {
    let lin = c.linear(i.mem.seg, off, 16, false)?;
    if lin & 15 != 0 {
        return Err(Exception::GP(0));
    }
    Ok(())
}

/// The XMM registers in the image: XMM0-15 in 64-bit mode, else XMM0-7.
fn xmm_count(c: &Cpu) -> usize {
    if c.in_long64() { 16 } else { 8 }
}

/// FXSAVE m512 (`WIDE`: FXSAVE64, 64-bit FIP/FDP). The whole area is
/// translated for writing before any byte is stored.
extern "C" fn fxsave<const WIDE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    fx_avail(c)?;
    let off = c.ea(i);
    check_align(c, i, off)?;
    let mut locs: [Option<PhysLoc>; 32] = [None; 32];
    for (k, l) in locs.iter_mut().enumerate() {
        *l = Some(c.locate_write(i.mem.seg, chunk(i, off, k), 16)?);
    }
    let img = c.fpu.fxsave_image(WIDE, xmm_count(c));
    for (k, l) in locs.iter().enumerate() {
        if let Some(loc) = l {
            let mut b = [0u8; 16];
            b.copy_from_slice(&img[16 * k..16 * k + 16]);
            c.store128(*loc, u128::from_le_bytes(b));
        }
    }
    Ok(())
}

/// FXRSTOR m512 (`WIDE`: FXRSTOR64): the whole area is read before any
/// register changes; #GP(0) if the image's MXCSR sets a reserved bit.
extern "C" fn fxrstor<const WIDE: bool>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    fx_avail(c)?;
    let off = c.ea(i);
    check_align(c, i, off)?;
    let mut img = [0u8; FpuState::FXSAVE_SIZE];
    for k in 0..32 {
        let v = c.read_mem128(i.mem.seg, chunk(i, off, k), false)?;
        img[16 * k..16 * k + 16].copy_from_slice(&v.to_le_bytes());
    }
    let n = xmm_count(c);
    if !c.fpu.fxrstor_image(&img, WIDE, n) {
        return Err(Exception::GP(0));
    }
    Ok(())
}

/// LDMXCSR m32: #GP(0) when a reserved bit (outside MXCSR_MASK) is set.
/// Loading a set flag whose exception is unmasked raises nothing (SDM
/// Vol. 1 §11.5.1: SSE exceptions are only raised by the instruction that
/// detects them).
extern "C" fn ldmxcsr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let off = c.ea(i);
    let v = c.read_mem(i.mem.seg, off, 4)? as u32;
    if v & !MXCSR_MASK != 0 {
        return Err(Exception::GP(0));
    }
    c.fpu.mxcsr = v;
    Ok(())
}

/// STMXCSR m32.
extern "C" fn stmxcsr(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    sse_avail(c)?;
    let off = c.ea(i);
    c.write_mem(i.mem.seg, off, 4, u64::from(c.fpu.mxcsr))
}

/// CLFLUSH m8: no cache is modeled, so only the checks remain: the byte
/// is checked like a read (segment and page permissions, SDM Vol. 2
/// CLFLUSH), faulting as a read would.
extern "C" fn clflush(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let off = c.ea(i);
    c.read_mem(i.mem.seg, off, 1)?;
    Ok(())
}

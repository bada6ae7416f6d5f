//! String instructions: MOVS, CMPS, SCAS, LODS and STOS in byte, word,
//! doubleword and quadword forms, alone or with a REP, REPE/REPZ or
//! REPNE/REPNZ prefix (SDM Vol. 2 "MOVS/MOVSB/MOVSW/MOVSD/MOVSQ",
//! "CMPS/...", "SCAS/...", "LODS/...", "STOS/..." and
//! "REP/REPE/REPZ/REPNE/REPNZ"). INS and OUTS belong to the I/O code.
//!
//! Addressing: the instruction's address size (iced's op kinds
//! `MemorySegSI/ESI/RSI` and `MemoryESDI/EDI/RDI`) selects SI/ESI/RSI,
//! DI/EDI/RDI and the count register CX/ECX/RCX; updates write the register
//! at that size (16-bit updates merge, 32-bit ones zero-extend). The source
//! is DS:rSI, or the segment-override prefix; the destination is always
//! ES:rDI and cannot be overridden (in 64-bit mode ES, like DS, contributes
//! no base). After each element rSI/rDI advance by the element size, or
//! retreat when RFLAGS.DF = 1.
//!
//! Repetition follows the SDM REP pseudo-code: with a count of 0 nothing
//! happens; otherwise each iteration executes the instruction, decrements
//! the count and stops when it reaches 0 or, for CMPS/SCAS, when ZF = 0
//! after REPE/REPZ or ZF = 1 after REPNE/REPNZ. An F2 prefix on MOVS, STOS
//! or LODS repeats like F3 (the SDM only defines F3 there; processors treat
//! both as REP).
//!
//! Every iteration is architecturally complete. If one faults, the count,
//! rSI and rDI reflect the iterations done so far and the fault is
//! returned with RIP at the instruction, so that re-executing it after the
//! handler resumes the repetition (SDM Vol. 2 REP: the source and
//! destination registers point to the next elements, EIP to the string
//! instruction, and the count register holds its value after the last
//! successful iteration). A handler call performs at most
//! [`MAX_ITERATIONS`] iterations; when more remain it leaves RIP at the
//! instruction (as an interrupt window between iterations would) and the
//! block ends there, so the run loop's instruction and cycle limits, and
//! its other checks, apply to arbitrarily long repeats. Each pass counts as
//! one executed instruction (so `instructions` depends on the split, in a
//! fixed, deterministic way), but cycles are booked so that the total does
//! not depend on where the repetition was split.
//!
//! Speed: repeated MOVS, STOS, CMPS and SCAS work on runs of elements
//! that lie in one linear page on each side: the run passes the segment
//! checks at both ends and is translated once, then moved with one block
//! copy (for MOVS only when that gives the element-by-element result,
//! i.e. no element reads bytes an earlier one wrote) or compared in a
//! host loop. Anything else (page-crossing elements, faults) goes through
//! the ordinary per-element path.
//!
//! Cycles: the cycle model charges the instruction once; each iteration
//! beyond the first adds [`PER_ELEMENT_MOVE`] (MOVS/STOS/LODS) or
//! [`PER_ELEMENT_COMPARE`] (CMPS/SCAS) cycles here.

use iced_x86::{Code, Instruction, OpKind};
use sysgate_mmu::{AccessKind, PAGE_SIZE};

use super::set_flags;
use crate::decode::{Handler, Insn};
use crate::exception::Exception;
use crate::flags::{self, DF, STATUS, ZF, mask};
use crate::state::{Cpu, SegReg};

const MOVS: u8 = 0;
const CMPS: u8 = 1;
const SCAS: u8 = 2;
const LODS: u8 = 3;
const STOS: u8 = 4;

/// No repeat prefix.
const ONCE: u8 = 0;
/// REP, or REPE/REPZ for CMPS/SCAS (F3).
const REPE: u8 = 1;
/// REPNE/REPNZ for CMPS/SCAS (F2).
const REPNE: u8 = 2;

/// Iterations of a repeated instruction done in one handler call.
pub(crate) const MAX_ITERATIONS: u64 = 1 << 16;

/// Cycles per MOVS/STOS/LODS iteration beyond the first. Source: Agner Fog,
/// instruction tables, Skylake: REP MOVS/STOS take about one cycle per
/// element for small counts. Estimate (fast-string bulk rates for large
/// counts are not modeled).
pub(crate) const PER_ELEMENT_MOVE: u64 = 1;

/// Cycles per CMPS/SCAS iteration beyond the first. Source: Agner Fog,
/// instruction tables, Skylake (REPE CMPS / REPNE SCAS are several times
/// slower per element than REP MOVS). Estimate.
pub(crate) const PER_ELEMENT_COMPARE: u64 = 2;

const ES: u8 = SegReg::Es as u8;
const RAX: u8 = 0;
const RCX: u8 = 1;
const RSI: u8 = 6;
const RDI: u8 = 7;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    use Code::*;
    let op = match ins.code() {
        Movsb_m8_m8 | Movsw_m16_m16 | Movsd_m32_m32 | Movsq_m64_m64 => MOVS,
        Cmpsb_m8_m8 | Cmpsw_m16_m16 | Cmpsd_m32_m32 | Cmpsq_m64_m64 => CMPS,
        Scasb_AL_m8 | Scasw_AX_m16 | Scasd_EAX_m32 | Scasq_RAX_m64 => SCAS,
        Lodsb_AL_m8 | Lodsw_AX_m16 | Lodsd_EAX_m32 | Lodsq_RAX_m64 => LODS,
        Stosb_m8_AL | Stosw_m16_AX | Stosd_m32_EAX | Stosq_m64_RAX => STOS,
        _ => return None,
    };
    let asize = (0..ins.op_count()).find_map(|n| match ins.op_kind(n) {
        OpKind::MemorySegSI | OpKind::MemoryESDI => Some(2u8),
        OpKind::MemorySegESI | OpKind::MemoryESEDI => Some(4),
        OpKind::MemorySegRSI | OpKind::MemoryESRDI => Some(8),
        _ => None,
    })?;
    let compare = op == CMPS || op == SCAS;
    let rep = if compare && ins.has_repne_prefix() {
        REPNE
    } else if ins.has_repe_prefix() || ins.has_repne_prefix() {
        REPE
    } else {
        ONCE
    };
    Some(match op {
        MOVS => by_rep::<MOVS>(rep, asize),
        CMPS => by_rep::<CMPS>(rep, asize),
        SCAS => by_rep::<SCAS>(rep, asize),
        LODS => by_rep::<LODS>(rep, asize),
        _ => by_rep::<STOS>(rep, asize),
    })
}

fn by_rep<const OP: u8>(rep: u8, asize: u8) -> Handler {
    match rep {
        ONCE => by_asize::<OP, ONCE>(asize),
        REPE => by_asize::<OP, REPE>(asize),
        _ => by_asize::<OP, REPNE>(asize),
    }
}

fn by_asize<const OP: u8, const REP: u8>(asize: u8) -> Handler {
    match asize {
        2 => string::<OP, REP, 2>,
        4 => string::<OP, REP, 4>,
        _ => string::<OP, REP, 8>,
    }
}

/// The handler: one iteration, or the repetition (see the module docs).
extern "C" fn string<const OP: u8, const REP: u8, const A: u8>(
    c: &mut Cpu,
    i: &Insn,
) -> Result<(), Exception> {
    let size = i.size;
    let seg = i.mem.seg;
    if REP == ONCE {
        return iteration::<OP, A>(c, seg, size);
    }
    let count = c.rd(RCX, A);
    if count == 0 {
        return Ok(());
    }
    let budget = count.min(MAX_ITERATIONS);
    let compare = OP == CMPS || OP == SCAS;
    let mut done = 0u64;
    let mut stopped = false;
    let mut result = Ok(());
    while done < budget {
        let n = match OP {
            MOVS | STOS => bulk_move::<OP, A>(c, seg, size, budget - done),
            CMPS | SCAS => bulk_compare::<OP, REP, A>(c, seg, size, budget - done),
            _ => 0,
        };
        if n > 0 {
            done += n;
        } else if let Err(e) = iteration::<OP, A>(c, seg, size) {
            result = Err(e);
            break;
        } else {
            done += 1;
        }
        if compare {
            let zf = c.rflags & ZF != 0;
            if (REP == REPE && !zf) || (REP == REPNE && zf) {
                stopped = true;
                break;
            }
        }
    }
    let left = count - done;
    if done > 0 {
        // Not when the first iteration faulted: a 32-bit write would
        // zero-extend RCX, and a faulting instruction changes nothing.
        c.wr(RCX, A, left);
    }
    let per = if compare {
        PER_ELEMENT_COMPARE
    } else {
        PER_ELEMENT_MOVE
    };
    let extra = if result.is_err() {
        // The completed iterations are charged; the run loop charges
        // nothing for a faulting instruction.
        done * per
    } else if left == 0 || stopped {
        // Retires: the run loop adds the instruction's own cost, which
        // covers the first iteration of this pass.
        (done - 1) * per
    } else {
        // More to do: run again from the same instruction. The run loop
        // adds the instruction's cost for this pass; take it back so only
        // the iterations done are charged (the final pass pays for the
        // instruction). A partial pass did MAX_ITERATIONS iterations, far
        // more than the instruction's own cost.
        c.rip = i.ip();
        (done * per).saturating_sub(i.cycles as u64)
    };
    charge(c, extra);
    result
}

/// Charges `n` cycles beyond the instruction's decoded cost (the run loop
/// derives [`Cpu::cycles`] from `block_cycles` when the block ends).
#[inline(always)]
fn charge(c: &mut Cpu, n: u64) {
    c.block_cycles = c.block_cycles.wrapping_add(n);
    c.cycles = c.cycles.wrapping_add(n);
}

/// The signed step of rSI/rDI for an element of `size` bytes.
#[inline(always)]
fn delta(c: &Cpu, size: u8) -> u64 {
    if c.rflags & DF != 0 {
        (size as u64).wrapping_neg()
    } else {
        size as u64
    }
}

/// One iteration of the string operation: all checks come before any
/// state is written, so a fault changes nothing.
#[inline(always)]
fn iteration<const OP: u8, const A: u8>(c: &mut Cpu, seg: u8, size: u8) -> Result<(), Exception> {
    let d = delta(c, size);
    let si = c.rd(RSI, A);
    let di = c.rd(RDI, A);
    match OP {
        MOVS => {
            let v = c.read_mem(seg, si, size)?;
            let loc = c.locate_write(ES, di, size)?;
            c.store(loc, v);
            c.wr(RSI, A, si.wrapping_add(d));
            c.wr(RDI, A, di.wrapping_add(d));
        }
        CMPS => {
            // CMPS compares SRC1 = [seg:rSI] with SRC2 = ES:[rDI]
            // (temp = SRC1 - SRC2, flags as CMP).
            let a = c.read_mem(seg, si, size)?;
            let b = c.read_mem(ES, di, size)?;
            let (_, f) = flags::sub(a, b, 0, size);
            set_flags(c, STATUS, f);
            c.wr(RSI, A, si.wrapping_add(d));
            c.wr(RDI, A, di.wrapping_add(d));
        }
        SCAS => {
            let b = c.read_mem(ES, di, size)?;
            let a = c.rd(RAX, size);
            let (_, f) = flags::sub(a, b, 0, size);
            set_flags(c, STATUS, f);
            c.wr(RDI, A, di.wrapping_add(d));
        }
        LODS => {
            let v = c.read_mem(seg, si, size)?;
            c.wr(RAX, size, v);
            c.wr(RSI, A, si.wrapping_add(d));
        }
        _ => {
            let v = c.rd(RAX, size);
            c.write_mem(ES, di, size, v)?;
            c.wr(RDI, A, di.wrapping_add(d));
        }
    }
    Ok(())
}

/// How many elements of `size` bytes, starting with the one at linear
/// `lin` and going up (or down when `back`), lie in its page; 0 when the
/// first element crosses the page end.
#[inline(always)]
fn in_page(lin: u64, size: u64, back: bool) -> u64 {
    let off = lin & (PAGE_SIZE - 1);
    if off + size > PAGE_SIZE {
        0
    } else if back {
        off / size + 1
    } else {
        (PAGE_SIZE - off) / size
    }
}

/// How many elements fit between offset `off` and the end (or start) of
/// the address space of the address size, without the offset wrapping.
#[inline(always)]
fn in_space(off: u64, size: u64, back: bool, am: u64) -> u64 {
    // The count can reach 2^64 (offset 0 or all-ones with 64-bit
    // addressing and 1-byte elements); it is only an upper bound, so it
    // saturates.
    let n = if back {
        off as u128 / size as u128 + 1
    } else {
        (am as u128 - off as u128 + 1) / size as u128
    };
    n.min(u64::MAX as u128) as u64
}

/// A run of elements that lies in one linear page on each side, checked
/// and translated: `src`/`dst` are the physical addresses of the lowest
/// element (for DF = 1 the run goes down from the current rSI/rDI).
struct Run {
    n: u64,
    src: u64,
    dst: u64,
    back: bool,
}

/// Plans a run of up to `max` elements from [seg:rSI] (when `src`) and
/// ES:[rDI] (written when `write`): every segmentation and paging check
/// of the whole run is done here, source first as in the element loop.
/// `None` when fewer than two elements qualify or any check fails; the
/// caller then runs one ordinary iteration, which raises the fault in
/// order.
#[inline(always)]
fn plan<const A: u8>(
    c: &mut Cpu,
    seg: u8,
    size: u8,
    max: u64,
    src: bool,
    write: bool,
) -> Option<Run> {
    if max < 2 {
        return None;
    }
    let am = mask(A);
    let sz = size as u64;
    let back = c.rflags & DF != 0;
    let di = c.rd(RDI, A);
    let si = c.rd(RSI, A);
    let slin = if src {
        c.linear(seg, si, size, false).ok()?
    } else {
        0
    };
    let dlin = c.linear(ES, di, size, write).ok()?;
    let mut n = max
        .min(in_page(dlin, sz, back))
        .min(in_space(di, sz, back, am));
    if src {
        n = n
            .min(in_page(slin, sz, back))
            .min(in_space(si, sz, back, am));
    }
    if n < 2 {
        return None;
    }
    // Segment limits are intervals: the first and last elements passing
    // means every element between does.
    let span = (n - 1) * sz;
    let last = |off: u64| {
        if back {
            off.wrapping_sub(span)
        } else {
            off.wrapping_add(span)
        }
    };
    if src {
        c.linear(seg, last(si), size, false).ok()?;
    }
    c.linear(ES, last(di), size, write).ok()?;
    // Paging (and #AC: every element has the first one's alignment).
    let spa = if src {
        c.translate(slin, size, AccessKind::Read).ok()?.pa
    } else {
        0
    };
    let kind = if write {
        AccessKind::Write
    } else {
        AccessKind::Read
    };
    let dpa = c.translate(dlin, size, kind).ok()?.pa;
    let (spa, dpa) = if back {
        (spa.wrapping_sub(span), dpa.wrapping_sub(span))
    } else {
        (spa, dpa)
    };
    Some(Run {
        n,
        src: spa,
        dst: dpa,
        back,
    })
}

/// Advances rSI (when `src`) and rDI past `n` elements.
#[inline(always)]
fn advance<const A: u8>(c: &mut Cpu, n: u64, size: u8, back: bool, src: bool) {
    let bytes = n * size as u64;
    let d = if back { bytes.wrapping_neg() } else { bytes };
    if src {
        let si = c.rd(RSI, A);
        c.wr(RSI, A, si.wrapping_add(d));
    }
    let di = c.rd(RDI, A);
    c.wr(RDI, A, di.wrapping_add(d));
}

/// Moves a run of up to `max` MOVS/STOS elements at once and returns how
/// many; 0 when the run cannot be proven to behave exactly like the
/// element-by-element loop.
#[inline(never)]
fn bulk_move<const OP: u8, const A: u8>(c: &mut Cpu, seg: u8, size: u8, max: u64) -> u64 {
    let Some(run) = plan::<A>(c, seg, size, max, OP == MOVS, true) else {
        return 0;
    };
    let mut buf = [0u8; PAGE_SIZE as usize];
    let Some(chunk) = buf.get_mut(..(run.n * size as u64) as usize) else {
        return 0;
    };
    if OP == MOVS {
        // An element must never read bytes an earlier element wrote: going
        // up that happens when the destination starts inside the source
        // range, going down when the source starts inside the destination.
        let nb = chunk.len() as u64;
        let (s, d) = (run.src, run.dst);
        let hazard = if run.back {
            d < s && s < d.wrapping_add(nb)
        } else {
            s < d && d < s.wrapping_add(nb)
        };
        if hazard {
            return 0;
        }
        c.mmu.phys.read(s, chunk);
    } else {
        // The element repeated over eight bytes; runs start on an element
        // boundary, so byte k of the run is byte k % 8 of this.
        let v = c.rd(RAX, size);
        let pattern = match size {
            1 => v.wrapping_mul(0x0101_0101_0101_0101),
            2 => v.wrapping_mul(0x0001_0001_0001_0001),
            4 => v | (v << 32),
            _ => v,
        }
        .to_le_bytes();
        let mut words = chunk.chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&pattern);
        }
        let rest = words.into_remainder();
        let tail = rest.len();
        rest.copy_from_slice(&pattern[..tail]);
    }
    c.mmu.phys.write(run.dst, chunk);
    advance::<A>(c, run.n, size, run.back, OP == MOVS);
    run.n
}

/// The little-endian element of `size` bytes at `at` in `b` (0 when out of
/// range, which the callers' bounds rule out).
#[inline(always)]
fn le(b: &[u8], at: usize, size: u8) -> u64 {
    fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        b.get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; N])
    }
    match size {
        1 => get::<1>(b, at)[0] as u64,
        2 => u16::from_le_bytes(get(b, at)) as u64,
        4 => u32::from_le_bytes(get(b, at)) as u64,
        _ => u64::from_le_bytes(get(b, at)),
    }
}

/// Runs up to `max` REPE/REPNE CMPS/SCAS iterations over a run at once:
/// stops after the element that ends the repetition, sets the flags of the
/// last comparison and returns how many elements were compared (0 when no
/// run qualifies).
#[inline(never)]
fn bulk_compare<const OP: u8, const REP: u8, const A: u8>(
    c: &mut Cpu,
    seg: u8,
    size: u8,
    max: u64,
) -> u64 {
    let Some(run) = plan::<A>(c, seg, size, max, OP == CMPS, false) else {
        return 0;
    };
    let sz = size as usize;
    let bytes = run.n as usize * sz;
    let mut dbuf = [0u8; PAGE_SIZE as usize];
    let mut sbuf = [0u8; PAGE_SIZE as usize];
    let (Some(dchunk), Some(schunk)) = (dbuf.get_mut(..bytes), sbuf.get_mut(..bytes)) else {
        return 0;
    };
    c.mmu.phys.read(run.dst, dchunk);
    if OP == CMPS {
        c.mmu.phys.read(run.src, schunk);
    }
    let acc = c.rd(RAX, size);
    let n = run.n as usize;
    let (mut a, mut b) = (0, 0);
    let mut done = 0;
    while done < n {
        let k = if run.back { n - 1 - done } else { done };
        let at = k * sz;
        b = le(dchunk, at, size);
        a = if OP == CMPS {
            le(schunk, at, size)
        } else {
            acc
        };
        done += 1;
        if (REP == REPE) != (a == b) {
            break;
        }
    }
    let (_, f) = flags::sub(a, b, 0, size);
    set_flags(c, STATUS, f);
    advance::<A>(c, done as u64, size, run.back, OP == CMPS);
    done as u64
}

#[cfg(test)]
mod tests;

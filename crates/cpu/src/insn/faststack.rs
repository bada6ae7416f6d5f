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

use iced_x86::{Code, Instruction, OpKind, Register};

use crate::decode::{Handler, Insn, Opnd};
use crate::exception::{Exception, STACK_RUN};
use crate::hostcache;
use crate::state::{Cpu, Rflags, SegReg, attr};

use super::stack;

pub(super) fn lookup(ins: &Instruction) -> Option<Handler> {
    Some(match ins.code() {
        Code::Push_r64 => push_r64,
        Code::Pushq_imm8 | Code::Pushq_imm32 => push_imm64,
        Code::Pop_r64 => pop_r64,
        Code::Push_rm64 if ins.op0_kind() == OpKind::Memory => {
            use crate::memory::{MEM64_ABS, MEM64_ANY, MEM64_BASE, MEM64_FSGS, mem64_form};
            match mem64_form(ins) {
                MEM64_BASE => push_m64::<MEM64_BASE>,
                MEM64_FSGS => push_m64::<MEM64_FSGS>,
                MEM64_ABS => push_m64::<MEM64_ABS>,
                _ => push_m64::<MEM64_ANY>,
            }
        }
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
///
/// `extern "C"`, like the handlers, so that its result comes back in two
/// registers: with the Rust ABI it is written to a stack slot, the
/// handler's fast path then stores `Ok`'s two-byte tag in the same slot
/// and reloads all eight bytes, and that load cannot be forwarded from
/// the narrower store (measured: 6% of the host time of a getpid round
/// trip went to the first push of the entry stub).
#[cold]
#[inline(never)]
extern "C" fn push64_slow(c: &mut Cpu, sp: u64, v: u64) -> Result<(), Exception> {
    c.write_mem(SegReg::Ss as u8, sp, 8, v)?;
    c.gpr[4] = sp;
    Ok(())
}

/// PUSH r64 (the value before the decrement for PUSH RSP).
extern "C" fn push_r64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.gpr[i.reg[0] as usize & 15];
    push64(c, v)
}

/// PUSH imm8/imm32, sign-extended to 64 bits at decode.
extern "C" fn push_imm64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    push64(c, i.imm)
}

/// PUSH m64 (the operand is read with RSP before the push, as an RSP-based
/// operand requires), through the host-pointer cache, else generically.
extern "C" fn push_m64<const FORM: u8>(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    if let Some(v) = c.read_cached64::<FORM>(i, 8) {
        let sp = c.gpr[4].wrapping_sub(8);
        if let Some(ctx) = stack_ctx(c, sp)
            && c.host.write(sp, 8, ctx, v)
        {
            c.gpr[4] = sp;
            return Ok(());
        }
    }
    generic(c, i)
}

/// POP r64: the read is checked before RSP moves; the popped value is
/// written last, so POP RSP leaves it in RSP.
extern "C" fn pop_r64(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
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
extern "C" fn pop_r64_slow(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
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
extern "C" fn generic(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
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
extern "C" fn push_r32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    let v = c.gpr[i.reg[0] as usize & 15] & 0xFFFF_FFFF;
    push32(c, i, v)
}

/// PUSH imm8/imm32 with a 32-bit operand size.
extern "C" fn push_imm32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    push32(c, i, i.imm & 0xFFFF_FFFF)
}

/// POP r32 (zero-extending the register as every 32-bit write does).
extern "C" fn pop_r32(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
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

/// The width and direction of a stack operation that may join a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RunKind {
    Push64,
    Pop64,
    Push32,
    Pop32,
}

/// The run a decoded instruction may join: the forms this module
/// specializes, except PUSH/POP (E/R)SP (the first pushes the value before
/// its own decrement, the second moves the stack the rest of a run uses).
fn run_kind(i: &Insn) -> Option<RunKind> {
    let not_sp = i.reg[0] & 15 != 4;
    Some(match i.ins.code() {
        Code::Push_r64 if not_sp => RunKind::Push64,
        Code::Pushq_imm8 | Code::Pushq_imm32 => RunKind::Push64,
        Code::Pop_r64 if not_sp => RunKind::Pop64,
        Code::Push_r32 if not_sp => RunKind::Push32,
        Code::Pushd_imm8 | Code::Pushd_imm32 => RunKind::Push32,
        Code::Pop_r32 if not_sp => RunKind::Pop32,
        _ => return None,
    })
}

/// What a 64-bit stack operation that may join a stack-frame run does
/// (its tag in `Insn::cond`; bit 3 there says the run it starts writes).
mod op {
    /// PUSH r64 (not RSP) or PUSH imm.
    pub const PUSH: u8 = 0;
    /// POP r64 (not RSP).
    pub const POP: u8 = 1;
    /// MOV r64, [RSP + disp] (not into RSP).
    pub const LOAD: u8 = 2;
    /// MOV [RSP + disp], r64 (not from RSP).
    pub const STORE: u8 = 3;
    /// MOV RSP, [RSP + disp]: moves the stack, so it can only end a run.
    pub const LOAD_SP: u8 = 4;
    /// The run starting here writes memory.
    pub const WRITES: u8 = 8;
    /// Bits 7:4: how many operations of this kind follow in a row, this
    /// one first (at most 15).
    pub const STRETCH_SHIFT: u8 = 4;
}

/// The stack-frame kind of a 64-bit instruction ([`op`]): the PUSH/POP
/// forms of [`run_kind`] and MOV between a 64-bit register and
/// `[RSP + disp]` through SS (no index, no segment override).
fn frame_op(i: &Insn) -> Option<u8> {
    let ins = &i.ins;
    let rsp_mem = |n: u32| {
        ins.op_kind(n) == OpKind::Memory
            && ins.memory_base() == Register::RSP
            && ins.memory_index() == Register::None
            && ins.memory_segment() == Register::SS
    };
    match ins.code() {
        Code::Push_r64 | Code::Pushq_imm8 | Code::Pushq_imm32 | Code::Pop_r64 => {
            match run_kind(i)? {
                RunKind::Push64 => Some(op::PUSH),
                RunKind::Pop64 => Some(op::POP),
                _ => None,
            }
        }
        Code::Mov_r64_rm64 if rsp_mem(1) => Some(if ins.op0_register() == Register::RSP {
            op::LOAD_SP
        } else {
            op::LOAD
        }),
        Code::Mov_rm64_r64 if rsp_mem(0) && ins.op1_register() != Register::RSP => Some(op::STORE),
        _ => None,
    }
}

/// The stack-frame run starting at some instruction, seen from the back
/// of the block: its length, the bytes it accesses relative to RSP before
/// it, and what it holds.
#[derive(Clone, Copy, Default)]
struct FrameRun {
    len: u8,
    lo: i64,
    hi: i64,
    writes: bool,
    pushes_only: bool,
    pops_only: bool,
}

impl FrameRun {
    /// The run of the single operation `kind` with displacement `disp`.
    fn single(kind: u8, disp: i64) -> FrameRun {
        let (lo, hi) = match kind {
            op::PUSH => (-8, 0),
            op::POP => (0, 8),
            _ => (disp, disp + 8),
        };
        FrameRun {
            len: 1,
            lo,
            hi,
            writes: matches!(kind, op::PUSH | op::STORE),
            pushes_only: kind == op::PUSH,
            pops_only: kind == op::POP,
        }
    }

    /// `kind` (displacement `disp`) followed by the run `next`, when all of
    /// it fits in one page's worth of bytes.
    fn join(kind: u8, disp: i64, next: FrameRun) -> Option<FrameRun> {
        if kind == op::LOAD_SP || next.len == 0 {
            return None;
        }
        let me = FrameRun::single(kind, disp);
        let delta = match kind {
            op::PUSH => -8,
            op::POP => 8,
            _ => 0,
        };
        let lo = me.lo.min(next.lo + delta);
        let hi = me.hi.max(next.hi + delta);
        let fits = hi - lo <= 0x1000 && lo >= i16::MIN as i64 && hi <= i16::MAX as i64;
        fits.then_some(FrameRun {
            len: next.len.saturating_add(1),
            lo,
            hi,
            writes: me.writes || next.writes,
            pushes_only: me.pushes_only && next.pushes_only,
            pops_only: me.pops_only && next.pops_only,
        })
    }
}

/// Marks in each instruction of a block the length of the stack run it
/// starts (`Insn::run`, 0 when shorter than two): in 32-bit code a run of
/// pushes or of pops; in 64-bit code a run of pushes, pops and moves
/// between registers and `[RSP + disp]` whose accesses fit in a page
/// (a stack-frame run, with its extent in `Insn::frame` unless it is all
/// pushes or all pops). Such runs build and unwind `pt_regs` in every
/// kernel entry, and save, spill and restore registers in function
/// prologues, bodies and epilogues.
pub(crate) fn mark_runs(insns: &mut [Insn]) {
    let mut next: Option<RunKind> = None;
    let mut len = 0u8;
    let mut frame = FrameRun::default();
    // The kind of the operation after this one in its run, and how many of
    // that kind follow in a row.
    let mut stretch = (u8::MAX, 0u8);
    for i in insns.iter_mut().rev() {
        i.frame = [0, 0];
        if let Some(kind) = frame_op(i) {
            let disp = i.ins.memory_displacement64() as i64;
            frame = match FrameRun::join(kind, disp, frame) {
                Some(f) => f,
                None => {
                    stretch = (u8::MAX, 0);
                    FrameRun::single(kind, disp)
                }
            };
            stretch = if stretch.0 == kind {
                (kind, (stretch.1 + 1).min(15))
            } else {
                (kind, 1)
            };
            i.cond =
                kind | if frame.writes { op::WRITES } else { 0 } | stretch.1 << op::STRETCH_SHIFT;
            i.run = if frame.len >= 2 { frame.len } else { 0 };
            if i.run != 0 && !frame.pushes_only && !frame.pops_only {
                i.frame = [frame.lo as i16, frame.hi as i16];
            }
            next = None;
        } else {
            frame = FrameRun::default();
            stretch = (u8::MAX, 0);
            let kind = run_kind(i);
            len = match kind {
                Some(_) if kind == next => len.saturating_add(1),
                Some(_) => 1,
                None => 0,
            };
            i.run = if len >= 2 { len } else { 0 };
            next = kind;
        }
        if i.run != 0 {
            i.exec = run_start;
        }
    }
}

/// The handler of an instruction that starts a run: see [`STACK_RUN`].
extern "C" fn run_start(_: &mut Cpu, _: &Insn) -> Result<(), Exception> {
    Err(STACK_RUN)
}

/// Executes one instruction of a run by itself (its own handler: the one
/// decoding chose before `mark_runs` replaced it, the specialized stack
/// and MOV families tried first).
#[inline(never)]
pub(crate) fn execute_one(c: &mut Cpu, i: &Insn) -> Result<(), Exception> {
    lookup(&i.ins)
        .or_else(|| super::fast::lookup(&i.ins))
        .unwrap_or_else(|| super::handler(&i.ins))(c, i)
}

/// Executes a run marked by [`mark_runs`] at once when every access of it
/// lies in one page that the host-pointer cache holds for this access (the
/// condition under which each single handler above takes its fast path,
/// and then no instruction of the run can fault): the stack gets the same
/// bytes and the registers the same values as executing the instructions
/// one by one would give. Returns false, having changed nothing, when the
/// run must be executed instruction by instruction.
#[inline]
pub(crate) fn execute_run(c: &mut Cpu, run: &[Insn]) -> bool {
    if run[0].frame[1] > run[0].frame[0] {
        return frame_run64(c, run);
    }
    match run_kind(&run[0]) {
        Some(RunKind::Push64) => push_run64(c, run),
        Some(RunKind::Pop64) => pop_run64(c, run),
        Some(RunKind::Push32) => push_run32(c, run),
        Some(RunKind::Pop32) => pop_run32(c, run),
        None => false,
    }
}

/// The value a push of a run stores (a register, or the immediate already
/// sign-extended at decode).
#[inline(always)]
fn pushed(c: &Cpu, i: &Insn) -> u64 {
    if matches!(i.ops[0], Opnd::Imm) {
        i.imm
    } else {
        c.gpr[i.reg[0] as usize & 15]
    }
}

/// True when the `bytes` bytes starting at `low` neither wrap around nor
/// cross a page boundary.
#[inline(always)]
fn one_page(low: u64, bytes: u64) -> bool {
    let high = low.wrapping_add(bytes);
    high > low && (low ^ (high - 1)) & !0xFFF == 0
}

fn push_run64(c: &mut Cpu, run: &[Insn]) -> bool {
    let sp = c.gpr[4];
    let bytes = 8 * run.len() as u64;
    let low = sp.wrapping_sub(bytes);
    if !one_page(low, bytes) {
        return false;
    }
    let Some(page) = stack_ctx(c, low).and_then(|ctx| c.host.write_page(low, ctx)) else {
        return false;
    };
    let mut off = (low & 0xFFF) as usize + bytes as usize;
    for i in run {
        off -= 8;
        let v = pushed(c, i);
        // SAFETY: `page` is a resident page of this Cpu's memory cached
        // for writing (hostcache.rs), and `off + 8 <= 4096` because the
        // run's bytes lie in that one page.
        unsafe { page.add(off).cast::<u64>().write_unaligned(v.to_le()) };
    }
    c.gpr[4] = low;
    true
}

fn pop_run64(c: &mut Cpu, run: &[Insn]) -> bool {
    let sp = c.gpr[4];
    let bytes = 8 * run.len() as u64;
    if !one_page(sp, bytes) {
        return false;
    }
    let Some(page) = stack_ctx(c, sp).and_then(|ctx| c.host.read_page(sp, ctx)) else {
        return false;
    };
    let mut off = (sp & 0xFFF) as usize;
    for i in run {
        // SAFETY: as in `push_run64`, for a page cached for reading.
        let v = unsafe { u64::from_le(page.add(off).cast::<u64>().read_unaligned()) };
        c.gpr[i.reg[0] as usize & 15] = v;
        off += 8;
    }
    c.gpr[4] = sp + bytes;
    true
}

/// A stack-frame run in 64-bit code ([`mark_runs`]), in order, on the one
/// page its accesses lie in.
fn frame_run64(c: &mut Cpu, run: &[Insn]) -> bool {
    let first = &run[0];
    let [lo, hi] = first.frame.map(i64::from);
    let sp = c.gpr[4];
    let low = sp.wrapping_add(lo as u64);
    if !one_page(low, (hi - lo) as u64) {
        return false;
    }
    let Some(ctx) = stack_ctx(c, low) else {
        return false;
    };
    // A page cached for writing is readable too (writable implies
    // readable at every privilege, with or without protection keys).
    let page = if first.cond & op::WRITES != 0 {
        c.host.write_page(low, ctx)
    } else {
        c.host.read_page(low, ctx).map(|p| p as *mut u8)
    };
    let Some(page) = page else {
        return false;
    };
    // Offset in the page of the address RSP + `rel`, for the `rel` of every
    // access of the run (all within `[lo, hi)`).
    let at = |rel: i64| ((low & 0xFFF) as i64 + rel - lo) as usize;
    // RSP relative to its value before the run.
    let mut rel = 0i64;
    let read = |off: usize| {
        // SAFETY (every access of the run): `page` is a resident page of
        // this Cpu's memory cached for this access class (for writing when
        // the run writes), and each access's 8 bytes lie in `[lo, hi)`
        // relative to the starting RSP, which `one_page` placed in it.
        unsafe { u64::from_le(page.add(off).cast::<u64>().read_unaligned()) }
    };
    let write = |off: usize, v: u64| {
        // SAFETY: as for `read`.
        unsafe { page.add(off).cast::<u64>().write_unaligned(v.to_le()) }
    };
    let n = run.len();
    let mut k = 0;
    while k < n {
        let i = &run[k];
        let kind = i.cond & 7;
        // Consecutive pops, or pushes, in one tight loop each.
        let end = (k + (i.cond >> op::STRETCH_SHIFT) as usize).min(n);
        if kind == op::POP {
            let off = at(rel);
            for (j, p) in run[k..end].iter().enumerate() {
                c.gpr[p.reg[0] as usize & 15] = read(off + 8 * j);
            }
            rel += 8 * (end - k) as i64;
            k = end;
            continue;
        }
        if kind == op::PUSH {
            for p in &run[k..end] {
                rel -= 8;
                write(at(rel), pushed(c, p));
            }
            k = end;
            continue;
        }
        let off = at(rel + i.mem.disp as i64);
        match kind {
            op::LOAD => c.gpr[i.reg[0] as usize & 15] = read(off),
            op::STORE => write(off, c.gpr[i.reg[1] as usize & 15]),
            _ => {
                // op::LOAD_SP, the last of its run.
                c.gpr[4] = read(off);
                return true;
            }
        }
        k += 1;
    }
    c.gpr[4] = sp.wrapping_add(rel as u64);
    true
}

fn push_run32(c: &mut Cpu, run: &[Insn]) -> bool {
    let sp = c.gpr[4] & 0xFFFF_FFFF;
    let bytes = 4 * run.len() as u64;
    let low = sp.wrapping_sub(bytes);
    if low > sp || !one_page(low, bytes) {
        return false;
    }
    let Some(page) = flat_stack_ctx(c, low).and_then(|ctx| c.host.write_page(low, ctx)) else {
        return false;
    };
    let mut off = (low & 0xFFF) as usize + bytes as usize;
    for i in run {
        off -= 4;
        let v = pushed(c, i) as u32;
        // SAFETY: as in `push_run64`.
        unsafe { page.add(off).cast::<u32>().write_unaligned(v.to_le()) };
    }
    set_esp(c, low);
    true
}

fn pop_run32(c: &mut Cpu, run: &[Insn]) -> bool {
    let sp = c.gpr[4] & 0xFFFF_FFFF;
    let bytes = 4 * run.len() as u64;
    if sp + bytes > 1 << 32 || !one_page(sp, bytes) {
        return false;
    }
    let Some(page) = flat_stack_ctx(c, sp).and_then(|ctx| c.host.read_page(sp, ctx)) else {
        return false;
    };
    let mut off = (sp & 0xFFF) as usize;
    for i in run {
        // SAFETY: as in `pop_run64`.
        let v = unsafe { u32::from_le(page.add(off).cast::<u32>().read_unaligned()) };
        c.gpr[i.reg[0] as usize & 15] = v as u64;
        off += 4;
    }
    set_esp(c, sp + bytes);
    true
}

#[cfg(test)]
mod tests {
    use crate::Exit;
    use crate::exception::Exception;
    use crate::testutil::{asm, exec, fault, machine, run};
    use iced_x86::code_asm::*;

    /// Sees every instruction, so the run loop executes runs one by one.
    struct EveryInstruction;

    impl crate::run::Tracer for EveryInstruction {
        const PER_INSTRUCTION: bool = true;
    }

    /// Runs `code` three ways (whole runs, instruction by instruction under
    /// a tracer, and single steps) from the same start and checks that
    /// registers, the stack area, cycles and instruction counts agree.
    fn same_three_ways(bits: u32, code: &[u8], stack_top: u64) -> crate::run::Vcpu {
        let start = |v: &mut crate::run::Vcpu| {
            v.cpu.mmu.phys.write(crate::testutil::CODE, code);
            v.cpu.rip = crate::testutil::CODE;
            v.cpu.gpr[4] = stack_top;
            for (r, g) in v.cpu.gpr.iter_mut().enumerate() {
                if r != 4 {
                    *g = 0x1111_1111_1111_1111u64.wrapping_mul(r as u64 + 1) ^ 0x8000_0000;
                }
            }
        };
        let limit = crate::run::Limit::instructions(10_000);
        let mut fused = machine(bits);
        start(&mut fused);
        assert_eq!(fused.run(limit), Exit::Hlt);
        let mut traced = machine(bits);
        start(&mut traced);
        assert_eq!(traced.run_traced(limit, &mut EveryInstruction), Exit::Hlt);
        let mut stepped = machine(bits);
        start(&mut stepped);
        let mut steps = 0;
        while stepped.step().exit != Some(Exit::Hlt) {
            steps += 1;
            assert!(steps < 10_000, "no HLT");
        }
        let stack = |v: &mut crate::run::Vcpu| {
            let mut b = vec![0u8; 0x1000];
            v.cpu.mmu.phys.read(0x6800, &mut b);
            b
        };
        for other in [&mut traced, &mut stepped] {
            assert_eq!(fused.cpu.gpr, other.cpu.gpr);
            assert_eq!(fused.cpu.rip, other.cpu.rip);
            assert_eq!(fused.cpu.cycles, other.cpu.cycles);
            assert_eq!(fused.cpu.instructions, other.cpu.instructions);
            assert_eq!(stack(&mut fused), stack(other));
        }
        fused
    }

    #[test]
    fn runs_of_pushes_and_pops_match_single_instructions() {
        // Three rounds (the first fills the host-pointer cache): fifteen
        // pushes with an immediate among them, pops in another order, and
        // a run that crosses the page boundary at 0x7000.
        for stack_top in [0x7800u64, 0x7040, 0x7008] {
            let code = asm(64, |a| {
                a.mov(ecx, 3u32)?;
                let mut top = a.create_label();
                a.set_label(&mut top)?;
                for r in [rax, rdx, rbx, rbp, rsi, rdi, r8, r9] {
                    a.push(r)?;
                }
                a.push(-38i32)?;
                for r in [r10, r11, r12, r13, r14, r15] {
                    a.push(r)?;
                }
                for r in [
                    rax, rbx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15,
                ] {
                    a.pop(r)?;
                }
                a.pop(rdx)?;
                a.dec(ecx)?;
                a.jnz(top)
            });
            let v = same_three_ways(64, &code, stack_top);
            assert_eq!(v.cpu.gpr[4], stack_top);
        }
        for stack_top in [0x7800u64, 0x7010] {
            let code = asm(32, |a| {
                a.mov(ecx, 3u32)?;
                let mut top = a.create_label();
                a.set_label(&mut top)?;
                for r in [eax, edx, ebx, ebp, esi] {
                    a.push(r)?;
                }
                a.push(0x1234_5678i32)?;
                a.push(edi)?;
                for r in [edi, esi, ebx, edx, eax, ebp] {
                    a.pop(r)?;
                }
                a.pop(edx)?;
                a.dec(ecx)?;
                a.jnz(top)
            });
            same_three_ways(32, &code, stack_top);
        }
    }

    /// Decodes `n` instructions of 64-bit `code` and marks their runs.
    fn marked(code: &[u8], n: usize) -> Vec<crate::decode::Insn> {
        let mut d = iced_x86::Decoder::with_ip(64, code, 0, iced_x86::DecoderOptions::NONE);
        let mut insns: Vec<_> = (0..n)
            .map(|_| crate::decode::Insn::new(d.decode(), 64, 0))
            .collect();
        super::mark_runs(&mut insns);
        insns
    }

    #[test]
    fn runs_are_marked_and_stop_at_the_stack_pointer() {
        let code = asm(64, |a| {
            a.push(rax)?;
            a.push(1i32)?;
            a.push(rsp)?;
            a.push(rbx)?;
            a.push(rcx)?;
            a.pop(rdx)?;
            a.pop(rsp)?;
            a.pop(rsi)
        });
        let insns = marked(&code, 8);
        let runs: Vec<u8> = insns.iter().map(|i| i.run).collect();
        assert_eq!(runs, [2, 0, 0, 3, 2, 0, 0, 0]);
        // Only the mixed run has an extent: push, push, pop touch the 16
        // bytes below RSP.
        let frames: Vec<[i16; 2]> = insns.iter().map(|i| i.frame).collect();
        assert_eq!(frames[3], [-16, 0]);
        assert_eq!(frames[4], [-8, 0]);
        assert!(frames[..3].iter().chain(&frames[5..]).all(|f| *f == [0, 0]));
    }

    #[test]
    fn stack_frame_runs_end_at_a_load_of_rsp_and_stay_in_a_page() {
        let code = asm(64, |a| {
            a.mov(rcx, qword_ptr(rsp + 0x80))?;
            a.mov(qword_ptr(rsp + 0x58), rcx)?;
            a.pop(r15)?;
            a.mov(rsp, qword_ptr(rsp + 0x10))?;
            a.pop(rax)?;
            a.mov(rax, qword_ptr(rsp + 0x2000))?;
            a.mov(qword_ptr(rsp + 8), rax)?;
            a.mov(rax, qword_ptr(rsp + 8).fs())?;
            a.mov(rbx, qword_ptr(rsp + rcx + 8))?;
            a.mov(qword_ptr(rsp), rsp)
        });
        let insns = marked(&code, 10);
        let runs: Vec<u8> = insns.iter().map(|i| i.run).collect();
        // The load of RSP ends the first run; the 0x2000 displacement does
        // not fit a page with the next access; an FS override, an index
        // and a store of RSP join nothing.
        assert_eq!(runs, [4, 3, 2, 0, 0, 0, 0, 0, 0, 0]);
        // [rsp+0x58, +0x88) and the pop's [0, 8), then the load at 8+0x10.
        assert_eq!(insns[0].frame, [0, 0x88]);
        assert_eq!(insns[2].frame, [0, 0x20]);
        assert_eq!(insns[5].frame, [0, 0]);
    }

    #[test]
    fn stack_frame_runs_match_single_instructions() {
        // The exit path of entry_SYSCALL_64 (RSP-relative loads and
        // stores, pops, then RSP loaded from the frame) and a function's
        // spills and reloads around pushes, at stack tops that keep the
        // frame in one page or make it cross the boundary at 0x7000.
        for stack_top in [0x7800u64, 0x7100, 0x7010] {
            let code = asm(64, |a| {
                a.mov(ecx, 3u32)?;
                let mut top = a.create_label();
                a.set_label(&mut top)?;
                a.mov(r12, rsp)?;
                a.sub(rsp, 0x40)?;
                a.mov(qword_ptr(rsp + 0x38), r12)?;
                for r in [rax, rdx, rbx, rbp, rsi, rdi] {
                    a.push(r)?;
                }
                a.mov(r8, qword_ptr(rsp + 0x10))?;
                a.mov(r9, qword_ptr(rsp + 0x20))?;
                a.mov(qword_ptr(rsp + 0x10), r9)?;
                a.mov(qword_ptr(rsp + 0x20), r8)?;
                a.push(0x55i32)?;
                a.mov(qword_ptr(rsp + 0x48), rcx)?;
                for r in [r10, rdi, rsi, rbp, rbx, rdx, rax] {
                    a.pop(r)?;
                }
                a.mov(r11, qword_ptr(rsp + 0x38))?;
                a.mov(rsp, qword_ptr(rsp + 0x38))?;
                a.add(rax, r8)?;
                a.dec(ecx)?;
                a.jnz(top)
            });
            let v = same_three_ways(64, &code, stack_top);
            assert_eq!(v.cpu.gpr[4], stack_top, "top {stack_top:#x}");
            assert_eq!(v.cpu.gpr[11], stack_top, "top {stack_top:#x}");
        }
    }

    #[test]
    fn memory_forms_in_64_bit_code_use_segment_bases_and_address_size() {
        // GS-relative loads and stores, a push of a GS-relative operand,
        // an RSP-based push (the operand is read before RSP moves), and a
        // 32-bit address (0x67) that wraps to the low 4 GiB; run twice so
        // the second round takes the host-pointer cache.
        let code = asm(64, |a| {
            a.mov(ecx, 2u32)?;
            let mut top = a.create_label();
            a.set_label(&mut top)?;
            a.mov(qword_ptr(0x10).gs(), rbx)?;
            a.mov(rax, qword_ptr(0x10).gs())?;
            a.push(qword_ptr(0x10).gs())?;
            a.push(qword_ptr(rsp))?;
            a.pop(rdx)?;
            a.pop(rsi)?;
            a.mov(dword_ptr(edi + 0x20), esi)?;
            a.mov(r8d, dword_ptr(edi + 0x20))?;
            a.dec(ecx)?;
            a.jnz(top)
        });
        let mut v = machine(64);
        v.cpu.seg[crate::state::SegReg::Gs as usize].base = 0x4000;
        v.cpu.gpr[3] = 0x0123_4567_89AB_CDEF;
        v.cpu.gpr[7] = 0xFFFF_FFFF_FFFF_FFF0; // EDI + 0x20 wraps to 0x10
        assert_eq!(run(&mut v, &code), Exit::Hlt);
        assert_eq!(v.cpu.gpr[0], 0x0123_4567_89AB_CDEF);
        assert_eq!(v.cpu.gpr[2], 0x0123_4567_89AB_CDEF);
        assert_eq!(v.cpu.gpr[6], 0x0123_4567_89AB_CDEF);
        assert_eq!(v.cpu.gpr[8], 0x89AB_CDEF);
        assert_eq!(v.cpu.gpr[4], crate::testutil::STACK);
        assert_eq!(v.cpu.mmu.phys.read_u64(0x4010), 0x0123_4567_89AB_CDEF);
        assert_eq!(v.cpu.mmu.phys.read_u32(0x10), 0x89AB_CDEF);
    }

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

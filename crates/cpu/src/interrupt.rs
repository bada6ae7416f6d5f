//! Interrupt and exception delivery through the IVT (real-address mode)
//! or the IDT (protected, virtual-8086 and IA-32e mode), and the
//! double-fault rules.
//!
//! References: Intel SDM Vol. 3 §6.4-§6.15 (IDT, gates, privilege checks,
//! stack switching, error codes, Table 6-5 double faults), §6.14 (IA-32e
//! mode: 16-byte gates, IST, 16-byte stack alignment, SS:RSP always pushed,
//! SS = null with RPL = new CPL), §20.1.4 (real-mode IVT), §20.3
//! (interrupts from virtual-8086 mode), §17.3.1.1 (RF in the pushed
//! image), and the Vol. 2 page INT n/INTO/INT3/INT1 "Operation", whose
//! labels (REAL-ADDRESS-MODE, PROTECTED-MODE, IA-32e-MODE,
//! TRAP-OR-INTERRUPT-GATE, INTER-PRIVILEGE-LEVEL-INTERRUPT,
//! INTERRUPT-FROM-VIRTUAL-8086-MODE, INTRA-PRIVILEGE-LEVEL-INTERRUPT) name
//! the functions below.
//!
//! [`deliver`] performs every check of the SDM pseudo-code (IDT limit, gate
//! type, gate DPL for software interrupts, presence, the target code
//! segment, the new stack from the TSS or IST, room on the stack, the
//! handler's offset) before it commits anything, so a delivery that faults
//! leaves the interrupted context exactly as it was for the next delivery
//! attempt. [`raise`] chains attempts by the double-fault rules: a second
//! exception during delivery is delivered serially, or becomes #DF
//! (Table 6-5, [`Exception::escalates_with`]); an exception while
//! delivering #DF is a triple fault (shutdown).
//!
//! Error codes (SDM §6.13): a fault found while delivering an event names
//! the IDT entry (`vector << 3 | 2`, IDT bit set) or a selector; the EXT
//! bit (bit 0) is set unless the event is a software interrupt (INT n,
//! INT3, INTO; INT1 counts as external, as the Vol. 2 page says).
//!
//! Modeling notes (the "clear, documented faults" of this module):
//! - Task switching is not modeled: an IDT task gate that passes the
//!   limit, type, DPL and presence checks raises #GP with the IDT error
//!   code (`vector << 3 | 2 | EXT`) instead of switching tasks.
//! - Virtual-8086 mode extensions (CR4.VME interrupt redirection) are not
//!   modeled: INT n in virtual-8086 mode follows the CR4.VME = 0 rules
//!   (#GP(0) when IOPL < 3).
//! - Shadow stacks and indirect-branch tracking (CET) and FRED are not
//!   modeled.
//! - A vector beyond the IVT limit in real-address mode raises #GP as the
//!   Vol. 2 pseudo-code says; since delivering that #GP through a short IVT
//!   fails too, it escalates to #DF and then to a triple fault, which is
//!   the shutdown the SDM describes for a truncated real-mode IVT.
//! - The interrupt shadow after MOV SS/POP SS and STI only defers
//!   *external* interrupts and debug traps, which sysgate does not raise
//!   (there is no interrupt controller or single-step model); delivery of
//!   exceptions and software interrupts is never deferred by it.
//! - RF in the pushed (R/E)FLAGS image (SDM §17.3.1.1): 1 for
//!   fault-class exceptions (everything but the traps #BP and #OF, #DB and
//!   the #DF abort); for traps, software and external interrupts the
//!   current RF. Stack accesses during delivery are made at the new
//!   privilege level with the current RFLAGS.AC.

use crate::exception::Exception;
use crate::flags::mask;
use crate::memory::PhysLoc;
use crate::memory::is_canonical;
use crate::segmentation::{Descriptor, Fetched, SegLoad, is_null, sel_error};
use crate::state::{Cpu, Cr0, Rflags, SegReg, Segment};

/// What raised an event, which decides the privilege check on the gate
/// (software interrupts only), the EXT bit of nested error codes and the
/// error code pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// INT n (CD ib), including CD 03 and CD 04.
    IntN,
    /// INT3 (CC): #BP through the gate's DPL check, no IOPL check in
    /// virtual-8086 mode.
    Int3,
    /// INTO (CE) with OF = 1: #OF, as INT3.
    Into,
    /// INT1/ICEBP (F1): #DB without the gate DPL check; nested faults set
    /// EXT.
    Int1,
    /// A processor exception (faults push their error code).
    Exception(Exception),
    /// An external (hardware) interrupt.
    External,
}

impl Source {
    /// INT n, INT3 and INTO: the gate DPL must be >= CPL, and faults
    /// found while delivering them have EXT = 0.
    pub const fn is_software(self) -> bool {
        matches!(self, Source::IntN | Source::Int3 | Source::Into)
    }

    /// The EXT bit of error codes raised while delivering this event.
    pub const fn ext(self) -> u16 {
        if self.is_software() { 0 } else { 1 }
    }
}

/// An event to deliver through the IVT or IDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The vector (IDT/IVT index).
    pub vector: u8,
    /// What raised it.
    pub source: Source,
    /// The instruction pointer saved on the stack: the faulting
    /// instruction for faults, the next instruction for traps and
    /// software interrupts.
    pub return_rip: u64,
}

impl Event {
    /// Processor exception `e` returning to `return_rip`.
    pub const fn exception(e: Exception, return_rip: u64) -> Event {
        Event {
            vector: e.vector(),
            source: Source::Exception(e),
            return_rip,
        }
    }

    /// INT n.
    pub const fn software(vector: u8, return_rip: u64) -> Event {
        Event {
            vector,
            source: Source::IntN,
            return_rip,
        }
    }

    /// An external interrupt.
    pub const fn external(vector: u8, return_rip: u64) -> Event {
        Event {
            vector,
            source: Source::External,
            return_rip,
        }
    }

    /// The error code pushed (protected and IA-32e mode only).
    pub const fn error_code(&self) -> Option<u32> {
        match self.source {
            Source::Exception(e) => e.error_code(),
            _ => None,
        }
    }

    /// True when the pushed RFLAGS image has RF = 1 (SDM §17.3.1.1:
    /// fault-class exceptions other than instruction-breakpoint #DB).
    pub const fn sets_rf(&self) -> bool {
        match self.source {
            Source::Exception(e) => !e.is_trap() && !matches!(e, Exception::DB | Exception::DF),
            _ => false,
        }
    }
}

/// A successful delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// True when the stack pointer was loaded from the TSS (privilege
    /// change) or an IST slot.
    pub stack_switched: bool,
}

/// The result of [`raise`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raised {
    /// `exception` (the one raised, a second one delivered serially, or
    /// #DF) was delivered.
    Delivered {
        /// The exception whose handler now runs.
        exception: Exception,
        /// See [`Delivered::stack_switched`].
        stack_switched: bool,
    },
    /// The exception (first or a later one) has its bit set in the
    /// exception bitmap: nothing was delivered and the interrupted state
    /// is intact.
    Intercepted(Exception),
    /// An exception while delivering #DF: shutdown. Nothing was committed
    /// (CR2 may hold the address of a page fault met on the way).
    TripleFault,
}

/// Delivers exception `first` (returning to `return_rip`) by the
/// double-fault rules of SDM Vol. 3 §6.15 (Table 6-5): when delivery
/// raises a second exception, both are handled serially (the second is
/// delivered) unless the pair escalates to #DF; an exception during #DF
/// delivery is a triple fault. An exception whose bit is set in `bitmap`
/// is not delivered but reported as [`Raised::Intercepted`] (the VMX
/// exception bitmap). CR2 is loaded with the linear address of every page
/// fault that is raised and not intercepted. `seen` is called for every
/// exception raised during delivery.
pub fn raise(
    c: &mut Cpu,
    first: Exception,
    return_rip: u64,
    bitmap: u32,
    mut seen: impl FnMut(&Cpu, Exception),
) -> Raised {
    let mut cur = first;
    // Every failed attempt moves to a contributory or page-fault class
    // exception or to #DF, so this ends within a few rounds; the bound is
    // a guard.
    for _ in 0..8 {
        if bitmap & (1u32 << (cur.vector() & 31)) != 0 {
            return Raised::Intercepted(cur);
        }
        if let Exception::PF { addr, .. } = cur {
            c.cr2 = addr;
        }
        match deliver(c, &Event::exception(cur, return_rip)) {
            Ok(d) => {
                return Raised::Delivered {
                    exception: cur,
                    stack_switched: d.stack_switched,
                };
            }
            Err(second) => {
                seen(c, second);
                if cur == Exception::DF {
                    return Raised::TripleFault;
                }
                if cur.escalates_with(second) {
                    if let Exception::PF { addr, .. } = second {
                        c.cr2 = addr;
                    }
                    cur = Exception::DF;
                } else {
                    cur = second;
                }
            }
        }
    }
    Raised::TripleFault
}

/// Delivers `ev` through the IVT or IDT (SDM Vol. 2 INT n "Operation",
/// Vol. 3 §6.12, §6.14, §20.1.4). On failure returns the exception that
/// delivery raised and commits nothing; on success the handler's CS:RIP,
/// the stack and RFLAGS are loaded.
pub fn deliver(c: &mut Cpu, ev: &Event) -> Result<Delivered, Exception> {
    if c.ctrl.cr0 & Cr0::PE.bits() == 0 {
        return deliver_real(c, ev);
    }
    // Virtual-8086 mode with CR4.VME = 0: INT n (not INT3, INTO, INT1)
    // is #GP(0) unless IOPL = 3.
    if c.rflags & Rflags::VM.bits() != 0 && ev.source == Source::IntN && c.iopl() < 3 {
        return Err(Exception::GP(0));
    }
    let gate = read_gate(c, ev)?;
    if c.lma() {
        deliver_ia32e(c, ev, &gate)
    } else {
        deliver_protected(c, ev, &gate)
    }
}

/// ORs the EXT bit into the error code of a selector-type fault raised
/// by a shared segmentation check during delivery.
fn with_ext(e: Exception, ext: u16) -> Exception {
    match e {
        Exception::TS(x) => Exception::TS(x | ext),
        Exception::NP(x) => Exception::NP(x | ext),
        Exception::SS(x) => Exception::SS(x | ext),
        Exception::GP(x) => Exception::GP(x | ext),
        other => other,
    }
}

/// The RFLAGS image pushed for `ev`.
fn pushed_flags(c: &Cpu, ev: &Event) -> u64 {
    if ev.sets_rf() {
        c.rflags | Rflags::RF.bits()
    } else {
        c.rflags
    }
}

/// RFLAGS after a protected-mode or IA-32e delivery: TF, NT, VM and RF
/// cleared, IF too through an interrupt gate.
fn handler_flags(c: &Cpu, interrupt_gate: bool) -> u64 {
    let mut clear = Rflags::TF | Rflags::NT | Rflags::VM | Rflags::RF;
    if interrupt_gate {
        clear |= Rflags::IF;
    }
    c.rflags & !clear.bits()
}

/// REAL-ADDRESS-MODE: a 4-byte IVT entry (offset, segment) at IDTR.base +
/// 4 · vector; FLAGS, CS and IP pushed as words; IF, TF and AC cleared.
fn deliver_real(c: &mut Cpu, ev: &Event) -> Result<Delivered, Exception> {
    let v = ev.vector as u64;
    if v * 4 + 3 > c.idtr.limit as u64 {
        return Err(Exception::GP(0));
    }
    let entry = c.system_read(c.idtr.base.wrapping_add(v * 4), 4)?;
    let sm = mask(c.stack_size());
    let sp = c.sp();
    let vals = [
        c.rflags & 0xFFFF,
        c.seg[SegReg::Cs as usize].selector as u64,
        ev.return_rip & 0xFFFF,
    ];
    let mut locs = [NO_LOC; 3];
    for (k, loc) in locs.iter_mut().enumerate() {
        let a = sp.wrapping_sub(2 * (k as u64 + 1)) & sm;
        *loc = c.locate_write(SegReg::Ss as u8, a, 2)?;
    }
    for (loc, v) in locs.iter().zip(vals) {
        c.store(*loc, v);
    }
    c.set_sp(sp.wrapping_sub(6));
    c.rflags &= !(Rflags::IF | Rflags::TF | Rflags::AC).bits();
    c.seg[SegReg::Cs as usize] = c.real_segment(SegReg::Cs, (entry >> 16) as u16);
    c.rip = entry & 0xFFFF;
    Ok(Delivered {
        stack_switched: false,
    })
}

/// A gate read from the IDT and checked.
struct Gate {
    desc: Descriptor,
    /// Push size in bytes: 2 (16-bit gate), 4 (32-bit), 8 (64-bit).
    size: u8,
    /// Interrupt gate (clears IF) rather than trap gate.
    interrupt: bool,
}

/// Reads and checks the IDT entry of `ev` (PROTECTED-MODE and IA-32e-MODE
/// in the SDM): within the IDT limit and an interrupt, trap (or, outside
/// IA-32e mode, task) gate, else #GP(vector·8 + 2 + EXT); for software
/// interrupts gate DPL >= CPL, else #GP(vector·8 + 2); present, else
/// #NP(vector·8 + 2 + EXT). Task gates then raise #GP(vector·8 + 2 + EXT)
/// (task switching is not modeled, see the module notes).
fn read_gate(c: &mut Cpu, ev: &Event) -> Result<Gate, Exception> {
    let ext = ev.source.ext();
    let idt = ((ev.vector as u16) << 3) | 2;
    let bad = Exception::GP(idt | ext);
    let lma = c.lma();
    let len: u64 = if lma { 16 } else { 8 };
    let off = ev.vector as u64 * len;
    if off + len - 1 > c.idtr.limit as u64 {
        return Err(bad);
    }
    let lin = c.idtr.base.wrapping_add(off);
    if lma && (!is_canonical(lin) || !is_canonical(lin.wrapping_add(len - 1))) {
        return Err(bad);
    }
    let lo = c.system_read(lin, 8)?;
    let hi = if lma {
        c.system_read(lin.wrapping_add(8), 8)?
    } else {
        0
    };
    let desc = Descriptor { lo, hi };
    let (size, interrupt) = match (desc.system(), desc.ty(), lma) {
        (true, 0xE, true) => (8, true),
        (true, 0xF, true) => (8, false),
        (true, 0xE, false) => (4, true),
        (true, 0xF, false) => (4, false),
        (true, 0x6, false) => (2, true),
        (true, 0x7, false) => (2, false),
        // Task gate: passes the type check, handled below.
        (true, 0x5, false) => (0, false),
        _ => return Err(bad),
    };
    if ev.source.is_software() && desc.dpl() < c.cpl() {
        return Err(Exception::GP(idt));
    }
    if !desc.present() {
        return Err(Exception::NP(idt | ext));
    }
    if size == 0 {
        // TASK-GATE: a task switch, which sysgate does not model.
        return Err(bad);
    }
    Ok(Gate {
        desc,
        size,
        interrupt,
    })
}

/// TRAP-OR-INTERRUPT-GATE, the code-segment checks: null is #GP(EXT);
/// outside its table, not a code segment, DPL > CPL, or (IA-32e mode)
/// not a 64-bit code segment (L = 1, D = 0) is #GP(selector + EXT); not
/// present is #NP(selector + EXT).
fn gate_code(c: &mut Cpu, gate: &Gate, ext: u16) -> Result<Fetched, Exception> {
    let sel = gate.desc.gate_selector();
    if is_null(sel) {
        return Err(Exception::GP(ext));
    }
    let e = sel_error(sel) | ext;
    let f = c.read_descriptor_or(sel, Exception::GP(e))?;
    let d = f.desc;
    if !d.is_code() || d.dpl() > c.cpl() || (c.lma() && (!d.long() || d.big())) {
        return Err(Exception::GP(e));
    }
    if !d.present() {
        return Err(Exception::NP(e));
    }
    Ok(f)
}

const NO_LOC: PhysLoc = PhysLoc {
    pa: 0,
    pa2: 0,
    first: 0,
    size: 0,
};

/// The values of a stack frame, first pushed first.
struct Frame {
    vals: [u64; 10],
    n: usize,
}

impl Frame {
    fn new() -> Frame {
        Frame {
            vals: [0; 10],
            n: 0,
        }
    }

    fn push(&mut self, v: u64) {
        if let Some(slot) = self.vals.get_mut(self.n) {
            *slot = v;
            self.n += 1;
        }
    }
}

/// Translates the slots of `frame` below `top` on stack segment `ss`
/// (`flat`: a 64-bit stack) with `size`-byte pushes, the offsets wrapping
/// at `sm`; `fault` when a slot is outside the segment or not canonical.
#[allow(clippy::too_many_arguments)]
fn locate_frame(
    c: &mut Cpu,
    frame: &Frame,
    ss: &Segment,
    flat: bool,
    top: u64,
    sm: u64,
    size: u8,
    user: bool,
    fault: Exception,
) -> Result<[PhysLoc; 10], Exception> {
    let mut locs = [NO_LOC; 10];
    for (k, loc) in locs.iter_mut().enumerate().take(frame.n) {
        let a = top.wrapping_sub(size as u64 * (k as u64 + 1)) & sm;
        *loc = c.stack_slot(ss, flat, a, size, user, fault)?;
    }
    Ok(locs)
}

fn store_frame(c: &mut Cpu, frame: &Frame, locs: &[PhysLoc; 10], size: u8) {
    for (loc, v) in locs.iter().zip(frame.vals).take(frame.n) {
        c.store(*loc, v & mask(size));
    }
}

/// Protected mode and virtual-8086 mode (IA32_EFER.LMA = 0):
/// TRAP-OR-INTERRUPT-GATE, then INTER-PRIVILEGE-LEVEL-INTERRUPT,
/// INTERRUPT-FROM-VIRTUAL-8086-MODE or INTRA-PRIVILEGE-LEVEL-INTERRUPT.
fn deliver_protected(c: &mut Cpu, ev: &Event, gate: &Gate) -> Result<Delivered, Exception> {
    let ext = ev.source.ext();
    let cf = gate_code(c, gate, ext)?;
    let cd = cf.desc;
    let csel = gate.desc.gate_selector();
    let ce = Exception::GP(sel_error(csel) | ext);
    let cpl = c.cpl();
    let v86 = c.rflags & Rflags::VM.bits() != 0;
    let inner = !cd.conforming_code() && cd.dpl() < cpl;
    // From virtual-8086 mode only a non-conforming DPL 0 handler will do.
    if v86 && (!inner || cd.dpl() != 0) {
        return Err(ce);
    }
    let new_cpl = if inner { cd.dpl() } else { cpl };
    let size = gate.size;
    let mut frame = Frame::new();
    let (ss_load, new_esp, sm, fault) = if inner {
        // The new stack from the TSS, checked for the new CPL (#TS).
        let (ss_sel, sp) = c.tss_stack(new_cpl).map_err(|e| with_ext(e, ext))?;
        let ss = c
            .check_stack_segment(ss_sel, new_cpl, false, true)
            .map_err(|e| with_ext(e, ext))?;
        if v86 {
            for r in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                frame.push(c.seg[r as usize].selector as u64);
            }
        }
        frame.push(c.seg[SegReg::Ss as usize].selector as u64);
        frame.push(c.gpr[4]);
        let sm = if ss.seg.big() { 0xFFFF_FFFF } else { 0xFFFF };
        let fault = Exception::SS(sel_error(ss_sel) | ext);
        (Some(ss), sp, sm, fault)
    } else {
        let sm = mask(c.stack_size());
        (None, c.gpr[4], sm, Exception::SS(ext))
    };
    let top = new_esp & sm;
    frame.push(pushed_flags(c, ev));
    frame.push(c.seg[SegReg::Cs as usize].selector as u64);
    frame.push(ev.return_rip);
    if let Some(code) = ev.error_code() {
        frame.push(code as u64);
    }
    let ss_seg = ss_load.map_or(c.seg[SegReg::Ss as usize], |l| l.seg);
    let locs = locate_frame(
        c,
        &frame,
        &ss_seg,
        false,
        top,
        sm,
        size,
        new_cpl == 3,
        fault,
    )?;
    let mut ip = gate.desc.gate_offset(false);
    if size == 2 {
        ip &= 0xFFFF;
    }
    let cs_seg = cd.segment((csel & !3) | new_cpl as u16);
    if ip > cs_seg.limit as u64 {
        return Err(Exception::GP(ext));
    }
    let accessed = c.accessed_slot(&cf)?;
    // Commit.
    store_frame(c, &frame, &locs, size);
    let final_sp = top.wrapping_sub(size as u64 * frame.n as u64) & sm;
    match ss_load {
        Some(ss) => {
            // ESP := NewESP from the TSS, then the pushes (SP only on a
            // 16-bit stack).
            let esp = if ss.seg.big() {
                final_sp
            } else {
                (new_esp & 0xFFFF_0000) | final_sp
            };
            c.commit_segment(SegReg::Ss, ss);
            c.gpr[4] = esp;
        }
        None => c.set_sp(final_sp),
    }
    if v86 {
        // GS, FS, DS, ES := 0 (null, unusable in protected mode).
        for r in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
            c.seg[r as usize] = c.null_segment(r, 0, 0);
        }
    }
    c.commit_segment(
        SegReg::Cs,
        SegLoad {
            seg: cs_seg,
            accessed,
        },
    );
    c.rip = ip;
    c.rflags = handler_flags(c, gate.interrupt);
    Ok(Delivered {
        stack_switched: inner,
    })
}

/// IA-32e mode (SDM §6.14): TRAP-OR-INTERRUPT-GATE with a 64-bit target;
/// the stack is RSP (same privilege), RSPn of the TSS (privilege change)
/// or the gate's IST slot when its IST field is non-zero, aligned down to
/// 16 bytes; SS, RSP, RFLAGS, CS, RIP and the error code are pushed as
/// 8-byte values; on a privilege change SS becomes the null selector with
/// RPL = new CPL.
fn deliver_ia32e(c: &mut Cpu, ev: &Event, gate: &Gate) -> Result<Delivered, Exception> {
    let ext = ev.source.ext();
    let cf = gate_code(c, gate, ext)?;
    let cd = cf.desc;
    let csel = gate.desc.gate_selector();
    let cpl = c.cpl();
    let inner = !cd.conforming_code() && cd.dpl() < cpl;
    let new_cpl = if inner { cd.dpl() } else { cpl };
    let ist = (gate.desc.lo >> 32) & 7;
    let base = if ist != 0 {
        // IST1 is at TSS offset 0x24 (SDM Figure 8-11).
        c.tss_read(28 + 8 * ist, 8).map_err(|e| with_ext(e, ext))?
    } else if inner {
        c.tss_stack(new_cpl).map_err(|e| with_ext(e, ext))?.1
    } else {
        c.gpr[4]
    };
    let top = base & !0xF;
    let mut frame = Frame::new();
    frame.push(c.seg[SegReg::Ss as usize].selector as u64);
    frame.push(c.gpr[4]);
    frame.push(pushed_flags(c, ev));
    frame.push(c.seg[SegReg::Cs as usize].selector as u64);
    frame.push(ev.return_rip);
    if let Some(code) = ev.error_code() {
        frame.push(code as u64);
    }
    let ss = c.seg[SegReg::Ss as usize];
    let locs = locate_frame(
        c,
        &frame,
        &ss,
        true,
        top,
        u64::MAX,
        8,
        new_cpl == 3,
        Exception::SS(ext),
    )?;
    let ip = gate.desc.gate_offset(true);
    if !is_canonical(ip) {
        return Err(Exception::GP(ext));
    }
    let accessed = c.accessed_slot(&cf)?;
    // Commit.
    store_frame(c, &frame, &locs, 8);
    if inner {
        let null = c.null_segment(SegReg::Ss, new_cpl as u16, new_cpl);
        c.seg[SegReg::Ss as usize] = null;
    }
    c.gpr[4] = top.wrapping_sub(8 * frame.n as u64);
    c.commit_segment(
        SegReg::Cs,
        SegLoad {
            seg: cd.segment((csel & !3) | new_cpl as u16),
            accessed,
        },
    );
    c.rip = ip;
    c.rflags = handler_flags(c, gate.interrupt);
    Ok(Delivered {
        stack_switched: inner || ist != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_and_rf_follow_the_source() {
        assert_eq!(Source::IntN.ext(), 0);
        assert_eq!(Source::Int3.ext(), 0);
        assert_eq!(Source::Into.ext(), 0);
        assert_eq!(Source::Int1.ext(), 1);
        assert_eq!(Source::External.ext(), 1);
        assert_eq!(Source::Exception(Exception::UD).ext(), 1);
        assert!(Event::exception(Exception::GP(0), 0).sets_rf());
        assert!(Event::exception(Exception::PF { addr: 0, error: 0 }, 0).sets_rf());
        assert!(!Event::exception(Exception::BP, 0).sets_rf());
        assert!(!Event::exception(Exception::DB, 0).sets_rf());
        assert!(!Event::exception(Exception::DF, 0).sets_rf());
        assert!(!Event::software(0x80, 0).sets_rf());
        assert_eq!(Event::exception(Exception::DF, 0).error_code(), Some(0));
        assert_eq!(Event::software(8, 0).error_code(), None);
        assert_eq!(with_ext(Exception::TS(0x28), 1), Exception::TS(0x29));
        assert_eq!(with_ext(Exception::UD, 1), Exception::UD);
    }
}

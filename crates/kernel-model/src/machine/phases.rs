//! Per-system-call phase attribution: where the modeled cycles of one call
//! go, from the user-mode stub to the hardware exit.
//!
//! A call's cycles are split into the phases of [`PhaseCycles`]:
//! - **user stub**: the vDSO's `__kernel_vsyscall` from its first
//!   instruction up to (not including) the entry instruction; zero for
//!   programs that issue SYSCALL, SYSENTER or `int $0x80` themselves. The
//!   return through `int80_landing_pad` after the hardware exit is user
//!   code after the call and is not counted.
//! - **hardware entry**: the entry instruction itself (SYSCALL, SYSENTER,
//!   or the delivery of `int $0x80` through the IDT).
//! - **entry stub**: the kernel's entry code from its first instruction up
//!   to and including the hypercall that hands the call to Rust.
//! - **handler**: the Rust dispatcher and handler, charged the modeled
//!   estimate of [`handler_cycles`] (added to the CPU's cycle counter, so
//!   RDTSC and every total include it).
//! - **exit stub**: the kernel's code after the hypercall up to (not
//!   including) the exit instruction.
//! - **hardware exit**: SYSRET, SYSEXIT or IRET.
//!
//! The phases of a call that returns sum to the cycles between the first
//! instruction of its user stub (or its entry instruction) and the end of
//! its hardware exit. Time a call spends blocked (while other processes
//! run) or sleeping (`nanosleep` idles the modeled clock forward) belongs
//! to no phase.
//!
//! # How it is measured
//! Cheaply, from the run loop's transition reports, which arrive once per
//! basic block end even for a tracer with `PER_INSTRUCTION = false`:
//! the entry transition (CPL 3 to 0) gives the hardware entry's cycles and
//! the stamp where the entry stub starts; when it comes from the vDSO's
//! entry instruction, the block it ends began at `__kernel_vsyscall`
//! (reached by a `call`, which ends a block), so
//! [`Cpu::block_start_cycles`] stamps the stub's start. The hypercall exit
//! ends the entry stub; the handler's charge follows; the next return to
//! CPL 3 (SYSRET, SYSEXIT, IRET) ends the exit stub and gives the hardware
//! exit. Runs that stop inside the stub (instruction limits, breakpoints,
//! single steps) keep the stamp across the stop.

use std::collections::BTreeMap;

use sysgate_cpu::{Cpu, Exception, Insn, Tracer, Transition, TransitionKind};

pub use crate::audit::PhaseCycles;

use super::{Observer, SyscallEvent};

/// Estimate (not measured): cycles of the dispatch itself — Linux's
/// `do_syscall_64`/`do_int80_syscall_32` checking the number, the indirect
/// call through `sys_call_table`, and a trivial handler such as
/// `sys_getpid` — charged to every call that reaches the dispatcher.
pub const HANDLER_BASE_CYCLES: u64 = 40;

/// Estimate (not measured): bytes copied per cycle between user and kernel
/// memory (`copy_from_user`/`copy_to_user`, `rep movsb` on cache-resident
/// data: half of Skylake's one 32-byte store per cycle). Every byte a
/// handler reads from or writes to user memory is charged at this rate.
pub const COPY_BYTES_PER_CYCLE: u64 = 16;

/// The modeled cost of one handler invocation that copied `copied` bytes
/// between user and kernel memory: [`HANDLER_BASE_CYCLES`] plus
/// `copied / COPY_BYTES_PER_CYCLE` (rounded up). Both figures are
/// estimates.
pub const fn handler_cycles(copied: u64) -> u64 {
    HANDLER_BASE_CYCLES.saturating_add(copied.div_ceil(COPY_BYTES_PER_CYCLE))
}

/// A call between its hypercall and its hardware exit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InFlight {
    /// Whether it was recorded (its handler ran).
    pub recorded: bool,
    /// Its event, once recorded, when someone will want it at completion
    /// (events are collected; its `cycles` are set when it is reported).
    pub event: Option<SyscallEvent>,
    /// The event's index in `Machine::events`, when events are kept.
    pub index: Option<usize>,
    /// Its audit record's serial, if it was audited.
    pub serial: Option<u32>,
    /// The phases so far.
    pub phases: PhaseCycles,
    /// Cycle count where its exit stub began (the task resumed after the
    /// call completed).
    pub exit_from: Option<u64>,
    /// Cycle count after its hardware exit, once it returned to user mode
    /// (every phase known; the machine completes it at the next stop).
    pub returned_at: Option<u64>,
}

impl InFlight {
    /// Makes it `InFlight { phases, ..InFlight::default() }`, field by
    /// field: no copy of a whole default (the event's payload is dead
    /// while `event` is None).
    #[inline(always)]
    fn reset(&mut self, phases: PhaseCycles) {
        let InFlight {
            recorded,
            event,
            index,
            serial,
            phases: p,
            exit_from,
            returned_at,
        } = self;
        *recorded = false;
        *event = None;
        *index = None;
        *serial = None;
        *p = phases;
        *exit_from = None;
        *returned_at = None;
    }

    /// Whether the call is still to be completed when its task is switched
    /// away: blocked before it was recorded, or (never in practice)
    /// between its resumption and its hardware exit. A recorded call that
    /// has not resumed when its task is switched away ended the task.
    fn pending(&self) -> bool {
        (!self.recorded && self.phases != PhaseCycles::default()) || self.exit_from.is_some()
    }
}

/// The entry side of a call, between its entry transition and its
/// hypercall.
#[derive(Clone, Copy, Debug)]
struct Entering {
    user_stub: u64,
    hw_entry: u64,
    /// Cycle count after the entry instruction.
    at: u64,
}

/// The phase bookkeeping of a machine.
#[derive(Debug, Default)]
pub(crate) struct PhaseTracker {
    /// `__kernel_vsyscall` and its entry instruction (user addresses), and
    /// the 32-bit user code selector they run under.
    kv_start: u64,
    kv_entry: u64,
    kv_cs: u16,
    /// Where the user stub began, when a run stopped inside it.
    stub_start: Option<u64>,
    entering: Option<Entering>,
    /// The task `cur` belongs to.
    pid: u32,
    /// The current task's call. At most one call returns between two
    /// hypercalls, so its completion waits here for the next hypercall
    /// (served inside the run loop or not) or the next stop of the run
    /// loop, whichever comes first.
    pub cur: InFlight,
    /// The calls in flight of tasks that are not running.
    parked: BTreeMap<u32, InFlight>,
}

impl PhaseTracker {
    /// A tracker for a kernel whose vDSO has `__kernel_vsyscall` at
    /// `kv_start` and its entry instruction at `kv_entry`, run by 32-bit
    /// code with selector `kv_cs`.
    pub fn new(kv_start: u64, kv_entry: u64, kv_cs: u16) -> PhaseTracker {
        PhaseTracker {
            kv_start,
            kv_entry,
            kv_cs,
            ..PhaseTracker::default()
        }
    }

    /// Makes `pid`'s call in flight the current one.
    #[inline]
    pub fn switch_to(&mut self, pid: u32) {
        if pid != self.pid {
            self.switch_slow(pid);
        }
    }

    #[cold]
    #[inline(never)]
    fn switch_slow(&mut self, pid: u32) {
        let cur = std::mem::take(&mut self.cur);
        if cur.pending() {
            self.parked.insert(self.pid, cur);
        }
        self.cur = self.parked.remove(&pid).unwrap_or_default();
        self.pid = pid;
        self.stub_start = None;
        self.entering = None;
    }

    /// Drops what is kept of `pid`'s calls (it was reaped).
    pub fn forget(&mut self, pid: u32) {
        self.parked.remove(&pid);
    }

    /// The hypercall of a system call: ends the entry stub and starts the
    /// bookkeeping of a new call for the current task.
    #[inline]
    pub fn hypercall(&mut self, cycles: u64) {
        let mut phases = PhaseCycles::default();
        if let Some(e) = self.entering.take() {
            phases.user_stub = e.user_stub;
            phases.hw_entry = e.hw_entry;
            phases.entry_stub = cycles.saturating_sub(e.at);
        }
        self.cur.reset(phases);
    }

    /// Any other hypercall (an exception entry): no call is entering.
    #[inline]
    pub fn not_a_call(&mut self) {
        self.entering = None;
    }

    /// The current task's call was handled at a cost of `cycles`.
    #[inline]
    pub fn charge_handler(&mut self, cycles: u64) {
        self.cur.phases.handler = self.cur.phases.handler.saturating_add(cycles);
    }

    /// The current task's call was recorded (as `event` when events are
    /// collected, at `index` in `Machine::events` when they are kept;
    /// audit record `serial`): keeps what its completion needs (the
    /// event's `cycles` are filled in then) and returns its phases so far.
    #[inline]
    pub fn recorded(
        &mut self,
        event: Option<SyscallEvent>,
        index: Option<usize>,
        serial: Option<u32>,
    ) -> PhaseCycles {
        let cur = &mut self.cur;
        cur.recorded = true;
        cur.index = index;
        cur.serial = serial;
        cur.event = event;
        cur.phases
    }

    /// The machine is about to resume the CPU in the current task: if its
    /// call has completed, its exit stub starts now.
    #[inline]
    pub fn resuming(&mut self, cycles: u64) {
        if self.cur.recorded && self.cur.exit_from.is_none() {
            self.cur.exit_from = Some(cycles);
        }
    }

    /// A run stopped: keeps the user stub's start when it stopped inside
    /// `__kernel_vsyscall` (after its first instruction, so that the block
    /// that began at it has run).
    #[inline]
    pub fn stopped(&mut self, cpu: &Cpu) {
        let rip = cpu.rip;
        if rip > self.kv_start
            && rip <= self.kv_entry
            && self.stub_start.is_none()
            && cpu.seg[sysgate_cpu::SegReg::Cs as usize].selector == self.kv_cs
        {
            self.stub_start = Some(cpu.block_start_cycles());
        }
    }

    /// A transition was reported (at the end of its block, with
    /// [`Cpu::cycles`] counting the transition's instruction).
    #[inline(always)]
    pub fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        match (t.cpl_before, t.cpl_after) {
            (3, 0) => self.entered(cpu, t),
            (0, 3) => self.exited(cpu, t),
            _ => {}
        }
    }

    #[inline(always)]
    fn entered(&mut self, cpu: &Cpu, t: &Transition) {
        let stub_start = self.stub_start.take();
        let is_call = matches!(
            t.kind,
            TransitionKind::Syscall
                | TransitionKind::Sysenter
                | TransitionKind::SoftwareInterrupt { vector: 0x80 }
        );
        if !is_call {
            self.entering = None;
            return;
        }
        let before = cpu.cycles.saturating_sub(t.cycles);
        let from_vdso =
            t.from.offset == self.kv_entry && t.from.selector == self.kv_cs && self.kv_entry != 0;
        let user_stub = if from_vdso {
            before.saturating_sub(stub_start.unwrap_or(cpu.block_start_cycles()))
        } else {
            0
        };
        self.entering = Some(Entering {
            user_stub,
            hw_entry: t.cycles,
            at: cpu.cycles,
        });
    }

    #[inline(always)]
    fn exited(&mut self, cpu: &Cpu, t: &Transition) {
        if !matches!(
            t.kind,
            TransitionKind::Sysret | TransitionKind::Sysexit | TransitionKind::Iret
        ) {
            return;
        }
        let Some(from) = self.cur.exit_from.take() else {
            return;
        };
        let before = cpu.cycles.saturating_sub(t.cycles);
        self.cur.phases.exit_stub = before.saturating_sub(from);
        self.cur.phases.hw_exit = t.cycles;
        self.cur.returned_at = Some(cpu.cycles);
    }

    /// Ends the current task's call (it returned and was completed): no
    /// call in flight (`cur = InFlight::default()`, field by field).
    #[inline]
    pub fn clear_current(&mut self) {
        self.cur.reset(PhaseCycles::default());
    }
}

/// The tracer the machine runs the CPU with: the embedder's [`Observer`]
/// plus the phase bookkeeping (one match per transition; nothing per
/// instruction unless the observer asks for it).
pub(crate) struct Watch<'a, T> {
    pub inner: &'a mut T,
    pub phases: &'a mut PhaseTracker,
}

impl<T: Observer> Tracer for Watch<'_, T> {
    const PER_INSTRUCTION: bool = T::PER_INSTRUCTION;
    // The phases need only the transitions that change privilege.
    const SWAPGS_TRANSITIONS: bool = T::SWAPGS_TRANSITIONS;

    #[inline(always)]
    fn instruction(&mut self, cpu: &Cpu, insn: &Insn) {
        self.inner.instruction(cpu, insn);
    }

    #[inline(always)]
    fn retired(&mut self, cpu: &Cpu, insn: &Insn) {
        self.inner.retired(cpu, insn);
    }

    #[inline(always)]
    fn exception(&mut self, cpu: &Cpu, e: Exception) {
        self.inner.exception(cpu, e);
    }

    #[inline(always)]
    fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        self.phases.transition(cpu, t);
        self.inner.transition(cpu, t);
    }
}

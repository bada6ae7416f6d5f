//! The system-call hypercall, as far as it needs only the CPU and the
//! kernel's per-call state ([`CallCtx`]): reading the call out of
//! `pt_regs`, running a personality handler, recording the call, writing
//! the result and choosing the return path. That part is served inside
//! the run loop ([`Serve`], the machine's [`PortIo`] hook), so a call that
//! returns at once costs no exit from the run loop and no re-entry; what
//! needs the whole machine (signal delivery, blocking, sleeping, the
//! machine's own calls such as fork, execve or mmap) is left to it as a
//! [`Rest`], after the run loop has returned.

use std::collections::BTreeMap;

use sysgate_cpu::{Cpu, Exception, Insn, PortIo, Rflags, Tracer, Transition};

use super::entry::{self, hc};
use super::layout::{self, HYPERCALL_PORT};
use super::phases::{self, PhaseTracker, Watch};
use super::process::{Done, Task};
use super::{
    Call, Flavor, KSTACK_REGION, KernelError, Mechanism, Observer, PhaseCycles, SyscallEvent,
    TaskMemory, kernel_base, kernel_write, loader, regs, task_memory,
};
use crate::abi::Abi;
use crate::audit::EntryMechanism;
use crate::personality::{
    Dispatch, Personality, ProcessInfo, SysError, SyscallEnv, SyscallOutcome,
};
use crate::uaccess::UserMemory;

/// The identity a task shows the personality layer.
pub(super) struct Info<'a> {
    pub pid: u32,
    pub ppid: u32,
    pub comm: &'a [u8; 16],
    pub exe: &'a [u8],
    pub areas: &'a loader::ArgAreas,
}

impl ProcessInfo for Info<'_> {
    fn pid(&self) -> u32 {
        self.pid
    }
    fn ppid(&self) -> u32 {
        self.ppid
    }
    fn uid(&self) -> u32 {
        0
    }
    fn gid(&self) -> u32 {
        0
    }
    fn comm(&self) -> [u8; 16] {
        *self.comm
    }
    fn exe(&self) -> Option<Vec<u8>> {
        Some(self.exe.to_vec())
    }
    fn arg_areas(&self) -> Option<[(u64, u64); 2]> {
        let a = self.areas;
        Some([(a.arg_start, a.arg_end), (a.env_start, a.env_end)])
    }
}

/// The audit log's name for a mechanism.
pub(super) fn entry_mechanism(m: Mechanism) -> EntryMechanism {
    match m {
        Mechanism::Syscall64 => EntryMechanism::Syscall64,
        Mechanism::Int80 => EntryMechanism::Int80,
        Mechanism::Sysenter => EntryMechanism::Sysenter,
        Mechanism::SyscallCompat => EntryMechanism::SyscallCompat,
    }
}

/// The error for a system call with no current task (a sysgate bug).
#[cold]
#[inline(never)]
fn no_current_task(pid: u32) -> KernelError {
    KernelError::Oops(format!("system call with no current task (pid {pid})"))
}

/// What [`CallCtx::try_call`] did with a call it performed.
pub(super) struct Tried {
    pub done: Done,
    /// The call was served by a personality handler that returned
    /// (neither `pt_regs` nor the task's signal state changed) while the
    /// task had no signal work (nothing pending, no alarm, no saved mask):
    /// returning to user mode has nothing to deliver.
    pub clean: bool,
}

/// What the machine still has to do for a call a [`CallCtx`] could not
/// finish.
pub(super) enum Rest {
    /// The personality asked for more than a return (a signal, a sleep, a
    /// block, a machine call): [`Machine::finish_call`], then the return
    /// path.
    ///
    /// [`Machine::finish_call`]: super::Machine
    Finish(Box<Unfinished>),
    /// The call is done but its return needs the machine (signal work,
    /// blocking, a replaced image, an ended task).
    Return { call: Call, done: Done },
    /// A sysgate bug.
    Failed(KernelError),
}

/// A call whose dispatch needs the machine (see [`Rest::Finish`]).
pub(super) struct Unfinished {
    pub call: Call,
    pub pid: u32,
    pub dispatch: Dispatch,
    pub serial: Option<u32>,
}

impl From<KernelError> for Rest {
    fn from(e: KernelError) -> Rest {
        Rest::Failed(e)
    }
}

/// The kernel state a system call's hypercall needs besides the CPU,
/// borrowed from the machine (by `Machine::split`); methods take the CPU.
pub(super) struct CallCtx<'a> {
    pub personality: &'a mut Personality,
    pub tasks: &'a mut BTreeMap<u32, Task>,
    pub phases: &'a mut PhaseTracker,
    pub events: &'a mut Vec<SyscallEvent>,
    pub current: u32,
    pub flavor: Flavor,
    /// The vDSO's `int80_landing_pad`.
    pub landing_pad: u64,
    pub keep_events: bool,
    pub collect_events: bool,
    /// What the run loop's service left to the machine, with the event
    /// count before the call (see [`Serve`]).
    pub rest: &'a mut Option<(Rest, usize)>,
}

impl CallCtx<'_> {
    /// The hypercall of a system call entry stub (`HC`, one of the
    /// `hc::SYSCALL_64` ... `hc::SYSENTER_32` numbers, so the ABI,
    /// mechanism and `pt_regs` layout are constants): reads the call out
    /// of `pt_regs` (at RSP) and performs it. `Ok` when the call is
    /// complete and the entry stub may return (EAX says how).
    #[inline(always)]
    pub(super) fn syscall<const HC: u32>(&mut self, cpu: &mut Cpu) -> Result<(), Rest> {
        let regs = cpu.gpr[4];
        let (abi, mech, wide) = match HC {
            hc::SYSCALL_64 => (Abi::X86_64, Mechanism::Syscall64, true),
            hc::INT80_COMPAT => (Abi::I386, Mechanism::Int80, true),
            hc::SYSENTER_COMPAT => (Abi::I386, Mechanism::Sysenter, true),
            hc::SYSCALL_COMPAT => (Abi::I386, Mechanism::SyscallCompat, true),
            hc::INT80_32 => (Abi::I386, Mechanism::Int80, false),
            // hc::SYSENTER_32
            _ => (Abi::I386, Mechanism::Sysenter, false),
        };
        self.phases.hypercall(cpu.cycles);
        let l = regs::layout(wide);
        // The fields of pt_regs read once out of guest memory; the same
        // copy serves the fast-return check when the handler cannot have
        // changed them (see `complete_with`).
        let mut pt = self.read_pt_regs(cpu, regs, wide, abi);
        let mask = match abi {
            Abi::X86_64 => u64::MAX,
            Abi::I386 => 0xFFFF_FFFF,
        };
        let mut args = pt.args.map(|a| a & mask);
        let nr_sys = pt.orig_ax as u32;
        if matches!(mech, Mechanism::Sysenter | Mechanism::SyscallCompat) {
            // do_fast_syscall_32: the sixth argument (the caller's EBP) is
            // on the user stack; the return goes to the vDSO landing pad.
            let w = if wide { 8 } else { 4 };
            let usp = pt.sp & 0xFFFF_FFFF;
            let mut b = [0u8; 4];
            let mut mem = task_memory(self.tasks, self.current, &mut cpu.mmu.phys);
            if mem.read(usp, &mut b).is_err() {
                kernel_write(
                    &mut cpu.mmu.phys,
                    self.flavor,
                    regs + l.ax,
                    w,
                    (-14i64) as u64,
                );
                cpu.gpr[0] = 0;
                return Ok(());
            }
            args[5] = u32::from_le_bytes(b) as u64;
            kernel_write(&mut cpu.mmu.phys, self.flavor, regs + l.bp, w, args[5]);
            kernel_write(
                &mut cpu.mmu.phys,
                self.flavor,
                regs + l.ip,
                w,
                self.landing_pad,
            );
            // (The copy keeps no bp: nothing reads it.)
            pt.ip = self.landing_pad;
        }
        let call = Call {
            abi,
            mech,
            nr: nr_sys,
            args,
            regs,
            wide,
        };
        let tried = self.try_call(cpu, &call)?;
        match tried.done {
            Done::Return(r) if tried.clean => {
                // A personality handler returned: pt_regs are as the
                // hypercall read them, and the task had no signal work
                // before the call and the handler could not give it any.
                self.complete_with(cpu, &call, r, Some(&pt));
                Ok(())
            }
            done => Err(Rest::Return { call, done }),
        }
    }

    /// Performs a call of the current task once, up to what needs the
    /// machine (`Err(Rest::Finish)`).
    #[inline(always)]
    pub(super) fn try_call(&mut self, cpu: &mut Cpu, call: &Call) -> Result<Tried, Rest> {
        let pid = self.current;
        let Some(task) = self.tasks.get_mut(&pid) else {
            return Err(no_current_task(pid).into());
        };
        let quiet =
            task.sig.pending == 0 && task.sig.alarm_at.is_none() && task.sig.saved_mask.is_none();
        let info = Info {
            pid,
            ppid: task.ppid,
            comm: &task.comm,
            exe: &task.exe,
            areas: &task.areas,
        };
        let cycles = cpu.cycles;
        let mut mem = TaskMemory {
            mm: &task.mm,
            phys: &mut cpu.mmu.phys,
        };
        let mechanism = entry_mechanism(call.mech);
        let env = SyscallEnv {
            task: &mut task.files,
            mem: &mut mem,
            process: &info,
            mechanism,
            cycles,
        };
        // The personality's fast path inline (a handler that returned, with
        // nothing tracing or auditing it); every other call out of line.
        let fast = self
            .personality
            .syscall_fast(call.abi, call.nr as u64, &call.args, env);
        let (r, copied) = match fast {
            Some((Ok(v), copied)) => (v, copied),
            Some((Err(SysError::Errno(e)), copied)) => (e.to_return(), copied),
            Some((Err(e), copied)) => {
                return self.tried(cpu, call, pid, quiet, Personality::outcome_of(e, copied));
            }
            None => {
                let out = self.personality.syscall_other(
                    call.abi,
                    call.nr as u64,
                    &call.args,
                    SyscallEnv {
                        task: &mut task.files,
                        mem: &mut mem,
                        process: &info,
                        mechanism,
                        cycles,
                    },
                );
                return self.tried(cpu, call, pid, quiet, out);
            }
        };
        self.charge_handler(cpu, pid, copied);
        self.record_inline(call, Some(r), None);
        Ok(Tried {
            done: Done::Return(r),
            clean: quiet,
        })
    }

    /// The rest of [`CallCtx::try_call`] for a call the personality's fast
    /// path did not complete, given its outcome `out` (`quiet`: the task
    /// had no signal work before the call).
    #[inline(never)]
    fn tried(
        &mut self,
        cpu: &mut Cpu,
        call: &Call,
        pid: u32,
        quiet: bool,
        out: SyscallOutcome,
    ) -> Result<Tried, Rest> {
        self.charge_handler(cpu, pid, out.copied);
        let serial = out.audit_serial;
        match out.dispatch {
            Dispatch::Return(r) | Dispatch::Yield(r) => {
                self.record(call, Some(r), serial);
                Ok(Tried {
                    done: Done::Return(r),
                    clean: quiet,
                })
            }
            dispatch => Err(Rest::Finish(Box::new(Unfinished {
                call: *call,
                pid,
                dispatch,
                serial,
            }))),
        }
    }

    /// Charges the handler's modeled cost (an estimate, see `phases`) for
    /// a call of task `pid` that copied `copied` bytes between user and
    /// kernel memory: on the CPU's clock and in the call's handler phase.
    #[inline(always)]
    fn charge_handler(&mut self, cpu: &mut Cpu, pid: u32, copied: u64) {
        let cost = phases::handler_cycles(copied);
        cpu.cycles = cpu.cycles.saturating_add(cost);
        self.phases.switch_to(pid);
        self.phases.charge_handler(cost);
    }

    /// Records the current task's call as an event (and its phases so far
    /// in its audit record, if it has one).
    #[inline(never)]
    pub(super) fn record(&mut self, call: &Call, ret: Option<i64>, serial: Option<u32>) {
        self.record_inline(call, ret, serial);
    }

    /// [`CallCtx::record`], inlined into the hypercall's dispatch.
    #[inline(always)]
    fn record_inline(&mut self, call: &Call, ret: Option<i64>, serial: Option<u32>) {
        // Events are made only when collected (kept, or wanted by the
        // observer); else only the audit record, if any, needs the phases.
        let event = self.collect_events.then(|| SyscallEvent {
            pid: self.current,
            abi: call.abi,
            mechanism: call.mech,
            nr: call.nr,
            args: call.args,
            ret,
            cycles: PhaseCycles::default(),
        });
        let index = self.keep_events.then_some(self.events.len());
        let phases = self.phases.recorded(event, index, serial);
        if let Some(s) = serial {
            self.personality.audit.set_cycles(s, phases);
        }
        // Pushed even when events are not kept if the observer wants them:
        // it sees them after the hypercall, and the run loop then drops
        // them.
        if let Some(event) = event {
            self.events.push(SyscallEvent {
                cycles: phases,
                ..event
            });
        }
    }

    /// Writes a system call's result and tells the entry stub (in EAX)
    /// whether the fast return is allowed, by the rules of Linux's
    /// `do_syscall_64` and `do_fast_syscall_32`. `pt` is a copy of the
    /// call's `pt_regs` taken at the hypercall, when the handler was one
    /// of the personality's (which reach guest memory only through the
    /// task's user mappings, never the kernel stack). The copy is used
    /// only when `pt_regs` lies in the kernel-stack region below
    /// [`FRAMES_START`] (`layout::FRAMES_START`): no user mapping points
    /// there (user pages are allocated frames, the vDSO pages are in the
    /// kernel image), so the copy is still current apart from `ax`.
    /// Otherwise `pt_regs` is read again.
    ///
    /// [`FRAMES_START`]: layout::FRAMES_START
    #[inline(always)]
    pub(super) fn complete_with(
        &self,
        cpu: &mut Cpu,
        call: &Call,
        ret: i64,
        pt: Option<&regs::Copy>,
    ) {
        let l = regs::layout(call.wide);
        let ax = if call.wide {
            ret as u64
        } else {
            ret as u64 & 0xFFFF_FFFF
        };
        let pa = call.regs.wrapping_sub(kernel_base(self.flavor));
        let phys = &mut cpu.mmu.phys;
        if call.wide {
            phys.write_u64(pa.wrapping_add(l.ax), ax);
        } else {
            phys.write_u32(pa.wrapping_add(l.ax), ax as u32);
        }
        let size = if call.wide {
            entry::regs64::SIZE
        } else {
            entry::regs32::SIZE
        };
        let in_kstacks = pa >= KSTACK_REGION
            && pa
                .checked_add(size)
                .is_some_and(|end| end <= layout::FRAMES_START);
        let fast = match pt {
            Some(pt) if in_kstacks && pt.wide == call.wide => self.fast_return_check(call, pt),
            _ => self.fast_return_ok(cpu, call),
        };
        cpu.gpr[0] = fast as u64;
    }

    /// The fields of the `pt_regs` at kernel address `va` (64-bit layout
    /// when `wide`) that the machine layer reads, with the argument
    /// registers of `abi`.
    #[inline(always)]
    fn read_pt_regs(&self, cpu: &Cpu, va: u64, wide: bool, abi: Abi) -> regs::Copy {
        const WIDE: usize = entry::regs64::SIZE as usize;
        const NARROW: usize = entry::regs32::SIZE as usize;
        let pa = va.wrapping_sub(kernel_base(self.flavor));
        let phys = &cpu.mmu.phys;
        // The usual case: pt_regs in one resident page of the kernel
        // stack, read in place.
        if wide {
            if let Some(b) = phys.in_page::<WIDE>(pa) {
                return regs::Copy::decode(b, true, abi);
            }
        } else if let Some(b) = phys.in_page::<NARROW>(pa) {
            return regs::Copy::decode(b, false, abi);
        }
        Self::read_pt_regs_slow(cpu, pa, wide, abi)
    }

    /// [`CallCtx::read_pt_regs`] at physical address `pa` through the
    /// generic read (across pages, open bus, never-written pages).
    #[cold]
    #[inline(never)]
    fn read_pt_regs_slow(cpu: &Cpu, pa: u64, wide: bool, abi: Abi) -> regs::Copy {
        let mut b = [0u8; entry::regs64::SIZE as usize];
        let size = if wide {
            entry::regs64::SIZE
        } else {
            entry::regs32::SIZE
        } as usize;
        cpu.mmu.phys.read(pa, &mut b[..size]);
        regs::Copy::decode(&b, wide, abi)
    }

    /// Whether the call may return by SYSRET/SYSEXIT, from the `pt_regs`
    /// in guest memory now.
    #[inline(never)]
    pub(super) fn fast_return_ok(&self, cpu: &Cpu, call: &Call) -> bool {
        let pt = self.read_pt_regs(cpu, call.regs, call.wide, call.abi);
        self.fast_return_check(call, &pt)
    }

    /// Whether the call may return by SYSRET/SYSEXIT, given its `pt_regs`.
    #[inline(always)]
    fn fast_return_check(&self, call: &Call, pt: &regs::Copy) -> bool {
        let (ip, flags) = (pt.ip, pt.flags);
        let (cs, ss) = (pt.cs as u16, pt.ss as u16);
        let slow = Rflags::RF.bits() | Rflags::TF.bits() | Rflags::VM.bits();
        match call.mech {
            Mechanism::Syscall64 => {
                pt.cx == ip
                    && pt.r11 == flags
                    && cs == layout::gdt64::USER_CS
                    && ss == layout::gdt64::USER_DS
                    && ip < layout::X86_64_TASK_SIZE
                    && flags & slow == 0
            }
            Mechanism::Sysenter | Mechanism::SyscallCompat => {
                let (ucs, uds) = match self.flavor {
                    Flavor::X86_64 => (layout::gdt64::USER32_CS, layout::gdt64::USER_DS),
                    Flavor::I386 => (layout::gdt32::USER_CS, layout::gdt32::USER_DS),
                };
                cs == ucs && ss == uds && ip == self.landing_pad && flags & slow == 0
            }
            Mechanism::Int80 => false,
        }
    }
}

/// What the machine does whenever the run loop stops (or serves a
/// hypercall): keeps the user stub's start if it stopped inside it, and
/// completes the call that returned to user mode.
#[inline(always)]
pub(super) fn stopped<T: Observer>(
    cpu: &Cpu,
    phases: &mut PhaseTracker,
    personality: &mut Personality,
    events: &mut [SyscallEvent],
    observer: &mut T,
) {
    phases.stopped(cpu);
    complete_returned(phases, personality, events, observer);
}

/// Completes the current task's call once it has returned to user mode
/// (every phase known): its audit record's cycles, its event, the
/// observer.
#[inline(always)]
fn complete_returned<T: Observer>(
    phases: &mut PhaseTracker,
    personality: &mut Personality,
    events: &mut [SyscallEvent],
    observer: &mut T,
) {
    let cur = &phases.cur;
    if cur.returned_at.is_some() {
        if !T::SYSCALL_EVENTS && cur.serial.is_none() && cur.index.is_none() {
            // Nobody to tell: the call just ends.
            phases.clear_current();
        } else {
            complete_reported(phases, personality, events, observer);
        }
    }
}

#[inline(never)]
fn complete_reported<T: Observer>(
    phases: &mut PhaseTracker,
    personality: &mut Personality,
    events: &mut [SyscallEvent],
    observer: &mut T,
) {
    let call = &mut phases.cur;
    let Some(cycle) = call.returned_at else {
        return;
    };
    let cycles = call.phases;
    if let Some(s) = call.serial {
        personality.audit.set_cycles(s, cycles);
    }
    if let Some(ev) = &mut call.event
        && (T::SYSCALL_EVENTS || call.index.is_some())
    {
        // (Unless the embedder has emptied `events` since.)
        if let Some(e) = call.index.and_then(|k| events.get_mut(k))
            && (e.pid, e.nr, e.args) == (ev.pid, ev.nr, ev.args)
        {
            e.cycles = cycles;
        }
        ev.cycles = cycles;
        observer.syscall_returned(cycle, ev);
    }
    // The current task has no call in flight now.
    phases.clear_current();
}

/// Hands the calls made since `seen` to the observer and, unless events
/// are kept, drops them; then the current task's call (if it completed)
/// starts its exit stub. What the machine does before resuming the CPU
/// after a hypercall.
#[inline(always)]
pub(super) fn resuming<T: Observer>(
    cpu: &Cpu,
    current: u32,
    phases: &mut PhaseTracker,
    events: &mut Vec<SyscallEvent>,
    keep_events: bool,
    seen: usize,
    observer: &mut T,
) {
    phases.switch_to(current);
    phases.resuming(cpu.cycles);
    if T::SYSCALL_EVENTS {
        for e in &events[seen..] {
            observer.syscall(cpu.cycles, e);
        }
    }
    if !keep_events {
        events.truncate(seen);
    }
}

/// The hooks the machine runs the CPU with: the embedder's observer, the
/// phase bookkeeping, and the system-call hypercall served inside the run
/// loop. A call the context cannot finish is left in [`CallCtx::rest`]
/// (with the event count before it) and ends the run at its OUT.
pub(super) struct Serve<'a, T> {
    pub inner: &'a mut T,
    pub ctx: CallCtx<'a>,
}

impl<T: Observer> Serve<'_, T> {
    /// One system call's hypercall `HC`, from the run loop's stop to its
    /// resumption, as [`super::Machine::run_with`] would handle it. Out of
    /// the run loop's code, so that its own callees are inlined here.
    #[inline(never)]
    fn serve<const HC: u32>(&mut self, cpu: &mut Cpu) -> bool {
        let ctx = &mut self.ctx;
        stopped(cpu, ctx.phases, ctx.personality, ctx.events, self.inner);
        let seen = ctx.events.len();
        if let Err(rest) = ctx.syscall::<HC>(cpu) {
            *ctx.rest = Some((rest, seen));
            return false;
        }
        resuming(
            cpu,
            ctx.current,
            ctx.phases,
            ctx.events,
            ctx.keep_events,
            seen,
            self.inner,
        );
        true
    }

    /// The phase bookkeeping and the observer, as a tracer.
    #[inline(always)]
    fn watch(&mut self) -> Watch<'_, T> {
        Watch {
            inner: self.inner,
            phases: self.ctx.phases,
        }
    }
}

impl<T: Observer> PortIo for Serve<'_, T> {
    #[inline(always)]
    fn port_out(&mut self, cpu: &mut Cpu, port: u16, _size: u8, value: u32) -> bool {
        if port != HYPERCALL_PORT || cpu.cpl() != 0 {
            return false;
        }
        match value {
            // The most frequent first, inline; the others out of line.
            hc::SYSCALL_64 => self.serve::<{ hc::SYSCALL_64 }>(cpu),
            _ => self.serve_other(cpu, value),
        }
    }
}

impl<T: Observer> Serve<'_, T> {
    #[inline(never)]
    fn serve_other(&mut self, cpu: &mut Cpu, value: u32) -> bool {
        match value {
            hc::INT80_COMPAT => self.serve::<{ hc::INT80_COMPAT }>(cpu),
            hc::SYSENTER_COMPAT => self.serve::<{ hc::SYSENTER_COMPAT }>(cpu),
            hc::SYSCALL_COMPAT => self.serve::<{ hc::SYSCALL_COMPAT }>(cpu),
            hc::INT80_32 => self.serve::<{ hc::INT80_32 }>(cpu),
            hc::SYSENTER_32 => self.serve::<{ hc::SYSENTER_32 }>(cpu),
            // The exception hypercall and unknown numbers: the machine.
            _ => false,
        }
    }
}

impl<T: Observer> Tracer for Serve<'_, T> {
    const PER_INSTRUCTION: bool = T::PER_INSTRUCTION;
    const SWAPGS_TRANSITIONS: bool = T::SWAPGS_TRANSITIONS;

    #[inline(always)]
    fn instruction(&mut self, cpu: &Cpu, insn: &Insn) {
        self.watch().instruction(cpu, insn);
    }

    #[inline(always)]
    fn retired(&mut self, cpu: &Cpu, insn: &Insn) {
        self.watch().retired(cpu, insn);
    }

    #[inline(always)]
    fn exception(&mut self, cpu: &Cpu, e: Exception) {
        self.watch().exception(cpu, e);
    }

    #[inline(always)]
    fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        self.watch().transition(cpu, t);
    }
}

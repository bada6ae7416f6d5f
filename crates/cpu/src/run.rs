//! The run loop, in the style of KVM's `KVM_RUN`: execute until something
//! the host must handle happens, and say why in an [`Exit`].
//!
//! The loop executes whole cached blocks; per instruction it does one
//! indirect call and one check for self-modifying code, and cycles are
//! added once per block. Tracing is a generic parameter, so a run with
//! [`NoTracer`] compiles the hooks away; without per-instruction hooks, a
//! run of pushes or pops (a kernel entry building `pt_regs`, a function
//! prologue) executes as one step when it stays in one cached stack page
//! (`insn::faststack`).
//!
//! Exceptions (raised by an instruction, by instruction fetch, or while
//! delivering another one) either end the run with [`Exit::Exception`] or
//! are delivered through the IDT/IVT ([`crate::interrupt`]) and execution
//! continues in the handler, as [`Vcpu::exception_bitmap`] says; all of
//! that happens on the cold error path, so the loop costs nothing more
//! while no exception is raised. A triple fault ends the run with
//! [`Exit::TripleFault`].
//!
//! RFLAGS.RF, which an IRET may load as 1, is cleared when the next
//! instruction completes (SDM Vol. 3 §17.3.1.1): the loop runs that one
//! instruction on its own, using the instruction budget it already checks
//! between blocks.

use std::collections::BTreeSet;

use iced_x86::{Instruction, Mnemonic};
use sysgate_mmu::{Access, AccessKind};

use crate::cycles::{CycleModel, TransitionEvent};
use crate::decode::{DecodeCache, DecodeStats, Insn, NO_BLOCK};
use crate::exception::{Exception, LEAVE_BLOCK, PORT_OUT, REPORT_TRANSITION, STACK_RUN};
use crate::interrupt::{self, Raised};
use crate::state::{Cpu, Rflags, SegReg};
use crate::transition::{Transition, TransitionKind};
use crate::vendor::Vendor;

/// Why [`Vcpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// HLT executed at CPL 0; RIP points after it.
    Hlt,
    /// An exception was raised whose bit is set in
    /// [`Vcpu::exception_bitmap`]; RIP points at the faulting instruction
    /// (after it for traps) and no state of the instruction (or of the
    /// delivery that raised it) was committed.
    Exception(Exception),
    /// The instruction limit was reached.
    InstructionLimit,
    /// The cycle limit was reached.
    CycleLimit,
    /// A host breakpoint: the instruction at this CS offset is next.
    Breakpoint(u64),
    /// OUT to an I/O port at sufficient privilege; the instruction has
    /// completed.
    IoOut {
        /// The port.
        port: u16,
        /// Access size in bytes.
        size: u8,
        /// The value written.
        value: u32,
    },
    /// IN from an I/O port: the instruction has completed with all-ones
    /// data (no device answers); the host may overwrite the destination.
    IoIn {
        /// The port.
        port: u16,
        /// Access size in bytes.
        size: u8,
    },
    /// Triple fault: an exception while delivering a double fault (SDM
    /// Vol. 3 §6.15, interrupt 8). The processor is in shutdown; the
    /// registers are those of the interrupted context (RIP at the
    /// instruction that faulted first), and [`Vcpu::run`] keeps returning
    /// this exit until the host calls [`Vcpu::clear_shutdown`] (what INIT
    /// or RESET would do on hardware) after changing the state.
    TripleFault,
}

/// Limits for one call of [`Vcpu::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Stop after this many retired instructions; every exception
    /// delivered through the IDT counts as one too (so a handler that
    /// faults before retiring anything cannot hold the loop forever, and
    /// [`Vcpu::step`] stops right after a delivery).
    pub instructions: u64,
    /// Stop once this many modeled cycles have been charged.
    pub cycles: u64,
}

impl Limit {
    /// No limit.
    pub const NONE: Limit = Limit {
        instructions: u64::MAX,
        cycles: u64::MAX,
    };

    /// At most `n` instructions.
    pub const fn instructions(n: u64) -> Limit {
        Limit {
            instructions: n,
            cycles: u64::MAX,
        }
    }

    /// At most `n` cycles (checked between blocks, so a run may overshoot
    /// by one block).
    pub const fn cycles(n: u64) -> Limit {
        Limit {
            instructions: u64::MAX,
            cycles: n,
        }
    }
}

/// What one [`Vcpu::step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepEvent {
    /// CS offset of the instruction.
    pub ip: u64,
    /// The instruction, when it could be fetched and decoded.
    pub instruction: Option<Instruction>,
    /// Cycles charged.
    pub cycles: u64,
    /// Set when the instruction raised an exception or requested an exit.
    pub exit: Option<Exit>,
    /// The transition the instruction caused, if any.
    pub transition: Option<Transition>,
}

/// Hooks called by the run loop. Every method has an empty default, and the
/// loop is generic over the tracer, so unused hooks cost nothing.
pub trait Tracer {
    /// Whether the run loop must show every instruction: call
    /// [`Tracer::instruction`] and [`Tracer::retired`] for each, with
    /// [`Cpu::cycles`] and [`Cpu::instructions`] exact at every hook call.
    /// When false (as for [`NoTracer`]) neither hook is called, the
    /// counters are charged once per block (exact whenever control
    /// returns to the host), and the loop may execute a run of pushes or
    /// pops as one step; the architectural outcome and the counts are the
    /// same either way.
    const PER_INSTRUCTION: bool = true;
    /// Called before each instruction executes (only when
    /// [`Tracer::PER_INSTRUCTION`] is true).
    #[inline(always)]
    fn instruction(&mut self, _cpu: &Cpu, _insn: &Insn) {}
    /// Called after each instruction retires (only when
    /// [`Tracer::PER_INSTRUCTION`] is true).
    #[inline(always)]
    fn retired(&mut self, _cpu: &Cpu, _insn: &Insn) {}
    /// Called when an instruction raises an exception.
    #[inline(always)]
    fn exception(&mut self, _cpu: &Cpu, _e: Exception) {}
    /// Called after every privilege or context transition, at the end of
    /// the block it ends, with [`Cpu::cycles`] and
    /// [`Cpu::instructions`] exact whatever [`Tracer::PER_INSTRUCTION`] is.
    #[inline(always)]
    fn transition(&mut self, _cpu: &Cpu, _t: &Transition) {}
    /// Whether [`Tracer::transition`] is called for SWAPGS, which changes
    /// only the GS base (no privilege, code or stack). A tracer that sets
    /// this to false is not told of them, and the loop does not record
    /// them (two per system call through `entry_SYSCALL_64`). The cycles
    /// and instruction counts are the same either way.
    const SWAPGS_TRANSITIONS: bool = true;
}

/// The tracer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTracer;

impl Tracer for NoTracer {
    const PER_INSTRUCTION: bool = false;
    const SWAPGS_TRANSITIONS: bool = false;
}

/// Port I/O the embedder serves without leaving the run loop, as KVM serves
/// its in-kernel devices without returning from `KVM_RUN`: a hypervisor
/// whose guest talks to it through a port (sysgate's kernel model takes
/// system calls from its entry stubs this way) saves an exit and a
/// re-entry per access. Passed to [`Vcpu::run_with_ports`] together with
/// the tracer (one object implements both, so the two may share state).
pub trait PortIo {
    /// Called as soon as an OUT to `port` (`size` bytes of `value`) has
    /// completed, with [`Cpu::cycles`] and [`Cpu::instructions`] exact;
    /// when served, the OUT's block goes on unless the hook moved RIP or
    /// changed the code or what its fetch depends on. Returns true when served: the run goes
    /// on from the state the hook left (it may change registers, RIP,
    /// memory through [`Cpu::mmu`], and add to [`Cpu::cycles`]; page walks
    /// it causes are not charged to the guest, as for the host between
    /// runs). False ends the run with [`Exit::IoOut`], as without a hook.
    #[inline(always)]
    fn port_out(&mut self, _cpu: &mut Cpu, _port: u16, _size: u8, _value: u32) -> bool {
        false
    }
}

/// A tracer with no port I/O served: every OUT ends the run.
struct Unserved<'a, T>(&'a mut T);

impl<T: Tracer> Tracer for Unserved<'_, T> {
    const PER_INSTRUCTION: bool = T::PER_INSTRUCTION;
    const SWAPGS_TRANSITIONS: bool = T::SWAPGS_TRANSITIONS;

    #[inline(always)]
    fn instruction(&mut self, cpu: &Cpu, insn: &Insn) {
        self.0.instruction(cpu, insn);
    }

    #[inline(always)]
    fn retired(&mut self, cpu: &Cpu, insn: &Insn) {
        self.0.retired(cpu, insn);
    }

    #[inline(always)]
    fn exception(&mut self, cpu: &Cpu, e: Exception) {
        self.0.exception(cpu, e);
    }

    #[inline(always)]
    fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        self.0.transition(cpu, t);
    }
}

impl<T> PortIo for Unserved<'_, T> {}

/// Requests from instruction handlers to leave the run loop after the
/// current instruction; the block always ends there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Request {
    #[default]
    None,
    Exit(Exit),
    /// IRET loaded RFLAGS.RF = 1: clear it once the next instruction
    /// completes (SDM Vol. 3 §17.3.1.1).
    ClearRfAfterNext,
}

/// A virtual CPU: the processor state, its decode cache and cycle model,
/// and host breakpoints.
// `cpu` first (`repr(C)` keeps the order): the run loop passes `&mut cpu`
// to every instruction handler, and at offset 0 it is the Vcpu's own
// address, with nothing to compute per instruction.
#[repr(C)]
pub struct Vcpu {
    /// Architectural state and memory.
    pub cpu: Cpu,
    /// Which exceptions go to the host, in the manner of the VMX exception
    /// bitmap (SDM Vol. 3 §25.6.3): when bit n is set, an exception with
    /// vector n ends the run with [`Exit::Exception`] and nothing of the
    /// faulting instruction committed (RIP after it for the traps #BP,
    /// #OF and INT1's #DB); when it is clear, the exception is delivered
    /// through the IDT (or IVT) and execution continues in its handler,
    /// with a [`TransitionKind::Exception`] transition. This applies to
    /// exceptions raised by instructions, by instruction fetch, and by
    /// the delivery of another exception (#DF included); INT n is a
    /// software interrupt, always delivered. The default is all ones
    /// (every exception exits), for bare code without an IDT; a kernel
    /// model clears it to get architectural delivery. Read at the start of
    /// each run.
    pub exception_bitmap: u32,
    cache: DecodeCache,
    model: CycleModel,
    breakpoints: BTreeSet<u64>,
    last_transition: Option<Transition>,
    /// Whether the run loop keeps the last transition in
    /// `last_transition` (for [`Vcpu::step`]; runs skip the copy).
    keep_transition: bool,
    /// Set by a triple fault; see [`Exit::TripleFault`].
    shutdown: bool,
    /// [`Cpu::instructions`] at which the run loop stops (the instruction
    /// limit, moved back by one per delivered event).
    run_end: u64,
    /// [`Cpu::instructions`] at which the instruction run with
    /// RFLAGS.RF = 1 has completed (also moved back per event), or
    /// `u64::MAX`.
    rf_until: u64,
    /// Page walks seen and owed.
    walks: Walks,
    /// Where a run that stopped inside a block (instruction limit,
    /// breakpoint) left off, so that the next run continues that block
    /// with its costs instead of decoding a new block there: block costs
    /// depend on the whole block (cycles.rs), and how the host splits a
    /// run must not change the count.
    resume: Option<Resume>,
    /// The block the last run ended with (on an exit an instruction
    /// requested, such as a hypercall's OUT) and the exit it took, so the
    /// next run finds its first block through that block's successor link
    /// instead of the block map. The link is validated like any other.
    chain: (u32, usize),
}

/// Page walks of the guest: charged when the block that caused them ends
/// (or raises an exception), so a run stopped inside a block leaves them
/// for the rest of the block, and the count does not depend on how the
/// host splits runs.
#[derive(Clone, Copy, Debug, Default)]
struct Walks {
    /// The MMU's page-walk count already accounted for.
    seen: u64,
    /// Walks not charged yet.
    owed: u64,
}

impl Walks {
    /// Counts the page walks the MMU did since the last look as owed.
    fn fold(&mut self, cpu: &Cpu) {
        let walks = cpu.mmu.stats().walks;
        self.owed = self.owed.wrapping_add(walks.wrapping_sub(self.seen));
        self.seen = walks;
    }

    /// Charges the walks owed ([`CycleModel::walk_cycles`] each).
    #[inline(always)]
    fn charge(&mut self, cpu: &mut Cpu, model: &CycleModel) {
        if cpu.mmu.stats().walks != self.seen || self.owed != 0 {
            self.charge_slow(cpu, model);
        }
    }

    #[cold]
    #[inline(never)]
    fn charge_slow(&mut self, cpu: &mut Cpu, model: &CycleModel) {
        self.fold(cpu);
        let cost = self.owed.wrapping_mul(model.walk_cycles() as u64);
        self.owed = 0;
        cpu.cycles = cpu.cycles.wrapping_add(cost);
    }

    /// Forgets walks done outside guest execution (by the host, or by the
    /// decoder reading ahead) since `before`.
    #[inline(always)]
    fn exclude_since(&mut self, cpu: &Cpu, before: u64) {
        let after = cpu.mmu.stats().walks;
        self.seen = self.seen.wrapping_add(after.wrapping_sub(before));
    }
}

/// What the run loop does after an OUT inside a block.
enum PortOutcome {
    /// Go on with the block.
    Continue,
    /// End the block after the OUT (the hook changed what the rest of the
    /// block assumed).
    EndBlock,
    /// End the run.
    Exit(Exit),
}

/// A place inside a decoded block where execution continues.
#[derive(Clone, Copy, Debug)]
struct Resume {
    /// The block.
    id: u32,
    /// The index of the next instruction in it.
    index: usize,
    /// Its CS offset.
    rip: u64,
}

impl Vcpu {
    /// A processor after reset with `mem_size` bytes of lazily backed RAM.
    pub fn new(mem_size: u64, vendor: Vendor) -> Vcpu {
        Vcpu::with_cpu(Cpu::new(mem_size, vendor))
    }

    /// Wraps an existing processor.
    pub fn with_cpu(cpu: Cpu) -> Vcpu {
        Vcpu {
            cpu,
            exception_bitmap: u32::MAX,
            cache: DecodeCache::default(),
            model: CycleModel::default(),
            breakpoints: BTreeSet::new(),
            last_transition: None,
            keep_transition: false,
            shutdown: false,
            run_end: 0,
            rf_until: u64::MAX,
            walks: Walks::default(),
            resume: None,
            chain: (NO_BLOCK, 0),
        }
    }

    /// True after a triple fault, until [`Vcpu::clear_shutdown`].
    pub fn in_shutdown(&self) -> bool {
        self.shutdown
    }

    /// Leaves the shutdown state a triple fault entered, so the next run
    /// executes again from the current state.
    pub fn clear_shutdown(&mut self) {
        self.shutdown = false;
    }

    /// The cycle model.
    pub fn model(&self) -> CycleModel {
        self.model
    }

    /// Chooses the cycle model (drops decoded code, which carries costs).
    pub fn set_model(&mut self, model: CycleModel) {
        self.model = model;
        self.cache.clear();
    }

    /// Decode-cache statistics.
    pub fn decode_stats(&self) -> DecodeStats {
        self.cache.stats
    }

    /// Drops all decoded code (e.g. after the host rewrote memory behind
    /// the MMU's back, which [`sysgate_mmu::PhysMem`] writes never do).
    pub fn flush_decode_cache(&mut self) {
        self.cache.clear();
    }

    /// Stops before the instruction at CS offset `ip`.
    pub fn add_breakpoint(&mut self, ip: u64) {
        self.breakpoints.insert(ip);
    }

    /// Removes a breakpoint.
    pub fn remove_breakpoint(&mut self, ip: u64) {
        self.breakpoints.remove(&ip);
    }

    /// Runs until an exit with no tracer.
    pub fn run(&mut self, limit: Limit) -> Exit {
        self.run_traced(limit, &mut NoTracer)
    }

    /// Runs until an exit, calling `tracer` for every instruction.
    pub fn run_traced<T: Tracer>(&mut self, limit: Limit, tracer: &mut T) -> Exit {
        self.run_with_ports(limit, &mut Unserved(tracer))
    }

    /// [`Vcpu::run_traced`], offering every OUT to `hooks` first
    /// ([`PortIo`]): the run ends at an OUT only when the hook does not
    /// serve it.
    pub fn run_with_ports<H: Tracer + PortIo>(&mut self, limit: Limit, hooks: &mut H) -> Exit {
        // Page walks the host caused between runs are not charged.
        self.walks.seen = self.cpu.mmu.stats().walks;
        let exit = if self.breakpoints.is_empty() {
            self.run_loop::<H, false>(limit, hooks)
        } else {
            self.run_loop::<H, true>(limit, hooks)
        };
        self.walks.fold(&self.cpu);
        exit
    }

    /// Executes exactly one instruction; when it faults and the exception
    /// is delivered through the IDT, the step ends at the handler's first
    /// instruction (with the delivery's transition).
    pub fn step(&mut self) -> StepEvent {
        self.step_traced(&mut NoTracer)
    }

    /// Executes exactly one instruction, calling `tracer`.
    pub fn step_traced<T: Tracer>(&mut self, tracer: &mut T) -> StepEvent {
        let ip = self.cpu.rip;
        let before = self.cpu.cycles;
        self.walks.seen = self.cpu.mmu.stats().walks;
        // Decoded before it runs: a transition may change the mode and CS.
        let instruction = self.last_instruction(ip);
        let saved = std::mem::take(&mut self.breakpoints);
        self.last_transition = None;
        self.keep_transition = true;
        let exit = self.run_loop::<_, false>(Limit::instructions(1), &mut Unserved(tracer));
        self.keep_transition = false;
        self.walks.fold(&self.cpu);
        self.breakpoints = saved;
        StepEvent {
            ip,
            instruction,
            cycles: self.cpu.cycles - before,
            exit: (exit != Exit::InstructionLimit).then_some(exit),
            transition: self.last_transition.take(),
        }
    }

    fn last_instruction(&mut self, ip: u64) -> Option<Instruction> {
        if let Some(r) = self.resume
            && let Some(i) = self.resumable(r)
        {
            return self.cache.blocks[r.id as usize].insns.get(i).map(|i| i.ins);
        }
        let lin = self.cpu.fetch_linear(ip);
        let loc = self.cpu.translate(lin, 1, AccessKind::Execute).ok()?;
        let bits = self.cpu.code_bits();
        let walks = self.cpu.mmu.stats().walks;
        let id = self
            .cache
            .lookup(&mut self.cpu, &self.model, ip, loc.pa, bits);
        // Walks the decoder does to read ahead into the next page depend on
        // the decode cache, not on the guest: they are not charged.
        self.walks.exclude_since(&self.cpu, walks);
        self.cache.blocks[id.ok()? as usize]
            .insns
            .first()
            .map(|i| i.ins)
    }

    /// The index at which `r` continues its block, when the block is still
    /// there, holds the instruction at RIP for the current code size and
    /// mapping (checked without side effects on the TLB).
    #[cold]
    #[inline(never)]
    fn resumable(&mut self, r: Resume) -> Option<usize> {
        let b = self.cache.blocks.get(r.id as usize)?;
        let insn = b.insns.get(r.index)?;
        if r.rip != self.cpu.rip || insn.ip() != r.rip || b.bits != self.cpu.code_bits() {
            return None;
        }
        let lin = self.cpu.fetch_linear(r.rip);
        let acc = Access::fetch(self.cpu.cpl() == 3);
        let pa = self.cpu.mmu.peek(&self.cpu.ctrl, lin, acc).ok()?;
        let want = b.phys.wrapping_add(r.rip.wrapping_sub(b.ip));
        (pa == want && self.cache.still_valid(&mut self.cpu, r.id)).then_some(r.index)
    }

    #[inline(always)]
    fn sync_code_writes(&mut self) {
        if self.cpu.mmu.phys.code_generation() != self.cache.generation {
            self.invalidate_written_code();
        }
    }

    #[cold]
    #[inline(never)]
    fn invalidate_written_code(&mut self) {
        self.cache.generation = self.cpu.mmu.phys.code_generation();
        let pages = self.cpu.mmu.phys.take_dirty_code_pages();
        self.cache.invalidate_pages(&pages);
    }

    /// Finds the block at the current RIP, trying the predecessor's cached
    /// successor first.
    #[inline(always)]
    fn next_block(&mut self, prev: u32, exit_slot: usize) -> Result<u32, Exception> {
        let ip = self.cpu.rip;
        let key = self.cpu.fetch_key();
        let cs_base = self.cpu.seg[SegReg::Cs as usize].base;
        let mut cand = NO_BLOCK;
        if prev != NO_BLOCK {
            cand = self.cache.blocks[prev as usize].succ[exit_slot];
            if cand != NO_BLOCK {
                // Same RIP, mode inputs and CS base as when this block's
                // fetch translation was last looked up, and the TLB has not
                // changed since: the lookup would hit again with the same
                // frame (and RIP was canonical then), so only its hit is
                // counted.
                let b = &self.cache.blocks[cand as usize];
                if b.ip == ip
                    && b.fetch_key == key
                    && b.fetch_generation == self.cpu.mmu.tlb_generation()
                    && b.fetch_base == cs_base
                    && b.phys2.is_none()
                    && (b.bits == 64 || self.cache.still_valid(&mut self.cpu, cand))
                {
                    self.cpu.mmu.count_hit();
                    self.cache.stats.hits += 1;
                    return Ok(cand);
                }
            }
        }
        let bits = self.cpu.code_bits();
        // A non-canonical RIP in 64-bit mode faults on fetch (#GP(0)); this
        // is how an AMD SYSRET to a non-canonical RCX ends up faulting in
        // ring 3.
        if bits == 64 && !crate::memory::is_canonical(ip) {
            return Err(Exception::GP(0));
        }
        let lin = self.cpu.fetch_linear(ip);
        let pa = self.cpu.translate_fetch(lin)?;
        if cand != NO_BLOCK {
            let generation = self.cpu.mmu.tlb_generation();
            let paging = self.cpu.ctrl.cr0 & crate::state::Cr0::PG.bits() != 0;
            let b = &self.cache.blocks[cand as usize];
            if b.ip == ip
                && b.phys == pa
                && b.bits == bits
                && b.phys2.is_none()
                && (bits == 64 || self.cache.still_valid(&mut self.cpu, cand))
            {
                let b = &mut self.cache.blocks[cand as usize];
                // Without paging the TLB is not used, so no hit could be
                // counted for a remembered translation.
                if paging {
                    b.fetch_key = key;
                    b.fetch_base = cs_base;
                    b.fetch_generation = generation;
                }
                self.cache.stats.hits += 1;
                return Ok(cand);
            }
        }
        let walks = self.cpu.mmu.stats().walks;
        let id = self.cache.lookup(&mut self.cpu, &self.model, ip, pa, bits);
        // Walks the decoder does to read ahead into the next page depend on
        // the decode cache, not on the guest: they are not charged.
        self.walks.exclude_since(&self.cpu, walks);
        let id = id?;
        if prev != NO_BLOCK {
            self.cache.blocks[prev as usize].succ[exit_slot] = id;
        }
        Ok(id)
    }

    // Kept out of line: inlined into its callers (the machine layer's
    // hypercall loop), its register allocation and code layout changed
    // with every caller, and host time per emulated call with them (by up
    // to 10% between two binaries of the same source); out of line it is
    // the same code everywhere, and `entry-host/getpid/syscall64` measured
    // 138 ns against 149.
    #[inline(never)]
    fn run_loop<T: Tracer + PortIo, const BREAKPOINTS: bool>(
        &mut self,
        limit: Limit,
        tracer: &mut T,
    ) -> Exit {
        if self.shutdown {
            return Exit::TripleFault;
        }
        let start = self.cpu.instructions;
        // The host may have replaced the memory since the last run.
        let phys_id = self.cpu.mmu.phys.id();
        self.cpu.host.check_memory(phys_id);
        self.cpu.exception_bitmap = self.exception_bitmap;
        // The run stops when `Cpu::instructions` reaches `end`: the
        // instruction limit, moved back by one for every delivered event
        // (`run_end`), or earlier to run alone the instruction RFLAGS.RF
        // applies to (`rf_until`, see `budget_reached`). All of that is
        // handled on cold paths; the hot loop only compares with `end`.
        self.run_end = start.saturating_add(limit.instructions);
        self.rf_until = if self.cpu.rflags & Rflags::RF.bits() != 0 {
            start.saturating_add(1)
        } else {
            u64::MAX
        };
        let mut end = self.run_end.min(self.rf_until);
        let (mut prev, mut exit_slot) = std::mem::replace(&mut self.chain, (NO_BLOCK, 0));
        if prev as usize >= self.cache.blocks.len() {
            prev = NO_BLOCK;
        }
        'blocks: loop {
            if self.cpu.instructions >= end {
                match self.budget_reached() {
                    Some(e) => end = e,
                    None => return Exit::InstructionLimit,
                }
            }
            if self.cpu.cycles >= limit.cycles {
                return Exit::CycleLimit;
            }
            self.sync_code_writes();
            // A run that stopped inside a block continues it.
            let resumed = if self.resume.is_some() {
                self.resume
                    .take()
                    .and_then(|r| self.resumable(r).map(|i| (r.id, i)))
            } else {
                None
            };
            let (id, first) = match resumed
                .map_or_else(|| self.next_block(prev, exit_slot).map(|id| (id, 0)), Ok)
            {
                Ok(x) => x,
                Err(e) => {
                    // Instruction fetch faulted: RIP is the fetch address.
                    self.walks.charge(&mut self.cpu, &self.model);
                    tracer.exception(&self.cpu, e);
                    match deliver_exception(&mut self.cpu, &self.model, e, tracer) {
                        Ok(t) => self.last_transition = t,
                        Err(exit) => {
                            self.shutdown = exit == Exit::TripleFault;
                            return exit;
                        }
                    }
                    end = self.count_event();
                    prev = NO_BLOCK;
                    continue;
                }
            };
            // Decoding may have marked a code page, and the last block may
            // have flushed the TLB: drop host pointers that became stale.
            let (mmu_epoch, mark_epoch) = (self.cpu.mmu.epoch(), self.cpu.mmu.phys.mark_epoch());
            self.cpu.host.validate(mmu_epoch, mark_epoch);
            let remaining = end - self.cpu.instructions;
            let block = &self.cache.blocks[id as usize];
            let insns = &block.insns[first..];
            let n = (insns.len() as u64).min(remaining) as usize;
            let generation = self.cache.generation;
            // Cycles and instructions are charged once per block (each
            // instruction carries the cycles of those before it in the
            // block, `cum`), unless a tracer wants them per instruction.
            // Handlers that charge extra cycles (repeated string
            // iterations) add them to `block_cycles`.
            let base_insns = self.cpu.instructions;
            self.cpu.block_cycles = self.cpu.cycles.wrapping_sub(insns[0].cum as u64);
            let mut executed = n;
            let mut side_exit = false;
            // Iterated by pointer; an instruction's index in the block is
            // derived from its address, only on the paths that need it.
            let body = &insns[..n];
            let mut rest = body.iter();
            while let Some(insn) = rest.next() {
                if BREAKPOINTS
                    && self.breakpoints.contains(&insn.ip())
                    && base_insns + index_in(body, insn) as u64 != start
                {
                    let k = index_in(body, insn);
                    self.cpu.cycles = self.cpu.block_cycles.wrapping_add(insn.cum as u64);
                    self.cpu.instructions = base_insns + k as u64;
                    self.resume = Some(Resume {
                        id,
                        index: first + k,
                        rip: insn.ip(),
                    });
                    self.walks.fold(&self.cpu);
                    return Exit::Breakpoint(insn.ip());
                }
                if T::PER_INSTRUCTION {
                    tracer.instruction(&self.cpu, insn);
                }
                self.cpu.rip = insn.next_ip();
                let mut result = (insn.exec)(&mut self.cpu, insn);
                if result.is_err() && result == Err(STACK_RUN) {
                    // A run of pushes or pops executes at once when nothing
                    // needs to see its instructions one by one; otherwise
                    // (or when the fast path declines) this one alone.
                    let k = index_in(body, insn);
                    let end = k + insn.run as usize;
                    if !T::PER_INSTRUCTION
                        && !BREAKPOINTS
                        && end <= n
                        && crate::insn::execute_stack_run(&mut self.cpu, &insns[k..end])
                    {
                        self.cpu.rip = insns[end - 1].next_ip();
                        rest = body[end..].iter();
                        continue;
                    }
                    result = crate::insn::execute_stack_one(&mut self.cpu, insn);
                }
                if let Err(e) = result {
                    let k = index_in(body, insn);
                    if e == REPORT_TRANSITION {
                        // SWAPGS completed, with a transition to report now
                        // (if anyone wants it): the block goes on.
                        count_retired(&mut self.cpu, base_insns + k as u64, insn);
                        if T::PER_INSTRUCTION {
                            tracer.retired(&self.cpu, insn);
                        }
                        if T::SWAPGS_TRANSITIONS || self.keep_transition {
                            let b = self.cpu.before(insn.ip());
                            self.cpu.record(TransitionKind::Swapgs, b, false);
                            let keep = self.keep_transition.then_some(&mut self.last_transition);
                            report_transition(&mut self.cpu, &self.model, insn, tracer, keep);
                        }
                        continue;
                    }
                    if e == PORT_OUT {
                        // OUT completed: its hook serves it now, or the run
                        // ends after it (and the next run goes on with the
                        // block).
                        count_retired(&mut self.cpu, base_insns + k as u64, insn);
                        if T::PER_INSTRUCTION {
                            tracer.retired(&self.cpu, insn);
                        }
                        match port_out(
                            &mut self.cpu,
                            &mut self.walks,
                            self.rf_until,
                            tracer,
                            insn,
                            generation,
                        ) {
                            PortOutcome::Continue => continue,
                            PortOutcome::EndBlock => {
                                executed = k + 1;
                                side_exit = true;
                                break;
                            }
                            PortOutcome::Exit(x) => {
                                self.resume = Some(Resume {
                                    id,
                                    index: first + k + 1,
                                    rip: insn.next_ip(),
                                });
                                self.walks.fold(&self.cpu);
                                return x;
                            }
                        }
                    }
                    if e == LEAVE_BLOCK {
                        // A taken jump out of the middle of the block: the
                        // instruction retired and the block ends here.
                        if T::PER_INSTRUCTION {
                            count_retired(&mut self.cpu, base_insns + k as u64, insn);
                            tracer.retired(&self.cpu, insn);
                        }
                        executed = k + 1;
                        side_exit = true;
                        break;
                    }
                    let mut charged = insn.cum as u64;
                    let mut retired = k as u64;
                    // INT1's #DB is a trap like #BP and #OF.
                    if e.is_trap() || (e == Exception::DB && insn.ins.mnemonic() == Mnemonic::Int1)
                    {
                        charged += insn.cycles as u64;
                        retired += 1;
                    } else {
                        self.cpu.rip = insn.ip();
                    }
                    self.cpu.cycles = self.cpu.block_cycles.wrapping_add(charged);
                    self.cpu.instructions = base_insns + retired;
                    self.cpu.request = Request::None;
                    self.cpu.transition = None;
                    self.walks.charge(&mut self.cpu, &self.model);
                    tracer.exception(&self.cpu, e);
                    match deliver_exception(&mut self.cpu, &self.model, e, tracer) {
                        Ok(t) => self.last_transition = t,
                        Err(exit) => {
                            self.shutdown = exit == Exit::TripleFault;
                            return exit;
                        }
                    }
                    end = self.count_event();
                    prev = NO_BLOCK;
                    continue 'blocks;
                }
                if T::PER_INSTRUCTION {
                    count_retired(
                        &mut self.cpu,
                        base_insns + index_in(body, insn) as u64,
                        insn,
                    );
                    tracer.retired(&self.cpu, insn);
                }
                if self.cpu.mmu.phys.code_generation() != generation {
                    executed = index_in(body, insn) + 1;
                    break;
                }
            }
            let cut = !side_exit && executed == n && n < insns.len();
            // Exact before the transition hook below.
            self.cpu.instructions = base_insns + executed as u64;
            if let Some(last) = insns[..executed].last() {
                self.cpu.cycles = self
                    .cpu
                    .block_cycles
                    .wrapping_add((last.cum + last.cycles) as u64);
                // Page walks (TLB misses) of the block and of its fetch.
                if !cut {
                    self.walks.charge(&mut self.cpu, &self.model);
                }
                // Only a block's last instruction can leave a transition
                // to report here (SWAPGS reports its own, see
                // REPORT_TRANSITION). It is reported where the handler left
                // it: copying the whole record right after its
                // field-by-field stores would stall on store forwarding.
                if self.cpu.transition.is_some() {
                    let keep = self.keep_transition.then_some(&mut self.last_transition);
                    report_transition(&mut self.cpu, &self.model, last, tracer, keep);
                }
            }
            exit_slot = if side_exit {
                2
            } else {
                usize::from(self.cpu.rip != block.end_ip)
            };
            prev = id;
            if cut {
                // Stopped inside the block by the instruction budget.
                self.resume = Some(Resume {
                    id,
                    index: first + n,
                    rip: self.cpu.rip,
                });
                prev = NO_BLOCK;
            }
            // Tested in place: loading the whole request right after the
            // last block's `take` stored its tag would stall on store
            // forwarding at every block.
            if !matches!(self.cpu.request, Request::None) {
                match self.handle_request() {
                    Ok(e) => end = e,
                    Err(x) => {
                        self.chain = (prev, exit_slot);
                        return x;
                    }
                }
            }
        }
    }

    /// The run loop reached its stop point: if that was the end of the
    /// instruction RF = 1 applied to, clears RF (SDM Vol. 3 §17.3.1.1) and
    /// returns the next stop point; `None` ends the run.
    #[cold]
    #[inline(never)]
    fn budget_reached(&mut self) -> Option<u64> {
        if self.cpu.instructions >= self.rf_until {
            self.cpu.rflags &= !Rflags::RF.bits();
            self.rf_until = u64::MAX;
            if self.cpu.instructions < self.run_end {
                return Some(self.run_end);
            }
        }
        None
    }

    /// Counts a delivered event against the instruction limit (and the
    /// RF window): returns the new stop point.
    #[cold]
    #[inline(never)]
    fn count_event(&mut self) -> u64 {
        self.run_end = self.run_end.saturating_sub(1);
        if self.rf_until != u64::MAX {
            self.rf_until = self.rf_until.saturating_sub(1);
        }
        self.run_end.min(self.rf_until)
    }

    /// Handles a request made by the last block's last instruction;
    /// returns the new stop point, or the exit. (OUT's request never gets
    /// here: the loop handles it at once, see `port_out`.)
    #[inline(always)]
    fn handle_request(&mut self) -> Result<u64, Exit> {
        let exit = match &self.cpu.request {
            Request::None => None,
            &Request::Exit(x) => Some(x),
            Request::ClearRfAfterNext => {
                self.rf_until = self.cpu.instructions.saturating_add(1);
                None
            }
        };
        self.cpu.request = Request::None;
        if let Some(x) = exit {
            if self.cpu.instructions >= self.rf_until {
                // The instruction RF was set for completed.
                self.cpu.rflags &= !Rflags::RF.bits();
            }
            return Err(x);
        }
        Ok(self.run_end.min(self.rf_until))
    }
}

/// The OUT `insn` (of the block being run, decoded under code
/// generation `generation`) completed with its write in
/// [`Cpu::request`], the counters counting it: offers the write to
/// `ports`. When served, the block goes on if the hook left RIP after
/// the OUT and changed nothing the rest of the block was decoded or
/// fetched under (code bytes, the fetch mode and translation); else it
/// ends. Unserved, the run exits (`rf_until`: see `Vcpu::rf_until`).
#[cold]
#[inline(always)]
fn port_out<P: PortIo>(
    cpu: &mut Cpu,
    walks: &mut Walks,
    rf_until: u64,
    ports: &mut P,
    insn: &Insn,
    generation: u64,
) -> PortOutcome {
    let Request::Exit(Exit::IoOut { port, size, value }) = cpu.request else {
        return PortOutcome::EndBlock;
    };
    cpu.request = Request::None;
    let mode = FetchInputs::of(cpu);
    let cycles = cpu.cycles;
    // Page walks the hook causes are not charged (as for the host between
    // runs), and memory it replaced drops the host pointers into the old.
    let walks_before = cpu.mmu.stats().walks;
    let served = ports.port_out(cpu, port, size, value);
    walks.exclude_since(cpu, walks_before);
    let phys_id = cpu.mmu.phys.id();
    cpu.host.check_memory(phys_id);
    if !served {
        if cpu.instructions >= rf_until {
            // The instruction RF was set for completed.
            cpu.rflags &= !Rflags::RF.bits();
        }
        return PortOutcome::Exit(Exit::IoOut { port, size, value });
    }
    // Cycles the hook charged count from here on.
    let charged = cpu.cycles.wrapping_sub(cycles);
    cpu.block_cycles = cpu.block_cycles.wrapping_add(charged);
    let (mmu_epoch, mark_epoch) = (cpu.mmu.epoch(), cpu.mmu.phys.mark_epoch());
    cpu.host.validate(mmu_epoch, mark_epoch);
    let unchanged = cpu.rip == insn.next_ip()
        && FetchInputs::of(cpu) == mode
        && cpu.mmu.phys.code_generation() == generation;
    if unchanged {
        PortOutcome::Continue
    } else {
        PortOutcome::EndBlock
    }
}

/// What the fetch of the rest of a block depends on besides RIP and the
/// code bytes: CS, the inputs of `Cpu::fetch_key` and the TLB, compared
/// as stored (cheaper than packing the key twice).
#[derive(Clone, Copy, PartialEq, Eq)]
struct FetchInputs {
    cs: crate::state::Segment,
    cr0: u64,
    efer: u64,
    flags: u64,
    tlb: u64,
}

impl FetchInputs {
    #[inline(always)]
    fn of(cpu: &Cpu) -> FetchInputs {
        FetchInputs {
            cs: cpu.seg[SegReg::Cs as usize],
            cr0: cpu.ctrl.cr0,
            efer: cpu.ctrl.efer,
            flags: cpu.rflags & (Rflags::VM.bits() | Rflags::AC.bits()),
            tlb: cpu.mmu.tlb_generation(),
        }
    }
}

/// The index of `insn`, an element of `body`, in `body`.
#[inline(always)]
fn index_in(body: &[Insn], insn: &Insn) -> usize {
    (insn as *const Insn as usize - body.as_ptr() as usize) / std::mem::size_of::<Insn>()
}

/// Makes [`Cpu::cycles`] and [`Cpu::instructions`] count `insn` as
/// retired, `before` being the instruction count before it (the block's
/// count plus its index).
#[inline(always)]
fn count_retired(cpu: &mut Cpu, before: u64, insn: &Insn) {
    cpu.cycles = cpu
        .block_cycles
        .wrapping_add((insn.cum + insn.cycles) as u64);
    cpu.instructions = before + 1;
}

/// Reports the transition `insn` recorded (with [`Cpu::cycles`] and
/// [`Cpu::instructions`] counting it) to the tracer, and keeps a copy in
/// `keep` when given one; then clears it. Inlined, but cold: most blocks
/// record none, and their path through the loop stays straight (measured:
/// 46 fewer host instructions per getpid round trip than without `cold`).
#[cold]
#[inline(always)]
fn report_transition<T: Tracer>(
    cpu: &mut Cpu,
    model: &CycleModel,
    insn: &Insn,
    tracer: &mut T,
    keep: Option<&mut Option<Transition>>,
) {
    let Some(t) = cpu.transition.as_mut() else {
        return;
    };
    t.cycles = insn.cycles as u64;
    if matches!(t.kind, TransitionKind::FarCall | TransitionKind::FarRet) {
        charge_gate(cpu, model, insn);
    }
    if let Some(t) = cpu.transition.as_ref() {
        tracer.transition(cpu, t);
    }
    if let Some(keep) = keep {
        *keep = cpu.transition;
    }
    cpu.transition = None;
}

/// Far transfers through a call gate and far returns to an outer level
/// cost the profile's transition figure in total, not the plain far
/// transfer's decoded cost: charges the difference to the clock and to
/// the recorded transition (a cold path: only such transfers record these
/// transitions).
fn charge_gate(cpu: &mut Cpu, model: &CycleModel, last: &Insn) {
    let Some(t) = cpu.transition.as_mut() else {
        return;
    };
    let event = match t.kind {
        TransitionKind::FarCall => TransitionEvent::CallGate,
        TransitionKind::FarRet => TransitionEvent::FarReturnOuter,
        _ => return,
    };
    let extra = (model.transition_cycles(event) as u64).saturating_sub(last.cycles as u64);
    t.cycles += extra;
    cpu.cycles += extra;
}

/// Delivers exception `e`, raised by the instruction at (or, for traps,
/// before) RIP or by fetching at RIP, unless the exception bitmap sends it
/// to the host; charges the delivery and reports its transition. `Err`
/// carries the exit: the exception (first or a later one) to the host,
/// or a triple fault.
#[cold]
#[inline(never)]
fn deliver_exception<T: Tracer>(
    cpu: &mut Cpu,
    model: &CycleModel,
    e: Exception,
    tracer: &mut T,
) -> Result<Option<Transition>, Exit> {
    let bitmap = cpu.exception_bitmap;
    if bitmap & (1u32 << (e.vector() & 31)) != 0 {
        return Err(Exit::Exception(e));
    }
    let rip = cpu.rip;
    let b = cpu.before(rip);
    match interrupt::raise(cpu, e, rip, bitmap, |c, x| tracer.exception(c, x)) {
        Raised::Delivered {
            exception,
            stack_switched,
        } => {
            let cost = model.delivery_cycles() as u64;
            cpu.cycles += cost;
            cpu.record(TransitionKind::Exception(exception), b, stack_switched);
            let mut t = cpu.transition.take();
            if let Some(t) = t.as_mut() {
                t.cycles = cost;
                tracer.transition(cpu, t);
            }
            Ok(t)
        }
        Raised::Intercepted(x) => Err(Exit::Exception(x)),
        Raised::TripleFault => Err(Exit::TripleFault),
    }
}

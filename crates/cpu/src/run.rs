//! The run loop, in the style of KVM's `KVM_RUN`: execute until something
//! the host must handle happens, and say why in an [`Exit`].
//!
//! The loop executes whole cached blocks; per instruction it does one
//! indirect call, one addition for the cycle count and one check for
//! self-modifying code. Tracing is a generic parameter, so a run with
//! [`NoTracer`] compiles the hooks away.

use std::collections::BTreeSet;

use iced_x86::Instruction;
use sysgate_mmu::AccessKind;

use crate::cycles::CycleModel;
use crate::decode::{DecodeCache, DecodeStats, Insn, NO_BLOCK};
use crate::exception::Exception;
use crate::state::Cpu;
use crate::transition::Transition;
use crate::vendor::Vendor;

/// Why [`Vcpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// HLT executed at CPL 0; RIP points after it.
    Hlt,
    /// An exception was raised; RIP points at the faulting instruction
    /// (after it for traps) and no state of the instruction was committed.
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
}

/// Limits for one call of [`Vcpu::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Stop after this many retired instructions.
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
    /// Whether the run loop must keep [`Cpu::cycles`] and
    /// [`Cpu::instructions`] exact before every hook call and call
    /// [`Tracer::retired`]. When false (as for [`NoTracer`]) the counters are
    /// charged once per basic block, and are exact whenever control returns
    /// to the host.
    const PER_INSTRUCTION: bool = true;
    /// Called before each instruction executes.
    #[inline(always)]
    fn instruction(&mut self, _cpu: &Cpu, _insn: &Insn) {}
    /// Called after each instruction retires.
    #[inline(always)]
    fn retired(&mut self, _cpu: &Cpu, _insn: &Insn) {}
    /// Called when an instruction raises an exception.
    #[inline(always)]
    fn exception(&mut self, _cpu: &Cpu, _e: Exception) {}
    /// Called after every privilege or context transition.
    #[inline(always)]
    fn transition(&mut self, _cpu: &Cpu, _t: &Transition) {}
}

/// The tracer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTracer;

impl Tracer for NoTracer {
    const PER_INSTRUCTION: bool = false;
}

/// Requests from instruction handlers to leave the run loop after the
/// current instruction; the block always ends there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Request {
    #[default]
    None,
    Exit(Exit),
}

/// A virtual CPU: the processor state, its decode cache and cycle model,
/// and host breakpoints.
pub struct Vcpu {
    /// Architectural state and memory.
    pub cpu: Cpu,
    cache: DecodeCache,
    model: CycleModel,
    breakpoints: BTreeSet<u64>,
    last_transition: Option<Transition>,
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
            cache: DecodeCache::default(),
            model: CycleModel::default(),
            breakpoints: BTreeSet::new(),
            last_transition: None,
        }
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
        if self.breakpoints.is_empty() {
            self.run_loop::<T, false>(limit, tracer)
        } else {
            self.run_loop::<T, true>(limit, tracer)
        }
    }

    /// Executes exactly one instruction.
    pub fn step(&mut self) -> StepEvent {
        self.step_traced(&mut NoTracer)
    }

    /// Executes exactly one instruction, calling `tracer`.
    pub fn step_traced<T: Tracer>(&mut self, tracer: &mut T) -> StepEvent {
        let ip = self.cpu.rip;
        let before = self.cpu.cycles;
        let saved = std::mem::take(&mut self.breakpoints);
        self.last_transition = None;
        let exit = self.run_loop::<T, false>(Limit::instructions(1), tracer);
        self.breakpoints = saved;
        let instruction = self.last_instruction(ip);
        StepEvent {
            ip,
            instruction,
            cycles: self.cpu.cycles - before,
            exit: (exit != Exit::InstructionLimit).then_some(exit),
            transition: self.last_transition.take(),
        }
    }

    fn last_instruction(&mut self, ip: u64) -> Option<Instruction> {
        let lin = self.cpu.fetch_linear(ip);
        let loc = self.cpu.translate(lin, 1, AccessKind::Execute).ok()?;
        let bits = self.cpu.code_bits();
        let id = self
            .cache
            .lookup(&mut self.cpu, &self.model, ip, loc.pa, bits)
            .ok()?;
        self.cache.blocks[id as usize].insns.first().map(|i| i.ins)
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
        let bits = self.cpu.code_bits();
        // A non-canonical RIP in 64-bit mode faults on fetch (#GP(0)); this
        // is how an AMD SYSRET to a non-canonical RCX ends up faulting in
        // ring 3.
        if bits == 64 && !crate::memory::is_canonical(ip) {
            return Err(Exception::GP(0));
        }
        let lin = self.cpu.fetch_linear(ip);
        let loc = self.cpu.translate(lin, 1, AccessKind::Execute)?;
        if prev != NO_BLOCK {
            let cand = self.cache.blocks[prev as usize].succ[exit_slot];
            if cand != NO_BLOCK {
                let b = &self.cache.blocks[cand as usize];
                if b.ip == ip
                    && b.phys == loc.pa
                    && b.bits == bits
                    && b.phys2.is_none()
                    && (bits == 64 || self.cache.still_valid(&mut self.cpu, cand))
                {
                    self.cache.stats.hits += 1;
                    return Ok(cand);
                }
            }
        }
        let id = self
            .cache
            .lookup(&mut self.cpu, &self.model, ip, loc.pa, bits)?;
        if prev != NO_BLOCK {
            self.cache.blocks[prev as usize].succ[exit_slot] = id;
        }
        Ok(id)
    }

    fn run_loop<T: Tracer, const BREAKPOINTS: bool>(
        &mut self,
        limit: Limit,
        tracer: &mut T,
    ) -> Exit {
        let start = self.cpu.instructions;
        // The host may have replaced the memory since the last run.
        let phys_id = self.cpu.mmu.phys.id();
        self.cpu.host.check_memory(phys_id);
        let mut prev = NO_BLOCK;
        let mut exit_slot = 0usize;
        loop {
            let done = self.cpu.instructions - start;
            if done >= limit.instructions {
                return Exit::InstructionLimit;
            }
            if self.cpu.cycles >= limit.cycles {
                return Exit::CycleLimit;
            }
            self.sync_code_writes();
            let id = match self.next_block(prev, exit_slot) {
                Ok(id) => id,
                Err(e) => {
                    tracer.exception(&self.cpu, e);
                    return Exit::Exception(e);
                }
            };
            // Decoding may have marked a code page, and the last block may
            // have flushed the TLB: drop host pointers that became stale.
            let (mmu_epoch, mark_epoch) = (self.cpu.mmu.epoch(), self.cpu.mmu.phys.mark_epoch());
            self.cpu.host.validate(mmu_epoch, mark_epoch);
            let remaining = limit.instructions - done;
            let block = &self.cache.blocks[id as usize];
            let n = (block.insns.len() as u64).min(remaining) as usize;
            let generation = self.cache.generation;
            // Cycles and instructions are charged once per block (each
            // instruction carries the cycles of those before it in the
            // block, `cum`), unless a tracer wants them per instruction.
            // Handlers that charge extra cycles (repeated string
            // iterations) add them to `block_cycles`.
            let base_insns = self.cpu.instructions;
            self.cpu.block_cycles = self.cpu.cycles;
            let mut executed = n;
            for (k, insn) in block.insns[..n].iter().enumerate() {
                if BREAKPOINTS
                    && self.breakpoints.contains(&insn.ip())
                    && base_insns + k as u64 != start
                {
                    self.cpu.cycles = self.cpu.block_cycles + insn.cum as u64;
                    self.cpu.instructions = base_insns + k as u64;
                    return Exit::Breakpoint(insn.ip());
                }
                tracer.instruction(&self.cpu, insn);
                self.cpu.rip = insn.next_ip();
                if let Err(e) = (insn.exec)(&mut self.cpu, insn) {
                    let mut charged = insn.cum as u64;
                    let mut retired = k as u64;
                    if e.is_trap() {
                        charged += insn.cycles as u64;
                        retired += 1;
                    } else {
                        self.cpu.rip = insn.ip();
                    }
                    self.cpu.cycles = self.cpu.block_cycles + charged;
                    self.cpu.instructions = base_insns + retired;
                    self.cpu.request = Request::None;
                    self.cpu.transition = None;
                    tracer.exception(&self.cpu, e);
                    return Exit::Exception(e);
                }
                if T::PER_INSTRUCTION {
                    self.cpu.cycles = self.cpu.block_cycles + (insn.cum + insn.cycles) as u64;
                    self.cpu.instructions = base_insns + k as u64 + 1;
                    tracer.retired(&self.cpu, insn);
                }
                if self.cpu.mmu.phys.code_generation() != generation {
                    executed = k + 1;
                    break;
                }
            }
            if let Some(last) = block.insns[..executed].last() {
                self.cpu.cycles = self.cpu.block_cycles + (last.cum + last.cycles) as u64;
                // Only a block's last instruction can record a transition.
                if let Some(mut t) = self.cpu.transition.take() {
                    t.cycles = last.cycles as u64;
                    tracer.transition(&self.cpu, &t);
                    self.last_transition = Some(t);
                }
            }
            self.cpu.instructions = base_insns + executed as u64;
            if let Request::Exit(x) = std::mem::take(&mut self.cpu.request) {
                return x;
            }
            exit_slot = usize::from(self.cpu.rip != block.end_ip);
            prev = id;
        }
    }
}

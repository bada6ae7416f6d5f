//! Tracing a running machine: one event per transition (SYSCALL, SWAPGS,
//! INT, IRET, exception delivery, ...), per system call handed to the Rust
//! dispatcher, and optionally per instruction, as data or JSON Lines.

use serde::Serialize;
use sysgate_cpu::{Cpu, Insn, Tracer, Transition, TransitionKind};

use super::SyscallEvent;

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// An instruction is about to execute.
    Instruction {
        /// Cycle count before it.
        cycle: u64,
        /// CPL.
        cpl: u8,
        /// CS offset.
        ip: u64,
        /// Mnemonic and operands, Intel syntax.
        text: String,
    },
    /// A privilege or context transition.
    Transition {
        /// Cycle count after it.
        cycle: u64,
        /// What (`Syscall`, `Swapgs`, `Sysret`, `SoftwareInterrupt(128)` ...).
        kind: String,
        /// CPL before and after.
        cpl: [u8; 2],
        /// CS:RIP before and after.
        rip: [String; 2],
        /// SS:RSP before and after.
        rsp: [String; 2],
        /// Whether the stack pointer came from the TSS, IST or an MSR.
        stack_switched: bool,
        /// Modeled cycles of the transition itself.
        cycles: u64,
    },
    /// The kernel's stack pointer was switched by an instruction (entry
    /// stubs loading the task's kernel stack from the per-CPU area).
    StackSwitch {
        /// Cycle count.
        cycle: u64,
        /// RSP before and after.
        rsp: [String; 2],
    },
    /// A system call reached the Rust dispatcher (the hypercall).
    Syscall {
        /// Cycle count.
        cycle: u64,
        /// Process.
        pid: u32,
        /// ABI table used.
        abi: String,
        /// Entry mechanism.
        mechanism: String,
        /// Number.
        nr: u32,
        /// Name.
        name: String,
        /// Result, if it returned.
        ret: Option<i64>,
    },
}

impl TraceEvent {
    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A short name of the event's kind, for tests and summaries:
    /// `syscall`, `swapgs`, `stack-switch`, `dispatch`, `sysret`, ...
    pub fn label(&self) -> String {
        match self {
            TraceEvent::Instruction { text, .. } => format!("insn:{text}"),
            TraceEvent::Transition { kind, .. } => kind.to_lowercase(),
            TraceEvent::StackSwitch { .. } => "stack-switch".into(),
            TraceEvent::Syscall { .. } => "dispatch".into(),
        }
    }
}

fn far(sel: u16, off: u64) -> String {
    format!("{sel:#06x}:{off:#x}")
}

fn kind_name(k: &TransitionKind) -> String {
    match k {
        TransitionKind::SoftwareInterrupt { vector } => format!("Int{vector:#x}"),
        TransitionKind::Exception(e) => format!("Exception({e})"),
        TransitionKind::Wrmsr(m) => format!("Wrmsr({m:#x})"),
        other => format!("{other:?}"),
    }
}

/// A tracer that records events.
#[derive(Debug, Default)]
pub struct Recorder {
    /// The events so far.
    pub events: Vec<TraceEvent>,
    /// Whether to record every instruction too.
    pub instructions: bool,
    last_rsp: u64,
    last_cpl: u8,
}

impl Recorder {
    /// A recorder of transitions and system calls (and instructions when
    /// `instructions`).
    pub fn new(instructions: bool) -> Recorder {
        Recorder {
            instructions,
            ..Recorder::default()
        }
    }

    /// Records a system call that reached the dispatcher.
    pub fn syscall(&mut self, cycle: u64, e: &SyscallEvent) {
        self.events.push(TraceEvent::Syscall {
            cycle,
            pid: e.pid,
            abi: format!("{:?}", e.abi),
            mechanism: e.mechanism.name().into(),
            nr: e.nr,
            name: e.abi.syscall_name(e.nr).unwrap_or("?").into(),
            ret: e.ret,
        });
    }
}

impl Tracer for Recorder {
    fn instruction(&mut self, cpu: &Cpu, insn: &Insn) {
        let cpl = cpu.cpl();
        // A kernel-mode RSP load right after entering ring 0 without a
        // hardware stack switch (entry_SYSCALL_64's `mov rsp, gs:...`).
        if cpl == 0 && self.last_cpl == 0 && cpu.gpr[4] != self.last_rsp && self.last_rsp != 0 {
            let moved_far = cpu.gpr[4].abs_diff(self.last_rsp) > 0x10_0000;
            if moved_far {
                self.events.push(TraceEvent::StackSwitch {
                    cycle: cpu.cycles,
                    rsp: [
                        format!("{:#x}", self.last_rsp),
                        format!("{:#x}", cpu.gpr[4]),
                    ],
                });
            }
        }
        self.last_rsp = cpu.gpr[4];
        self.last_cpl = cpl;
        if self.instructions {
            self.events.push(TraceEvent::Instruction {
                cycle: cpu.cycles,
                cpl,
                ip: insn.ip(),
                text: format!("{}", insn.ins),
            });
        }
    }

    fn transition(&mut self, cpu: &Cpu, t: &Transition) {
        self.events.push(TraceEvent::Transition {
            cycle: cpu.cycles,
            kind: kind_name(&t.kind),
            cpl: [t.cpl_before, t.cpl_after],
            rip: [
                far(t.from.selector, t.from.offset),
                far(t.to.selector, t.to.offset),
            ],
            rsp: [
                far(t.stack_before.selector, t.stack_before.offset),
                far(t.stack_after.selector, t.stack_after.offset),
            ],
            stack_switched: t.stack_switched,
            cycles: t.cycles,
        });
        self.last_rsp = cpu.gpr[4];
        self.last_cpl = t.cpl_after;
    }
}

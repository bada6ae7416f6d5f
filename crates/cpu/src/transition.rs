//! Transition events: every crossing between privilege levels or contexts
//! (INT n, exceptions, IRET, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, far
//! transfers through gates, MSR writes) is recorded as a [`Transition`]
//! and reported to the [`crate::Tracer`] and in [`crate::StepEvent`].
//!
//! Instruction handlers record at most one transition per instruction;
//! every instruction that can record one ends its block, so the run loop
//! only looks for a transition between blocks, except SWAPGS, which
//! changes nothing a block depends on and has the run loop report its
//! transition at once (`REPORT_TRANSITION`).

use crate::exception::Exception;
use crate::state::{Cpu, SegReg};

/// What kind of transition happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionKind {
    /// SYSCALL (64-bit, or AMD's compatibility/legacy form).
    Syscall,
    /// SYSRET (to 64-bit or compatibility mode).
    Sysret,
    /// SYSENTER.
    Sysenter,
    /// SYSEXIT (to 32-bit or 64-bit mode).
    Sysexit,
    /// SWAPGS exchanged GS.base and IA32_KERNEL_GS_BASE.
    Swapgs,
    /// A software interrupt (INT n, INT3, INTO, INT1) delivered through the
    /// IDT or IVT.
    SoftwareInterrupt {
        /// The vector.
        vector: u8,
    },
    /// An exception delivered through the IDT or IVT.
    Exception(Exception),
    /// IRET/IRETD/IRETQ.
    Iret,
    /// A far CALL or JMP (through a call gate when the CPL changes).
    FarCall,
    /// A far RET.
    FarRet,
    /// WRMSR to the given MSR.
    Wrmsr(u32),
    /// A write to CR3 (address-space switch).
    MovCr3,
}

/// A code or stack location: selector and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FarPtr {
    /// The selector.
    pub selector: u16,
    /// The offset.
    pub offset: u64,
}

/// One transition, as the tracer and [`crate::StepEvent`] see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// What happened.
    pub kind: TransitionKind,
    /// CS:RIP of the instruction that caused it.
    pub from: FarPtr,
    /// CS:RIP where execution continues.
    pub to: FarPtr,
    /// CPL before.
    pub cpl_before: u8,
    /// CPL after.
    pub cpl_after: u8,
    /// SS:RSP before.
    pub stack_before: FarPtr,
    /// SS:RSP after.
    pub stack_after: FarPtr,
    /// True when the stack pointer was loaded from a privileged source
    /// (TSS, IST, SYSENTER_ESP) rather than continuing on the same stack.
    pub stack_switched: bool,
    /// Modeled cycles charged for the transition.
    pub cycles: u64,
}

/// The state captured before a transition, to build its event afterwards.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Before {
    from: FarPtr,
    cpl: u8,
    stack: FarPtr,
}

impl Cpu {
    /// Captures CS:`ip`, the CPL and SS:RSP before a transition.
    pub(crate) fn before(&self, ip: u64) -> Before {
        Before {
            from: FarPtr {
                selector: self.seg[SegReg::Cs as usize].selector,
                offset: ip,
            },
            cpl: self.cpl(),
            stack: FarPtr {
                selector: self.seg[SegReg::Ss as usize].selector,
                offset: self.gpr[4],
            },
        }
    }

    /// Records a transition from `b` to the current state.
    pub(crate) fn record(&mut self, kind: TransitionKind, b: Before, stack_switched: bool) {
        self.transition = Some(Transition {
            kind,
            from: b.from,
            to: FarPtr {
                selector: self.seg[SegReg::Cs as usize].selector,
                offset: self.rip,
            },
            cpl_before: b.cpl,
            cpl_after: self.cpl(),
            stack_before: b.stack,
            stack_after: FarPtr {
                selector: self.seg[SegReg::Ss as usize].selector,
                offset: self.gpr[4],
            },
            stack_switched,
            cycles: 0,
        });
    }
}

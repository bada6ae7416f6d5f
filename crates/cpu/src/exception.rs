//! Architectural exceptions as values (SDM Vol. 3 §6.3, Table 6-1).
//!
//! Instruction semantics return `Result<_, Exception>`; a faulting
//! instruction has committed no state, and the run loop rolls RIP back to
//! it. Error codes are carried in the variants that push one.

use std::fmt;

/// An exception raised by an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exception {
    /// #DE divide error (vector 0).
    DE,
    /// #DB debug (vector 1).
    DB,
    /// #BP breakpoint (vector 3, trap).
    BP,
    /// #OF overflow (vector 4, trap).
    OF,
    /// #BR BOUND range exceeded (vector 5).
    BR,
    /// #UD invalid opcode (vector 6).
    UD,
    /// #NM device not available (vector 7).
    NM,
    /// #DF double fault (vector 8, error code 0).
    DF,
    /// #TS invalid TSS (vector 10).
    TS(u16),
    /// #NP segment not present (vector 11).
    NP(u16),
    /// #SS stack-segment fault (vector 12).
    SS(u16),
    /// #GP general protection (vector 13).
    GP(u16),
    /// #PF page fault (vector 14): faulting linear address (CR2) and error code.
    PF {
        /// The linear address that faulted (loaded into CR2).
        addr: u64,
        /// Page-fault error code (SDM Vol. 3 §4.7).
        error: u32,
    },
    /// #MF x87 floating-point error (vector 16).
    MF,
    /// #AC alignment check (vector 17, error code 0).
    AC,
    /// #XM SIMD floating-point exception (vector 19).
    XM,
}

/// Not an exception: what an instruction handler returns, after its
/// instruction has completed, to end its block there (a taken conditional
/// jump out of the middle of a block, `control::side_exit`). The run loop
/// retires the instruction and goes on at the new RIP; nothing is
/// delivered. It is a #PF whose error code has every reserved bit set,
/// which no page walk produces, so that handlers keep returning
/// `Result<(), Exception>` in two registers.
pub(crate) const LEAVE_BLOCK: Exception = Exception::PF {
    addr: u64::MAX,
    error: u32::MAX,
};

/// Not an exception: what SWAPGS returns once it has completed, to have
/// the run loop record its transition (which changes no privilege, code
/// or stack: it is recorded after the fact) and report it at once, unless
/// nobody wants it (`Tracer::SWAPGS_TRANSITIONS`), and go on with the
/// block; every other instruction that records a transition ends its block
/// and is reported at the block's end. Another #PF no page walk produces.
pub(crate) const REPORT_TRANSITION: Exception = Exception::PF {
    addr: u64::MAX,
    error: u32::MAX - 1,
};

/// Not an exception: what the first instruction of a run of pushes or
/// pops (`insn::faststack::mark_runs`) returns, having done nothing, so
/// that the run loop executes the whole run at once or, when it cannot,
/// the instruction alone; straight-line code then pays no per-instruction
/// test for runs. Another #PF no page walk produces.
pub(crate) const STACK_RUN: Exception = Exception::PF {
    addr: u64::MAX,
    error: u32::MAX - 2,
};

/// Not an exception: what OUT returns, having completed with its port,
/// size and value in `Cpu::request`, so that the run loop offers the
/// write to the embedder's `run::PortIo` hook at once and, when the hook
/// serves it and leaves the code to run unchanged, goes on with the block.
/// Another #PF no page walk produces.
pub(crate) const PORT_OUT: Exception = Exception::PF {
    addr: u64::MAX,
    error: u32::MAX - 3,
};

/// The class of an exception for the double-fault rules (SDM Vol. 3
/// §6.15, Table 6-4 and 6-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    /// #DB, #NMI, #BP, #OF, #BR, #UD, #NM, #MF, #AC, #XM ...
    Benign,
    /// #DE, #TS, #NP, #SS, #GP.
    Contributory,
    /// #PF.
    PageFault,
    /// #DF itself.
    DoubleFault,
}

impl Exception {
    /// The interrupt vector.
    pub const fn vector(self) -> u8 {
        match self {
            Exception::DE => 0,
            Exception::DB => 1,
            Exception::BP => 3,
            Exception::OF => 4,
            Exception::BR => 5,
            Exception::UD => 6,
            Exception::NM => 7,
            Exception::DF => 8,
            Exception::TS(_) => 10,
            Exception::NP(_) => 11,
            Exception::SS(_) => 12,
            Exception::GP(_) => 13,
            Exception::PF { .. } => 14,
            Exception::MF => 16,
            Exception::AC => 17,
            Exception::XM => 19,
        }
    }

    /// The error code pushed on delivery, if this exception pushes one
    /// (SDM Vol. 3 Table 6-1).
    pub const fn error_code(self) -> Option<u32> {
        match self {
            Exception::DF | Exception::AC => Some(0),
            Exception::TS(e) | Exception::NP(e) | Exception::SS(e) | Exception::GP(e) => {
                Some(e as u32)
            }
            Exception::PF { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True for traps (#BP, #OF): RIP points after the instruction when
    /// delivered. All others here are faults that roll RIP back.
    pub const fn is_trap(self) -> bool {
        matches!(self, Exception::BP | Exception::OF)
    }

    /// The double-fault class.
    pub const fn class(self) -> ExceptionClass {
        match self {
            Exception::DE
            | Exception::TS(_)
            | Exception::NP(_)
            | Exception::SS(_)
            | Exception::GP(_) => ExceptionClass::Contributory,
            Exception::PF { .. } => ExceptionClass::PageFault,
            Exception::DF => ExceptionClass::DoubleFault,
            _ => ExceptionClass::Benign,
        }
    }

    /// True when an exception of class `second`, raised while delivering
    /// `self`, becomes a double fault (SDM Vol. 3 Table 6-5).
    pub const fn escalates_with(self, second: Exception) -> bool {
        matches!(
            (self.class(), second.class()),
            (ExceptionClass::Contributory, ExceptionClass::Contributory)
                | (ExceptionClass::PageFault, ExceptionClass::Contributory)
                | (ExceptionClass::PageFault, ExceptionClass::PageFault)
        )
    }

    /// The SDM mnemonic, e.g. `#GP`.
    pub const fn mnemonic(self) -> &'static str {
        match self {
            Exception::DE => "#DE",
            Exception::DB => "#DB",
            Exception::BP => "#BP",
            Exception::OF => "#OF",
            Exception::BR => "#BR",
            Exception::UD => "#UD",
            Exception::NM => "#NM",
            Exception::DF => "#DF",
            Exception::TS(_) => "#TS",
            Exception::NP(_) => "#NP",
            Exception::SS(_) => "#SS",
            Exception::GP(_) => "#GP",
            Exception::PF { .. } => "#PF",
            Exception::MF => "#MF",
            Exception::AC => "#AC",
            Exception::XM => "#XM",
        }
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exception::PF { addr, error } => write!(f, "#PF(addr={addr:#x}, error={error:#x})"),
            e => match e.error_code() {
                Some(code) if !matches!(e, Exception::DF | Exception::AC) => {
                    write!(f, "{}({code:#x})", e.mnemonic())
                }
                _ => f.write_str(e.mnemonic()),
            },
        }
    }
}

impl From<sysgate_mmu::PageFault> for Exception {
    fn from(pf: sysgate_mmu::PageFault) -> Self {
        Exception::PF {
            addr: pf.addr,
            error: pf.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_error_codes_follow_table_6_1() {
        assert_eq!(Exception::GP(0x10).vector(), 13);
        assert_eq!(Exception::GP(0x10).error_code(), Some(0x10));
        assert_eq!(Exception::UD.error_code(), None);
        assert_eq!(Exception::DF.error_code(), Some(0));
        assert_eq!(Exception::PF { addr: 1, error: 6 }.error_code(), Some(6));
        assert!(Exception::BP.is_trap());
        assert!(!Exception::GP(0).is_trap());
    }

    #[test]
    fn double_fault_matrix_follows_table_6_5() {
        let pf = Exception::PF { addr: 0, error: 0 };
        assert!(Exception::GP(0).escalates_with(Exception::NP(8)));
        assert!(pf.escalates_with(pf));
        assert!(pf.escalates_with(Exception::GP(0)));
        assert!(!Exception::GP(0).escalates_with(pf));
        assert!(!Exception::UD.escalates_with(Exception::GP(0)));
        assert_eq!(Exception::GP(0x1b).to_string(), "#GP(0x1b)");
    }
}

//! Host processor reference for sysgate's differential tests.
//!
//! sysgate emulates x86; the most trustworthy oracle for "what should this
//! instruction do" is the x86-64 processor the tests run on. This crate runs a
//! single instruction (raw machine-code bytes) natively with a chosen register
//! state and memory contents, and reports the resulting registers and flags, so
//! tests can run the same instruction through the emulator and compare.
//!
//! How it works:
//!
//! * A 64 KiB **data arena** is mapped at the fixed address [`ARENA_BASE`].
//!   Guest tests map the same linear address, so pointers held in registers
//!   mean the same thing natively and emulated.
//! * A small **trampoline** is hand-assembled into an executable page:
//!   it saves the host's callee-saved registers and RSP, merges the caller's
//!   arithmetic flags into the host RFLAGS and loads them with POPFQ, loads all
//!   16 GPRs (RSP included) using only flag-neutral MOVs, runs the instruction,
//!   stores all 16 GPRs back with MOVs (the first through an absolute address,
//!   since no register is free), switches back to the host stack, and only then
//!   captures RFLAGS with PUSHFQ. The harness never touches the arena, so a
//!   guest RSP inside the arena sees exactly the instruction's own stack writes.
//! * The trampoline also loads XMM0-XMM15, MM0-MM7 and MXCSR before the
//!   instruction (the host's MXCSR is saved first) and stores them
//!   afterwards, then executes EMMS and restores the host's MXCSR before it
//!   returns; [`NativeRunner::run`] passes zeros
//!   and the reset MXCSR, [`NativeRunner::run_simd`] the caller's values.
//! * Signals are blocked while the trampoline runs, because RSP holds a guest
//!   value and the kernel would otherwise push a signal frame there.
//!
//! Only x86-64 Linux is supported; on other hosts the crate builds, but
//! [`NativeRunner::new`] returns [`NativeError::Unsupported`].

use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod asm;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod host;
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[path = "unsupported.rs"]
mod host;

pub use host::NativeRunner;

/// Fixed host virtual address of the data arena; guest tests map the same
/// linear address so addresses in registers are identical natively and emulated.
pub const ARENA_BASE: u64 = 0x5000_0000;

/// Size of the data arena in bytes.
pub const ARENA_SIZE: usize = 64 * 1024;

/// Longest instruction byte sequence [`NativeRunner::run`] accepts.
pub const MAX_INSN_LEN: usize = 64;

/// Carry flag (RFLAGS bit 0).
pub const CF: u64 = 1 << 0;
/// Parity flag (RFLAGS bit 2).
pub const PF: u64 = 1 << 2;
/// Auxiliary carry flag (RFLAGS bit 4).
pub const AF: u64 = 1 << 4;
/// Zero flag (RFLAGS bit 6).
pub const ZF: u64 = 1 << 6;
/// Sign flag (RFLAGS bit 7).
pub const SF: u64 = 1 << 7;
/// Direction flag (RFLAGS bit 10).
pub const DF: u64 = 1 << 10;
/// Overflow flag (RFLAGS bit 11).
pub const OF: u64 = 1 << 11;

/// The RFLAGS bits that are loaded from and reported in [`NativeState::rflags`]:
/// CF, PF, AF, ZF, SF, DF and OF. All other bits keep the host's values while
/// the instruction runs and are not reported.
pub const FLAGS_MASK: u64 = CF | PF | AF | ZF | SF | DF | OF;

/// RFLAGS bit 1, which always reads as 1; set in every reported `rflags`.
pub const FLAGS_RESERVED: u64 = 1 << 1;

/// Register state in and out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeState {
    /// General-purpose registers in x86 encoding order: RAX, RCX, RDX, RBX,
    /// RSP, RBP, RSI, RDI, R8..R15.
    pub gpr: [u64; 16],
    /// RFLAGS. On input only [`FLAGS_MASK`] bits are used; on output it is
    /// masked to [`FLAGS_MASK`] plus [`FLAGS_RESERVED`].
    pub rflags: u64,
}

/// SSE and MMX state in and out of [`NativeRunner::run_simd`]: XMM0-XMM15,
/// MM0-MM7 and MXCSR. (The trampoline ends with EMMS, so the host's x87 tags
/// are empty again afterwards; the x87 TOP and tags the instruction left
/// are not reported.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimdState {
    /// XMM0-XMM15 (bit 0 of each value is bit 0 of the register).
    pub xmm: [u128; 16],
    /// MM0-MM7.
    pub mm: [u64; 8],
    /// MXCSR. The caller must keep every exception masked (bits 7-12 set)
    /// so the instruction cannot trap; the host's MXCSR is restored after
    /// the instruction.
    pub mxcsr: u32,
}

impl Default for SimdState {
    /// All XMM and MMX registers zero, MXCSR at its reset value 0x1F80.
    fn default() -> Self {
        SimdState {
            xmm: [0; 16],
            mm: [0; 8],
            mxcsr: MXCSR_DEFAULT,
        }
    }
}

/// MXCSR after reset: every exception masked, round to nearest.
pub const MXCSR_DEFAULT: u32 = 0x1F80;

/// Errors setting up or using the host executor.
#[derive(Debug)]
#[non_exhaustive]
pub enum NativeError {
    /// Another [`NativeRunner`] is alive in this process (the arena address is
    /// fixed, so only one can exist at a time).
    AlreadyInUse,
    /// Mapping the arena at [`ARENA_BASE`] failed (e.g. the address is taken).
    ArenaMap(io::Error),
    /// The kernel placed the arena somewhere other than [`ARENA_BASE`]
    /// (kernels before 4.17 treat `MAP_FIXED_NOREPLACE` as a hint).
    ArenaMisplaced {
        /// Address the kernel returned.
        got: u64,
    },
    /// Mapping the executable code page or the scratch page failed.
    CodeMap(io::Error),
    /// The generated trampoline does not fit in the code page.
    CodeTooLong {
        /// Trampoline size in bytes.
        len: usize,
        /// Code page size in bytes.
        max: usize,
    },
    /// The instruction bytes passed to [`NativeRunner::run`] are too long.
    InsnTooLong {
        /// Length given.
        len: usize,
        /// Maximum accepted ([`MAX_INSN_LEN`]).
        max: usize,
    },
    /// Blocking signals around the native run failed.
    SignalMask(io::Error),
    /// The host is not x86-64 Linux.
    Unsupported,
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NativeError::AlreadyInUse => {
                f.write_str("a NativeRunner already exists in this process")
            }
            NativeError::ArenaMap(e) => {
                write!(f, "cannot map the data arena at {ARENA_BASE:#x}: {e}")
            }
            NativeError::ArenaMisplaced { got } => write!(
                f,
                "kernel mapped the data arena at {got:#x} instead of {ARENA_BASE:#x}"
            ),
            NativeError::CodeMap(e) => write!(f, "cannot map the executor pages: {e}"),
            NativeError::CodeTooLong { len, max } => write!(
                f,
                "trampoline of {len} bytes does not fit in the {max}-byte code page"
            ),
            NativeError::InsnTooLong { len, max } => {
                write!(f, "instruction bytes too long: {len} bytes (at most {max})")
            }
            NativeError::SignalMask(e) => write!(f, "cannot block signals: {e}"),
            NativeError::Unsupported => {
                f.write_str("native execution requires an x86-64 Linux host")
            }
        }
    }
}

impl std::error::Error for NativeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NativeError::ArenaMap(e) | NativeError::CodeMap(e) | NativeError::SignalMask(e) => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// Serializes [`with_runner`] callers within the process.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` with exclusive use of a fresh [`NativeRunner`], blocking until any
/// other thread's `with_runner` call has finished.
///
/// Each call creates a new runner (so the arena starts zero-filled) and drops
/// it afterwards; batch many runs into one call when speed matters. A panic in
/// `f` releases the runner and the lock normally.
///
/// # Errors
///
/// Any error from [`NativeRunner::new`] — notably [`NativeError::AlreadyInUse`]
/// if a runner created directly with `NativeRunner::new` (outside
/// `with_runner`) is alive.
pub fn with_runner<R>(f: impl FnOnce(&mut NativeRunner) -> R) -> Result<R, NativeError> {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let mut runner = NativeRunner::new()?;
    Ok(f(&mut runner))
}

#[cfg(test)]
mod tests;

//! Guest programs for sysgate's tests, benches and demos.
//!
//! Every program is a static Linux ELF executable produced by Rust code: the
//! machine code is assembled with iced-x86's `code_asm` and wrapped by the
//! small ELF writer in [`elf`], so no external toolchain is involved. Each
//! [`Guest`] carries its bytes and what a correct Linux kernel makes of it:
//! the expected standard output and exit status, the files it expects, and
//! (where it differs) what a stock Linux kernel does.
//!
//! # Conventions a kernel model must provide
//!
//! * **Process start** as Linux's `execve` leaves it: the stack pointer at
//!   `argc`, then `argv[]`, NULL, `envp[]`, NULL, and the auxiliary vector
//!   (pairs of words, ended by `AT_NULL`). Registers other than the stack
//!   pointer are not read.
//! * **`AT_SYSINFO`** (32) in the auxiliary vector of 32-bit processes: the
//!   address of the vDSO's `__kernel_vsyscall`. Only the
//!   [`Mechanism::Vsyscall`] programs read it; without it they print
//!   `no AT_SYSINFO in the auxiliary vector` on stderr and exit with 2.
//! * **SYSENTER / 32-bit SYSCALL return**: [`Mechanism::Sysenter`] programs
//!   (and the AMD-only 32-bit [`Mechanism::Syscall`] ones) call a local copy of
//!   Linux's `__kernel_vsyscall` sequence — `push ecx; push edx; push ebp;
//!   mov ebp, esp; sysenter` (SYSCALL: `mov ebp, ecx; syscall`) followed by
//!   `pop ebp; pop edx; pop ecx; ret`. Linux returns to the vDSO's
//!   `int80_landing_pad`, whose code is those same four instructions, with
//!   EAX = result, ESP = the user ESP at entry (the SYSENTER path reads it
//!   from EBP), EBP reloaded from the word at that ESP, and ECX/EDX
//!   clobbered by SYSEXIT/SYSRET (the pad restores them). A kernel model may
//!   return either to its vDSO landing pad (the Linux way: the vDSO must then
//!   be mapped) or to the instruction after SYSENTER/SYSCALL with the same
//!   register state; both work.
//! * **Files**: [`Guest::files`] lists what must exist (for example
//!   `/tmp/test` for `seed-int80-open-read`, and `/bin/hello-syscall64` for
//!   `fork-exec-wait`: every built-in guest is expected at `/bin/<name>`);
//!   [`Guest::absent_files`] what must not (the seed's `tmp/test.txt`,
//!   relative to the working directory).
//! * **System calls** used: `read`, `write`, `open`, `close`, `getpid`,
//!   `fork`, `execve`, `wait4`, `exit_group` (x86_64 and i386 numbers), and
//!   on x86_64 the seed's `myaudit` ([`NR_MYAUDIT`]).
//! * **Faults**: the `priv-*` programs expect the #GP of a privileged
//!   instruction at CPL 3 to kill them with SIGSEGV.

pub mod elf;

mod asm;
mod nr;
mod programs;

use std::fmt;

/// The seed's `syscall_audit` system call number (x86_64; a hole in the
/// stock table).
pub const NR_SYSCALL_AUDIT: u32 = 335;
/// The seed's `myaudit` system call number (x86_64; a hole in the stock
/// table): `myaudit(u8 type, u8 *buf, u16 size, u8 reset)` copies the audit
/// records to `buf` and returns how many.
pub const NR_MYAUDIT: u32 = 336;
/// Size of one seed audit record (`struct syscall_buf`) as the collector
/// reads it: `u32 serial` at 0, `u64 ts_sec` at 8, `u64 ts_micro` at 16,
/// `u32 syscall` at 24, `u32 status` at 28, `pid_t pid` at 32, `uid_t uid` at
/// 36, `u8 comm[16]` at 40.
pub const AUDIT_RECORD_SIZE: u64 = 56;
/// Number of (getpid, open, close) rounds `audit-collector` makes before
/// draining: 27 × 3 = 81 records, past the seed's 80% watermark of a
/// 100-record buffer, so even a kernel that blocks `myaudit` until the
/// watermark (as the seed's module does) returns at once.
pub const AUDIT_ROUNDS: u32 = 27;
/// Default iteration count of the `getpid-loop-*` programs.
pub const DEFAULT_GETPID_LOOPS: u32 = 1000;

/// Instruction set of a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit code (ELF64, `EM_X86_64`).
    X86_64,
    /// 32-bit code (ELF32, `EM_386`), run natively or in compatibility mode.
    I386,
}

/// How a guest enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `syscall`: x86_64 numbers from 64-bit code; from 32-bit code (AMD
    /// only under a 64-bit kernel) through the vDSO-style stub.
    Syscall,
    /// `int 0x80` with i386 numbers, from 32-bit or 64-bit code.
    Int80,
    /// `sysenter` from 32-bit code through a local copy of Linux's
    /// `__kernel_vsyscall` sequence (see the crate documentation).
    Sysenter,
    /// `call` through `AT_SYSINFO`, i.e. the vDSO's `__kernel_vsyscall`
    /// (32-bit code), whatever instruction the kernel put there.
    Vsyscall,
}

/// What a guest needs from the CPU beyond baseline x86-64 / i686.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuNeed {
    /// Nothing.
    Any,
    /// SYSENTER from 32-bit code: fine under a 32-bit kernel, but under a
    /// 64-bit kernel (compatibility mode) only Intel CPUs implement it; AMD
    /// raises #UD (Linux: SIGILL).
    Sysenter32,
    /// SYSCALL from 32-bit code under a 64-bit kernel: AMD CPUs only; Intel
    /// raises #UD in compatibility mode (Linux: SIGILL).
    Syscall32,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Normal exit with this status (0–255).
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The status a shell (and the sysgate CLI) reports: the exit status,
    /// or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Linux's SIGILL.
pub const SIGILL: i32 = 4;
/// Linux's SIGSEGV.
pub const SIGSEGV: i32 = 11;

/// What running a guest produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expected {
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// How the process ends.
    pub status: ExitStatus,
}

impl Expected {
    fn new(stdout: impl Into<Vec<u8>>, status: ExitStatus) -> Expected {
        Expected {
            stdout: stdout.into(),
            status,
        }
    }
}

/// A file a guest expects to exist when it starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GuestFile {
    /// Absolute path in the guest's file system.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Whether it must be executable (mode 0755 rather than 0644).
    pub executable: bool,
}

/// The description of a built-in guest, without its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuestInfo {
    /// Registry name, e.g. `hello-syscall64`.
    pub name: &'static str,
    /// Instruction set.
    pub arch: Arch,
    /// How it enters the kernel.
    pub mechanism: Mechanism,
    /// Whether it is an `ET_DYN` static-PIE image (else `ET_EXEC`).
    pub pie: bool,
    /// CPU requirement of the mechanism.
    pub cpu: CpuNeed,
    /// One-paragraph description, including its output format.
    pub description: &'static str,
}

/// A built guest program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guest {
    /// What it is.
    pub info: GuestInfo,
    /// The ELF executable.
    pub elf: Vec<u8>,
    /// Standard output and exit status under a correct Linux kernel (with the
    /// seed's audit extension where the program uses it), run with no
    /// arguments, with [`Self::files`] present and [`Self::absent_files`]
    /// absent.
    pub expected: Expected,
    /// What a stock Linux kernel does instead, when that differs (for
    /// `audit-collector`: no `myaudit`, so -ENOSYS).
    pub stock_linux: Option<Expected>,
    /// Files that must exist for [`Self::expected`] to hold.
    pub files: Vec<GuestFile>,
    /// Paths (relative to the working directory unless absolute) that must
    /// not exist for [`Self::expected`] to hold.
    pub absent_files: Vec<&'static str>,
}

impl Guest {
    /// Registry name.
    pub fn name(&self) -> &'static str {
        self.info.name
    }
    /// Instruction set.
    pub fn arch(&self) -> Arch {
        self.info.arch
    }
    /// Entry mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.info.mechanism
    }
    /// Description.
    pub fn description(&self) -> &'static str {
        self.info.description
    }
}

/// Why a guest could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// No built-in guest has this name.
    UnknownProgram(String),
    /// The arch/mechanism combination (or a feature a program asked for)
    /// does not exist.
    Unsupported(&'static str),
    /// The system call has no number in the ABI the mechanism uses.
    NoSuchCall(&'static str),
    /// iced-x86 refused the code (a bug in a program definition).
    Asm(String),
    /// The ELF writer refused the image.
    Elf(elf::ElfError),
    /// Code layout did not settle (a bug in the builder).
    NoFixpoint,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownProgram(n) => write!(f, "unknown guest program `{n}`"),
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::NoSuchCall(name) => write!(f, "system call `{name}` has no number in this ABI"),
            Error::Asm(e) => write!(f, "assembler error: {e}"),
            Error::Elf(e) => write!(f, "{e}"),
            Error::NoFixpoint => write!(f, "code layout did not converge"),
        }
    }
}

impl std::error::Error for Error {}

/// Every built-in guest, in registry order.
pub fn all() -> Vec<GuestInfo> {
    programs::REGISTRY.iter().map(|e| e.info).collect()
}

/// The built-in guest called `name`, built; `None` if there is none.
pub fn program(name: &str) -> Option<Guest> {
    build(name).ok()
}

/// The built-in guest called `name`, built, or why not.
pub fn build(name: &str) -> Result<Guest, Error> {
    let entry = programs::REGISTRY
        .iter()
        .find(|e| e.info.name == name)
        .ok_or_else(|| Error::UnknownProgram(name.to_string()))?;
    programs::build_entry(entry)
}

/// `hello` for an arch and mechanism (`None` where the combination does not
/// exist, e.g. 64-bit SYSENTER).
pub fn hello(arch: Arch, mechanism: Mechanism) -> Option<Guest> {
    let name = programs::variant_name("hello", arch, mechanism)?;
    program(name)
}

/// A `getpid` loop of `n` iterations for an arch and mechanism (`None`
/// where the combination does not exist). The guest keeps the registry name
/// of the default loop (`getpid-loop-syscall64`, ...) and exits with 0, or
/// with 1 as soon as `getpid` returns a negative value.
pub fn getpid_loop(arch: Arch, mechanism: Mechanism, n: u32) -> Option<Guest> {
    let name = programs::variant_name("getpid-loop", arch, mechanism)?;
    let entry = programs::REGISTRY.iter().find(|e| e.info.name == name)?;
    programs::getpid_loop(entry.info, n).ok()
}

/// The ELF of a program that calls `write(1, buf, len)` `n` times, `buf`
/// holding `len` zero bytes, for an arch and mechanism (`None` where the
/// combination does not exist): it prints `n * len` zero bytes and exits
/// with 0, or with 1 as soon as a write returns anything but `len`. Only
/// the image is returned (the expected output can be large): run it with a
/// console that discards output for benchmarks.
pub fn write_loop(arch: Arch, mechanism: Mechanism, n: u32, len: u32) -> Option<Vec<u8>> {
    let name = programs::variant_name("hello", arch, mechanism)?;
    let entry = programs::REGISTRY.iter().find(|e| e.info.name == name)?;
    programs::write_loop(entry.info, n, len).ok()
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh scratch directory under the system temp directory.
    pub(crate) fn scratch_dir(tag: &str) -> Option<PathBuf> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "sysgate-guest-bins-{tag}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    }
}

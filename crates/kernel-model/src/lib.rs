//! The Linux-like kernel model: boot, entry stubs, system-call tables,
//! dispatcher, processes, VFS, ELF loader, vDSO and the audit log.
//!
//! Two layers:
//!
//! - The *Linux personality layer*, pure Rust and independent of the CPU:
//!   [`personality::Personality`] owns the shared state — the filesystem
//!   namespace ([`vfs`]: in-memory by default, confined host mounts), the
//!   [`console`], the [`audit`] log, the modeled clock ([`time`]), the
//!   seeded random source ([`random`]) — and one system-call table per ABI
//!   ([`syscalls::table`]) whose rows drive dispatch, names, arity and
//!   [`strace`] output. Per-process state is a [`personality::TaskFiles`]
//!   (descriptor table over shared open files, [`fd`], [`pipe`]; cwd;
//!   umask). Guest memory is reached only through [`uaccess::UserMemory`];
//!   errors are Linux [`errno`] values; `pt_regs` in both layouts is in
//!   [`syscalls::regs`].
//! - The *machine layer* ([`machine`]): boot, GDT/IDT, entry stubs in x86
//!   code, page tables, processes and scheduling, ELF loading, vDSO. It
//!   reads `pt_regs`, calls [`personality::Personality::syscall`], and
//!   performs the calls the tables mark as its own
//!   ([`syscalls::table::MachineOp`]).

pub mod abi;
pub mod audit;
pub mod console;
pub mod errno;
pub mod fd;
pub mod machine;
pub mod personality;
pub mod pipe;
pub mod random;
pub mod strace;
pub mod syscalls;
#[cfg(test)]
mod testutil;
pub mod time;
pub mod uaccess;
pub mod uapi;
pub mod vfs;

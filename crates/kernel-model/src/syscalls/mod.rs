//! System-call tables of the two ABIs the kernel model serves: x86_64
//! (`syscall`, numbers from `unistd_64.h`) and i386 (`int 0x80`/`sysenter`,
//! and int 0x80 from 64-bit code; numbers from `unistd_32.h`).
//!
//! [`table`] holds one table per ABI whose rows drive dispatch, names,
//! arity and strace formatting; the handlers live in per-concern modules
//! (descriptor I/O, path calls, identity and time, sockets, the seed's
//! audit calls); [`regs`] has `pt_regs` in both layouts.

pub mod unistd_32;
pub mod unistd_64;

mod auditcalls;
mod dev;
mod fsmeta;
mod ident;
mod io;
mod misc;
pub mod net;
mod path;
mod poll;
mod procfd;
mod procfs;
pub mod regs;
mod rows;
mod rows_ext;
pub mod table;
mod util;
pub(crate) mod xfer;

#[cfg(test)]
mod tests;

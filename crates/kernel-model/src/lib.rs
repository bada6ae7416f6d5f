//! The Linux-like kernel model: boot, entry stubs, system-call tables,
//! dispatcher, processes, VFS, ELF loader, vDSO and the audit log.
//!
//! This crate holds the *Linux personality layer*: everything about system
//! calls that needs no CPU — error numbers ([`errno`]), the user-memory
//! boundary ([`uaccess`]), the modeled clock ([`time`]) and the system-call
//! number tables generated from the kernel's UAPI headers ([`syscalls`]).
//! The machine layer (boot, entry stubs, processes) builds on it.

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

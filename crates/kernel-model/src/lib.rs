//! The Linux-like kernel model: boot, entry stubs, system-call tables,
//! dispatcher, processes, VFS, ELF loader, vDSO and the audit log.
//!
//! So far this crate holds the system-call number tables generated from the
//! kernel's UAPI headers ([`syscalls`]); the rest of the model is issue 4's
//! work. The dependency direction (mmu <- cpu <- kernel-model <- facade) is
//! fixed from the start.

pub mod syscalls;

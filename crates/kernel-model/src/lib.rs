//! The Linux-like kernel model: boot, entry stubs, system-call tables,
//! dispatcher, processes, VFS, ELF loader, vDSO and the audit log.
//!
//! Not yet implemented: this crate is a placeholder in the workspace so that
//! the dependency direction (mmu <- cpu <- kernel-model <- facade) is fixed
//! from the start. See `shared/DESIGN.md` and issue 4.

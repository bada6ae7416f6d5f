//! # sysgate-mmu
//!
//! Guest physical memory, x86 paging-structure walks, a software TLB and page
//! faults for the sysgate emulator. The semantics follow the Intel SDM Vol. 3,
//! chapter 4 ("Paging").
//!
//! * [`PhysMem`] — sparse guest RAM with code-page tracking for the CPU's
//!   decode cache (`phys` module).
//! * [`PagingRegs`], [`Access`], [`PageFault`] and the walks for 32-bit,
//!   PAE and 4-level paging (`paging` module).
//! * [`Mmu`] — the translation entry point: a direct-mapped TLB in front of
//!   the walks (`tlb` and `mmu` modules).
//!
//! Not modelled: 5-level paging (CR4.LA57), PCIDs (CR4.PCIDE; CR3 bits 11:0
//! are ignored), protection keys (CR4.PKE/PKS), shadow stacks, memory types
//! (PAT/MTRR) and the paging-structure caches (every TLB miss walks from CR3).

#![deny(unsafe_code)]

mod mmu;
mod paging;
mod phys;
mod tlb;

#[cfg(test)]
mod tests;

pub use mmu::Mmu;
pub use paging::{
    Access, AccessKind, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA,
    EFER_LME, EFER_NXE, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PCD, PTE_PS, PTE_PWT, PTE_RW, PTE_US,
    PTE_XD, PageFault, PagingMode, PagingRegs,
};
pub use phys::{MAX_PHYS_SIZE, PhysMem};
pub use tlb::{TLB_SIZE, TlbStats};

/// Size of a 4-KByte page, the unit of allocation, code tracking and TLB
/// caching (large pages are cached one 4-KByte piece at a time).
pub const PAGE_SIZE: u64 = 4096;

/// Modeled MAXPHYADDR (bits): physical-address bits at or above it are
/// reserved in paging-structure entries (SDM Vol. 3 §4.1.4, §4.4.2, §4.5.4).
pub const MAXPHYADDR: u32 = 39;

//! The memory-management unit: linear-to-physical translation through the
//! TLB, falling back to a paging-structure walk on a miss.

use crate::paging::{self, AccessKind, CR0_PG, EFER_LMA, FaultCause};
use crate::tlb::{FLAG_GLOBAL, FLAG_LARGE, Tlb, TlbStats};
use crate::{Access, PageFault, PagingRegs, PhysMem};

/// Guest physical memory plus the translation machinery in front of it.
pub struct Mmu {
    /// Guest physical memory; paging-structure entries are read and written here.
    pub phys: PhysMem,
    tlb: Tlb,
    stats: TlbStats,
    epoch: u64,
    /// Changes with every change to the TLB's contents.
    tlb_generation: u64,
}

impl std::fmt::Debug for Mmu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mmu")
            .field("phys", &self.phys)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Mmu {
    /// An MMU over `phys` with an empty TLB.
    pub fn new(phys: PhysMem) -> Self {
        Mmu {
            phys,
            tlb: Tlb::new(),
            stats: TlbStats::default(),
            epoch: 0,
            tlb_generation: 0,
        }
    }

    /// Translates a linear address for the access `acc`.
    ///
    /// With CR0.PG = 0 the address is used as is, truncated to 32 bits unless
    /// EFER.LMA = 1; the TLB is not touched. Otherwise the TLB is consulted
    /// and, on a miss (or when the cached entry does not permit the access),
    /// the paging structures are walked: 32-bit paging, PAE paging (PDPTEs
    /// read from memory at walk time) or 4-level paging, as selected by
    /// [`PagingRegs::mode`].
    ///
    /// Checks P, R/W and U/S at every level, CR0.WP, execute-disable (only
    /// with EFER.NXE = 1 in PAE/4-level paging; bit 63 is a reserved bit
    /// otherwise), CR4.SMEP, CR4.SMAP (waived for explicit supervisor
    /// accesses with AC = 1) and reserved bits (§4.6, §4.5.4). On success the
    /// accessed flags of every entry used, and for writes the dirty flag of
    /// the final entry, are set in memory; a failed translation modifies
    /// nothing and drops any TLB entry for the address (§4.10.4.1). On
    /// failure the [`PageFault`] carries CR2 = `lin` and the §4.7 error code.
    ///
    /// The TLB holds rights evaluated under the CR0/CR4 values of the fill:
    /// call [`flush_tlb`](Self::flush_tlb) whenever CR0, CR4 or EFER.NXE change.
    #[inline]
    pub fn translate(
        &mut self,
        regs: &PagingRegs,
        lin: u64,
        acc: Access,
    ) -> Result<u64, PageFault> {
        if regs.cr0 & CR0_PG == 0 {
            return Ok(if regs.efer & EFER_LMA != 0 {
                lin
            } else {
                lin & 0xFFFF_FFFF
            });
        }
        if let Some(pa) = self.tlb.lookup(lin, acc.class_bit()) {
            self.stats.hits = self.stats.hits.wrapping_add(1);
            return Ok(pa);
        }
        self.translate_slow(regs, lin, acc)
    }

    /// The TLB-miss path: walk, check rights, update A/D, refill.
    #[cold]
    #[inline(never)]
    fn translate_slow(
        &mut self,
        regs: &PagingRegs,
        lin: u64,
        acc: Access,
    ) -> Result<u64, PageFault> {
        if !self.tlb.holds(lin) {
            self.stats.misses = self.stats.misses.wrapping_add(1);
        }
        self.stats.walks = self.stats.walks.wrapping_add(1);
        let walk = match paging::walk(&self.phys, regs, lin) {
            Ok(w) if w.permits(regs, acc) => w,
            Ok(_) => return Err(self.fault(regs, lin, acc, FaultCause::Protection)),
            Err(cause) => return Err(self.fault(regs, lin, acc, cause)),
        };
        let write = acc.kind == AccessKind::Write;
        walk.commit(&mut self.phys, write);
        let mut bits = walk.class_mask(regs, walk.dirty || write);
        if walk.global {
            bits |= FLAG_GLOBAL;
        }
        if walk.large {
            bits |= FLAG_LARGE;
        }
        self.tlb.fill(lin, walk.frame, bits);
        self.tlb_generation = self.tlb_generation.wrapping_add(1);
        Ok(walk.frame | (lin & 0xFFF))
    }

    /// Builds a page fault and drops any TLB entry for `lin` (a #PF
    /// invalidates the translations for the faulting address, §4.10.4.1).
    fn fault(&mut self, regs: &PagingRegs, lin: u64, acc: Access, cause: FaultCause) -> PageFault {
        self.epoch = self.epoch.wrapping_add(1);
        self.tlb_generation = self.tlb_generation.wrapping_add(1);
        self.tlb.invalidate(lin);
        PageFault::new(regs, lin, acc, cause)
    }

    /// Translates like [`translate`](Self::translate) but without side
    /// effects: the TLB is neither consulted nor filled, no accessed or dirty
    /// flag is written and no statistic changes. For debuggers and tracers.
    pub fn peek(&self, regs: &PagingRegs, lin: u64, acc: Access) -> Result<u64, PageFault> {
        if regs.cr0 & CR0_PG == 0 {
            return Ok(if regs.efer & EFER_LMA != 0 {
                lin
            } else {
                lin & 0xFFFF_FFFF
            });
        }
        match paging::walk(&self.phys, regs, lin) {
            Ok(w) if w.permits(regs, acc) => Ok(w.frame | (lin & 0xFFF)),
            Ok(_) => Err(PageFault::new(regs, lin, acc, FaultCause::Protection)),
            Err(cause) => Err(PageFault::new(regs, lin, acc, cause)),
        }
    }

    /// Flushes the TLB (MOV CR3: keep_global = CR4.PGE; CR0/CR4 paging-bit changes: keep_global = false).
    pub fn flush_tlb(&mut self, keep_global: bool) {
        self.epoch = self.epoch.wrapping_add(1);
        self.stats.flushes = self.stats.flushes.wrapping_add(1);
        self.tlb_generation = self.tlb_generation.wrapping_add(1);
        self.tlb.flush(keep_global);
    }

    /// INVLPG: drops the entries for the page holding `lin` (all page sizes; global ones too).
    pub fn invlpg(&mut self, lin: u64) {
        self.epoch = self.epoch.wrapping_add(1);
        self.tlb_generation = self.tlb_generation.wrapping_add(1);
        self.tlb.invalidate(lin);
    }

    /// Changes whenever cached translations may have become invalid (a TLB
    /// flush, INVLPG, or a page fault, which drops the faulting entry).
    /// Callers that cache translations in front of the MMU, like the CPU's
    /// host-pointer cache, drop their cache when it changes.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Changes whenever the TLB's contents change (a fill, a flush, an
    /// invalidation). While it stays the same, a translation that was
    /// served by (or filled into) the TLB would be served by it again with
    /// the same result, so a caller may remember that result instead of
    /// looking it up, calling [`count_hit`](Self::count_hit) to keep the
    /// statistics those lookups would have kept.
    #[inline]
    pub fn tlb_generation(&self) -> u64 {
        self.tlb_generation
    }

    /// Counts a TLB hit for a translation a caller remembered (see
    /// [`tlb_generation`](Self::tlb_generation)).
    #[inline]
    pub fn count_hit(&mut self) {
        self.stats.hits = self.stats.hits.wrapping_add(1);
    }

    /// TLB hit/miss/walk/flush counters since creation.
    pub fn stats(&self) -> TlbStats {
        self.stats
    }
}

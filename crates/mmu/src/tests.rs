//! Unit tests for translation: page tables are built by hand in [`PhysMem`].

use crate::*;

const UP: u64 = PTE_P | PTE_RW | PTE_US;
const CR0_PE: u64 = 1;
const P: u32 = PageFault::P;
const W: u32 = PageFault::W;
const U: u32 = PageFault::U;
const RSVD: u32 = PageFault::RSVD;
const ID: u32 = PageFault::ID;

/// An MMU, its registers and a bump allocator for page tables.
struct Env {
    mmu: Mmu,
    regs: PagingRegs,
    next: u64,
}

impl Env {
    fn new(cr0: u64, cr4: u64, efer: u64) -> Self {
        let mut env = Env {
            mmu: Mmu::new(PhysMem::new(8 << 30)),
            regs: PagingRegs {
                cr0,
                cr3: 0,
                cr4,
                efer,
            },
            next: 0x10_0000,
        };
        env.regs.cr3 = env.alloc();
        env
    }

    /// 4-level paging with WP and NXE on.
    fn long() -> Self {
        Self::new(
            CR0_PG | CR0_PE | CR0_WP,
            CR4_PAE,
            EFER_LME | EFER_LMA | EFER_NXE,
        )
    }

    /// PAE paging with WP and NXE on.
    fn pae() -> Self {
        Self::new(CR0_PG | CR0_PE | CR0_WP, CR4_PAE, EFER_NXE)
    }

    /// 32-bit paging with PSE and WP on.
    fn bits32() -> Self {
        Self::new(CR0_PG | CR0_PE | CR0_WP, CR4_PSE, 0)
    }

    fn alloc(&mut self) -> u64 {
        let a = self.next;
        self.next += 0x1000;
        a
    }

    fn rd(&self, pa: u64) -> u64 {
        self.mmu.phys.read_u64(pa)
    }

    fn wr(&mut self, pa: u64, v: u64) {
        self.mmu.phys.write_u64(pa, v);
    }

    /// Address of the 4-level entry at `depth` (0 = PML4E .. 3 = PTE) for
    /// `lin`, creating missing tables with `upper` flags.
    fn entry4(&mut self, lin: u64, depth: usize, upper: u64) -> u64 {
        let mut table = self.regs.cr3;
        for (d, shift) in [39u32, 30, 21, 12].into_iter().enumerate() {
            let ea = table + ((lin >> shift) & 0x1FF) * 8;
            if d == depth {
                return ea;
            }
            let e = self.rd(ea);
            table = if e & PTE_P == 0 {
                let t = self.alloc();
                self.wr(ea, t | upper);
                t
            } else {
                e & 0x7F_FFFF_F000
            };
        }
        0
    }

    /// Maps `lin` to `pa` in 4-level paging: `depth` 3 = 4K, 2 = 2M, 1 = 1G.
    fn map4(&mut self, lin: u64, pa: u64, depth: usize, leaf: u64, upper: u64) -> u64 {
        let ea = self.entry4(lin, depth, upper);
        let ps = if depth < 3 { PTE_PS } else { 0 };
        self.wr(ea, pa | leaf | ps);
        ea
    }

    /// PAE: PDPTE address for `lin`, creating a page directory if needed.
    fn pae_entry(&mut self, lin: u64, depth: usize, upper: u64) -> u64 {
        let pdpte = self.regs.cr3 + ((lin >> 30) & 3) * 8;
        if depth == 0 {
            return pdpte;
        }
        if self.rd(pdpte) & PTE_P == 0 {
            let t = self.alloc();
            self.wr(pdpte, t | PTE_P);
        }
        let pd = self.rd(pdpte) & 0x7F_FFFF_F000;
        let pde = pd + ((lin >> 21) & 0x1FF) * 8;
        if depth == 1 {
            return pde;
        }
        if self.rd(pde) & PTE_P == 0 {
            let t = self.alloc();
            self.wr(pde, t | upper);
        }
        (self.rd(pde) & 0x7F_FFFF_F000) + ((lin >> 12) & 0x1FF) * 8
    }

    /// 32-bit paging: PDE (depth 0) or PTE (depth 1) address for `lin`.
    fn entry32(&mut self, lin: u64, depth: usize, upper: u64) -> u64 {
        let pde = self.regs.cr3 + ((lin >> 22) & 0x3FF) * 4;
        if depth == 0 {
            return pde;
        }
        let mut e = u64::from(self.mmu.phys.read_u32(pde));
        if e & PTE_P == 0 {
            let t = self.alloc();
            e = t | upper;
            self.mmu.phys.write_u32(pde, e as u32);
        }
        (e & 0xFFFF_F000) + ((lin >> 12) & 0x3FF) * 4
    }

    fn tr(&mut self, lin: u64, acc: Access) -> Result<u64, PageFault> {
        let regs = self.regs;
        self.mmu.translate(&regs, lin, acc)
    }

    /// Changes registers the way the CPU does: flush on CR0/CR4 changes.
    fn set_regs(&mut self, cr0: u64, cr4: u64) {
        self.regs.cr0 = cr0;
        self.regs.cr4 = cr4;
        self.mmu.flush_tlb(false);
    }
}

fn pf(addr: u64, error: u32) -> Result<u64, PageFault> {
    Err(PageFault { addr, error })
}

#[test]
fn paging_off_is_identity() {
    let mut mmu = Mmu::new(PhysMem::new(1 << 20));
    let regs = PagingRegs::default();
    assert_eq!(regs.mode(), PagingMode::Off);
    let lin = 0x1_2345_6789;
    assert_eq!(
        mmu.translate(&regs, lin, Access::write(true)),
        Ok(0x2345_6789)
    );
    let lm = PagingRegs {
        efer: EFER_LMA,
        ..regs
    };
    assert_eq!(mmu.translate(&lm, lin, Access::fetch(false)), Ok(lin));
    assert_eq!(mmu.stats(), TlbStats::default());
}

#[test]
fn four_level_page_sizes() {
    let mut env = Env::long();
    assert_eq!(env.regs.mode(), PagingMode::FourLevel);
    env.map4(0x40_1000, 0x7000, 3, UP, UP);
    env.map4(0x8060_0000, 0x1_0020_0000, 2, UP, UP);
    env.map4(0x80_4000_0000, 0x1_8000_0000, 1, UP, UP);
    let kernel = 0xFFFF_8000_0000_3000;
    env.map4(kernel, 0x9000, 3, PTE_P | PTE_RW, PTE_P | PTE_RW);
    assert_eq!(env.tr(0x40_1234, Access::read(true)), Ok(0x7234));
    assert_eq!(env.tr(0x807F_FFFF, Access::read(true)), Ok(0x1_003F_FFFF));
    assert_eq!(
        env.tr(0x80_4123_4567, Access::write(false)),
        Ok(0x1_8123_4567)
    );
    assert_eq!(env.tr(kernel + 0x10, Access::fetch(false)), Ok(0x9010));
    // The neighbouring 4K page is not mapped.
    assert_eq!(env.tr(0x40_2000, Access::read(true)), pf(0x40_2000, U));
}

#[test]
fn pae_page_sizes() {
    let mut env = Env::pae();
    assert_eq!(env.regs.mode(), PagingMode::Pae);
    let pte = env.pae_entry(0xC000_5000, 2, UP);
    env.wr(pte, 0x12_3456_7000 | UP);
    let pde = env.pae_entry(0x4060_0000, 1, UP);
    env.wr(pde, 0x20_0060_0000 | UP | PTE_PS);
    assert_eq!(env.tr(0xC000_5ABC, Access::read(true)), Ok(0x12_3456_7ABC));
    assert_eq!(env.tr(0x407F_0001, Access::write(true)), Ok(0x20_007F_0001));
    // Bits above 31 of the linear address are ignored outside long mode.
    assert_eq!(env.tr(0xC000_5ABC, Access::read(true)), Ok(0x12_3456_7ABC));
    // Another PDPT slot is not present.
    assert_eq!(env.tr(0x0000_1000, Access::read(false)), pf(0x1000, 0));
}

#[test]
fn bits32_page_sizes_and_pse36() {
    let mut env = Env::bits32();
    assert_eq!(env.regs.mode(), PagingMode::Bits32);
    let pte = env.entry32(0x0804_8000, 1, UP);
    env.mmu.phys.write_u32(pte, 0x0030_0000 | UP as u32);
    // 4-MByte page at physical 0x1_2340_0000 (bit 32 in PDE bit 13).
    let pde = env.entry32(0xC040_0000, 0, UP);
    let v = 0x2340_0000 | (1 << 13) | (PTE_P | PTE_RW | PTE_PS) as u32;
    env.mmu.phys.write_u32(pde, v);
    assert_eq!(env.tr(0x0804_8123, Access::fetch(true)), Ok(0x0030_0123));
    assert_eq!(env.tr(0xC07F_FFFF, Access::read(false)), Ok(0x1_237F_FFFF));
    // With CR4.PSE = 0 the PS bit is ignored: the PDE points to a page table.
    env.set_regs(env.regs.cr0, 0);
    // Bit 13 (a PSE-36 bit before) is now part of the page-table address.
    let pt = 0x2340_2000u64;
    env.mmu.phys.write_u32(pt + 5 * 4, 0x0055_5000 | 3);
    assert_eq!(env.tr(0xC040_5010, Access::read(false)), Ok(0x0055_5010));
}

#[test]
fn not_present_faults() {
    let mut env = Env::long();
    let pte = env.map4(0x1000, 0x5000, 3, UP, UP);
    env.wr(pte, 0);
    assert_eq!(env.tr(0x1234, Access::read(false)), pf(0x1234, 0));
    assert_eq!(env.tr(0x1234, Access::write(true)), pf(0x1234, W | U));
    // NXE + PAE: fetches report I/D.
    assert_eq!(env.tr(0x1234, Access::fetch(true)), pf(0x1234, U | ID));
    // Missing PML4E.
    let far = 0x7000_0000_0000;
    assert_eq!(env.tr(far, Access::read(true)), pf(far, U));
    // Not present with reserved bits set is still "not present".
    env.wr(pte, 1 << 45);
    assert_eq!(env.tr(0x1000, Access::read(false)), pf(0x1000, 0));

    let mut env = Env::bits32();
    assert_eq!(env.tr(0x40_0000, Access::write(false)), pf(0x40_0000, W));
    // 32-bit paging without SMEP: no I/D bit.
    assert_eq!(env.tr(0x40_0000, Access::fetch(true)), pf(0x40_0000, U));
}

#[test]
fn user_access_to_supervisor_page() {
    let mut env = Env::long();
    env.map4(0x1000, 0x5000, 3, PTE_P | PTE_RW, UP);
    assert_eq!(env.tr(0x1008, Access::read(true)), pf(0x1008, P | U));
    assert_eq!(env.tr(0x1008, Access::write(true)), pf(0x1008, P | W | U));
    assert_eq!(env.tr(0x1008, Access::read(false)), Ok(0x5008));
    // U/S = 0 in an upper level only still makes a supervisor page.
    env.map4(0x80_0000_0000, 0x6000, 3, UP, PTE_P | PTE_RW);
    let lin = 0x80_0000_0010;
    assert_eq!(env.tr(lin, Access::read(true)), pf(lin, P | U));
    assert_eq!(env.tr(lin, Access::read(false)), Ok(0x6010));
    // The cached supervisor translation still refuses user mode.
    assert_eq!(env.tr(lin, Access::read(true)), pf(lin, P | U));
}

#[test]
fn read_only_pages_and_wp() {
    let mut env = Env::long();
    env.set_regs(CR0_PG | CR0_PE, CR4_PAE); // WP = 0
    env.map4(0x1000, 0x5000, 3, PTE_P | PTE_US, UP);
    assert_eq!(env.tr(0x1000, Access::write(true)), pf(0x1000, P | W | U));
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    assert_eq!(env.tr(0x1000, Access::write(false)), Ok(0x5000));
    env.set_regs(CR0_PG | CR0_PE | CR0_WP, CR4_PAE);
    assert_eq!(env.tr(0x1000, Access::write(false)), pf(0x1000, P | W));
    // Read-only in an upper level.
    env.map4(0x80_0000_0000, 0x6000, 3, UP, PTE_P | PTE_US);
    let lin = 0x80_0000_0000;
    assert_eq!(env.tr(lin, Access::write(false)), pf(lin, P | W));
}

#[test]
fn nx_faults() {
    let mut env = Env::long();
    env.map4(0x1000, 0x5000, 3, UP | PTE_XD, UP);
    assert_eq!(env.tr(0x1000, Access::fetch(false)), pf(0x1000, P | ID));
    assert_eq!(env.tr(0x1000, Access::fetch(true)), pf(0x1000, P | U | ID));
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    // XD in the PML4E covers everything beneath it.
    let lin = 0x80_0000_0000;
    env.map4(lin, 0x6000, 3, UP, UP | PTE_XD);
    assert_eq!(env.tr(lin, Access::fetch(true)), pf(lin, P | U | ID));
    // With NXE = 0, bit 63 is reserved and fetches carry no I/D bit.
    env.regs.efer &= !EFER_NXE;
    env.mmu.flush_tlb(false);
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, P | U | RSVD));
    assert_eq!(env.tr(0x1000, Access::fetch(false)), pf(0x1000, P | RSVD));
    // PAE paging too.
    let mut env = Env::pae();
    let pte = env.pae_entry(0x1000, 2, UP);
    env.wr(pte, 0x5000 | UP | PTE_XD);
    assert_eq!(env.tr(0x1000, Access::fetch(true)), pf(0x1000, P | U | ID));
}

#[test]
fn smep() {
    let mut env = Env::long();
    env.map4(0x1000, 0x5000, 3, UP, UP);
    assert_eq!(env.tr(0x1000, Access::fetch(false)), Ok(0x5000));
    env.set_regs(env.regs.cr0, CR4_PAE | CR4_SMEP);
    assert_eq!(env.tr(0x1000, Access::fetch(false)), pf(0x1000, P | ID));
    assert_eq!(env.tr(0x1000, Access::fetch(true)), Ok(0x5000));
    assert_eq!(env.tr(0x1000, Access::read(false)), Ok(0x5000));
    // SMEP alone makes 32-bit paging report I/D.
    let mut env = Env::bits32();
    env.set_regs(env.regs.cr0, CR4_SMEP);
    let pte = env.entry32(0x1000, 1, UP);
    env.mmu.phys.write_u32(pte, 0x5000 | UP as u32);
    assert_eq!(env.tr(0x1000, Access::fetch(false)), pf(0x1000, P | ID));
}

#[test]
fn smap() {
    let mut env = Env::long();
    env.map4(0x1000, 0x5000, 3, UP, UP);
    env.map4(0x9000, 0x6000, 3, PTE_P | PTE_RW, UP);
    assert_eq!(env.tr(0x1000, Access::read(false)), Ok(0x5000));
    env.set_regs(env.regs.cr0, CR4_PAE | CR4_SMAP);
    let r = Access::read(false);
    let w = Access::write(false);
    // Explicit supervisor access with AC = 1 first, so the TLB is warm.
    assert_eq!(env.tr(0x1000, r.with_ac(true)), Ok(0x5000));
    assert_eq!(env.tr(0x1000, r), pf(0x1000, P));
    assert_eq!(env.tr(0x1000, w.with_ac(true)), Ok(0x5000));
    assert_eq!(env.tr(0x1000, w), pf(0x1000, P | W));
    // Implicit supervisor accesses ignore AC.
    let imp = Access::implicit(AccessKind::Read).with_ac(true);
    assert_eq!(env.tr(0x1000, imp), pf(0x1000, P));
    // User mode and supervisor pages are unaffected; fetches are SMEP's job.
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    assert_eq!(env.tr(0x9000, r), Ok(0x6000));
    assert_eq!(env.tr(0x9000, imp), Ok(0x6000));
    assert_eq!(env.tr(0x1000, Access::fetch(false)), Ok(0x5000));
}

#[test]
fn reserved_bit_faults() {
    let mut env = Env::long();
    // Physical-address bit 39 (= MAXPHYADDR) in a PTE.
    let pte = env.map4(0x1000, 0x5000 | (1 << 39), 3, UP, UP);
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, P | U | RSVD));
    assert_eq!(
        env.tr(0x1000, Access::write(false)),
        pf(0x1000, P | W | RSVD)
    );
    // Bit 52..62 are ignored in 4-level paging.
    env.wr(pte, 0x5000 | UP | (1 << 52));
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    // PS in a PML4E.
    let lin = 0x80_0000_0000;
    env.map4(lin, 0x6000, 3, UP, UP);
    let pml4e = env.entry4(lin, 0, UP);
    let v = env.rd(pml4e);
    env.wr(pml4e, v | PTE_PS);
    assert_eq!(env.tr(lin, Access::read(false)), pf(lin, P | RSVD));
    // 2-MByte page with bit 13 set; 1-GByte page with bit 13 set.
    let lin2m = 0x100_0000_0000;
    env.map4(lin2m, 0x20_0000 | (1 << 13), 2, UP, UP);
    assert_eq!(env.tr(lin2m, Access::read(false)), pf(lin2m, P | RSVD));
    let lin1g = 0x180_0000_0000;
    env.map4(lin1g, 0x4000_0000 | (1 << 13), 1, UP, UP);
    assert_eq!(
        env.tr(lin1g, Access::fetch(false)),
        pf(lin1g, P | RSVD | ID)
    );
    // PAT (bit 12) is not reserved in a 2-MByte page.
    env.map4(lin2m, 0x20_0000 | (1 << 12), 2, UP, UP);
    assert_eq!(env.tr(lin2m + 5, Access::read(false)), Ok(0x20_0005));

    // PAE: PDPTE reserved bits (bit 1), and entry bits 62:M.
    let mut env = Env::pae();
    let pte = env.pae_entry(0x1000, 2, UP);
    env.wr(pte, 0x5000 | UP | (1 << 50));
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, P | U | RSVD));
    let pdpte = env.pae_entry(0x1000, 0, UP);
    let v = env.rd(pdpte);
    env.wr(pdpte, v | PTE_RW);
    env.wr(pte, 0x5000 | UP);
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, P | U | RSVD));
    env.wr(pdpte, v);
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));

    // 32-bit paging: 4-MByte PDE bit 21 is reserved; bit 20 is above MAXPHYADDR.
    let mut env = Env::bits32();
    let pde = env.entry32(0x40_0000, 0, UP);
    for bit in [21, 20] {
        let v = 0x80_0000 | (1u32 << bit) | (PTE_P | PTE_PS) as u32;
        env.mmu.phys.write_u32(pde, v);
        assert_eq!(
            env.tr(0x40_0000, Access::read(false)),
            pf(0x40_0000, P | RSVD)
        );
    }
    let v = 0x80_0000 | (1u32 << 19) | (PTE_P | PTE_PS) as u32;
    env.mmu.phys.write_u32(pde, v);
    assert_eq!(env.tr(0x40_0000, Access::read(false)), Ok(0x40_0080_0000));
}

#[test]
fn accessed_and_dirty_flags() {
    let mut env = Env::long();
    let lin = 0x40_1000;
    let pte = env.map4(lin, 0x5000, 3, UP, UP);
    let uppers = [
        env.entry4(lin, 0, UP),
        env.entry4(lin, 1, UP),
        env.entry4(lin, 2, UP),
    ];
    // A failing access sets nothing.
    env.wr(pte, env.rd(pte) & !PTE_RW);
    assert!(env.tr(lin, Access::write(true)).is_err());
    for e in uppers.into_iter().chain([pte]) {
        assert_eq!(env.rd(e) & (PTE_A | PTE_D), 0);
    }
    env.wr(pte, env.rd(pte) | PTE_RW);
    // A read sets A everywhere and D nowhere.
    assert_eq!(env.tr(lin, Access::read(true)), Ok(0x5000));
    for e in uppers.into_iter().chain([pte]) {
        assert_eq!(env.rd(e) & (PTE_A | PTE_D), PTE_A);
    }
    // The first write re-walks (the cached entry is clean) and sets D.
    let before = env.mmu.stats();
    assert_eq!(env.tr(lin + 8, Access::write(true)), Ok(0x5008));
    let after = env.mmu.stats();
    assert_eq!(after.walks, before.walks + 1);
    assert_eq!(after.misses, before.misses);
    assert_eq!(env.rd(pte) & PTE_D, PTE_D);
    for e in uppers {
        assert_eq!(env.rd(e) & PTE_D, 0);
    }
    // Later writes hit.
    assert_eq!(env.tr(lin + 16, Access::write(true)), Ok(0x5010));
    assert_eq!(env.mmu.stats().walks, after.walks);
    assert_eq!(env.mmu.stats().hits, after.hits + 1);

    // Large page: D lands in the PDE.
    let big = 0x4000_0000;
    let pde = env.map4(big, 0x20_0000, 2, UP, UP);
    assert!(env.tr(big, Access::write(false)).is_ok());
    assert_eq!(env.rd(pde) & (PTE_A | PTE_D), PTE_A | PTE_D);

    // 32-bit paging uses 4-byte entries.
    let mut env = Env::bits32();
    let pte = env.entry32(0x1000, 1, UP);
    env.mmu.phys.write_u32(pte, 0x5000 | UP as u32);
    let pde = env.entry32(0x1000, 0, UP);
    assert!(env.tr(0x1000, Access::write(false)).is_ok());
    assert_eq!(
        env.mmu.phys.read_u32(pte),
        0x5000 | (UP | PTE_A | PTE_D) as u32
    );
    assert_eq!(
        u64::from(env.mmu.phys.read_u32(pde)) & (PTE_A | PTE_D),
        PTE_A
    );
    // Neighbouring memory is untouched by the 4-byte update.
    assert_eq!(env.mmu.phys.read_u32(pte + 4), 0);
}

#[test]
fn tlb_hits_and_stale_entries() {
    let mut env = Env::long();
    let pte = env.map4(0x1000, 0x5000, 3, UP, UP);
    for i in 0..3 {
        assert_eq!(env.tr(0x1000 + i, Access::read(true)), Ok(0x5000 + i));
    }
    let s = env.mmu.stats();
    assert_eq!((s.hits, s.misses, s.walks, s.flushes), (2, 1, 1, 0));
    // Changing the PTE without invalidation leaves the cached translation.
    env.wr(pte, 0x7000 | UP);
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    env.mmu.flush_tlb(true);
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x7000));
    assert_eq!(env.mmu.stats().flushes, 1);
    assert_eq!(env.mmu.stats().misses, 2);
    // Removing the page and invalidating: not-present fault.
    env.wr(pte, 0);
    env.mmu.invlpg(0x1000);
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, U));
}

#[test]
fn global_pages_survive_cr3_flush() {
    let mut env = Env::long();
    env.set_regs(env.regs.cr0, CR4_PAE | CR4_PGE);
    let g = 0xFFFF_8000_0010_0000;
    let ng = 0x1000;
    let gpte = env.map4(g, 0x5000, 3, PTE_P | PTE_RW | PTE_G, PTE_P | PTE_RW);
    let npte = env.map4(ng, 0x6000, 3, UP | PTE_G, UP);
    // G only counts in the entry that maps the page; make `ng` non-global.
    env.wr(npte, 0x6000 | UP);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x5000));
    assert_eq!(env.tr(ng, Access::read(false)), Ok(0x6000));
    env.wr(gpte, 0x7000 | PTE_P | PTE_RW | PTE_G);
    env.wr(npte, 0x8000 | UP);
    env.mmu.flush_tlb(true);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x5000), "stale global");
    assert_eq!(env.tr(ng, Access::read(false)), Ok(0x8000));
    env.mmu.flush_tlb(true);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x5000));
    env.mmu.invlpg(g);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x7000));
    // A full flush drops globals too.
    env.wr(gpte, 0x9000 | PTE_P | PTE_RW | PTE_G);
    env.mmu.flush_tlb(false);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x9000));
    // Without CR4.PGE, G is ignored.
    env.set_regs(env.regs.cr0, CR4_PAE);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0x9000));
    env.wr(gpte, 0xA000 | PTE_P | PTE_RW | PTE_G);
    env.mmu.flush_tlb(true);
    assert_eq!(env.tr(g, Access::read(false)), Ok(0xA000));
}

#[test]
fn invlpg_drops_whole_large_page() {
    let mut env = Env::long();
    let base = 0x4000_0000;
    let pde = env.map4(base, 0x20_0000, 2, UP, UP);
    let other = env.map4(0x3000, 0x5000, 3, UP, UP);
    assert_eq!(env.tr(base + 0x1234, Access::read(true)), Ok(0x20_1234));
    assert_eq!(env.tr(base + 0x1F_F000, Access::read(true)), Ok(0x3F_F000));
    assert_eq!(env.tr(0x3000, Access::read(true)), Ok(0x5000));
    env.wr(pde, 0x60_0000 | UP | PTE_PS);
    env.wr(other, 0x6000 | UP);
    env.mmu.invlpg(base + 0x10_0000);
    assert_eq!(env.tr(base + 0x1234, Access::read(true)), Ok(0x60_1234));
    assert_eq!(env.tr(base + 0x1F_F000, Access::read(true)), Ok(0x7F_F000));
    // Unrelated 4K translations survive (still stale).
    assert_eq!(env.tr(0x3000, Access::read(true)), Ok(0x5000));
}

#[test]
fn rights_failure_rechecks_memory() {
    let mut env = Env::long();
    let pte = env.map4(0x1000, 0x5000, 3, PTE_P | PTE_US | PTE_A | PTE_D, UP);
    assert_eq!(env.tr(0x1000, Access::read(true)), Ok(0x5000));
    // Made writable without INVLPG: the write re-walks and succeeds.
    env.wr(pte, 0x5000 | UP | PTE_A | PTE_D);
    assert_eq!(env.tr(0x1000, Access::write(true)), Ok(0x5000));
    assert_eq!(env.mmu.stats().walks, 2);
    // A fault drops the cached translation: cache a supervisor page, remap
    // it without INVLPG, fault from user mode, then see the new mapping.
    env.wr(pte, 0x5000 | PTE_P | PTE_RW | PTE_A | PTE_D);
    env.mmu.invlpg(0x1000);
    assert_eq!(env.tr(0x1000, Access::read(false)), Ok(0x5000));
    env.wr(pte, 0x6000 | PTE_P | PTE_A);
    assert_eq!(env.tr(0x1000, Access::read(false)), Ok(0x5000), "stale");
    assert_eq!(env.tr(0x1000, Access::read(true)), pf(0x1000, P | U));
    assert_eq!(env.tr(0x1000, Access::read(false)), Ok(0x6000));
}

#[test]
fn peek_has_no_side_effects() {
    let mut env = Env::long();
    let pte = env.map4(0x1000, 0x5000, 3, UP, UP);
    let regs = env.regs;
    assert_eq!(env.mmu.peek(&regs, 0x1004, Access::write(true)), Ok(0x5004));
    assert_eq!(
        env.mmu.peek(&regs, 0x2000, Access::read(true)),
        pf(0x2000, U)
    );
    assert_eq!(env.rd(pte) & (PTE_A | PTE_D), 0);
    assert_eq!(env.mmu.stats(), TlbStats::default());
}

#[test]
fn tables_outside_ram_do_not_panic() {
    let mut env = Env::long();
    let lin = 0x1000;
    // A PDPTE pointing beyond RAM: the PD reads as all ones (reserved bits).
    let pml4e = env.entry4(lin, 0, UP);
    env.wr(pml4e, 0x7F_FFFF_F000 | UP);
    assert_eq!(env.tr(lin, Access::read(true)), pf(lin, P | U | RSVD));
    env.regs.cr3 = u64::MAX;
    env.mmu.flush_tlb(false);
    assert_eq!(
        env.tr(u64::MAX, Access::read(false)),
        pf(u64::MAX, P | RSVD)
    );
    let mut env = Env::bits32();
    env.regs.cr3 = 0xFFFF_F000;
    assert!(env.tr(0xFFFF_FFFF, Access::write(true)).is_err());
}

#[test]
fn many_pages_and_flush_bookkeeping() {
    let mut env = Env::long();
    // More fills than TLB entries (forces the overflow sweep), with the last
    // page global so that it is still cached at the end.
    env.set_regs(env.regs.cr0, CR4_PAE | CR4_PGE);
    let n = 3 * TLB_SIZE as u64;
    let lin_of = |i: u64| 0x100_0000 + i * 0x1000;
    for i in 0..n {
        let g = if i == n - 1 { PTE_G } else { 0 };
        env.map4(lin_of(i), 0x1000_0000 + i * 0x1000, 3, UP | g, UP);
    }
    for round in 0..3u64 {
        for i in 0..n {
            assert_eq!(
                env.tr(lin_of(i), Access::read(true)),
                Ok(if round > 0 && i == n - 1 {
                    0x3000_0000
                } else {
                    0x1000_0000
                } + i * 0x1000)
            );
        }
        let last = env.entry4(lin_of(n - 1), 3, UP);
        let other = env.entry4(lin_of(n - 2), 3, UP);
        env.wr(last, (0x3000_0000 + (n - 1) * 0x1000) | UP | PTE_G);
        env.wr(other, 0x3000_0000 | UP);
        env.mmu.flush_tlb(true);
        // The global stays stale, the non-global one is re-walked.
        assert_eq!(
            env.tr(lin_of(n - 1), Access::read(true)).map(|pa| pa >> 28),
            Ok(if round == 0 { 1 } else { 3 })
        );
        assert_eq!(env.tr(lin_of(n - 2), Access::read(true)), Ok(0x3000_0000));
        env.wr(other, (0x1000_0000 + (n - 2) * 0x1000) | UP);
        env.mmu.invlpg(lin_of(n - 2));
        env.mmu.invlpg(lin_of(n - 1));
    }
}

#[test]
fn the_tlb_generation_changes_exactly_when_the_tlb_contents_do() {
    let mut env = Env::long();
    let lin = 0x40_0000;
    env.map4(lin, 0x5000, 3, UP, UP);
    let g0 = env.mmu.tlb_generation();
    // A miss fills: the contents change.
    assert_eq!(env.tr(lin, Access::read(true)), Ok(0x5000));
    let g1 = env.mmu.tlb_generation();
    assert_ne!(g1, g0);
    // Hits change nothing; `count_hit` counts like a hit.
    assert_eq!(env.tr(lin + 8, Access::read(true)), Ok(0x5008));
    assert_eq!(env.mmu.tlb_generation(), g1);
    let hits = env.mmu.stats().hits;
    env.mmu.count_hit();
    assert_eq!(env.mmu.stats().hits, hits + 1);
    // A fault drops the entry for its address.
    assert!(env.tr(0x80_0000, Access::read(true)).is_err());
    let g2 = env.mmu.tlb_generation();
    assert_ne!(g2, g1);
    env.mmu.invlpg(lin);
    let g3 = env.mmu.tlb_generation();
    assert_ne!(g3, g2);
    env.mmu.flush_tlb(true);
    assert_ne!(env.mmu.tlb_generation(), g3);
}

//! Address spaces: the page tables the kernel model builds in guest
//! physical memory, one set per process, sharing the kernel half.
//!
//! - x86_64 flavor: 4-level paging. PML4 entry 511 points at a PDPT shared
//!   by every address space; its entry 510 maps the first
//!   [`KERNEL_MAPPED`] bytes of physical memory at `__START_KERNEL_map`
//!   with global 2-MiB supervisor pages, and its entry 511 leads to the
//!   user-readable vsyscall page (U/S is ANDed across levels, so the upper
//!   levels carry U = 1 and each leaf decides, as in Linux).
//! - i386 flavor: 32-bit two-level paging with CR4.PSE: page-directory
//!   entries from `PAGE_OFFSET` map the same physical range with global
//!   4-MiB supervisor pages; user page tables live below `PAGE_OFFSET`.
//!
//! User mappings are 4-KiB pages. The Rust side keeps a map of them so
//! fork can copy and exit can free them without walking the tables.

use std::collections::BTreeMap;

use sysgate_mmu::PhysMem;

use super::frames::{Frames, OutOfMemory};
use super::layout::{I386_PAGE_OFFSET, KERNEL_MAPPED, VSYSCALL_ADDR, X86_64_KERNEL_MAP};

/// Present.
pub const P: u64 = 1;
/// Writable.
pub const RW: u64 = 2;
/// User accessible.
pub const US: u64 = 4;
/// Page size (2/4 MiB) in a directory entry.
pub const PS: u64 = 0x80;
/// Global.
pub const G: u64 = 0x100;
/// Execute disable (x86_64 flavor only, with EFER.NXE).
pub const NX: u64 = 1 << 63;

/// The paging structure format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 4-level paging (IA-32e), 8-byte entries.
    FourLevel,
    /// 32-bit paging, 4-byte entries.
    TwoLevel,
}

/// Protection of a user page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prot {
    /// Writable.
    pub write: bool,
    /// Executable (only enforced by the 4-level format with NXE).
    pub exec: bool,
}

impl Prot {
    /// Read-only, executable (text).
    pub const RX: Prot = Prot {
        write: false,
        exec: true,
    };
    /// Read-write, not executable (data, stack, heap).
    pub const RW: Prot = Prot {
        write: true,
        exec: false,
    };
    /// Read-only, not executable.
    pub const R: Prot = Prot {
        write: false,
        exec: false,
    };
    /// Read-write-executable.
    pub const RWX: Prot = Prot {
        write: true,
        exec: true,
    };
}

/// The kernel half every address space shares.
#[derive(Clone, Copy, Debug)]
pub struct KernelHalf {
    format: Format,
    /// x86_64: the shared PDPT behind PML4[511]. i386: unused.
    shared: u64,
}

impl KernelHalf {
    /// Builds the kernel mappings (and, on x86_64, the vsyscall page
    /// mapping `vsyscall_pa` user-readable and executable).
    pub fn new(
        format: Format,
        mem: &mut PhysMem,
        frames: &mut Frames,
        vsyscall_pa: u64,
    ) -> Result<KernelHalf, OutOfMemory> {
        match format {
            Format::FourLevel => {
                let pdpt = frames.alloc(mem)?;
                let pd = frames.alloc(mem)?;
                // PDPT[510] covers 0xFFFF_FFFF_8000_0000..0xFFFF_FFFF_C000_0000.
                let first = (X86_64_KERNEL_MAP >> 30) & 511;
                mem.write_u64(pdpt + first * 8, pd | P | RW);
                for k in 0..KERNEL_MAPPED >> 21 {
                    mem.write_u64(pd + k * 8, (k << 21) | P | RW | PS | G);
                }
                // The vsyscall page: PDPT[511] -> PD[507] -> PT[0].
                let pd2 = frames.alloc(mem)?;
                let pt = frames.alloc(mem)?;
                mem.write_u64(pdpt + ((VSYSCALL_ADDR >> 30) & 511) * 8, pd2 | P | RW | US);
                mem.write_u64(pd2 + ((VSYSCALL_ADDR >> 21) & 511) * 8, pt | P | RW | US);
                mem.write_u64(
                    pt + ((VSYSCALL_ADDR >> 12) & 511) * 8,
                    vsyscall_pa | P | US | G,
                );
                Ok(KernelHalf {
                    format,
                    shared: pdpt,
                })
            }
            Format::TwoLevel => Ok(KernelHalf { format, shared: 0 }),
        }
    }

    /// The paging format.
    pub fn format(&self) -> Format {
        self.format
    }
}

/// One process's page tables.
#[derive(Debug)]
pub struct AddressSpace {
    format: Format,
    root: u64,
    /// Page-table frames below the root (freed with the space).
    tables: Vec<u64>,
    /// User pages: virtual page -> (physical frame, protection).
    pages: BTreeMap<u64, (u64, Prot)>,
}

impl AddressSpace {
    /// A new address space with only the kernel half mapped.
    pub fn new(
        kernel: &KernelHalf,
        mem: &mut PhysMem,
        frames: &mut Frames,
    ) -> Result<AddressSpace, OutOfMemory> {
        let root = frames.alloc(mem)?;
        match kernel.format {
            Format::FourLevel => {
                mem.write_u64(root + 511 * 8, kernel.shared | P | RW | US);
            }
            Format::TwoLevel => {
                let first = I386_PAGE_OFFSET >> 22;
                for k in 0..KERNEL_MAPPED >> 22 {
                    mem.write_u32(root + (first + k) * 4, ((k << 22) | P | RW | PS | G) as u32);
                }
            }
        }
        Ok(AddressSpace {
            format: kernel.format,
            root,
            tables: Vec::new(),
            pages: BTreeMap::new(),
        })
    }

    /// An address space with no tables at all (maps nothing).
    pub fn empty() -> AddressSpace {
        AddressSpace {
            format: Format::FourLevel,
            root: 0,
            tables: Vec::new(),
            pages: BTreeMap::new(),
        }
    }

    /// The value to load into CR3.
    pub fn cr3(&self) -> u64 {
        self.root
    }

    /// The user pages, by virtual page address.
    pub fn pages(&self) -> impl Iterator<Item = (u64, u64, Prot)> + '_ {
        self.pages.iter().map(|(&va, &(pa, p))| (va, pa, p))
    }

    /// The physical address and protection of user address `va`.
    pub fn lookup(&self, va: u64) -> Option<(u64, Prot)> {
        self.pages
            .get(&(va & !0xFFF))
            .map(|&(pa, p)| (pa | (va & 0xFFF), p))
    }

    /// The entry for `va` in the table at `table` for `level` (3 = PML4 ...
    /// 0 = PT for 4-level; 1 = PD, 0 = PT for 2-level), creating the next
    /// table when `create` is set.
    fn next_table(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        table: u64,
        index: u64,
    ) -> Result<u64, OutOfMemory> {
        match self.format {
            Format::FourLevel => {
                let slot = table + index * 8;
                let e = mem.read_u64(slot);
                if e & P != 0 {
                    return Ok(e & 0x000F_FFFF_FFFF_F000);
                }
                let t = frames.alloc(mem)?;
                self.tables.push(t);
                mem.write_u64(slot, t | P | RW | US);
                Ok(t)
            }
            Format::TwoLevel => {
                let slot = table + index * 4;
                let e = mem.read_u32(slot) as u64;
                if e & P != 0 {
                    return Ok(e & 0xFFFF_F000);
                }
                let t = frames.alloc(mem)?;
                self.tables.push(t);
                mem.write_u32(slot, (t | P | RW | US) as u32);
                Ok(t)
            }
        }
    }

    fn leaf_slot(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        va: u64,
    ) -> Result<u64, OutOfMemory> {
        match self.format {
            Format::FourLevel => {
                let mut t = self.root;
                for shift in [39u32, 30, 21] {
                    t = self.next_table(mem, frames, t, (va >> shift) & 511)?;
                }
                Ok(t + ((va >> 12) & 511) * 8)
            }
            Format::TwoLevel => {
                let t = self.next_table(mem, frames, self.root, (va >> 22) & 1023)?;
                Ok(t + ((va >> 12) & 1023) * 4)
            }
        }
    }

    fn pte(&self, pa: u64, prot: Prot) -> u64 {
        let mut e = pa | P | US;
        if prot.write {
            e |= RW;
        }
        if !prot.exec && self.format == Format::FourLevel {
            e |= NX;
        }
        e
    }

    fn write_leaf(&mut self, mem: &mut PhysMem, slot: u64, e: u64) {
        match self.format {
            Format::FourLevel => mem.write_u64(slot, e),
            Format::TwoLevel => mem.write_u32(slot, e as u32),
        }
    }

    /// Maps user page `va` to frame `pa` (replacing any mapping; the old
    /// frame is returned to the caller to free).
    pub fn map(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        va: u64,
        pa: u64,
        prot: Prot,
    ) -> Result<Option<u64>, OutOfMemory> {
        let va = va & !0xFFF;
        let slot = self.leaf_slot(mem, frames, va)?;
        let e = self.pte(pa & !0xFFF, prot);
        self.write_leaf(mem, slot, e);
        Ok(self
            .pages
            .insert(va, (pa & !0xFFF, prot))
            .map(|(old, _)| old))
    }

    /// Maps a fresh zeroed frame at user page `va` (if not mapped yet) and
    /// returns its physical address.
    pub fn map_new(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        va: u64,
        prot: Prot,
    ) -> Result<u64, OutOfMemory> {
        if let Some((pa, _)) = self.lookup(va & !0xFFF) {
            self.protect(mem, frames, va, prot)?;
            return Ok(pa);
        }
        let pa = frames.alloc(mem)?;
        self.map(mem, frames, va, pa, prot)?;
        Ok(pa)
    }

    /// Changes the protection of a mapped user page.
    pub fn protect(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        va: u64,
        prot: Prot,
    ) -> Result<bool, OutOfMemory> {
        let va = va & !0xFFF;
        let Some((pa, _)) = self.pages.get(&va).copied() else {
            return Ok(false);
        };
        self.map(mem, frames, va, pa, prot)?;
        Ok(true)
    }

    /// Unmaps user page `va`, freeing its frame.
    pub fn unmap(
        &mut self,
        mem: &mut PhysMem,
        frames: &mut Frames,
        va: u64,
    ) -> Result<bool, OutOfMemory> {
        let va = va & !0xFFF;
        let Some((pa, _)) = self.pages.remove(&va) else {
            return Ok(false);
        };
        let slot = self.leaf_slot(mem, frames, va)?;
        self.write_leaf(mem, slot, 0);
        frames.free(pa);
        Ok(true)
    }

    /// Removes the mapping of user page `va` without freeing its frame (for
    /// frames the space does not own, like the shared vDSO page).
    pub fn forget(&mut self, va: u64) -> Option<u64> {
        self.pages.remove(&(va & !0xFFF)).map(|(pa, _)| pa)
    }

    /// A copy of this address space with every user page duplicated (fork
    /// without copy-on-write).
    pub fn fork(
        &self,
        kernel: &KernelHalf,
        mem: &mut PhysMem,
        frames: &mut Frames,
    ) -> Result<AddressSpace, OutOfMemory> {
        let mut child = AddressSpace::new(kernel, mem, frames)?;
        let mut buf = vec![0u8; 0x1000];
        for (&va, &(pa, prot)) in &self.pages {
            let npa = frames.alloc(mem)?;
            mem.read(pa, &mut buf);
            mem.write(npa, &buf);
            child.map(mem, frames, va, npa, prot)?;
        }
        Ok(child)
    }

    /// Frees every user page and page table.
    pub fn destroy(self, frames: &mut Frames) {
        for (_, (pa, _)) in self.pages {
            frames.free(pa);
        }
        for t in self.tables {
            frames.free(t);
        }
        frames.free(self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysgate_mmu::{Access, Mmu, PagingRegs};

    fn regs(format: Format, cr3: u64) -> PagingRegs {
        match format {
            Format::FourLevel => PagingRegs {
                cr0: 0x8000_0011,
                cr3,
                cr4: 0x20 | 0x80,
                efer: 0x500 | 0x800,
            },
            Format::TwoLevel => PagingRegs {
                cr0: 0x8000_0011,
                cr3,
                cr4: 0x10 | 0x80,
                efer: 0,
            },
        }
    }

    #[test]
    fn user_and_kernel_mappings_translate_through_the_mmu() {
        for format in [Format::FourLevel, Format::TwoLevel] {
            let mut mmu = Mmu::new(PhysMem::new(64 << 20));
            let mut frames = Frames::new(64 << 20);
            let k = KernelHalf::new(format, &mut mmu.phys, &mut frames, 0x5000).unwrap();
            let mut a = AddressSpace::new(&k, &mut mmu.phys, &mut frames).unwrap();
            let pa = a
                .map_new(&mut mmu.phys, &mut frames, 0x40_1000, Prot::RW)
                .unwrap();
            let r = regs(format, a.cr3());
            assert_eq!(
                mmu.translate(&r, 0x40_1234, Access::write(true)),
                Ok(pa + 0x234)
            );
            let kbase = if format == Format::FourLevel {
                X86_64_KERNEL_MAP
            } else {
                I386_PAGE_OFFSET
            };
            assert_eq!(
                mmu.translate(&r, kbase + 0x12_3456, Access::read(false)),
                Ok(0x12_3456)
            );
            // The kernel half is not user accessible.
            assert!(
                mmu.translate(&r, kbase + 0x1000, Access::read(true))
                    .is_err()
            );
            // Fork copies contents.
            mmu.phys.write_u32(pa, 0xDEAD_BEEF);
            let b = a.fork(&k, &mut mmu.phys, &mut frames).unwrap();
            let (cpa, _) = b.lookup(0x40_1000).unwrap();
            assert_ne!(cpa, pa);
            assert_eq!(mmu.phys.read_u32(cpa), 0xDEAD_BEEF);
            assert!(a.unmap(&mut mmu.phys, &mut frames, 0x40_1000).unwrap());
            mmu.flush_tlb(false);
            assert!(mmu.translate(&r, 0x40_1234, Access::read(true)).is_err());
            b.destroy(&mut frames);
            a.destroy(&mut frames);
        }
    }

    #[test]
    fn vsyscall_page_is_user_readable_on_x86_64() {
        let mut mmu = Mmu::new(PhysMem::new(64 << 20));
        let mut frames = Frames::new(64 << 20);
        let k = KernelHalf::new(Format::FourLevel, &mut mmu.phys, &mut frames, 0x7000).unwrap();
        let a = AddressSpace::new(&k, &mut mmu.phys, &mut frames).unwrap();
        let r = regs(Format::FourLevel, a.cr3());
        assert_eq!(
            mmu.translate(&r, VSYSCALL_ADDR + 8, Access::fetch(true)),
            Ok(0x7008)
        );
        assert!(
            mmu.translate(&r, VSYSCALL_ADDR, Access::write(true))
                .is_err()
        );
    }
}

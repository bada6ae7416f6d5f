//! Paging-structure walks, access rights and page-fault error codes.
//!
//! * 32-bit paging (SDM Vol. 3 §4.3): 4-KByte pages, and 4-MByte pages when
//!   CR4.PSE = 1, including the PSE-36 physical-address bits 20:13.
//! * PAE paging (§4.4): 4-KByte and 2-MByte pages. The four PDPTEs are read
//!   from memory at CR3 on every walk instead of being latched into the
//!   PDPTE registers at MOV CR3 time (§4.4.1); a PDPTE with reserved bits set
//!   therefore raises #PF with RSVD = 1 during the walk instead of #GP at
//!   MOV CR3.
//! * 4-level paging (§4.5): 4-KByte, 2-MByte and 1-GByte pages. Canonical
//!   address checks (#GP/#SS) are the CPU's job; only bits 47:0 are walked.
//!
//! Access rights follow §4.6.1; error codes follow §4.7. Accessed and dirty
//! flags (§4.8) are written only when the whole translation succeeds — the
//! SDM allows a processor to set accessed flags on a walk that ends in a
//! fault, but never requires it, and doing it only on success keeps faulting
//! accesses free of side effects.

use crate::{MAXPHYADDR, PhysMem};

/// CR0.PG (bit 31): paging enabled.
pub const CR0_PG: u64 = 1 << 31;
/// CR0.WP (bit 16): supervisor writes honour read-only pages (§4.6.1).
pub const CR0_WP: u64 = 1 << 16;
/// CR4.PSE (bit 4): 4-MByte pages in 32-bit paging.
pub const CR4_PSE: u64 = 1 << 4;
/// CR4.PAE (bit 5): 64-bit paging-structure entries (PAE or 4-level paging).
pub const CR4_PAE: u64 = 1 << 5;
/// CR4.PGE (bit 7): global pages survive MOV CR3 (§4.10.2.4).
pub const CR4_PGE: u64 = 1 << 7;
/// CR4.SMEP (bit 20): supervisor-mode execution prevention.
pub const CR4_SMEP: u64 = 1 << 20;
/// CR4.SMAP (bit 21): supervisor-mode access prevention.
pub const CR4_SMAP: u64 = 1 << 21;
/// IA32_EFER.LME (bit 8): long mode enable.
pub const EFER_LME: u64 = 1 << 8;
/// IA32_EFER.LMA (bit 10): long mode active (selects 4-level paging).
pub const EFER_LMA: u64 = 1 << 10;
/// IA32_EFER.NXE (bit 11): execute-disable bit 63 enabled in PAE/4-level entries.
pub const EFER_NXE: u64 = 1 << 11;

/// Paging-structure entry: present.
pub const PTE_P: u64 = 1 << 0;
/// Paging-structure entry: read/write (writable when 1).
pub const PTE_RW: u64 = 1 << 1;
/// Paging-structure entry: user/supervisor (user-accessible when 1).
pub const PTE_US: u64 = 1 << 2;
/// Paging-structure entry: page-level write-through.
pub const PTE_PWT: u64 = 1 << 3;
/// Paging-structure entry: page-level cache disable.
pub const PTE_PCD: u64 = 1 << 4;
/// Paging-structure entry: accessed.
pub const PTE_A: u64 = 1 << 5;
/// Paging-structure entry: dirty (entries that map a page only).
pub const PTE_D: u64 = 1 << 6;
/// Paging-structure entry: page size (maps a large page when 1).
pub const PTE_PS: u64 = 1 << 7;
/// Paging-structure entry: global (entries that map a page only; needs CR4.PGE).
pub const PTE_G: u64 = 1 << 8;
/// Paging-structure entry: execute-disable (bit 63; PAE/4-level with EFER.NXE).
pub const PTE_XD: u64 = 1 << 63;

// MAXPHYADDR must leave room for the 32-bit PSE-36 encoding (at most 40 bits).
const _: () = assert!(MAXPHYADDR > 32 && MAXPHYADDR <= 40);

/// Physical-address bits (MAXPHYADDR-1):12 of a PAE or 4-level entry.
const ADDR_MASK: u64 = ((1u64 << MAXPHYADDR) - 1) & !0xFFF;
/// Bits 51:MAXPHYADDR, reserved in every 4-level entry (§4.5.4, Tables 4-14..4-20).
const RSVD_4LEVEL: u64 = ((1u64 << 52) - 1) & !((1u64 << MAXPHYADDR) - 1);
/// Bits 62:MAXPHYADDR, reserved in every PAE entry (§4.4.2, Tables 4-8..4-11).
const RSVD_PAE: u64 = !PTE_XD & !((1u64 << MAXPHYADDR) - 1);
/// PAE PDPTE: bits 2:1 and 8:5 are reserved as well, and bit 63 always (Table 4-8).
const RSVD_PAE_PDPTE: u64 = RSVD_PAE | PTE_XD | 0x1E6;
/// Reserved low bits of a 2-MByte page entry: 20:13 (bit 12 is PAT).
const RSVD_2M: u64 = 0x001F_E000;
/// Reserved low bits of a 1-GByte page entry: 29:13.
const RSVD_1G: u64 = 0x3FFF_E000;
/// Reserved bits of a 32-bit 4-MByte PDE: 21 and 20:(MAXPHYADDR-19) (Table 4-4).
const RSVD_4M: u64 = (1 << 22) - (1 << (MAXPHYADDR - 19));
/// Mask of the PSE-36 high address bits once shifted down from bit 13.
const PSE36_HIGH: u64 = (1 << (MAXPHYADDR - 32)) - 1;
/// Address field of a 32-bit paging entry or of CR3 in 32-bit paging.
const LEGACY_ADDR: u64 = 0xFFFF_F000;

/// The control registers paging depends on (raw values, bit positions per SDM).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingRegs {
    /// CR0 (PG bit 31, WP bit 16 matter here).
    pub cr0: u64,
    /// CR3 (page-table root; bits 11:0 are ignored, PCIDs are not modelled).
    pub cr3: u64,
    /// CR4 (PSE, PAE, PGE, SMEP, SMAP matter here).
    pub cr4: u64,
    /// IA32_EFER (LMA bit 10, NXE bit 11 matter here).
    pub efer: u64,
}

/// The paging mode selected by CR0.PG, CR4.PAE and IA32_EFER.LMA (SDM §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// CR0.PG = 0: linear addresses are physical addresses.
    Off,
    /// 32-bit paging (CR4.PAE = 0).
    Bits32,
    /// PAE paging (CR4.PAE = 1, EFER.LMA = 0).
    Pae,
    /// 4-level paging (EFER.LMA = 1).
    FourLevel,
}

impl PagingRegs {
    /// The current paging mode. EFER.LMA alone selects 4-level paging (the
    /// CPU guarantees CR4.PAE = 1 whenever LMA = 1).
    #[inline]
    pub const fn mode(&self) -> PagingMode {
        if self.cr0 & CR0_PG == 0 {
            PagingMode::Off
        } else if self.efer & EFER_LMA != 0 {
            PagingMode::FourLevel
        } else if self.cr4 & CR4_PAE != 0 {
            PagingMode::Pae
        } else {
            PagingMode::Bits32
        }
    }

    /// Whether execute-disable (bit 63) is in effect: EFER.NXE = 1 with PAE
    /// or 4-level paging. This is also the condition (with CR4.SMEP) for the
    /// I/D bit of a page-fault error code (§4.7).
    #[inline]
    const fn nx_enabled(&self) -> bool {
        self.efer & EFER_NXE != 0 && self.cr4 & CR4_PAE != 0
    }
}

/// The kind of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// Data read.
    Read,
    /// Data write (read-modify-write instructions translate as writes).
    Write,
    /// Instruction fetch.
    Execute,
}

/// A memory access to be translated: its kind and the privilege it is made
/// with (SDM §4.6: user-mode vs supervisor-mode, explicit vs implicit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Read, write or instruction fetch.
    pub kind: AccessKind,
    /// User-mode access (CPL = 3 and not an implicit supervisor access).
    pub user: bool,
    /// RFLAGS.AC at the time of the access (SMAP: explicit supervisor data accesses to user pages are allowed when AC = 1).
    pub ac: bool,
    /// Implicit supervisor-mode access (GDT/IDT/TSS reads at any CPL); SMAP applies regardless of AC.
    /// Ignored when `user` is true.
    pub implicit: bool,
}

impl Access {
    /// A data read (`ac` and `implicit` false).
    #[inline]
    pub const fn read(user: bool) -> Self {
        Access {
            kind: AccessKind::Read,
            user,
            ac: false,
            implicit: false,
        }
    }

    /// A data write (`ac` and `implicit` false).
    #[inline]
    pub const fn write(user: bool) -> Self {
        Access {
            kind: AccessKind::Write,
            user,
            ac: false,
            implicit: false,
        }
    }

    /// An instruction fetch (`ac` and `implicit` false).
    #[inline]
    pub const fn fetch(user: bool) -> Self {
        Access {
            kind: AccessKind::Execute,
            user,
            ac: false,
            implicit: false,
        }
    }

    /// An implicit supervisor-mode access of `kind` (descriptor-table or TSS
    /// access, at any CPL): `user` false, `implicit` true.
    #[inline]
    pub const fn implicit(kind: AccessKind) -> Self {
        Access {
            kind,
            user: false,
            ac: false,
            implicit: true,
        }
    }

    /// This access with RFLAGS.AC set to `ac`.
    #[inline]
    pub const fn with_ac(self, ac: bool) -> Self {
        Access { ac, ..self }
    }

    /// Whether SMAP is waived: an explicit supervisor access with AC = 1.
    #[inline]
    const fn smap_exempt(self) -> bool {
        !self.user && self.ac && !self.implicit
    }

    /// The access-class bit used by the TLB's precomputed rights mask: bit
    /// `4 * kind + sub`, with `sub` = 2 for user mode, 1 for a SMAP-exempt
    /// supervisor access, 0 otherwise. Bits 3, 7 and 11 never occur.
    #[inline]
    pub(crate) const fn class_bit(self) -> u64 {
        let kind = match self.kind {
            AccessKind::Read => 0,
            AccessKind::Write => 4,
            AccessKind::Execute => 8,
        };
        let sub = if self.user {
            2
        } else if self.smap_exempt() {
            1
        } else {
            0
        };
        1 << (kind + sub)
    }
}

/// A page fault: CR2 value and error code (SDM Vol. 3 §4.7: P=bit0, W/R=bit1, U/S=bit2, RSVD=bit3, I/D=bit4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    /// The faulting linear address (loaded into CR2).
    pub addr: u64,
    /// The error code pushed by #PF delivery.
    pub error: u32,
}

impl PageFault {
    /// Error-code bit 0: the fault was a protection or reserved-bit violation (0: not present).
    pub const P: u32 = 1 << 0;
    /// Error-code bit 1: the access was a write.
    pub const W: u32 = 1 << 1;
    /// Error-code bit 2: the access was a user-mode access.
    pub const U: u32 = 1 << 2;
    /// Error-code bit 3: a reserved bit was set in a paging-structure entry.
    pub const RSVD: u32 = 1 << 3;
    /// Error-code bit 4: the access was an instruction fetch (only reported
    /// when CR4.SMEP = 1 or CR4.PAE = EFER.NXE = 1).
    pub const ID: u32 = 1 << 4;

    /// Builds the fault for `acc` at `lin` (§4.7).
    pub(crate) fn new(regs: &PagingRegs, lin: u64, acc: Access, cause: FaultCause) -> Self {
        let mut error = match cause {
            FaultCause::NotPresent => 0,
            FaultCause::Protection => Self::P,
            FaultCause::Reserved => Self::P | Self::RSVD,
        };
        if acc.kind == AccessKind::Write {
            error |= Self::W;
        }
        if acc.user {
            error |= Self::U;
        }
        if acc.kind == AccessKind::Execute && (regs.cr4 & CR4_SMEP != 0 || regs.nx_enabled()) {
            error |= Self::ID;
        }
        PageFault { addr: lin, error }
    }
}

impl std::fmt::Display for PageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#PF at {:#x}, error code {:#x}", self.addr, self.error)
    }
}

impl std::error::Error for PageFault {}

/// Why a translation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultCause {
    /// An entry on the walk had P = 0.
    NotPresent,
    /// The translation exists but the access rights forbid the access.
    Protection,
    /// A present entry had a reserved bit set.
    Reserved,
}

/// A paging-structure entry used by a walk (for accessed/dirty updates).
#[derive(Clone, Copy, Debug, Default)]
struct EntryRef {
    addr: u64,
    /// 8-byte (PAE/4-level) rather than 4-byte (32-bit paging) entry.
    wide: bool,
}

/// The result of a successful walk: the 4-KByte frame holding the linear
/// address and the combined rights of every entry that controls it.
#[derive(Clone, Debug)]
pub(crate) struct Walk {
    /// Physical address of the 4-KByte piece of the page holding the address.
    pub(crate) frame: u64,
    /// U/S = 1 in every entry: a user-mode address (§4.6).
    pub(crate) user: bool,
    /// R/W = 1 in every entry.
    pub(crate) writable: bool,
    /// XD = 1 in some entry (only possible with EFER.NXE = 1).
    pub(crate) nx: bool,
    /// G = 1 in the final entry and CR4.PGE = 1.
    pub(crate) global: bool,
    /// Mapped by a 4-MByte, 2-MByte or 1-GByte page.
    pub(crate) large: bool,
    /// The final entry's dirty flag was already set.
    pub(crate) dirty: bool,
    entries: [EntryRef; 4],
    len: usize,
}

impl Walk {
    fn new() -> Self {
        Walk {
            frame: 0,
            user: true,
            writable: true,
            nx: false,
            global: false,
            large: false,
            dirty: false,
            entries: [EntryRef::default(); 4],
            len: 0,
        }
    }

    /// Records a present, reserved-bit-clean entry that controls the translation.
    fn push(&mut self, addr: u64, wide: bool, value: u64) {
        if let Some(slot) = self.entries.get_mut(self.len) {
            *slot = EntryRef { addr, wide };
            self.len += 1;
        }
        self.user &= value & PTE_US != 0;
        self.writable &= value & PTE_RW != 0;
        self.nx |= value & PTE_XD != 0;
    }

    /// Records the entry that maps the page.
    fn finish(&mut self, regs: &PagingRegs, value: u64, frame: u64, large: bool) {
        self.frame = frame;
        self.large = large;
        self.dirty = value & PTE_D != 0;
        self.global = value & PTE_G != 0 && regs.cr4 & CR4_PGE != 0;
    }

    /// Whether the translation permits `acc` under the current CR0.WP,
    /// CR4.SMEP and CR4.SMAP (§4.6.1).
    pub(crate) fn permits(&self, regs: &PagingRegs, acc: Access) -> bool {
        permits(
            self.user,
            self.writable,
            self.nx,
            regs,
            acc.kind,
            acc.user,
            acc.smap_exempt(),
        )
    }

    /// The TLB rights mask: one bit per access class (see
    /// [`Access::class_bit`]) that this translation permits under `regs`.
    /// Write classes are included only when the dirty flag is known to be
    /// set, so that the first write through a clean entry walks and sets D.
    pub(crate) fn class_mask(&self, regs: &PagingRegs, dirty: bool) -> u64 {
        let mut mask = 0;
        for (kind, base) in [
            (AccessKind::Read, 0),
            (AccessKind::Write, 4),
            (AccessKind::Execute, 8),
        ] {
            if kind == AccessKind::Write && !dirty {
                continue;
            }
            for (user, exempt, sub) in [(false, false, 0), (false, true, 1), (true, false, 2)] {
                if permits(self.user, self.writable, self.nx, regs, kind, user, exempt) {
                    mask |= 1 << (base + sub);
                }
            }
        }
        mask
    }

    /// Sets the accessed flag in every entry used and, for a write, the dirty
    /// flag in the final entry (§4.8). Bits are OR-ed into the entry's current
    /// value so that an entry reused at two levels is updated consistently.
    pub(crate) fn commit(&self, phys: &mut PhysMem, write: bool) {
        let used = self.entries.get(..self.len).unwrap_or(&[]);
        for (i, e) in used.iter().enumerate() {
            let mut bits = PTE_A;
            if write && i + 1 == used.len() {
                bits |= PTE_D;
            }
            if e.wide {
                let cur = phys.read_u64(e.addr);
                if cur | bits != cur {
                    phys.write_u64(e.addr, cur | bits);
                }
            } else {
                let cur = phys.read_u32(e.addr);
                let bits = bits as u32;
                if cur | bits != cur {
                    phys.write_u32(e.addr, cur | bits);
                }
            }
        }
    }
}

/// The access-rights rules of SDM §4.6.1 for a translation whose entries
/// combine to (`user_page`, `writable`, `nx`).
fn permits(
    user_page: bool,
    writable: bool,
    nx: bool,
    regs: &PagingRegs,
    kind: AccessKind,
    user: bool,
    smap_exempt: bool,
) -> bool {
    if user {
        return user_page
            && match kind {
                AccessKind::Read => true,
                AccessKind::Write => writable,
                AccessKind::Execute => !nx,
            };
    }
    // Supervisor mode. SMAP forbids data accesses to user-mode addresses
    // unless the access is explicit and RFLAGS.AC = 1.
    let smap_block = user_page && regs.cr4 & CR4_SMAP != 0 && !smap_exempt;
    match kind {
        AccessKind::Read => !smap_block,
        AccessKind::Write => !smap_block && (writable || regs.cr0 & CR0_WP == 0),
        AccessKind::Execute => {
            let smep_block = user_page && regs.cr4 & CR4_SMEP != 0;
            !nx && !smep_block
        }
    }
}

/// Checks P, then the reserved bits `rsvd`, of an entry.
#[inline]
fn check(entry: u64, rsvd: u64) -> Result<(), FaultCause> {
    if entry & PTE_P == 0 {
        Err(FaultCause::NotPresent)
    } else if entry & rsvd != 0 {
        Err(FaultCause::Reserved)
    } else {
        Ok(())
    }
}

/// Walks the paging structures for `lin` under `regs`, reading entries from
/// `phys` without modifying anything. Rights are not checked here.
pub(crate) fn walk(phys: &PhysMem, regs: &PagingRegs, lin: u64) -> Result<Walk, FaultCause> {
    match regs.mode() {
        PagingMode::Off => {
            let mut w = Walk::new();
            w.frame = lin & !0xFFF;
            w.dirty = true;
            Ok(w)
        }
        PagingMode::Bits32 => walk_32(phys, regs, lin & 0xFFFF_FFFF),
        PagingMode::Pae => walk_pae(phys, regs, lin & 0xFFFF_FFFF),
        PagingMode::FourLevel => walk_4level(phys, regs, lin),
    }
}

/// 32-bit paging (§4.3).
fn walk_32(phys: &PhysMem, regs: &PagingRegs, lin: u64) -> Result<Walk, FaultCause> {
    let mut w = Walk::new();
    let pde_addr = (regs.cr3 & LEGACY_ADDR) | ((lin >> 20) & 0xFFC);
    let pde = u64::from(phys.read_u32(pde_addr));
    check(pde, 0)?;
    if pde & PTE_PS != 0 && regs.cr4 & CR4_PSE != 0 {
        // 4-MByte page; PDE bits 20:13 hold physical-address bits 39:32 (PSE-36).
        check(pde, RSVD_4M)?;
        w.push(pde_addr, false, pde);
        let base = (pde & 0xFFC0_0000) | (((pde >> 13) & PSE36_HIGH) << 32);
        w.finish(regs, pde, base | (lin & 0x003F_F000), true);
        return Ok(w);
    }
    w.push(pde_addr, false, pde);
    let pte_addr = (pde & LEGACY_ADDR) | ((lin >> 10) & 0xFFC);
    let pte = u64::from(phys.read_u32(pte_addr));
    check(pte, 0)?;
    w.push(pte_addr, false, pte);
    w.finish(regs, pte, pte & LEGACY_ADDR, false);
    Ok(w)
}

/// PAE paging (§4.4). The PDPTE is read from memory on each walk (see the
/// module documentation).
fn walk_pae(phys: &PhysMem, regs: &PagingRegs, lin: u64) -> Result<Walk, FaultCause> {
    let xd_rsvd = if regs.efer & EFER_NXE != 0 { 0 } else { PTE_XD };
    let rsvd = RSVD_PAE | xd_rsvd;
    let mut w = Walk::new();
    // CR3 bits 31:5 locate the 32-byte-aligned PDPT; PDPTEs have no A, R/W
    // or U/S flags, so they neither restrict rights nor get updated.
    let pdpte_addr = (regs.cr3 & 0xFFFF_FFE0) | ((lin >> 27) & 0x18);
    let pdpte = phys.read_u64(pdpte_addr);
    check(pdpte, RSVD_PAE_PDPTE)?;
    let pde_addr = (pdpte & ADDR_MASK) | ((lin >> 18) & 0xFF8);
    let pde = phys.read_u64(pde_addr);
    check(pde, 0)?;
    if pde & PTE_PS != 0 {
        check(pde, rsvd | RSVD_2M)?;
        w.push(pde_addr, true, pde);
        let base = pde & ADDR_MASK & !0x1F_FFFF;
        w.finish(regs, pde, base | (lin & 0x1F_F000), true);
        return Ok(w);
    }
    check(pde, rsvd)?;
    w.push(pde_addr, true, pde);
    let pte_addr = (pde & ADDR_MASK) | ((lin >> 9) & 0xFF8);
    let pte = phys.read_u64(pte_addr);
    check(pte, rsvd)?;
    w.push(pte_addr, true, pte);
    w.finish(regs, pte, pte & ADDR_MASK, false);
    Ok(w)
}

/// 4-level paging (§4.5).
fn walk_4level(phys: &PhysMem, regs: &PagingRegs, lin: u64) -> Result<Walk, FaultCause> {
    let xd_rsvd = if regs.efer & EFER_NXE != 0 { 0 } else { PTE_XD };
    let rsvd = RSVD_4LEVEL | xd_rsvd;
    let mut w = Walk::new();
    // PML4E: PS (bit 7) is reserved (Table 4-15).
    let pml4e_addr = (regs.cr3 & ADDR_MASK) | ((lin >> 36) & 0xFF8);
    let pml4e = phys.read_u64(pml4e_addr);
    check(pml4e, rsvd | PTE_PS)?;
    w.push(pml4e_addr, true, pml4e);
    let pdpte_addr = (pml4e & ADDR_MASK) | ((lin >> 27) & 0xFF8);
    let pdpte = phys.read_u64(pdpte_addr);
    check(pdpte, 0)?;
    if pdpte & PTE_PS != 0 {
        check(pdpte, rsvd | RSVD_1G)?;
        w.push(pdpte_addr, true, pdpte);
        let base = pdpte & ADDR_MASK & !0x3FFF_FFFF;
        w.finish(regs, pdpte, base | (lin & 0x3FFF_F000), true);
        return Ok(w);
    }
    check(pdpte, rsvd)?;
    w.push(pdpte_addr, true, pdpte);
    let pde_addr = (pdpte & ADDR_MASK) | ((lin >> 18) & 0xFF8);
    let pde = phys.read_u64(pde_addr);
    check(pde, 0)?;
    if pde & PTE_PS != 0 {
        check(pde, rsvd | RSVD_2M)?;
        w.push(pde_addr, true, pde);
        let base = pde & ADDR_MASK & !0x1F_FFFF;
        w.finish(regs, pde, base | (lin & 0x1F_F000), true);
        return Ok(w);
    }
    check(pde, rsvd)?;
    w.push(pde_addr, true, pde);
    let pte_addr = (pde & ADDR_MASK) | ((lin >> 9) & 0xFF8);
    let pte = phys.read_u64(pte_addr);
    check(pte, rsvd)?;
    w.push(pte_addr, true, pte);
    w.finish(regs, pte, pte & ADDR_MASK, false);
    Ok(w)
}

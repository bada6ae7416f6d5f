//! A cache of host pointers in front of the MMU for data accesses: the
//! memory fast path.
//!
//! After a read or write has been translated by the MMU (with every
//! paging check and accessed/dirty update), the host address of the guest
//! page is remembered, tagged with the linear page and whether the access
//! was a user access. The next access to the same page at the same
//! privilege then costs a tag compare and a load or store.
//!
//! The cache never outlives what it was derived from:
//! - it is cleared whenever the MMU's epoch changes (TLB flush, INVLPG,
//!   page fault: every event after which a hardware TLB may drop entries) or
//!   a page becomes marked as code (writable entries must never point into
//!   code pages, or self-modifying code would go unnoticed); the run loop
//!   checks both before every block, and every instruction that can change
//!   them ends its block;
//! - it is cleared at the start of a run when the memory it points into is
//!   not the memory the processor has now (the host may replace it between
//!   runs; rewriting it is harmless, the pointers see the new contents);
//! - entries are only made for resident pages, which [`sysgate_mmu::PhysMem`]
//!   never frees or moves while it lives, and the cache lives in the same
//!   [`crate::Cpu`] as the memory it points into.
//!
//! Accesses with RFLAGS.AC set (alignment checking, SMAP overrides) and
//! accesses that cross a page boundary always take the full path.

use std::ptr::NonNull;

/// Entries per table (direct mapped by linear page number).
const ENTRIES: usize = 256;
/// Tag bit: the entry is valid.
const VALID: u64 = 1;
/// Tag bit: the entry was filled by a user-mode (CPL 3) access.
pub(crate) const USER: u64 = 2;

#[derive(Clone, Copy)]
struct Entry {
    tag: u64,
    host: *mut u8,
}

const EMPTY: Entry = Entry {
    tag: 0,
    host: std::ptr::null_mut(),
};

/// Host pointers for reads and for writes, and the epochs they are valid
/// for.
pub(crate) struct HostCache {
    // Inline, not boxed: a lookup is one load less on every memory access.
    read: [Entry; ENTRIES],
    write: [Entry; ENTRIES],
    mmu_epoch: u64,
    mark_epoch: u64,
    phys_id: u64,
}

// SAFETY: the pointers refer into the PhysMem owned by the same Cpu; moving
// the Cpu to another thread moves the memory with them. Nothing is shared.
unsafe impl Send for HostCache {}

impl Default for HostCache {
    fn default() -> Self {
        HostCache {
            read: [EMPTY; ENTRIES],
            write: [EMPTY; ENTRIES],
            mmu_epoch: 0,
            mark_epoch: 0,
            phys_id: 0,
        }
    }
}

#[inline(always)]
fn slot(lin: u64) -> usize {
    (lin >> 12) as usize & (ENTRIES - 1)
}

#[inline(always)]
fn tag(lin: u64, ctx: u64) -> u64 {
    (lin & !0xFFF) | ctx | VALID
}

impl HostCache {
    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.read.fill(EMPTY);
        self.write.fill(EMPTY);
    }

    /// Clears the cache unless it points into the memory with this id (the
    /// host may have replaced the Cpu's memory between runs).
    pub(crate) fn check_memory(&mut self, phys_id: u64) {
        if phys_id != self.phys_id {
            self.clear();
            self.phys_id = phys_id;
        }
    }

    /// Clears the cache unless it was built under the same epochs.
    #[inline(always)]
    pub(crate) fn validate(&mut self, mmu_epoch: u64, mark_epoch: u64) {
        if mmu_epoch != self.mmu_epoch || mark_epoch != self.mark_epoch {
            self.clear();
            self.mmu_epoch = mmu_epoch;
            self.mark_epoch = mark_epoch;
        }
    }

    /// Reads `size` bytes at `lin`, if its page is cached for `ctx`. The
    /// caller guarantees the access does not cross a page.
    #[inline(always)]
    pub(crate) fn read(&self, lin: u64, size: u8, ctx: u64) -> Option<u64> {
        let page = self.read_page(lin, ctx)?;
        let off = (lin & 0xFFF) as usize;
        // SAFETY: `page` points at a resident 4-KiB page of the PhysMem
        // this cache belongs to (see the module comment for why it is still
        // alive), and `off + size <= 4096` by the caller's guarantee.
        unsafe {
            let p = page.add(off);
            Some(match size {
                1 => p.read() as u64,
                2 => u16::from_le(p.cast::<u16>().read_unaligned()) as u64,
                4 => u32::from_le(p.cast::<u32>().read_unaligned()) as u64,
                _ => u64::from_le(p.cast::<u64>().read_unaligned()),
            })
        }
    }

    /// Writes `size` bytes at `lin` if its page is cached for writing under
    /// `ctx`; returns false (having written nothing) otherwise.
    #[inline(always)]
    pub(crate) fn write(&mut self, lin: u64, size: u8, ctx: u64, v: u64) -> bool {
        let Some(page) = self.write_page(lin, ctx) else {
            return false;
        };
        let off = (lin & 0xFFF) as usize;
        // SAFETY: as in `read`; write entries are made only for pages that
        // are not marked as code, and are dropped when any page is marked.
        unsafe {
            let p = page.add(off);
            match size {
                1 => p.write(v as u8),
                2 => p.cast::<u16>().write_unaligned((v as u16).to_le()),
                4 => p.cast::<u32>().write_unaligned((v as u32).to_le()),
                _ => p.cast::<u64>().write_unaligned(v.to_le()),
            }
        }
        true
    }

    /// The host address of the page holding `lin` if it is cached for
    /// reading under `ctx` (the caller keeps its accesses inside the page).
    #[inline(always)]
    pub(crate) fn read_page(&self, lin: u64, ctx: u64) -> Option<*const u8> {
        let e = self.read[slot(lin)];
        (e.tag == tag(lin, ctx)).then_some(e.host as *const u8)
    }

    /// The host address of the page holding `lin` if it is cached for
    /// writing under `ctx` (the caller keeps its accesses inside the page).
    #[inline(always)]
    pub(crate) fn write_page(&self, lin: u64, ctx: u64) -> Option<*mut u8> {
        let e = self.write[slot(lin)];
        (e.tag == tag(lin, ctx)).then_some(e.host)
    }

    /// Remembers the host page of a successful read translation.
    #[inline(always)]
    pub(crate) fn fill_read(&mut self, lin: u64, ctx: u64, page: NonNull<u8>) {
        self.read[slot(lin)] = Entry {
            tag: tag(lin, ctx),
            host: page.as_ptr(),
        };
    }

    /// Remembers the host page of a successful write translation (which
    /// also allows reads).
    #[inline(always)]
    pub(crate) fn fill_write(&mut self, lin: u64, ctx: u64, page: NonNull<u8>) {
        let e = Entry {
            tag: tag(lin, ctx),
            host: page.as_ptr(),
        };
        self.write[slot(lin)] = e;
        self.read[slot(lin)] = e;
    }
}

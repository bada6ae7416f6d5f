//! `mremap(2)` with Linux's semantics (mm/mremap.c, 6.1): shrink in place,
//! grow in place when the pages after the mapping are free, otherwise move
//! with `MREMAP_MAYMOVE`, move to a given place with `MREMAP_FIXED`, and
//! leave the old range mapped (empty) with `MREMAP_DONTUNMAP`.
//!
//! The address-space model has no VMA list: a "mapping" is the run of
//! mapped pages with the same protection that contains the address, which
//! is what Linux's VMA merging makes of adjacent anonymous mappings. The
//! checks and their order follow `SYSCALL_DEFINE5(mremap)`, `mremap_to`
//! and `vma_to_resize`:
//!
//! - unknown flags, `MREMAP_FIXED` or `MREMAP_DONTUNMAP` without
//!   `MREMAP_MAYMOVE`, `MREMAP_DONTUNMAP` with a size change, an unaligned
//!   address or a new length of 0: `EINVAL`;
//! - `MREMAP_FIXED`: an unaligned or out-of-range target, or one that
//!   overlaps the old range: `EINVAL`;
//! - shrinking unmaps the tail and returns the address (even when nothing
//!   was mapped there);
//! - an old range that is not all mapped with one protection: `EFAULT`;
//! - growing in place when the old range reaches the end of its mapping and
//!   the pages after it are free; else moving (`MREMAP_MAYMOVE`) or
//!   `ENOMEM`.
//!
//! A move copies the pages to fresh frames (the model has no way to move a
//! frame between page-table entries) and frees the old ones; the grown part
//! is fresh zeroed memory, as Linux's newly faulted anonymous pages.

use super::Machine;
use super::paging::Prot;
use super::ret::{EFAULT, EINVAL, ENOMEM};

/// `MREMAP_MAYMOVE`.
pub(crate) const MREMAP_MAYMOVE: u64 = 1;
/// `MREMAP_FIXED`.
pub(crate) const MREMAP_FIXED: u64 = 2;
/// `MREMAP_DONTUNMAP`.
pub(crate) const MREMAP_DONTUNMAP: u64 = 4;

const PAGE: u64 = 0x1000;

fn page_align(v: u64) -> Option<u64> {
    v.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

impl Machine {
    /// `mremap(old_address, old_size, new_size, flags, new_address)` for
    /// the current task; `a` holds the arguments zero-extended.
    pub(crate) fn sys_mremap(&mut self, a: &[u64; 6]) -> i64 {
        let w = |v: u64| {
            if self.tasks.get(&self.current).is_some_and(|t| t.bits == 32) {
                v & 0xFFFF_FFFF
            } else {
                v
            }
        };
        let (addr, old_len, new_len, flags, new_addr) = (w(a[0]), w(a[1]), w(a[2]), a[3], w(a[4]));
        let flags = flags & 0xFFFF_FFFF;
        if flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
            return EINVAL;
        }
        if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
            return EINVAL;
        }
        if flags & MREMAP_DONTUNMAP != 0 && (flags & MREMAP_MAYMOVE == 0 || old_len != new_len) {
            return EINVAL;
        }
        if addr & (PAGE - 1) != 0 {
            return EINVAL;
        }
        let (Some(old_len), Some(new_len)) = (page_align(old_len), page_align(new_len)) else {
            return EINVAL;
        };
        if new_len == 0 {
            return EINVAL;
        }
        // old_len == 0 duplicates a shared mapping; private anonymous
        // memory cannot be duplicated (Linux: EINVAL).
        if old_len == 0 {
            return EINVAL;
        }
        let limit = self.user_limit();
        if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            return self.mremap_to(addr, old_len, new_addr, new_len, flags, limit);
        }
        if old_len >= new_len {
            self.unmap_range(addr.saturating_add(new_len), old_len - new_len);
            return addr as i64;
        }
        let (prot, end) = match self.mapping_of(addr, old_len) {
            Ok(v) => v,
            Err(e) => return e,
        };
        // Grow in place when the range ends its mapping and what follows
        // is free.
        if end == addr + old_len && self.range_free(addr + old_len, new_len - old_len, limit) {
            return match self.map_zero(addr + old_len, new_len - old_len, prot) {
                Ok(()) => addr as i64,
                Err(e) => e,
            };
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return ENOMEM;
        }
        let Some(dst) = self.unmapped_area(new_len) else {
            return ENOMEM;
        };
        self.move_pages(addr, old_len, dst, new_len, prot, false)
    }

    /// `mremap_to`: the `MREMAP_FIXED`/`MREMAP_DONTUNMAP` path.
    fn mremap_to(
        &mut self,
        addr: u64,
        mut old_len: u64,
        new_addr: u64,
        new_len: u64,
        flags: u64,
        limit: u64,
    ) -> i64 {
        let fixed = flags & MREMAP_FIXED != 0;
        if fixed {
            if new_addr & (PAGE - 1) != 0 {
                return EINVAL;
            }
            if new_len > limit || new_addr > limit - new_len {
                return EINVAL;
            }
            // The old and new ranges must not overlap.
            if addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
                return EINVAL;
            }
            self.unmap_range(new_addr, new_len);
        }
        if old_len > new_len {
            self.unmap_range(addr + new_len, old_len - new_len);
            old_len = new_len;
        }
        let (prot, _) = match self.mapping_of(addr, old_len) {
            Ok(v) => v,
            Err(e) => return e,
        };
        let dst = if fixed {
            new_addr
        } else {
            match self.unmapped_area(new_len) {
                Some(d) => d,
                None => return ENOMEM,
            }
        };
        self.move_pages(
            addr,
            old_len,
            dst,
            new_len,
            prot,
            flags & MREMAP_DONTUNMAP != 0,
        )
    }

    /// `vma_to_resize`: the protection of the mapping holding
    /// `[addr, addr + len)` and where that mapping ends (`EFAULT` when the
    /// range is not one mapping).
    fn mapping_of(&self, addr: u64, len: u64) -> Result<(Prot, u64), i64> {
        let t = self.tasks.get(&self.current).ok_or(EFAULT)?;
        let (_, prot) = t.mm.lookup(addr).ok_or(EFAULT)?;
        let mut va = addr;
        loop {
            match t.mm.lookup(va) {
                Some((_, p)) if p == prot => va += PAGE,
                _ => break,
            }
        }
        if va < addr.saturating_add(len) {
            return Err(EFAULT);
        }
        Ok((prot, va))
    }

    /// True when no page of `[addr, addr + len)` is mapped and the range
    /// is below `limit`.
    fn range_free(&self, addr: u64, len: u64, limit: u64) -> bool {
        let Some(t) = self.tasks.get(&self.current) else {
            return false;
        };
        if addr.checked_add(len).is_none_or(|e| e > limit) {
            return false;
        }
        (0..len / PAGE).all(|k| t.mm.lookup(addr + k * PAGE).is_none())
    }

    /// A free range of `len` bytes from the task's mmap area.
    fn unmapped_area(&mut self, len: u64) -> Option<u64> {
        let t = self.tasks.get_mut(&self.current)?;
        let start = t.mmap_next.checked_sub(len)?;
        t.mmap_next = start;
        Some(start)
    }

    fn unmap_range(&mut self, addr: u64, len: u64) {
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return;
        };
        for k in 0..len / PAGE {
            let _ = t.mm.unmap(
                &mut self.vcpu.cpu.mmu.phys,
                &mut self.frames,
                addr + k * PAGE,
            );
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
    }

    /// Maps fresh zeroed pages over `[addr, addr + len)`.
    fn map_zero(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), i64> {
        let t = self.tasks.get_mut(&self.current).ok_or(ENOMEM)?;
        for k in 0..len / PAGE {
            t.mm.map_new(
                &mut self.vcpu.cpu.mmu.phys,
                &mut self.frames,
                addr + k * PAGE,
                prot,
            )
            .map_err(|_| ENOMEM)?;
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
        Ok(())
    }

    /// `move_vma`: the contents of `[src, src + old_len)` go to `dst`,
    /// followed by zeroed pages up to `new_len`; the old range is unmapped
    /// (or left mapped and empty with `dontunmap`). Returns `dst`.
    fn move_pages(
        &mut self,
        src: u64,
        old_len: u64,
        dst: u64,
        new_len: u64,
        prot: Prot,
        dontunmap: bool,
    ) -> i64 {
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return ENOMEM;
        };
        let phys = &mut self.vcpu.cpu.mmu.phys;
        let mut buf = vec![0u8; PAGE as usize];
        for k in 0..new_len / PAGE {
            let Ok(npa) = t.mm.map_new(phys, &mut self.frames, dst + k * PAGE, prot) else {
                return ENOMEM;
            };
            if k < old_len / PAGE
                && let Some((opa, _)) = t.mm.lookup(src + k * PAGE)
            {
                phys.read(opa, &mut buf);
                phys.write(npa, &buf);
            }
        }
        for k in 0..old_len / PAGE {
            let va = src + k * PAGE;
            let _ = t.mm.unmap(phys, &mut self.frames, va);
            if dontunmap {
                let _ = t.mm.map_new(phys, &mut self.frames, va, prot);
            }
        }
        self.vcpu.cpu.mmu.flush_tlb(false);
        dst as i64
    }
}

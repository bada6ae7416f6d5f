//! Guest physical memory.
//!
//! RAM is a sparse two-level radix: a top-level vector with one slot per
//! 2-MiB chunk (512 pages), each chunk holding 512 optional 4-KiB pages and a
//! 512-bit "contains decoded code" bitmap. Host memory is spent only on pages
//! that have been written with non-zero data; reads of untouched pages return
//! zeros without allocating. The top-level vector costs 8 bytes per 2 MiB of
//! guest RAM (256 KiB for a 64 GiB guest).
//!
//! Addresses at or above [`PhysMem::size`] behave as open bus: reads return
//! `0xFF` bytes and writes are dropped. Multi-byte accesses whose address
//! would overflow `u64` treat the overflowing bytes the same way (no
//! wrap-around). No access panics.

use crate::{MAXPHYADDR, PAGE_SIZE};

/// Largest guest RAM size: `2^MAXPHYADDR` bytes (512 GiB). Larger requests
/// are clamped, since no paging walk can produce a physical address beyond it.
pub const MAX_PHYS_SIZE: u64 = 1 << MAXPHYADDR;

const PAGE_BYTES: usize = PAGE_SIZE as usize;
const OFFSET_MASK: u64 = PAGE_SIZE - 1;
const CHUNK_SHIFT: u32 = 9;
const CHUNK_PAGES: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: u64 = CHUNK_PAGES as u64 - 1;

/// One 4-KiB page of guest RAM. It is allocated zeroed and only ever
/// accessed through its raw pointer, never through references, so that the
/// host pointers [`PhysMem::host_page`] hands out stay valid while other
/// accesses happen.
struct Page(std::ptr::NonNull<u8>);

const PAGE_LAYOUT: std::alloc::Layout =
    match std::alloc::Layout::from_size_align(PAGE_BYTES, PAGE_BYTES) {
        Ok(l) => l,
        Err(_) => panic!("page layout"),
    };

#[allow(unsafe_code)]
impl Page {
    fn new() -> Page {
        // SAFETY: PAGE_LAYOUT has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(PAGE_LAYOUT) };
        match std::ptr::NonNull::new(p) {
            Some(p) => Page(p),
            None => std::alloc::handle_alloc_error(PAGE_LAYOUT),
        }
    }

    /// Copies bytes `off..off + dst.len()` out; nothing if out of bounds.
    #[inline(always)]
    fn read(&self, off: usize, dst: &mut [u8]) {
        if off
            .checked_add(dst.len())
            .is_some_and(|end| end <= PAGE_BYTES)
        {
            // SAFETY: the range lies inside the page's allocation, and `dst`
            // cannot overlap it (guest RAM is never lent out as a slice).
            unsafe {
                std::ptr::copy_nonoverlapping(self.0.as_ptr().add(off), dst.as_mut_ptr(), dst.len())
            }
        }
    }

    /// Copies `src` to bytes `off..`; nothing if out of bounds.
    #[inline(always)]
    fn write(&mut self, off: usize, src: &[u8]) {
        if off
            .checked_add(src.len())
            .is_some_and(|end| end <= PAGE_BYTES)
        {
            // SAFETY: as in `read`; `&mut self` serializes writers.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), self.0.as_ptr().add(off), src.len())
            }
        }
    }
}

#[allow(unsafe_code)]
impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: allocated in `Page::new` with the same layout, freed once.
        unsafe { std::alloc::dealloc(self.0.as_ptr(), PAGE_LAYOUT) }
    }
}

// SAFETY: a Page owns its allocation exclusively; moving it to another
// thread moves that ownership. It is not Sync: shared access goes through
// PhysMem's `&self`/`&mut self` methods.
#[allow(unsafe_code)]
unsafe impl Send for Page {}

/// 512 pages (2 MiB of guest RAM) and their code-page bitmap.
struct Chunk {
    pages: [Option<Page>; CHUNK_PAGES],
    code: [u64; CHUNK_PAGES / 64],
}

impl Chunk {
    fn new_boxed() -> Box<Self> {
        Box::new(Chunk {
            pages: std::array::from_fn(|_| None),
            code: [0; CHUNK_PAGES / 64],
        })
    }
}

/// Index of the chunk and of the page inside it, and the code-bitmap word
/// and bit, for a page frame number.
#[inline]
fn split_pfn(pfn: u64) -> (usize, usize, usize, u64) {
    let page = (pfn & CHUNK_MASK) as usize;
    (
        (pfn >> CHUNK_SHIFT) as usize,
        page,
        page / 64,
        1u64 << (page % 64),
    )
}

/// Guest physical memory: RAM from 0 to [`size`](Self::size), costing host
/// memory only for pages that were written.
pub struct PhysMem {
    size: u64,
    chunks: Vec<Option<Box<Chunk>>>,
    resident: usize,
    code_generation: u64,
    dirty_code: Vec<u64>,
    marks: u64,
    id: u64,
}

/// Source of [`PhysMem::id`] values.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl std::fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysMem")
            .field("size", &self.size)
            .field("resident_pages", &self.resident)
            .field("code_generation", &self.code_generation)
            .finish_non_exhaustive()
    }
}

impl PhysMem {
    /// Creates `size` bytes of zeroed RAM. The size is clamped to
    /// [`MAX_PHYS_SIZE`] and rounded up to a multiple of [`PAGE_SIZE`]. Only
    /// the top-level index (8 bytes per 2 MiB) is allocated up front.
    pub fn new(size: u64) -> Self {
        let size = size.min(MAX_PHYS_SIZE).next_multiple_of(PAGE_SIZE);
        let chunk_bytes = PAGE_SIZE << CHUNK_SHIFT;
        let n_chunks = size.div_ceil(chunk_bytes) as usize;
        let mut chunks = Vec::new();
        chunks.resize_with(n_chunks, || None);
        PhysMem {
            size,
            chunks,
            resident: 0,
            code_generation: 0,
            dirty_code: Vec::new(),
            marks: 0,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// RAM size in bytes (a multiple of [`PAGE_SIZE`]).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of 4-KiB pages actually allocated on the host.
    pub fn resident_pages(&self) -> usize {
        self.resident
    }

    /// The resident page with frame number `pfn`, if any.
    #[inline]
    fn page(&self, pfn: u64) -> Option<&Page> {
        let (ci, pi, _, _) = split_pfn(pfn);
        self.chunks.get(ci)?.as_deref()?.pages[pi].as_ref()
    }

    /// Reads `N` bytes; fast when they lie in one in-range page.
    #[inline]
    fn read_array<const N: usize>(&self, pa: u64) -> [u8; N] {
        let off = (pa & OFFSET_MASK) as usize;
        // `size` is page aligned, so an in-range start inside one page means
        // every byte is in range.
        if pa < self.size && off + N <= PAGE_BYTES {
            let mut out = [0u8; N];
            if let Some(page) = self.page(pa >> 12) {
                page.read(off, &mut out);
            }
            out
        } else {
            self.read_array_slow(pa)
        }
    }

    #[cold]
    #[inline(never)]
    fn read_array_slow<const N: usize>(&self, pa: u64) -> [u8; N] {
        let mut out = [0u8; N];
        self.read(pa, &mut out);
        out
    }

    /// Writes `N` bytes; fast when they lie in one resident, in-range page
    /// that is not marked as code.
    #[inline]
    fn write_array<const N: usize>(&mut self, pa: u64, bytes: [u8; N]) {
        let off = (pa & OFFSET_MASK) as usize;
        if pa < self.size && off + N <= PAGE_BYTES {
            let (ci, pi, word, bit) = split_pfn(pa >> 12);
            if let Some(Some(chunk)) = self.chunks.get_mut(ci)
                && chunk.code[word] & bit == 0
                && let Some(page) = chunk.pages[pi].as_mut()
            {
                page.write(off, &bytes);
                return;
            }
            self.write_in_page(pa >> 12, off, &bytes);
        } else {
            self.write(pa, &bytes);
        }
    }

    /// Writes `bytes` at offset `off` of in-range page `pfn` (the caller
    /// guarantees `off + bytes.len() <= PAGE_SIZE`). Handles code-page
    /// invalidation and page allocation; an all-zero write to a page that was
    /// never allocated allocates nothing (the page already reads as zero).
    #[cold]
    #[inline(never)]
    fn write_in_page(&mut self, pfn: u64, off: usize, bytes: &[u8]) {
        let (ci, pi, word, bit) = split_pfn(pfn);
        let Some(slot) = self.chunks.get_mut(ci) else {
            return;
        };
        let all_zero = bytes.iter().all(|&b| b == 0);
        let chunk = match slot {
            Some(chunk) => chunk,
            None if all_zero => return,
            None => slot.insert(Chunk::new_boxed()),
        };
        if chunk.code[word] & bit != 0 {
            chunk.code[word] &= !bit;
            self.code_generation = self.code_generation.wrapping_add(1);
            self.dirty_code.push(pfn);
        }
        let page = match &mut chunk.pages[pi] {
            Some(page) => page,
            None if all_zero => return,
            empty @ None => {
                self.resident += 1;
                empty.insert(Page::new())
            }
        };
        page.write(off, bytes);
    }

    /// The `N` bytes at `pa..pa + N`, borrowed straight from the resident
    /// page that holds them (no copy), when they lie in one in-range page
    /// that has been written. `None` when they cross a page boundary, lie
    /// at or above [`size`](Self::size), or the page was never allocated
    /// (it reads as zeros): [`read`](Self::read) handles every such case.
    #[inline]
    #[allow(unsafe_code)]
    pub fn in_page<const N: usize>(&self, pa: u64) -> Option<&[u8; N]> {
        let off = (pa & OFFSET_MASK) as usize;
        if pa >= self.size || N > PAGE_BYTES - off {
            return None;
        }
        let page = self.page(pa >> 12)?;
        // SAFETY: `off + N <= PAGE_BYTES`, so the bytes lie inside the
        // page's allocation; `[u8; N]` has alignment 1. The borrow of
        // `self` excludes every write through this `PhysMem` while the
        // reference lives, and host pointers from `host_page` are only
        // written through by a holder of `&mut` to the owner of this
        // `PhysMem` (the CPU), which that borrow excludes too.
        Some(unsafe { &*page.0.as_ptr().add(off).cast::<[u8; N]>() })
    }

    /// Reads one byte.
    #[inline]
    pub fn read_u8(&self, pa: u64) -> u8 {
        self.read_array::<1>(pa)[0]
    }

    /// Reads a little-endian `u16` (may cross a page boundary).
    #[inline]
    pub fn read_u16(&self, pa: u64) -> u16 {
        u16::from_le_bytes(self.read_array(pa))
    }

    /// Reads a little-endian `u32` (may cross a page boundary).
    #[inline]
    pub fn read_u32(&self, pa: u64) -> u32 {
        u32::from_le_bytes(self.read_array(pa))
    }

    /// Reads a little-endian `u64` (may cross a page boundary).
    #[inline]
    pub fn read_u64(&self, pa: u64) -> u64 {
        u64::from_le_bytes(self.read_array(pa))
    }

    /// Writes one byte.
    #[inline]
    pub fn write_u8(&mut self, pa: u64, v: u8) {
        self.write_array(pa, [v]);
    }

    /// Writes a little-endian `u16` (may cross a page boundary).
    #[inline]
    pub fn write_u16(&mut self, pa: u64, v: u16) {
        self.write_array(pa, v.to_le_bytes());
    }

    /// Writes a little-endian `u32` (may cross a page boundary).
    #[inline]
    pub fn write_u32(&mut self, pa: u64, v: u32) {
        self.write_array(pa, v.to_le_bytes());
    }

    /// Writes a little-endian `u64` (may cross a page boundary).
    #[inline]
    pub fn write_u64(&mut self, pa: u64, v: u64) {
        self.write_array(pa, v.to_le_bytes());
    }

    /// Fills `buf` with the bytes at `pa..`; bytes at or above
    /// [`size`](Self::size) (or past `u64::MAX`) read as `0xFF`.
    pub fn read(&self, pa: u64, buf: &mut [u8]) {
        let mut addr = pa;
        let mut rest = buf;
        while !rest.is_empty() {
            if addr >= self.size {
                // Every later byte is out of range too (or past u64::MAX).
                rest.fill(0xFF);
                return;
            }
            let off = (addr & OFFSET_MASK) as usize;
            let n = (PAGE_BYTES - off).min(rest.len());
            let (head, tail) = rest.split_at_mut(n);
            match self.page(addr >> 12) {
                Some(page) => page.read(off, head),
                None => head.fill(0),
            }
            rest = tail;
            match addr.checked_add(n as u64) {
                Some(next) => addr = next,
                None => {
                    rest.fill(0xFF);
                    return;
                }
            }
        }
    }

    /// Writes `data` at `pa..`; bytes at or above [`size`](Self::size) (or
    /// past `u64::MAX`) are dropped.
    pub fn write(&mut self, pa: u64, data: &[u8]) {
        let mut addr = pa;
        let mut rest = data;
        while !rest.is_empty() && addr < self.size {
            let off = (addr & OFFSET_MASK) as usize;
            let n = (PAGE_BYTES - off).min(rest.len());
            let (head, tail) = rest.split_at(n);
            self.write_in_page(addr >> 12, off, head);
            rest = tail;
            match addr.checked_add(n as u64) {
                Some(next) => addr = next,
                None => return,
            }
        }
    }

    /// Marks the page holding `pa` as containing decoded code (the CPU's
    /// decode cache depends on it). The next write touching the page unmarks
    /// it, bumps [`code_generation`](Self::code_generation) and queues its
    /// frame number for [`take_dirty_code_pages`](Self::take_dirty_code_pages).
    /// Out-of-range addresses are ignored (open bus is never written).
    pub fn mark_code(&mut self, pa: u64) {
        if pa >= self.size {
            return;
        }
        let (ci, _, word, bit) = split_pfn(pa >> 12);
        if let Some(slot) = self.chunks.get_mut(ci) {
            let code = &mut slot.get_or_insert_with(Chunk::new_boxed).code[word];
            if *code & bit == 0 {
                *code |= bit;
                self.marks = self.marks.wrapping_add(1);
            }
        }
    }

    /// A number unique to this `PhysMem` in the process: callers caching
    /// host pointers into it ([`host_page`](Self::host_page)) check it to
    /// notice that the memory was replaced.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Changes whenever a page becomes marked as code. Callers holding
    /// writable host pointers from [`host_page`](Self::host_page) must drop
    /// them when it changes, or writes through them would miss the
    /// self-modifying-code check.
    pub fn mark_epoch(&self) -> u64 {
        self.marks
    }

    /// A host pointer to the first byte of the resident page holding `pa`,
    /// for callers that cache translations (the CPU's memory fast path).
    /// `None` when the page is out of range or not resident, and, when
    /// `write` is set, when it is marked as code (writes to code pages must
    /// go through [`write`](Self::write) and friends).
    ///
    /// The pointer stays valid as long as this `PhysMem` lives: resident
    /// pages are never freed or moved. Writing through it bypasses the
    /// code-page check, hence the `write` rule and [`mark_epoch`](Self::mark_epoch).
    pub fn host_page(&mut self, pa: u64, write: bool) -> Option<std::ptr::NonNull<u8>> {
        if pa >= self.size {
            return None;
        }
        let (ci, pi, word, bit) = split_pfn(pa >> 12);
        let chunk = self.chunks.get_mut(ci)?.as_deref_mut()?;
        if write && chunk.code[word] & bit != 0 {
            return None;
        }
        chunk.pages[pi].as_ref().map(|p| p.0)
    }

    /// Whether the page holding `pa` is currently marked as code.
    pub fn is_code(&self, pa: u64) -> bool {
        if pa >= self.size {
            return false;
        }
        let (ci, _, word, bit) = split_pfn(pa >> 12);
        matches!(self.chunks.get(ci), Some(Some(c)) if c.code[word] & bit != 0)
    }

    /// Counts writes that touched a page marked as code: it increments once
    /// per such page and write (wrapping), so a change means some decoded code
    /// may be stale.
    pub fn code_generation(&self) -> u64 {
        self.code_generation
    }

    /// Returns and clears the queue of page frame numbers (`pa >> 12`) whose
    /// code was overwritten since the last call, in the order they were hit.
    pub fn take_dirty_code_pages(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.dirty_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_page_follows_residency_and_code_marks() {
        let mut m = PhysMem::new(1 << 20);
        assert!(m.host_page(0x3000, false).is_none(), "not resident");
        m.write_u32(0x3010, 0xAABB_CCDD);
        let p = m.host_page(0x3FFF, false).expect("resident");
        assert_eq!(m.host_page(0x3000, true), Some(p), "same page, writable");
        let e = m.mark_epoch();
        m.mark_code(0x3000);
        assert_ne!(m.mark_epoch(), e);
        assert!(
            m.host_page(0x3000, true).is_none(),
            "code pages are not writable through host pointers"
        );
        assert_eq!(m.host_page(0x3000, false), Some(p));
        assert!(m.host_page(2 << 20, false).is_none(), "out of range");
        // Marking an already marked page does not change the epoch.
        let e = m.mark_epoch();
        m.mark_code(0x3100);
        assert_eq!(m.mark_epoch(), e);
    }
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn in_page_only_within_one_resident_page() {
        let mut m = PhysMem::new(0x3000);
        assert_eq!(m.in_page::<4>(0x1000), None, "never written");
        m.write(0x1FF8, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(m.in_page::<8>(0x1FF8), Some(&[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(m.in_page::<2>(0x1FFC), Some(&[5, 6]));
        let mut whole = [0u8; 0x1000];
        m.read(0x1000, &mut whole);
        assert_eq!(m.in_page::<0x1000>(0x1000), Some(&whole));
        assert_eq!(m.in_page::<9>(0x1FF8), None, "crosses the page end");
        assert_eq!(m.in_page::<1>(0x3000), None, "out of range");
        assert_eq!(m.in_page::<1>(u64::MAX), None);
        assert_eq!(m.in_page::<0>(0x1FFF), Some(&[]));
    }

    #[test]
    fn sparse_64gib() {
        let mut m = PhysMem::new(64 << 30);
        assert_eq!(m.size(), 64 << 30);
        assert_eq!(m.resident_pages(), 0);
        assert_eq!(m.read_u64(60 << 30), 0);
        assert_eq!(m.resident_pages(), 0);
        m.write_u8(60 << 30, 0xAB);
        assert_eq!(m.resident_pages(), 1);
        assert_eq!(m.read_u8(60 << 30), 0xAB);
        // Zero writes to untouched pages allocate nothing.
        m.write_u64(10 << 30, 0);
        m.write(20 << 30, &[0; 10000]);
        assert_eq!(m.resident_pages(), 1);
    }

    #[test]
    fn size_rounding_and_clamp() {
        assert_eq!(PhysMem::new(1).size(), PAGE_SIZE);
        assert_eq!(PhysMem::new(0).size(), 0);
        assert_eq!(PhysMem::new(u64::MAX).size(), MAX_PHYS_SIZE);
        let m = PhysMem::new(0);
        assert_eq!(m.read_u32(0), 0xFFFF_FFFF);
    }

    #[test]
    fn out_of_range_is_open_bus() {
        let mut m = PhysMem::new(0x2000);
        assert_eq!(m.read_u8(0x2000), 0xFF);
        assert_eq!(m.read_u64(u64::MAX), u64::MAX);
        assert_eq!(m.read_u32(u64::MAX - 1), u32::MAX);
        m.write_u64(0x2000, 0x1234);
        m.write_u64(u64::MAX - 3, 0x1234);
        m.write(u64::MAX, &[1, 2, 3]);
        assert_eq!(m.resident_pages(), 0);
        // Straddling the end of RAM: in-range bytes land, the rest is open bus.
        m.write_u32(0x1FFE, 0xAABB_CCDD);
        assert_eq!(m.read_u32(0x1FFE), 0xFFFF_CCDD);
        let mut buf = [0u8; 4];
        m.read(u64::MAX - 1, &mut buf);
        assert_eq!(buf, [0xFF; 4]);
    }

    #[test]
    fn cross_page_access() {
        let mut m = PhysMem::new(0x10000);
        m.write_u64(0x0FFD, 0x0102_0304_0506_0708);
        assert_eq!(m.read_u64(0x0FFD), 0x0102_0304_0506_0708);
        assert_eq!(m.read_u8(0x0FFD), 0x08);
        assert_eq!(m.read_u8(0x1000), 0x05);
        assert_eq!(m.read_u16(0x0FFF), 0x0506);
        assert_eq!(m.read_u32(0x0FFE), 0x0405_0607);
        assert_eq!(m.resident_pages(), 2);
        let data: Vec<u8> = (0..=255u8).cycle().take(9000).collect();
        m.write(0x2F00, &data);
        let mut back = vec![0u8; 9000];
        m.read(0x2F00, &mut back);
        assert_eq!(back, data);
    }

    #[test]
    fn code_marking() {
        let mut m = PhysMem::new(1 << 20);
        m.write_u32(0x3000, 0x9090_9090);
        m.mark_code(0x3004);
        m.mark_code(0x5000); // never written: marking allocates no page
        assert_eq!(m.resident_pages(), 1);
        assert!(m.is_code(0x3FFF) && m.is_code(0x5000) && !m.is_code(0x4000));
        assert_eq!(m.code_generation(), 0);
        m.write_u8(0x4000, 1); // not code
        assert_eq!(m.code_generation(), 0);
        m.write_u8(0x3010, 0xCC);
        assert_eq!(m.code_generation(), 1);
        assert!(!m.is_code(0x3000));
        m.write_u8(0x3011, 0xCC); // already unmarked
        assert_eq!(m.code_generation(), 1);
        // A write straddling two code pages hits both.
        m.mark_code(0x3000);
        m.write_u16(0x4FFF, 0xFFFF);
        assert_eq!(m.code_generation(), 2); // page 5 (marked, never written)
        m.write_u16(0x3FFF, 0);
        assert_eq!(m.code_generation(), 3); // page 3; page 4 is not code
        m.mark_code(0x4000);
        m.write_u64(0x4FFC, u64::MAX);
        assert_eq!(m.code_generation(), 4); // page 4; page 5 already unmarked
        assert_eq!(m.take_dirty_code_pages(), vec![3, 5, 3, 4]);
        assert!(m.take_dirty_code_pages().is_empty());
        // Out of range: ignored.
        m.mark_code(u64::MAX);
        assert!(!m.is_code(u64::MAX));
    }

    fn addr_strategy() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..0x4_0000,
            0x3_F000u64..0x4_1000,
            (u64::MAX - 64)..=u64::MAX,
            any::<u64>(),
        ]
    }

    proptest! {
        #[test]
        fn writes_then_reads_round_trip(
            ops in prop::collection::vec(
                (addr_strategy(), prop::collection::vec(any::<u8>(), 0..40), 0u8..5),
                1..40,
            ),
            probes in prop::collection::vec(addr_strategy(), 1..20),
        ) {
            const SIZE: u64 = 0x4_0000;
            let mut m = PhysMem::new(SIZE);
            let mut model: HashMap<u64, u8> = HashMap::new();
            for (pa, data, how) in &ops {
                let (pa, data) = (*pa, data.as_slice());
                match (how, data.len()) {
                    (0, n) if n >= 1 => m.write_u8(pa, data[0]),
                    (1, n) if n >= 2 => m.write_u16(pa, u16::from_le_bytes([data[0], data[1]])),
                    (2, n) if n >= 4 => m.write_u32(pa, u32::from_le_bytes([data[0], data[1], data[2], data[3]])),
                    (3, n) if n >= 8 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&data[..8]);
                        m.write_u64(pa, u64::from_le_bytes(b));
                    }
                    _ => m.write(pa, data),
                }
                let len = match (how, data.len()) {
                    (0, n) if n >= 1 => 1,
                    (1, n) if n >= 2 => 2,
                    (2, n) if n >= 4 => 4,
                    (3, n) if n >= 8 => 8,
                    (_, n) => n,
                };
                for (i, b) in data.iter().take(len).enumerate() {
                    if let Some(a) = pa.checked_add(i as u64) && a < SIZE {
                        model.insert(a, *b);
                    }
                }
            }
            let expect = |a: Option<u64>| match a {
                Some(a) if a < SIZE => *model.get(&a).unwrap_or(&0),
                _ => 0xFF,
            };
            for (pa, data, _) in &ops {
                let mut buf = vec![0u8; data.len()];
                m.read(*pa, &mut buf);
                for (i, b) in buf.iter().enumerate() {
                    prop_assert_eq!(*b, expect(pa.checked_add(i as u64)));
                }
            }
            for &pa in &probes {
                let bytes: Vec<u8> = (0..8).map(|i| expect(pa.checked_add(i))).collect();
                prop_assert_eq!(m.read_u8(pa), bytes[0]);
                prop_assert_eq!(m.read_u16(pa), u16::from_le_bytes([bytes[0], bytes[1]]));
                prop_assert_eq!(m.read_u32(pa), u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
                let mut b8 = [0u8; 8];
                b8.copy_from_slice(&bytes);
                prop_assert_eq!(m.read_u64(pa), u64::from_le_bytes(b8));
            }
            prop_assert!(m.resident_pages() <= (SIZE / PAGE_SIZE) as usize);
        }
    }
}

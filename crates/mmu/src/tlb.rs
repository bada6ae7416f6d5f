//! The software TLB: a direct-mapped array of [`TLB_SIZE`] 4-KByte
//! translations indexed by bits 21:12 of the linear address.
//!
//! Each entry is 16 bytes: a tag (page-aligned linear address | valid bit)
//! and a data word holding the physical frame in bits 63:12 and, in bits
//! 11:0, a precomputed rights mask with one bit per access class (kind ×
//! {supervisor, supervisor with SMAP waived, user}; see
//! `Access::class_bit`) plus the `LARGE` and `GLOBAL` flags. A hit is
//! therefore a tag compare and one bit test.
//!
//! The rights mask is evaluated against CR0.WP, CR4.SMEP and CR4.SMAP at
//! fill time, so the CPU must call `Mmu::flush_tlb(false)` whenever CR0 or
//! CR4 change (which the SDM permits: a processor may invalidate TLB entries
//! at any time, §4.10.4.4). Write classes are only present once the page's
//! dirty flag is set, so a write through a clean translation misses and
//! re-walks to set D (§4.8).
//!
//! Large pages are cached one 4-KByte piece at a time; INVLPG drops all the
//! pieces of any large page (SDM §4.10.4.1: INVLPG invalidates the whole
//! page containing the address, whatever its size).

/// Number of TLB entries (a power of two).
pub const TLB_SIZE: usize = 1024;
const TLB_MASK: u64 = TLB_SIZE as u64 - 1;

/// Tag bit 0: the entry is valid.
pub(crate) const TAG_VALID: u64 = 1;
/// Data bit 3 (an unused class bit): cached from a 4-MByte/2-MByte/1-GByte page.
pub(crate) const FLAG_LARGE: u64 = 1 << 3;
/// Data bit 7 (an unused class bit): global translation (G = 1, CR4.PGE = 1).
pub(crate) const FLAG_GLOBAL: u64 = 1 << 7;

/// TLB and page-walk counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbStats {
    /// Translations served from the TLB.
    pub hits: u64,
    /// Lookups that found no entry for the page (each is followed by a walk).
    pub misses: u64,
    /// Page walks: misses, plus re-walks of cached pages whose entry did not
    /// permit the access (first write to a clean page, or a rights failure,
    /// which is re-checked against memory before faulting).
    pub walks: u64,
    /// Calls to `Mmu::flush_tlb`.
    pub flushes: u64,
}

/// One cached 4-KByte translation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TlbEntry {
    /// Page-aligned linear address | [`TAG_VALID`]; 0 when empty.
    pub(crate) tag: u64,
    /// Physical frame | rights mask | flags.
    pub(crate) data: u64,
}

/// The TLB array and the bookkeeping that makes flushes cheap.
pub(crate) struct Tlb {
    entries: Box<[TlbEntry; TLB_SIZE]>,
    /// Slots filled since the last flush (may repeat or be stale); lets a
    /// flush visit only the slots in use instead of the whole array.
    live: Vec<u16>,
    /// `live` overflowed: the next flush sweeps every slot.
    overflow: bool,
    /// Some valid entry may carry [`FLAG_LARGE`].
    large_present: bool,
}

impl Tlb {
    /// An empty TLB.
    pub(crate) fn new() -> Self {
        Tlb {
            entries: Box::new([TlbEntry::default(); TLB_SIZE]),
            live: Vec::with_capacity(TLB_SIZE),
            overflow: false,
            large_present: false,
        }
    }

    /// The slot for the page holding `lin`.
    #[inline(always)]
    fn slot(lin: u64) -> usize {
        ((lin >> 12) & TLB_MASK) as usize
    }

    /// The tag an entry for the page holding `lin` carries.
    #[inline(always)]
    fn tag(lin: u64) -> u64 {
        (lin & !0xFFF) | TAG_VALID
    }

    /// The physical address of `lin` if a cached entry permits the access
    /// class `class_bit`.
    #[inline(always)]
    pub(crate) fn lookup(&self, lin: u64, class_bit: u64) -> Option<u64> {
        let e = &self.entries[Self::slot(lin)];
        if e.tag == Self::tag(lin) && e.data & class_bit != 0 {
            Some((e.data & !0xFFF) | (lin & 0xFFF))
        } else {
            None
        }
    }

    /// Whether some entry (permitting any access) is cached for `lin`'s page.
    pub(crate) fn holds(&self, lin: u64) -> bool {
        self.entries[Self::slot(lin)].tag == Self::tag(lin)
    }

    /// Caches a translation of `lin`'s page to `frame` with the rights mask
    /// and flags `bits` (bits 11:0).
    pub(crate) fn fill(&mut self, lin: u64, frame: u64, bits: u64) {
        let slot = Self::slot(lin);
        let e = &mut self.entries[slot];
        if e.tag & TAG_VALID == 0 {
            if self.live.len() < TLB_SIZE {
                self.live.push(slot as u16);
            } else {
                self.overflow = true;
            }
        }
        e.tag = Self::tag(lin);
        e.data = (frame & !0xFFF) | (bits & 0xFFF);
        if bits & FLAG_LARGE != 0 {
            self.large_present = true;
        }
    }

    /// Drops every entry, or every non-global one if `keep_global`.
    pub(crate) fn flush(&mut self, keep_global: bool) {
        let keep = |e: &TlbEntry| keep_global && e.data & FLAG_GLOBAL != 0;
        if self.overflow {
            self.live.clear();
            for (i, e) in self.entries.iter_mut().enumerate() {
                if e.tag & TAG_VALID != 0 {
                    if keep(e) {
                        self.live.push(i as u16);
                    } else {
                        *e = TlbEntry::default();
                    }
                }
            }
            self.overflow = false;
        } else {
            let entries = &mut self.entries;
            self.live
                .retain(|&i| match entries.get_mut(usize::from(i)) {
                    Some(e) if e.tag & TAG_VALID != 0 && keep(e) => true,
                    Some(e) => {
                        *e = TlbEntry::default();
                        false
                    }
                    None => false,
                });
        }
        if !keep_global {
            self.large_present = false;
        }
    }

    /// Drops the translation of the page holding `lin` whatever its page
    /// size, global or not. For large pages this conservatively drops every
    /// large-page piece within the same 1-GByte region (over-invalidation is
    /// always permitted).
    pub(crate) fn invalidate(&mut self, lin: u64) {
        let slot = Self::slot(lin);
        if self.entries[slot].tag == Self::tag(lin) {
            self.entries[slot] = TlbEntry::default();
        }
        if self.large_present {
            const REGION: u64 = !((1u64 << 30) - 1);
            for e in self.entries.iter_mut() {
                if e.tag & TAG_VALID != 0 && e.data & FLAG_LARGE != 0 && (e.tag ^ lin) & REGION == 0
                {
                    *e = TlbEntry::default();
                }
            }
        }
    }
}

//! The user stack grows down on demand, as Linux's stack VMA does
//! (`expand_stack` from the page-fault handler, mm/mmap.c): a page fault
//! on a not-present page below the stack, within `RLIMIT_STACK` of its
//! top, maps zeroed pages from the faulting page up to the stack and
//! retries the instruction. The gap to any other mapping below must stay
//! at least `stack_guard_gap` (256 pages); a fault farther down, in a
//! mapping's way, or past the limit is a SIGSEGV as before. Only the
//! initial pages (`STACK_PAGES`) are mapped at exec.

use super::Machine;
use super::paging::Prot;

/// `RLIMIT_STACK`.
const RLIMIT_STACK: usize = 3;

/// Linux's default `stack_guard_gap`: 256 pages.
const STACK_GUARD_GAP: u64 = 256 * 0x1000;

impl Machine {
    /// Grows the current task's stack down to cover `addr`, the address
    /// of a user page fault with error code `err`; true when it did (the
    /// instruction is then retried).
    pub(crate) fn grow_stack(&mut self, addr: u64, err: u64) -> bool {
        // Only a fault on a page that is not present can be a stack access
        // below the stack.
        if err & 1 != 0 {
            return false;
        }
        let Some(t) = self.tasks.get(&self.current) else {
            return false;
        };
        let (top, low) = t.stack;
        let page = addr & !0xFFF;
        if top == 0 || page >= low {
            return false;
        }
        let limit = t.rlimits[RLIMIT_STACK].0;
        if top - page > limit {
            return false;
        }
        // Nothing mapped between the fault and the stack, nor within the
        // guard gap below it.
        let floor = page.saturating_sub(STACK_GUARD_GAP);
        let mut va = floor;
        while va < low {
            if t.mm.lookup(va).is_some() {
                return false;
            }
            va += 0x1000;
        }
        let mut mapped = low;
        let Some(t) = self.tasks.get_mut(&self.current) else {
            return false;
        };
        while mapped > page {
            let next = mapped - 0x1000;
            if t.mm
                .map_new(
                    &mut self.vcpu.cpu.mmu.phys,
                    &mut self.frames,
                    next,
                    Prot::RW,
                )
                .is_err()
            {
                break;
            }
            mapped = next;
        }
        t.stack.1 = mapped;
        // The new entries were not present: nothing stale in the TLB, but
        // the host-pointer cache follows the MMU's epoch.
        self.vcpu.cpu.mmu.flush_tlb(false);
        mapped <= page
    }
}

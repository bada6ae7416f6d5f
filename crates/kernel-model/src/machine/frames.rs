//! The physical frame allocator: hands out zeroed 4-KiB frames of guest
//! RAM above the kernel image for page tables, kernel stacks and user
//! pages, and takes them back when an address space dies.

use sysgate_mmu::PhysMem;

use super::layout::FRAMES_START;

/// A bump allocator with a free list.
#[derive(Debug)]
pub struct Frames {
    next: u64,
    end: u64,
    free: Vec<u64>,
}

/// Guest RAM is exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl Frames {
    /// Frames from [`FRAMES_START`] to the end of `ram` bytes.
    pub fn new(ram: u64) -> Frames {
        Frames {
            next: FRAMES_START,
            end: ram & !0xFFF,
            free: Vec::new(),
        }
    }

    /// A zeroed frame's physical address.
    pub fn alloc(&mut self, mem: &mut PhysMem) -> Result<u64, OutOfMemory> {
        let pa = match self.free.pop() {
            Some(pa) => pa,
            None if self.next < self.end => {
                let pa = self.next;
                self.next += 0x1000;
                return Ok(pa);
            }
            None => return Err(OutOfMemory),
        };
        mem.write(pa, &[0u8; 0x1000]);
        Ok(pa)
    }

    /// Returns a frame.
    pub fn free(&mut self, pa: u64) {
        self.free.push(pa & !0xFFF);
    }

    /// Frames that can still be handed out.
    pub fn available(&self) -> u64 {
        (self.end.saturating_sub(self.next)) / 0x1000 + self.free.len() as u64
    }

    /// Frames handed out and not returned.
    pub fn in_use(&self) -> u64 {
        (self.next - FRAMES_START) / 0x1000 - self.free.len() as u64
    }
}

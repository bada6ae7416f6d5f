//! Operand access: registers, effective addresses, segmentation checks on
//! every memory access, and linear accesses through the MMU.
//!
//! Segmentation (SDM Vol. 3 §3.4, §5.3-§5.4): in protected mode an access
//! through a null ("unusable") segment is #GP(0); writes need a writable
//! data segment, reads a readable segment; offsets must lie within the limit
//! (expand-down segments invert the check). Violations through SS are
//! #SS(0). In 64-bit mode only FS and GS contribute a base and linear
//! addresses must be canonical (#GP(0), or #SS(0) for stack references).
//!
//! Paging faults come from the MMU. A read-modify-write operand is
//! translated once with write intent (so the error code has W = 1 as on
//! hardware) before anything is read or written.

use sysgate_mmu::{Access, AccessKind};

use crate::decode::{Insn, NO_REG, Opnd};
use crate::exception::Exception;
use crate::flags::mask;
use crate::hostcache;
use crate::state::{Cpu, Cr0, Rflags, SegReg, attr};

/// A memory operand translated to physical addresses: `pa` for the first
/// `first` bytes, then `pa2` for the rest when the access crosses a page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhysLoc {
    pub pa: u64,
    pub pa2: u64,
    pub first: u8,
    pub size: u8,
}

/// Where an instruction's destination lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dest {
    /// A GPR slot.
    Reg(u8),
    /// Translated memory.
    Mem(PhysLoc),
}

/// [`Cpu::host_ctx`] value for accesses that must take the full path.
const NO_FAST_PATH: u64 = u64::MAX;

/// A memory operand of 64-bit code in no special form (see [`mem64_form`]).
pub(crate) const MEM64_ANY: u8 = 0;
/// `[base + disp]` with 64-bit addressing and no FS/GS override.
pub(crate) const MEM64_BASE: u8 = 1;
/// `FS:[disp]` or `GS:[disp]`: 64-bit addressing, no base, no index (the
/// per-CPU and thread-local accesses).
pub(crate) const MEM64_FSGS: u8 = 2;
/// `[rip + disp]` (folded to an absolute address) or `[disp]` with
/// 64-bit addressing and no FS/GS override.
pub(crate) const MEM64_ABS: u8 = 3;

/// The form of `ins`'s memory operand when decoded as 64-bit code, for
/// handlers specialized on it ([`MEM64_ANY`], [`MEM64_BASE`],
/// [`MEM64_FSGS`], [`MEM64_ABS`]).
pub(crate) fn mem64_form(ins: &iced_x86::Instruction) -> u8 {
    use iced_x86::Register;
    let base = ins.memory_base();
    let index = ins.memory_index();
    let fsgs = matches!(ins.memory_segment(), Register::FS | Register::GS);
    if index != Register::None {
        MEM64_ANY
    } else if base.is_gpr64() && !fsgs {
        MEM64_BASE
    } else if base == Register::None && fsgs && ins.memory_displ_size() == 8 {
        MEM64_FSGS
    } else if !fsgs
        && (base == Register::RIP || (base == Register::None && ins.memory_displ_size() == 8))
    {
        MEM64_ABS
    } else {
        MEM64_ANY
    }
}

/// True when `a` is canonical for 48-bit linear addresses.
#[inline(always)]
pub const fn is_canonical(a: u64) -> bool {
    ((a as i64) << 16 >> 16) as u64 == a
}

/// The address-size mask for an address size in bytes (2, 4 or 8), one
/// table load instead of a shift on every effective-address computation.
#[inline(always)]
pub(crate) const fn addr_mask(asize: u8) -> u64 {
    const MASKS: [u64; 16] = {
        let mut t = [0u64; 16];
        let mut k = 0;
        while k < 16 {
            t[k] = mask(k as u8);
            k += 1;
        }
        t
    };
    MASKS[(asize & 15) as usize]
}

impl Cpu {
    /// Reads a GPR slot at `size` bytes (slots 16-19 are AH, CH, DH, BH).
    #[inline(always)]
    pub(crate) fn rd(&self, slot: u8, size: u8) -> u64 {
        if slot >= 16 {
            (self.gpr[(slot & 3) as usize] >> 8) & 0xFF
        } else {
            self.gpr[(slot & 15) as usize] & mask(size)
        }
    }

    /// Writes a GPR slot at `size` bytes: 8 and 16-bit writes merge, 32-bit
    /// writes zero-extend (SDM Vol. 1 §3.4.1.1).
    #[inline(always)]
    pub(crate) fn wr(&mut self, slot: u8, size: u8, v: u64) {
        if slot >= 16 {
            let r = &mut self.gpr[(slot & 3) as usize];
            *r = (*r & !0xFF00) | ((v & 0xFF) << 8);
            return;
        }
        let r = &mut self.gpr[(slot & 15) as usize];
        *r = match size {
            8 => v,
            4 => v & 0xFFFF_FFFF,
            2 => (*r & !0xFFFF) | (v & 0xFFFF),
            _ => (*r & !0xFF) | (v & 0xFF),
        };
    }

    /// The effective address (segment offset) of the memory operand.
    #[inline(always)]
    pub(crate) fn ea(&self, i: &Insn) -> u64 {
        let m = &i.mem;
        let mut a = m.disp;
        if m.base != NO_REG {
            a = a.wrapping_add(self.gpr[(m.base & 15) as usize]);
        }
        if m.index != NO_REG {
            a = a.wrapping_add(self.gpr[(m.index & 15) as usize] << m.scale);
        }
        a & addr_mask(m.asize)
    }

    /// The linear address of an instruction fetch at CS offset `ip`.
    #[inline(always)]
    pub(crate) fn fetch_linear(&self, ip: u64) -> u64 {
        if self.in_long64() {
            ip
        } else {
            self.seg[SegReg::Cs as usize].base.wrapping_add(ip) & 0xFFFF_FFFF
        }
    }

    /// Applies segmentation to `off` for an access of `size` bytes.
    #[inline(always)]
    pub(crate) fn linear(
        &self,
        seg: u8,
        off: u64,
        size: u8,
        write: bool,
    ) -> Result<u64, Exception> {
        if self.in_long64() {
            let lin = if seg >= SegReg::Fs as u8 {
                self.seg[(seg as usize).min(5)].base.wrapping_add(off)
            } else {
                off
            };
            if !is_canonical(lin) {
                return Err(stack_or_gp(seg));
            }
            return Ok(lin);
        }
        self.linear_legacy(seg, off, size, write)
    }

    #[inline(never)]
    fn linear_legacy(&self, seg: u8, off: u64, size: u8, write: bool) -> Result<u64, Exception> {
        let s = &self.seg[(seg as usize).min(5)];
        let fault = stack_or_gp(seg);
        if self.protected() {
            if s.unusable() {
                return Err(fault);
            }
            let code = s.attr & attr::CODE != 0;
            let rw = s.attr & attr::RW != 0;
            // Writes need writable data; reads fail only on execute-only code.
            if (write && (code || !rw)) || (code && !rw) {
                return Err(fault);
            }
            if !code && s.attr & attr::DC != 0 {
                // Expand-down: valid offsets are (limit, upper].
                let upper = if s.big() { 0xFFFF_FFFF } else { 0xFFFF };
                let last = off.wrapping_add(size as u64 - 1);
                if off <= s.limit as u64 || last > upper || last < off {
                    return Err(fault);
                }
                return Ok(s.base.wrapping_add(off) & 0xFFFF_FFFF);
            }
        }
        let last = off.wrapping_add(size as u64 - 1);
        if last > s.limit as u64 || last < off {
            return Err(fault);
        }
        Ok(s.base.wrapping_add(off) & 0xFFFF_FFFF)
    }

    /// The MMU access descriptor for the current privilege level.
    #[inline(always)]
    pub(crate) fn access(&self, kind: AccessKind) -> Access {
        Access {
            kind,
            user: self.cpl() == 3,
            ac: self.rflags & Rflags::AC.bits() != 0,
            implicit: false,
        }
    }

    /// #AC check (SDM Vol. 3 §6.15, interrupt 17): CR0.AM, RFLAGS.AC,
    /// CPL 3 and a misaligned operand.
    #[inline(always)]
    fn alignment_check(&self, lin: u64, size: u8) -> Result<(), Exception> {
        if self.rflags & Rflags::AC.bits() != 0
            && self.ctrl.cr0 & Cr0::AM.bits() != 0
            && self.cpl() == 3
            && lin & (size as u64 - 1) != 0
        {
            return Err(Exception::AC);
        }
        Ok(())
    }

    /// Every input of an instruction fetch's mode and translation besides
    /// RIP, the CS base and the TLB, packed raw so it costs a few loads:
    /// the CS attributes (code size) and RPL (the CPL in protected mode),
    /// RFLAGS.VM and AC, CR0.PE and PG, and EFER.LMA. Equal keys mean the
    /// same code size, the same linear address for the same RIP and CS
    /// base, and the same TLB access class.
    #[inline(always)]
    pub(crate) fn fetch_key(&self) -> u64 {
        let cs = &self.seg[SegReg::Cs as usize];
        // Bits 0-15 attributes, 16-17 RPL, 18 VM, 19 AC, 20 PE, 31 PG,
        // 32 LMA.
        let flags = self.rflags & (Rflags::VM.bits() | Rflags::AC.bits());
        let pe = self.ctrl.cr0 & Cr0::PE.bits();
        let pg = self.ctrl.cr0 & Cr0::PG.bits();
        let lma = self.ctrl.efer & crate::state::Efer::LMA.bits();
        u64::from(cs.attr)
            | u64::from(cs.selector & 3) << 16
            | flags << 1
            | pe << 20
            | pg
            | lma << 22
    }

    /// Translates the instruction fetch at linear `lin` (one byte: never
    /// misaligned, never crossing a page) to its physical address.
    #[inline(always)]
    pub(crate) fn translate_fetch(&mut self, lin: u64) -> Result<u64, Exception> {
        let acc = self.access(AccessKind::Execute);
        Ok(self.mmu.translate(&self.ctrl, lin, acc)?)
    }

    /// Translates `size` bytes at linear `lin` for `kind`.
    #[inline(always)]
    pub(crate) fn translate(
        &mut self,
        lin: u64,
        size: u8,
        kind: AccessKind,
    ) -> Result<PhysLoc, Exception> {
        self.alignment_check(lin, size)?;
        let acc = self.access(kind);
        let pa = self.mmu.translate(&self.ctrl, lin, acc)?;
        let in_page = 0x1000 - (lin & 0xFFF);
        if in_page >= size as u64 {
            return Ok(PhysLoc {
                pa,
                pa2: 0,
                first: size,
                size,
            });
        }
        let lin2 = if self.in_long64() {
            lin.wrapping_add(in_page)
        } else {
            lin.wrapping_add(in_page) & 0xFFFF_FFFF
        };
        let pa2 = self.mmu.translate(&self.ctrl, lin2, acc)?;
        Ok(PhysLoc {
            pa,
            pa2,
            first: in_page as u8,
            size,
        })
    }

    /// Reads a translated location.
    #[inline(always)]
    pub(crate) fn load(&self, loc: PhysLoc) -> u64 {
        let p = &self.mmu.phys;
        if loc.first == loc.size {
            return match loc.size {
                1 => p.read_u8(loc.pa) as u64,
                2 => p.read_u16(loc.pa) as u64,
                4 => p.read_u32(loc.pa) as u64,
                _ => p.read_u64(loc.pa),
            };
        }
        let mut v = 0u64;
        for k in 0..loc.size {
            let b = if k < loc.first {
                p.read_u8(loc.pa + k as u64)
            } else {
                p.read_u8(loc.pa2 + (k - loc.first) as u64)
            };
            v |= (b as u64) << (8 * k);
        }
        v
    }

    /// Writes a translated location.
    #[inline(always)]
    pub(crate) fn store(&mut self, loc: PhysLoc, v: u64) {
        let p = &mut self.mmu.phys;
        if loc.first == loc.size {
            match loc.size {
                1 => p.write_u8(loc.pa, v as u8),
                2 => p.write_u16(loc.pa, v as u16),
                4 => p.write_u32(loc.pa, v as u32),
                _ => p.write_u64(loc.pa, v),
            }
            return;
        }
        for k in 0..loc.size {
            let b = (v >> (8 * k)) as u8;
            if k < loc.first {
                p.write_u8(loc.pa + k as u64, b);
            } else {
                p.write_u8(loc.pa2 + (k - loc.first) as u64, b);
            }
        }
    }

    /// Reads `size` (1, 2, 4 or 8) bytes at `seg:off`.
    #[inline(always)]
    pub fn read_mem(&mut self, seg: u8, off: u64, size: u8) -> Result<u64, Exception> {
        let lin = self.linear(seg, off, size, false)?;
        // NO_FAST_PATH never matches a cache tag.
        let ctx = self.host_ctx(lin, size);
        if let Some(v) = self.host.read(lin, size, ctx) {
            return Ok(v);
        }
        self.read_linear_slow(lin, size, ctx)
    }

    /// The full read path: MMU translation, then a cache fill.
    #[inline(never)]
    fn read_linear_slow(&mut self, lin: u64, size: u8, ctx: u64) -> Result<u64, Exception> {
        let loc = self.translate(lin, size, AccessKind::Read)?;
        if ctx != NO_FAST_PATH
            && let Some(page) = self.mmu.phys.host_page(loc.pa, false)
        {
            self.host.fill_read(lin, ctx, page);
        }
        Ok(self.load(loc))
    }

    /// The host-cache context of an access (privilege), or
    /// [`NO_FAST_PATH`] when it must take the full path: RFLAGS.AC set, or
    /// crossing a page.
    #[inline(always)]
    fn host_ctx(&self, lin: u64, size: u8) -> u64 {
        if self.rflags & Rflags::AC.bits() != 0 || (lin & 0xFFF) + size as u64 > 0x1000 {
            return NO_FAST_PATH;
        }
        if self.cpl() == 3 { hostcache::USER } else { 0 }
    }

    /// The host-pointer cache lookup of a data access by an instruction
    /// decoded as 64-bit code (only ever executed in 64-bit mode, where
    /// segmentation adds only the FS/GS base, CR0.PE = 1, RFLAGS.VM = 0
    /// and the CPL is CS.RPL): the linear address of the memory operand
    /// and the cache context, [`NO_FAST_PATH`] for RFLAGS.AC set or an
    /// access crossing a page. There is no canonical check: the cache
    /// holds only pages that translated, and a miss takes the full path.
    /// `FORM` is what the decoder found the operand to be
    /// ([`mem64_form`]), so the common forms skip what they do not use.
    #[inline(always)]
    fn host_access64<const FORM: u8>(&self, i: &Insn, size: u8) -> (u64, u64) {
        let m = &i.mem;
        let lin = match FORM {
            // [base + disp], DS/ES/SS/CS (no base in 64-bit mode).
            MEM64_BASE => self.gpr[(m.base & 15) as usize].wrapping_add(m.disp),
            // FS:[disp] or GS:[disp] (an absolute displacement).
            MEM64_FSGS => self.seg[(m.seg as usize).min(5)].base.wrapping_add(m.disp),
            MEM64_ABS => m.disp,
            _ => {
                let off = self.ea(i);
                if m.seg >= SegReg::Fs as u8 {
                    self.seg[(m.seg as usize).min(5)].base.wrapping_add(off)
                } else {
                    off
                }
            }
        };
        if self.rflags & Rflags::AC.bits() != 0 || (lin & 0xFFF) + size as u64 > 0x1000 {
            return (lin, NO_FAST_PATH);
        }
        let user = self.seg[SegReg::Cs as usize].rpl() == 3;
        (lin, if user { hostcache::USER } else { 0 })
    }

    /// Reads the memory operand of an instruction decoded as 64-bit code
    /// (its operand of form `FORM`, see [`mem64_form`]) when the
    /// host-pointer cache holds its page ([`Cpu::read_mem`] gives the same
    /// value then); `None` means the caller takes the full path.
    #[inline(always)]
    pub(crate) fn read_cached64<const FORM: u8>(&self, i: &Insn, size: u8) -> Option<u64> {
        let (lin, ctx) = self.host_access64::<FORM>(i, size);
        self.host.read(lin, size, ctx)
    }

    /// Writes the memory operand of an instruction decoded as 64-bit code
    /// (of form `FORM`) when the host-pointer cache holds its page for
    /// writing; false (with nothing written) means the caller takes the
    /// full path.
    #[inline(always)]
    pub(crate) fn write_cached64<const FORM: u8>(&mut self, i: &Insn, size: u8, v: u64) -> bool {
        let (lin, ctx) = self.host_access64::<FORM>(i, size);
        self.host.write(lin, size, ctx, v)
    }

    /// Writes `size` (1, 2, 4 or 8) bytes at `seg:off`.
    #[inline(always)]
    pub fn write_mem(&mut self, seg: u8, off: u64, size: u8, v: u64) -> Result<(), Exception> {
        let lin = self.linear(seg, off, size, true)?;
        let ctx = self.host_ctx(lin, size);
        if self.host.write(lin, size, ctx, v) {
            return Ok(());
        }
        self.write_linear_slow(lin, size, ctx, v)
    }

    /// The full write path: MMU translation, store, then a cache fill.
    #[inline(never)]
    fn write_linear_slow(&mut self, lin: u64, size: u8, ctx: u64, v: u64) -> Result<(), Exception> {
        let loc = self.translate(lin, size, AccessKind::Write)?;
        self.store(loc, v);
        if ctx != NO_FAST_PATH
            && let Some(page) = self.mmu.phys.host_page(loc.pa, true)
        {
            self.host.fill_write(lin, ctx, page);
        }
        Ok(())
    }

    /// Reads 16 bytes at `seg:off` (SSE operands). Every check (segment
    /// limit, paging on both pages of a crossing access) happens before
    /// anything is read. With `align`, a linear address that is not 16-byte
    /// aligned is #GP(0) (SDM Vol. 1 §11.6.8).
    #[inline(always)]
    pub(crate) fn read_mem128(
        &mut self,
        seg: u8,
        off: u64,
        align: bool,
    ) -> Result<u128, Exception> {
        let lin = self.linear(seg, off, 16, false)?;
        if align && lin & 15 != 0 {
            return Err(Exception::GP(0));
        }
        let ctx = self.host_ctx(lin, 16);
        if let Some(lo) = self.host.read(lin, 8, ctx) {
            // Same page and tag: the second half hits too.
            if let Some(hi) = self.host.read(lin.wrapping_add(8), 8, ctx) {
                return Ok(u128::from(lo) | (u128::from(hi) << 64));
            }
        }
        let loc = self.translate(lin, 16, AccessKind::Read)?;
        if ctx != NO_FAST_PATH
            && let Some(page) = self.mmu.phys.host_page(loc.pa, false)
        {
            self.host.fill_read(lin, ctx, page);
        }
        Ok(self.load128(loc))
    }

    /// Writes 16 bytes at `seg:off` (SSE operands), all checks first; see
    /// [`Cpu::read_mem128`] for `align`.
    #[inline(always)]
    pub(crate) fn write_mem128(
        &mut self,
        seg: u8,
        off: u64,
        v: u128,
        align: bool,
    ) -> Result<(), Exception> {
        let lin = self.linear(seg, off, 16, true)?;
        if align && lin & 15 != 0 {
            return Err(Exception::GP(0));
        }
        let ctx = self.host_ctx(lin, 16);
        // Both halves lie in one page with one tag: the first write hits
        // exactly when the second does.
        if self.host.write(lin, 8, ctx, v as u64) {
            self.host
                .write(lin.wrapping_add(8), 8, ctx, (v >> 64) as u64);
            return Ok(());
        }
        let loc = self.translate(lin, 16, AccessKind::Write)?;
        self.store128(loc, v);
        if ctx != NO_FAST_PATH
            && let Some(page) = self.mmu.phys.host_page(loc.pa, true)
        {
            self.host.fill_write(lin, ctx, page);
        }
        Ok(())
    }

    /// Reads a translated 16-byte location.
    pub(crate) fn load128(&self, loc: PhysLoc) -> u128 {
        let p = &self.mmu.phys;
        if loc.first >= 16 {
            return u128::from(p.read_u64(loc.pa)) | (u128::from(p.read_u64(loc.pa + 8)) << 64);
        }
        let mut v = 0u128;
        for k in 0..16u8 {
            let b = if k < loc.first {
                p.read_u8(loc.pa + k as u64)
            } else {
                p.read_u8(loc.pa2 + (k - loc.first) as u64)
            };
            v |= u128::from(b) << (8 * k);
        }
        v
    }

    /// Writes a translated 16-byte location.
    pub(crate) fn store128(&mut self, loc: PhysLoc, v: u128) {
        let p = &mut self.mmu.phys;
        if loc.first >= 16 {
            p.write_u64(loc.pa, v as u64);
            p.write_u64(loc.pa + 8, (v >> 64) as u64);
            return;
        }
        for k in 0..16u8 {
            let b = (v >> (8 * k)) as u8;
            if k < loc.first {
                p.write_u8(loc.pa + k as u64, b);
            } else {
                p.write_u8(loc.pa2 + (k - loc.first) as u64, b);
            }
        }
    }

    /// Translates `seg:off` for writing without writing (checks first,
    /// commit later).
    #[inline(always)]
    pub(crate) fn locate_write(
        &mut self,
        seg: u8,
        off: u64,
        size: u8,
    ) -> Result<PhysLoc, Exception> {
        let lin = self.linear(seg, off, size, true)?;
        self.translate(lin, size, AccessKind::Write)
    }

    /// Reads operand `n` of `i` at `size` bytes (register, immediate or
    /// memory).
    #[inline(always)]
    pub(crate) fn get(&mut self, i: &Insn, n: usize, size: u8) -> Result<u64, Exception> {
        match i.ops[n] {
            Opnd::Reg(s) => Ok(self.rd(s, size)),
            Opnd::Imm => Ok(i.imm & mask(size)),
            Opnd::Mem => {
                let off = self.ea(i);
                self.read_mem(i.mem.seg, off, size)
            }
            Opnd::Seg(s) => Ok(self.seg[(s as usize).min(5)].selector as u64),
            Opnd::None | Opnd::Other => Err(Exception::UD),
        }
    }

    /// Resolves operand `n` as a destination (translated with write intent
    /// when in memory).
    #[inline(always)]
    pub(crate) fn dest(&mut self, i: &Insn, n: usize, size: u8) -> Result<Dest, Exception> {
        match i.ops[n] {
            Opnd::Reg(s) => Ok(Dest::Reg(s)),
            Opnd::Mem => {
                let off = self.ea(i);
                Ok(Dest::Mem(self.locate_write(i.mem.seg, off, size)?))
            }
            _ => Err(Exception::UD),
        }
    }

    /// Reads a destination's current value.
    #[inline(always)]
    pub(crate) fn dload(&self, d: Dest, size: u8) -> u64 {
        match d {
            Dest::Reg(s) => self.rd(s, size),
            Dest::Mem(loc) => self.load(loc),
        }
    }

    /// Writes a destination (cannot fault: it was translated already).
    #[inline(always)]
    pub(crate) fn dstore(&mut self, d: Dest, size: u8, v: u64) {
        match d {
            Dest::Reg(s) => self.wr(s, size, v),
            Dest::Mem(loc) => self.store(loc, v),
        }
    }

    /// Writes operand `n` (register or memory).
    #[inline(always)]
    pub(crate) fn put(&mut self, i: &Insn, n: usize, size: u8, v: u64) -> Result<(), Exception> {
        match i.ops[n] {
            Opnd::Reg(s) => {
                self.wr(s, size, v);
                Ok(())
            }
            Opnd::Mem => {
                let off = self.ea(i);
                self.write_mem(i.mem.seg, off, size, v)
            }
            _ => Err(Exception::UD),
        }
    }

    /// The stack pointer masked to the stack address size.
    #[inline(always)]
    pub(crate) fn sp(&self) -> u64 {
        self.gpr[4] & mask(self.stack_size())
    }

    /// Sets the stack pointer, preserving the bits above the stack size
    /// (SDM Vol. 1 §6.2.3: a 16-bit stack updates SP only).
    #[inline(always)]
    pub(crate) fn set_sp(&mut self, v: u64) {
        let m = mask(self.stack_size());
        self.gpr[4] = (self.gpr[4] & !m) | (v & m);
    }

    /// Pushes `size` bytes: the write is checked before RSP changes.
    #[inline(always)]
    pub(crate) fn push(&mut self, v: u64, size: u8) -> Result<(), Exception> {
        let sp = self.sp().wrapping_sub(size as u64) & mask(self.stack_size());
        self.write_mem(SegReg::Ss as u8, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pops `size` bytes.
    #[inline(always)]
    pub(crate) fn pop(&mut self, size: u8) -> Result<u64, Exception> {
        let sp = self.sp();
        let v = self.read_mem(SegReg::Ss as u8, sp, size)?;
        self.set_sp(sp.wrapping_add(size as u64));
        Ok(v)
    }

    /// Reads `size` bytes at `depth` bytes above the stack pointer without
    /// popping (for instructions that check before they commit).
    #[inline(always)]
    pub(crate) fn peek(&mut self, depth: u64, size: u8) -> Result<u64, Exception> {
        let sp = self.sp().wrapping_add(depth) & mask(self.stack_size());
        self.read_mem(SegReg::Ss as u8, sp, size)
    }

    /// Transfers control to CS offset `target` after the checks of a near
    /// branch: the CS limit outside 64-bit mode, canonical form inside
    /// (SDM Vol. 2 JMP: #GP(0)).
    #[inline(always)]
    pub(crate) fn branch(&mut self, target: u64) -> Result<(), Exception> {
        self.check_branch(target)?;
        self.rip = target;
        Ok(())
    }

    /// The checks of [`Cpu::branch`] without the transfer.
    #[inline(always)]
    pub(crate) fn check_branch(&self, target: u64) -> Result<(), Exception> {
        let ok = if self.in_long64() {
            is_canonical(target)
        } else {
            target <= self.seg[SegReg::Cs as usize].limit as u64
        };
        if ok { Ok(()) } else { Err(Exception::GP(0)) }
    }

    /// Reads `len` bytes of linear memory for the host, ignoring privilege
    /// but honouring paging. Returns the first page fault.
    pub fn read_linear(&mut self, lin: u64, buf: &mut [u8]) -> Result<(), Exception> {
        let ctrl = self.ctrl;
        for (k, b) in buf.iter_mut().enumerate() {
            let pa = self
                .mmu
                .translate(&ctrl, lin.wrapping_add(k as u64), Access::read(false))?;
            *b = self.mmu.phys.read_u8(pa);
        }
        Ok(())
    }

    /// Writes linear memory for the host, ignoring privilege but honouring
    /// paging (supervisor access). Returns the first page fault; bytes
    /// before it are written.
    pub fn write_linear(&mut self, lin: u64, data: &[u8]) -> Result<(), Exception> {
        let ctrl = self.ctrl;
        for (k, b) in data.iter().enumerate() {
            let pa = self
                .mmu
                .translate(&ctrl, lin.wrapping_add(k as u64), Access::write(false))?;
            self.mmu.phys.write_u8(pa, *b);
        }
        Ok(())
    }
}

/// #SS(0) for stack-segment references, #GP(0) otherwise.
#[inline(always)]
fn stack_or_gp(seg: u8) -> Exception {
    if seg == SegReg::Ss as u8 {
        Exception::SS(0)
    } else {
        Exception::GP(0)
    }
}

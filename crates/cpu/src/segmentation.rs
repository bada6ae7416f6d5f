//! Segmentation: descriptor formats, descriptor-table reads through the
//! MMU, and the protection checks shared by everything that loads a
//! segment register (MOV/POP/LxS, far JMP/CALL/RET, and later interrupt
//! delivery, IRET and the fast system calls).
//!
//! References: Intel SDM Vol. 3 §3.4 (selectors, descriptors, Table 3-1
//! and 3-2 types), §3.5 (system descriptors), §5.5-§5.8 (privilege checks
//! for data and stack segments, control transfers, call gates), §7.2 (TSS)
//! and Vol. 2 (MOV, POP, LDS/LES/LFS/LGS/LSS, JMP, CALL, RET "Operation").
//!
//! Every check is split from its commit: `check_*` functions read and
//! verify descriptors and return a [`SegLoad`] (the new hidden cache plus
//! where the descriptor's accessed bit must be set), which
//! [`Cpu::commit_segment`] installs once the whole instruction is known not
//! to fault. So a faulting instruction changes neither registers nor the
//! descriptor tables.
//!
//! Descriptor-table and TSS accesses are *implicit supervisor-mode* linear
//! accesses (SDM Vol. 3 §4.6): paging checks them as CPL 0 whatever the
//! CPL, and SMAP applies regardless of RFLAGS.AC.
//!
//! Modeling notes:
//! - A null selector loaded into DS/ES/FS/GS (or SS where allowed) marks
//!   the register unusable ([`attr::UNUSABLE`]) and clears its base, as
//!   Intel processors and AMD processors with NullSelectorClearsBase
//!   (checked on the AMD EPYC development host: `mov gs, 0` cleared a
//!   non-zero GS base) do; the limit and the other attributes stay, so a
//!   later real-mode load finds them as hardware would.
//! - Real-mode loads set base = selector << 4 and leave limit and
//!   attributes alone ("unreal mode" keeps working) but make the register
//!   usable again; virtual-8086 loads set limit 0xFFFF and the attributes
//!   0xF3 (present, DPL 3, read/write accessed data), the values VMX
//!   requires of a virtual-8086 guest (SDM Vol. 3 §27.3.1.2).

use sysgate_mmu::{Access, AccessKind};

use crate::exception::Exception;
use crate::memory::{PhysLoc, is_canonical};
use crate::state::{Cpu, Efer, Rflags, SegReg, Segment, attr};

/// System-segment and gate descriptor types (S = 0), SDM Vol. 3 Table 3-2.
/// In IA-32e mode types 9/B/C/E/F mean the 64-bit TSS and gates, and types
/// 1/3/4/6/7 are invalid.
pub(crate) mod sys_type {
    /// 16-bit TSS (available).
    pub const TSS16_AVAIL: u8 = 0x1;
    /// LDT.
    pub const LDT: u8 = 0x2;
    /// 16-bit TSS (busy).
    pub const TSS16_BUSY: u8 = 0x3;
    /// 16-bit call gate.
    pub const CALL_GATE16: u8 = 0x4;
    /// Task gate.
    pub const TASK_GATE: u8 = 0x5;
    /// 32-bit (or 64-bit) TSS (available).
    pub const TSS_AVAIL: u8 = 0x9;
    /// 32-bit (or 64-bit) TSS (busy).
    pub const TSS_BUSY: u8 = 0xB;
    /// 32-bit (or 64-bit) call gate.
    pub const CALL_GATE: u8 = 0xC;
}

/// True for a null selector (index 0 in the GDT, any RPL).
#[inline(always)]
pub(crate) const fn is_null(sel: u16) -> bool {
    sel & 0xFFFC == 0
}

/// The error code of a fault that names selector `sel` (SDM Vol. 3
/// §6.13: index and TI bit; EXT and IDT are 0 for instruction faults).
#[inline(always)]
pub(crate) const fn sel_error(sel: u16) -> u16 {
    sel & 0xFFFC
}

/// A raw segment or gate descriptor: the low 8 bytes, and for the 16-byte
/// system descriptors of IA-32e mode the high 8 bytes (otherwise 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// Bytes 0-7.
    pub lo: u64,
    /// Bytes 8-15 (IA-32e system descriptors only).
    pub hi: u64,
}

impl Descriptor {
    /// Base address bits 31:0 (bytes 2-4 and 7).
    pub const fn base(&self) -> u64 {
        ((self.lo >> 16) & 0xFF_FFFF) | (((self.lo >> 56) & 0xFF) << 24)
    }

    /// The 64-bit base of an IA-32e system descriptor (bits 63:32 in bytes
    /// 8-11).
    pub const fn base64(&self) -> u64 {
        self.base() | ((self.hi & 0xFFFF_FFFF) << 32)
    }

    /// The limit in bytes: the 20-bit field, scaled by 4 KBytes when G = 1.
    pub const fn limit(&self) -> u32 {
        let raw = ((self.lo & 0xFFFF) | ((self.lo >> 32) & 0xF_0000)) as u32;
        if self.attr() & attr::G != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }

    /// Access rights in the layout of [`attr`] (descriptor bytes 5-6 with
    /// the limit nibble cleared).
    pub const fn attr(&self) -> u16 {
        ((self.lo >> 40) as u16) & 0xF0FF
    }

    /// The 4-bit type field.
    pub const fn ty(&self) -> u8 {
        ((self.lo >> 40) & 0xF) as u8
    }

    /// True for a system-segment or gate descriptor (S = 0).
    pub const fn system(&self) -> bool {
        self.attr() & attr::S == 0
    }

    /// Descriptor privilege level.
    pub const fn dpl(&self) -> u8 {
        ((self.lo >> 45) & 3) as u8
    }

    /// The P flag.
    pub const fn present(&self) -> bool {
        self.attr() & attr::P != 0
    }

    /// A code segment.
    pub const fn is_code(&self) -> bool {
        self.attr() & (attr::S | attr::CODE) == attr::S | attr::CODE
    }

    /// A conforming code segment.
    pub const fn conforming_code(&self) -> bool {
        self.is_code() && self.attr() & attr::DC != 0
    }

    /// A data segment or a readable code segment.
    pub const fn readable(&self) -> bool {
        !self.system() && (self.attr() & attr::CODE == 0 || self.attr() & attr::RW != 0)
    }

    /// A writable data segment.
    pub const fn writable_data(&self) -> bool {
        self.attr() & (attr::S | attr::CODE | attr::RW) == attr::S | attr::RW
    }

    /// The L flag.
    pub const fn long(&self) -> bool {
        self.attr() & attr::L != 0
    }

    /// The D/B flag.
    pub const fn big(&self) -> bool {
        self.attr() & attr::DB != 0
    }

    /// The hidden cache a code or data segment descriptor loads for
    /// `selector`, with the accessed bit set as the load sets it in memory.
    pub const fn segment(&self, selector: u16) -> Segment {
        let accessed = if self.system() { 0 } else { attr::ACCESSED };
        Segment {
            selector,
            base: self.base(),
            limit: self.limit(),
            attr: self.attr() | accessed,
        }
    }

    /// The cache of an LDT or TSS descriptor (64-bit base when `wide`).
    pub const fn system_segment(&self, selector: u16, wide: bool) -> Segment {
        Segment {
            selector,
            base: if wide { self.base64() } else { self.base() },
            limit: self.limit(),
            attr: self.attr(),
        }
    }

    /// The code-segment selector of a call, interrupt or trap gate.
    pub const fn gate_selector(&self) -> u16 {
        (self.lo >> 16) as u16
    }

    /// The entry offset of a gate (bits 63:32 from bytes 8-11 when `wide`).
    pub const fn gate_offset(&self, wide: bool) -> u64 {
        let low = (self.lo & 0xFFFF) | (((self.lo >> 48) & 0xFFFF) << 16);
        if wide {
            low | ((self.hi & 0xFFFF_FFFF) << 32)
        } else {
            low
        }
    }

    /// The parameter count of a 16/32-bit call gate (5 bits).
    pub const fn gate_params(&self) -> u8 {
        ((self.lo >> 32) & 0x1F) as u8
    }

    /// The type field of the upper half of a 16-byte descriptor (bits
    /// 12:8 of its fourth doubleword), which must be 0 (SDM Vol. 3
    /// Figure 5-9).
    pub const fn upper_type(&self) -> u8 {
        ((self.hi >> 40) & 0x1F) as u8
    }
}

/// A descriptor read from a table, with the linear address it was read
/// from (for the accessed and busy bits).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fetched {
    /// The descriptor.
    pub desc: Descriptor,
    /// Linear address of byte 0.
    pub lin: u64,
}

/// A checked segment-register load, ready to commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegLoad {
    /// The new visible selector and hidden cache.
    pub seg: Segment,
    /// Byte 5 of the descriptor when its accessed bit must be set.
    pub accessed: Option<PhysLoc>,
}

impl SegLoad {
    /// A load that touches no descriptor.
    pub const fn plain(seg: Segment) -> SegLoad {
        SegLoad {
            seg,
            accessed: None,
        }
    }
}

/// True when `size` bytes at offset `off` lie within segment `s`
/// (expand-down data segments invert the check, SDM Vol. 3 §5.3).
pub(crate) const fn within_limit(s: &Segment, off: u64, size: u64) -> bool {
    let last = off.wrapping_add(size - 1);
    if last < off {
        return false;
    }
    let expand_down = s.attr & (attr::S | attr::CODE | attr::DC) == attr::S | attr::DC;
    if expand_down {
        let upper = if s.big() { 0xFFFF_FFFF } else { 0xFFFF };
        off > s.limit as u64 && last <= upper
    } else {
        last <= s.limit as u64
    }
}

impl Cpu {
    /// True in IA-32e mode (64-bit or compatibility submode).
    #[inline(always)]
    pub(crate) fn lma(&self) -> bool {
        self.ctrl.efer & Efer::LMA.bits() != 0
    }

    /// True when `cs` would run in 64-bit mode.
    #[inline(always)]
    pub(crate) fn long_target(&self, cs: &Segment) -> bool {
        self.lma() && cs.long()
    }

    /// Translates `size` (1-8) bytes at linear `lin` for access `acc`,
    /// splitting at a page boundary. Linear addresses wrap at 4 GBytes
    /// outside IA-32e mode.
    pub(crate) fn translate_as(
        &mut self,
        lin: u64,
        size: u8,
        acc: Access,
    ) -> Result<PhysLoc, Exception> {
        let lma = self.lma();
        let wrap = |a: u64| if lma { a } else { a & 0xFFFF_FFFF };
        let lin = wrap(lin);
        let ctrl = self.ctrl;
        let pa = self.mmu.translate(&ctrl, lin, acc)?;
        let in_page = 0x1000 - (lin & 0xFFF);
        if in_page >= size as u64 {
            return Ok(PhysLoc {
                pa,
                pa2: 0,
                first: size,
                size,
            });
        }
        let lin2 = wrap(lin.wrapping_add(in_page));
        let pa2 = self.mmu.translate(&ctrl, lin2, acc)?;
        Ok(PhysLoc {
            pa,
            pa2,
            first: in_page as u8,
            size,
        })
    }

    /// Translates an implicit supervisor-mode access (descriptor tables,
    /// TSS) of `size` bytes at linear `lin`.
    pub(crate) fn system_loc(
        &mut self,
        lin: u64,
        size: u8,
        kind: AccessKind,
    ) -> Result<PhysLoc, Exception> {
        let acc = Access {
            kind,
            user: false,
            ac: false,
            implicit: true,
        };
        self.translate_as(lin, size, acc)
    }

    /// Reads `size` bytes of a system structure at linear `lin`.
    pub(crate) fn system_read(&mut self, lin: u64, size: u8) -> Result<u64, Exception> {
        let loc = self.system_loc(lin, size, AccessKind::Read)?;
        Ok(self.load(loc))
    }

    /// The linear address of the `len`-byte descriptor selected by `sel`
    /// (GDT, or the LDT when TI = 1), or `None` when it does not lie
    /// wholly within the table limit, the LDT is null, or (IA-32e mode)
    /// the address is not canonical.
    pub(crate) fn descriptor_address(&self, sel: u16, len: u64) -> Option<u64> {
        let (base, limit) = if sel & 4 != 0 {
            if self.ldtr.unusable() {
                return None;
            }
            (self.ldtr.base, self.ldtr.limit as u64)
        } else {
            (self.gdtr.base, self.gdtr.limit as u64)
        };
        let off = (sel & 0xFFF8) as u64;
        if off + len - 1 > limit {
            return None;
        }
        let lin = base.wrapping_add(off);
        if self.lma() {
            (is_canonical(lin) && is_canonical(lin.wrapping_add(len - 1))).then_some(lin)
        } else {
            Some(lin & 0xFFFF_FFFF)
        }
    }

    /// Reads the 8-byte descriptor selected by `sel`; `fault` when it lies
    /// outside its table. Page faults on the table are reported as such.
    pub(crate) fn read_descriptor_or(
        &mut self,
        sel: u16,
        fault: Exception,
    ) -> Result<Fetched, Exception> {
        let lin = self.descriptor_address(sel, 8).ok_or(fault)?;
        let lo = self.system_read(lin, 8)?;
        Ok(Fetched {
            desc: Descriptor { lo, hi: 0 },
            lin,
        })
    }

    /// Reads the descriptor selected by `sel`, #GP(selector) when it lies
    /// outside its table.
    pub(crate) fn read_descriptor(&mut self, sel: u16) -> Result<Fetched, Exception> {
        self.read_descriptor_or(sel, Exception::GP(sel_error(sel)))
    }

    /// Completes `f` with the upper 8 bytes of a 16-byte IA-32e system
    /// descriptor: `fault` when they lie outside the table or the upper
    /// type field is not 0.
    pub(crate) fn read_descriptor_upper(
        &mut self,
        sel: u16,
        f: &mut Fetched,
        fault: Exception,
    ) -> Result<(), Exception> {
        self.descriptor_address(sel, 16).ok_or(fault)?;
        f.desc.hi = self.system_read(f.lin.wrapping_add(8), 8)?;
        if f.desc.upper_type() != 0 {
            return Err(fault);
        }
        Ok(())
    }

    /// Locates byte 5 of a code or data descriptor whose accessed bit is
    /// clear, so the commit can set it (SDM Vol. 3 §3.4.5.1). Translating
    /// now, with write intent, makes a read-only GDT page fault before
    /// anything is committed.
    pub(crate) fn accessed_slot(&mut self, f: &Fetched) -> Result<Option<PhysLoc>, Exception> {
        if f.desc.system() || f.desc.attr() & attr::ACCESSED != 0 {
            return Ok(None);
        }
        Ok(Some(self.system_loc(
            f.lin.wrapping_add(5),
            1,
            AccessKind::Write,
        )?))
    }

    /// Installs a checked load into segment register `r` and sets the
    /// descriptor's accessed bit in memory.
    pub(crate) fn commit_segment(&mut self, r: SegReg, l: SegLoad) {
        if let Some(loc) = l.accessed {
            let b = self.load(loc);
            self.store(loc, b | attr::ACCESSED as u64);
        }
        self.seg[r as usize] = l.seg;
    }

    /// The register `r` after a real-mode or virtual-8086 load of `sel`.
    pub(crate) fn real_segment(&self, r: SegReg, sel: u16) -> Segment {
        let base = (sel as u64) << 4;
        if self.rflags & Rflags::VM.bits() != 0 {
            Segment {
                selector: sel,
                base,
                limit: 0xFFFF,
                attr: 0xF3,
            }
        } else {
            let cur = self.seg[r as usize];
            Segment {
                selector: sel,
                base,
                limit: cur.limit,
                attr: cur.attr & !attr::UNUSABLE,
            }
        }
    }

    /// The register `r` after a protected-mode load of the null selector
    /// `sel`: unusable, base 0, DPL = `dpl` (meaningful for SS only).
    pub(crate) fn null_segment(&self, r: SegReg, sel: u16, dpl: u8) -> Segment {
        let cur = self.seg[r as usize];
        Segment {
            selector: sel,
            base: 0,
            limit: cur.limit,
            attr: (cur.attr & !(3 << 5)) | ((dpl as u16 & 3) << 5) | attr::UNUSABLE,
        }
    }

    /// Checks a protected-mode load of DS, ES, FS or GS (SDM Vol. 2 MOV
    /// "Operation", Vol. 3 §5.6): a null selector makes the register
    /// unusable; otherwise the descriptor must be a data or readable code
    /// segment (#GP(selector)), and unless it is conforming code its DPL
    /// must be >= both CPL and RPL (#GP(selector)); not present is
    /// #NP(selector).
    pub(crate) fn check_data_segment(&mut self, r: SegReg, sel: u16) -> Result<SegLoad, Exception> {
        if is_null(sel) {
            return Ok(SegLoad::plain(self.null_segment(r, sel, 0)));
        }
        let f = self.read_descriptor(sel)?;
        let d = f.desc;
        let e = sel_error(sel);
        let rpl = (sel & 3) as u8;
        if !d.readable() || (!d.conforming_code() && (d.dpl() < self.cpl() || d.dpl() < rpl)) {
            return Err(Exception::GP(e));
        }
        if !d.present() {
            return Err(Exception::NP(e));
        }
        let accessed = self.accessed_slot(&f)?;
        Ok(SegLoad {
            seg: d.segment(sel),
            accessed,
        })
    }

    /// Checks a load of SS for privilege level `cpl` (SDM Vol. 2 MOV, RET;
    /// Vol. 3 §5.7): RPL = DPL = `cpl` and a writable data segment, else
    /// #GP(selector) — or #TS(selector) when `ts` (stack switches through
    /// the TSS); not present is #SS(selector). A null selector is #GP(0)
    /// (#TS(0) when `ts`) unless `null_ok` (IA-32e mode cases), when SS
    /// becomes unusable with DPL `cpl`.
    pub(crate) fn check_stack_segment(
        &mut self,
        sel: u16,
        cpl: u8,
        null_ok: bool,
        ts: bool,
    ) -> Result<SegLoad, Exception> {
        let e = sel_error(sel);
        let bad = if ts {
            Exception::TS(e)
        } else {
            Exception::GP(e)
        };
        if is_null(sel) {
            if null_ok {
                return Ok(SegLoad::plain(self.null_segment(SegReg::Ss, sel, cpl)));
            }
            return Err(bad);
        }
        if (sel & 3) as u8 != cpl {
            return Err(bad);
        }
        let f = self.read_descriptor_or(sel, bad)?;
        let d = f.desc;
        if !d.writable_data() || d.dpl() != cpl {
            return Err(bad);
        }
        if !d.present() {
            return Err(Exception::SS(e));
        }
        let accessed = self.accessed_slot(&f)?;
        Ok(SegLoad {
            seg: d.segment(sel),
            accessed,
        })
    }

    /// Checks a load of ES, SS, DS, FS or GS with `sel` by the rules of
    /// the current mode, as MOV, POP and LDS/LES/LFS/LGS/LSS do. CS cannot
    /// be loaded this way (#UD).
    pub(crate) fn check_sreg_load(&mut self, r: SegReg, sel: u16) -> Result<SegLoad, Exception> {
        if !self.protected() {
            if r == SegReg::Cs {
                return Err(Exception::UD);
            }
            return Ok(SegLoad::plain(self.real_segment(r, sel)));
        }
        match r {
            SegReg::Cs => Err(Exception::UD),
            SegReg::Ss => {
                // SDM Vol. 2 MOV, 64-bit mode: a null SS is allowed at
                // CPL < 3 when RPL = CPL.
                let cpl = self.cpl();
                let null_ok = self.in_long64() && cpl < 3 && (sel & 3) as u8 == cpl;
                self.check_stack_segment(sel, cpl, null_ok, false)
            }
            _ => self.check_data_segment(r, sel),
        }
    }

    /// Checks a far JMP or CALL straight to a code-segment descriptor
    /// (SDM Vol. 2 JMP/CALL, CONFORMING- and NONCONFORMING-CODE-SEGMENT):
    /// conforming needs DPL <= CPL, non-conforming RPL <= CPL and
    /// DPL = CPL (#GP(selector)); L = D = 1 in IA-32e mode is
    /// #GP(selector); not present is #NP(selector). The CPL does not
    /// change: the loaded selector's RPL is the CPL.
    pub(crate) fn check_code_direct(
        &mut self,
        sel: u16,
        f: &Fetched,
    ) -> Result<SegLoad, Exception> {
        let d = f.desc;
        let cpl = self.cpl();
        let e = sel_error(sel);
        let rpl = (sel & 3) as u8;
        let bad_privilege = if d.conforming_code() {
            d.dpl() > cpl
        } else {
            rpl > cpl || d.dpl() != cpl
        };
        if !d.is_code() || (self.lma() && d.long() && d.big()) || bad_privilege {
            return Err(Exception::GP(e));
        }
        if !d.present() {
            return Err(Exception::NP(e));
        }
        let accessed = self.accessed_slot(f)?;
        Ok(SegLoad {
            seg: d.segment((sel & !3) | cpl as u16),
            accessed,
        })
    }

    /// Checks the code segment a far return loads (SDM Vol. 2 RET, also
    /// the rules IRET applies): null is #GP(0); outside the table, not
    /// code, L = D = 1 in IA-32e mode, RPL < CPL, conforming with
    /// DPL > RPL or non-conforming with DPL != RPL are #GP(selector); not
    /// present is #NP(selector). The new CPL is the selector's RPL.
    pub(crate) fn check_return_cs(&mut self, sel: u16) -> Result<SegLoad, Exception> {
        if is_null(sel) {
            return Err(Exception::GP(0));
        }
        let f = self.read_descriptor(sel)?;
        let d = f.desc;
        let e = sel_error(sel);
        let rpl = (sel & 3) as u8;
        let bad_dpl = if d.conforming_code() {
            d.dpl() > rpl
        } else {
            d.dpl() != rpl
        };
        if !d.is_code() || (self.lma() && d.long() && d.big()) || rpl < self.cpl() || bad_dpl {
            return Err(Exception::GP(e));
        }
        if !d.present() {
            return Err(Exception::NP(e));
        }
        let accessed = self.accessed_slot(&f)?;
        Ok(SegLoad {
            seg: d.segment(sel),
            accessed,
        })
    }

    /// The instruction pointer a far transfer to code segment `cs` at
    /// offset `off` loads: a 64-bit target needs a canonical offset, any
    /// other target an offset (truncated to 32 bits) within the CS limit;
    /// else #GP(0).
    pub(crate) fn far_target_ip(&self, cs: &Segment, off: u64) -> Result<u64, Exception> {
        if self.long_target(cs) {
            if is_canonical(off) {
                Ok(off)
            } else {
                Err(Exception::GP(0))
            }
        } else {
            let off = off & 0xFFFF_FFFF;
            if off > cs.limit as u64 {
                Err(Exception::GP(0))
            } else {
                Ok(off)
            }
        }
    }

    /// After a return to the outer privilege level `cpl` (RETF, IRET):
    /// DS, ES, FS and GS that hold a data or non-conforming code segment
    /// with DPL < `cpl` become null (SDM Vol. 2 RET "Operation"; outside
    /// IA-32e mode null selectors are cleared to 0 as well). The hidden
    /// base and limit are kept.
    pub(crate) fn invalidate_data_segments(&mut self, cpl: u8) {
        let lma = self.lma();
        for r in [SegReg::Es, SegReg::Fs, SegReg::Gs, SegReg::Ds] {
            let s = &mut self.seg[r as usize];
            let nonconforming =
                s.attr & attr::S != 0 && (s.attr & attr::CODE == 0 || s.attr & attr::DC == 0);
            let stale = if s.unusable() {
                !lma
            } else {
                nonconforming && s.dpl() < cpl
            };
            if stale {
                s.selector = 0;
                s.attr |= attr::UNUSABLE;
            }
        }
    }

    /// Reads `size` bytes at offset `off` of the current TSS: #TS(TR
    /// selector) when they lie beyond its limit.
    pub(crate) fn tss_read(&mut self, off: u64, size: u8) -> Result<u64, Exception> {
        if off + size as u64 - 1 > self.tr.limit as u64 {
            return Err(Exception::TS(sel_error(self.tr.selector)));
        }
        let lin = self.tr.base.wrapping_add(off);
        self.system_read(lin, size)
    }

    /// The inner stack for privilege level `dpl` from the current TSS
    /// (SDM Vol. 3 §7.2.1, §7.7; Vol. 2 CALL MORE-PRIVILEGE): SS and ESP
    /// of a 32-bit TSS (offsets 4 + 8·dpl), SS and SP of a 16-bit TSS
    /// (offsets 2 + 4·dpl), or in IA-32e mode RSP of the 64-bit TSS (offset
    /// 4 + 8·dpl) with a null SS whose RPL is `dpl`.
    pub(crate) fn tss_stack(&mut self, dpl: u8) -> Result<(u16, u64), Exception> {
        let dpl = (dpl & 3) as u64;
        if self.lma() {
            let rsp = self.tss_read(4 + 8 * dpl, 8)?;
            Ok((dpl as u16, rsp))
        } else if self.tr.attr & 8 == 0 {
            let off = 2 + 4 * dpl;
            let sp = self.tss_read(off, 2)?;
            let ss = self.tss_read(off + 2, 2)?;
            Ok((ss as u16, sp))
        } else {
            let off = 4 + 8 * dpl;
            let esp = self.tss_read(off, 4)?;
            let ss = self.tss_read(off + 4, 2)?;
            Ok((ss as u16, esp))
        }
    }

    /// Translates a `size`-byte stack write at offset `off` of the stack
    /// segment `ss` that is not (yet) loaded, as a supervisor or user
    /// access; `fault` when the offset is outside `ss`, or (64-bit
    /// stacks, `flat`) not canonical.
    pub(crate) fn stack_slot(
        &mut self,
        ss: &Segment,
        flat: bool,
        off: u64,
        size: u8,
        user: bool,
        fault: Exception,
    ) -> Result<PhysLoc, Exception> {
        let lin = if flat {
            if !is_canonical(off) || !is_canonical(off.wrapping_add(size as u64 - 1)) {
                return Err(fault);
            }
            off
        } else {
            if ss.unusable() || !within_limit(ss, off, size as u64) {
                return Err(fault);
            }
            ss.base.wrapping_add(off) & 0xFFFF_FFFF
        };
        let acc = Access {
            kind: AccessKind::Write,
            user,
            ac: self.rflags & Rflags::AC.bits() != 0,
            implicit: false,
        };
        self.translate_as(lin, size, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_flat_code_and_data_descriptors() {
        // The classic flat 32-bit ring-0 code descriptor.
        let code = Descriptor {
            lo: 0x00CF_9A00_0000_FFFF,
            hi: 0,
        };
        assert_eq!(code.base(), 0);
        assert_eq!(code.limit(), 0xFFFF_FFFF);
        assert_eq!(code.attr(), 0xC09A);
        assert!(code.is_code() && code.readable() && !code.conforming_code());
        assert!(code.big() && !code.long() && code.present());
        assert_eq!(code.dpl(), 0);
        // A ring-3 64-bit code segment (Linux __USER_CS).
        let user64 = Descriptor {
            lo: 0x00AF_FB00_0000_FFFF,
            hi: 0,
        };
        assert!(user64.long() && !user64.big());
        assert_eq!(user64.dpl(), 3);
        assert_eq!(user64.segment(0x33).attr, 0xA0FB);
        // Byte-granular data, base 0x12345678, limit 0xABCDE, not accessed.
        let data = Descriptor {
            lo: 0x120A_9234_5678_BCDE,
            hi: 0,
        };
        assert_eq!(data.base(), 0x1234_5678);
        assert_eq!(data.limit(), 0xABCDE);
        assert!(data.writable_data() && !data.is_code());
        assert_eq!(
            data.segment(0x10).attr,
            0x0093,
            "accessed bit set in the cache"
        );
    }

    #[test]
    fn decodes_gates_and_wide_system_descriptors() {
        // 32-bit call gate: selector 0x08, offset 0x12345678, DPL 3, 2 params.
        let gate = Descriptor {
            lo: 0x1234_EC02_0008_5678,
            hi: 0,
        };
        assert!(gate.system());
        assert_eq!(gate.ty(), sys_type::CALL_GATE);
        assert_eq!(gate.gate_selector(), 8);
        assert_eq!(gate.gate_offset(false), 0x1234_5678);
        assert_eq!(gate.gate_params(), 2);
        assert_eq!(gate.dpl(), 3);
        let wide = Descriptor {
            lo: gate.lo,
            hi: 0xFFFF_8000,
        };
        assert_eq!(wide.gate_offset(true), 0xFFFF_8000_1234_5678);
        assert_eq!(wide.upper_type(), 0);
        // 64-bit TSS at 0xFFFF_FFFF_8000_1000, limit 0x67.
        let tss = Descriptor {
            lo: 0x8000_8900_1000_0067,
            hi: 0xFFFF_FFFF,
        };
        let s = tss.system_segment(0x40, true);
        assert_eq!(s.base, 0xFFFF_FFFF_8000_1000);
        assert_eq!(s.limit, 0x67);
        assert_eq!(s.attr, 0x89);
    }

    #[test]
    fn expand_down_limits() {
        let s = Segment {
            selector: 0x10,
            base: 0,
            limit: 0x0FFF,
            attr: attr::S | attr::P | attr::RW | attr::DC,
        };
        assert!(!within_limit(&s, 0x0FFF, 1));
        assert!(within_limit(&s, 0x1000, 2));
        assert!(within_limit(&s, 0xFFFE, 2));
        assert!(!within_limit(&s, 0xFFFF, 2), "16-bit upper bound");
        let up = Segment {
            attr: attr::S | attr::P | attr::RW,
            ..s
        };
        assert!(within_limit(&up, 0x0FFC, 4));
        assert!(!within_limit(&up, 0x0FFD, 4));
    }
}

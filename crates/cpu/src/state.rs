//! Architectural register state: general-purpose registers, RIP, RFLAGS,
//! segment registers with their hidden descriptor caches, descriptor-table
//! registers, control registers, EFER and the MSR file.
//!
//! Everything that can be derived (the operating mode, the CPL, the default
//! code size) is derived from these registers on demand and never stored a
//! second time (SDM Vol. 3 §2.2 and §5.5: CPL is the RPL of the CS selector in
//! protected mode, 0 in real mode, 3 in virtual-8086 mode).

use bitflags::bitflags;
use sysgate_mmu::{Mmu, PagingRegs, PhysMem};

use crate::run::Request;
use crate::vendor::Vendor;

bitflags! {
    /// RFLAGS bits (SDM Vol. 1 §3.4.3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Rflags: u64 {
        /// Carry flag.
        const CF = 1 << 0;
        /// Reserved, always 1.
        const FIXED = 1 << 1;
        /// Parity flag.
        const PF = 1 << 2;
        /// Auxiliary carry flag.
        const AF = 1 << 4;
        /// Zero flag.
        const ZF = 1 << 6;
        /// Sign flag.
        const SF = 1 << 7;
        /// Trap flag.
        const TF = 1 << 8;
        /// Interrupt enable flag.
        const IF = 1 << 9;
        /// Direction flag.
        const DF = 1 << 10;
        /// Overflow flag.
        const OF = 1 << 11;
        /// I/O privilege level (two bits).
        const IOPL = 3 << 12;
        /// Nested task.
        const NT = 1 << 14;
        /// Resume flag.
        const RF = 1 << 16;
        /// Virtual-8086 mode.
        const VM = 1 << 17;
        /// Alignment check / access control.
        const AC = 1 << 18;
        /// Virtual interrupt flag.
        const VIF = 1 << 19;
        /// Virtual interrupt pending.
        const VIP = 1 << 20;
        /// CPUID availability.
        const ID = 1 << 21;
    }
}

impl Rflags {
    /// The six arithmetic status flags.
    pub const STATUS: Rflags = Rflags::CF
        .union(Rflags::PF)
        .union(Rflags::AF)
        .union(Rflags::ZF)
        .union(Rflags::SF)
        .union(Rflags::OF);
}

bitflags! {
    /// CR0 bits (SDM Vol. 3 §2.5).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr0: u64 {
        /// Protection enable.
        const PE = 1 << 0;
        /// Monitor coprocessor.
        const MP = 1 << 1;
        /// x87 emulation.
        const EM = 1 << 2;
        /// Task switched.
        const TS = 1 << 3;
        /// Extension type (hard-wired to 1).
        const ET = 1 << 4;
        /// Numeric error.
        const NE = 1 << 5;
        /// Write protect.
        const WP = 1 << 16;
        /// Alignment mask.
        const AM = 1 << 18;
        /// Not write-through.
        const NW = 1 << 29;
        /// Cache disable.
        const CD = 1 << 30;
        /// Paging.
        const PG = 1 << 31;
    }
}

bitflags! {
    /// CR4 bits (SDM Vol. 3 §2.5).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Cr4: u64 {
        /// Virtual-8086 mode extensions.
        const VME = 1 << 0;
        /// Protected-mode virtual interrupts.
        const PVI = 1 << 1;
        /// Time stamp disable (RDTSC privileged).
        const TSD = 1 << 2;
        /// Debugging extensions.
        const DE = 1 << 3;
        /// Page size extensions.
        const PSE = 1 << 4;
        /// Physical address extension.
        const PAE = 1 << 5;
        /// Machine-check enable.
        const MCE = 1 << 6;
        /// Page global enable.
        const PGE = 1 << 7;
        /// Performance-monitoring counter enable.
        const PCE = 1 << 8;
        /// FXSAVE/FXRSTOR support.
        const OSFXSR = 1 << 9;
        /// Unmasked SIMD exception support.
        const OSXMMEXCPT = 1 << 10;
        /// User-mode instruction prevention.
        const UMIP = 1 << 11;
        /// FSGSBASE instructions enable.
        const FSGSBASE = 1 << 16;
        /// PCID enable.
        const PCIDE = 1 << 17;
        /// XSAVE enable.
        const OSXSAVE = 1 << 18;
        /// Supervisor-mode execution prevention.
        const SMEP = 1 << 20;
        /// Supervisor-mode access prevention.
        const SMAP = 1 << 21;
    }
}

bitflags! {
    /// IA32_EFER bits (SDM Vol. 3 §2.2.1).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Efer: u64 {
        /// SYSCALL enable.
        const SCE = 1 << 0;
        /// IA-32e mode enable.
        const LME = 1 << 8;
        /// IA-32e mode active (read-only, set by the processor).
        const LMA = 1 << 10;
        /// Execute-disable bit enable.
        const NXE = 1 << 11;
    }
}

/// The six segment registers, in their encoding order (SDM Vol. 2 §3.1.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SegReg {
    /// Extra segment.
    Es = 0,
    /// Code segment.
    Cs = 1,
    /// Stack segment.
    Ss = 2,
    /// Data segment.
    Ds = 3,
    /// FS.
    Fs = 4,
    /// GS.
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];

    /// The register with encoding `n` (0..=5).
    pub const fn from_index(n: u8) -> Option<SegReg> {
        match n {
            0 => Some(SegReg::Es),
            1 => Some(SegReg::Cs),
            2 => Some(SegReg::Ss),
            3 => Some(SegReg::Ds),
            4 => Some(SegReg::Fs),
            5 => Some(SegReg::Gs),
            _ => None,
        }
    }
}

/// Access-rights bits of a segment descriptor cache, in the layout of
/// descriptor bytes 5 and 6 (SDM Vol. 3 §3.4.5): bits 0-3 type, 4 S,
/// 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G.
pub mod attr {
    /// Accessed bit of the type field (data and code segments).
    pub const ACCESSED: u16 = 1 << 0;
    /// Writable (data) or readable (code).
    pub const RW: u16 = 1 << 1;
    /// Expand-down (data) or conforming (code).
    pub const DC: u16 = 1 << 2;
    /// Code segment (when S = 1).
    pub const CODE: u16 = 1 << 3;
    /// Descriptor type: 1 = code or data, 0 = system.
    pub const S: u16 = 1 << 4;
    /// Present.
    pub const P: u16 = 1 << 7;
    /// Available for software.
    pub const AVL: u16 = 1 << 12;
    /// 64-bit code segment.
    pub const L: u16 = 1 << 13;
    /// Default operation size / big.
    pub const DB: u16 = 1 << 14;
    /// Granularity.
    pub const G: u16 = 1 << 15;
    /// Not an architectural bit: marks a segment register loaded with a
    /// null selector in protected mode (the "unusable" state of SDM Vol. 3
    /// §3.4.2; VMX exposes the same bit as bit 16 of access rights).
    pub const UNUSABLE: u16 = 1 << 8;
}

/// A segment register: the visible selector and the hidden descriptor cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Segment {
    /// The visible selector.
    pub selector: u16,
    /// Base address.
    pub base: u64,
    /// Limit in bytes (already scaled by the G bit).
    pub limit: u32,
    /// Access rights, see [`attr`].
    pub attr: u16,
}

impl Segment {
    /// A real-mode style segment for `selector`: base = selector * 16,
    /// limit 0xFFFF, present, writable data (or readable code).
    pub const fn real_mode(selector: u16, code: bool) -> Segment {
        let ty = if code {
            attr::CODE | attr::RW | attr::ACCESSED
        } else {
            attr::RW | attr::ACCESSED
        };
        Segment {
            selector,
            base: (selector as u64) << 4,
            limit: 0xFFFF,
            attr: ty | attr::S | attr::P,
        }
    }

    /// Descriptor privilege level.
    pub const fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }

    /// Requested privilege level of the selector.
    pub const fn rpl(&self) -> u8 {
        (self.selector & 3) as u8
    }

    /// True for a code segment descriptor.
    pub const fn is_code(&self) -> bool {
        self.attr & (attr::S | attr::CODE) == attr::S | attr::CODE
    }

    /// The L bit (64-bit code segment).
    pub const fn long(&self) -> bool {
        self.attr & attr::L != 0
    }

    /// The D/B bit.
    pub const fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }

    /// True when the register holds a null selector loaded in protected mode.
    pub const fn unusable(&self) -> bool {
        self.attr & attr::UNUSABLE != 0
    }
}

/// GDTR or IDTR: a linear base address and a 16-bit limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DescriptorTable {
    /// Linear base address.
    pub base: u64,
    /// Limit in bytes (the last valid byte offset).
    pub limit: u16,
}

/// The execution mode, derived from CR0.PE, EFER.LMA, RFLAGS.VM and the CS
/// descriptor cache (SDM Vol. 3 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Real-address mode.
    Real,
    /// Virtual-8086 mode.
    Virtual8086,
    /// 32-bit (or 16-bit) protected mode.
    Protected,
    /// IA-32e compatibility mode (CS.L = 0).
    Compatibility,
    /// IA-32e 64-bit mode (CS.L = 1).
    Long64,
}

/// The model-specific registers sysgate implements (SDM Vol. 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Msrs {
    /// IA32_SYSENTER_CS (0x174).
    pub sysenter_cs: u64,
    /// IA32_SYSENTER_ESP (0x175).
    pub sysenter_esp: u64,
    /// IA32_SYSENTER_EIP (0x176).
    pub sysenter_eip: u64,
    /// IA32_STAR (0xC000_0081).
    pub star: u64,
    /// IA32_LSTAR (0xC000_0082).
    pub lstar: u64,
    /// IA32_CSTAR (0xC000_0083).
    pub cstar: u64,
    /// IA32_FMASK (0xC000_0084).
    pub fmask: u64,
    /// IA32_KERNEL_GS_BASE (0xC000_0102).
    pub kernel_gs_base: u64,
    /// IA32_TSC_AUX (0xC000_0103).
    pub tsc_aux: u64,
    /// IA32_PAT (0x277).
    pub pat: u64,
    /// IA32_APIC_BASE (0x1B).
    pub apic_base: u64,
    /// IA32_MISC_ENABLE (0x1A0).
    pub misc_enable: u64,
    /// Difference between the guest's time-stamp counter and the modeled
    /// cycle counter (changed by WRMSR to IA32_TIME_STAMP_COUNTER).
    pub tsc_offset: u64,
}

/// The processor: architectural state plus the memory it is wired to.
///
/// All fields are public so that embedders (debuggers, kernel models, tests)
/// can inspect and set state between steps; the run loop re-reads them.
pub struct Cpu {
    /// RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15 (encoding order).
    pub gpr: [u64; 16],
    /// Instruction pointer (an offset in CS, not a linear address).
    pub rip: u64,
    /// RFLAGS (see [`Rflags`]); bit 1 is always set.
    pub rflags: u64,
    /// ES, CS, SS, DS, FS, GS (see [`SegReg`]).
    pub seg: [Segment; 6],
    /// Local descriptor table register.
    pub ldtr: Segment,
    /// Task register.
    pub tr: Segment,
    /// Global descriptor table register.
    pub gdtr: DescriptorTable,
    /// Interrupt descriptor table register.
    pub idtr: DescriptorTable,
    /// CR0, CR3, CR4 and EFER: the registers paging depends on.
    pub ctrl: PagingRegs,
    /// CR2 (page-fault linear address).
    pub cr2: u64,
    /// CR8 (task priority).
    pub cr8: u64,
    /// Debug registers DR0-DR7.
    pub dr: [u64; 8],
    /// Model-specific registers.
    pub msr: Msrs,
    /// x87, MMX and SSE registers.
    pub fpu: crate::fpu::FpuState,
    /// Modeled cycles since reset. Exact whenever the run loop returns (and
    /// before every tracer hook); RDTSC reads the count at the start of the
    /// instruction.
    pub cycles: u64,
    /// Instructions retired since reset.
    pub instructions: u64,
    /// Whose documented behaviour to follow where vendors differ.
    pub vendor: Vendor,
    /// The MMU: physical memory, TLB and paging walks.
    pub mmu: Mmu,
    /// An exit requested by the instruction being executed.
    pub(crate) request: Request,
    /// [`Cpu::cycles`] at the start of the block being executed; an
    /// instruction's own start time is this plus its `cum`. A handler that
    /// charges cycles beyond its decoded cost (REP string iterations) adds
    /// them here; the run loop derives [`Cpu::cycles`] from it.
    pub(crate) block_cycles: u64,
    /// The transition recorded by the instruction being executed.
    pub(crate) transition: Option<crate::transition::Transition>,
    /// Host pointers for the memory fast path.
    pub(crate) host: crate::hostcache::HostCache,
    /// The run loop's copy of [`crate::Vcpu::exception_bitmap`], for the
    /// instructions that raise #BP, #OF and #DB themselves (INT3, INTO,
    /// INT1): bit n set means exit to the host instead of delivering.
    pub(crate) exception_bitmap: u32,
}

/// Register numbers in encoding order.
pub mod reg {
    /// RAX.
    pub const RAX: usize = 0;
    /// RCX.
    pub const RCX: usize = 1;
    /// RDX.
    pub const RDX: usize = 2;
    /// RBX.
    pub const RBX: usize = 3;
    /// RSP.
    pub const RSP: usize = 4;
    /// RBP.
    pub const RBP: usize = 5;
    /// RSI.
    pub const RSI: usize = 6;
    /// RDI.
    pub const RDI: usize = 7;
}

impl Cpu {
    /// A processor in the state after RESET (SDM Vol. 3 §9.1.1), except that
    /// CS:IP is 0000:0000 rather than F000:FFF0 so callers can place code
    /// anywhere; `mem_size` bytes of guest RAM are backed lazily.
    pub fn new(mem_size: u64, vendor: Vendor) -> Cpu {
        let mut seg = [Segment::real_mode(0, false); 6];
        seg[SegReg::Cs as usize] = Segment::real_mode(0, true);
        Cpu {
            gpr: [0; 16],
            rip: 0,
            rflags: Rflags::FIXED.bits(),
            seg,
            ldtr: Segment {
                attr: 0x82 | attr::P,
                limit: 0xFFFF,
                ..Segment::default()
            },
            tr: Segment {
                attr: 0x8B,
                limit: 0xFFFF,
                ..Segment::default()
            },
            gdtr: DescriptorTable {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: DescriptorTable {
                base: 0,
                limit: 0x3FF,
            },
            ctrl: PagingRegs {
                cr0: Cr0::ET.bits() | Cr0::CD.bits() | Cr0::NW.bits(),
                cr3: 0,
                cr4: 0,
                efer: 0,
            },
            cr2: 0,
            cr8: 0,
            dr: [0, 0, 0, 0, 0, 0, 0xFFFF_0FF0, 0x400],
            msr: Msrs {
                pat: 0x0007_0406_0007_0406,
                apic_base: 0xFEE0_0900,
                misc_enable: 1,
                ..Msrs::default()
            },
            fpu: crate::fpu::FpuState::default(),
            cycles: 0,
            instructions: 0,
            vendor,
            mmu: Mmu::new(PhysMem::new(mem_size)),
            request: Request::None,
            block_cycles: 0,
            transition: None,
            host: crate::hostcache::HostCache::default(),
            exception_bitmap: u32::MAX,
        }
    }

    /// The current mode, derived from CR0.PE, EFER.LMA, RFLAGS.VM and CS.L.
    #[inline]
    pub fn mode(&self) -> Mode {
        if self.ctrl.cr0 & Cr0::PE.bits() == 0 {
            Mode::Real
        } else if self.ctrl.efer & Efer::LMA.bits() != 0 {
            if self.seg[SegReg::Cs as usize].long() {
                Mode::Long64
            } else {
                Mode::Compatibility
            }
        } else if self.rflags & Rflags::VM.bits() != 0 {
            Mode::Virtual8086
        } else {
            Mode::Protected
        }
    }

    /// True in IA-32e 64-bit mode.
    #[inline]
    pub fn in_long64(&self) -> bool {
        self.ctrl.efer & Efer::LMA.bits() != 0 && self.seg[SegReg::Cs as usize].long()
    }

    /// True in protected mode (any mode with CR0.PE = 1 except virtual-8086).
    #[inline]
    pub fn protected(&self) -> bool {
        self.ctrl.cr0 & Cr0::PE.bits() != 0 && self.rflags & Rflags::VM.bits() == 0
    }

    /// [`Cpu::cycles`] when the basic block being executed (or, between
    /// runs, the last one executed) began, plus any cycles its instructions
    /// charged beyond their decoded cost. In a [`crate::Tracer`]'s
    /// `transition` hook, `cycles - transition.cycles - block_start_cycles()`
    /// is what the instructions of the block before the transition cost.
    #[inline]
    pub fn block_start_cycles(&self) -> u64 {
        self.block_cycles
    }

    /// The current privilege level.
    #[inline]
    pub fn cpl(&self) -> u8 {
        if self.ctrl.cr0 & Cr0::PE.bits() == 0 {
            0
        } else if self.rflags & Rflags::VM.bits() != 0 {
            3
        } else {
            self.seg[SegReg::Cs as usize].rpl()
        }
    }

    /// The I/O privilege level from RFLAGS.
    #[inline]
    pub fn iopl(&self) -> u8 {
        ((self.rflags >> 12) & 3) as u8
    }

    /// The default code size in bits: 16, 32 or 64.
    #[inline]
    pub fn code_bits(&self) -> u32 {
        if self.in_long64() {
            64
        } else if self.seg[SegReg::Cs as usize].big() && self.rflags & Rflags::VM.bits() == 0 {
            32
        } else {
            16
        }
    }

    /// The stack address size in bytes (SS.B, or 8 in 64-bit mode).
    #[inline]
    pub fn stack_size(&self) -> u8 {
        if self.in_long64() {
            8
        } else if self.seg[SegReg::Ss as usize].big() {
            4
        } else {
            2
        }
    }

    /// RFLAGS as bitflags (unknown bits dropped).
    pub fn flags(&self) -> Rflags {
        Rflags::from_bits_truncate(self.rflags)
    }

    /// Reads a segment register.
    pub fn segment(&self, s: SegReg) -> &Segment {
        &self.seg[s as usize]
    }

    /// Sets the code segment and the other segment registers for flat
    /// 32-bit protected mode or 64-bit mode without consulting a GDT: a
    /// convenience for tests and embedders that build state directly.
    /// `bits` is 16, 32 or 64; CPL becomes `cpl`. Paging is left unchanged.
    pub fn set_flat_mode(&mut self, bits: u32, cpl: u8) {
        let cpl = cpl & 3;
        let dpl = (cpl as u16) << 5;
        let code_ty = attr::S | attr::P | attr::CODE | attr::RW | attr::ACCESSED | dpl;
        let data_ty = attr::S | attr::P | attr::RW | attr::ACCESSED | dpl;
        let (cs_extra, data_extra) = match bits {
            64 => (attr::L | attr::G, attr::DB | attr::G),
            32 => (attr::DB | attr::G, attr::DB | attr::G),
            _ => (0, 0),
        };
        let limit = if bits == 16 { 0xFFFF } else { 0xFFFF_FFFF };
        self.ctrl.cr0 |= Cr0::PE.bits();
        if bits == 64 {
            self.ctrl.efer |= Efer::LME.bits() | Efer::LMA.bits();
        }
        for (i, s) in self.seg.iter_mut().enumerate() {
            let code = i == SegReg::Cs as usize;
            *s = Segment {
                selector: if code { 0x08 } else { 0x10 } | cpl as u16,
                base: 0,
                limit,
                attr: if code {
                    code_ty | cs_extra
                } else {
                    data_ty | data_extra
                },
            };
        }
    }
}

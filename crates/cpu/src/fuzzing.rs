//! Fuzzing harness: executes arbitrary bytes as code in a given mode and
//! returns whether privileged state changed.
//!
//! [`execute`] builds a small machine for one [`Setup`] — real mode,
//! virtual-8086 mode, 16-bit and 32-bit protected mode, or 64-bit mode, at
//! CPL 0 or CPL 3 — loads the bytes as code and runs at most
//! [`INSTRUCTION_LIMIT`] instructions. The run loop returns exceptions
//! rather than delivering them; the harness then resumes at the next byte
//! after the faulting instruction's first byte (at most [`MAX_RESUMES`]
//! times), so one input exercises many instructions. HLT and I/O exits are
//! resumed too.
//!
//! Every setup with CPL 3 uses paging (32-bit paging, PAE paging or 4-level
//! paging, see [`Setup::ALL`]), with the descriptor tables, the TSS and the
//! paging structures on supervisor-only pages, and no path to ring 0: no
//! gate or conforming segment in the GDT, IDT gates of DPL 0, SYSCALL
//! disabled (EFER.SCE = 0), SYSENTER disabled (IA32_SYSENTER_CS = 0), IOPL
//! 0, a TSS whose previous-task link is null. Whatever the bytes do, CPL 3
//! code must leave the [`Privileged`] state unchanged; [`Outcome`] says
//! whether it did. At CPL 0 anything may change; only panics matter there.
//!
//! [`check`] runs every setup and panics if privileged state changed at
//! CPL 3: it is what the cargo-fuzz target and the `fuzz_harness` test call.
//! Nothing reachable from guest bytes may panic anywhere in the crate.
//!
//! Physical memory layout (2 MiB of RAM, identity-mapped where paging is on):
//!
//! | range               | contents                                 | U/S  |
//! |---------------------|------------------------------------------|------|
//! | `0x00000..0x01000`  | real-mode IVT                            | S    |
//! | `0x01000..0x02000`  | GDT                                      | S    |
//! | `0x02000..0x03000`  | IDT                                      | S    |
//! | `0x03000..0x04000`  | TSS (`0x3000`), LDT (`0x3800`)           | S    |
//! | `0x04000..0x0C000`  | paging structures                        | S    |
//! | `0x10000..0x12000`  | code ([`CODE_MAX`] bytes at most)        | U    |
//! | `0x20000..0x30000`  | data                                     | U    |
//! | `0x30000..0x38000`  | stack                                    | U    |
//! | `0x38000`           | read-only page                           | U    |
//! | `0x39000`           | supervisor page                          | S    |
//! | `0x3A000`           | not present                              | -    |
//! | `0x3B000..0x200000` | more RAM                                 | S    |
//!
//! Linear `0x400000` maps a large page (2 MiB, or 4 MiB with 32-bit paging)
//! at physical 0, supervisor-only. Every paging-structure entry has its
//! accessed (and leaf entries their dirty) flag preset, and every
//! descriptor its accessed (TSS: busy) bit, so that the processor's own
//! bookkeeping writes do not count as changes.

use sysgate_mmu::{PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, PTE_US, PTE_XD};

use crate::run::{Exit, Limit, Vcpu};
use crate::state::{Cpu, Cr0, Cr4, DescriptorTable, Efer, Msrs, Rflags, SegReg, Segment};
use crate::vendor::Vendor;

/// Instructions executed per setup, at most.
pub const INSTRUCTION_LIMIT: u64 = 1_000;
/// How often the harness resumes after an exception, at most.
pub const MAX_RESUMES: u32 = 64;
/// Longest code accepted; longer inputs are truncated.
pub const CODE_MAX: usize = 0x2000;

/// Guest RAM size.
const RAM: u64 = 0x20_0000;
const GDT: u64 = 0x1000;
const IDT: u64 = 0x2000;
const TSS: u64 = 0x3000;
const LDT: u64 = 0x3800;
/// 4-level PML4; PAE and 4-level paging share [`PD`] and [`PT`].
const PML4: u64 = 0x4000;
const PDPT: u64 = 0x5000;
const PD: u64 = 0x6000;
const PT: u64 = 0x7000;
const PAE_PDPT: u64 = 0x8000;
const PD32: u64 = 0x9000;
const PT32: u64 = 0xA000;
/// The pages whose contents are privileged (descriptor tables, TSS, LDT,
/// paging structures).
const PRIVILEGED_PAGES: std::ops::Range<u64> = 0x1000..0xC000;
const CODE: u64 = 0x1_0000;
const DATA: u64 = 0x2_0000;
const STACK_TOP: u64 = 0x3_7FF0;
const RO_PAGE: u64 = 0x3_8000;
const SUPERVISOR_PAGE: u64 = 0x3_9000;
const ABSENT_PAGE: u64 = 0x3_A000;
/// Linear address of the large supervisor page.
const LARGE_PAGE: u64 = 0x40_0000;

/// The kind of code segment and mode a [`Setup`] runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeMode {
    /// Real-address mode (CPL 0) or, at CPL 3, virtual-8086 mode.
    Real,
    /// 16-bit protected mode.
    Protected16,
    /// 32-bit protected mode.
    Protected32,
    /// IA-32e 64-bit mode.
    Long64,
}

/// One machine configuration for [`execute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Setup {
    /// Mode of the code.
    pub mode: CodeMode,
    /// Privilege level (0 or 3).
    pub cpl: u8,
}

impl Setup {
    /// Every setup: real mode (CPL 0, no paging); virtual-8086 mode (CPL 3,
    /// 32-bit paging); 16-bit protected mode (CPL 0 without paging, CPL 3
    /// with PAE paging); 32-bit protected mode (CPL 0 without paging, CPL 3
    /// with 32-bit paging and CR4.PSE); 64-bit mode (4-level paging, which
    /// IA-32e mode requires, at CPL 0 and CPL 3).
    pub const ALL: [Setup; 8] = [
        Setup {
            mode: CodeMode::Real,
            cpl: 0,
        },
        Setup {
            mode: CodeMode::Real,
            cpl: 3,
        },
        Setup {
            mode: CodeMode::Protected16,
            cpl: 0,
        },
        Setup {
            mode: CodeMode::Protected16,
            cpl: 3,
        },
        Setup {
            mode: CodeMode::Protected32,
            cpl: 0,
        },
        Setup {
            mode: CodeMode::Protected32,
            cpl: 3,
        },
        Setup {
            mode: CodeMode::Long64,
            cpl: 0,
        },
        Setup {
            mode: CodeMode::Long64,
            cpl: 3,
        },
    ];

    /// The code size in bits (16, 32 or 64), for assemblers.
    pub const fn bits(self) -> u32 {
        match self.mode {
            CodeMode::Real | CodeMode::Protected16 => 16,
            CodeMode::Protected32 => 32,
            CodeMode::Long64 => 64,
        }
    }
}

/// The state CPL-3 code must not be able to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Privileged {
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// IA32_EFER.
    pub efer: u64,
    /// CR8.
    pub cr8: u64,
    /// DR0-DR7.
    pub dr: [u64; 8],
    /// GDTR.
    pub gdtr: DescriptorTable,
    /// IDTR.
    pub idtr: DescriptorTable,
    /// LDTR (selector and descriptor cache).
    pub ldtr: Segment,
    /// TR (selector and descriptor cache).
    pub tr: Segment,
    /// The MSR file.
    pub msr: Msrs,
    /// The current privilege level.
    pub cpl: u8,
    /// CS.DPL.
    pub cs_dpl: u8,
    /// RFLAGS.IOPL, RFLAGS.IF and RFLAGS.VM.
    pub rflags: u64,
    /// The bytes of the descriptor-table, TSS, LDT and paging-structure
    /// pages.
    pub tables: Vec<u8>,
}

impl Privileged {
    /// Captures the privileged state of `cpu`.
    pub fn capture(cpu: &Cpu) -> Privileged {
        let mut tables = vec![0u8; (PRIVILEGED_PAGES.end - PRIVILEGED_PAGES.start) as usize];
        cpu.mmu.phys.read(PRIVILEGED_PAGES.start, &mut tables);
        Privileged {
            cr0: cpu.ctrl.cr0,
            cr3: cpu.ctrl.cr3,
            cr4: cpu.ctrl.cr4,
            efer: cpu.ctrl.efer,
            cr8: cpu.cr8,
            dr: cpu.dr,
            gdtr: cpu.gdtr,
            idtr: cpu.idtr,
            ldtr: cpu.ldtr,
            tr: cpu.tr,
            msr: cpu.msr,
            cpl: cpu.cpl(),
            cs_dpl: cpu.seg[SegReg::Cs as usize].dpl(),
            rflags: cpu.rflags & (Rflags::IOPL.bits() | Rflags::IF.bits() | Rflags::VM.bits()),
            tables,
        }
    }

    /// Names (with values) of the fields that differ between `self`
    /// (before) and `after`.
    pub fn diff(&self, after: &Privileged) -> Vec<String> {
        let mut d = Vec::new();
        macro_rules! field {
            ($($f:ident),*) => {$(
                if self.$f != after.$f {
                    d.push(format!(
                        concat!(stringify!($f), ": {:x?} -> {:x?}"),
                        self.$f, after.$f
                    ));
                }
            )*};
        }
        field!(
            cr0, cr3, cr4, efer, cr8, dr, gdtr, idtr, ldtr, tr, msr, cpl, cs_dpl, rflags
        );
        if let Some(i) = (0..self.tables.len().min(after.tables.len()))
            .find(|&i| self.tables.get(i) != after.tables.get(i))
        {
            d.push(format!(
                "privileged memory changed, first at physical {:#x}",
                PRIVILEGED_PAGES.start + i as u64
            ));
        }
        d
    }
}

/// What [`execute`] observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The setup that ran.
    pub setup: Setup,
    /// Instructions retired.
    pub instructions: u64,
    /// Exceptions raised (each one resumed at the next byte).
    pub exceptions: u32,
    /// The last exit of the run loop.
    pub last_exit: Exit,
    /// The privileged-state fields that changed (empty when none did);
    /// recorded for every setup, but only a violation at CPL 3.
    pub changed: Vec<String>,
}

impl Outcome {
    /// True when privileged state changed.
    pub fn privileged_changed(&self) -> bool {
        !self.changed.is_empty()
    }

    /// True when CPL-3 code changed privileged state: always a bug.
    pub fn violation(&self) -> bool {
        self.setup.cpl == 3 && self.privileged_changed()
    }
}

/// Executes `code` (truncated to [`CODE_MAX`] bytes) in a fresh machine
/// configured as `setup` for at most [`INSTRUCTION_LIMIT`] instructions and
/// reports what happened, including whether privileged state changed.
pub fn execute(code: &[u8], setup: Setup) -> Outcome {
    let mut vcpu = machine(setup);
    let code = &code[..code.len().min(CODE_MAX)];
    vcpu.cpu.mmu.phys.write(CODE, code);
    let before = Privileged::capture(&vcpu.cpu);
    let mut done = 0u64;
    let mut exceptions = 0u32;
    let mut last_exit = Exit::InstructionLimit;
    // Each round retires an instruction or counts an exception, so the
    // loop is bounded; the extra bound is a guard against run-loop bugs.
    for round in 0..INSTRUCTION_LIMIT + u64::from(MAX_RESUMES) + 2 {
        if done >= INSTRUCTION_LIMIT {
            break;
        }
        let start = vcpu.cpu.instructions;
        // The first few instructions go through `step`, which has its own
        // bookkeeping; the rest through `run`.
        last_exit = if round < 4 {
            vcpu.step().exit.unwrap_or(Exit::InstructionLimit)
        } else {
            vcpu.run(Limit::instructions(INSTRUCTION_LIMIT - done))
        };
        done = done.saturating_add(vcpu.cpu.instructions.wrapping_sub(start));
        match last_exit {
            Exit::Exception(_) => {
                exceptions += 1;
                if exceptions > MAX_RESUMES {
                    break;
                }
                // Skip one byte and carry on.
                vcpu.cpu.rip = vcpu.cpu.rip.wrapping_add(1);
                if vcpu.cpu.code_bits() != 64 {
                    vcpu.cpu.rip &= 0xFFFF_FFFF;
                }
            }
            Exit::InstructionLimit | Exit::Hlt | Exit::IoIn { .. } | Exit::IoOut { .. } => {}
            _ => break,
        }
    }
    let after = Privileged::capture(&vcpu.cpu);
    Outcome {
        setup,
        instructions: done,
        exceptions,
        last_exit,
        changed: before.diff(&after),
    }
}

/// Runs `code` in every [`Setup::ALL`] setup.
///
/// # Panics
///
/// If CPL-3 code changed privileged state (a privilege-check bug in the
/// processor), with the setup and the changed fields in the message.
pub fn check(code: &[u8]) {
    for setup in Setup::ALL {
        let out = execute(code, setup);
        assert!(
            !out.violation(),
            "CPL-3 code changed privileged state in {:?}: {:?} (after {} instructions, \
             {} exceptions, last exit {:?})",
            setup,
            out.changed,
            out.instructions,
            out.exceptions,
            out.last_exit
        );
    }
}

/// Like [`check`] for one setup chosen by the first byte of `data`
/// (modulo the number of setups); the rest of `data` is the code. This is
/// what the cargo-fuzz target calls: one setup per execution is eight
/// times faster, and the fuzzer learns which byte selects which mode.
///
/// # Panics
///
/// If CPL-3 code changed privileged state.
pub fn check_selected(data: &[u8]) {
    let Some((&selector, code)) = data.split_first() else {
        return;
    };
    let setup = Setup::ALL[usize::from(selector) % Setup::ALL.len()];
    let out = execute(code, setup);
    assert!(
        !out.violation(),
        "CPL-3 code changed privileged state in {:?}: {:?} (after {} instructions, \
         {} exceptions, last exit {:?})",
        setup,
        out.changed,
        out.instructions,
        out.exceptions,
        out.last_exit
    );
}

// ---------------------------------------------------------------------------
// Machine construction
// ---------------------------------------------------------------------------

/// Descriptor access byte: P | DPL | S | type.
const fn access(dpl: u8, ty: u8) -> u8 {
    0x80 | (dpl << 5) | 0x10 | ty
}
/// Code, execute/read, accessed.
const CODE_RX: u8 = 0xB;
/// Code, execute-only, accessed.
const CODE_X: u8 = 0x9;
/// Data, read/write, accessed.
const DATA_RW: u8 = 0x3;
/// Data, read-only, accessed.
const DATA_RO: u8 = 0x1;
/// Data, read/write, expand-down, accessed.
const DATA_RW_DOWN: u8 = 0x7;
/// Flags nibble: G | D/B.
const G_DB: u8 = 0xC;
/// Flags nibble: G | L.
const G_L: u8 = 0xA;

/// One GDT/LDT code or data descriptor.
#[derive(Clone, Copy)]
struct Desc {
    base: u32,
    /// 20-bit limit field.
    limit: u32,
    access: u8,
    /// G, D/B, L, AVL (descriptor bits 55..52).
    flags: u8,
}

impl Desc {
    const fn flat(access: u8, flags: u8) -> Desc {
        Desc {
            base: 0,
            limit: 0xF_FFFF,
            access,
            flags,
        }
    }

    const fn small(base: u32, access: u8) -> Desc {
        Desc {
            base,
            limit: 0xFFFF,
            access,
            flags: 0,
        }
    }

    /// The 8-byte descriptor (SDM Vol. 3 §3.4.5).
    fn encode(self) -> u64 {
        let base = u64::from(self.base);
        let limit = u64::from(self.limit);
        (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | (u64::from(self.access) << 40)
            | (((limit >> 16) & 0xF) << 48)
            | (u64::from(self.flags & 0xF) << 52)
            | ((base >> 24) << 56)
    }

    /// The descriptor cache a segment load of `selector` would produce.
    fn cache(self, selector: u16) -> Segment {
        let limit = if self.flags & 0x8 != 0 {
            (self.limit << 12) | 0xFFF
        } else {
            self.limit
        };
        Segment {
            selector,
            base: u64::from(self.base),
            limit,
            attr: u16::from(self.access) | (u16::from(self.flags) << 12),
        }
    }
}

/// The GDT, by index (selector = index * 8). Entries 14-15 are the TSS
/// and 16-17 the LDT (16-byte system descriptors in IA-32e mode).
const GDT_ENTRIES: [Option<Desc>; 14] = [
    None,
    // 0x08: 16-bit code, DPL 0, base 0x10000.
    Some(Desc::small(CODE as u32, access(0, CODE_RX))),
    // 0x10: 64-bit code, DPL 0 (IA32_STAR kernel CS).
    Some(Desc::flat(access(0, CODE_RX), G_L)),
    // 0x18: flat data, DPL 0.
    Some(Desc::flat(access(0, DATA_RW), G_DB)),
    // 0x20: 32-bit code, DPL 3 (IA32_STAR user base).
    Some(Desc::flat(access(3, CODE_RX), G_DB)),
    // 0x28: flat data, DPL 3.
    Some(Desc::flat(access(3, DATA_RW), G_DB)),
    // 0x30: 64-bit code, DPL 3.
    Some(Desc::flat(access(3, CODE_RX), G_L)),
    // 0x38: 32-bit code, DPL 0.
    Some(Desc::flat(access(0, CODE_RX), G_DB)),
    // 0x40: 16-bit data, DPL 0, base 0x20000.
    Some(Desc::small(DATA as u32, access(0, DATA_RW))),
    // 0x48: 16-bit code, DPL 3, base 0x10000.
    Some(Desc::small(CODE as u32, access(3, CODE_RX))),
    // 0x50: 16-bit data, DPL 3, base 0x20000.
    Some(Desc::small(DATA as u32, access(3, DATA_RW))),
    // 0x58: read-only flat data, DPL 3.
    Some(Desc::flat(access(3, DATA_RO), G_DB)),
    // 0x60: execute-only 32-bit code, DPL 3.
    Some(Desc::flat(access(3, CODE_X), G_DB)),
    // 0x68: expand-down data, DPL 3, base 0x20000, limit 0xFFF (valid
    // offsets 0x1000..=0xFFFF).
    Some(Desc {
        base: DATA as u32,
        limit: 0xFFF,
        access: access(3, DATA_RW_DOWN),
        flags: 0,
    }),
];
const TSS_SEL: u16 = 0x70;
const LDT_SEL: u16 = 0x80;
/// The LDT: a DPL-3 flat data segment (selector 0x04 | TI) and a DPL-3
/// 32-bit code segment (0x0C | TI).
const LDT_ENTRIES: [Desc; 2] = [
    Desc::flat(access(3, DATA_RW), G_DB),
    Desc::flat(access(3, CODE_RX), G_DB),
];

/// An 8- or 16-byte system descriptor (TSS or LDT), `ty` its type.
fn system_desc(base: u64, limit: u32, ty: u8) -> [u64; 2] {
    let d = Desc {
        base: base as u32,
        limit,
        access: 0x80 | ty,
        flags: 0,
    };
    [d.encode(), base >> 32]
}

/// Builds the machine for `setup` (see the module documentation).
fn machine(setup: Setup) -> Vcpu {
    let mut vcpu = Vcpu::new(RAM, Vendor::Intel);
    let c = &mut vcpu.cpu;
    let long = setup.mode == CodeMode::Long64;
    let user = setup.cpl == 3;
    write_tables(c, long);
    // Paging: CPL-3 setups and 64-bit mode.
    let paging = user || long;
    let (cr3, cr4) = match setup.mode {
        CodeMode::Long64 => (PML4, Cr4::PAE.bits()),
        CodeMode::Protected16 => (PAE_PDPT, Cr4::PAE.bits()),
        CodeMode::Real | CodeMode::Protected32 => (PD32, Cr4::PSE.bits()),
    };
    let mut efer = 0;
    if long {
        efer |= Efer::LME.bits() | Efer::LMA.bits();
    }
    if long || setup.mode == CodeMode::Protected16 {
        efer |= Efer::NXE.bits();
    }
    if !user {
        efer |= Efer::SCE.bits();
        c.msr.sysenter_cs = 0x38;
        c.msr.sysenter_esp = STACK_TOP - 0x1000;
        c.msr.sysenter_eip = CODE;
    }
    c.msr.star = (0x20u64 << 48) | (0x10u64 << 32) | CODE;
    c.msr.lstar = CODE;
    c.msr.cstar = CODE;
    c.msr.fmask = Rflags::IF.bits() | Rflags::DF.bits() | Rflags::TF.bits();
    c.ctrl.efer = efer;
    if setup.mode != CodeMode::Real || user {
        c.ctrl.cr0 = Cr0::PE.bits() | Cr0::ET.bits() | Cr0::NE.bits() | Cr0::WP.bits();
        c.gdtr = DescriptorTable {
            base: GDT,
            limit: 0x8F,
        };
        c.idtr = DescriptorTable {
            base: IDT,
            limit: if long { 0xFFF } else { 0x7FF },
        };
        // A busy TSS: 64-bit in IA-32e mode, 32-bit otherwise (both type 0xB).
        c.tr = Segment {
            selector: TSS_SEL,
            base: TSS,
            limit: 0x67,
            attr: 0x80 | 0xB,
        };
        c.ldtr = Segment {
            selector: LDT_SEL,
            base: LDT,
            limit: 0xF,
            attr: 0x82,
        };
    } else {
        c.gdtr = DescriptorTable {
            base: GDT,
            limit: 0x8F,
        };
    }
    if paging {
        c.ctrl.cr0 |= Cr0::PG.bits();
        c.ctrl.cr3 = cr3;
        c.ctrl.cr4 = cr4;
    }
    c.mmu.flush_tlb(false);

    // Segments, RIP, RSP and RFLAGS.
    let (cs_sel, ds_sel) = match (setup.mode, user) {
        (CodeMode::Real, _) => (0, 0),
        (CodeMode::Protected16, false) => (0x08, 0x40),
        (CodeMode::Protected16, true) => (0x48 | 3, 0x50 | 3),
        (CodeMode::Protected32, false) => (0x38, 0x18),
        (CodeMode::Protected32, true) => (0x20 | 3, 0x28 | 3),
        (CodeMode::Long64, false) => (0x10, 0x18),
        (CodeMode::Long64, true) => (0x30 | 3, 0x28 | 3),
    };
    let sixteen = matches!(setup.mode, CodeMode::Real | CodeMode::Protected16);
    if setup.mode == CodeMode::Real {
        let dpl = if user { 3 << 5 } else { 0 };
        let code_seg = (CODE >> 4) as u16;
        let data_seg = (DATA >> 4) as u16;
        for s in SegReg::ALL {
            let mut seg = if s == SegReg::Cs {
                Segment::real_mode(code_seg, true)
            } else {
                Segment::real_mode(data_seg, false)
            };
            seg.attr |= dpl;
            c.seg[s as usize] = seg;
        }
    } else {
        for s in SegReg::ALL {
            let sel = if s == SegReg::Cs { cs_sel } else { ds_sel };
            if let Some(d) = GDT_ENTRIES[usize::from(sel >> 3)] {
                c.seg[s as usize] = d.cache(sel);
            }
        }
    }
    let mut rflags = Rflags::FIXED.bits();
    if setup.mode != CodeMode::Real || user {
        rflags |= Rflags::IF.bits();
    }
    if setup.mode == CodeMode::Real && user {
        rflags |= Rflags::VM.bits();
    }
    c.rflags = rflags;
    // General-purpose registers: pointers into the data area and a few
    // interesting values (offsets in 16-bit modes, where the segment
    // bases point at the code and data areas).
    let (d, stack) = if sixteen {
        (0, 0xFFF0)
    } else {
        (DATA, STACK_TOP)
    };
    c.rip = if sixteen { 0 } else { CODE };
    c.gpr = [
        0,
        0x10,
        0x80,
        d + 0x100,
        stack,
        stack - 0x800,
        d + 0x200,
        d + 0x400,
        d + 0x800,
        u64::MAX,
        1 << 63,
        0x7FFF_FFFF_FFFF_FFFF,
        RO_PAGE,
        SUPERVISOR_PAGE,
        ABSENT_PAGE,
        LARGE_PAGE,
    ];
    vcpu
}

/// Writes the GDT, LDT, TSS, IDT and all paging structures.
fn write_tables(c: &mut Cpu, long: bool) {
    let phys = &mut c.mmu.phys;
    for (i, d) in GDT_ENTRIES.iter().enumerate() {
        if let Some(d) = d {
            phys.write_u64(GDT + i as u64 * 8, d.encode());
        }
    }
    // Busy TSS (type 0xB: 32-bit busy TSS, or 64-bit busy TSS in IA-32e
    // mode) and LDT (type 2), both DPL 0.
    let tss = system_desc(TSS, 0x67, 0xB);
    let ldt = system_desc(LDT, 0xF, 0x2);
    phys.write_u64(GDT + u64::from(TSS_SEL), tss[0]);
    phys.write_u64(GDT + u64::from(TSS_SEL) + 8, tss[1]);
    phys.write_u64(GDT + u64::from(LDT_SEL), ldt[0]);
    phys.write_u64(GDT + u64::from(LDT_SEL) + 8, ldt[1]);
    for (i, d) in LDT_ENTRIES.iter().enumerate() {
        phys.write_u64(LDT + i as u64 * 8, d.encode());
    }
    // TSS: ring-0 stack, I/O map base beyond the limit (no bitmap), null
    // previous-task link.
    if long {
        phys.write_u64(TSS + 4, STACK_TOP - 0x2000); // RSP0
        phys.write_u16(TSS + 0x66, 0x68);
    } else {
        phys.write_u32(TSS + 4, (STACK_TOP - 0x2000) as u32); // ESP0
        phys.write_u32(TSS + 8, 0x18); // SS0
        phys.write_u16(TSS + 0x66, 0x68);
    }
    // IDT: interrupt gates of DPL 0 to the start of the code, so INT n
    // from CPL 3 raises #GP.
    for v in 0..256u64 {
        if long {
            let lo = (CODE & 0xFFFF) | (0x10 << 16) | (0x8E << 40) | ((CODE >> 16) << 48);
            phys.write_u64(IDT + v * 16, lo);
            phys.write_u64(IDT + v * 16 + 8, CODE >> 32);
        } else {
            let lo = (CODE & 0xFFFF) | (0x38 << 16) | (0x8E << 40) | ((CODE >> 16) << 48);
            phys.write_u64(IDT + v * 8, lo);
        }
    }
    // Paging structures. Leaf permissions by physical page.
    let leaf = |page: u64| -> Option<u64> {
        let ad = PTE_A | PTE_D;
        let user_rw = PTE_P | PTE_RW | PTE_US | ad;
        Some(match page {
            _ if page == ABSENT_PAGE => return None,
            _ if page == RO_PAGE => PTE_P | PTE_US | ad,
            _ if page == SUPERVISOR_PAGE => PTE_P | PTE_RW | ad,
            _ if (CODE..CODE + CODE_MAX as u64).contains(&page) => user_rw,
            _ if (DATA..DATA + 0x1_0000).contains(&page) => user_rw | PTE_XD,
            _ if (0x3_0000..RO_PAGE).contains(&page) => user_rw | PTE_XD,
            _ => PTE_P | PTE_RW | ad,
        })
    };
    let table = PTE_P | PTE_RW | PTE_US | PTE_A;
    // 4-level: PML4[0] -> PDPT[0] -> PD; PD[0] -> PT (4 KiB pages for the
    // first 2 MiB), PD[2] a 2-MiB supervisor page at physical 0.
    phys.write_u64(PML4, PDPT | table);
    phys.write_u64(PDPT, PD | table);
    phys.write_u64(PD, PT | table);
    phys.write_u64(PD + 2 * 8, PTE_PS | PTE_P | PTE_RW | PTE_A | PTE_D);
    // PAE: the four PDPTEs (only P may be set there) -> the same PD.
    phys.write_u64(PAE_PDPT, PD | PTE_P);
    // 32-bit paging: PD32[0] -> PT32; PD32[1] a 4-MiB supervisor page.
    phys.write_u32(PD32, (PT32 | table) as u32);
    phys.write_u32(PD32 + 4, (PTE_PS | PTE_P | PTE_RW | PTE_A | PTE_D) as u32);
    for i in 0..512u64 {
        let page = i << 12;
        if let Some(flags) = leaf(page) {
            phys.write_u64(PT + i * 8, page | flags);
            phys.write_u32(PT32 + i * 4, (page | (flags & 0xFFF)) as u32);
        }
    }
    // PT32 maps the first 2 MiB; the rest of the first 4 MiB is unmapped.
}

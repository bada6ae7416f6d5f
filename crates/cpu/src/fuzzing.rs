//! Fuzzing harness: executes arbitrary bytes as code in a given mode and
//! returns whether privileged state changed.
//!
//! [`execute`] builds a small machine for one [`Setup`] — real mode,
//! virtual-8086 mode, 16-bit and 32-bit protected mode, or 64-bit mode, at
//! CPL 0 or CPL 3 — loads the bytes as code and runs at most
//! [`INSTRUCTION_LIMIT`] instructions (delivered exceptions count as
//! instructions) and [`CYCLE_LIMIT`] modeled cycles. Exceptions either end the run (`Vcpu::exception_bitmap`
//! all ones), and the harness resumes one byte after the start of the
//! faulting instruction (at most [`MAX_RESUMES`] times), or
//! ([`Setup::deliver`]) are delivered through the IDT/IVT to tiny ring-0
//! stubs that do the same by adjusting the saved instruction pointer and
//! returning with IRET. Either way one input exercises many instructions.
//! HLT and I/O exits are resumed too. If the limit strikes inside a stub,
//! the harness lets the stub return before it compares.
//!
//! Every setup with CPL 3 uses paging (32-bit paging, PAE paging or 4-level
//! paging, see [`Setup::ALL`]), with the descriptor tables, the TSS and the
//! paging structures on supervisor-only pages, and no path to ring 0: no
//! gate or conforming segment in the GDT, IDT gates of DPL 0, SYSCALL
//! disabled (EFER.SCE = 0), SYSENTER disabled (IA32_SYSENTER_CS = 0), IOPL
//! 0, a TSS whose previous-task link is null. The only way into ring 0 is
//! exception delivery, into the stubs, which return to ring 3. Whatever the
//! bytes do, CPL-3 code must leave the [`Privileged`] state unchanged;
//! [`Outcome`] says whether it did. At CPL 0 anything may change; only
//! panics matter there.
//!
//! [`check`] runs every setup and panics if privileged state changed at
//! CPL 3; [`check_selected`] does so for the setup the first input byte
//! selects (the cargo-fuzz target). The `fuzz_harness` test calls
//! [`execute`].
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
//! | `0x0C000..0x0D000`  | ring-0 exception stubs                   | S    |
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

use crate::exception::Exception;
use crate::run::{Exit, Limit, Tracer, Vcpu};
use crate::state::{Cpu, Cr0, Cr4, DescriptorTable, Efer, Msrs, Rflags, SegReg, Segment};
use crate::vendor::Vendor;

/// Instructions executed per setup, at most.
pub const INSTRUCTION_LIMIT: u64 = 1_000;
/// Modeled cycles per setup, at most: bounds long REP string runs (each
/// pass of up to 64 Ki iterations counts as one instruction) so that no
/// input takes long; ordinary code stays far below it.
pub const CYCLE_LIMIT: u64 = 2_000_000;
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
/// paging structures, exception stubs).
const PRIVILEGED_PAGES: std::ops::Range<u64> = 0x1000..0xD000;
/// Ring-0 exception stubs (see [`write_stubs`]).
const STUBS: u64 = 0xC000;
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
    /// Exceptions are delivered through the IDT (or IVT) to ring-0 stubs
    /// that step the saved instruction pointer past one byte and return
    /// (`Vcpu::exception_bitmap` = 0); otherwise each one ends the run
    /// and the harness resumes one byte further itself.
    pub deliver: bool,
}

impl Setup {
    const fn new(mode: CodeMode, cpl: u8, deliver: bool) -> Setup {
        Setup { mode, cpl, deliver }
    }

    /// Every setup: real mode (CPL 0, no paging); virtual-8086 mode (CPL 3,
    /// 32-bit paging); 16-bit protected mode (CPL 0 without paging, CPL 3
    /// with PAE paging); 32-bit protected mode (CPL 0 without paging, CPL 3
    /// with 32-bit paging and CR4.PSE); 64-bit mode (4-level paging, which
    /// IA-32e mode requires, at CPL 0 and CPL 3). CPL-3 setups deliver
    /// exceptions (so ring transitions through the IDT and back by IRET
    /// are exercised); CPL-0 setups come both ways.
    pub const ALL: [Setup; 11] = [
        Setup::new(CodeMode::Real, 0, false),
        Setup::new(CodeMode::Real, 0, true),
        Setup::new(CodeMode::Real, 3, true),
        Setup::new(CodeMode::Protected16, 0, false),
        Setup::new(CodeMode::Protected16, 3, true),
        Setup::new(CodeMode::Protected32, 0, false),
        Setup::new(CodeMode::Protected32, 0, true),
        Setup::new(CodeMode::Protected32, 3, true),
        Setup::new(CodeMode::Long64, 0, false),
        Setup::new(CodeMode::Long64, 0, true),
        Setup::new(CodeMode::Long64, 3, true),
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
    /// DR0-DR7, with DR6 (and its alias slot DR4) read as 0: the
    /// processor itself records debug-exception causes there.
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
            dr: {
                let mut dr = cpu.dr;
                dr[4] = 0;
                dr[6] = 0;
                dr
            },
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

/// Steps allowed after the instruction limit for a ring-0 stub to return.
const SETTLE_STEPS: u32 = 32;

/// Counts exceptions as the run loop raises them.
#[derive(Default)]
struct Watch {
    exceptions: u32,
}

impl Tracer for Watch {
    const PER_INSTRUCTION: bool = false;

    fn exception(&mut self, _cpu: &Cpu, _e: Exception) {
        self.exceptions = self.exceptions.wrapping_add(1);
    }
}

/// What [`execute`] observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The setup that ran.
    pub setup: Setup,
    /// Instructions retired.
    pub instructions: u64,
    /// Exceptions raised (delivered, or resumed one byte further).
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
    let mut watch = Watch::default();
    let mut done = 0u64;
    let mut resumes = 0u32;
    let mut last_exit = Exit::InstructionLimit;
    let cycle_end = vcpu.cpu.cycles.saturating_add(CYCLE_LIMIT);
    // Each round retires an instruction, delivers an exception or counts
    // a resume, so `done` grows; the bound on rounds is a guard against
    // run-loop bugs.
    for round in 0..INSTRUCTION_LIMIT + u64::from(MAX_RESUMES) + 2 {
        if done >= INSTRUCTION_LIMIT {
            break;
        }
        let start = vcpu.cpu.instructions;
        let raised = watch.exceptions;
        // The first few instructions go through `step`, which has its own
        // bookkeeping; the rest through `run`.
        last_exit = if round < 4 {
            vcpu.step_traced(&mut watch)
                .exit
                .unwrap_or(Exit::InstructionLimit)
        } else {
            let limit = Limit {
                instructions: INSTRUCTION_LIMIT - done,
                cycles: cycle_end,
            };
            vcpu.run_traced(limit, &mut watch)
        };
        done = done
            .saturating_add(vcpu.cpu.instructions.wrapping_sub(start))
            .saturating_add(u64::from(watch.exceptions.wrapping_sub(raised)));
        match last_exit {
            Exit::Exception(_) => {
                resumes += 1;
                if resumes > MAX_RESUMES {
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
    // The limit may strike inside a ring-0 stub: let it return (a few
    // instructions) before comparing.
    for _ in 0..SETTLE_STEPS {
        if !(setup.deliver && vcpu.cpu.cpl() != setup.cpl) {
            break;
        }
        if vcpu.step_traced(&mut watch).exit.is_some() {
            break;
        }
    }
    let after = Privileged::capture(&vcpu.cpu);
    Outcome {
        setup,
        instructions: done,
        exceptions: watch.exceptions,
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
    vcpu.exception_bitmap = if setup.deliver { 0 } else { u32::MAX };
    let c = &mut vcpu.cpu;
    let long = setup.mode == CodeMode::Long64;
    let user = setup.cpl == 3;
    let sixteen = matches!(setup.mode, CodeMode::Real | CodeMode::Protected16);
    write_tables(c, long, sixteen);
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

/// 64-bit stub: `push rax; mov rax, [rsp+8]; inc rax; shl rax, 16;
/// sar rax, 16; mov [rsp+8], rax; pop rax; iretq` (the next RIP is made
/// canonical, so the IRETQ cannot fault).
const STUB64: u64 = STUBS;
/// The same after `add rsp, 8` (drops the error code).
const STUB64_ERR: u64 = STUBS + 0x40;
/// 32-bit stub for 32-bit code: `add dword [esp], 1; iretd` (a flat
/// 4-GiB code segment cannot be overrun).
const STUB32: u64 = STUBS + 0x80;
/// The same after `add esp, 4`.
const STUB32_ERR: u64 = STUBS + 0xA0;
/// 32-bit stub for 16-bit code: `inc word [esp]; mov word [esp+2], 0;
/// iretd` (the next IP wraps at 64 KiB, so the IRETD cannot exceed a
/// 64-KiB segment limit).
const STUB32_IP16: u64 = STUBS + 0xC0;
/// The same after `add esp, 4`.
const STUB32_IP16_ERR: u64 = STUBS + 0xE0;
/// Real-mode stub: `push bp; mov bp, sp; inc word [bp+2]; pop bp; iret`.
const STUB16: u64 = STUBS + 0x100;

/// Writes the ring-0 exception stubs. Each steps the saved instruction
/// pointer one byte further (within what the IRET back accepts) and
/// returns, so execution resumes after the first byte of a faulting
/// instruction (or one byte into the next instruction after a trap)
/// whether the exception was delivered or returned to the host.
fn write_stubs(phys: &mut sysgate_mmu::PhysMem) {
    const BODY64: [u8; 25] = [
        0x50, 0x48, 0x8B, 0x44, 0x24, 0x08, 0x48, 0xFF, 0xC0, 0x48, 0xC1, 0xE0, 0x10, 0x48, 0xC1,
        0xF8, 0x10, 0x48, 0x89, 0x44, 0x24, 0x08, 0x58, 0x48, 0xCF,
    ];
    phys.write(STUB64, &BODY64);
    phys.write(STUB64_ERR, &[0x48, 0x83, 0xC4, 0x08]);
    phys.write(STUB64_ERR + 4, &BODY64);
    phys.write(STUB32, &[0x83, 0x04, 0x24, 0x01, 0xCF]);
    phys.write(
        STUB32_ERR,
        &[0x83, 0xC4, 0x04, 0x83, 0x04, 0x24, 0x01, 0xCF],
    );
    const BODY_IP16: [u8; 12] = [
        0x66, 0xFF, 0x04, 0x24, 0x66, 0xC7, 0x44, 0x24, 0x02, 0x00, 0x00, 0xCF,
    ];
    phys.write(STUB32_IP16, &BODY_IP16);
    phys.write(STUB32_IP16_ERR, &[0x83, 0xC4, 0x04]);
    phys.write(STUB32_IP16_ERR + 3, &BODY_IP16);
    phys.write(STUB16, &[0x55, 0x89, 0xE5, 0xFF, 0x46, 0x02, 0x5D, 0xCF]);
}

/// Vectors whose exception pushes an error code (SDM Vol. 3 Table 6-1):
/// #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX.
const fn has_error_code(v: u64) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// Writes the GDT, LDT, TSS, IDT, IVT, exception stubs and all paging
/// structures; `sixteen` selects the IDT stubs for 16-bit code.
fn write_tables(c: &mut Cpu, long: bool, sixteen: bool) {
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
    // Exception stubs, the IDT (interrupt gates of DPL 0, so INT n from
    // CPL 3 raises #GP) and the real-mode IVT all lead to them.
    write_stubs(phys);
    for v in 0..256u64 {
        let err = has_error_code(v);
        if long {
            let target = if err { STUB64_ERR } else { STUB64 };
            let lo = (target & 0xFFFF) | (0x10 << 16) | (0x8E << 40) | ((target >> 16) << 48);
            phys.write_u64(IDT + v * 16, lo);
            phys.write_u64(IDT + v * 16 + 8, target >> 32);
        } else {
            let target = match (sixteen, err) {
                (true, true) => STUB32_IP16_ERR,
                (true, false) => STUB32_IP16,
                (false, true) => STUB32_ERR,
                (false, false) => STUB32,
            };
            let lo = (target & 0xFFFF) | (0x38 << 16) | (0x8E << 40) | ((target >> 16) << 48);
            phys.write_u64(IDT + v * 8, lo);
        }
        // IVT entry: offset STUB16, segment 0.
        phys.write_u32(v * 4, STUB16 as u32);
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

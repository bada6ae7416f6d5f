//! The cycle model: modeled CPU cycles charged for every retired
//! instruction, per named profile (`skylake`, the default, and `zen2`).
//!
//! # Sources
//!
//! * **Per-instruction costs** (latency, reciprocal throughput, micro-ops
//!   per instruction form) are generated, not typed: `scripts/
//!   gen_cycle_tables.py` asks LLVM's X86 scheduling models
//!   (`X86SchedSkylakeClient.td` for `skylake`, `X86ScheduleZnver2.td` for
//!   `zen2`, Apache-2.0 WITH LLVM-exception) through llvm-mca about 1613
//!   instruction forms per profile (986 integer forms and 627 x87, MMX,
//!   SSE and SSE2 forms: every such form sysgate has a handler for, as
//!   `tests::list_fp_forms` finds them) and writes `cycles/tables.rs`; the figure
//!   of each form and where it came from is in `crates/cpu/data/llvm/
//!   <profile>.tsv`. LLVM has no data for some system and microcoded
//!   instructions (it gives them a placeholder latency of 100): the
//!   generator fills those from the other profile, composes string
//!   instructions from their load/store/compare forms, and otherwise keeps
//!   the placeholder, marked `placeholder` in the .tsv (an estimate).
//!   A form the tables do not list falls back to the same form at another
//!   operand size, then to the default `1` cycle latency, 0.25 reciprocal
//!   throughput, one micro-op, plus the profile's load latency when the
//!   instruction reads memory.
//! * **Transitions** (INT n, IRET, SYSCALL, SYSRET, SYSENTER, SYSEXIT,
//!   far calls through call gates and far returns to an outer level,
//!   SWAPGS, WRMSR, RDMSR, MOV to a control register, exception delivery)
//!   come from [`CycleModel::transitions`], each row with its basis. The
//!   Skylake round trips are calibrated to the hardware-only measurements
//!   of x86.lol, "kernel entry" (2019), empty handler: `int`+`iretq` 614,
//!   far call through a call gate + `lretq` 456, `syscall`+`sysretq` 76,
//!   `sysenter`+`sysexitq` 73 cycles; how a round trip splits between
//!   entry and return is an estimate. No hardware-only measurement is
//!   known for Zen 2: its rows reuse the Skylake calibration and say so.
//!   SWAPGS, WRMSR, RDMSR and MOV CRn keep LLVM's placeholder (estimate).
//! * **Page walks**: each walk of the paging structures (a TLB miss, or a
//!   re-walk to set a dirty bit) costs [`CycleModel::walk_cycles`], an
//!   estimate: four dependent loads that hit the L1 data cache, at the
//!   profile's load latency (the paging-structure caches and cache misses
//!   are not modeled). The run loop charges walks between blocks
//!   from the MMU's walk counter.
//!
//! # Timing model
//!
//! Each block is scheduled once, when it is decoded
//! ([`CycleModel::schedule`]), in units of 1/12 cycle. A block runs on
//! through forward conditional jumps that fall through (see
//! [`crate::decode`]), as a real front end goes on past a branch predicted
//! not taken, and in 64-bit code through direct jumps and taken loop
//! branches to nearby code, as it goes on at the target of one predicted
//! taken; a branch that goes the other way ends it, charging the cycles up
//! to the branch:
//!
//! * an instruction issues when (a) the in-order front end has delivered
//!   it (each micro-op takes 1/width of a cycle, width = LLVM's dispatch
//!   width), (b) its source registers and flags are ready (a register
//!   that only feeds the operation of an instruction that loads may
//!   arrive up to the load latency late, LLVM's `ReadAfterLd`), and (c)
//!   the last instruction of the same form issued at least its reciprocal
//!   throughput earlier;
//!   The resources tracked are the GPRs, the flags, XMM0-15, MM0-7, the
//!   x87 stack as one serial resource ([`X87`]) and MXCSR ([`MXCSR`]);
//!   an x87/MMX/SSE form that loads needs its register sources only when
//!   its folded load is done ([`CycleModel::vector_read_advance`]);
//! * its destination registers and flags are ready its latency later;
//!   RSP updates of PUSH/POP/CALL/RET are ready at once (the stack
//!   engine), and the zero idioms (`xor r, r`, `sub r, r`, `pxor`,
//!   `xorps`, `xorpd`, `pandn`, `andnps`, `andnpd`, `psub*`, `pcmpgt*` of
//!   a register with itself) read nothing;
//! * serializing instructions (transitions, CPUID, WRMSR, MOV to CRn/DRn,
//!   LGDT, LIDT, LLDT, LTR, INVLPG, INVD, WBINVD, HLT, far transfers) wait until
//!   everything before them completed, and nothing after them issues
//!   before they complete; so do the I/O instructions, which the SDM
//!   (Vol. 1 Table 19-1) has delay the next instruction until they
//!   complete, OUT and OUTS also until pending stores complete (IN and
//!   INS are modeled as waiting for earlier instructions too);
//! * instructions retire in order when complete.
//!
//! The block is scheduled four times in a row, each copy depending on the
//! one before, and the block's cost is the mean advance of the in-order
//! retire time per copy after the first, rounded to the nearest cycle
//! (at least one): the steady-state cost per execution of a block that
//! runs in a loop or among similar code, which counts loop-carried
//! dependency chains and throughput limits but not latencies that overlap
//! with the next iteration. The cost is spread over the instructions in
//! proportion to how far each advanced the retire time in the last copy,
//! so the charges of a block add up to its cost and RDTSC reads the count
//! of the instructions retired before it in its block.
//!
//! Not modeled: dependencies across blocks other than the block with
//! itself (a chain from one block into a different one is cut), memory
//! dependencies (store-to-load forwarding) and the caches (every load hits
//! L1), execution-port conflicts between different forms, branch
//! prediction (no misprediction penalty), macro-fusion, partial-register
//! and partial-flag stalls, and the uop cache and decoders. Costs are
//! computed at decode time, so the run loop still adds one number per
//! block, and the count is exact and deterministic: it depends only on the
//! instructions executed, the page walks and the profile.
//!
//! # Measured error
//!
//! `perf stat -e cycles` does not work on the development machine (a
//! virtual machine without a cycle counter), so the model is compared with
//! llvm-mca's simulation of the same loops (the same LLVM tables, with
//! LLVM's per-port model, 1000 iterations): `scripts/gen_cycle_error.py`,
//! 13 integer loops of 1 to 7 instructions plus `dec ecx; jnz`, and 10
//! x87/MMX/SSE loops. Of the latter, 7 agree exactly under both profiles
//! (ADDSD and DIVSD chains, independent MULPDs, an ADDPD load sum, an SSE
//! integer mix, conversions, MMX adds), FLD/FMUL/FSTP is -1% (skylake) and
//! -21% (zen2), and the FADD and FDIV chains (+200%, +1387-1878%) have no
//! reference: llvm-mca does not track the dependency through ST(0) and
//! LLVM gives FDIV a reciprocal throughput of 1; with those two left out
//! the mean absolute error over the 21 other loops is 10% (skylake) and
//! 9% (zen2). For the integer loops: cycles per
//! iteration agree exactly (to llvm-mca's rounding) on 8 of 13 loops under
//! `skylake` and 9 of 13 under `zen2` (dependency chains of ADD, IMUL and
//! loads, streams, shifts, CMOV); the mean absolute error is 17% (skylake)
//! and 13% (zen2), median 0%. The large errors are port conflicts between
//! different forms, which the model does not see (four independent ADDs
//! plus the loop: 1.0 vs 1.5 cycles; the interpreter benchmark's loop: 4 vs
//! 6 on skylake, 4 vs 5 on zen2; a load-multiply-accumulate: 1.0 vs 1.28),
//! DIV's micro-op pressure (8 vs 13 on skylake), and PUSH/POP, where
//! llvm-mca has no stack engine (2 vs 16-18 cycles; hardware with a stack
//! engine is close to the model). The transitions are calibrated, not
//! simulated: the four Skylake round trips match x86.lol's figures exactly
//! (614, 456, 76, 73 cycles).

use iced_x86::{
    CpuidFeature, Instruction, InstructionInfoFactory, MemorySize, Mnemonic, OpAccess, OpKind,
    Register, RflagsBits,
};

mod tables;

/// One instruction form's costs from the generated tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cost {
    /// The packed operand letters (see [`form_key`]).
    form: u16,
    /// The operand size in bytes (0 when no register or memory operand).
    size: u8,
    /// Latency in cycles.
    lat: u16,
    /// Reciprocal throughput in 1/100 cycle.
    rthru: u16,
    /// Micro-ops.
    uops: u8,
}

impl Cost {
    /// A table entry (used by the generated tables).
    pub(crate) const fn new(form: &[u8], size: u8, lat: u16, rthru: u16, uops: u8) -> Cost {
        Cost {
            form: pack(form),
            size,
            lat,
            rthru,
            uops,
        }
    }
}

/// Packs operand letters four bits each (see [`form_key`]).
const fn pack(form: &[u8]) -> u16 {
    let mut v = 0u16;
    let mut k = 0;
    while k < form.len() {
        let code = match form[k] {
            b'r' => 1,
            b'm' => 2,
            b'p' => 3,
            b'i' => 4,
            b'1' => 5,
            b's' => 6,
            b'c' => 7,
            b'd' => 8,
            b'b' => 9,
            b'f' => 10,
            b'x' => 11,
            b'L' => 12,
            b'q' => 14,
            b't' => 15,
            // `v` (XMM) and any other register class: sysgate executes
            // no instruction with a register of another class.
            _ => 13,
        };
        v = (v << 4) | code;
        k += 1;
    }
    v
}

/// The letter of operand `n` (see the generator's documentation).
fn operand_letter(ins: &Instruction, n: u32) -> u8 {
    match ins.op_kind(n) {
        OpKind::Register => {
            let r = ins.op_register(n);
            if r.is_gpr() {
                b'r'
            } else if r.is_segment_register() {
                b's'
            } else if r.is_cr() {
                b'c'
            } else if r.is_dr() {
                b'd'
            } else if r.is_xmm() {
                b'v'
            } else if r.is_mm() {
                b'q'
            } else if r.is_st() {
                b't'
            } else {
                b'o'
            }
        }
        OpKind::Memory => match ins.memory_size() {
            MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64 => b'p',
            _ => b'm',
        },
        OpKind::Immediate8 if matches!(ins.op_code().op_code(), 0xD0 | 0xD1) => b'1',
        OpKind::Immediate8
        | OpKind::Immediate8_2nd
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => b'i',
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => b'b',
        OpKind::FarBranch16 | OpKind::FarBranch32 => b'f',
        OpKind::MemorySegSI
        | OpKind::MemorySegESI
        | OpKind::MemorySegRSI
        | OpKind::MemorySegDI
        | OpKind::MemorySegEDI
        | OpKind::MemorySegRDI
        | OpKind::MemoryESDI
        | OpKind::MemoryESEDI
        | OpKind::MemoryESRDI => b'x',
    }
}

fn operand_size(ins: &Instruction, n: u32) -> Option<u8> {
    match ins.op_kind(n) {
        OpKind::Register => Some(ins.op_register(n).size() as u8),
        OpKind::Memory
        | OpKind::MemorySegSI
        | OpKind::MemorySegESI
        | OpKind::MemorySegRSI
        | OpKind::MemorySegDI
        | OpKind::MemorySegEDI
        | OpKind::MemorySegRDI
        | OpKind::MemoryESDI
        | OpKind::MemoryESEDI
        | OpKind::MemoryESRDI => Some(ins.memory_size().size() as u8),
        _ => None,
    }
}

/// The table key of an instruction: mnemonic (with aliases folded), packed
/// operand letters (a leading `L` for a LOCK prefix) and operand size.
pub(crate) fn form_key(ins: &Instruction) -> (Mnemonic, u16, u8) {
    let (m, letters, len, size) = form_letters(ins);
    (m, pack(&letters[..len]), size)
}

/// [`form_key`] with the operand letters unpacked.
fn form_letters(ins: &Instruction) -> (Mnemonic, [u8; 4], usize, u8) {
    let m = match ins.mnemonic() {
        // SAL is SHL (SDM Vol. 2 SAL/SAR/SHL/SHR); ENDBR is a hint NOP.
        Mnemonic::Sal => Mnemonic::Shl,
        Mnemonic::Endbr32 | Mnemonic::Endbr64 => Mnemonic::Nop,
        m => m,
    };
    let mut letters = [0u8; 4];
    let mut len = 0;
    if ins.has_lock_prefix() {
        letters[0] = b'L';
        len = 1;
    }
    let ops = if m == Mnemonic::Nop && ins.op_count() == 0 {
        0
    } else {
        ins.op_count().min(3)
    };
    for n in 0..ops {
        letters[len] = operand_letter(ins, n);
        len += 1;
    }
    let size = (0..ins.op_count().min(2))
        .find_map(|n| operand_size(ins, n))
        .unwrap_or(0);
    (m, letters, len, size)
}

/// What a cost row is based on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Calibrated so that a round trip matches a published hardware
    /// measurement; how the round trip splits between its two
    /// instructions is an estimate.
    Calibrated {
        /// The measured round trip in cycles.
        round_trip: u32,
        /// Where it was published.
        source: &'static str,
    },
    /// An estimate (no measurement known), with its reasoning.
    Estimate(&'static str),
}

/// A transition with its own (microcoded) cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionEvent {
    /// INT n, INT3, INTO, INT1: delivery through an IDT gate.
    IntN,
    /// IRET/IRETD/IRETQ.
    Iret,
    /// SYSCALL.
    Syscall,
    /// SYSRET.
    Sysret,
    /// SYSENTER.
    Sysenter,
    /// SYSEXIT.
    Sysexit,
    /// A far CALL or JMP through a call gate (the whole instruction).
    CallGate,
    /// A far RET to an outer privilege level (the whole instruction).
    FarReturnOuter,
    /// SWAPGS.
    Swapgs,
    /// WRMSR.
    Wrmsr,
    /// RDMSR.
    Rdmsr,
    /// MOV to a control register (CR3: an address-space switch; the TLB
    /// misses that follow are charged as page walks).
    MovCr,
    /// Delivery of an exception raised by an instruction or a fetch.
    Exception,
}

/// The cost of one transition and what it is based on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransitionCost {
    /// The transition.
    pub event: TransitionEvent,
    /// Cycles charged for it.
    pub cycles: u32,
    /// Its source.
    pub basis: Basis,
}

const X86_LOL: &str = "x86.lol, \"kernel entry\" (2019), Skylake, hardware-only round trip \
                       with an empty handler";
const LLVM_PLACEHOLDER: &str = "estimate: LLVM's scheduling model has no data and charges its \
                                WriteSystem placeholder latency of 100";
const ZEN2_NONE: &str = "estimate: no hardware-only Zen 2 measurement is known; the Skylake \
                         calibration is reused";

/// Skylake: INT n delivery, 2/3 of the 614-cycle `int`+`iretq` round trip.
pub const INT_DELIVERY_CYCLES: u32 = 410;
/// Skylake: IRET, the remaining 1/3 of the `int`+`iretq` round trip.
pub const IRET_CYCLES: u32 = 204;

const fn cal(event: TransitionEvent, cycles: u32, round_trip: u32) -> TransitionCost {
    TransitionCost {
        event,
        cycles,
        basis: Basis::Calibrated {
            round_trip,
            source: X86_LOL,
        },
    }
}

const fn est(event: TransitionEvent, cycles: u32, why: &'static str) -> TransitionCost {
    TransitionCost {
        event,
        cycles,
        basis: Basis::Estimate(why),
    }
}

use TransitionEvent as E;

/// Skylake transition costs. Splits of a round trip: INT 2/3 : IRET 1/3
/// and call gate 2/3 : far return 1/3 (entries do the descriptor and
/// stack-switch work), SYSCALL/SYSRET and SYSENTER/SYSEXIT halves: all
/// estimates; the round-trip sums are the measurements.
static SKYLAKE_TRANSITIONS: [TransitionCost; 13] = [
    cal(E::IntN, INT_DELIVERY_CYCLES, 614),
    cal(E::Iret, IRET_CYCLES, 614),
    cal(E::CallGate, 304, 456),
    cal(E::FarReturnOuter, 152, 456),
    cal(E::Syscall, 38, 76),
    cal(E::Sysret, 38, 76),
    cal(E::Sysenter, 37, 73),
    cal(E::Sysexit, 36, 73),
    est(E::Swapgs, 100, LLVM_PLACEHOLDER),
    est(E::Wrmsr, 100, LLVM_PLACEHOLDER),
    est(E::Rdmsr, 100, LLVM_PLACEHOLDER),
    est(E::MovCr, 100, LLVM_PLACEHOLDER),
    est(
        E::Exception,
        INT_DELIVERY_CYCLES,
        "estimate: the same IDT delivery as INT n (no separate measurement)",
    ),
];

/// Zen 2 transition costs: estimates (see [`ZEN2_NONE`]).
static ZEN2_TRANSITIONS: [TransitionCost; 13] = [
    est(E::IntN, INT_DELIVERY_CYCLES, ZEN2_NONE),
    est(E::Iret, IRET_CYCLES, ZEN2_NONE),
    est(E::CallGate, 304, ZEN2_NONE),
    est(E::FarReturnOuter, 152, ZEN2_NONE),
    est(E::Syscall, 38, ZEN2_NONE),
    est(E::Sysret, 38, ZEN2_NONE),
    est(E::Sysenter, 37, ZEN2_NONE),
    est(E::Sysexit, 36, ZEN2_NONE),
    est(E::Swapgs, 100, LLVM_PLACEHOLDER),
    est(E::Wrmsr, 100, LLVM_PLACEHOLDER),
    est(E::Rdmsr, 100, LLVM_PLACEHOLDER),
    est(E::MovCr, 100, LLVM_PLACEHOLDER),
    est(E::Exception, INT_DELIVERY_CYCLES, ZEN2_NONE),
];

/// A named cycle-cost profile.
#[derive(Clone, Copy, Debug)]
pub struct CycleModel {
    name: &'static str,
    table: fn(Mnemonic) -> &'static [Cost],
    width: u32,
    transitions: &'static [TransitionCost; 13],
}

impl PartialEq for CycleModel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for CycleModel {}

impl Default for CycleModel {
    fn default() -> Self {
        CycleModel::skylake()
    }
}

/// Time units per cycle in the block schedule.
const T: u64 = 12;

/// Copies of a block scheduled back to back to find its steady state.
const COPIES: usize = 4;

/// Register-set bit of the flags in the schedule. The resources the
/// schedule tracks, one bit each: GPRs (bits 0-15), the flags ([`FLAGS`]),
/// XMM0-15 ([`XMM0`]..), MM0-7 ([`MM0`]..), the x87 register stack
/// ([`X87`]) and MXCSR ([`MXCSR`]).
const FLAGS: u64 = 1 << 16;
/// Bit of XMM0 (XMMn is `XMM0 << n`).
const XMM0: u64 = 1 << 17;
/// Bit of MM0 (MMn is `MM0 << n`).
const MM0: u64 = 1 << 33;
/// The x87 stack ST(0)-ST(7) with its status and control words and tags,
/// as one serial resource: every x87 instruction writes it (TOP, the
/// condition codes, the tags), and every x87 instruction that reads a
/// stack register or the status/control words waits for the last write.
/// Loads (FLD, FILD, FBLD, the constants) only write it.
const X87: u64 = 1 << 41;
/// MXCSR: written by LDMXCSR and FXRSTOR, read by STMXCSR, FXSAVE and
/// every instruction with an XMM operand (rounding control; the sticky
/// exception flags are not a dependency).
const MXCSR: u64 = 1 << 42;
/// Number of tracked resources.
const NRES: usize = 43;
/// All XMM and MM registers.
const VEC_ALL: u64 = (0xFFFF * XMM0) | (0xFF * MM0);

impl CycleModel {
    /// Intel Skylake client (the default profile).
    pub fn skylake() -> CycleModel {
        CycleModel {
            name: "skylake",
            table: tables::skylake,
            width: tables::SKYLAKE_WIDTH,
            transitions: &SKYLAKE_TRANSITIONS,
        }
    }

    /// AMD Zen 2.
    pub fn zen2() -> CycleModel {
        CycleModel {
            name: "zen2",
            table: tables::zen2,
            width: tables::ZEN2_WIDTH,
            transitions: &ZEN2_TRANSITIONS,
        }
    }

    /// Looks a profile up by name.
    pub fn by_name(name: &str) -> Option<CycleModel> {
        match name {
            "skylake" => Some(CycleModel::skylake()),
            "zen2" => Some(CycleModel::zen2()),
            _ => None,
        }
    }

    /// The names of all profiles (the first is the default).
    pub const NAMES: &'static [&'static str] = &["skylake", "zen2"];

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The transition costs and their sources.
    pub fn transitions(&self) -> &'static [TransitionCost] {
        self.transitions
    }

    /// The cycles of one transition.
    pub fn transition_cycles(&self, event: TransitionEvent) -> u32 {
        self.transitions
            .iter()
            .find(|t| t.event == event)
            .map_or(0, |t| t.cycles)
    }

    /// The cycles charged for delivering an exception through the IDT
    /// (software interrupts are charged as instructions).
    pub fn delivery_cycles(&self) -> u32 {
        self.transition_cycles(TransitionEvent::Exception)
    }

    /// The L1 load-to-use latency of the profile: LLVM's latency of
    /// `mov r64, m64`.
    pub fn load_latency(&self) -> u32 {
        (self.table)(Mnemonic::Mov)
            .iter()
            .find(|c| c.form == pack(b"rm") && c.size == 8)
            .map_or(5, |c| c.lat as u32)
    }

    /// The cycles charged per walk of the paging structures (estimate: four
    /// dependent loads at [`CycleModel::load_latency`]).
    pub fn walk_cycles(&self) -> u32 {
        4 * self.load_latency()
    }

    /// The transition whose cost replaces the table's for `ins`, if any.
    fn transition_of(ins: &Instruction) -> Option<TransitionEvent> {
        use Mnemonic::*;
        Some(match ins.mnemonic() {
            Int | Int3 | Into | Int1 => E::IntN,
            Iret | Iretd | Iretq => E::Iret,
            Syscall => E::Syscall,
            Sysret | Sysretq => E::Sysret,
            Sysenter => E::Sysenter,
            Sysexit | Sysexitq => E::Sysexit,
            Swapgs => E::Swapgs,
            Wrmsr => E::Wrmsr,
            Rdmsr => E::Rdmsr,
            Mov if ins.op0_kind() == OpKind::Register && ins.op0_register().is_cr() => E::MovCr,
            _ => return None,
        })
    }

    /// Latency, reciprocal throughput (1/100 cycle) and micro-ops of `ins`.
    fn lookup(&self, ins: &Instruction) -> (u32, u32, u32) {
        if let Some(e) = Self::transition_of(ins) {
            return (self.transition_cycles(e), 25, 1);
        }
        let (m, form, size) = form_key(ins);
        let rows = (self.table)(m);
        let unlocked = if form >> 12 == 12 {
            form & 0x0FFF
        } else if form >> 8 == 12 {
            form & 0x00FF
        } else if form >> 4 == 12 {
            form & 0x000F
        } else {
            form
        };
        let found = rows
            .iter()
            .find(|c| c.form == form && c.size == size)
            .or_else(|| {
                rows.iter()
                    .filter(|c| c.form == form || c.form == unlocked)
                    .min_by_key(|c| (c.form != form, c.size.abs_diff(size), c.size))
            });
        match found {
            Some(c) => (c.lat as u32, c.rthru as u32, c.uops.max(1) as u32),
            None => {
                let load = (0..ins.op_count()).any(|n| ins.op_kind(n) == OpKind::Memory)
                    && !matches!(m, Mnemonic::Lea | Mnemonic::Nop);
                (1 + if load { self.load_latency() } else { 0 }, 25, 1)
            }
        }
    }

    /// The latency in cycles of `ins` executed on its own (its table
    /// entry or transition cost).
    pub fn cost(&self, ins: &Instruction) -> u32 {
        self.lookup(ins).0
    }

    /// The cycles charged to each instruction of a block (see the
    /// module documentation); they add up to the block's cost.
    pub fn schedule(&self, block: &[Instruction]) -> Vec<u32> {
        let mut factory = InstructionInfoFactory::new();
        let ops: Vec<SchedOp> = block
            .iter()
            .map(|ins| self.sched_op(ins, &mut factory))
            .collect();
        let mut st = SchedState {
            ready: [0; NRES],
            front: 0,
            all_done: 0,
            retire: 0,
            class_next: Vec::with_capacity(ops.len()),
        };
        let per_uop = T / self.width.max(1) as u64;
        let load = self.load_latency() as u64 * T;
        // Copy 1 starts cold; copies 2 to COPIES run on its results.
        let mut after = [0u64; COPIES];
        for a in after.iter_mut().take(COPIES - 1) {
            for op in &ops {
                st.step(op, per_uop, load);
            }
            *a = st.retire;
        }
        let before_last = st.retire;
        let mut retire = Vec::with_capacity(ops.len());
        for op in &ops {
            st.step(op, per_uop, load);
            retire.push(st.retire - before_last);
        }
        after[COPIES - 1] = st.retire;
        // The block's cost: the mean retire-time advance per copy after
        // the first, rounded to the nearest cycle, at least one.
        let span = after[COPIES - 1] - after[0];
        let per = (COPIES as u64 - 1) * T;
        let cost = ((span + per / 2) / per).max(1);
        // Spread it over the instructions in proportion to how far each
        // advanced the last copy's retire time.
        let total = retire.last().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(ops.len());
        let mut prev = 0u64;
        for (k, r) in retire.iter().enumerate() {
            let upto = if total == 0 {
                if k + 1 == retire.len() { cost } else { 0 }
            } else {
                (r * cost * 2 + total) / (2 * total)
            };
            out.push((upto - prev) as u32);
            prev = upto;
        }
        out
    }

    /// LLVM's `ReadAfterVecLd` as the tables imply it: a loading x87,
    /// MMX or SSE form needs its register sources only when its folded
    /// load is done, which takes its latency minus that of the same
    /// operation on registers (the form with the memory operand replaced
    /// by a register of the destination's class: `addsd xmm, m64` ->
    /// `addsd xmm, xmm`, `fadd m32` -> `fadd st, st(i)`). Without such a
    /// form, the profile's load latency.
    fn vector_read_advance(&self, ins: &Instruction, lat: u32) -> u32 {
        let (m, mut letters, len, size) = form_letters(ins);
        let reg = match letters[..len] {
            [b'm'] => b't',
            _ => match letters[..len]
                .iter()
                .find(|l| matches!(l, b'v' | b'q' | b't'))
            {
                Some(&l) => l,
                None => return self.load_latency(),
            },
        };
        for l in letters[..len].iter_mut() {
            if *l == b'm' {
                *l = reg;
            }
        }
        let twin = match letters[..len] {
            [b't'] => pack(b"tt"),
            _ => pack(&letters[..len]),
        };
        (self.table)(m)
            .iter()
            .filter(|c| c.form == twin)
            .min_by_key(|c| c.size.abs_diff(size))
            .map_or(self.load_latency(), |c| lat.saturating_sub(c.lat as u32))
    }

    fn sched_op(&self, ins: &Instruction, factory: &mut InstructionInfoFactory) -> SchedOp {
        use Mnemonic::*;
        let (lat, rthru, uops) = self.lookup(ins);
        let mnemonic = ins.mnemonic();
        let info = factory.info(ins);
        let mut srcs = 0u64;
        let mut dsts = 0u64;
        let mut uses_st = false;
        for u in info.used_registers() {
            let reg = u.register();
            let r = reg.full_register();
            let bit = if r.is_gpr() {
                1u64 << r.number()
            } else if reg.is_xmm() {
                srcs |= MXCSR;
                XMM0 << reg.number()
            } else if reg.is_mm() {
                MM0 << reg.number()
            } else if reg.is_st() {
                uses_st = true;
                X87
            } else {
                continue;
            };
            match u.access() {
                OpAccess::Read | OpAccess::CondRead => srcs |= bit,
                OpAccess::Write | OpAccess::CondWrite => dsts |= bit,
                OpAccess::ReadWrite | OpAccess::ReadCondWrite => {
                    srcs |= bit;
                    dsts |= bit;
                }
                _ => {}
            }
        }
        // iced-x86 counts the x87 condition codes C0-C3 among the flags;
        // they are part of the x87 resource here, not of RFLAGS.
        let x87_cc = RflagsBits::C0 | RflagsBits::C1 | RflagsBits::C2 | RflagsBits::C3;
        if ins.rflags_read() & !x87_cc != 0 {
            srcs |= FLAGS;
        }
        if ins.rflags_modified() & !x87_cc != 0 {
            dsts |= FLAGS;
        }
        // The x87 stack as one serial resource (see [`X87`]).
        let x87 = ins.cpuid_features().iter().any(|f| {
            matches!(
                f,
                CpuidFeature::FPU | CpuidFeature::FPU287 | CpuidFeature::FPU387
            )
        });
        if x87 {
            dsts |= X87;
            if !uses_st
                && !matches!(
                    mnemonic,
                    Fld | Fild | Fbld | Fld1 | Fldz | Fldpi | Fldl2e | Fldl2t | Fldlg2 | Fldln2
                )
            {
                srcs |= X87;
            }
        }
        // State saves read, and restores write, every x87, MMX and SSE
        // register; EMMS writes the x87 tags.
        match mnemonic {
            Fxsave | Fxsave64 => srcs |= VEC_ALL | X87 | MXCSR,
            Fxrstor | Fxrstor64 => dsts |= VEC_ALL | X87 | MXCSR,
            Fnsave => srcs |= (0xFF * MM0) | X87,
            Frstor => dsts |= (0xFF * MM0) | X87,
            Ldmxcsr => dsts |= MXCSR,
            Stmxcsr => srcs |= MXCSR,
            Emms => dsts |= X87,
            _ => {}
        }
        let loads = info.used_memory().iter().any(|m| {
            matches!(
                m.access(),
                OpAccess::Read | OpAccess::ReadWrite | OpAccess::CondRead | OpAccess::ReadCondWrite
            )
        });
        let mut addr = 0u64;
        for m in info.used_memory() {
            for r in [m.base(), m.index()] {
                let r = r.full_register();
                if r.is_gpr() {
                    addr |= 1u64 << r.number();
                }
            }
        }
        // Zero idioms (LLVM's X86 list): XOR/SUB of a register with
        // itself and their SSE/MMX counterparts depend on nothing.
        if matches!(
            mnemonic,
            Xor | Sub
                | Pxor
                | Xorps
                | Xorpd
                | Pandn
                | Andnps
                | Andnpd
                | Psubb
                | Psubw
                | Psubd
                | Psubq
                | Psubsb
                | Psubsw
                | Psubusb
                | Psubusw
                | Pcmpgtb
                | Pcmpgtw
                | Pcmpgtd
        ) && ins.op_count() == 2
            && ins.op0_kind() == OpKind::Register
            && ins.op1_kind() == OpKind::Register
            && ins.op0_register() == ins.op1_register()
        {
            srcs = 0;
        }
        // The stack engine: PUSH/POP/CALL/RET update RSP without waiting.
        let rsp = 1u64 << Register::RSP.number();
        let stack_engine = matches!(mnemonic, Push | Pop | Call | Ret);
        if stack_engine {
            srcs &= !rsp;
            addr &= !rsp;
        }
        let serializing = Self::transition_of(ins).is_some()
            || matches!(
                mnemonic,
                Cpuid | Invd | Wbinvd | Invlpg | Lgdt | Lidt | Lldt | Ltr | Retf | Hlt
                    // I/O instructions: SDM Vol. 1 Table 19-1.
                    | In | Insb | Insw | Insd | Out | Outsb | Outsw | Outsd
            )
            || (matches!(mnemonic, Call | Jmp)
                && ins.op_count() > 0
                && matches!(operand_letter(ins, 0), b'p' | b'f'))
            || (mnemonic == Mov
                && ins.op0_kind() == OpKind::Register
                && (ins.op0_register().is_cr() || ins.op0_register().is_dr()));
        let (m, form, size) = form_key(ins);
        let advance = if loads && srcs & !(0xFFFF | FLAGS) != 0 {
            self.vector_read_advance(ins, lat)
        } else {
            0
        };
        SchedOp {
            lat: lat as u64 * T,
            rthru: (rthru as u64 * T).div_ceil(100),
            uops: uops as u64,
            srcs,
            addr,
            dsts,
            loads,
            advance: advance as u64 * T,
            stack_engine,
            serializing,
            class: ((m as u64) << 32) | ((form as u64) << 8) | size as u64,
        }
    }
}

/// One instruction as the block schedule sees it (times in 1/[`T`] cycle).
struct SchedOp {
    lat: u64,
    rthru: u64,
    uops: u64,
    /// Resources read (GPRs in bits 0-15, [`FLAGS`], [`XMM0`].., [`MM0`]..,
    /// [`X87`], [`MXCSR`]).
    srcs: u64,
    /// Registers used to address memory.
    addr: u64,
    /// Resources written.
    dsts: u64,
    loads: bool,
    /// How much later than at issue a loading instruction needs its XMM,
    /// MM, x87 and MXCSR sources (see [`CycleModel::vector_read_advance`]).
    advance: u64,
    stack_engine: bool,
    serializing: bool,
    class: u64,
}

struct SchedState {
    ready: [u64; NRES],
    front: u64,
    all_done: u64,
    retire: u64,
    class_next: Vec<(u64, u64)>,
}

impl SchedState {
    fn step(&mut self, op: &SchedOp, per_uop: u64, load: u64) {
        let mut fe = self.front;
        let mut ready = 0u64;
        for r in 0..NRES {
            if op.srcs & (1 << r) == 0 {
                continue;
            }
            let t = self.ready[r];
            // ReadAfterLd: a non-address source of a loading instruction
            // (not the flags) is needed only once the load is done.
            let t = if op.loads && op.addr & (1 << r) == 0 && 1 << r != FLAGS {
                t.saturating_sub(if r < 16 { load } else { op.advance })
            } else {
                t
            };
            ready = ready.max(t);
        }
        for r in 0..16 {
            if op.addr & (1 << r) != 0 {
                ready = ready.max(self.ready[r]);
            }
        }
        if op.serializing {
            fe = fe.max(self.all_done);
            ready = ready.max(self.all_done);
        }
        let slot = self.class_next.iter_mut().find(|(c, _)| *c == op.class);
        let thr = slot.as_ref().map_or(0, |(_, t)| *t);
        let issue = fe.max(ready).max(thr);
        let done = issue + op.lat;
        match slot {
            Some(s) => s.1 = issue + op.rthru,
            None => self.class_next.push((op.class, issue + op.rthru)),
        }
        self.front = fe + op.uops * per_uop;
        if op.serializing {
            self.front = self.front.max(done);
        }
        for r in 0..NRES {
            if op.dsts & (1 << r) != 0 {
                self.ready[r] = if op.stack_engine && r == 4 {
                    issue
                } else {
                    done
                };
            }
        }
        self.all_done = self.all_done.max(done);
        self.retire = self.retire.max(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decode(bits: u32, bytes: &[u8]) -> Vec<Instruction> {
        Decoder::new(bits, bytes, DecoderOptions::NONE)
            .into_iter()
            .collect()
    }

    /// Every encoding the generator recorded decodes (with iced) to the
    /// key recorded next to it, so the tables are reachable.
    #[test]
    fn generated_keys_match_iced_decoding() {
        for (name, tsv) in [
            ("skylake", include_str!("../data/llvm/skylake.tsv")),
            ("zen2", include_str!("../data/llvm/zen2.tsv")),
        ] {
            let model = CycleModel::by_name(name).expect("profile");
            let mut rows = 0;
            let mut bad = Vec::new();
            for line in tsv.lines().filter(|l| !l.starts_with('#')) {
                let f: Vec<&str> = line.split('\t').collect();
                let bits: u32 = f[3].parse().expect("bits");
                let bytes: Vec<u8> = (0..f[4].len() / 2)
                    .map(|k| u8::from_str_radix(&f[4][2 * k..2 * k + 2], 16).expect("hex"))
                    .collect();
                let ins = Decoder::new(bits, &bytes, DecoderOptions::NONE).decode();
                let (m, form, size) = form_key(&ins);
                let want = (
                    f[0].to_string(),
                    pack(f[1].as_bytes()),
                    f[2].parse::<u8>().expect("size"),
                );
                if (format!("{m:?}"), form, size) != want {
                    bad.push(format!("{name}: {line}: got {m:?} {form:#x} {size}"));
                    continue;
                }
                let lat: u32 = f[6].parse().expect("latency");
                if CycleModel::transition_of(&ins).is_none() {
                    assert_eq!(model.cost(&ins), lat, "{name}: {line}");
                }
                rows += 1;
            }
            assert!(bad.is_empty(), "{}", bad.join("\n"));
            assert!(rows > 900, "{name}: {rows} rows");
        }
    }

    /// Lists, for `scripts/gen_cycle_tables.py`, one encoding of every
    /// x87, MMX and SSE-family instruction form sysgate has a handler for
    /// (register and `[rsi]` memory operands, 64-bit mode), one line per
    /// key: `fpform <mnemonic> <letters> <size> <hex>`. Found by decoding
    /// FWAIT (9B) and every legacy opcode of the 0F, 0F 38, 0F 3A and
    /// D8-DF maps with each mandatory prefix, with and without REX.W, and
    /// each ModRM register field with a register and a memory operand
    /// (every ModRM byte from C0 for D8-DF).
    #[test]
    #[ignore]
    fn list_fp_forms() {
        use iced_x86::CpuidFeature as F;
        let fp = [
            F::FPU,
            F::FPU287,
            F::FPU387,
            F::MMX,
            F::SSE,
            F::SSE2,
            F::SSE3,
            F::SSSE3,
            F::SSE4_1,
            F::SSE4_2,
            F::FXSR,
        ];
        let mut opcodes: Vec<Vec<u8>> = vec![vec![0x9B]];
        for b in 0..=255u8 {
            opcodes.push(vec![0x0F, b]);
            opcodes.push(vec![0x0F, 0x38, b]);
            opcodes.push(vec![0x0F, 0x3A, b]);
        }
        opcodes.extend((0xD8..=0xDFu8).map(|b| vec![b]));
        let mut seen = std::collections::HashSet::new();
        for pre in [None, Some(0x66u8), Some(0xF2), Some(0xF3)] {
            for rex in [None, Some(0x48u8)] {
                for op in &opcodes {
                    let x87 = matches!(op.last(), Some(0xD8..=0xDF));
                    let modrms: Vec<u8> = if x87 {
                        (0..8u8).map(|r| 0x06 | r << 3).chain(0xC0..=0xFF).collect()
                    } else {
                        (0..8u8)
                            .flat_map(|r| [0x06 | r << 3, 0xC1 | r << 3])
                            .collect()
                    };
                    for modrm in modrms {
                        let mut bytes: Vec<u8> = Vec::new();
                        bytes.extend(pre);
                        bytes.extend(rex);
                        bytes.extend(op);
                        bytes.extend([modrm, 0x12, 0, 0, 0, 0, 0, 0]);
                        let ins = Decoder::new(64, &bytes, DecoderOptions::NONE).decode();
                        if ins.is_invalid()
                            || std::ptr::eq(
                                crate::insn::handler(&ins) as *const (),
                                crate::insn::undefined as *const (),
                            )
                            || !(ins.cpuid_features().iter().any(|f| fp.contains(f))
                                || ins.mnemonic() == Mnemonic::Wait)
                        {
                            continue;
                        }
                        let (m, letters, len, size) = form_letters(&ins);
                        let letters = String::from_utf8_lossy(&letters[..len]).into_owned();
                        if seen.insert((m, letters.clone(), size)) {
                            let hex: String = bytes[..ins.len()]
                                .iter()
                                .map(|b| format!("{b:02x}"))
                                .collect();
                            println!("fpform\t{m:?}\t{letters}\t{size}\t{hex}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn profiles_by_name() {
        assert_eq!(CycleModel::NAMES, &["skylake", "zen2"]);
        for n in CycleModel::NAMES {
            assert_eq!(CycleModel::by_name(n).map(|m| m.name()), Some(*n));
        }
        assert!(CycleModel::by_name("nosuch").is_none());
        assert_eq!(CycleModel::default(), CycleModel::skylake());
    }

    #[test]
    fn form_keys() {
        let key = |bits, b: &[u8]| {
            let (m, f, s) = form_key(&decode(bits, b)[0]);
            (m, f, s)
        };
        // add rax, rbx / add rax, [rbx] / lock add [rbx], rax
        assert_eq!(
            key(64, &[0x48, 0x01, 0xD8]),
            (Mnemonic::Add, pack(b"rr"), 8)
        );
        assert_eq!(
            key(64, &[0x48, 0x03, 0x03]),
            (Mnemonic::Add, pack(b"rm"), 8)
        );
        assert_eq!(
            key(64, &[0xF0, 0x48, 0x01, 0x03]),
            (Mnemonic::Add, pack(b"Lmr"), 8)
        );
        // shl eax, 1 (D1 /4) vs shl eax, 1 (C1 /4 ib)
        assert_eq!(key(64, &[0xD1, 0xE0]), (Mnemonic::Shl, pack(b"r1"), 4));
        assert_eq!(key(64, &[0xC1, 0xE0, 1]), (Mnemonic::Shl, pack(b"ri"), 4));
        // sal (D1 /6) is looked up as shl
        assert_eq!(key(64, &[0xD1, 0xF0]), (Mnemonic::Shl, pack(b"r1"), 4));
    }

    #[test]
    fn fallbacks() {
        let m = CycleModel::skylake();
        // add al, [rsi] with a 32-bit address size is the same form.
        let i = &decode(64, &[0x67, 0x02, 0x06])[0];
        assert_eq!(m.cost(i), 6);
        // A form not in the tables (AVX, which sysgate does not execute):
        // 1 + load latency with memory (vaddps xmm0, xmm0, [rax]), 1
        // without (vaddps xmm0, xmm0, xmm1).
        assert_eq!(m.cost(&decode(64, &[0xC5, 0xF8, 0x58, 0x00])[0]), 1 + 5);
        assert_eq!(m.cost(&decode(64, &[0xC5, 0xF8, 0x58, 0xC1])[0]), 1);
        // x87 and SSE forms are in the tables: fld dword [rax], fld
        // st(1), addsd xmm0, xmm1 (LLVM on Skylake: 7, 1, 4).
        assert_eq!(m.cost(&decode(64, &[0xD9, 0x00])[0]), 7);
        assert_eq!(m.cost(&decode(64, &[0xD9, 0xC1])[0]), 1);
        assert_eq!(m.cost(&decode(64, &[0xF2, 0x0F, 0x58, 0xC1])[0]), 4);
        assert_eq!(m.load_latency(), 5);
        assert_eq!(m.walk_cycles(), 20);
    }

    /// The x87/SSE dependency tracking: XMM registers, the zero idioms,
    /// MXCSR, the x87 stack and the folded-load read advance.
    #[test]
    fn vector_and_x87_dependencies() {
        for m in [CycleModel::skylake(), CycleModel::zen2()] {
            let sum = |b: &[u8]| m.schedule(&decode(64, b)).iter().sum::<u32>();
            let addsd = m.cost(&decode(64, &[0xF2, 0x0F, 0x58, 0xC1])[0]);
            // addsd xmm0, xmm1 twice: a chain through XMM0.
            let chain = [0xF2, 0x0F, 0x58, 0xC1, 0xF2, 0x0F, 0x58, 0xC1];
            assert_eq!(sum(&chain), 2 * addsd, "{}", m.name());
            // pxor xmm0, xmm0 first breaks the loop-carried chain: the
            // copies overlap (one ADDSD latency after PXOR's, not two).
            let broken = [0x66, 0x0F, 0xEF, 0xC0, 0xF2, 0x0F, 0x58, 0xC1];
            assert!(sum(&broken) < 2 * addsd, "{}", m.name());
            // addsd xmm0, [rsi]: the load overlaps the previous ADDSD.
            let mem = [0xF2, 0x0F, 0x58, 0x06, 0xF2, 0x0F, 0x58, 0x06];
            assert_eq!(sum(&mem), 2 * addsd, "{}", m.name());
            // fadd st(0), st(1); fmul st(0), st(1): one chain through the
            // stack. Adding fld qword [rsi] (which waits for nothing) and
            // fstp qword [rdi] (which waits for the FMUL) does not make
            // the chain loop-carried through the FLD: no dearer.
            let fadd = m.cost(&decode(64, &[0xD8, 0xC1])[0]);
            let fmul = m.cost(&decode(64, &[0xD8, 0xC9])[0]);
            assert_eq!(sum(&[0xD8, 0xC1, 0xD8, 0xC9]), fadd + fmul, "{}", m.name());
            let x87 = [0xDD, 0x06, 0xD8, 0xC1, 0xD8, 0xC9, 0xDD, 0x1F];
            assert!(sum(&x87) <= fadd + fmul, "{}", m.name());
        }
        // The resources each reads and writes.
        let m = CycleModel::skylake();
        let mut f = InstructionInfoFactory::new();
        let mut op = |b: &[u8]| {
            let o = m.sched_op(&decode(64, b)[0], &mut f);
            (o.srcs, o.dsts)
        };
        // addsd xmm0, xmm1
        assert_eq!(
            op(&[0xF2, 0x0F, 0x58, 0xC1]),
            (XMM0 | XMM0 << 1 | MXCSR, XMM0)
        );
        // paddw mm2, mm3
        assert_eq!(op(&[0x0F, 0xFD, 0xD3]), (MM0 << 2 | MM0 << 3, MM0 << 2));
        // ldmxcsr [rsi] / stmxcsr [rsi]
        assert_eq!(op(&[0x0F, 0xAE, 0x16]), (1 << 6, MXCSR));
        assert_eq!(op(&[0x0F, 0xAE, 0x1E]), (1 << 6 | MXCSR, 0));
        // fld qword [rsi] / fadd st(0), st(1) / fnstsw ax
        assert_eq!(op(&[0xDD, 0x06]), (1 << 6, X87));
        assert_eq!(op(&[0xD8, 0xC1]), (X87, X87));
        assert_eq!(op(&[0xDF, 0xE0]), (X87, X87 | 1));
        // fxsave [rsi] reads, fxrstor [rsi] writes every vector register.
        let (s, _) = op(&[0x0F, 0xAE, 0x06]);
        assert_eq!(s & (VEC_ALL | X87 | MXCSR), VEC_ALL | X87 | MXCSR);
        let (_, d) = op(&[0x0F, 0xAE, 0x0E]);
        assert_eq!(d & (VEC_ALL | X87 | MXCSR), VEC_ALL | X87 | MXCSR);
    }

    /// The I/O instructions are serializing (SDM Vol. 1 Table 19-1: the
    /// processor delays the next instruction until IN, INS, OUT or OUTS
    /// completes, and OUT/OUTS until pending stores complete): nothing
    /// around them overlaps.
    #[test]
    fn io_instructions_serialize() {
        let m = CycleModel::skylake();
        let mut f = iced_x86::InstructionInfoFactory::new();
        // out 0x80, al; out dx, al; in al, 0x80; in al, dx; outsb; insb.
        for bytes in [
            &[0xE6, 0x80][..],
            &[0xEE],
            &[0xE4, 0x80],
            &[0xEC],
            &[0x6E],
            &[0x6C],
        ] {
            let ins = decode(64, bytes)[0];
            assert!(m.sched_op(&ins, &mut f).serializing, "{ins}");
        }
        // Two independent adds around an OUT, in a loop: they overlap each
        // other between one OUT and the next, never an OUT, so a copy
        // costs the OUT plus one add.
        let out: u32 = m.schedule(&decode(64, &[0xE6, 0x80])).iter().sum();
        let around = decode(64, &[0x48, 0x01, 0xD8, 0xE6, 0x80, 0x48, 0x01, 0xD9]);
        let total: u32 = m.schedule(&around).iter().sum();
        assert_eq!(total, out + 1);
    }

    /// Hand-computed schedules (Skylake: width 6, so 2/12 cycle per uop).
    #[test]
    fn schedule_examples() {
        let m = CycleModel::skylake();
        // A chain of three dependent 1-cycle adds (add rax, rbx; add rax,
        // rcx; add rax, rdx): copy 2 starts after copy 1's result: 3.
        let chain = decode(64, &[0x48, 0x01, 0xD8, 0x48, 0x01, 0xC8, 0x48, 0x01, 0xD0]);
        assert_eq!(m.schedule(&chain), vec![1, 1, 1]);
        // Three independent adds (add rax, rbx; add rcx, rbx; add rdx,
        // rbx), each depending only on its own previous copy. Same-form
        // adds issue at most every 3/12 cycle (reciprocal throughput
        // 0.25), so each copy issues them at t, t+3/12, t+6/12 with t one
        // cycle after the previous copy's: the block costs 1. In the last
        // copy the three advance the retire time by 6/12, 3/12 and 3/12:
        // rounded, the cycle goes to the first.
        let indep = decode(64, &[0x48, 0x01, 0xD8, 0x48, 0x01, 0xD9, 0x48, 0x01, 0xDA]);
        assert_eq!(m.schedule(&indep), vec![1, 0, 0]);
        // SYSCALL alone (serializing): its calibrated cost.
        assert_eq!(m.schedule(&decode(64, &[0x0F, 0x05])), vec![38]);
        // NOP alone: the minimum of one cycle per block.
        assert_eq!(m.schedule(&decode(64, &[0x90])).iter().sum::<u32>(), 1);
    }
}

//! The cycle model: modeled CPU cycles charged for every retired
//! instruction.
//!
//! The first profile, `skylake`, charges each instruction its latency on
//! Intel Skylake-client as listed in Agner Fog's "Instruction tables"
//! (Lists of instruction latencies, throughputs and micro-operation
//! breakdowns, Skylake section) and uops.info, rounded up to whole cycles,
//! plus the L1 load-to-use latency (4 cycles, Intel Optimization Reference
//! Manual §2.2, Skylake L1D) when the instruction reads memory. This is an
//! in-order, one-instruction-at-a-time model: an upper bound that ignores
//! superscalar overlap. Figures marked "estimate" are not from a table.
//!
//! Costs are computed once per instruction when it is decoded, so counting
//! cycles adds a single addition to the hot path. The count is exact and
//! deterministic: it depends only on the instructions executed.

use iced_x86::{Instruction, Mnemonic, OpKind};

/// L1 data cache load-to-use latency added for a memory read (Skylake).
const LOAD_LATENCY: u32 = 4;

/// Estimate, to be calibrated: delivery of an interrupt or exception
/// through an IDT gate (INT n, INT3, INTO, INT1, and exceptions delivered
/// by the run loop). The one published Skylake figure at hand is about
/// 614 cycles for an `int` + `iretq` round trip with an empty handler
/// (x86.lol, "kernel entry", 2019); the entry is taken as about 2/3 of it.
pub const INT_DELIVERY_CYCLES: u32 = 410;

/// Estimate, to be calibrated: IRET/IRETD/IRETQ, the remaining ~1/3 of
/// the round trip of [`INT_DELIVERY_CYCLES`].
pub const IRET_CYCLES: u32 = 204;

/// A named cycle-cost profile.
#[derive(Clone, Copy, Debug)]
pub struct CycleModel {
    name: &'static str,
    cost: fn(&Instruction) -> u32,
    delivery: u32,
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

impl CycleModel {
    /// Intel Skylake-client latencies (the default profile).
    pub fn skylake() -> CycleModel {
        CycleModel {
            name: "skylake",
            cost: skylake_cost,
            delivery: INT_DELIVERY_CYCLES,
        }
    }

    /// Looks a profile up by name.
    pub fn by_name(name: &str) -> Option<CycleModel> {
        match name {
            "skylake" => Some(CycleModel::skylake()),
            _ => None,
        }
    }

    /// The names of all profiles.
    pub const NAMES: &'static [&'static str] = &["skylake"];

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The cycles charged for one execution of `ins`.
    pub fn cost(&self, ins: &Instruction) -> u32 {
        (self.cost)(ins)
    }

    /// The cycles charged for delivering an exception through the IDT
    /// (software interrupts are charged as instructions).
    pub fn delivery_cycles(&self) -> u32 {
        self.delivery
    }
}

fn reads_memory(ins: &Instruction) -> bool {
    use Mnemonic::*;
    if matches!(
        ins.mnemonic(),
        Lea | Nop | Prefetchnta | Prefetcht0 | Prefetcht1 | Prefetcht2
    ) {
        return false;
    }
    (0..ins.op_count()).any(|n| ins.op_kind(n) == OpKind::Memory)
        && !(ins.mnemonic() == Mov && ins.op0_kind() == OpKind::Memory)
}

fn operand_bytes(ins: &Instruction) -> usize {
    match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size(),
        OpKind::Memory => ins.memory_size().size(),
        _ => 4,
    }
}

/// Skylake-client latencies (Agner Fog, instruction tables, Skylake).
#[rustfmt::skip]
fn skylake_cost(ins: &Instruction) -> u32 {
    use Mnemonic::*;
    let wide = operand_bytes(ins) == 8;
    let base = match ins.mnemonic() {
        // Integer multiply: IMUL r,r 3; MUL/IMUL r64 (one operand) 3;
        // MUL r32 4.
        Imul | Mul => if ins.op_count() == 1 && !wide { 4 } else { 3 },
        // Division: DIV r8/r16 23, r32 26, r64 35-88 (42 taken as typical
        // for small quotients: estimate within Agner's range); IDIV r64 42-95.
        Div => match operand_bytes(ins) { 1 | 2 => 23, 4 => 26, _ => 42 },
        Idiv => match operand_bytes(ins) { 1 | 2 => 24, 4 => 26, _ => 52 },
        // Shifts and rotates by CL: 2; RCL/RCR by 1: 2, by n: 6;
        // SHLD/SHRD: 3 (imm), 4 (CL).
        Shl | Shr | Sar | Sal | Rol | Ror if ins.op_count() > 1 && ins.op1_kind() == OpKind::Register => 2,
        Rcl | Rcr => if ins.op_count() > 1 && ins.op1_kind() == OpKind::Immediate8 && ins.immediate8() == 1 { 2 } else { 6 },
        Shld | Shrd => if ins.op2_kind() == OpKind::Register { 4 } else { 3 },
        Bsf | Bsr | Tzcnt | Lzcnt | Popcnt => 3,
        Bswap if wide => 2,
        Bt | Bts | Btr | Btc if ins.op0_kind() == OpKind::Memory && ins.op1_kind() == OpKind::Register => 10,
        Cmpxchg | Xadd => if ins.op0_kind() == OpKind::Memory { 18 } else { 2 },
        Cmpxchg8b | Cmpxchg16b => 19,
        // XCHG with memory is implicitly locked.
        Xchg => if ins.op0_kind() == OpKind::Memory || ins.op1_kind() == OpKind::Memory { 18 } else { 2 },
        Call => 3,
        Ret | Retf => 2,
        Enter => 8,
        Leave => 2,
        Loop | Loope | Loopne => 5,
        Jrcxz | Jecxz | Jcxz => 2,
        Pushf | Pushfd | Pushfq => 3,
        Popf | Popfd | Popfq => 9,
        Lahf | Sahf => 1,
        // Software interrupts and IRET (estimates, see INT_DELIVERY_CYCLES;
        // INTO is charged the delivery whether or not OF is set).
        Int | Int3 | Into | Int1 => INT_DELIVERY_CYCLES,
        Iret | Iretd | Iretq => IRET_CYCLES,
        Cpuid => 100,
        Rdtsc => 25,
        Rdtscp => 32,
        Lfence => 4,
        Mfence => 33,
        Sfence => 6,
        Pause => 140,
        Cmc | Clc | Stc | Cld => 1,
        Std => 4,
        Cli | Sti => 2,
        Hlt => 1,
        // Segment register loads: MOV sreg, r 6 (Agner Fog, "MOV sreg,r/m").
        Lds | Les | Lfs | Lgs | Lss => 10,
        Daa | Das | Aaa | Aas => 3,
        Aam => 11,
        Aad => 4,
        Xlatb => 5,
        Movsb | Movsw | Movsd | Movsq | Stosb | Stosw | Stosd | Stosq
        | Lodsb | Lodsw | Lodsd | Lodsq | Cmpsb | Cmpsw | Cmpsd | Cmpsq
        | Scasb | Scasw | Scasd | Scasq => 1,
        _ => 1,
    };
    base + if reads_memory(ins) { LOAD_LATENCY } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn cost(bytes: &[u8]) -> u32 {
        let ins = Decoder::new(64, bytes, DecoderOptions::NONE).decode();
        CycleModel::skylake().cost(&ins)
    }

    #[test]
    fn skylake_costs_follow_the_table() {
        assert_eq!(cost(&[0x48, 0x01, 0xD8]), 1); // add rax, rbx
        assert_eq!(cost(&[0x48, 0x03, 0x03]), 5); // add rax, [rbx]
        assert_eq!(cost(&[0x48, 0x89, 0x03]), 1); // mov [rbx], rax
        assert_eq!(cost(&[0x48, 0x0F, 0xAF, 0xC3]), 3); // imul rax, rbx
        assert_eq!(cost(&[0xF7, 0xF3]), 26); // div ebx
        assert_eq!(cost(&[0x0F, 0xA2]), 100); // cpuid
        assert_eq!(cost(&[0xCD, 0x80]), INT_DELIVERY_CYCLES); // int 0x80
        assert_eq!(cost(&[0x48, 0xCF]), IRET_CYCLES); // iretq
        assert_eq!(CycleModel::skylake().delivery_cycles(), INT_DELIVERY_CYCLES);
        assert_eq!(
            CycleModel::by_name("skylake").map(|m| m.name()),
            Some("skylake")
        );
        assert!(CycleModel::by_name("nosuch").is_none());
    }
}

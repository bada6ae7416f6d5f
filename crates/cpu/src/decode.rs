//! The decoded-instruction cache.
//!
//! Code is decoded once with iced-x86 into blocks that end where control
//! flow leaves straight-line execution (iced's `flow_control()` is not
//! `Next`), where an instruction may change the mode or the mapping of
//! code, or at a page boundary. A forward conditional jump does not end a
//! block: the block goes on along its fall-through path (a superblock), and
//! the jump, when taken, leaves the block there as a side exit. In 64-bit
//! code a direct JMP, and a backward conditional jump (which closes a loop
//! and is mostly taken), whose target is in the page the block starts in
//! and not decoded into the block yet, do not end it either: the block goes
//! on at the target (a trace), the conditional jump leaving it when not
//! taken. So a loop entered from the middle (after a call, or a system
//! call's return) runs as one block up to its top, not two. Blocks are
//! keyed by the physical address of
//! their first byte and the code size (16/32/64), and remember the CS offset
//! they were decoded at (iced folds RIP-relative and branch targets into the
//! instruction). Every page a block was decoded from is marked in
//! [`sysgate_mmu::PhysMem`]; a write to such a page queues it, and the run
//! loop drops the page's blocks before it executes again, so
//! self-modifying code sees its own writes.
//!
//! Each block caches the index of the block that followed it last time on
//! each exit (fall-through, taken, side exit), so a hot loop does not look
//! up the hash map on every branch.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, OpKind, Register};
use sysgate_mmu::{Access, PAGE_SIZE};

use crate::cycles::CycleModel;
use crate::exception::Exception;
use crate::insn;
use crate::state::{Cpu, SegReg};

/// An instruction handler: executes one decoded instruction. The C calling
/// convention returns the result in registers (see `insn`); only Rust
/// calls handlers.
#[allow(improper_ctypes_definitions)]
pub type Handler = extern "C" fn(&mut Cpu, &Insn) -> Result<(), Exception>;

/// Slot number used for "no register" in [`MemForm`].
pub(crate) const NO_REG: u8 = 0xFF;

/// A decoded operand kind, precomputed so handlers avoid iced's accessors on
/// the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opnd {
    /// No operand.
    None,
    /// A general-purpose register: slot 0-15, or 16-19 for AH/CH/DH/BH.
    Reg(u8),
    /// A segment register (encoding order).
    Seg(u8),
    /// An immediate (value in [`Insn::imm`] for operand 1, or iced's).
    Imm,
    /// A memory operand described by [`Insn::mem`].
    Mem,
    /// Anything else (control/debug/x87/vector registers, branch targets).
    Other,
}

/// The parts of a memory operand, precomputed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemForm {
    /// Base register slot or [`NO_REG`].
    pub base: u8,
    /// Index register slot or [`NO_REG`].
    pub index: u8,
    /// log2 of the index scale.
    pub scale: u8,
    /// Effective segment (encoding order).
    pub seg: u8,
    /// Address size in bytes (2, 4 or 8).
    pub asize: u8,
    /// Displacement (for RIP-relative operands: the absolute address).
    pub disp: u64,
}

/// One decoded instruction with what its handler needs precomputed.
#[derive(Clone, Debug)]
pub struct Insn {
    pub(crate) exec: Handler,
    pub(crate) ops: [Opnd; 3],
    /// Size of operand 0 in bytes (register or memory).
    pub(crate) size: u8,
    /// Size of operand 1 in bytes (register or memory), 0 when none.
    pub(crate) size1: u8,
    pub(crate) mem: MemForm,
    /// The first immediate operand's value, masked to the operand size it
    /// is used at (sign-extended per encoding first).
    pub(crate) imm: u64,
    /// Modeled cycles charged when the instruction retires.
    pub(crate) cycles: u32,
    /// Cycles of the instructions before this one in its block.
    pub(crate) cum: u32,
    /// GPR slots of operands 0 and 1 when they are general registers, the
    /// register number when they are XMM or MM registers (else 0).
    pub(crate) reg: [u8; 2],
    /// Condition-code nibble of Jcc/SETcc/CMOVcc (SDM Vol. 1 Appendix B);
    /// for the 64-bit stack operations that may join a stack-frame run,
    /// their kind and whether the run they start writes memory
    /// (`insn::faststack::mark_runs`).
    pub(crate) cond: u8,
    /// How many instructions, this one first, form a run of stack pushes
    /// or pops the run loop may execute at once (see
    /// `insn::faststack::mark_runs`); 0 when this one starts none.
    pub(crate) run: u8,
    /// For an instruction that starts a stack-frame run (a run mixing
    /// pushes, pops and RSP-relative moves): the bytes the run accesses,
    /// `[lo, hi)` relative to RSP before it; `[0, 0]` otherwise.
    pub(crate) frame: [i16; 2],
    /// The decoded instruction.
    pub ins: Instruction,
}

impl Insn {
    /// The CS offset of the instruction.
    #[inline(always)]
    pub fn ip(&self) -> u64 {
        self.ins.ip()
    }

    /// The CS offset of the next instruction.
    #[inline(always)]
    pub fn next_ip(&self) -> u64 {
        self.ins.next_ip()
    }

    /// The modeled cycles charged when this instruction retires.
    pub fn cycles(&self) -> u32 {
        self.cycles
    }
}

/// Maps an iced register to a GPR slot (16-19 for the legacy high bytes).
pub(crate) fn gpr_slot(r: Register) -> Option<u8> {
    match r {
        Register::AH => Some(16),
        Register::CH => Some(17),
        Register::DH => Some(18),
        Register::BH => Some(19),
        _ if r.is_gpr() => Some(r.full_register().number() as u8),
        _ => None,
    }
}

fn seg_index(r: Register) -> Option<u8> {
    Some(match r {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::DS => 3,
        Register::FS => 4,
        Register::GS => 5,
        _ => return None,
    })
}

fn operand(ins: &Instruction, n: u32) -> (Opnd, u8) {
    if n >= ins.op_count() {
        return (Opnd::None, 0);
    }
    match ins.op_kind(n) {
        OpKind::Register => {
            let r = ins.op_register(n);
            if let Some(slot) = gpr_slot(r) {
                (Opnd::Reg(slot), r.size() as u8)
            } else if let Some(s) = seg_index(r) {
                (Opnd::Seg(s), 2)
            } else {
                (Opnd::Other, r.size() as u8)
            }
        }
        OpKind::Memory => (Opnd::Mem, ins.memory_size().size() as u8),
        OpKind::MemorySegSI
        | OpKind::MemorySegESI
        | OpKind::MemorySegRSI
        | OpKind::MemorySegDI
        | OpKind::MemorySegEDI
        | OpKind::MemorySegRDI
        | OpKind::MemoryESDI
        | OpKind::MemoryESEDI
        | OpKind::MemoryESRDI => (Opnd::Other, ins.memory_size().size() as u8),
        OpKind::Immediate8 | OpKind::Immediate8_2nd => (Opnd::Imm, 1),
        OpKind::Immediate16 | OpKind::Immediate8to16 => (Opnd::Imm, 2),
        OpKind::Immediate32 | OpKind::Immediate8to32 => (Opnd::Imm, 4),
        OpKind::Immediate64 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => (Opnd::Imm, 8),
        _ => (Opnd::Other, 0),
    }
}

fn mem_form(ins: &Instruction, bits: u32) -> MemForm {
    let base_reg = ins.memory_base();
    let index_reg = ins.memory_index();
    let rip_rel = matches!(base_reg, Register::RIP | Register::EIP);
    let base = if rip_rel {
        NO_REG
    } else {
        gpr_slot(base_reg).unwrap_or(NO_REG)
    };
    let index = gpr_slot(index_reg).unwrap_or(NO_REG);
    let asize = if rip_rel {
        if base_reg == Register::RIP { 8 } else { 4 }
    } else if base_reg != Register::None {
        base_reg.size() as u8
    } else if index_reg != Register::None {
        index_reg.size() as u8
    } else {
        match ins.memory_displ_size() {
            2 => 2,
            4 => 4,
            8 => 8,
            _ => (bits / 8) as u8,
        }
    };
    let seg = seg_index(ins.memory_segment()).unwrap_or(SegReg::Ds as u8);
    MemForm {
        base,
        index,
        scale: ins.memory_index_scale().trailing_zeros() as u8,
        seg,
        asize,
        disp: ins.memory_displacement64(),
    }
}

/// True when the block must end after this instruction even though control
/// flow continues: instructions that may change the mode, the code mapping
/// or the interrupt state the run loop checks between blocks.
fn ends_block(ins: &Instruction) -> bool {
    use iced_x86::Mnemonic::*;
    if ins.flow_control() != FlowControl::Next {
        return true;
    }
    let op0_special = ins.op_count() > 0
        && ins.op0_kind() == OpKind::Register
        && (ins.op0_register().is_cr() || ins.op0_register().is_segment_register());
    match ins.mnemonic() {
        Mov | Pop => op0_special,
        Lmsw | Clts | Wrmsr | Invlpg | Lgdt | Lidt | Lldt | Ltr | Popf | Popfd | Popfq | Sti
        | Cli | Lss | Hlt | Wbinvd | Invd | Cpuid | In | Insb | Insw | Insd | Outsb | Outsw
        | Outsd => true,
        // A repeated string instruction may stop part-way and resume
        // itself (insn/string.rs), so nothing may follow it in the block.
        _ => ins.is_string_instruction() && (ins.has_rep_prefix() || ins.has_repne_prefix()),
    }
}

// Decoded blocks are arrays of these: keep them at 96 bytes.
const _: () = assert!(std::mem::size_of::<Insn>() == 96);

impl Insn {
    /// Decodes the precomputed form of `ins` for code size `bits`.
    pub(crate) fn new(ins: Instruction, bits: u32, cycles: u32) -> Insn {
        let (o0, s0) = operand(&ins, 0);
        let (o1, s1) = operand(&ins, 1);
        let (o2, _) = operand(&ins, 2);
        let imm_n = [o0, o1, o2].iter().position(|o| *o == Opnd::Imm);
        let near_branch = ins.op_count() > 0
            && matches!(
                ins.op0_kind(),
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
            );
        // Near branches keep their target where an immediate would be.
        let imm = if near_branch {
            ins.near_branch_target()
        } else {
            imm_n.map_or(0, |n| ins.immediate(n as u32))
        };
        // x87 instructions have no immediate: `imm` carries their FOP.
        let imm = if imm_n.is_none() && !near_branch {
            insn::x87_fop(&ins).map_or(imm, u64::from)
        } else {
            imm
        };
        let mem = mem_form(&ins, bits);
        // Vector registers (XMM, MM) keep their number in `reg` so the SSE
        // and MMX handlers need no iced accessor at run time.
        let slot = |o: Opnd, n: u32| match o {
            Opnd::Reg(s) => s,
            Opnd::Other if ins.op_kind(n) == OpKind::Register => {
                let r = ins.op_register(n);
                if r.is_xmm() || r.is_mm() {
                    r.number() as u8
                } else {
                    0
                }
            }
            _ => 0,
        };
        let cond = match ins.condition_code() {
            iced_x86::ConditionCode::None => 0,
            cc => cc as u8 - 1,
        };
        Insn {
            exec: insn::handler(&ins),
            ops: [o0, o1, o2],
            size: s0,
            size1: s1,
            mem,
            imm,
            cycles,
            cum: 0,
            reg: [slot(o0, 0), slot(o1, 1)],
            cond,
            run: 0,
            frame: [0, 0],
            ins,
        }
    }
}

/// A block of decoded instructions (a superblock: see the module docs).
pub(crate) struct Block {
    /// CS offset of the first instruction.
    pub ip: u64,
    /// Physical address of the first byte.
    pub phys: u64,
    /// Code size the block was decoded for.
    pub bits: u32,
    /// Physical page of the last instruction's bytes when it crosses into
    /// the next linear page (its translation is re-checked on entry).
    pub phys2: Option<u64>,
    /// Offset just past the last byte (for the CS limit check).
    pub end_ip: u64,
    /// The instructions.
    pub insns: Box<[Insn]>,
    /// Cached successor block index for the fall-through exit, the taken
    /// exit of the last instruction, and the side exits (taken forward
    /// jumps from inside the block).
    pub succ: [u32; 3],
    /// The fetch translation of `ip` last found `phys` in the TLB (or
    /// filled it) at this [`sysgate_mmu::Mmu::tlb_generation`], with this
    /// `Cpu::fetch_key` and CS base: while all of them still hold, the TLB
    /// would give the same answer again. [`NO_FETCH_KEY`] when nothing is
    /// remembered.
    pub fetch_generation: u64,
    /// See `fetch_generation`.
    pub fetch_key: u64,
    /// See `fetch_generation`.
    pub fetch_base: u64,
}

/// [`Block::fetch_key`] when no fetch translation is remembered (no real
/// key has bits above 32).
pub(crate) const NO_FETCH_KEY: u64 = u64::MAX;

#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Statistics of the decode cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Block lookups answered from the cache (including chained successors).
    pub hits: u64,
    /// Blocks decoded.
    pub misses: u64,
    /// Blocks dropped because their code was written.
    pub invalidations: u64,
}

/// Index meaning "no block".
pub(crate) const NO_BLOCK: u32 = u32::MAX;

/// Maximum instructions per block.
const MAX_BLOCK_INSNS: usize = 64;

/// Maximum branches a block's decoding follows to their targets.
const MAX_FOLLOWED: usize = 4;

/// Blocks kept before the cache is cleared wholesale.
const MAX_BLOCKS: usize = 1 << 16;

/// The decoded-instruction cache.
#[derive(Default)]
pub(crate) struct DecodeCache {
    pub blocks: Vec<Block>,
    map: FxMap<(u64, u32), u32>,
    by_page: FxMap<u64, Vec<u32>>,
    pub stats: DecodeStats,
    /// The `PhysMem::code_generation` the cache is consistent with.
    pub generation: u64,
}

impl DecodeCache {
    /// Drops every block.
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.map.clear();
        self.by_page.clear();
    }

    /// Drops the blocks decoded from the given physical pages.
    pub fn invalidate_pages(&mut self, pages: &[u64]) {
        for ppn in pages {
            if let Some(ids) = self.by_page.remove(ppn) {
                for id in ids {
                    if let Some(b) = self.blocks.get_mut(id as usize) {
                        let key = (b.phys, b.bits);
                        if self.map.get(&key) == Some(&id) {
                            self.map.remove(&key);
                            self.stats.invalidations += 1;
                        }
                        // Make the slot unreachable through chaining too
                        // (including the remembered fetch translation, which
                        // a chained lookup trusts instead of `phys`).
                        b.phys = u64::MAX;
                        b.succ = [NO_BLOCK; 3];
                        b.fetch_key = NO_FETCH_KEY;
                    }
                }
            }
        }
    }

    /// Finds or decodes the block at CS offset `ip` whose first byte is at
    /// physical address `pa`.
    pub fn lookup(
        &mut self,
        cpu: &mut Cpu,
        model: &CycleModel,
        ip: u64,
        pa: u64,
        bits: u32,
    ) -> Result<u32, Exception> {
        if let Some(&id) = self.map.get(&(pa, bits)) {
            let b = &self.blocks[id as usize];
            if b.ip == ip && self.still_valid(cpu, id) {
                self.stats.hits += 1;
                return Ok(id);
            }
        }
        self.stats.misses += 1;
        if self.blocks.len() >= MAX_BLOCKS {
            self.clear();
        }
        let block = decode_block(cpu, model, ip, pa, bits)?;
        let id = self.blocks.len() as u32;
        self.by_page.entry(pa >> 12).or_default().push(id);
        if let Some(p2) = block.phys2 {
            self.by_page.entry(p2 >> 12).or_default().push(id);
        }
        self.map.insert((pa, bits), id);
        self.blocks.push(block);
        Ok(id)
    }

    /// Checks what a block's key does not cover: the translation of a
    /// second page and the CS limit.
    #[inline]
    pub fn still_valid(&self, cpu: &mut Cpu, id: u32) -> bool {
        let b = &self.blocks[id as usize];
        if b.bits != 64 && b.end_ip.wrapping_sub(1) > cpu.seg[SegReg::Cs as usize].limit as u64 {
            return false;
        }
        match b.phys2 {
            None => true,
            Some(p2) => {
                let lin = cpu.fetch_linear(b.end_ip - 1);
                let acc = Access::fetch(cpu.cpl() == 3);
                let ctrl = cpu.ctrl;
                cpu.mmu.translate(&ctrl, lin, acc).map(|p| p & !0xFFF) == Ok(p2 & !0xFFF)
            }
        }
    }
}

/// Decodes a block starting at CS offset `ip` (physical `pa`).
fn decode_block(
    cpu: &mut Cpu,
    model: &CycleModel,
    ip: u64,
    pa: u64,
    bits: u32,
) -> Result<Block, Exception> {
    const PAGE: usize = PAGE_SIZE as usize;
    let lin = cpu.fetch_linear(ip);
    // The page's bytes from `ip` on (the bytes before it are read only if
    // a followed branch goes back there), then the bytes that spill into
    // the next page, if it can be fetched.
    let start = (lin & (PAGE_SIZE - 1)) as usize;
    let page_pa = pa - start as u64;
    let mut buf = vec![0u8; PAGE + 15];
    cpu.mmu.phys.read(pa, &mut buf[start..PAGE]);
    let next_lin = cpu.fetch_linear(ip.wrapping_add((PAGE - start) as u64));
    let acc = Access::fetch(cpu.cpl() == 3);
    let ctrl = cpu.ctrl;
    let next = cpu.mmu.translate(&ctrl, next_lin, acc);
    if let Ok(pa2) = next {
        cpu.mmu.phys.read(pa2, &mut buf[PAGE..]);
    }
    let limit = if bits == 64 {
        u64::MAX
    } else {
        cpu.seg[SegReg::Cs as usize].limit as u64
    };
    let mut insns = Vec::new();
    let mut phys2 = None;
    // The straight runs of bytes decoded so far, as page offsets
    // `[from, to)`, and the instructions after which decoding went on at
    // a branch target.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut followed = Vec::new();
    let mut prefix_read = start == 0;
    let mut last_end = start;
    // The current straight run: its first byte and CS offset.
    let (mut from, mut from_ip) = (start, ip);
    'spans: loop {
        let mut decoder = Decoder::with_ip(bits, &buf[from..], from_ip, DecoderOptions::NONE);
        let mut offset = from;
        let mut ins = Instruction::default();
        while offset < PAGE {
            decoder.decode_out(&mut ins);
            let len = ins.len().max(1);
            let end = offset + len;
            let crosses = end > PAGE;
            if let (true, Err(pf)) = (crosses, next) {
                if insns.is_empty() {
                    return Err(pf.into());
                }
                break 'spans;
            }
            // SDM Vol. 3 §5.3: fetching beyond the CS limit is #GP(0).
            if bits != 64 && from_ip.wrapping_add((end - from) as u64 - 1) > limit {
                if insns.is_empty() {
                    return Err(Exception::GP(0));
                }
                break 'spans;
            }
            if ins.code() == Code::INVALID && ins.len() == 0 {
                ins.set_len(1);
            }
            // A forward conditional jump does not end the block: taken, it
            // leaves through a side exit (the block is a superblock, straight
            // line code through the jumps' fall-through paths).
            let stop =
                (ends_block(&ins) && !insn::is_forward_jcc(&ins)) || ins.code() == Code::INVALID;
            insns.push(Insn::new(ins, bits, 0));
            last_end = end;
            if crosses {
                if let Ok(pa2) = next {
                    phys2 = Some(pa2 & !0xFFF);
                }
                break 'spans;
            }
            if insns.len() >= MAX_BLOCK_INSNS {
                break 'spans;
            }
            if !stop {
                offset = end;
                continue;
            }
            spans.push((from, end));
            // A direct JMP, or a backward Jcc (which closes a loop and is
            // mostly taken; forward ones never end a block), to code of
            // this page not decoded into the block yet: the block goes on
            // at the target (a trace), the Jcc leaving it when not taken.
            let target = insn::followable_target(&ins)
                .filter(|t| (t ^ ip) & !(PAGE_SIZE - 1) == 0)
                .map(|t| (t & (PAGE_SIZE - 1)) as usize)
                .filter(|&t| !spans.iter().any(|&(a, b)| (a..b).contains(&t)));
            let Some(t) = target.filter(|_| followed.len() < MAX_FOLLOWED) else {
                break 'spans;
            };
            followed.push(insns.len() - 1);
            if !prefix_read {
                cpu.mmu.phys.read(page_pa, &mut buf[..start]);
                prefix_read = true;
            }
            (from, from_ip) = (t, ins.near_branch_target());
            continue 'spans;
        }
        break;
    }
    // Just past the last instruction (its fall-through), in the page of
    // `ip` or the byte after it.
    let end_ip = ip.wrapping_add((last_end as u64).wrapping_sub(start as u64));
    if let Some((_, inner)) = insns.split_last_mut() {
        for insn in inner.iter_mut().filter(|i| insn::is_forward_jcc(&i.ins)) {
            insn.exec = insn::side_exit(&insn.ins);
        }
    }
    for &k in &followed {
        insns[k].exec = insn::followed(&insns[k]);
    }
    // The block's costs: a small dependency-aware schedule (cycles.rs).
    let block: Vec<Instruction> = insns.iter().map(|i| i.ins).collect();
    let mut cum = 0u32;
    for (insn, cycles) in insns.iter_mut().zip(model.schedule(&block)) {
        insn.cycles = cycles;
        insn.cum = cum;
        cum = cum.saturating_add(cycles);
    }
    insn::mark_stack_runs(&mut insns);
    cpu.mmu.phys.mark_code(pa);
    if let Some(p2) = phys2 {
        cpu.mmu.phys.mark_code(p2);
    }
    Ok(Block {
        ip,
        phys: pa,
        bits,
        phys2,
        end_ip,
        insns: insns.into_boxed_slice(),
        succ: [NO_BLOCK; 3],
        fetch_generation: 0,
        fetch_key: NO_FETCH_KEY,
        fetch_base: 0,
    })
}
